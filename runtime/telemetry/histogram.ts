/**
 * Latency histograms with bounded relative error and fixed memory (log-linear buckets, the HDR
 * histogram idea): each power of two between 1 µs and 2^26 µs (~67 s) is cut into SUB_BUCKETS
 * equal parts. A percentile is reported as the middle of its bucket, clamped to [min, max], so it is
 * within MAX_RELATIVE_ERROR of the exact nearest-rank percentile for any value in range.
 *
 * Contract:
 * - `record(ms)` takes milliseconds; negative and non-finite values are ignored (and counted in
 *   `ignored`), values below 1 µs land in the first bucket, values above the range in the last one
 *   (min, max and mean stay exact for every recorded value).
 * - Memory is fixed at construction: BUCKETS Uint32 counters (~6.5 KB) per histogram.
 * - Percentiles use the nearest-rank definition: the smallest recorded value v such that at least
 *   p% of values are <= v. An empty histogram answers null, never NaN.
 */

/** Linear sub-buckets per power of two: bucket width <= 1/64 of its lower bound. */
export const SUB_BUCKETS = 64;
/** Powers of two covered above 1 µs: 2^26 µs = 67.1 s, past the 60 s the runtime cares about. */
export const OCTAVES = 26;
export const BUCKETS = OCTAVES * SUB_BUCKETS;
/** Half a bucket width relative to the bucket's lower bound: 1/128 = 0.78 %. */
export const MAX_RELATIVE_ERROR = 1 / (2 * SUB_BUCKETS);

const US_PER_MS = 1000;

