/**
 * Doctor checks about the host: Node version, clock, state directory, temperature and throttling,
 * and the systemd unit. Each takes its inputs (readers, clock, command runner) so tests can feed
 * fake /sys trees and clocks; the defaults read the real system.
 */
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DeviceProfile } from '../../config/types.js';
import type { SystemProbes } from '../../telemetry/system-probes.js';
import { NODE_INSTALL_HELP, nodeVersionProblem } from '../node-version.js';
import type { CheckResult } from './checklist.js';

export function nodeCheck(version: string = process.version): CheckResult {
  const problem = nodeVersionProblem(version);
  return problem === null ? { id: 'node', title: 'Node.js version', status: 'pass', detail: `${version} (>= 20 needed)` } : { id: 'node', title: 'Node.js version', status: 'fail', detail: problem, fix: NODE_INSTALL_HELP.replace(/\n\s*/g, '; '), code: 'EDGE_ERR_NODE_UNSUPPORTED' };
}

export interface ClockInputs {
  nowMs: number;
  /** When this package was built (the compiled CLI's mtime): a clock behind it is wrong. */
  builtAtMs: number;
  /** systemd-timesyncd's /run/systemd/timesync/synchronized exists (null: cannot tell). */
  synchronized: boolean | null;
}

/** A Pi has no real-time clock: until network time arrives it runs from the last saved time (fake-hwclock) or 1970. */
export function clockCheck(i: ClockInputs): CheckResult {
  const now = new Date(i.nowMs).toISOString();
  if (i.nowMs < i.builtAtMs) {
    return { id: 'clock', title: 'clock', status: 'fail', detail: `${now} is before this package was built (${new Date(i.builtAtMs).toISOString()})`, fix: 'the board has no real-time clock and has not synchronized yet: check the network and `timedatectl` (systemd-timesyncd), or set the time by hand' };
  }
  if (i.synchronized === false) {
    return { id: 'clock', title: 'clock', status: 'warn', detail: `${now}; not confirmed synchronized (no /run/systemd/timesync/synchronized)`, fix: 'enable network time: `sudo timedatectl set-ntp true` (TLS certificate checks and telemetry times need a right clock)' };
  }
  return { id: 'clock', title: 'clock', status: 'pass', detail: `${now}${i.synchronized ? ', synchronized' : ''}` };
}

/** Whether `dir` can hold the outbox: created if missing, a file written, fsync'd and removed. */
export async function stateDirCheck(dir: string): Promise<CheckResult> {
  const title = 'state directory';
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await access(dir, fsConstants.W_OK);
    const probe = path.join(dir, `.doctor-${process.pid}`);
    await writeFile(probe, 'ok', { flush: true });
    await rm(probe);
    return { id: 'state-dir', title, status: 'pass', detail: `${dir} is writable` };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    return {
      id: 'state-dir',
      title,
      status: 'fail',
      detail: `${dir} is not writable (${code})`,
      fix: code === 'EROFS' || code === 'ENOSPC' ? 'the filesystem is read-only or full: free space or remount read-write' : `run the doctor as the service's user (sudo), or set "stateDir" in the config to a writable folder; under systemd StateDirectory=edge-infer creates ${dir}`,
    };
  }
}

export async function temperatureCheck(probes: Pick<SystemProbes, 'cpuTempC'>, profile: DeviceProfile): Promise<CheckResult> {
  const title = 'CPU temperature';
  const c = await probes.cpuTempC();
  if (c === null) {
    return { id: 'temperature', title, status: 'warn', detail: 'no readable thermal zone under /sys/class/thermal', fix: 'thermal adaptation is off without it; on a Pi check that /sys/class/thermal is not hidden (containers)' };
  }
  const { softLimitC, hardLimitC } = profile.thermal;
  if (c >= hardLimitC) return { id: 'temperature', title, status: 'fail', detail: `${c.toFixed(1)} °C, at or above the hard limit ${hardLimitC} °C`, fix: 'add a heatsink or fan, or improve airflow; the firmware throttles the CPU here' };
  if (c >= softLimitC) return { id: 'temperature', title, status: 'warn', detail: `${c.toFixed(1)} °C, above the soft limit ${softLimitC} °C (the service steps down to cheaper variants)`, fix: 'add a heatsink or fan' };
  return { id: 'temperature', title, status: 'pass', detail: `${c.toFixed(1)} °C (soft limit ${softLimitC} °C)` };
}

export async function throttlingCheck(probes: Pick<SystemProbes, 'throttled'>, isPi: boolean): Promise<CheckResult> {
  const title = 'throttling (Pi firmware)';
  const f = await probes.throttled();
  if (f === null) {
    return isPi
      ? { id: 'throttling', title, status: 'warn', detail: 'get_throttled is not readable', fix: 'a Raspberry Pi kernel exposes /sys/devices/platform/soc/soc:firmware/get_throttled; update the kernel or check the container hides /sys' }
      : { id: 'throttling', title, status: 'skip', detail: 'not a Raspberry Pi (no firmware throttling flags)' };
  }
  const now = Object.entries(f)
    .filter(([k, v]) => k.endsWith('Now') && v === true)
    .map(([k]) => k);
  const past = Object.entries(f)
    .filter(([k, v]) => k.endsWith('Occurred') && v === true)
    .map(([k]) => k);
  if (now.length > 0) return { id: 'throttling', title, status: 'warn', detail: `now: ${now.join(', ')}`, fix: 'under-voltage: use the official power supply (5 V 3 A Pi 4, 5 V 5 A Pi 5); temperature: add cooling' };
  if (past.length > 0) return { id: 'throttling', title, status: 'warn', detail: `none now; since boot: ${past.join(', ')}`, fix: 'it happened under load: check the power supply and cooling' };
  return { id: 'throttling', title, status: 'pass', detail: 'readable; no throttling or under-voltage since boot' };
}

/** `systemctl show` properties of the unit (LoadState, ActiveState, SubState, UnitFileState, Result), or null without systemd. */
export type UnitReader = () => Promise<Record<string, string> | null>;

export async function systemdCheck(read: UnitReader): Promise<CheckResult> {
  const title = 'systemd unit';
  const p = await read();
  if (p === null) return { id: 'systemd', title, status: 'skip', detail: 'systemd is not running here (container, chroot or not booted with systemd)' };
  const state = `${p['ActiveState'] ?? '?'} (${p['SubState'] ?? '?'}), ${p['UnitFileState'] || 'no unit file state'}`;
  if (p['LoadState'] === 'not-found') {
    return { id: 'systemd', title, status: 'warn', detail: 'edge-infer.service is not installed', fix: 'install the .deb (it installs and starts the unit), or see deploy/systemd/README.md' };
  }
  if (p['ActiveState'] === 'failed') {
    return { id: 'systemd', title, status: 'fail', detail: `edge-infer.service ${state}, result ${p['Result'] ?? '?'}`, fix: '`journalctl -u edge-infer -n 50` shows why; `edge-infer validate /etc/edge-infer/config.json`; then `sudo systemctl restart edge-infer`' };
  }
  if (p['ActiveState'] !== 'active') {
    return { id: 'systemd', title, status: 'warn', detail: `edge-infer.service ${state}`, fix: '`sudo systemctl enable --now edge-infer`' };
  }
  return { id: 'systemd', title, status: 'pass', detail: `edge-infer.service ${state}` };
}

/** mtime of a file, ms; 0 when unreadable. */
export async function mtimeMs(file: string): Promise<number> {
  try {
    return (await stat(file)).mtimeMs;
  } catch {
    return 0;
  }
}
