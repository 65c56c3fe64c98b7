/**
 * Nesting guard for parsed JSON documents (profiles, configs, manifests). Pure, iterative (it cannot
 * overflow the stack itself). structuredClone and ajv recurse per level and throw RangeError
 * ("Maximum call stack size exceeded") past roughly 1,500 levels, which would surface as
 * EDGE_ERR_INTERNAL (exit 70) instead of a file to fix (exit 78); call this first.
 */
import { EdgeError, type ErrorCode } from '../errors.js';
import { formatProblems, type SchemaProblem } from './schema-check.js';

/** Deeper than any shipped schema needs (profiles and configs nest at most 4 levels). */
export const MAX_NESTING = 32;

const escapePointer = (k: string): string => k.replace(/~/g, '~0').replace(/\//g, '~1');

/** The first place `doc` nests deeper than `max` objects/arrays, as a problem at that JSON pointer; null when it does not. */
export function nestingProblem(doc: unknown, max: number = MAX_NESTING): SchemaProblem | null {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: doc, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop() as { value: unknown; path: string; depth: number };
    if (value === null || typeof value !== 'object') continue;
    if (depth >= max) return { path, message: `nests deeper than ${max} levels`, allowed: `at most ${max} levels of objects and arrays` };
    const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    for (const [k, v] of entries) stack.push({ value: v, path: `${path}/${escapePointer(k)}`, depth: depth + 1 });
  }
  return null;
}

/** Throws `code` (EDGE_ERR_CONFIG_INVALID, EDGE_ERR_PROFILE_INVALID, ...) naming `file` and the path when `doc` nests too deep. */
export function assertNesting(doc: unknown, file: string, code: ErrorCode, max: number = MAX_NESTING): void {
  const problem = nestingProblem(doc, max);
  if (problem !== null) throw new EdgeError(code, formatProblems(file, [problem]), { details: { file, problems: [problem] } });
}
