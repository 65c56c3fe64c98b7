import t from 'tap';
import { DEFAULT_ADAPTIVE_LIMITS, INITIAL_SYSTEM_STATE, assessSystem, decide, initialModelState, type AdaptiveLimits, type Decision, type ModelPolicyState, type ModelSignals, type Rung, type SystemSignals, type SystemState } from '../../../runtime/service/adaptive-policy.js';

const limits: AdaptiveLimits = { ...DEFAULT_ADAPTIVE_LIMITS, latencyTargetMs: 10, accuracyFloor: 0.9, softLimitC: 80 };

// Preference order: fp32 (slow, big), int8 (faster, smaller), int4 (fastest but below the floor), mixed.
const ladder: Rung[] = [
  { variant: 'fp32', latencyMs: 8, memoryMB: 40, accuracy: 0.98 },
  { variant: 'int8', latencyMs: 3, memoryMB: 20, accuracy: 0.97 },
  { variant: 'int4', latencyMs: 1, memoryMB: 10, accuracy: 0.85 },
  { variant: 'mixed', latencyMs: 5, memoryMB: 15, accuracy: 0.95 },
];

const calm: SystemSignals = { cpuTempC: 50, throttledNow: false, memAvailableMB: 1000, psiSomeAvg10: 0, cgroupEvents: { high: 0, max: 0 } };
const quiet: ModelSignals = { p95Ms: 2, samples: 100 };

/** A fake world: a clock advanced by hand, probes and latency set by the test, one tick per call. */
class World {
  now = 0;
  sys: SystemSignals = { ...calm };
  lat: ModelSignals = { ...quiet };
  sysState: SystemState = INITIAL_SYSTEM_STATE;
  model: ModelPolicyState;
  switches: { at: number; from: string; to: string; reason: string }[] = [];
  constructor(
    readonly rungs: Rung[] = ladder,
    readonly lim: AdaptiveLimits = limits,
  ) {
    this.model = initialModelState(rungs[0]!.variant, 0);
  }
  tick(): Decision {
    const a = assessSystem(this.sysState, this.sys, this.lim, this.now);
    this.sysState = a.state;
    const r = decide(this.model, { nowMs: this.now, ladder: this.rungs, system: a.pressures, model: this.lat, limits: this.lim });
    this.model = r.state;
    if (r.decision.action === 'switch') {
      this.switches.push({ at: this.now, from: r.decision.from, to: r.decision.to, reason: r.decision.reason });
      // A new variant starts with an empty latency window.
      this.lat = { p95Ms: null, samples: 0 };
    }
    return r.decision;
  }
  #last: number | null = null;
  /** Ticks once a second from the last tick (or 0) up to and including `tMs`. */
  at(tMs: number): void {
    for (let x = this.#last === null ? this.now : this.#last + 1000; x <= tMs; x += 1000) {
      this.now = x;
      this.tick();
      this.#last = x;
    }
  }
}

t.test('a temperature over the soft limit steps down only after it persisted for the down window', async (t) => {
  const w = new World();
  w.sys.cpuTempC = 85;
  w.at(9000);
  t.same(w.switches, [], 'nothing before 10 s');
  w.at(10_000);
  t.same(
    w.switches.map((s) => [s.from, s.to, s.reason]),
    [['fp32', 'int8', 'thermal']],
    'the most preferred cheaper variant',
  );
  t.equal(w.switches[0]?.at, 10_000);
});

t.test('a hot spell shorter than the down window causes no switch', async (t) => {
  const w = new World();
  w.sys.cpuTempC = 85;
  w.at(8000);
  w.sys.cpuTempC = 60;
  w.at(13_000);
  w.sys.cpuTempC = 85;
  w.at(21_000);
  t.same(w.switches, []);
});

t.test('persisting pressure keeps stepping down one rung per window and never below the accuracy floor', async (t) => {
  const w = new World([ladder[0]!, ladder[3]!, ladder[2]!, ladder[1]!]);
  w.sys.cpuTempC = 90;
  w.at(60_000);
  t.same(
    w.switches.map((s) => s.to),
    ['mixed', 'int8'],
    'int4 is cheaper but below the floor',
  );
  t.same(
    w.switches.map((s) => s.at),
    [10_000, 20_000],
  );
  t.equal(w.model.current, 'int8');
});

t.test('thermal pressure has hysteresis: it ends only below soft limit minus 5 °C, then recovery waits the up window', async (t) => {
  const w = new World([ladder[0]!, ladder[3]!, ladder[1]!]);
  w.sys.cpuTempC = 82;
  w.at(10_000);
  t.equal(w.model.current, 'mixed');
  w.sys.cpuTempC = 77; // below the limit but inside the hysteresis band: still hot
  w.at(130_000);
  t.equal(w.model.current, 'int8', 'kept stepping down while inside the band');
  w.sys.cpuTempC = 74;
  const cooledAt = w.now + 1000;
  w.at(cooledAt + 59_000);
  t.equal(w.model.current, 'int8', 'no step up before 60 s of calm');
  w.at(cooledAt + 60_000);
  t.equal(w.model.current, 'mixed');
  t.equal(w.switches.at(-1)?.reason, 'recovered');
  t.equal(w.switches.at(-1)!.at - cooledAt, 60_000);
  w.at(cooledAt + 120_000);
  t.equal(w.model.current, 'fp32', 'one rung per up window, back to the preferred variant');
  w.at(cooledAt + 900_000);
  t.equal(w.switches.length, 4, 'then it stays');
});

