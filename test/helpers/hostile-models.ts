/**
 * A models folder of hostile variants around one good model, for test/hostile-models.test.ts.
 * Every bad model has a single variant, so refusing it leaves that model unavailable:
 *   tampered   one byte flipped, size kept             -> EDGE_ERR_INTEGRITY
 *   truncated  the file cut in half                    -> EDGE_ERR_FILE_TRUNCATED
 *   notonnx    pseudo-random bytes, correct sha256 and size -> EDGE_ERR_MODEL_INVALID
 *   hugeclaim  an initializer claiming dims [2^40] over 16 bytes of raw_data, correct sha256 -> EDGE_ERR_MODEL_INVALID
 *   escape     variant file "../outside.onnx"          -> EDGE_ERR_MANIFEST_INVALID (refused by the manifest
 *              checks before any file is touched: /variants/0/file must not contain "..")
 *   symlink    variant file is a symlink out of the folder -> EDGE_ERR_PATH_ESCAPE
 *   liar       model.json says input "foo" [batch, 3]  -> EDGE_ERR_MODEL_MISMATCH
 *   fallback   digits with student-fp32 tampered       -> student refused EDGE_ERR_INTEGRITY, serves teacher-fp32
 *   digits     a copy of models/digits (good)
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readOnnx, writeOnnx } from '../../runtime/optimize/onnx-io.js';
import { copyDigits, DIGITS_DIR, readDigitsManifest, type DigitsManifest } from './digits-copy.js';

export const HOSTILE_EXPECTED = { tampered: 'EDGE_ERR_INTEGRITY', truncated: 'EDGE_ERR_FILE_TRUNCATED', notonnx: 'EDGE_ERR_MODEL_INVALID', hugeclaim: 'EDGE_ERR_MODEL_INVALID', escape: 'EDGE_ERR_MANIFEST_INVALID', symlink: 'EDGE_ERR_PATH_ESCAPE', liar: 'EDGE_ERR_MODEL_MISMATCH' } as const;
export type HostileModel = keyof typeof HOSTILE_EXPECTED;

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Deterministic pseudo-random bytes (sha256 in counter mode), so a failure can be reproduced. */
function junkBytes(n: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; parts.length * 32 < n; i++) parts.push(createHash('sha256').update(`edge-infer hostile ${i}`).digest());
  return Buffer.concat(parts).subarray(0, n);
}

/** The good student variant's bytes. */
function student(): { bytes: Buffer; file: string } {
  const v = readDigitsManifest().variants.find((x) => x.id === 'student-fp32') ?? readDigitsManifest().variants[0];
  if (v === undefined) throw new Error('models/digits has no complete variant');
  return { bytes: readFileSync(path.join(DIGITS_DIR, v.file)), file: v.file };
}

/** A one-variant copy of digits as model `id`, its only variant file `file` with `bytes`; manifest sha256/bytes as `claim` says. */
function oneVariant(modelsDir: string, id: string, file: string, bytes: Uint8Array | null, claim: { sha256: string; bytes: number }, edit?: (m: DigitsManifest) => void): string {
  const dir = copyDigits(modelsDir, id, (m) => {
    const v = m.variants.find((x) => x.id === 'student-fp32') ?? m.variants[0];
    if (v === undefined) throw new Error('no variant');
    const one: Record<string, unknown> = { ...v, file, sha256: claim.sha256, bytes: claim.bytes };
    delete one['distillation'];
    m.variants = [one as DigitsManifest['variants'][number]];
    m.reference = v.id;
    edit?.(m);
  });
  if (bytes !== null) writeFileSync(path.join(dir, file), bytes);
  return dir;
}

/**
 * An ONNX file whose bias initializer ("0.bias", used by the first Gemm) claims dims [2^40]
 * (4 TiB of float32) over 16 bytes of raw_data. (A huge claim in an unused initializer is dropped
 * by ORT and loads fine; one on a weight of the Gemm fails shape inference first.)
 */
export function hugeClaimOnnx(good: Uint8Array): Uint8Array {
  const model = readOnnx(good);
  const init = model.graph?.initializer?.find((x) => x.name === '0.bias') ?? model.graph?.initializer?.[1];
  if (init === undefined) throw new Error('the digits model has no bias initializer');
  init.dims = [2 ** 40];
  init.rawData = new Uint8Array(16);
  init.floatData = [];
  return writeOnnx(model);
}

/** Builds the folder; `outside` is a folder next to it (the escape targets). Returns the models folder. */
export function buildHostileModels(root: string): string {
  const modelsDir = path.join(root, 'models');
  const outside = path.join(root, 'outside');
  mkdirSync(modelsDir, { recursive: true });
  mkdirSync(outside, { recursive: true });
  const good = student();
  const goodClaim = { sha256: sha256(good.bytes), bytes: good.bytes.byteLength };

  copyDigits(modelsDir, 'digits');

  const tampered = Buffer.from(good.bytes);
  const i = tampered.byteLength >> 1;
  tampered[i] = (tampered[i] ?? 0) ^ 0xff;
  oneVariant(modelsDir, 'tampered', good.file, tampered, goodClaim);

  oneVariant(modelsDir, 'truncated', good.file, good.bytes.subarray(0, good.bytes.byteLength >> 1), goodClaim);

  const junk = junkBytes(good.bytes.byteLength);
  oneVariant(modelsDir, 'notonnx', 'junk.onnx', junk, { sha256: sha256(junk), bytes: junk.byteLength });

  const huge = hugeClaimOnnx(good.bytes);
  oneVariant(modelsDir, 'hugeclaim', 'huge.onnx', huge, { sha256: sha256(huge), bytes: huge.byteLength });

  // "../outside.onnx" from models/escape/ is models/outside.onnx: a real, valid file the manifest must not reach.
  copyFileSync(path.join(DIGITS_DIR, good.file), path.join(modelsDir, 'outside.onnx'));
  oneVariant(modelsDir, 'escape', '../outside.onnx', null, goodClaim);

  copyFileSync(path.join(DIGITS_DIR, good.file), path.join(outside, 'model.onnx'));
  const linkDir = oneVariant(modelsDir, 'symlink', 'linked.onnx', null, goodClaim);
  symlinkSync(path.join(outside, 'model.onnx'), path.join(linkDir, 'linked.onnx'));

  // Two variants, the preferred one tampered: the runtime falls back to the other.
  const fb = copyDigits(modelsDir, 'fallback');
  writeFileSync(path.join(fb, good.file), tampered);

  oneVariant(modelsDir, 'liar', good.file, good.bytes, goodClaim, (m) => {
    m.inputs = [{ name: 'foo', dtype: 'float32', shape: ['batch', 3] }];
  });
  return modelsDir;
}
