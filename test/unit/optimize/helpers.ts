/** Test helpers: build small real ONNX models with our writer, and run models with onnxruntime-node. */
import ort from 'onnxruntime-node';
import { writeOnnx } from '../../../runtime/optimize/onnx-io.js';
import type { OnnxModel } from '../../../runtime/optimize/onnx-types.js';
import { intAttr, makeNode, floatValueInfo as valueInfo } from '../../../runtime/optimize/graph-util.js';
import { makeFloatTensor } from '../../../runtime/optimize/tensor-util.js';
/** Deterministic uniform [-1, 1) numbers (mulberry32). */
import { signedUniform as prng } from '../../helpers/prng.js';

export { prng };

export function randomArray(n: number, rand: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rand() * scale;
  return a;
}

/**
 * An MLP in ONNX: x[batch, sizes0] -> MatMul+Add -> Relu -> Gemm(transB=1, alpha, beta) -> Relu -> ...
 * -> MatMul+Add -> y[batch, sizesLast]. Layers alternate MatMul+Add and Gemm so both paths get tested.
 */
export function buildMlp(sizes: readonly number[], seed = 1): OnnxModel {
  const rand = prng(seed);
  const nodes = [];
  const inits = [];
  let prev = 'x';
  for (let i = 0; i + 1 < sizes.length; i++) {
    const k = sizes[i] as number;
    const n = sizes[i + 1] as number;
    const last = i + 2 === sizes.length;
    const out = last ? 'y' : `h${i}`;
    const scale = Math.sqrt(3 / k);
    const useGemm = i % 2 === 1 && !last;
    if (useGemm) {
      inits.push(makeFloatTensor(`W${i}`, [n, k], randomArray(n * k, rand, scale)));
      inits.push(makeFloatTensor(`b${i}`, [n], randomArray(n, rand, 0.1)));
      nodes.push(makeNode('Gemm', [prev, `W${i}`, `b${i}`], [`g${i}`], `gemm${i}`, [intAttr('transB', 1), { name: 'alpha', type: 1, f: 1.0, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparseTensors: [], typeProtos: [] }]));
      nodes.push(makeNode('Relu', [`g${i}`], [out], `relu${i}`));
    } else {
      inits.push(makeFloatTensor(`W${i}`, [k, n], randomArray(k * n, rand, scale)));
      inits.push(makeFloatTensor(`b${i}`, [n], randomArray(n, rand, 0.1)));
      nodes.push(makeNode('MatMul', [prev, `W${i}`], [`m${i}`], `matmul${i}`));
      nodes.push(makeNode('Add', [`m${i}`, `b${i}`], [last ? out : `a${i}`], `add${i}`));
      if (!last) nodes.push(makeNode('Relu', [`a${i}`], [out], `relu${i}`));
    }
    prev = out;
  }
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'edge-infer-test',
    metadataProps: [{ key: 'purpose', value: 'test' }],
    trainingInfo: [],
    functions: [],
    configuration: [],
    graph: { name: 'mlp', node: nodes, initializer: inits, sparseInitializer: [], input: [valueInfo('x', ['batch', sizes[0] as number])], output: [valueInfo('y', ['batch', sizes[sizes.length - 1] as number])], valueInfo: [], quantizationAnnotation: [], metadataProps: [] },
  };
}

/** Runs a single-input single-output float model; returns the output data and dims. */
export async function runModel(bytes: Uint8Array, input: Float32Array, dims: number[], opts: ort.InferenceSession.SessionOptions = {}): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, ...opts });
  try {
    const feeds = { [session.inputNames[0] as string]: new ort.Tensor('float32', input, dims) };
    const out = await session.run(feeds);
    const t = out[session.outputNames[0] as string] as ort.Tensor;
    return { data: t.data as Float32Array, dims: t.dims };
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

export function argmaxRows(data: Float32Array, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < data.length / cols; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if ((data[r * cols + c] as number) > (data[r * cols + best] as number)) best = c;
    out.push(best);
  }
  return out;
}

export function mlpBytes(sizes: readonly number[], seed = 1): Uint8Array {
  return writeOnnx(buildMlp(sizes, seed));
}

/** Structural equality with fast byte-array comparison (tap's t.same is too slow on MB-sized buffers). Returns the first differing path, or undefined. */
export function firstDifference(a: unknown, b: unknown, path = '$'): string | undefined {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array)) return path;
    return Buffer.compare(a, b) === 0 ? undefined : path;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return path;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    if (ka.join() !== kb.join()) return `${path} keys ${ka.join()} vs ${kb.join()}`;
    for (const k of ka) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      if (d) return d;
    }
    return undefined;
  }
  return Object.is(a, b) ? undefined : `${path}: ${String(a)} vs ${String(b)}`;
}
