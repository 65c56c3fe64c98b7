import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { blobBytes, buildBundle, checkBundlePath, decodeChunk, encodeChunk, generateDeployKeys, privateKeyFromPem, publicKeyFromPem, sha256Hex, verifyBundleManifest } from '../../../runtime/fleet/bundle.js';
import { EdgeError } from '../../../runtime/errors.js';
import { DIGITS_DIR } from '../../helpers/digits-copy.js';

const code = (f: () => unknown): string | null => {
  try {
    f();
    return null;
  } catch (e) {
    return e instanceof EdgeError ? e.code : 'not an EdgeError';
  }
};

t.test('a bundle of the digits folder lists model.json, every variant file and the eval set with their sha256, and verifies with its key only', async (t) => {
  const keys = generateDeployKeys();
  const b = await buildBundle(DIGITS_DIR, privateKeyFromPem(keys.privatePem));
  const model = JSON.parse(readFileSync(path.join(DIGITS_DIR, 'model.json'), 'utf8')) as { variants: { file: string; sha256: string }[]; eval: { file: string } };
  t.equal(b.manifest.files[0]?.path, 'model.json');
  for (const v of model.variants) t.equal(b.manifest.files.find((f) => f.path === v.file)?.sha256, v.sha256, v.file);
  t.ok(
    b.manifest.files.some((f) => f.path === model.eval.file),
    'the eval set travels for preflight',
  );
  t.equal(b.blob.length, blobBytes(b.manifest));
  t.equal(b.id, sha256Hex(b.manifestText).slice(0, 16));
  t.same(verifyBundleManifest(b.manifestText, b.signature, [publicKeyFromPem(keys.publicPem)]), b.manifest);
  const other = publicKeyFromPem(generateDeployKeys().publicPem);
  t.equal(
    code(() => verifyBundleManifest(b.manifestText, b.signature, [other])),
    'EDGE_ERR_BUNDLE_SIGNATURE',
    'another key',
  );
  t.equal(
    code(() => verifyBundleManifest(b.manifestText, '', [publicKeyFromPem(keys.publicPem)])),
    'EDGE_ERR_BUNDLE_SIGNATURE',
    'unsigned',
  );
  const edited = b.manifestText.replace(b.manifest.files[1]!.sha256, '0'.repeat(64));
  t.equal(
    code(() => verifyBundleManifest(edited, b.signature, [publicKeyFromPem(keys.publicPem)])),
    'EDGE_ERR_BUNDLE_SIGNATURE',
    'an edited manifest',
  );
});

t.test('keys that are not ed25519 PEM are refused with EDGE_ERR_DEPLOY_KEY', async (t) => {
  t.equal(
    code(() => privateKeyFromPem('nope')),
    'EDGE_ERR_DEPLOY_KEY',
  );
  t.equal(
    code(() => publicKeyFromPem('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n')),
    'EDGE_ERR_DEPLOY_KEY',
  );
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  t.equal(
    code(() => publicKeyFromPem(rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString())),
    'EDGE_ERR_DEPLOY_KEY',
  );
});

t.test('a signed manifest with unsafe paths or a bad shape is refused as EDGE_ERR_BUNDLE_INVALID', async (t) => {
  for (const p of ['../x', '/etc/passwd', 'a/../../b', 'a//b', '.', 'a b'])
    t.equal(
      code(() => checkBundlePath(p)),
      'EDGE_ERR_BUNDLE_INVALID',
      p,
    );
  t.equal(
    code(() => checkBundlePath('eval/eval.json')),
    null,
  );
  const keys = generateKeyPairSync('ed25519');
  const { sign } = await import('node:crypto');
  const signed = (doc: unknown): [string, string] => {
    const text = JSON.stringify(doc);
    return [text, sign(null, Buffer.from(text), keys.privateKey).toString('base64')];
  };
  const file = { path: 'model.json', sha256: 'a'.repeat(64), bytes: 1 };
  const base = { format: 'edge-infer-bundle/1', model: 'digits', createdAt: 'x', keyId: 'k' };
  for (const doc of [
    { ...base, files: [{ ...file, path: '../model.json' }] },
    { ...base, files: [] },
    { ...base, files: [{ ...file, path: 'a.onnx' }] },
    { ...base, files: [file, file] },
    { ...base, model: 'bad/id', files: [file] },
    { ...base, format: 'other', files: [file] },
  ])
    t.equal(
      code(() => verifyBundleManifest(...signed(doc), [keys.publicKey])),
      'EDGE_ERR_BUNDLE_INVALID',
      JSON.stringify(doc).slice(0, 80),
    );
});

t.test('chunks carry their sha256: a flipped byte or a cut header is refused', async (t) => {
  const data = Buffer.from('hello chunk');
  const msg = encodeChunk({ bundleId: 'b', index: 2, total: 3, sha256: sha256Hex(data) }, data);
  const back = decodeChunk(msg);
  t.same(back.header, { bundleId: 'b', index: 2, total: 3, sha256: sha256Hex(data) });
  t.same(back.data, data);
  const bad = Buffer.from(msg);
  bad.writeUInt8(bad.readUInt8(bad.length - 1) ^ 1, bad.length - 1);
  t.equal(
    code(() => decodeChunk(bad)),
    'EDGE_ERR_BUNDLE_INVALID',
  );
  t.equal(
    code(() => decodeChunk(msg.subarray(0, 6))),
    'EDGE_ERR_BUNDLE_INVALID',
  );
  t.equal(
    code(() => decodeChunk(Buffer.alloc(2))),
    'EDGE_ERR_BUNDLE_INVALID',
  );
});

t.test('buildBundle refuses a folder whose variant file is missing', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-bundle-'));
  mkdirSync(path.join(dir, 'm'));
  writeFileSync(path.join(dir, 'm', 'model.json'), JSON.stringify({ id: 'm', variants: [{ file: 'gone.onnx' }] }));
  const keys = generateDeployKeys();
  await t.rejects(buildBundle(path.join(dir, 'm'), privateKeyFromPem(keys.privatePem)), { code: 'EDGE_ERR_BUNDLE_INVALID' });
});
