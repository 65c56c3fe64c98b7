import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCollector, latencyFigures, startTelemetry } from '../../../runtime/telemetry/collector.js';
import { FakeTimers } from '../../helpers/fake-timers.js';
import { LatencyHistogram } from '../../../runtime/telemetry/histogram.js';
import type { ModelTelemetry, TelemetryPayload } from '../../../runtime/telemetry/payload.js';
import { SystemProbes, createProbeFs } from '../../../runtime/telemetry/system-probes.js';
import { createLogger } from '../../../runtime/log.js';

function piTree(t: { teardown(fn: () => void): void }): string {
  const root = mkdtempSync(path.join(tmpdir(), 'edge-collector-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const files: Record<string, string> = {
    '/sys/class/thermal/thermal_zone0/type': 'cpu-thermal\n',
    '/sys/class/thermal/thermal_zone0/temp': '71234\n',
    '/sys/devices/platform/soc/soc:firmware/get_throttled': '80008\n',
    '/proc/meminfo': 'MemTotal:        3884084 kB\nMemAvailable:    1048576 kB\n',
    '/proc/self/cgroup': '0::/system.slice/edge-infer.service\n',
    '/sys/fs/cgroup/system.slice/edge-infer.service/memory.current': `${200 * 1024 * 1024}\n`,
    '/sys/fs/cgroup/system.slice/edge-infer.service/memory.max': `${640 * 1024 * 1024}\n`,
    '/sys/fs/cgroup/system.slice/edge-infer.service/memory.events': 'low 0\nhigh 0\nmax 4\noom 0\noom_kill 0\n',
    '/proc/pressure/memory': 'some avg10=1.50 avg60=0.40 avg300=0.10 total=99\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n',
    '/proc/self/fd/0': '',
    '/proc/self/fd/1': '',
  };
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    writeFileSync(path.join(root, p), text);
  }
  return root;
}

function digitsModel(h: LatencyHistogram): ModelTelemetry {
  return { model: 'digits', variant: 'int8', state: 'ready', requests: h.count, errors: 1, rejected: 2, queueDepth: 3, latencyMs: latencyFigures(h.snapshot()) };
}

t.test('collects a payload from the runtime sources and the board probes, in the documented units', async (t) => {
  const h = new LatencyHistogram();
  for (let i = 1; i <= 100; i++) h.record(i / 10);
  let mono = 5_000;
  const collect = createCollector({
    models: () => [digitsModel(h)],
    budget: () => ({ budgetMB: 256, usedMB: 41.27 }),
    outbox: () => ({ depth: 7, dropped: 0, degraded: false }),
    probes: new SystemProbes({ fs: createProbeFs(piTree(t)), loadavg: () => [1.234, 0.5, 0.25], memoryUsage: () => ({ rss: 96 * 1024 * 1024, heapUsed: 20 * 1024 * 1024, heapTotal: 0, external: 0, arrayBuffers: 0 }), processUptimeS: () => 12.34 }),
    clock: { wallMs: () => Date.UTC(2025, 0, 2, 3, 4, 5), monotonicMs: () => mono },
  });
  mono = 7_500;
  const p = await collect();
  t.equal(p.schemaVersion, 1);
  t.equal(p.timestamp, '2025-01-02T03:04:05.000Z');
  t.equal(p.monotonicS, 2.5, 'monotonic seconds count from the collector creation');
  t.equal(p.models.length, 1);
  const m = p.models[0]!;
  t.match(m, { model: 'digits', variant: 'int8', state: 'ready', requests: 100, errors: 1, rejected: 2, queueDepth: 3 });
  t.ok(Math.abs(m.latencyMs.p50! - 5) <= 0.05 && Math.abs(m.latencyMs.p99! - 9.9) <= 0.1, JSON.stringify(m.latencyMs));
  t.equal(m.latencyMs.max, 10);
  t.same(p.process, { rssMB: 96, heapUsedMB: 20, uptimeS: 12.3, fds: 2 });
  t.same(p.memory, { budgetMB: 256, usedMB: 41.3, availableMB: 1024, cgroupCurrentMB: 200, cgroupLimitMB: 640, cgroupEvents: { high: 0, max: 4, oom: 0, oomKill: 0 }, pressureSomeAvg10: 1.5 });
  t.equal(p.system.cpuTempC, 71.2);
  t.equal(p.system.throttled?.softTempLimitNow, true);
  t.equal(p.system.throttled?.softTempLimitOccurred, true);
  t.equal(p.system.throttledNow, true);
  t.same([p.system.loadAvg1, p.system.loadAvg5, p.system.loadAvg15], [1.23, 0.5, 0.25]);
  t.same(p.outbox, { depth: 7, dropped: 0, degraded: false });
  t.same(JSON.parse(JSON.stringify(p)), p, 'the payload survives JSON unchanged (no NaN, no undefined)');
});

