import { copyFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { ParsedValues } from '../runtime/cli/command.js';
import { runInProcess } from './helpers/run-command.js';
import { command as evalCommand, type EvalReport } from '../runtime/cli/commands/eval.js';
import { formatManifest } from '../runtime/optimize/manifest-update.js';
import type { ModelManifest } from '../runtime/repository/types.js';

const DIGITS = 'models/digits';
const original = JSON.parse(await readFile(join(DIGITS, 'model.json'), 'utf8')) as ModelManifest;

async function run(positionals: string[], values: ParsedValues): Promise<EvalReport> {
  const { code, out } = await runInProcess(evalCommand, positionals, values);
  if (code !== 0) throw new Error(`eval exited ${code}`);
  return JSON.parse(out) as EvalReport;
}

/** A temp models/ folder with a digits copy holding only `ids` (files, eval set, filtered manifest). */
async function digitsCopy(t: Test, ids: string[], edit: (m: ModelManifest) => void = () => undefined): Promise<{ models: string; manifest: string; expected: string }> {
  const models = await mkdtemp(join(tmpdir(), 'eval-cli-'));
  t.teardown(() => rm(models, { recursive: true, force: true }));
  const dir = join(models, 'digits');
  await mkdir(dir);
  await cp(join(DIGITS, 'eval'), join(dir, 'eval'), { recursive: true });
  const kept = { ...original, variants: original.variants.filter((v) => ids.includes(v.id)) };
  for (const v of kept.variants) await copyFile(join(DIGITS, v.file), join(dir, v.file));
  const edited = structuredClone(kept);
  edit(edited);
  await writeFile(join(dir, 'model.json'), formatManifest(edited));
  return { models, manifest: join(dir, 'model.json'), expected: formatManifest(kept) };
}

t.test("eval of a variant reproduces the manifest's accuracy, agreement, bytes, sha256, params, MACs and ops", async (t) => {
  const r = await run(['digits'], { variant: 'teacher-mixed', runs: '0' });
  const v = original.variants.find((x) => x.id === 'teacher-mixed');
  const got = r.variants[0];
  t.equal(r.variants.length, 1);
  t.same(got?.differs, []);
  t.same([got?.quality.accuracy, got?.quality.agreement, got?.model.bytes, got?.model.sha256, got?.model.params, got?.model.macs, got?.model.ops, got?.model.layerBits], [v?.quality.accuracy, v?.quality.agreement, v?.bytes, v?.sha256, v?.params, v?.macs, v?.ops, v?.layerBits]);
  t.same(got?.latency, []);
});

t.test('eval of an .onnx file with --eval and --reference gives the same figures as the manifest', async (t) => {
  const r = await run([join(DIGITS, 'student-int8.onnx')], { eval: join(DIGITS, 'eval'), reference: join(DIGITS, 'teacher-fp32.onnx'), runs: '3', batch: '8' });
  const v = original.variants.find((x) => x.id === 'student-int8');
  const got = r.variants[0];
  t.same([got?.quality.accuracy, got?.quality.agreement, got?.model.sha256, got?.model.bytes], [v?.quality.accuracy, v?.quality.agreement, v?.sha256, v?.bytes]);
  t.same(
    got?.latency.map((l) => [l.batch, l.runs]),
    [
      [1, 3],
      [8, 3],
    ],
  );
  t.ok(got?.latency.every((l) => l.medianMs > 0 && l.medianRoundTripMs >= l.medianMs));
  t.equal(r.threads, 1);
  t.ok(r.backend === 'native' || r.backend === 'wasm');
});

t.test('--update-manifest fills a new entry and corrects a wrong figure, writing the committed manifest byte for byte', async (t) => {
  const { models, manifest, expected } = await digitsCopy(t, ['teacher-fp32', 'student-fp32', 'student-mixed'], (m) => {
    const mixed = m.variants.find((v) => v.id === 'student-mixed') as unknown as Record<string, unknown>;
    for (const k of ['sha256', 'bytes', 'layerBits', 'params', 'macs', 'ops', 'quality']) delete mixed[k];
    const student = m.variants.find((v) => v.id === 'student-fp32');
    if (student) student.quality.accuracy = 0.5;
  });
  const r = await run(['digits'], { models, 'update-manifest': true, runs: '0' });
  t.equal(r.manifestUpdated, manifest);
  t.same(r.variants.find((v) => v.id === 'student-fp32')?.differs, ['quality.accuracy']);
  t.equal(await readFile(manifest, 'utf8'), expected);
});

t.test('--update-manifest refuses to write a manifest that fails the schema', async (t) => {
  const { models, manifest } = await digitsCopy(t, ['teacher-fp32', 'student-fp32'], (m) => {
    const student = m.variants.find((v) => v.id === 'student-fp32');
    if (student) student.precision = 'mixed'; // an fp32 graph has no quantized layer, so no layerBits to write
  });
  const before = await readFile(manifest, 'utf8');
  await t.rejects(run(['digits'], { models, 'update-manifest': true, runs: '0' }), { code: 'EDGE_ERR_MANIFEST_INVALID' });
  t.equal(await readFile(manifest, 'utf8'), before);
});

t.test('bad inputs give coded errors', async (t) => {
  const { models } = await digitsCopy(t, ['teacher-fp32'], (m) => {
    if (m.eval) m.eval.file = 'eval/missing.json';
  });
  const dir = await mkdtemp(join(tmpdir(), 'eval-bad-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const junk = join(dir, 'junk.onnx');
  await writeFile(junk, 'not a model at all');
  await t.rejects(run(['no-such-model'], { runs: '0' }), { code: 'EDGE_ERR_MODEL_NOT_FOUND' });
  await t.rejects(run(['digits'], { models, runs: '0' }), { code: 'EDGE_ERR_EVAL_SET_INVALID' });
  await t.rejects(run(['digits'], { variant: 'nope', runs: '0' }), { code: 'EDGE_ERR_VARIANT_NOT_FOUND' });
  await t.rejects(run([junk], { eval: join(DIGITS, 'eval'), runs: '0' }), { code: 'EDGE_ERR_ONNX_PARSE' });
  await t.rejects(run([join(DIGITS, 'teacher-fp32.onnx')], { runs: '0' }), { code: 'EDGE_ERR_USAGE' });
  await t.rejects(run([join(DIGITS, 'teacher-fp32.onnx')], { eval: join(DIGITS, 'eval'), 'update-manifest': true }), { code: 'EDGE_ERR_USAGE' });
  await t.rejects(run(['digits'], { runs: '-1' }), { code: 'EDGE_ERR_USAGE' });
  await t.rejects(run(['../digits'], { runs: '0' }), { code: 'EDGE_ERR_USAGE' });
});
