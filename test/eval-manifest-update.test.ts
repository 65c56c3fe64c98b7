import t from 'tap';
import { layerBitsOf, median, qualityFigures, type ModelFigures } from '../runtime/optimize/evaluate.js';
import { applyVariantUpdates, formatManifest, withKeys } from '../runtime/optimize/manifest-update.js';
import { readOnnxFile } from '../runtime/optimize/onnx-io.js';

const figures: ModelFigures = { bytes: 10, sha256: 'a'.repeat(64), params: 3, macs: 2, macsUnknown: [], ops: ['Gemm'], layerBits: { '/0/Gemm': 4, '/2/Gemm': 8 } };

t.test('withKeys keeps existing keys in place and inserts new ones after their canonical predecessor', async (t) => {
  const out = withKeys({ id: 'x', file: 'f', precision: 'int8', custom: true }, { sha256: 's', bytes: 1, ops: [] }, ['id', 'file', 'sha256', 'bytes', 'precision', 'ops']);
  t.same(Object.keys(out), ['id', 'file', 'sha256', 'bytes', 'precision', 'ops', 'custom']);
  t.same(Object.keys(withKeys({ b: 1, a: 2 }, { a: 3 }, ['a', 'b'])), ['b', 'a'], 'an existing order is never re-sorted');
});

t.test('applyVariantUpdates writes figures, layerBits only for mixed variants, and leaves other variants and keys alone', async (t) => {
  const doc = {
    id: 'm',
    reference: 'a',
    variants: [
      { id: 'a', file: 'a.onnx', precision: 'mixed', pruning: { method: 'x', sparsity: 0.5 } },
      { id: 'b', file: 'b.onnx', precision: 'int8', note: 'kept' },
      { id: 'c', file: 'c.onnx', precision: 'fp32', sha256: 'old' },
    ],
    extra: 1,
  };
  const out = applyVariantUpdates(doc, [
    { id: 'a', model: figures, quality: { accuracy: 0.5, agreement: 1, evalCount: 4 } },
    { id: 'b', model: figures, quality: { accuracy: 0.25, agreement: 0.75, evalCount: 4 } },
  ]) as { variants: Record<string, unknown>[]; extra: number };
  t.same(Object.keys(out.variants[0] ?? {}), ['id', 'file', 'sha256', 'bytes', 'precision', 'layerBits', 'pruning', 'params', 'macs', 'ops', 'quality']);
  t.same(out.variants[0]?.layerBits, figures.layerBits);
  t.notOk('layerBits' in (out.variants[1] ?? {}), 'an int8 variant gets no layerBits');
  t.equal(out.variants[1]?.note, 'kept');
  t.same(out.variants[2], doc.variants[2], 'a variant without an update is unchanged');
  t.same(doc.variants[0], { id: 'a', file: 'a.onnx', precision: 'mixed', pruning: { method: 'x', sparsity: 0.5 } }, 'the input is not modified');
  t.ok(formatManifest(out).endsWith('}\n'));
});

t.test("a partial MAC count (layers inspect could not size) never replaces the manifest's figure", async (t) => {
  const doc = {
    id: 'm',
    reference: 'a',
    variants: [
      { id: 'a', file: 'a.onnx', precision: 'fp32', macs: 44138752 },
      { id: 'b', file: 'b.onnx', precision: 'fp32' },
    ],
  };
  const partial: ModelFigures = { ...figures, macs: 0, macsUnknown: ['/blocks.0/qkv/MatMul'] };
  const out = applyVariantUpdates(doc, [
    { id: 'a', model: partial, quality: { accuracy: 1, agreement: 1, evalCount: 1 } },
    { id: 'b', model: partial, quality: { accuracy: 1, agreement: 1, evalCount: 1 } },
  ]) as { variants: Record<string, unknown>[] };
  t.equal(out.variants[0]?.macs, 44138752, 'the complete figure is kept');
  t.equal(out.variants[1]?.macs, 0, 'a new entry still gets the figure inspect has');
  const full = applyVariantUpdates(doc, [{ id: 'a', model: figures, quality: { accuracy: 1, agreement: 1, evalCount: 1 } }]) as { variants: Record<string, unknown>[] };
  t.equal(full.variants[0]?.macs, figures.macs, 'a complete count replaces it');
});

t.test('layerBitsOf reads 4, 8 and 32 bits from the graph, keyed by the source layer name', async (t) => {
  t.same(layerBitsOf(await readOnnxFile('models/digits/student-mixed.onnx')), { '/0/Gemm': 4, '/2/Gemm': 8 });
  t.same(layerBitsOf(await readOnnxFile('models/digits/teacher-int8.onnx')), { '/0/Gemm': 8, '/3/Gemm': 8, '/6/Gemm': 8 });
  t.equal(layerBitsOf(await readOnnxFile('models/digits/teacher-fp32.onnx')), undefined, 'an all-float graph has no layer bits');
});

t.test('quality and median figures', async (t) => {
  t.same(qualityFigures([1, 2, 3, 4], [1, 2, 0, 0], [1, 0, 3, 4]), { accuracy: 0.5, agreement: 0.75, evalCount: 4 });
  t.equal(qualityFigures([1], [1], undefined).agreement, null);
  t.equal(median([5, 1, 3]), 3);
  t.equal(median([4, 1, 3, 2]), 2.5);
});
