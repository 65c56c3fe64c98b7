import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import ort from 'onnxruntime-node';
import { readOnnx, readOnnxFile, writeOnnx } from '../../../runtime/optimize/onnx-io.js';
import { buildMlp, firstDifference, maxAbsDiff, prng, randomArray, runModel } from './helpers.js';
import { intsAttr } from '../../../runtime/optimize/graph-util.js';

const FIXTURES = ['test/fixtures/models/mlp-wide.onnx', 'test/fixtures/models/conv-small.onnx', 'test/fixtures/models/resnet-tiny.onnx', 'models/digits/teacher-fp32.onnx'];
/** Files written by the onnx project itself (Debian python3-onnx), not by our exporter. */
const THIRD_PARTY = ['/usr/lib/python3/dist-packages/onnx/examples/resources/two_transposes.onnx', '/usr/lib/python3/dist-packages/onnx/examples/resources/single_relu.onnx'];

async function inputDims(bytes: Uint8Array): Promise<number[]> {
  const m = readOnnx(bytes);
  const dims = m.graph.input[0]?.type?.tensorType?.shape?.dim ?? [];
  return dims.map((d) => d.dimValue ?? 2);
}

async function sameOutputs(t: Test, original: Uint8Array, rewritten: Uint8Array): Promise<void> {
  const dims = await inputDims(original);
  const x = randomArray(
    dims.reduce((a, b) => a * b, 1),
    prng(7),
  );
  const a = await runModel(original, x, dims);
  const b = await runModel(rewritten, x, dims);
  t.same(b.dims, a.dims, 'same output shape');
  t.equal(maxAbsDiff(a.data, b.data), 0, 'bit-identical outputs from onnxruntime');
}

for (const path of FIXTURES) {
  t.test(`a read-write-read of ${path} decodes to the same model and runs to identical outputs`, async (t) => {
    const original = new Uint8Array(await readFile(path));
    const model = readOnnx(original);
    const rewritten = writeOnnx(model);
    t.equal(firstDifference(readOnnx(rewritten), model), undefined, 'decoded objects equal');
    await sameOutputs(t, original, rewritten);
  });
}

for (const path of THIRD_PARTY) {
  t.test(`a file written by the onnx project (${path.split('/').pop()}) survives a round trip`, { skip: !existsSync(path) && 'python3-onnx examples not installed' }, async (t) => {
    const original = new Uint8Array(await readFile(path));
    const model = readOnnx(original);
    t.equal(firstDifference(readOnnx(writeOnnx(model)), model), undefined);
  });
}

t.test('a model serialized by onnxruntime itself (optimized, with contrib ops) survives a round trip', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'onnx-io-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const path of ['test/fixtures/models/resnet-tiny.onnx', 'test/fixtures/models/mlp-wide.onnx']) {
    const out = join(dir, 'opt.onnx');
    const s = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'all', optimizedModelFilePath: out });
    await s.release();
    const bytes = new Uint8Array(await readFile(out));
    const model = readOnnx(bytes);
    const rewritten = writeOnnx(model);
    t.equal(firstDifference(readOnnx(rewritten), model), undefined, `${path} optimized by ORT decodes the same`);
    await sameOutputs(t, bytes, rewritten);
  }
});

t.test('int64 attribute extremes, doc strings, metadata and value_info survive a round trip', async (t) => {
  const m = buildMlp([4, 3, 2]);
  m.docString = 'doc';
  m.graph.node[0]?.attribute.push(intsAttr('probe', [9223372036854775807, -9223372036854775808, 0, -1]));
  m.graph.valueInfo.push({ name: 'm0', metadataProps: [{ key: 'k', value: 'v' }], type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 0 }] } } } });
  const back = readOnnx(writeOnnx(m));
  t.same(back.graph.node[0]?.attribute.find((a) => a.name === 'probe')?.ints, [9223372036854775807, -9223372036854775808, 0, -1]);
  t.same(back.graph.valueInfo, m.graph.valueInfo);
  t.equal(back.docString, 'doc');
  t.same(back.metadataProps, [{ key: 'purpose', value: 'test' }]);
});

t.test('a model built with the writer runs in onnxruntime', async (t) => {
  const bytes = writeOnnx(buildMlp([8, 16, 4]));
  const out = await runModel(bytes, randomArray(16, prng(3)), [2, 8]);
  t.same(out.dims, [2, 4]);
});

t.test('bytes that are not ONNX give EDGE_ERR_ONNX_PARSE', async (t) => {
  t.throws(() => readOnnx(new TextEncoder().encode('hello, I am a text file')), { code: 'EDGE_ERR_ONNX_PARSE' });
  t.throws(() => readOnnx(new Uint8Array(0)), { code: 'EDGE_ERR_ONNX_PARSE' });
  t.throws(() => readOnnx(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), { code: 'EDGE_ERR_ONNX_PARSE' });
});

t.test('a length prefix claiming gigabytes, or subgraphs nested absurdly deep, give EDGE_ERR_ONNX_PARSE', async (t) => {
  // ir_version 8, then field 7 (graph) claiming 0xFFFFFFF bytes in a 7-byte file
  t.throws(() => readOnnx(new Uint8Array([0x08, 0x08, 0x3a, 0xff, 0xff, 0xff, 0x7f])), { code: 'EDGE_ERR_ONNX_PARSE' });
  const m = buildMlp([4, 2]);
  let g = m.graph;
  for (let i = 0; i < 80; i++) {
    const inner = buildMlp([4, 2]).graph;
    g.node[0]?.attribute.push({ name: 'body', type: 5, g: inner, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparseTensors: [], typeProtos: [] });
    g = inner;
  }
  t.throws(() => readOnnx(writeOnnx(m)), { code: 'EDGE_ERR_ONNX_PARSE' });
});

t.test('a truncated model file gives EDGE_ERR_ONNX_PARSE', async (t) => {
  const bytes = new Uint8Array(await readFile('models/digits/teacher-fp32.onnx'));
  for (const cut of [10, 100, Math.floor(bytes.length / 2), bytes.length - 3]) {
    t.throws(() => readOnnx(bytes.subarray(0, cut)), { code: 'EDGE_ERR_ONNX_PARSE' }, `cut at ${cut}`);
  }
});

t.test('a tensor declaring far more data than the file holds is refused before allocation', async (t) => {
  const m = buildMlp([4, 3, 2]);
  const w = m.graph.initializer[0];
  if (w === undefined) throw new Error('no initializer');
  w.dims = [1_000_000_000, 1_000_000];
  t.throws(() => readOnnx(writeOnnx(m)), { code: 'EDGE_ERR_ONNX_PARSE' });
  w.dims = [4, 4];
  t.throws(() => readOnnx(writeOnnx(m)), { code: 'EDGE_ERR_ONNX_PARSE' }, 'raw_data size mismatch');
  w.dims = [-1, 3];
  t.throws(() => readOnnx(writeOnnx(m)), { code: 'EDGE_ERR_ONNX_PARSE' }, 'negative dim');
});

t.test('readOnnxFile reports a missing file with EDGE_ERR_FILE_MISSING', async (t) => {
  await t.rejects(readOnnxFile('/nonexistent/model.onnx'), { code: 'EDGE_ERR_FILE_MISSING' });
});
