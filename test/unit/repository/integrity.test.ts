import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { resolveVariantFile, sha256File, verifyVariant } from '../../../runtime/repository/integrity.js';
import type { LoadedManifest, ModelManifest, VariantManifest } from '../../../runtime/repository/types.js';

const content = new Uint8Array(Array.from({ length: 4096 }, (_, i) => (i * 31) % 251));
const digest = createHash('sha256').update(content).digest('hex');

function variant(file: string, over: Partial<VariantManifest> = {}): VariantManifest {
  return { id: 'v', file, sha256: digest, bytes: content.byteLength, precision: 'fp32', params: 1, macs: 1, ops: ['Gemm'], quality: { accuracy: 1, agreement: 1, evalCount: 1 }, ...over };
}

async function setup(t: { teardown(fn: () => unknown): void }): Promise<{ base: string; loaded: LoadedManifest }> {
  const base = await mkdtemp(path.join(tmpdir(), 'edge-integrity-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const dir = path.join(base, 'm');
  await mkdir(path.join(dir, 'sub'), { recursive: true });
  await writeFile(path.join(dir, 'model.onnx'), content);
  await writeFile(path.join(dir, 'sub', 'inner.onnx'), content);
  await writeFile(path.join(base, 'outside.onnx'), content);
  const manifest = { id: 'm', variants: [] } as unknown as ModelManifest;
  return { base, loaded: { manifest, dir, file: path.join(dir, 'model.json') } };
}

t.test('verifies an intact file and hands back exactly the bytes it hashed', async (t) => {
  const { loaded } = await setup(t);
  const r = await verifyVariant(loaded, variant('model.onnx'));
  t.equal(r.path, path.join(loaded.dir, 'model.onnx'));
  t.same(Buffer.from(r.bytes), Buffer.from(content));
  const r2 = await verifyVariant(loaded, variant('sub/inner.onnx'));
  t.equal(r2.path, path.join(loaded.dir, 'sub', 'inner.onnx'));
});

t.test('accepts a symlink that stays inside the model folder', async (t) => {
  const { loaded } = await setup(t);
  await symlink('sub/inner.onnx', path.join(loaded.dir, 'link.onnx'));
  t.equal(await resolveVariantFile(loaded, variant('link.onnx')), path.join(loaded.dir, 'sub', 'inner.onnx'));
});

t.test('refuses a missing file', async (t) => {
  const { loaded } = await setup(t);
  await t.rejects(verifyVariant(loaded, variant('absent.onnx')), { code: 'EDGE_ERR_FILE_MISSING' });
});

t.test('refuses a directory where the file should be', async (t) => {
  const { loaded } = await setup(t);
  await t.rejects(verifyVariant(loaded, variant('sub')), { code: 'EDGE_ERR_FILE_MISSING' });
});

t.test('refuses a truncated file with both sizes in the details', async (t) => {
  const { loaded } = await setup(t);
  await writeFile(path.join(loaded.dir, 'model.onnx'), content.subarray(0, 1000));
  await t.rejects(verifyVariant(loaded, variant('model.onnx')), { code: 'EDGE_ERR_FILE_TRUNCATED', details: { expectedBytes: 4096, actualBytes: 1000 } });
});

t.test('refuses a tampered file of the right size', async (t) => {
  const { loaded } = await setup(t);
  const tampered = content.slice();
  tampered[100] = (tampered[100] ?? 0) ^ 0xff;
  await writeFile(path.join(loaded.dir, 'model.onnx'), tampered);
  await t.rejects(verifyVariant(loaded, variant('model.onnx')), { code: 'EDGE_ERR_INTEGRITY', details: { expected: digest } });
});

t.test('accepts an upper-case sha256 in the manifest', async (t) => {
  const { loaded } = await setup(t);
  await t.resolves(verifyVariant(loaded, variant('model.onnx', { sha256: digest.toUpperCase() })));
});

t.test('refuses a path that escapes with ..', async (t) => {
  const { loaded } = await setup(t);
  await t.rejects(verifyVariant(loaded, variant('../outside.onnx')), { code: 'EDGE_ERR_PATH_ESCAPE' });
  await t.rejects(verifyVariant(loaded, variant('sub/../../outside.onnx')), { code: 'EDGE_ERR_PATH_ESCAPE' });
});

t.test('refuses an absolute path even when it points into the model folder', async (t) => {
  const { loaded } = await setup(t);
  await t.rejects(verifyVariant(loaded, variant(path.join(loaded.dir, 'model.onnx'))), { code: 'EDGE_ERR_PATH_ESCAPE' });
});

t.test('refuses a symlink whose target leaves the model folder', async (t) => {
  const { base, loaded } = await setup(t);
  await symlink(path.join(base, 'outside.onnx'), path.join(loaded.dir, 'escape.onnx'));
  await t.rejects(verifyVariant(loaded, variant('escape.onnx')), { code: 'EDGE_ERR_PATH_ESCAPE' });
  await symlink('..', path.join(loaded.dir, 'up'));
  await t.rejects(verifyVariant(loaded, variant('up/outside.onnx')), { code: 'EDGE_ERR_PATH_ESCAPE' });
});

t.test('sha256File streams the same digest as hashing in memory', async (t) => {
  const { loaded } = await setup(t);
  t.equal(await sha256File(path.join(loaded.dir, 'model.onnx')), digest);
  await t.rejects(sha256File(path.join(loaded.dir, 'absent')), { code: 'ENOENT' });
});