t.test('Pi throttling flags step down with reason throttled', async (t) => {
  const w = new World();
  w.sys.throttledNow = true;
  w.at(10_000);
  t.same(
    w.switches.map((s) => [s.to, s.reason]),
    [['int8', 'throttled']],
  );
});

t.test('memory pressure steps to the first variant with less memory (MemAvailable, PSI, cgroup events)', async (t) => {
  // By memory, mixed (15 MB) is cheaper than int8 (20 MB) but int8 comes first in preference.
  const byMemory = [ladder[0]!, { ...ladder[1]!, memoryMB: 50 }, ladder[3]!];
  const low = new World(byMemory);
  low.sys.memAvailableMB = 30;
  low.at(10_000);
  t.same(
    low.switches.map((s) => [s.to, s.reason]),
    [['mixed', 'memory']],
    'int8 needs more memory than fp32 here: skipped',
  );

  const psi = new World();
  psi.sys.psiSomeAvg10 = 25;
  psi.at(10_000);
  t.same(
    psi.switches.map((s) => s.reason),
    ['memory'],
  );

  const events = new World();
  events.at(0);
  events.sys.cgroupEvents = { high: 3, max: 0 };
  events.at(11_000);
  t.same(
    events.switches.map((s) => [s.at, s.reason]),
    [[11_000, 'memory']],
    'a rise of memory.events high holds the pressure',
  );

  const steady = new World();
  steady.sys.cgroupEvents = { high: 50, max: 2 };
  steady.at(120_000);
  t.same(steady.switches, [], 'old counters that do not rise are no pressure');
});

t.test('windowed p95 over the target steps down with reason latency, but only with enough samples', async (t) => {
  const few = new World();
  few.lat = { p95Ms: 50, samples: 5 };
  few.at(30_000);
  t.same(few.switches, [], 'five samples are not evidence');

  const w = new World();
  w.lat = { p95Ms: 12, samples: 100 };
  w.at(10_000);
  t.same(
    w.switches.map((s) => [s.from, s.to, s.reason]),
    [['fp32', 'int8', 'latency']],
  );
});

t.test('does not flap: a variant that is slow again after a step up is retried with a doubling up window', async (t) => {
  const w = new World(ladder.slice(0, 2));
  // fp32 is slow whenever it serves; int8 is fast.
  for (let x = 0; x <= 1_000_000; x += 1000) {
    w.lat = w.model.current === 'fp32' ? { p95Ms: 15, samples: 100 } : { p95Ms: 2, samples: 100 };
    w.now = x;
    w.tick();
  }
  const ups = w.switches.filter((s) => s.reason === 'recovered').map((s) => s.at);
  const gaps = ups.slice(1).map((at, i) => at - ups[i]!);
  t.ok(ups.length >= 2 && ups.length <= 6, `few retries in 1000 s (${ups.length})`);
  t.ok(
    gaps.every((g, i) => i === 0 || g > gaps[i - 1]!),
    `gaps between retries grow: ${gaps.join(', ')}`,
  );
  t.equal(w.model.backoff, limits.maxBackoff, 'backoff capped');
});

t.test('stays (at-cheapest) when no variant is cheaper, and skips rungs that left the ladder on the way up', async (t) => {
  const w = new World([ladder[1]!]);
  w.sys.cpuTempC = 95;
  w.at(30_000);
  t.same(w.switches, []);
  const a = assessSystem(w.sysState, w.sys, limits, w.now + 1000);
  const d = decide(w.model, { nowMs: w.now + 1000, ladder: [ladder[1]!], system: a.pressures, model: quiet, limits });
  t.same(d.decision, { action: 'stay', pressures: ['thermal'], note: 'at-cheapest' });

  const order = [ladder[0]!, ladder[3]!, ladder[1]!];
  const up = new World(order);
  up.sys.cpuTempC = 90;
  up.at(20_000);
  t.equal(up.model.current, 'int8');
  const without = new World(order.filter((r) => r.variant !== 'mixed'));
  without.model = up.model;
  without.sysState = up.sysState;
  without.now = up.now + 1000;
  without.at(up.now + 61_000);
  t.equal(without.model.current, 'fp32', 'the refused mixed rung is skipped');
});

t.test('missing probes (null) are no pressure', async (t) => {
  const w = new World();
  w.sys = { cpuTempC: null, throttledNow: null, memAvailableMB: null, psiSomeAvg10: null, cgroupEvents: null };
  w.lat = { p95Ms: null, samples: 0 };
  w.at(120_000);
  t.same(w.switches, []);
});