/** The latency figures telemetry publishes, all in ms (null when nothing was recorded). */
export interface LatencySnapshot {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

function bucketIndex(us: number): number {
  if (us < 1) return 0;
  let e = Math.floor(Math.log2(us));
  // log2 can round across a power of two; fix the octave exactly.
  if (2 ** e > us) e -= 1;
  else if (2 ** (e + 1) <= us) e += 1;
  if (e >= OCTAVES) return BUCKETS - 1;
  const base = 2 ** e;
  const sub = Math.min(SUB_BUCKETS - 1, Math.floor(((us - base) / base) * SUB_BUCKETS));
  return e * SUB_BUCKETS + sub;
}

/** Middle of bucket `i`, in µs. */
function bucketMidUs(i: number): number {
  const e = Math.floor(i / SUB_BUCKETS);
  const sub = i % SUB_BUCKETS;
  const base = 2 ** e;
  return base + (base * (sub + 0.5)) / SUB_BUCKETS;
}

export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS);
  #count = 0;
  #sumMs = 0;
  #minMs = Infinity;
  #maxMs = -Infinity;
  #ignored = 0;

  /** Adds one latency in ms. Never throws. */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      this.#ignored += 1;
      return;
    }
    const i = bucketIndex(ms * US_PER_MS);
    // Saturate instead of wrapping: 4 billion samples in one bucket is past any real run.
    if (this.#counts[i]! < 0xffffffff) this.#counts[i]! += 1;
    this.#count += 1;
    this.#sumMs += ms;
    if (ms < this.#minMs) this.#minMs = ms;
    if (ms > this.#maxMs) this.#maxMs = ms;
  }

  /** Adds every sample of `other` to this histogram (used to merge window slots). */
  add(other: LatencyHistogram): void {
    if (other.#count === 0) return;
    for (let i = 0; i < BUCKETS; i++) {
      const c = other.#counts[i]!;
      if (c !== 0) this.#counts[i] = Math.min(0xffffffff, this.#counts[i]! + c);
    }
    this.#count += other.#count;
    this.#sumMs += other.#sumMs;
    this.#ignored += other.#ignored;
    if (other.#minMs < this.#minMs) this.#minMs = other.#minMs;
    if (other.#maxMs > this.#maxMs) this.#maxMs = other.#maxMs;
  }

  get count(): number {
    return this.#count;
  }

  /** Values refused by record() (negative, NaN, Infinity). */
  get ignored(): number {
    return this.#ignored;
  }

  /** Exact smallest recorded value, ms; null when empty. */
  get min(): number | null {
    return this.#count === 0 ? null : this.#minMs;
  }

  /** Exact largest recorded value, ms; null when empty. */
  get max(): number | null {
    return this.#count === 0 ? null : this.#maxMs;
  }

  /** Exact arithmetic mean, ms; null when empty. */
  get mean(): number | null {
    return this.#count === 0 ? null : this.#sumMs / this.#count;
  }

  /**
   * Nearest-rank percentile in ms, within MAX_RELATIVE_ERROR of the exact one; null when empty.
   * Throws RangeError when p is outside [0, 100] (a caller mistake).
   */
  percentile(p: number): number | null {
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
    if (this.#count === 0) return null;
    if (p === 0) return this.#minMs;
    if (p === 100) return this.#maxMs;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        const ms = bucketMidUs(i) / US_PER_MS;
        return Math.min(this.#maxMs, Math.max(this.#minMs, ms));
      }
    }
    return this.#maxMs;
  }

  snapshot(): LatencySnapshot {
    return { count: this.#count, p50: this.percentile(50), p95: this.percentile(95), p99: this.percentile(99), max: this.max };
  }

  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sumMs = 0;
    this.#minMs = Infinity;
    this.#maxMs = -Infinity;
    this.#ignored = 0;
  }
}

export interface WindowedHistogramOptions {
  /** Length of one slot, s. Default 5. The window answers in whole slots. */
  slotS?: number;
  /** Number of slots kept; the longest answerable window is slotS * slots. Default 12 (60 s). */
  slots?: number;
  /** Monotonic clock in ms (never wall time: NTP jumps on a Pi without RTC). Default performance.now. */
  nowMs?: () => number;
}

/**
 * A sliding window of latency histograms: "p95 over the last N seconds" for the adaptive runtime.
 * Samples go into the slot of the current time; slots older than the window are cleared lazily on
 * the next record or query. Memory: `slots` histograms (~6.5 KB each), fixed.
 *
 * A query for `windowS` covers the current (partial) slot plus the ceil(windowS / slotS) - 1 slots
 * before it, so it sees between windowS - slotS and windowS seconds of samples.
 */
export class WindowedHistogram {
  readonly #slotMs: number;
  readonly #ring: LatencyHistogram[];
  readonly #nowMs: () => number;
  /** Absolute slot number (floor(now / slotMs)) of the newest slot in the ring. */
  #head: number;

  /** Throws RangeError for a non-positive slotS or slots < 1 (a caller mistake). */
  constructor(options: WindowedHistogramOptions = {}) {
    const slotS = options.slotS ?? 5;
    const slots = options.slots ?? 12;
    if (!(slotS > 0)) throw new RangeError(`slotS must be > 0, got ${slotS}`);
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`slots must be an integer >= 1, got ${slots}`);
    this.#slotMs = slotS * 1000;
    this.#ring = Array.from({ length: slots }, () => new LatencyHistogram());
    this.#nowMs = options.nowMs ?? (() => performance.now());
    this.#head = Math.floor(this.#nowMs() / this.#slotMs);
  }

  /** The longest window this histogram can answer, s. */
  get spanS(): number {
    return (this.#ring.length * this.#slotMs) / 1000;
  }

  record(ms: number): void {
    this.#advance();
    this.#ring[this.#head % this.#ring.length]!.record(ms);
  }

  /**
   * A merged histogram of the last `windowS` seconds (default: the whole span; longer windows are
   * clamped to it). The result is a fresh copy the caller owns.
   */
  window(windowS: number = this.spanS): LatencyHistogram {
    this.#advance();
    const n = Math.min(this.#ring.length, Math.max(1, Math.ceil((windowS * 1000) / this.#slotMs)));
    const merged = new LatencyHistogram();
    for (let k = 0; k < n; k++) {
      const slot = this.#head - k;
      if (slot < 0) break;
      merged.add(this.#ring[slot % this.#ring.length]!);
    }
    return merged;
  }

  /** Nearest-rank percentile over the last `windowS` seconds, ms; null when no samples. */
  percentile(p: number, windowS?: number): number | null {
    return this.window(windowS).percentile(p);
  }

  snapshot(windowS?: number): LatencySnapshot {
    return this.window(windowS).snapshot();
  }

  /** Starts a new slot now, dropping the oldest one (for callers that rotate on their own tick). */
  rotate(): void {
    this.#advance();
    this.#head += 1;
    this.#ring[this.#head % this.#ring.length]!.reset();
  }

  reset(): void {
    for (const h of this.#ring) h.reset();
  }

  #advance(): void {
    const now = Math.floor(this.#nowMs() / this.#slotMs);
    // A clock that goes backwards (it must not, being monotonic) keeps the current slot.
    if (now <= this.#head) return;
    const steps = Math.min(now - this.#head, this.#ring.length);
    for (let k = 1; k <= steps; k++) this.#ring[(this.#head + k) % this.#ring.length]!.reset();
    // Keep slot numbering aligned to the clock even after a long idle gap.
    this.#head = now;
  }
}
