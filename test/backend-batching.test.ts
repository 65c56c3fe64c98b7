import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { NativeEngine } from '../runtime/backend/native-engine.js';
import type { SessionSpec } from '../runtime/backend/types.js';
import { ModelQueue, type QueuedResult } from '../runtime/scheduler/model-queue.js';
import type { NamedTensors } from '../runtime/tensor.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const session: SessionSpec = { intraOpThreads: 1, graphOptimization: 'all', memArena: true, memPattern: true };
const evalSet = JSON.parse(readFileSync(join(root, 'models/digits/eval/eval.json'), 'utf8')) as { inputs: number[][] };

/** Requests of 1, 2 or 3 rows over the first eval images. */
function requests(): NamedTensors[] {
  const out: NamedTensors[] = [];
  let i = 0;
  for (const rows of [1, 2, 1, 3, 1, 1, 2, 1, 3, 1]) {
    const data = new Float32Array(evalSet.inputs.slice(i, i + rows).flat());
    out.push({ input: { dtype: 'float32', dims: [rows, 64], data } });
    i += rows;
  }
  return out;
}

const logits = (r: QueuedResult): number[] => Array.from(r.outputs.logits?.data as Float32Array);

t.test('batched runs answer every request exactly as unbatched runs do', async (t) => {
  const engine = new NativeEngine();
  t.teardown(() => engine.close());
  await engine.load({ key: 'digits', file: join(root, 'models/digits/teacher-fp32.onnx'), session });
  const plain = new ModelQueue({ engine, key: 'digits', queueLimit: 64 });
  const batched = new ModelQueue({ engine, key: 'digits', queueLimit: 64, batching: { maxBatch: 8, maxQueueDelayMs: 20, preferredBatchSizes: [4, 8] } });

  const one = await Promise.all(requests().map((r) => plain.submit(r, r.input?.dims[0] ?? 0)));
  const many = await Promise.all(requests().map((r) => batched.submit(r, r.input?.dims[0] ?? 0)));

  t.ok(
    many.some((r) => r.batchRequests > 1),
    `requests were batched (${many.map((r) => r.batchRequests).join(',')})`,
  );
  t.ok(one.every((r) => r.batchRequests === 1));
  t.same(
    many.map((r) => r.outputs.logits?.dims),
    one.map((r) => r.outputs.logits?.dims),
  );
  t.same(many.map(logits), one.map(logits), 'bit-identical logits');
  t.same(batched.stats(), { depth: 0, inFlight: 0, accepted: 10, rejected: 0, completed: 10, failed: 0 });
});

t.test('an overloaded queue in front of a real engine refuses at once and serves what it accepted', async (t) => {
  const engine = new NativeEngine();
  t.teardown(() => engine.close());
  await engine.load({ key: 'digits', file: join(root, 'models/digits/teacher-fp32.onnx'), session });
  const q = new ModelQueue({ engine, key: 'digits', queueLimit: 3 });
  const settled = await Promise.allSettled(requests().map((r) => q.submit(r, r.input?.dims[0] ?? 0)));
  const codes = settled.map((s) => (s.status === 'fulfilled' ? 'ok' : (s.reason as { code: string }).code));
  t.same(codes, ['ok', 'ok', 'ok', 'ok', ...Array(6).fill('EDGE_ERR_OVERLOADED')], 'one in flight + 3 queued are served');
  t.equal(q.stats().rejected, 6);
});
