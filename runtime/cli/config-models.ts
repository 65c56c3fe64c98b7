/**
 * A service config's `models` section names models by id; a typo there (`digitz`) used to be
 * ignored silently (issue 13, defect 8). This finds the ids no manifest has, for a warning.
 *
 * Contract: never throws (an unreadable models folder is the service's error to report, with its
 * code); the warning is one `config.unknown_model` log line per id, with the ids that do exist.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ServiceConfig } from '../config/service-config.js';
import type { Logger } from '../log.js';
import { MANIFEST_FILE } from '../repository/manifest.js';

/** Ids in `configured` that are not in `present`, in the config's order. Pure. */
export function unknownModelIds(configured: readonly string[], present: readonly string[]): string[] {
  const have = new Set(present);
  return configured.filter((id) => !have.has(id));
}

/** The model ids under `modelsDir` (folders holding model.json); empty when it cannot be read. */
export async function presentModelIds(modelsDir: string): Promise<string[]> {
  const entries = await readdir(modelsDir, { withFileTypes: true }).catch(() => []);
  const ids: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const s = await stat(path.join(modelsDir, e.name, MANIFEST_FILE)).catch(() => null);
    if (s?.isFile() === true) ids.push(e.name);
  }
  return ids.sort();
}

/** Logs one warning per configured model id that has no manifest. Returns the unknown ids. */
export async function warnUnknownModels(config: ServiceConfig, log: Logger): Promise<string[]> {
  const present = await presentModelIds(config.modelsDir);
  const unknown = unknownModelIds(Object.keys(config.models), present);
  for (const model of unknown) {
    log.warn('config.unknown_model', { model, modelsDir: config.modelsDir, known: present, hint: `config.models.${model} names no model in ${config.modelsDir}; fix the id or remove the entry` });
  }
  return unknown;
}
