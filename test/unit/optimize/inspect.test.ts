import { readFile } from 'node:fs/promises';
import t from 'tap';
import { inspectModel } from '../../../runtime/optimize/inspect.js';
import { readOnnx } from '../../../runtime/optimize/onnx-io.js';
import { quantizeInt4 } from '../../../runtime/optimize/quantize-int4.js';
import { buildMlp } from './helpers.js';

t.test('an MLP reports params, MACs and bytes per layer with symbolic batch dims', async (t) => {
  const r = inspectModel(buildMlp([8, 16, 4]));
  t.same(r.inputs, [{ name: 'x', dtype: 'float32', shape: ['batch', 8] }]);
  t.same(r.opCounts, { MatMul: 2, Add: 2, Relu: 1 });
  t.same(
    r.layers.map((l) => [l.name, l.params, l.macs, l.initializerBytes]),
    [
      ['matmul0', 128, 128, 512],
      ['add0', 16, null, 64],
      ['matmul1', 64, 64, 256],
      ['add1', 4, null, 16],
    ],
  );
  t.equal(r.params, 212);
  t.equal(r.macs, 192);
  t.equal(r.memory.weightBytes, 848);
  t.equal(r.memory.largestActivationBytes, 64);
});

t.test('conv MACs follow kernel, stride and padding; Flatten feeds the Gemm head', async (t) => {
  const r = inspectModel(readOnnx(new Uint8Array(await readFile('test/fixtures/models/conv-small.onnx'))));
  const byName = Object.fromEntries(r.layers.map((l) => [l.name, l]));
  // conv1: 8 out channels, 3x3 kernel over 1 channel, 8x8 output: 8*64*9
  t.equal(byName.conv1?.macs, 8 * 64 * 9);
  t.equal(r.macsUnknown.length, 0);
  t.equal(r.params, 11498);
});

t.test('a MatMulNBits model counts its logical weights and names the op with its domain', async (t) => {
  const m = buildMlp([64, 32, 10]);
  const r = inspectModel(quantizeInt4(m).model);
  t.ok(r.ops.includes('com.microsoft.MatMulNBits'));
  t.equal(r.params, inspectModel(m).params);
  t.ok(r.opsets.some((o) => o.domain === 'com.microsoft'));
  t.equal(r.macs, inspectModel(m).macs);
});
