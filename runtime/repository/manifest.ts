/**
 * Reading model manifests from disk.
 *
 * Errors: loadManifest -> EDGE_ERR_MODEL_NOT_FOUND (no such file) | EDGE_ERR_MANIFEST_INVALID
 * (unreadable, not JSON, schema or semantic problems; details.problems lists every one).
 * loadManifests -> throws EDGE_ERR_MODELS_DIR only when the folder itself cannot be read; a bad
 * manifest is returned in `errors` and every other manifest still loads.
 */
import { readdirSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { compileSchema, formatProblems, type SchemaProblem } from '../config/schema-check.js';
import { EdgeError, asEdgeError } from '../errors.js';
import { manifestProblems } from './manifest-checks.js';
import { manifestSchema } from './manifest-schema.js';
import type { LoadedManifest, ModelManifest, VariantManifest } from './types.js';

export const MANIFEST_FILE = 'model.json';

const checker = compileSchema<ModelManifest>(manifestSchema, 'EDGE_ERR_MANIFEST_INVALID');

function invalid(file: string, problems: SchemaProblem[]): EdgeError {
  return new EdgeError('EDGE_ERR_MANIFEST_INVALID', formatProblems(file, problems), { details: { file, problems } });
}

/**
 * Validates a parsed manifest document (schema, then semantic rules) and returns a copy with schema
 * defaults filled in; `doc` is not modified. `file` only names the source in errors.
 * Throws EDGE_ERR_MANIFEST_INVALID listing every problem.
 */
export function checkManifest(doc: unknown, file: string): ModelManifest {
  const copy = structuredClone(doc);
  const schemaProblems = checker.problems(copy);
  if (schemaProblems.length > 0) throw invalid(file, schemaProblems);
  const manifest = copy as ModelManifest;
  const semantic = manifestProblems(manifest);
  if (semantic.length > 0) throw invalid(file, semantic);
  return manifest;
}

/** Reads, parses and checks one model.json. `file` may be relative (resolved against cwd). */
export async function loadManifest(file: string): Promise<LoadedManifest> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new EdgeError('EDGE_ERR_MODEL_NOT_FOUND', `no manifest at ${abs}`, { details: { file: abs }, cause: e });
    throw invalid(abs, [{ path: '', message: `cannot be read (${code ?? String(e)})` }]);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw invalid(abs, [{ path: '', message: `is not JSON (${e instanceof Error ? e.message : String(e)})` }]);
  }
  return { manifest: checkManifest(doc, abs), dir: path.dirname(abs), file: abs };
}

export interface LoadedManifests {
  /** Valid manifests, sorted by model id. */
  loaded: LoadedManifest[];
  /** One EdgeError per refused manifest (details.file names it). */
  errors: EdgeError[];
}

/**
 * Loads `<modelsDir>/<id>/model.json` for every sub-folder that has one (folders without a
 * model.json are skipped). A manifest whose id differs from its folder name is refused.
 */
export async function loadManifests(modelsDir: string): Promise<LoadedManifests> {
  const root = path.resolve(modelsDir);
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (e) {
    throw new EdgeError('EDGE_ERR_MODELS_DIR', `cannot read models folder ${root}`, { details: { dir: root }, cause: e });
  }
  const loaded: LoadedManifest[] = [];
  const errors: EdgeError[] = [];
  const dirs = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  for (const name of dirs) {
    const file = path.join(root, name, MANIFEST_FILE);
    try {
      const one = await loadManifest(file);
      if (one.manifest.id !== name) {
        throw invalid(file, [{ path: '/id', message: `must equal its folder name "${name}"`, allowed: [name] }]);
      }
      loaded.push(one);
    } catch (e) {
      const err = asEdgeError(e);
      if (err.code === 'EDGE_ERR_MODEL_NOT_FOUND') continue;
      errors.push(err);
    }
  }
  return { loaded, errors };
}

/**
 * Whether `modelsDir` has at least one `<id>/model.json` file: a cheap synchronous look (no
 * parsing, no checks) for deciding start-up work before the manifests are loaded. False when the
 * folder cannot be read.
 */
export function hasManifests(modelsDir: string): boolean {
  try {
    return readdirSync(modelsDir, { withFileTypes: true }).some((d) => d.isDirectory() && isFile(path.join(modelsDir, d.name, MANIFEST_FILE)));
  } catch {
    return false;
  }
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The variant with that id. Throws EDGE_ERR_VARIANT_NOT_FOUND (details.allowed lists the ids). */
export function findVariant(manifest: ModelManifest, id: string): VariantManifest {
  const v = manifest.variants.find((x) => x.id === id);
  if (v === undefined) {
    const allowed = manifest.variants.map((x) => x.id);
    throw new EdgeError('EDGE_ERR_VARIANT_NOT_FOUND', `model "${manifest.id}" has no variant "${id}" (has: ${allowed.join(', ')})`, { details: { model: manifest.id, variant: id, allowed } });
  }
  return v;
}
