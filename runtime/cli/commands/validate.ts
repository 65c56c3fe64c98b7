/**
 * `edge-infer validate [paths...]`: checks profiles, manifests (and every variant file's size and
 * sha256) and service configs.
 *
 * Contract (issue 13, defect 4): every problem of every file is listed, each with its code (a
 * manifest with two missing variant files gets two lines); a file is judged by what it is (see
 * validate-kind.ts), never taken for a config because one section is missing. Exit 0 when all are
 * ok, 78 otherwise; a path that does not exist or holds no JSON file is a problem too.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { readJsonFile } from '../../config/json-file.js';
import { parseProfile } from '../../config/profile.js';
import { parseServiceConfig } from '../../config/service-config.js';
import { EX_CONFIG, asEdgeError, type ErrorCode } from '../../errors.js';
import { loadManifest } from '../../repository/manifest.js';
import { verifyVariant } from '../../repository/integrity.js';
import type { Command } from '../command.js';
import { kindOf, type Kind } from '../validate-kind.js';

interface Problem {
  code: ErrorCode;
  message: string;
}
interface Finding {
  file: string;
  kind: Kind;
  ok: boolean;
  /** The first problem (kept for scripts that read one code). */
  code?: ErrorCode;
  message?: string;
  /** Every problem found in this file. */
  problems: Problem[];
}

async function collect(p: string): Promise<string[]> {
  const s = await stat(p).catch(() => null);
  if (s === null) return [p];
  if (!s.isDirectory()) return [p];
  const out: string[] = [];
  for (const e of (await readdir(p, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(p, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && !e.name.startsWith('.')) out.push(...(await collect(full)));
    } else if (e.name.endsWith('.json') && e.name !== 'schema.json' && (path.basename(p) !== 'models' || e.name === 'model.json')) {
      if (path.basename(path.dirname(full)) === 'eval' || e.name.endsWith('.expected.json') || e.name === 'metrics.json') continue;
      out.push(full);
    }
  }
  return out;
}

function problemOf(e: unknown): Problem {
  const err = asEdgeError(e);
  return { code: err.code, message: err.message };
}

async function problemsOf(file: string, kind: Kind, doc: unknown): Promise<Problem[]> {
  try {
    if (kind === 'profile') parseProfile(doc, file);
    else if (kind === 'config') parseServiceConfig(doc, file);
    else {
      // A manifest is only valid when every variant file is there, whole and untampered: check them all.
      const loaded = await loadManifest(file);
      const problems: Problem[] = [];
      for (const v of loaded.manifest.variants)
        await verifyVariant(loaded, v).catch((e: unknown) => {
          problems.push(problemOf(e));
        });
      return problems;
    }
    return [];
  } catch (e) {
    return [problemOf(e)];
  }
}

async function check(file: string): Promise<Finding> {
  let kind: Kind = kindOf(file, undefined);
  let problems: Problem[];
  try {
    const doc = await readJsonFile(file, kind === 'manifest' ? 'EDGE_ERR_MANIFEST_INVALID' : kind === 'profile' ? 'EDGE_ERR_PROFILE_INVALID' : 'EDGE_ERR_CONFIG_INVALID');
    kind = kindOf(file, doc);
    problems = await problemsOf(file, kind, doc);
  } catch (e) {
    problems = [problemOf(e)];
  }
  const first = problems[0];
  return first === undefined ? { file, kind, ok: true, problems } : { file, kind, ok: false, code: first.code, message: first.message, problems };
}

export const command: Command = {
  name: 'validate',
  summary: "check profiles, manifests (and their files' sha256) and service configs; exit 0, or 78 listing every problem",
  usage: '[paths...] [--json]   (default: the bundled device-profiles/ and models/; folders are searched for .json files)',
  options: {},
  examples: ['edge-infer validate', 'edge-infer validate /etc/edge-infer/config.json models/digits/model.json --json'],
  async run(ctx) {
    const roots = ctx.positionals.length > 0 ? ctx.positionals : [path.join(ctx.packageRoot, 'device-profiles'), path.join(ctx.packageRoot, 'models')];
    const files: string[] = [];
    for (const r of roots) {
      const found = await collect(path.resolve(r));
      // A folder with no JSON file in it is a mistake worth saying (a typo'd path is caught by check()).
      files.push(...(found.length > 0 ? found : [path.resolve(r)]));
    }
    const findings: Finding[] = [];
    for (const f of files) findings.push(await check(f));
    const bad = findings.filter((f) => !f.ok);
    if (ctx.json) ctx.out(JSON.stringify({ ok: bad.length === 0, findings }, null, 2));
    else {
      for (const f of findings) {
        if (f.ok) ctx.out(`ok    ${f.kind.padEnd(8)} ${f.file}`);
        else for (const p of f.problems) ctx.out(`FAIL  ${f.kind.padEnd(8)} ${p.code}: ${p.message}`);
      }
      ctx.out(`\n${findings.length - bad.length} ok, ${bad.length} with problems`);
      // stderr names the problem too, for a caller that reads only stderr or whose stdout is gone.
      const first = bad[0];
      if (first !== undefined) process.stderr.write(`edge-infer: ${first.code ?? 'EDGE_ERR_CONFIG_INVALID'}: ${bad.length} of ${findings.length} file(s) with problems, first ${first.file}\n  hint: fix each FAIL line; \`edge-infer validate <file>\` rechecks one file\n`);
    }
    return bad.length === 0 ? 0 : EX_CONFIG;
  },
};
