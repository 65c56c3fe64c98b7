/**
 * Manifest rules a JSON Schema cannot express. Pure: takes a schema-valid manifest, returns every
 * problem found (JSON pointer + message), never throws.
 */
import type { SchemaProblem } from '../config/schema-check.js';
import type { ModelManifest } from './types.js';
import { mediaProblems } from './media-checks.js';

/**
 * Why `file` (a manifest path meant to be relative to the model folder) may not be used, or null.
 * Refuses absolute paths (POSIX or Windows drive), backslashes and any ".." segment.
 */
export function relativePathProblem(file: string): string | null {
  if (file.startsWith('/') || /^[A-Za-z]:/.test(file)) return 'must be relative to the model folder, not absolute';
  if (file.includes('\\')) return 'must use "/" as separator';
  if (file.split('/').includes('..')) return 'must not contain ".." (it would leave the model folder)';
  if (file.includes('\0')) return 'must not contain NUL';
  return null;
}

export function manifestProblems(m: ModelManifest): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const ids = m.variants.map((v) => v.id);
  const seen = new Set<string>();
  m.variants.forEach((v, i) => {
    const at = `/variants/${i}`;
    if (seen.has(v.id)) problems.push({ path: `${at}/id`, message: `duplicates variant id "${v.id}"` });
    seen.add(v.id);
    const pathProblem = relativePathProblem(v.file);
    if (pathProblem !== null) problems.push({ path: `${at}/file`, message: pathProblem });
    if (v.precision === 'mixed' && (v.layerBits === undefined || Object.keys(v.layerBits).length === 0)) {
      problems.push({ path: `${at}/layerBits`, message: 'is required for a mixed-precision variant' });
    }
    if (v.distillation !== undefined) {
      const teacher = v.distillation.teacher;
      if (teacher === v.id) problems.push({ path: `${at}/distillation/teacher`, message: 'must name another variant, not itself' });
      else if (!ids.includes(teacher)) problems.push({ path: `${at}/distillation/teacher`, message: `names no variant of this model`, allowed: ids });
    }
  });
  if (!ids.includes(m.reference)) problems.push({ path: '/reference', message: 'names no variant of this model', allowed: ids });
  if (m.eval !== undefined) {
    const evalProblem = relativePathProblem(m.eval.file);
    if (evalProblem !== null) problems.push({ path: '/eval/file', message: evalProblem });
  }
  const classDim = m.outputs[0]?.shape.at(-1);
  if (m.labels !== undefined && typeof classDim === 'number' && m.labels.length !== classDim) {
    problems.push({ path: '/labels', message: `has ${m.labels.length} labels but output "${m.outputs[0]?.name ?? ''}" has ${classDim} classes`, allowed: classDim });
  }
  problems.push(...mediaProblems(m));
  return problems;
}
