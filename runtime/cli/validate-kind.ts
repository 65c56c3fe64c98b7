/**
 * Which file format a JSON document is, for `edge-infer validate` (issue 13, defect 4: a profile
 * missing its `memory` section was taken for a service config and got "is not an allowed key"
 * lines for every profile section).
 *
 * Contract: pure. In order, the first that decides wins:
 * 1. `$schema` naming a schema: `device-profiles/schema.json` or a URL with "device-profile" ->
 *    profile; `models/schema.json` or one with "manifest" -> manifest; one with "config" -> config.
 * 2. The place: `model.json` -> manifest; a file in a `device-profiles` folder -> profile.
 * 3. The shape: `variants` -> manifest; any key only a profile has (cpu, memory, match, board,
 *    inference, thermal, id) and no key only a config has -> profile.
 * 4. Otherwise a service config (whose schema then names every unknown key).
 */
import path from 'node:path';

export type Kind = 'profile' | 'manifest' | 'config';

const PROFILE_ONLY = ['id', 'board', 'description', 'match', 'cpu', 'memory', 'inference', 'thermal'];
const CONFIG_ONLY = ['deviceId', 'topicPrefix', 'profile', 'modelsDir', 'stateDir', 'broker', 'embeddedBroker', 'models', 'limits', 'outbox', 'drainTimeoutMs', 'log', 'calibration', 'adaptive'];

function bySchema(file: string, schema: string): Kind | null {
  const isUrl = /^[a-z]+:\/\//i.test(schema);
  const resolved = isUrl ? schema : path.resolve(path.dirname(path.resolve(file)), schema);
  const parent = path.basename(path.dirname(resolved));
  if (/device-profile/i.test(schema) || (!isUrl && parent === 'device-profiles')) return 'profile';
  if (/manifest/i.test(schema) || (!isUrl && parent === 'models')) return 'manifest';
  if (/config/i.test(schema)) return 'config';
  return null;
}

/** See the module contract. `doc` undefined: judge by the file's place only. */
export function kindOf(file: string, doc: unknown): Kind {
  const obj = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : null;
  const schema = obj?.['$schema'];
  if (typeof schema === 'string') {
    const k = bySchema(file, schema);
    if (k !== null) return k;
  }
  if (path.basename(file) === 'model.json') return 'manifest';
  if (path.basename(path.dirname(path.resolve(file))) === 'device-profiles') return 'profile';
  if (obj !== null) {
    if ('variants' in obj) return 'manifest';
    const keys = Object.keys(obj);
    if (keys.some((k) => PROFILE_ONLY.includes(k)) && !keys.some((k) => CONFIG_ONLY.includes(k))) return 'profile';
  }
  return 'config';
}
