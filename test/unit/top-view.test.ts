/**
 * `edge-infer top`'s pure parts: folding status/telemetry into a fleet snapshot, and drawing it
 * into an 80x24 screen or plain lines.
 */
import t from 'tap';
import { Fleet, HISTORY_LENGTH } from '../../runtime/cli/top/fleet.js';
import { renderPlain, renderScreen, sparkline } from '../../runtime/cli/top/render.js';
import { keyOf } from '../../runtime/cli/top/terminal.js';

function telemetry(monotonicS: number, requests: number, p50: number | null, extra: Record<string, unknown> = {}): unknown {
  return {
    schemaVersion: 1,
    timestamp: '2026-11-29T00:00:00Z',
    monotonicS,
    models: [{ model: 'digits', variant: 'student-int8', state: 'ready', requests, errors: 1, rejected: 2, queueDepth: 3, latencyMs: { p50, p95: p50, p99: p50, max: p50 }, ...extra }],
    process: { rssMB: 61.5, heapUsedMB: 10, uptimeS: 5, fds: 20 },
    memory: { budgetMB: 512, usedMB: 40.2, availableMB: 1000, cgroupCurrentMB: null, cgroupLimitMB: null, cgroupEvents: null, pressureSomeAvg10: null },
    system: { cpuTempC: 71.3, throttled: null, throttledNow: true, loadAvg1: 1, loadAvg5: 1, loadAvg15: 1 },
    outbox: { depth: 4, dropped: 0, degraded: true },
  };
}

const STATUS = {
  state: 'online',
  version: '0.1.0',
  deviceId: 'pi-a',
  profile: { id: 'rpi4-2gb', board: 'Raspberry Pi 4 Model B (2 GB)' },
  backend: 'native',
  budget: { budgetMB: 512 },
  models: [
    { model: 'digits', variant: 'student-int8', state: 'ready' },
    { model: 'spam', variant: 'teacher-int8', state: 'loading' },
  ],
  switches: [{ model: 'spam', from: 'teacher-fp32', to: 'teacher-int8', reason: 'thermal', at: '2026-11-29T00:00:00Z' }],
};

t.test('folds status and telemetry into one device view with rates from the device clock', async (t) => {
  const f = new Fleet();
  f.status('pi-a', STATUS, 0);
  f.telemetry('pi-a', telemetry(10, 100, 0.5), 1);
  f.telemetry('pi-a', telemetry(12, 140, 0.7), 2);
  const [d] = f.snapshot().devices;
  t.equal(d?.device, 'pi-a');
  t.equal(d?.state, 'online');
  t.equal(d?.profile, 'rpi4-2gb');
  t.equal(d?.backend, 'native');
  t.equal(d?.budgetMB, 512);
  t.equal(d?.usedMB, 40.2);
  t.equal(d?.cpuTempC, 71.3);
  t.equal(d?.throttledNow, true);
  t.equal(d?.outboxDepth, 4);
  const digits = d?.models.find((m) => m.model === 'digits');
  t.equal(digits?.requestsPerS, 20, '40 requests over 2 s of the device clock');
  t.same(digits?.history, [0.5, 0.7]);
  t.equal(digits?.queueDepth, 3);
  t.equal(d?.models.find((m) => m.model === 'spam')?.lastSwitch, 'teacher-fp32 -> teacher-int8 (thermal)');
  t.equal(d?.models.find((m) => m.model === 'spam')?.state, 'loading');
});

t.test('a device restart (counters and clock reset) never shows a negative rate', async (t) => {
  const f = new Fleet();
  f.telemetry('pi-a', telemetry(100, 500, 1), 0);
  f.telemetry('pi-a', telemetry(105, 600, 1), 1);
  f.telemetry('pi-a', telemetry(2, 3, 1), 2);
  t.equal(f.snapshot().devices[0]?.models[0]?.requestsPerS, 20, 'keeps the last good rate');
  f.telemetry('pi-a', telemetry(4, 13, 1), 3);
  t.equal(f.snapshot().devices[0]?.models[0]?.requestsPerS, 5);
});

