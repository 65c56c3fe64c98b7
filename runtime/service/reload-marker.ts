/**
 * Issue 12: `systemctl reload` must return only once the re-plan is done. systemd 252 (Debian 12)
 * has no Type=notify-reload (253+) and counts a reload done when ExecReload exits, so ExecReload
 * runs `edge-infer reload --pid $MAINPID` (cli/commands/reload.ts): it sends SIGHUP and waits for
 * this marker. After each SIGHUP reload, whatever its outcome, the service rewrites
 * `<stateDir>/reload-done` (tmp + rename) with one line `<pid> <generation> ok|failed`; the
 * generation counts this process's reloads from 1.
 */
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const RELOAD_MARKER = 'reload-done';

export interface ReloadMarker {
  pid: number;
  generation: number;
  ok: boolean;
}

/** Writes the marker; false (never throws) when the state directory refuses it (full, read-only). */
export async function writeReloadMarker(stateDir: string, m: ReloadMarker): Promise<boolean> {
  const file = path.join(stateDir, RELOAD_MARKER);
  try {
    await writeFile(`${file}.tmp`, `${m.pid} ${m.generation} ${m.ok ? 'ok' : 'failed'}\n`, { mode: 0o600 });
    await rename(`${file}.tmp`, file);
    return true;
  } catch {
    return false;
  }
}

/** The marker, or null when there is none or it does not parse. */
export function readReloadMarker(stateDir: string): ReloadMarker | null {
  let text: string;
  try {
    text = readFileSync(path.join(stateDir, RELOAD_MARKER), 'utf8');
  } catch {
    return null;
  }
  const m = /^(\d+) (\d+) (ok|failed)\n$/.exec(text);
  return m === null ? null : { pid: Number(m[1]), generation: Number(m[2]), ok: m[3] === 'ok' };
}
