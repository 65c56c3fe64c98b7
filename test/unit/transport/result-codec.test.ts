import t from 'tap';
import { encodeBinaryResult, resultBody, resultJson } from '../../../runtime/transport/result-codec.js';
import type { InferResult } from '../../../runtime/result.js';

const base = (over: Partial<InferResult>): InferResult => ({ variant: 'v1', queueMs: 0.12345, inferenceMs: 1.0004, serviceMs: 2, batchRows: 1, batchRequests: 1, outputs: { logits: { dtype: 'float32', dims: [1, 3], data: new Float32Array([0.1, -2.5e-8, 3.4e38]) } }, ...over });

t.test('the directly written JSON result is byte for byte JSON.stringify of the result body (issue 16)', async (t) => {
  const cases: [string, InferResult][] = [
    ['float32 with a top list', base({ top: [{ index: 2, label: 'a "quoted" label', score: 0.999 }] })],
    ['non-finite float32 (JSON null)', base({ outputs: { y: { dtype: 'float32', dims: [2], data: new Float32Array([NaN, -Infinity]) } } })],
    ['-0 and integers', base({ outputs: { a: { dtype: 'int32', dims: [1, 2], data: new Int32Array([-0, 7]) }, 'b\u2028"': { dtype: 'uint8', dims: [1], data: new Uint8Array([255]) } } })],
    ['int64 beyond 2^53 as strings', base({ outputs: { n: { dtype: 'int64', dims: [2], data: new BigInt64Array([2n ** 60n, -5n]) } } })],
    ['int8 and an empty tensor', base({ outputs: { q: { dtype: 'int8', dims: [0], data: new Int8Array(0) }, r: { dtype: 'int8', dims: [1], data: new Int8Array([-128]) } } })],
    ['frames and events', base({ frames: 3, events: [{ event: 'start', model: 'vad', variant: 'v1', stream: null, time: '2026-01-01T00:00:00.000Z', score: 0.9 }] })],
    ['frames 0, no events', base({ frames: 0, events: [] })],
  ];
  for (const [name, r] of cases) {
    const total = 3.25;
    const want = JSON.stringify(resultBody('id-"1"', 'model', r, { queue: r.queueMs, inference: r.inferenceMs, total }));
    t.equal(resultJson('id-"1"', 'model', r, total), want, name);
  }
});

t.test('a binary result carries its latency as the same JSON', async (t) => {
  const enc = encodeBinaryResult('b', 'm', base({}), 5.00049);
  t.same(JSON.parse(enc.properties?.userProperties?.['latencyMs'] ?? 'null'), { queue: 0.123, inference: 1, total: 5 });
});