t.test('offline marks the device and its models; an empty retained status forgets it; garbage is ignored', async (t) => {
  const f = new Fleet();
  f.status('pi-a', STATUS, 0);
  f.status('pi-a', { state: 'offline' }, 1);
  t.equal(f.snapshot().devices[0]?.state, 'offline');
  t.ok(f.snapshot().devices[0]?.models.every((m) => m.state === 'offline'));
  f.status('pi-b', 'not an object', 1);
  f.telemetry('pi-b', [1, 2], 1);
  f.telemetry('pi-a', { models: [{ model: 7 }, null, { model: 'x', requests: 'many' }] }, 2);
  t.same(
    f.snapshot().devices.map((d) => d.device),
    ['pi-a'],
    'nothing made from documents that are not objects',
  );
  f.status('pi-a', null, 3);
  t.same(f.snapshot().devices, []);
});

t.test('the latency history is bounded', async (t) => {
  const f = new Fleet();
  for (let i = 0; i < HISTORY_LENGTH + 25; i++) f.telemetry('pi-a', telemetry(i, i, i), i);
  const h = f.snapshot().devices[0]?.models[0]?.history ?? [];
  t.equal(h.length, HISTORY_LENGTH);
  t.equal(h.at(-1), HISTORY_LENGTH + 24);
});

t.test('sparkline scales to the window maximum and leaves gaps for windows without answers', async (t) => {
  t.equal(sparkline([0, 1, 2, 4, 8], 5), '▁▂▃▅█');
  t.equal(sparkline([null, 5, null], 3), ' █ ');
  t.equal(sparkline([1, 2, 3, 4], 2), '▆█', 'keeps the newest samples');
  t.equal(sparkline([0, 0], 2), '▁▁');
});

t.test('the screen fits 80x24 with twelve devices and marks the selected one', async (t) => {
  const f = new Fleet();
  for (let i = 0; i < 12; i++) {
    const id = `pi-${String(i).padStart(2, '0')}-with-a-long-device-name`;
    f.status(id, STATUS, 0);
    f.telemetry(id, telemetry(1, 1, 0.25), 0);
  }
  const lines = renderScreen(f.snapshot(), { width: 80, height: 24, selected: 11, source: 'mqtt://broker.example:1883 edge/+' });
  t.ok(lines.length <= 24, `${lines.length} lines`);
  for (const l of lines) t.ok([...l].length <= 80, `fits 80 columns: ${l}`);
  const marked = lines.filter((l) => l.startsWith('>'));
  t.equal(marked.length, 1, 'one selected row');
  t.match(marked[0], /pi-11/, 'the selected device is scrolled into view');
  t.ok(
    lines.some((l) => /digits\s+student-int8\s+ready/.test(l)),
    "the selected device's models are listed",
  );
  t.ok(
    lines.some((l) => l.includes('71C!')),
    'temperature with the throttling mark',
  );
});

t.test('plain lines carry every figure without drawing', async (t) => {
  const f = new Fleet();
  f.status('pi-a', STATUS, 0);
  f.telemetry('pi-a', telemetry(1, 10, 0.5), 0);
  const lines = renderPlain(f.snapshot(), 'T');
  t.equal(lines.length, 2, 'one per model');
  t.match(lines[0], /^T pi-a online profile=rpi4-2gb backend=native budget=40.2\/512MB temp=71.3 throttled=true rss=61.5MB outbox=4 model=digits variant=student-int8 state=ready rps=- p50=0.50/);
  t.notMatch(lines.join(''), /\x1b/, 'no escape codes');
});

t.test('keys: q and Ctrl-C quit, j/k and arrows move', async (t) => {
  t.equal(keyOf('q'), 'quit');
  t.equal(keyOf('\x03'), 'quit');
  t.equal(keyOf('j'), 'down');
  t.equal(keyOf('\x1b[B'), 'down');
  t.equal(keyOf('k'), 'up');
  t.equal(keyOf('\x1b[A'), 'up');
  t.equal(keyOf('x'), null);
});

t.test('--group shows only the devices whose status names the group', async (t) => {
  const f = new Fleet('kitchen');
  f.status('pi-a', { ...STATUS, group: 'kitchen' }, 0);
  f.status('pi-b', { ...STATUS, group: 'garage' }, 0);
  f.status('pi-c', STATUS, 0);
  t.same(
    f.snapshot().devices.map((d) => d.device),
    ['pi-a'],
  );
  t.equal(f.snapshot().devices[0]?.group, 'kitchen');
});
