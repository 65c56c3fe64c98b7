import t from 'tap';
import { decideBatch, type BatchingConfig, type QueuedItem } from '../../../runtime/scheduler/batch-policy.js';

const item = (rows: number, enqueuedAtMs: number, signature = 's'): QueuedItem => ({ rows, enqueuedAtMs, signature });
const cfg = (over: Partial<BatchingConfig> = {}): BatchingConfig => ({ maxBatch: 8, maxQueueDelayMs: 5, preferredBatchSizes: [], ...over });

t.test('an empty queue is idle', async (t) => {
  t.same(decideBatch([], 0, cfg()), { kind: 'idle' });
});

t.test('without batching each request is dispatched alone at once', async (t) => {
  t.same(decideBatch([item(3, 0), item(1, 0)], 0, null), { kind: 'dispatch', count: 1, rows: 3 });
});

t.test('a partial batch waits until the oldest request has waited maxQueueDelayMs', async (t) => {
  const q = [item(1, 10), item(2, 12)];
  t.same(decideBatch(q, 11, cfg()), { kind: 'wait', untilMs: 15 });
  t.same(decideBatch(q, 15, cfg()), { kind: 'dispatch', count: 2, rows: 3 });
});

t.test('a zero delay dispatches whatever is queued at once', async (t) => {
  t.same(decideBatch([item(1, 0), item(1, 0)], 0, cfg({ maxQueueDelayMs: 0 })), { kind: 'dispatch', count: 2, rows: 2 });
});

t.test('a batch that reaches maxBatch rows is dispatched without waiting', async (t) => {
  t.same(decideBatch([item(4, 0), item(4, 0), item(1, 0)], 0, cfg()), { kind: 'dispatch', count: 2, rows: 8 });
});

t.test('a batch is full when the next request would not fit, and requests are never split', async (t) => {
  t.same(decideBatch([item(5, 0), item(4, 0)], 0, cfg()), { kind: 'dispatch', count: 1, rows: 5 });
});

t.test('the largest preferred batch size that can be formed is dispatched at once', async (t) => {
  const q = [item(1, 0), item(1, 0), item(2, 0), item(1, 0)];
  t.same(decideBatch(q, 0, cfg({ preferredBatchSizes: [2, 4] })), { kind: 'dispatch', count: 3, rows: 4 });
  t.same(decideBatch([item(1, 0)], 0, cfg({ preferredBatchSizes: [2, 4] })), { kind: 'wait', untilMs: 5 });
});

t.test('requests with another shape signature are not batched with the head', async (t) => {
  const q = [item(1, 0, 'a'), item(1, 0, 'b'), item(1, 0, 'a')];
  t.same(decideBatch(q, 0, cfg()), { kind: 'dispatch', count: 1, rows: 1 });
});

t.test('a head request larger than maxBatch is dispatched alone rather than stuck', async (t) => {
  t.same(decideBatch([item(20, 0), item(1, 0)], 0, cfg()), { kind: 'dispatch', count: 1, rows: 20 });
});
