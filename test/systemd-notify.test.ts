import t from 'tap';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SystemdNotifier, startWatchdog, watchdogIntervalMs } from '../runtime/service/systemd-notify.js';
import { FakeTimers } from './helpers/fake-timers.js';
import { createLogger } from '../runtime/log.js';

/** A stand-in systemd-notify that records NOTIFY_SOCKET and its arguments, one call per block. */
function fakeNotify(t: { teardown(fn: () => void): void }, exitCode = 0): { command: string; calls: () => string[][] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-notify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'calls.txt');
  const command = path.join(dir, 'systemd-notify');
  writeFileSync(command, `#!/bin/sh\n{ printf 'socket=%s\\n' "$NOTIFY_SOCKET"; for a in "$@"; do printf '%s\\n' "$a"; done; echo ---; } >> '${out}'\nexit ${exitCode}\n`);
  chmodSync(command, 0o755);
  return {
    command,
    calls: () =>
      existsSync(out)
        ? readFileSync(out, 'utf8')
            .split('---\n')
            .filter((b) => b !== '')
            .map((b) => b.trimEnd().split('\n'))
        : [],
  };
}

t.test('does nothing when NOTIFY_SOCKET is unset', async (t) => {
  const fake = fakeNotify(t);
  const n = new SystemdNotifier({ env: { PATH: process.env['PATH'] }, command: fake.command });
  t.equal(n.enabled, false);
  t.equal(await n.ready('up'), false);
  t.equal(await n.watchdog(), false);
  t.equal(await n.stopping(), false);
  t.same(fake.calls(), [], 'the notify command was never run');
});

t.test('sends READY, STATUS, RELOADING, WATCHDOG and STOPPING in call order to the notify socket', async (t) => {
  const fake = fakeNotify(t);
  const n = new SystemdNotifier({ env: { PATH: process.env['PATH'], NOTIFY_SOCKET: '/run/systemd/notify' }, command: fake.command });
  t.equal(n.enabled, true);
  const results = await Promise.all([n.ready('serving 2 models'), n.status('digits: int8'), n.reloading(), n.watchdog(), n.stopping('draining\nnow')]);
  t.same(results, [true, true, true, true, true]);
  t.same(fake.calls(), [
    ['socket=/run/systemd/notify', 'READY=1', 'STATUS=serving 2 models'],
    ['socket=/run/systemd/notify', 'STATUS=digits: int8'],
    ['socket=/run/systemd/notify', 'RELOADING=1'],
    ['socket=/run/systemd/notify', 'WATCHDOG=1'],
    ['socket=/run/systemd/notify', 'STOPPING=1', 'STATUS=draining now'],
  ]);
});

t.test('a failing notify command is logged and resolves false', async (t) => {
  const fake = fakeNotify(t, 1);
  const lines: string[] = [];
  const log = createLogger({ format: 'json', stream: { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream });
  const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: '/x' }, command: fake.command, log });
  t.equal(await n.ready(), false);
  const missing = new SystemdNotifier({ env: { NOTIFY_SOCKET: '/x' }, command: '/nonexistent/systemd-notify', log });
  t.equal(await missing.watchdog(), false, 'a missing binary does not reject');
  t.same(
    lines.map((l) => (JSON.parse(l) as { event: string }).event),
    ['systemd.notify_failed', 'systemd.notify_failed'],
  );
  t.throws(() => n.notify({ 'bad key': '1' }), RangeError);
});

const realNotify = ['/usr/bin/systemd-notify', '/bin/systemd-notify'].find((p) => existsSync(p));

t.test('the real systemd-notify reports an unreachable socket as a failure, not a crash', { skip: realNotify === undefined ? 'systemd-notify is not installed on this machine (apt-get install systemd)' : false }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-notify-real-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: path.join(dir, 'no-such.sock') }, command: realNotify! });
  t.equal(await n.ready('x'), false);
});

t.test('the watchdog interval is half of WATCHDOG_USEC and only for the PID systemd named', async (t) => {
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42), 15_000, 'WatchdogSec=30 pings every 15 s');
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42), 15_000);
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 42), null, 'a child that inherited the env does not ping');
  t.equal(watchdogIntervalMs({}, 42), null);
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '0' }, 42), null);
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'abc' }, 42), null);
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '1000' }, 42), 0.5);
});

t.test('the watchdog pings every interval while the service is healthy and stops when it is not', async (t) => {
  const timers = new FakeTimers();
  const pingsAt: number[] = [];
  let healthy = true;
  const wd = startWatchdog({ notifier: { watchdog: async () => (pingsAt.push(timers.now), true) }, intervalMs: 15_000, healthy: () => healthy, timers });
  await timers.advance(45_000);
  t.same(pingsAt, [0, 15_000, 30_000, 45_000]);
  healthy = false;
  await timers.advance(60_000);
  t.equal(pingsAt.length, 4, 'no ping while unhealthy, so systemd restarts the service');
  t.equal(wd.skipped, 4);
  healthy = true;
  await timers.advance(15_000);
  t.equal(pingsAt.length, 5, 'pings resume when health returns');
  t.equal(wd.pings, 5);
  await wd.stop();
  await timers.advance(60_000);
  t.equal(pingsAt.length, 5, 'nothing after stop');
});

t.test('a health check that throws or never answers skips the ping', async (t) => {
  const timers = new FakeTimers();
  let pings = 0;
  let mode: 'throw' | 'hang' | 'reject' = 'throw';
  const wd = startWatchdog({
    notifier: { watchdog: async () => ((pings += 1), true) },
    intervalMs: 1_000,
    healthTimeoutMs: 500,
    timers,
    healthy: () => {
      if (mode === 'throw') throw new Error('engine gone');
      if (mode === 'reject') return Promise.reject(new Error('engine gone'));
      return new Promise<boolean>(() => undefined);
    },
  });
  await timers.advance(0);
  t.equal(wd.skipped, 1);
  mode = 'reject';
  await timers.advance(1_000);
  t.equal(wd.skipped, 2);
  mode = 'hang';
  await timers.advance(1_000);
  t.equal(wd.skipped, 2, 'a hung check is still waiting before its timeout');
  await timers.advance(500);
  t.equal(wd.skipped, 3, 'the timeout counts it as unhealthy');
  t.equal(pings, 0);
  await wd.stop();
  t.throws(() => startWatchdog({ notifier: { watchdog: async () => true }, intervalMs: 0, healthy: () => true }), RangeError);
});
