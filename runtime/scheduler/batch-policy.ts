/**
 * Dynamic batching policy (Triton's dynamic batcher semantics), pure: given the queue and the
 * clock, what to dispatch now. No timers, no tensors.
 *
 * Rules, in order, over the longest queue prefix that shares the head's shape signature and fits
 * in `maxBatch` rows (a request is never split):
 * 1. a prefix whose rows equal a preferred batch size -> dispatch the largest such prefix now;
 * 2. the prefix is full (reaches maxBatch rows, or the next compatible request would not fit, or
 *    the next request has another shape) -> dispatch it now;
 * 3. the oldest request has waited `maxQueueDelayMs` -> dispatch the prefix;
 * 4. otherwise wait until the oldest request's deadline.
 * Without a config (model has no dynamic batch dimension, or batching is off) each request is
 * dispatched alone, at once.
 */

export interface BatchingConfig {
  /** Most rows (sum of requests' batch rows) in one run. >= 1. */
  maxBatch: number;
  /** Longest a request waits for others to join its batch, ms. 0 = never wait. */
  maxQueueDelayMs: number;
  /** Batch sizes (rows) to dispatch as soon as they can be formed; each <= maxBatch. Default []. */
  preferredBatchSizes: number[];
}

export interface QueuedItem {
  /** Rows this request contributes (its dim 0). */
  rows: number;
  /** Monotonic ms when it was queued. */
  enqueuedAtMs: number;
  /** Requests batch together only when their signatures (dtypes and dims after dim 0) are equal. */
  signature: string;
}

export type BatchDecision = { kind: 'dispatch'; count: number; rows: number } | { kind: 'wait'; untilMs: number } | { kind: 'idle' };

export function decideBatch(queue: readonly QueuedItem[], nowMs: number, config: BatchingConfig | null): BatchDecision {
  const head = queue[0];
  if (head === undefined) return { kind: 'idle' };
  if (config === null) return { kind: 'dispatch', count: 1, rows: head.rows };

  const sums: number[] = [];
  let rows = 0;
  let blocked = false;
  for (const item of queue) {
    if (item.signature !== head.signature || rows + item.rows > config.maxBatch) {
      blocked = true;
      break;
    }
    rows += item.rows;
    sums.push(rows);
  }
  if (sums.length === 0) return { kind: 'dispatch', count: 1, rows: head.rows }; // oversize head: alone

  for (let i = sums.length - 1; i >= 0; i--) {
    const s = sums[i] as number;
    if (config.preferredBatchSizes.includes(s)) return { kind: 'dispatch', count: i + 1, rows: s };
  }
  const full = blocked || rows >= config.maxBatch;
  const deadline = head.enqueuedAtMs + config.maxQueueDelayMs;
  if (full || nowMs >= deadline) return { kind: 'dispatch', count: sums.length, rows };
  return { kind: 'wait', untilMs: deadline };
}
