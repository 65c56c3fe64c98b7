/**
 * Variant files: where they are and whether they are what the manifest says.
 *
 * Contract: the bytes `verifyVariant` returns are the bytes it hashed (read once through one file
 * descriptor), so callers load exactly what was checked (no time-of-check/time-of-use gap).
 * Errors: EDGE_ERR_PATH_ESCAPE (path with "..", absolute path, or a symlink whose target leaves the
 * model folder), EDGE_ERR_FILE_MISSING (absent or not a regular file), EDGE_ERR_FILE_TRUNCATED
 * (size differs from `bytes`), EDGE_ERR_INTEGRITY (sha256 differs).
 */
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import path from 'node:path';
import { EdgeError } from '../errors.js';
import { relativePathProblem } from './manifest-checks.js';
import type { LoadedManifest, VariantManifest } from './types.js';

function isInside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Absolute real path of the variant's file, proven to be inside the model folder. */
export async function resolveVariantFile(loaded: LoadedManifest, variant: VariantManifest): Promise<string> {
  const details = { model: loaded.manifest.id, variant: variant.id, file: variant.file };
  const problem = relativePathProblem(variant.file);
  if (problem !== null) throw new EdgeError('EDGE_ERR_PATH_ESCAPE', `variant ${variant.id} file "${variant.file}" ${problem}`, { details });
  const joined = path.resolve(loaded.dir, variant.file);
  if (!isInside(loaded.dir, joined)) throw new EdgeError('EDGE_ERR_PATH_ESCAPE', `variant ${variant.id} file "${variant.file}" leaves ${loaded.dir}`, { details });
  let real: string;
  let realDir: string;
  try {
    realDir = await realpath(loaded.dir);
    real = await realpath(joined);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') {
      throw new EdgeError('EDGE_ERR_FILE_MISSING', `variant ${variant.id}: ${joined} does not exist`, { details: { ...details, path: joined }, cause: e });
    }
    if (errnoCode(e) === 'ELOOP') throw new EdgeError('EDGE_ERR_PATH_ESCAPE', `variant ${variant.id}: symlink loop at ${joined}`, { details, cause: e });
    throw new EdgeError('EDGE_ERR_FILE_MISSING', `variant ${variant.id}: cannot resolve ${joined}`, { details: { ...details, path: joined }, cause: e });
  }
  if (!isInside(realDir, real)) {
    throw new EdgeError('EDGE_ERR_PATH_ESCAPE', `variant ${variant.id}: ${joined} resolves to ${real}, outside ${realDir}`, { details: { ...details, realPath: real } });
  }
  return real;
}

/** Resolves, reads once and checks size and sha256. */
export async function verifyVariant(loaded: LoadedManifest, variant: VariantManifest): Promise<{ path: string; bytes: Uint8Array }> {
  const file = await resolveVariantFile(loaded, variant);
  const details = { model: loaded.manifest.id, variant: variant.id, path: file };
  let handle;
  try {
    // O_NOFOLLOW: the real path's last component must not have become a symlink since realpath.
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    if (errnoCode(e) === 'ELOOP') throw new EdgeError('EDGE_ERR_PATH_ESCAPE', `variant ${variant.id}: ${file} became a symlink`, { details, cause: e });
    throw new EdgeError('EDGE_ERR_FILE_MISSING', `variant ${variant.id}: cannot open ${file}`, { details, cause: e });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new EdgeError('EDGE_ERR_FILE_MISSING', `variant ${variant.id}: ${file} is not a regular file`, { details });
    if (st.size !== variant.bytes) {
      throw new EdgeError('EDGE_ERR_FILE_TRUNCATED', `variant ${variant.id}: ${file} has ${st.size} bytes, manifest says ${variant.bytes}`, { details: { ...details, expectedBytes: variant.bytes, actualBytes: st.size } });
    }
    const bytes = new Uint8Array(await handle.readFile());
    if (bytes.byteLength !== variant.bytes) {
      throw new EdgeError('EDGE_ERR_FILE_TRUNCATED', `variant ${variant.id}: ${file} changed size while read`, { details: { ...details, expectedBytes: variant.bytes, actualBytes: bytes.byteLength } });
    }
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== variant.sha256.toLowerCase()) {
      throw new EdgeError('EDGE_ERR_INTEGRITY', `variant ${variant.id}: ${file} sha256 ${actual} differs from the manifest's ${variant.sha256}`, { details: { ...details, expected: variant.sha256.toLowerCase(), actual } });
    }
    return { path: file, bytes };
  } finally {
    await handle.close();
  }
}

/** Hex sha256 of a file, streamed (for tools that write manifests). Rejects with the fs error. */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
