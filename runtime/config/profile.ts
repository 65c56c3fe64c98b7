/**
 * Loading and validating device profiles (device-profiles/<id>.json).
 *
 * Errors: EDGE_ERR_PROFILE_INVALID (bad JSON, schema problems, semantic problems; details.file and
 * details.problems[{path, message, allowed?}]), EDGE_ERR_PROFILE_NOT_FOUND (unknown id or missing
 * file; details.known lists the ids in the profiles folder).
 */
import { assertNesting } from './nesting.js';
import { readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { EdgeError } from '../errors.js';
import { readJsonFile } from './json-file.js';
import { profileSchema } from './profile-schema.js';
import { compileSchema, formatProblems, semanticError, type SchemaProblem } from './schema-check.js';
import type { DeviceProfile } from './types.js';

const checker = compileSchema<DeviceProfile>(profileSchema, 'EDGE_ERR_PROFILE_INVALID');

/** Files in a profiles folder that are not profiles. */
const NOT_PROFILES = new Set(['schema.json']);

/** True when `ref` names a file rather than a profile id. */
export function isProfilePath(ref: string): boolean {
  return ref.includes('/') || ref.includes('\\') || ref.endsWith('.json');
}

/**
 * Validates `doc` (a parsed profile), fills schema defaults into a copy and checks what the schema
 * cannot express. Does not modify `doc`. Throws EDGE_ERR_PROFILE_INVALID listing every problem.
 */
export function parseProfile(doc: unknown, file: string): DeviceProfile {
  assertNesting(doc, file, 'EDGE_ERR_PROFILE_INVALID');
  const profile = checker.check(structuredClone(doc), file);
  const problems = semanticProblems(profile);
  if (problems.length > 0) {
    throw new EdgeError('EDGE_ERR_PROFILE_INVALID', formatProblems(file, problems), { details: { file, problems } });
  }
  return profile;
}

/** The problems in a schema-valid profile that the schema cannot express. */
export function semanticProblems(p: DeviceProfile): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  const room = p.memory.totalMB - p.memory.reserveMB;
  if (p.memory.budgetMB > room) {
    out.push({ path: '/memory/budgetMB', message: `is ${p.memory.budgetMB} MB, above totalMB - reserveMB (${p.memory.totalMB} - ${p.memory.reserveMB} = ${room} MB)`, allowed: `<= ${room}` });
  }
  const range = p.match.memoryMB;
  if (range !== undefined && range.minMB > range.maxMB) {
    out.push({ path: '/match/memoryMB/minMB', message: `is ${range.minMB}, above maxMB (${range.maxMB})`, allowed: `<= ${range.maxMB}` });
  }
  if (p.match.deviceTreeModel !== undefined) {
    try {
      new RegExp(p.match.deviceTreeModel);
    } catch (e) {
      out.push({ path: '/match/deviceTreeModel', message: `is not a valid regular expression (${e instanceof Error ? e.message : String(e)})` });
    }
  }
  if (p.inference.threads > p.cpu.cores) {
    out.push({ path: '/inference/threads', message: `is ${p.inference.threads}, more than cpu.cores (${p.cpu.cores})`, allowed: `<= ${p.cpu.cores}` });
  }
  p.inference.precision.forEach((prec, i) => {
    if (p.inference.precision.indexOf(prec) !== i) {
      out.push({ path: `/inference/precision/${i}`, message: `repeats "${prec}"; list each precision once` });
    }
  });
  if (p.thermal.softLimitC >= p.thermal.hardLimitC) {
    out.push({ path: '/thermal/softLimitC', message: `is ${p.thermal.softLimitC}, not below hardLimitC (${p.thermal.hardLimitC})`, allowed: `< ${p.thermal.hardLimitC}` });
  }
  return out;
}

/** Reads and validates one profile file. Throws EDGE_ERR_PROFILE_NOT_FOUND when it does not exist. */
export async function readProfileFile(file: string): Promise<DeviceProfile> {
  let doc: unknown;
  try {
    doc = await readJsonFile(file, 'EDGE_ERR_PROFILE_INVALID');
  } catch (e) {
    if (e instanceof EdgeError && e.details?.['reason'] === 'ENOENT') {
      throw new EdgeError('EDGE_ERR_PROFILE_NOT_FOUND', `${file}: no such profile file`, { details: { file } });
    }
    throw e;
  }
  return parseProfile(doc, file);
}

/** Profile ids in `profilesDir` (file names without .json), sorted. Missing folder: []. */
export async function listProfileIds(profilesDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(profilesDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json') && !NOT_PROFILES.has(n))
    .map((n) => n.slice(0, -'.json'.length))
    .sort();
}

/**
 * Loads a profile by id (a file `<id>.json` in `profilesDir`) or by path (a ref containing a slash or
 * ending in .json). A profile in `profilesDir` must carry its file name as id.
 */
export async function loadProfile(ref: string, profilesDir: string): Promise<DeviceProfile> {
  if (isProfilePath(ref)) return readProfileFile(resolve(ref));
  const known = await listProfileIds(profilesDir);
  if (!known.includes(ref)) {
    throw new EdgeError('EDGE_ERR_PROFILE_NOT_FOUND', `no profile "${ref}" in ${profilesDir}; known: ${known.join(', ') || '(none)'}`, { details: { ref, profilesDir, known } });
  }
  return loadFromDir(ref, profilesDir);
}

/** Every profile in `profilesDir`, sorted by id. Throws on the first invalid one. */
export async function listProfiles(profilesDir: string): Promise<DeviceProfile[]> {
  const ids = await listProfileIds(profilesDir);
  const out: DeviceProfile[] = [];
  for (const id of ids) out.push(await loadFromDir(id, profilesDir));
  return out;
}

async function loadFromDir(id: string, profilesDir: string): Promise<DeviceProfile> {
  const file = join(profilesDir, `${id}.json`);
  const profile = await readProfileFile(file);
  if (profile.id !== id) {
    throw semanticError('EDGE_ERR_PROFILE_INVALID', file, '/id', `is "${profile.id}" but the file is ${basename(file)}`, [id]);
  }
  return profile;
}
