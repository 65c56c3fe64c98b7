/**
 * Signed model bundles (issue 15 OTA): the format, signing and verification. No I/O except
 * `buildBundle`, which reads the model folder.
 *
 * A bundle is
 * - a manifest: JSON text `{"format": "edge-infer-bundle/1", "model", "createdAt", "keyId",
 *   "files": [{"path", "sha256", "bytes"}]}` listing model.json, every variant file and the eval
 *   set, in the order their bytes follow each other in the blob;
 * - an ed25519 signature (base64) over the manifest's exact UTF-8 bytes (node:crypto, no digest
 *   argument: ed25519 hashes internally);
 * - the blob: the files' bytes concatenated in manifest order, sent in chunks (transport/deploy-sender.ts).
 * The bundle id is the first 16 hex digits of sha256(manifest text): a changed file changes it.
 *
 * Errors: EDGE_ERR_BUNDLE_SIGNATURE (no signature, or no trusted key verifies it),
 * EDGE_ERR_BUNDLE_INVALID (malformed manifest, unsafe path, a file whose size or sha256 differs),
 * EDGE_ERR_DEPLOY_KEY (a key that is not an ed25519 PEM).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EdgeError } from '../errors.js';

export const BUNDLE_FORMAT = 'edge-infer-bundle/1';

export interface BundleFile {
  /** Relative to the model folder, '/'-separated, no '..'. */
  path: string;
  sha256: string;
  bytes: number;
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  model: string;
  createdAt: string;
  /** sha256 (hex, first 16) of the signer's public key (SPKI DER): names the key in logs. */
  keyId: string;
  files: BundleFile[];
}

export interface Bundle {
  id: string;
  /** The signed text (JSON of a BundleManifest). */
  manifestText: string;
  manifest: BundleManifest;
  /** base64 ed25519 signature of manifestText. */
  signature: string;
  blob: Buffer;
}

export function sha256Hex(b: Uint8Array | string): string {
  return createHash('sha256').update(b).digest('hex');
}

export function bundleIdOf(manifestText: string): string {
  return sha256Hex(manifestText).slice(0, 16);
}

