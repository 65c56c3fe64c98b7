import t from 'tap';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../../runtime/log.js';
import type { ModelSwitch } from '../../../runtime/telemetry/payload.js';
import { SystemProbes, createProbeFs } from '../../../runtime/telemetry/system-probes.js';
import { readSignals, startAdaptiveLoop, type AdaptiveRuntime } from '../../../runtime/service/adaptive-loop.js';
import { DEFAULT_ADAPTIVE_LIMITS, type Rung, type SwitchReason } from '../../../runtime/service/adaptive-policy.js';

const limits = { ...DEFAULT_ADAPTIVE_LIMITS, latencyTargetMs: 50, accuracyFloor: 0.9, softLimitC: 80 };
const rungs: Rung[] = [
  { variant: 'fp32', latencyMs: 8, memoryMB: 40, accuracy: 0.98 },
  { variant: 'int8', latencyMs: 3, memoryMB: 20, accuracy: 0.97 },
];

/** A fake sysfs tree: thermal zone, Pi throttling flags, meminfo, PSI, cgroup v2 memory.events. */
function sysfs(): { root: string; set(f: { tempC?: number; throttled?: string; memAvailableKB?: number; psi?: number; high?: number }): void } {
  const root = mkdtempSync(path.join(tmpdir(), 'edge-sysfs-'));
  const w = (p: string, text: string): void => {
    mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    writeFileSync(path.join(root, p), text);
  };
  w('sys/class/thermal/thermal_zone0/type', 'cpu-thermal\n');
  w('proc/self/cgroup', '0::/system.slice/edge-infer.service\n');
  w('sys/fs/cgroup/system.slice/edge-infer.service/memory.current', '1048576\n');
  const set = (f: { tempC?: number; throttled?: string; memAvailableKB?: number; psi?: number; high?: number }): void => {
    w('sys/class/thermal/thermal_zone0/temp', `${(f.tempC ?? 50) * 1000}\n`);
    w('sys/devices/platform/soc/soc:firmware/get_throttled', `${f.throttled ?? '0'}\n`);
    w('proc/meminfo', `MemTotal:        2000000 kB\nMemAvailable:    ${f.memAvailableKB ?? 1_000_000} kB\n`);
    w('proc/pressure/memory', `some avg10=${(f.psi ?? 0).toFixed(2)} avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`);
    w('sys/fs/cgroup/system.slice/edge-infer.service/memory.events', `low 0\nhigh ${f.high ?? 0}\nmax 0\noom 0\noom_kill 0\n`);
  };
  set({});
  return { root, set };
}

class FakeRuntime implements AdaptiveRuntime {
  variant = 'fp32';
  /** Variants whose load will be refused; a refused one is excluded from the ladder, as ModelRuntime does. */
  refuse = new Set<string>();
  excluded = new Set<string>();
  swaps: string[] = [];
  status() {
    return [{ model: 'm', state: 'ready', variant: this.variant }];
  }
  ladder() {
    return rungs.filter((r) => !this.excluded.has(r.variant));
  }
  windowLatency() {
    return { p95Ms: 1, samples: 100 };
  }
  async swap(_m: string, to: string, reason: SwitchReason): Promise<ModelSwitch | null> {
    this.swaps.push(`${this.variant}->${to}:${reason}`);
    if (this.refuse.has(to)) {
      this.excluded.add(to);
      return null;
    }
    const rec = { from: this.variant, to, reason, at: new Date(0).toISOString() };
    this.variant = to;
    return rec;
  }
}

/** Timers that fire only when the test says so. */
function manualTimers() {
  let pending: (() => void) | null = null;
  return {
    timers: {
      setTimeout(fn: () => void) {
        pending = fn;
        return 1;
      },
      clearTimeout() {
        pending = null;
      },
    },
    get armed() {
      return pending !== null;
    },
  };
}

t.test('readSignals turns the probe files into policy signals', async (t) => {
  const fs = sysfs();
  fs.set({ tempC: 83, throttled: '0x50005', memAvailableKB: 40 * 1024, psi: 12.5, high: 7 });
  const s = await readSignals(new SystemProbes({ fs: createProbeFs(fs.root) }));
  t.same(s, { cpuTempC: 83, throttledNow: true, memAvailableMB: 40, psiSomeAvg10: 12.5, cgroupEvents: { high: 7, max: 0 } });
  const none = await readSignals(new SystemProbes({ fs: createProbeFs(path.join(fs.root, 'absent')) }));
  t.same(none, { cpuTempC: null, throttledNow: null, memAvailableMB: null, psiSomeAvg10: null, cgroupEvents: null });
});

t.test('the loop switches on a hot fake thermal zone after the window, reports it, and switches back after calm', async (t) => {
  const fs = sysfs();
  const rt = new FakeRuntime();
  let now = 0;
  const switched: string[] = [];
  const m = manualTimers();
  const loop = startAdaptiveLoop({ runtime: () => rt, probes: new SystemProbes({ fs: createProbeFs(fs.root) }), limits, intervalMs: 1000, onSwitch: (model, r) => switched.push(`${model}:${r.from}->${r.to}:${r.reason}`), log: silentLogger, timers: m.timers, nowMs: () => now });
  t.teardown(() => loop.stop());
  t.ok(m.armed, 'the first tick is scheduled');
  fs.set({ tempC: 85 });
  for (; now <= 10_000; now += 1000) await loop.tickNow();
  t.same(switched, ['m:fp32->int8:thermal']);
  fs.set({ tempC: 60 });
  for (; now <= 71_000; now += 1000) await loop.tickNow();
  t.same(switched, ['m:fp32->int8:thermal', 'm:int8->fp32:recovered']);
});

t.test('a swap the runtime refuses is retried only once the ladder changes; a new runtime starts the policy over', async (t) => {
  const fs = sysfs();
  let rt = new FakeRuntime();
  rt.refuse.add('int8');
  let now = 0;
  const switched: string[] = [];
  const loop = startAdaptiveLoop({ runtime: () => rt, probes: new SystemProbes({ fs: createProbeFs(fs.root) }), limits, intervalMs: 1000, onSwitch: (_m, r) => switched.push(r.to), log: silentLogger, timers: manualTimers().timers, nowMs: () => now });
  t.teardown(() => loop.stop());
  fs.set({ throttled: '0x4' });
  for (; now <= 12_000; now += 1000) await loop.tickNow();
  t.same(rt.swaps, ['fp32->int8:throttled'], 'refused once; the ladder then no longer offers int8');
  t.same(switched, []);
  t.equal(rt.variant, 'fp32', 'the old variant keeps serving');

  rt = new FakeRuntime();
  for (; now <= 21_000; now += 1000) await loop.tickNow();
  t.same(rt.swaps, [], 'the new runtime waits a full window of its own');
  now += 1000;
  await loop.tickNow();
  t.same(rt.swaps, ['fp32->int8:throttled']);
  t.same(switched, ['int8']);
});
