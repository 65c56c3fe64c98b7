/**
 * `edge-infer reload --pid <pid>`: reloads a running service (SIGHUP) and returns only once its
 * re-plan is done (issue 12): the unit's ExecReload, so `systemctl reload` on systemd 252 (no
 * Type=notify-reload) does not return before the new plan serves. It reads the service's
 * reload marker (service/reload-marker.ts) in the state directory the service uses (the config's
 * stateDir, $STATE_DIRECTORY under systemd, or --state-dir), sends SIGHUP, and waits for a newer
 * marker from that pid.
 *
 * Exit: 0 reloaded; EDGE_ERR_RELOAD_FAILED (1) when the service kept its previous configuration or
 * exited meanwhile; EDGE_ERR_TIMEOUT (69) after --timeout-s; EDGE_ERR_USAGE (64) for a pid that is
 * not a process we may signal; a config the service could not read either is refused (78) before
 * anything is sent.
 */
import path from 'node:path';
import { loadServiceConfig } from '../../config/service-config.js';
import { EdgeError } from '../../errors.js';
import { readReloadMarker } from '../../service/reload-marker.js';
import type { Command } from '../command.js';
import { noPositionals, positiveInt, str } from '../values.js';

/** Polling, not fs.watch: the marker is replaced by rename, which inotify reports per directory and not on every file system (NFS, overlay). 100 ms is well under a re-plan. */
const POLL_MS = 100;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const command: Command = {
  name: 'reload',
  summary: "reload a running service (SIGHUP) and wait until its re-plan is done: the unit's ExecReload",
  usage: '--pid <pid> [--config <file>] [--state-dir <dir>] [--timeout-s <s>]',
  options: {
    pid: { type: 'string', help: "the service's process id (systemd: $MAINPID)" },
    config: { type: 'string', short: 'c', help: "the service's config file, for its state directory (default: all defaults)" },
    'state-dir': { type: 'string', help: "the service's state folder, when it was given one with --state-dir (default: the config's stateDir, $STATE_DIRECTORY or /var/lib/edge-infer)" },
    'timeout-s': { type: 'string', help: "longest wait for the re-plan, s (default 100; keep it under the unit's TimeoutStartSec)" },
  },
  examples: ['edge-infer reload --pid 1234 --config /etc/edge-infer/config.json', 'edge-infer reload --pid 1234 --state-dir /tmp/edge-state --timeout-s 30'],
  async run(ctx) {
    noPositionals(ctx.positionals);
    const pidText = str(ctx.values, 'pid');
    if (pidText === undefined || !/^[1-9]\d*$/.test(pidText)) throw new EdgeError('EDGE_ERR_USAGE', `--pid must be a process id (got ${pidText === undefined ? 'nothing' : `"${pidText.slice(0, 32)}"`})`);
    const pid = Number(pidText);
    const timeoutMs = positiveInt(ctx.values, 'timeout-s', 100) * 1000;
    const configFile = str(ctx.values, 'config');
    const given = str(ctx.values, 'state-dir');
    const stateDir = given !== undefined ? path.resolve(given) : (await loadServiceConfig(configFile === undefined ? undefined : path.resolve(configFile))).stateDir;
    const before = readReloadMarker(stateDir);
    const since = before !== null && before.pid === pid ? before.generation : 0;
    try {
      process.kill(pid, 'SIGHUP');
    } catch (e) {
      throw new EdgeError('EDGE_ERR_USAGE', `cannot signal process ${pid}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { details: { pid } });
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      const m = readReloadMarker(stateDir);
      if (m !== null && m.pid === pid && m.generation > since) {
        if (!m.ok) throw new EdgeError('EDGE_ERR_RELOAD_FAILED', `the service (pid ${pid}) could not reload and keeps its previous configuration`, { details: { pid, generation: m.generation } });
        ctx.log.info('reload.done', { pid, generation: m.generation });
        return 0;
      }
      if (!alive(pid)) throw new EdgeError('EDGE_ERR_RELOAD_FAILED', `the service (pid ${pid}) exited during the reload`, { details: { pid } });
      if (Date.now() > deadline) throw new EdgeError('EDGE_ERR_TIMEOUT', `the service (pid ${pid}) did not finish its reload within ${timeoutMs / 1000} s (no newer ${path.join(stateDir, 'reload-done')})`, { details: { pid, stateDir } });
    }
  },
};
