/**
 * Writes a >= 1 ms (fp32, batch 1, one thread) model at bench time, so no large file is committed:
 * an MLP 1024 -> 2048 -> 2048 -> 10 (MatMul+Add, Relu) with seeded uniform weights (~25 MB).
 * Input `x` float32 [batch, 1024], output `y` float32 [batch, 10].
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeNode, floatValueInfo as valueInfo } from '../runtime/optimize/graph-util.js';
import { writeOnnx } from '../runtime/optimize/onnx-io.js';
import type { OnnxModel } from '../runtime/optimize/onnx-types.js';
import { makeFloatTensor } from '../runtime/optimize/tensor-util.js';
import { signedUniform as prng } from '../test/helpers/prng.js';

export const BIG_MLP_SIZES = [1024, 2048, 2048, 10] as const;

export function buildMlp(sizes: readonly number[], seed = 5): OnnxModel {
  const rand = prng(seed);
  const nodes = [];
  const inits = [];
  let prev = 'x';
  for (let i = 0; i + 1 < sizes.length; i++) {
    const k = sizes[i] as number;
    const n = sizes[i + 1] as number;
    const last = i + 2 === sizes.length;
    const w = new Float32Array(k * n);
    const scale = Math.sqrt(3 / k);
    for (let j = 0; j < w.length; j++) w[j] = rand() * scale;
    const b = new Float32Array(n);
    for (let j = 0; j < n; j++) b[j] = rand() * 0.1;
    inits.push(makeFloatTensor(`W${i}`, [k, n], w), makeFloatTensor(`b${i}`, [n], b));
    nodes.push(makeNode('MatMul', [prev, `W${i}`], [`m${i}`], `matmul${i}`));
    const out = last ? 'y' : `h${i}`;
    nodes.push(makeNode('Add', [`m${i}`, `b${i}`], [last ? out : `a${i}`], `add${i}`));
    if (!last) nodes.push(makeNode('Relu', [`a${i}`], [out], `relu${i}`));
    prev = out;
  }
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'edge-infer-bench',
    metadataProps: [],
    trainingInfo: [],
    functions: [],
    configuration: [],
    graph: { name: 'big-mlp', node: nodes, initializer: inits, sparseInitializer: [], input: [valueInfo('x', ['batch', sizes[0] as number])], output: [valueInfo('y', ['batch', sizes[sizes.length - 1] as number])], valueInfo: [], quantizationAnnotation: [], metadataProps: [] },
  };
}

/** Writes the model into `dir`; returns its path and size in bytes. */
export function writeBigMlp(dir: string): { file: string; bytes: number } {
  const file = join(dir, 'big-mlp-1024-2048-2048-10.onnx');
  const bytes = writeOnnx(buildMlp(BIG_MLP_SIZES));
  writeFileSync(file, bytes);
  return { file, bytes: bytes.byteLength };
}
