/**
 * The service's state directory and its optimized-model cache folder (issue 12: "the state
 * directory is honest"). Split out of service.ts.
 */
import { access, mkdir, readdir, rm } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_STATE_DIR } from '../config/service-config.js';
import { EdgeError, asEdgeError } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * Where state lives: the configured dir when writable. Only the default (/var/lib/edge-infer, no
 * stateDir, --state-dir or $STATE_DIRECTORY given) falls back to $XDG_STATE_HOME/edge-infer
 * (~/.local/state/edge-infer); a directory the operator chose that cannot be used is refused with
 * EDGE_ERR_STATE_DIR (exit 78, issue 12 item 11), so the outbox never lands where nobody looks.
 */
export async function usableStateDir(preferred: string, log: Logger): Promise<string> {
  const tryDir = async (dir: string): Promise<boolean> => {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await access(dir, fsConstants.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (await tryDir(preferred)) return preferred;
  if (path.resolve(preferred) !== DEFAULT_STATE_DIR) {
    throw new EdgeError('EDGE_ERR_STATE_DIR', `the state directory ${preferred} is not a writable folder`, { details: { stateDir: preferred } });
  }
  const fallback = path.join(process.env['XDG_STATE_HOME'] ?? path.join(os.homedir(), '.local', 'state'), 'edge-infer');
  if (await tryDir(fallback)) {
    log.info('state.fallback', { wanted: preferred, using: fallback, hint: 'set stateDir in the config (systemd: StateDirectory=edge-infer)' });
    return fallback;
  }
  throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `neither ${preferred} nor ${fallback} is a writable state directory`, { details: { stateDir: preferred } });
}

/**
 * `<stateDir>/cache`, created if needed; with `sweep`, temporary files a crash or a full disk left
 * (`<name>.tmp-<pid>-<ms>`) are removed: call it so only before any load of this process. Null
 * (logged, EDGE_ERR_CACHE_DEGRADED) when it cannot be made: models then load without a cache.
 */
export async function cacheDir(stateDir: string, sweep: boolean, log: Logger): Promise<string | null> {
  const dir = path.join(stateDir, 'cache');
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (sweep) for (const f of await readdir(dir)) if (f.includes('.tmp-')) await rm(path.join(dir, f), { force: true });
    return dir;
  } catch (e) {
    log.warn('cache.degraded', { code: 'EDGE_ERR_CACHE_DEGRADED', dir, error: asEdgeError(e), hint: 'models load without the optimized-model cache' });
    return null;
  }
}
