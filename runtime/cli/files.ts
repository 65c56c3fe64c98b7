/**
 * The files a command reads by path (`inspect x.onnx`, `quantize x.onnx`) and the file it writes
 * (`-o out.onnx`), with errors an operator can act on (issue 13, defects 1 and 2).
 *
 * Contracts:
 * - readInputBytes throws EDGE_ERR_FILE_UNREADABLE (exit 64) for a missing, unreadable or folder
 *   path, naming the path and the reason (ENOENT, EACCES, EISDIR...).
 * - checkOutputPath throws EDGE_ERR_OUTPUT_FILE (exit 64) when the output names one of the inputs
 *   (same path, or the same file through a symlink or hard link), a folder, or a file in a folder
 *   that does not exist or is not writable. Call it before the long work, so nothing is computed
 *   for an output that cannot be written.
 * - writeOutputFile writes `<out>.tmp-<pid>` in the output's folder, then renames it over `out`: a
 *   failed (disk full, read-only) or interrupted (SIGINT/SIGTERM) write leaves `out` as it was and
 *   removes the temporary file. Failures are EDGE_ERR_OUTPUT_FILE naming the reason.
 */
import { constants } from 'node:fs';
import { access, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { EdgeError } from '../errors.js';

function reason(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a folder',
  ENOTDIR: 'a part of the path is not a folder',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
  EDQUOT: 'disk quota exceeded',
  ENAMETOOLONG: 'name too long',
};

function explain(e: unknown): string {
  const code = reason(e);
  return REASONS[code] === undefined ? code : `${REASONS[code]}, ${code}`;
}

/** The bytes of a file named on the command line. Throws EDGE_ERR_FILE_UNREADABLE. */
export async function readInputBytes(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (e) {
    throw new EdgeError('EDGE_ERR_FILE_UNREADABLE', `cannot read ${file} (${explain(e)})`, { details: { file, reason: reason(e) }, cause: e });
  }
}

function outputError(out: string, why: string, cause?: unknown, label = `-o ${out}`): EdgeError {
  return new EdgeError('EDGE_ERR_OUTPUT_FILE', `cannot write ${label}: ${why}`, { details: { file: out }, ...(cause === undefined ? {} : { cause }) });
}

/** See the module contract. `inputs` are the files the command reads (their contents must survive). */
export async function checkOutputPath(out: string, inputs: readonly string[]): Promise<void> {
  if (out.trim() === '') throw outputError(out, 'the name is empty');
  const abs = path.resolve(out);
  const target = await stat(abs).catch(() => null);
  if (target?.isDirectory()) throw outputError(out, 'it is a folder; name a file inside it');
  for (const input of inputs) {
    const inAbs = path.resolve(input);
    const src = await stat(inAbs).catch(() => null);
    const same = inAbs === abs || (src !== null && target !== null && src.dev === target.dev && src.ino === target.ino);
    if (same) throw outputError(out, `it is the input file ${input}; the input is never overwritten, pick another name`);
  }
  const dir = path.dirname(abs);
  try {
    if (!(await stat(dir)).isDirectory()) throw outputError(out, `${dir} is not a folder`);
  } catch (e) {
    if (e instanceof EdgeError) throw e;
    throw outputError(out, `the folder ${dir} does not exist (${explain(e)})`, e);
  }
  try {
    await access(dir, constants.W_OK);
  } catch (e) {
    throw outputError(out, `the folder ${dir} is not writable (${explain(e)})`, e);
  }
}

/** See the module contract. `label` names the file in errors (default "-o <out>"). */
export async function writeOutputFile(out: string, bytes: Uint8Array, label = `-o ${out}`): Promise<void> {
  const tmp = `${path.resolve(out)}.tmp-${process.pid}`;
  const onSignal = (signal: NodeJS.Signals): void => {
    void rm(tmp, { force: true }).finally(() => process.exit(128 + (osConstants.signals[signal] ?? 0)));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, out);
  } catch (e) {
    await rm(tmp, { force: true });
    throw outputError(out, explain(e), e, label);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
