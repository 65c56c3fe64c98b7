import t from 'tap';
import { mulberry32 as rng } from '../../helpers/prng.js';
import { LatencyHistogram, MAX_RELATIVE_ERROR, WindowedHistogram } from '../../../runtime/telemetry/histogram.js';

function exactPercentile(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

const PS = [1, 10, 25, 50, 75, 90, 95, 99, 99.9];

t.test('percentiles stay within the relative error bound of exact sorted-array percentiles', async (t) => {
  const distributions: Record<string, (r: () => number) => number> = {
    // log-uniform over 1 µs .. 60 s: every octave of the range gets samples
    logUniform: (r) => 10 ** (-3 + r() * Math.log10(60_000 / 0.001)),
    // a typical inference latency: a few ms with a long tail
    lognormalTail: (r) => Math.exp(1 + 0.8 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())),
    // tightly clustered values around 0.3 ms, where bucket boundaries matter most
    clustered: (r) => 0.3 + r() * 0.004,
  };
  for (const [name, draw] of Object.entries(distributions)) {
    for (const seed of [1, 2, 3]) {
      const r = rng(seed);
      const h = new LatencyHistogram();
      const values: number[] = [];
      for (let i = 0; i < 5000; i++) {
        const v = draw(r);
        values.push(v);
        h.record(v);
      }
      values.sort((a, b) => a - b);
      for (const p of PS) {
        const exact = exactPercentile(values, p);
        const got = h.percentile(p)!;
        const rel = Math.abs(got - exact) / exact;
        if (rel > MAX_RELATIVE_ERROR) t.fail(`${name} seed ${seed} p${p}: got ${got}, exact ${exact}, error ${rel}`);
      }
      t.equal(h.count, 5000, `${name} seed ${seed} counts every sample`);
      t.equal(h.min, values[0], `${name} min is exact`);
      t.equal(h.max, values[values.length - 1], `${name} max is exact`);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      t.ok(Math.abs(h.mean! - mean) <= 1e-9 * mean, `${name} mean is exact`);
    }
  }
  t.ok(MAX_RELATIVE_ERROR <= 0.01, 'the bound is at most 1 %');
});

t.test('an empty histogram answers null rather than NaN', async (t) => {
  const h = new LatencyHistogram();
  t.same(h.snapshot(), { count: 0, p50: null, p95: null, p99: null, max: null });
  t.equal(h.min, null);
  t.equal(h.mean, null);
});

t.test('a single value is reported exactly at every percentile', async (t) => {
  const h = new LatencyHistogram();
  h.record(12.345);
  for (const p of [0, 1, 50, 99, 100]) t.equal(h.percentile(p), 12.345);
});

t.test('negative and non-finite values are ignored and counted', async (t) => {
  const h = new LatencyHistogram();
  h.record(-1);
  h.record(Number.NaN);
  h.record(Number.POSITIVE_INFINITY);
  h.record(2);
  t.equal(h.count, 1);
  t.equal(h.ignored, 3);
});

t.test('values outside 1 µs .. 60 s keep exact min and max and ordered percentiles', async (t) => {
  const h = new LatencyHistogram();
  h.record(0);
  h.record(0.0001);
  h.record(120_000);
  h.record(500_000);
  t.equal(h.min, 0);
  t.equal(h.max, 500_000);
  t.ok(h.percentile(25)! <= 0.0011, 'sub-microsecond values stay in the first bucket');
  t.ok(h.percentile(75)! >= 60_000, 'values past the range land in the last bucket');
  t.ok(h.percentile(75)! <= h.max!);
});

t.test('a percentile outside [0, 100] is a caller mistake', async (t) => {
  const h = new LatencyHistogram();
  t.throws(() => h.percentile(101), RangeError);
  t.throws(() => h.percentile(Number.NaN), RangeError);
});

t.test('reset empties the histogram and add merges two of them', async (t) => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  for (let i = 1; i <= 100; i++) a.record(i);
  for (let i = 101; i <= 200; i++) b.record(i);
  a.add(b);
  t.equal(a.count, 200);
  t.equal(a.max, 200);
  t.ok(Math.abs(a.percentile(50)! - 100) <= 100 * MAX_RELATIVE_ERROR);
  a.reset();
  t.equal(a.count, 0);
  t.equal(a.percentile(50), null);
});

t.test('the windowed histogram answers p95 over the last N seconds of an injected clock', async (t) => {
  let now = 0;
  const w = new WindowedHistogram({ slotS: 1, slots: 10, nowMs: () => now });
  t.equal(w.spanS, 10);
  // 5 s of slow requests, then 5 s of fast ones
  for (let s = 0; s < 5; s++) {
    now = s * 1000 + 100;
    for (let i = 0; i < 20; i++) w.record(100);
  }
  for (let s = 5; s < 10; s++) {
    now = s * 1000 + 100;
    for (let i = 0; i < 20; i++) w.record(2);
  }
  t.equal(w.snapshot().count, 200, 'the whole span holds every sample');
  const near = (got: number | null, want: number): boolean => got !== null && Math.abs(got - want) <= want * MAX_RELATIVE_ERROR;
  t.ok(near(w.percentile(95), 100), 'over 10 s the slow half dominates p95');
  t.ok(near(w.percentile(95, 3), 2), 'over the last 3 s only fast requests count');
  t.equal(w.window(3).count, 60);
  now = 12_100; // three more slots begin: seconds 0..2 (slow) drop out, 3..4 (slow) and 5..9 (fast) remain
  t.equal(w.window().count, 20 * 7);
  now = 100_000; // long idle: everything is older than the span
  t.equal(w.window().count, 0);
  t.equal(w.percentile(95), null);
});

t.test('rotate starts a new slot and drops the oldest one', async (t) => {
  const w = new WindowedHistogram({ slotS: 60, slots: 2, nowMs: () => 0 });
  w.record(1);
  w.rotate();
  w.record(2);
  t.equal(w.window().count, 2);
  t.equal(w.window(60).max, 2, 'the newest slot holds only what came after the rotation');
  w.rotate();
  t.equal(w.window().count, 1, 'the first slot fell out');
  t.throws(() => new WindowedHistogram({ slots: 0 }), RangeError);
});