export function keyIdOf(publicKey: KeyObject): string {
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

/** A new ed25519 key pair as PEM (PKCS#8 private, SPKI public). */
export function generateDeployKeys(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function asEd25519(k: KeyObject, what: string): KeyObject {
  if (k.asymmetricKeyType !== 'ed25519') throw new EdgeError('EDGE_ERR_DEPLOY_KEY', `${what} is a ${k.asymmetricKeyType ?? 'symmetric'} key, not ed25519`);
  return k;
}

export function privateKeyFromPem(pem: string, what = 'the signing key'): KeyObject {
  try {
    return asEd25519(createPrivateKey(pem), what);
  } catch (e) {
    if (e instanceof EdgeError) throw e;
    throw new EdgeError('EDGE_ERR_DEPLOY_KEY', `${what} is not a PEM private key`, { cause: e });
  }
}

/** A trusted public key from PEM text (a private key PEM also gives its public half). */
export function publicKeyFromPem(pem: string, what = 'a trusted key'): KeyObject {
  try {
    return asEd25519(createPublicKey(pem), what);
  } catch (e) {
    if (e instanceof EdgeError) throw e;
    throw new EdgeError('EDGE_ERR_DEPLOY_KEY', `${what} is not a PEM public key`, { cause: e });
  }
}

const SAFE_PATH = /^(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._\-/]{1,255}$/;

/** Throws EDGE_ERR_BUNDLE_INVALID unless `p` is a plain relative path inside the model folder. */
export function checkBundlePath(p: string): void {
  if (!SAFE_PATH.test(p) || p.startsWith('/') || p.includes('//')) throw new EdgeError('EDGE_ERR_BUNDLE_INVALID', `bundle path "${p.slice(0, 80)}" is not a plain relative path`);
}

/** Reads `<modelDir>/model.json`, its variant files and eval set, and signs the list. Throws EDGE_ERR_BUNDLE_INVALID for a file it cannot read. */
export async function buildBundle(modelDir: string, privateKey: KeyObject, now = new Date()): Promise<Bundle> {
  const manifestPath = path.join(modelDir, 'model.json');
  let model: { id?: unknown; variants?: { file?: unknown }[]; eval?: { file?: unknown } };
  try {
    model = JSON.parse(await readFile(manifestPath, 'utf8')) as typeof model;
  } catch (e) {
    throw new EdgeError('EDGE_ERR_BUNDLE_INVALID', `cannot read ${manifestPath}`, { cause: e });
  }
  if (typeof model.id !== 'string') throw new EdgeError('EDGE_ERR_BUNDLE_INVALID', `${manifestPath} has no "id"`);
  const rel = ['model.json'];
  for (const v of model.variants ?? []) if (typeof v.file === 'string' && !rel.includes(v.file)) rel.push(v.file);
  if (typeof model.eval?.file === 'string' && !rel.includes(model.eval.file)) rel.push(model.eval.file);
  const files: BundleFile[] = [];
  const parts: Buffer[] = [];
  for (const p of rel) {
    checkBundlePath(p);
    let b: Buffer;
    try {
      b = await readFile(path.join(modelDir, p));
    } catch (e) {
      throw new EdgeError('EDGE_ERR_BUNDLE_INVALID', `cannot read ${p} in ${modelDir}`, { cause: e });
    }
    files.push({ path: p, sha256: sha256Hex(b), bytes: b.length });
    parts.push(b);
  }
  const manifest: BundleManifest = { format: BUNDLE_FORMAT, model: model.id, createdAt: now.toISOString(), keyId: keyIdOf(createPublicKey(privateKey)), files };
  const manifestText = JSON.stringify(manifest);
  return { id: bundleIdOf(manifestText), manifestText, manifest, signature: sign(null, Buffer.from(manifestText), privateKey).toString('base64'), blob: Buffer.concat(parts) };
}

function invalid(msg: string): EdgeError {
  return new EdgeError('EDGE_ERR_BUNDLE_INVALID', msg);
}

/** Checks the signature against the trusted keys, then the manifest's shape. Returns the parsed manifest. */
export function verifyBundleManifest(manifestText: string, signature: string, trusted: readonly KeyObject[]): BundleManifest {
  const sig = Buffer.from(signature, 'base64');
  if (sig.length !== 64) throw new EdgeError('EDGE_ERR_BUNDLE_SIGNATURE', 'the bundle carries no ed25519 signature');
  const data = Buffer.from(manifestText, 'utf8');
  if (!trusted.some((k) => verify(null, data, k, sig))) throw new EdgeError('EDGE_ERR_BUNDLE_SIGNATURE', "no trusted key verifies the bundle's signature", { details: { trustedKeys: trusted.map(keyIdOf) } });
  let doc: unknown;
  try {
    doc = JSON.parse(manifestText);
  } catch {
    throw invalid('the bundle manifest is not JSON');
  }
  const m = doc as Partial<BundleManifest>;
  if (m.format !== BUNDLE_FORMAT) throw invalid(`the bundle format is not ${BUNDLE_FORMAT}`);
  if (typeof m.model !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,63}$/i.test(m.model)) throw invalid('the bundle names no valid model id');
  if (!Array.isArray(m.files) || m.files.length === 0 || m.files.length > 256) throw invalid('the bundle lists no files (or more than 256)');
  const seen = new Set<string>();
  for (const f of m.files as unknown[]) {
    const g = f as Partial<BundleFile>;
    if (typeof g.path !== 'string' || typeof g.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(g.sha256) || !Number.isSafeInteger(g.bytes) || (g.bytes ?? -1) < 0) throw invalid('a bundle file entry needs path, sha256 (hex) and bytes');
    checkBundlePath(g.path);
    if (seen.has(g.path)) throw invalid(`the bundle lists ${g.path} twice`);
    seen.add(g.path);
  }
  if (!seen.has('model.json')) throw invalid('the bundle has no model.json');
  return m as BundleManifest;
}

/** Total blob size the manifest announces. */
export function blobBytes(m: BundleManifest): number {
  return m.files.reduce((s, f) => s + f.bytes, 0);
}

/** Chunk messages on `<prefix>/deploy/chunk`: 4-byte big-endian header length, header JSON, data. */
export interface ChunkHeader {
  bundleId: string;
  index: number;
  total: number;
  /** sha256 (hex) of this chunk's data. */
  sha256: string;
}

export function encodeChunk(h: ChunkHeader, data: Uint8Array): Buffer {
  const head = Buffer.from(JSON.stringify(h), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(head.length);
  return Buffer.concat([len, head, data]);
}

/** Parses and checks a chunk (its sha256 included). Throws EDGE_ERR_BUNDLE_INVALID. */
export function decodeChunk(msg: Buffer): { header: ChunkHeader; data: Buffer } {
  if (msg.length < 4) throw invalid('a deploy chunk is too short');
  const n = msg.readUInt32BE(0);
  if (n > 1024 || 4 + n > msg.length) throw invalid('a deploy chunk header is malformed');
  let h: Partial<ChunkHeader>;
  try {
    h = JSON.parse(msg.subarray(4, 4 + n).toString('utf8')) as Partial<ChunkHeader>;
  } catch {
    throw invalid('a deploy chunk header is not JSON');
  }
  if (typeof h.bundleId !== 'string' || !Number.isSafeInteger(h.index) || !Number.isSafeInteger(h.total) || typeof h.sha256 !== 'string') throw invalid('a deploy chunk header needs bundleId, index, total, sha256');
  const data = msg.subarray(4 + n);
  if (sha256Hex(data) !== h.sha256) throw invalid(`deploy chunk ${h.index} of ${h.bundleId}: sha256 mismatch`);
  return { header: h as ChunkHeader, data };
}