t.test('a board without sensors gives nulls, not errors', async (t) => {
  const empty = mkdtempSync(path.join(tmpdir(), 'edge-collector-empty-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  const collect = createCollector({ models: () => [], budget: () => ({ budgetMB: 100, usedMB: 0 }), outbox: () => ({ depth: 0, dropped: 0, degraded: true }), probes: new SystemProbes({ fs: createProbeFs(empty) }) });
  const p = await collect();
  t.equal(p.system.cpuTempC, null);
  t.equal(p.system.throttled, null);
  t.equal(p.system.throttledNow, null);
  t.equal(p.memory.cgroupLimitMB, null);
  t.equal(p.memory.pressureSomeAvg10, null);
  t.equal(p.process.fds, null);
  t.ok(p.process.rssMB > 0, 'process figures still come from this process');
  t.equal(p.outbox.degraded, true);
});

function fakePayload(n: number): TelemetryPayload {
  return { monotonicS: n } as unknown as TelemetryPayload;
}

t.test('publishes at once and then every interval on the injected timers', async (t) => {
  const timers = new FakeTimers();
  const seen: number[] = [];
  let n = 0;
  const loop = startTelemetry({ intervalS: 10, timers, collect: async () => fakePayload(n++), publish: async (p) => void seen.push(p.monotonicS) });
  await timers.advance(0);
  t.same(seen, [0], 'the first payload goes out right away');
  await timers.advance(9_999);
  t.same(seen, [0], 'nothing before the interval has passed');
  await timers.advance(1);
  t.same(seen, [0, 1]);
  await timers.advance(30_000);
  t.same(seen, [0, 1, 2, 3, 4]);
  t.equal(loop.published, 5);
  await loop.stop();
  t.equal(timers.pending, 0, 'stop clears the pending timer');
  await timers.advance(100_000);
  t.equal(seen.length, 5, 'nothing is published after stop');
});

t.test('a failing publish is logged and counted and the loop keeps going', async (t) => {
  const timers = new FakeTimers();
  const lines: string[] = [];
  const log = createLogger({ format: 'json', stream: { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream });
  let calls = 0;
  const loop = startTelemetry({
    intervalS: 1,
    timers,
    log,
    collect: async () => fakePayload(0),
    publish: async () => {
      calls += 1;
      if (calls <= 2) throw new Error('broker away');
    },
  });
  await timers.advance(2_000);
  t.equal(calls, 3);
  t.equal(loop.failures, 2);
  t.equal(loop.published, 1);
  const events = lines.map((l) => JSON.parse(l) as { event: string; level: string; error: { code: string } });
  t.equal(events.filter((e) => e.event === 'telemetry.publish_failed').length, 2);
  t.equal(events[0]?.level, 'warn');
  t.equal(events[0]?.error.code, 'EDGE_ERR_INTERNAL');
  await loop.stop();
});

t.test('a failing collect is logged and skipped, not thrown', async (t) => {
  const timers = new FakeTimers();
  let published = 0;
  const loop = startTelemetry({
    intervalS: 1,
    timers,
    immediate: false,
    collect: async () => {
      throw new Error('probe blew up');
    },
    publish: async () => void (published += 1),
  });
  await timers.advance(3_000);
  t.equal(loop.failures, 3);
  t.equal(published, 0);
  await loop.stop();
});

t.test('ticks never overlap: a slow publish delays the next tick', async (t) => {
  const timers = new FakeTimers();
  let inFlight = 0;
  let maxInFlight = 0;
  let release: (() => void) | null = null;
  const loop = startTelemetry({
    intervalS: 1,
    timers,
    collect: async () => fakePayload(0),
    publish: () => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Promise<void>((r) => {
        release = () => {
          inFlight -= 1;
          r();
        };
      });
    },
  });
  await timers.advance(5_000);
  t.equal(loop.published, 0, 'the first publish is still pending');
  t.equal(timers.pending, 0, 'no next tick is scheduled while one is in flight');
  release!();
  await timers.advance(1_000);
  t.equal(loop.published, 1);
  t.equal(maxInFlight, 1);
  release!();
  await loop.stop();
  t.throws(() => startTelemetry({ intervalS: 0, collect: async () => fakePayload(0), publish: async () => undefined }), RangeError);
});
