/**
 * The on-disk layout of deployed models (issue 15 OTA), under `<stateDir>/deploy/`:
 * - `store/<bundleId>/`: a verified bundle's files (model.json + variants + eval set), written as
 *   `store/<bundleId>.tmp/` and renamed when complete, so a folder without `.tmp` is always whole.
 * - `active.json`: `{"models": {"<model>": {"current": "<bundleId>", "previous": "<bundleId>" | null}}}`:
 *   the overlay. A model listed here is served from `store/<current>/` instead of the bundled models
 *   folder. Replaced atomically (write tmp, fsync, rename, fsync dir): a power cut leaves the old or
 *   the new file, never half.
 * - `breadcrumb.json`: the deploy in progress (see deploy-device.ts); absent when none is.
 * - `incoming/<bundleId>/`: the header and the chunks received so far (resumable).
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';

export interface ActiveEntry {
  current: string;
  /** The bundle served before `current` (kept on disk for rollback), or null: the bundled model. */
  previous: string | null;
}

export interface ActiveFile {
  models: Record<string, ActiveEntry>;
}

export function deployDir(stateDir: string): string {
  return path.join(stateDir, 'deploy');
}
export function storeDir(stateDir: string, bundleId: string): string {
  return path.join(deployDir(stateDir), 'store', bundleId);
}

/** Writes `file` so that a crash leaves either its old content or `text`, never a mix. */
export async function atomicWrite(file: string, text: string | Buffer): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await fsyncDir(path.dirname(file));
}

export async function fsyncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** The overlay; `{models: {}}` when there is none or it cannot be parsed (then the bundled models serve). */
export async function readActive(stateDir: string): Promise<ActiveFile> {
  try {
    const doc = JSON.parse(await readFile(path.join(deployDir(stateDir), 'active.json'), 'utf8')) as unknown;
    if (doc !== null && typeof doc === 'object' && 'models' in doc && typeof doc.models === 'object' && doc.models !== null) return doc as ActiveFile;
  } catch {
    /* none yet */
  }
  return { models: {} };
}

export async function writeActive(stateDir: string, active: ActiveFile): Promise<void> {
  await atomicWrite(path.join(deployDir(stateDir), 'active.json'), JSON.stringify(active, null, 2) + '\n');
}

/** Model folders the overlay serves: model id -> absolute folder. */
export async function overlayModelDirs(stateDir: string): Promise<Map<string, string>> {
  const active = await readActive(stateDir);
  return new Map(Object.entries(active.models).map(([model, e]) => [model, storeDir(stateDir, e.current)]));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
