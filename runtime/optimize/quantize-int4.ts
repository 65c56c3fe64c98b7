/**
 * 4-bit block-wise weights in com.microsoft.MatMulNBits (layout in DESIGN.md, from ORT's quantizer):
 * B uint8 [N, kBlocks, blobSize] with element (k, n) in byte (n*kBlocks + k/bs)*blobSize + (k%bs)/2,
 * low nibble first; scales float [N*kBlocks]; zero points uint8 [N*ceil(kBlocks/2)], two blocks per
 * byte, low nibble first. Asymmetric: scale = (max(v,0) - min(v,0)) / 15, zp = round(-min/scale).
 * Gemm layers become MatMulNBits + Add (bias).
 */
import { EdgeError } from '../errors.js';
import { intAttr, makeNode } from './graph-util.js';
import type { LinearLayer } from './linear-layers.js';
import type { NodeProto, OnnxModel, TensorProto } from './onnx-types.js';
import { quantizeLayers, type QuantizeReport } from './quantize-apply.js';
import { makeFloatTensor, makeUint8Tensor } from './tensor-util.js';

export interface Int4Options {
  /** Weights per quantization block along K: a power of two in 16..256. Default 32. */
  blockSize?: number;
  /** MatMulNBits accuracy_level: 0 (unset), 1 fp32, 2 fp16, 3 bf16, 4 int8 compute. Default 4. */
  accuracyLevel?: number;
}

export interface PackedInt4 {
  /** [N * kBlocks * blobSize] */
  packed: Uint8Array;
  /** [N * kBlocks] */
  scales: Float32Array;
  /** [N * ceil(kBlocks / 2)] */
  zeroPoints: Uint8Array;
  kBlocks: number;
  blobSize: number;
}

/** Packs a row-major [K, N] float weight for MatMulNBits (bits = 4). Exported for tests. */
export function packInt4(w: Float32Array, K: number, N: number, blockSize: number): PackedInt4 {
  const kBlocks = Math.ceil(K / blockSize);
  const blobSize = blockSize / 2;
  const packed = new Uint8Array(N * kBlocks * blobSize);
  const scales = new Float32Array(N * kBlocks);
  const zpStride = Math.ceil(kBlocks / 2);
  const zeroPoints = new Uint8Array(N * zpStride);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const k0 = b * blockSize;
      const k1 = Math.min(K, k0 + blockSize);
      let lo = 0;
      let hi = 0;
      for (let k = k0; k < k1; k++) {
        const v = w[k * N + n] as number;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      let scale = (hi - lo) / 15;
      if (scale === 0) scale = 1;
      const zp = Math.max(0, Math.min(15, Math.round(-lo / scale)));
      scales[n * kBlocks + b] = scale;
      const zIdx = n * zpStride + (b >> 1);
      zeroPoints[zIdx] = (zeroPoints[zIdx] as number) | (b & 1 ? zp << 4 : zp);
      for (let k = k0; k < k0 + blockSize; k++) {
        const q = k < k1 ? Math.max(0, Math.min(15, Math.round((w[k * N + n] as number) / scale) + zp)) : zp;
        const byte = (n * kBlocks + b) * blobSize + ((k - k0) >> 1);
        packed[byte] = (packed[byte] as number) | ((k - k0) & 1 ? q << 4 : q);
      }
    }
  }
  return { packed, scales, zeroPoints, kBlocks, blobSize };
}

export function int4Layer(layer: LinearLayer, name: (b: string) => string, out: string, opts: Int4Options): { nodes: NodeProto[]; inits: TensorProto[] } {
  const bs = opts.blockSize ?? 32;
  const p = packInt4(layer.weight, layer.K, layer.N, bs);
  const base = layer.name.replace(/[^A-Za-z0-9_.:/-]/g, '_');
  const bq = name(`${base}_W_int4`);
  const sc = name(`${base}_W_scales`);
  const zp = name(`${base}_W_zero_points`);
  const inits: TensorProto[] = [makeUint8Tensor(bq, [layer.N, p.kBlocks, p.blobSize], p.packed), makeFloatTensor(sc, [layer.N * p.kBlocks], p.scales), makeUint8Tensor(zp, [p.zeroPoints.length], p.zeroPoints)];
  const mmOut = layer.bias ? name(`${base}_no_bias`) : out;
  const nodes = [makeNode('MatMulNBits', [layer.input, bq, sc, zp], [mmOut], name(`${base}_MatMulNBits`), [intAttr('K', layer.K), intAttr('N', layer.N), intAttr('bits', 4), intAttr('block_size', bs), intAttr('accuracy_level', opts.accuracyLevel ?? 4)], 'com.microsoft')];
  if (layer.bias) {
    const b = name(`${base}_bias`);
    inits.push(makeFloatTensor(b, layer.bias.dims, layer.bias.data));
    nodes.push(makeNode('Add', [mmOut, b], [out], name(`${base}_bias_add`)));
  }
  return { nodes, inits };
}

/** Every quantizable MatMul / Gemm to MatMulNBits 4-bit. Throws EDGE_ERR_USAGE for a bad block size. */
export function quantizeInt4(input: OnnxModel, opts: Int4Options & { layers?: ReadonlySet<string> } = {}): { model: OnnxModel; report: QuantizeReport } {
  checkInt4Options(opts);
  return quantizeLayers(input, () => 4, { ...opts, ...(opts.layers ? { only: opts.layers } : {}) });
}

export function checkInt4Options(opts: Int4Options): void {
  const bs = opts.blockSize ?? 32;
  if (!(bs >= 16 && bs <= 256 && (bs & (bs - 1)) === 0)) throw new EdgeError('EDGE_ERR_USAGE', `block size must be a power of two in 16..256, got ${bs}`);
  const al = opts.accuracyLevel ?? 4;
  if (!(Number.isInteger(al) && al >= 0 && al <= 4)) throw new EdgeError('EDGE_ERR_USAGE', `accuracy level must be 0..4, got ${al}`);
}
