import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import t from 'tap';
import { isEdgeError } from '../../../runtime/errors.js';
import { checkManifest, findVariant, hasManifests, loadManifest, loadManifests } from '../../../runtime/repository/manifest.js';
import { manifestSchemaText } from '../../../runtime/repository/manifest-schema.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const fixtures = path.join(root, 'test/fixtures/manifests');

async function refusal(file: string): Promise<{ code: string; paths: string[] }> {
  try {
    await loadManifest(path.join(fixtures, file));
  } catch (e) {
    if (!isEdgeError(e)) throw e;
    const problems = (e.details?.['problems'] ?? []) as { path: string }[];
    return { code: e.code, paths: problems.map((p) => p.path) };
  }
  throw new Error(`${file} was accepted`);
}

t.test('the committed models/schema.json equals the schema in manifest-schema.ts', async (t) => {
  t.equal(await readFile(path.join(root, 'models/schema.json'), 'utf8'), manifestSchemaText());
});

t.test('loads a valid manifest with the folder and file resolved', async (t) => {
  const m = await loadManifest(path.join(fixtures, 'good/tiny/model.json'));
  t.equal(m.manifest.id, 'tiny');
  t.equal(m.dir, path.join(fixtures, 'good/tiny'));
  t.equal(m.file, path.join(fixtures, 'good/tiny/model.json'));
  t.equal(m.manifest.variants.length, 3);
});

t.test('fills schema defaults into a minimal manifest', async (t) => {
  const m = await loadManifest(path.join(fixtures, 'good/minimal/model.json'));
  t.equal(m.manifest.task, 'classification');
  t.equal(m.manifest.inputs[0]?.dtype, 'float32');
  t.equal(m.manifest.outputs[0]?.dtype, 'float32');
});

const refusals: [string, string][] = [
  ['unknown-key', '/colour'],
  ['wrong-type', '/variants/0/bytes'],
  ['unknown-precision', '/variants/0/precision'],
  ['missing-field', '/variants/0/sha256'],
  ['bad-sha256', '/variants/0/sha256'],
  ['duplicate-variant', '/variants/1/id'],
  ['unknown-reference', '/reference'],
  ['unknown-teacher', '/variants/2/distillation/teacher'],
  ['mixed-without-layerbits', '/variants/2/layerBits'],
  ['labels-mismatch', '/labels'],
  ['file-dotdot', '/variants/0/file'],
  ['file-absolute', '/variants/0/file'],
];
for (const [kind, pointer] of refusals) {
  t.test(`refuses a manifest with ${kind.replaceAll('-', ' ')}, naming the JSON path`, async (t) => {
    const r = await refusal(`bad/${kind}.json`);
    t.equal(r.code, 'EDGE_ERR_MANIFEST_INVALID');
    t.ok(r.paths.includes(pointer), `problems at ${r.paths.join(', ')} include ${pointer}`);
  });
}

t.test('refuses a file that is not JSON', async (t) => {
  t.equal((await refusal('bad/not-json.json')).code, 'EDGE_ERR_MANIFEST_INVALID');
});

t.test('reports a missing manifest as model not found', async (t) => {
  t.equal((await refusal('good/nope/model.json')).code, 'EDGE_ERR_MODEL_NOT_FOUND');
});

t.test('a manifest with several semantic problems lists every one', async (t) => {
  const doc = JSON.parse(await readFile(path.join(fixtures, 'good/tiny/model.json'), 'utf8')) as Record<string, unknown>;
  doc['reference'] = 'nope';
  doc['labels'] = ['only-one'];
  try {
    checkManifest(doc, 'x.json');
    t.fail('accepted');
  } catch (e) {
    if (!isEdgeError(e)) throw e;
    t.equal(e.code, 'EDGE_ERR_MANIFEST_INVALID');
    t.same((e.details?.['problems'] as { path: string }[]).map((p) => p.path).sort(), ['/labels', '/reference']);
  }
});

t.test('one bad manifest in a models folder is reported and the others still load', async (t) => {
  const { loaded, errors } = await loadManifests(path.join(fixtures, 'models-dir'));
  t.same(
    loaded.map((l) => l.manifest.id),
    ['minimal', 'tiny'],
  );
  t.equal(errors.length, 2);
  t.ok(errors.every((e) => e.code === 'EDGE_ERR_MANIFEST_INVALID'));
  const files = errors.map((e) => path.basename(path.dirname(String(e.details?.['file'])))).sort();
  t.same(files, ['broken', 'misnamed']);
});

t.test('a missing models folder is EDGE_ERR_MODELS_DIR', async (t) => {
  await t.rejects(loadManifests(path.join(fixtures, 'no-such-folder')), { code: 'EDGE_ERR_MODELS_DIR' });
});

t.test('findVariant returns the variant or refuses with the ids it has', async (t) => {
  const m = await loadManifest(path.join(fixtures, 'good/tiny/model.json'));
  t.equal(findVariant(m.manifest, 'int8').precision, 'int8');
  t.throws(() => findVariant(m.manifest, 'fp64'), { code: 'EDGE_ERR_VARIANT_NOT_FOUND', details: { allowed: ['fp32', 'int8', 'mixed'] } });
});

t.test('hasManifests sees a <id>/model.json folder, and nothing in an empty, missing or manifest-less folder', async (t) => {
  const { mkdtempSync, mkdirSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-has-manifests-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.equal(hasManifests(dir), false, 'empty');
  t.equal(hasManifests(path.join(dir, 'missing')), false, 'missing folder');
  mkdirSync(path.join(dir, 'a'));
  writeFileSync(path.join(dir, 'model.json'), '{}');
  t.equal(hasManifests(dir), false, 'a folder without model.json and a stray top-level model.json');
  writeFileSync(path.join(dir, 'a', 'model.json'), '{}');
  t.equal(hasManifests(dir), true);
  t.equal(hasManifests(fileURLToPath(new URL('../../../../models/', import.meta.url))), true, 'the bundled models');
});
