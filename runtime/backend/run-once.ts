/**
 * In-process, one-shot inference for the CLI tools (quantize, eval): create a session on the
 * calling thread, run, release. Blocks the event loop while ORT runs, so it is for tools, never
 * for the service (which uses an InferenceEngine). Uses onnxruntime-node where it has a binary
 * for this platform, onnxruntime-web (WASM, one thread) otherwise.
 *
 * Errors: EDGE_ERR_MODEL_INVALID | EDGE_ERR_LOAD_FAILED when the bytes do not load;
 * EDGE_ERR_INFERENCE_FAILED when the run fails; EDGE_ERR_EVAL_SET_INVALID for an empty or ragged
 * eval set or one whose labels do not match its inputs.
 */
import type * as OrtApi from 'onnxruntime-common';
import { EdgeError } from '../errors.js';
import { isTensorDtype, type NamedTensors, type Tensor, type TensorData } from '../tensor.js';
import { nativeAvailable } from './native-binary.js';
import { errorMessage, loadErrorCode } from './ort-errors.js';
import { sessionOptions, TOOL_SESSION } from './session-options.js';
import { wasmDistUrl } from './wasm-engine.js';

type Ort = typeof OrtApi;
let ortPromise: Promise<Ort> | null = null;

function ort(): Promise<Ort> {
  ortPromise ??= (async () => {
    if (nativeAvailable()) return (await import('onnxruntime-node')) as unknown as Ort;
    const web = (await import('onnxruntime-web')) as unknown as Ort;
    web.env.wasm.numThreads = 1;
    web.env.wasm.wasmPaths = wasmDistUrl();
    return web;
  })();
  return ortPromise;
}

async function withSession<T>(modelBytes: Uint8Array, use: (s: OrtApi.InferenceSession, o: Ort) => Promise<T>): Promise<T> {
  const o = await ort();
  let session: OrtApi.InferenceSession;
  try {
    session = await o.InferenceSession.create(modelBytes, sessionOptions({ ...TOOL_SESSION, backend: nativeAvailable() ? 'native' : 'wasm' }));
  } catch (e) {
    const message = errorMessage(e);
    throw new EdgeError(loadErrorCode(message), message);
  }
  try {
    return await use(session, o);
  } finally {
    await session.release();
  }
}

/** One run of `session` on this thread: plain tensors in, plain tensors out (EDGE_ERR_INFERENCE_FAILED). */
export async function runSession(session: OrtApi.InferenceSession, o: Ort, inputs: NamedTensors): Promise<NamedTensors> {
  const feeds: Record<string, OrtApi.Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) feeds[name] = new o.Tensor(t.dtype, t.data, [...t.dims]);
  let out: OrtApi.InferenceSession.OnnxValueMapType;
  try {
    out = await session.run(feeds);
  } catch (e) {
    throw new EdgeError('EDGE_ERR_INFERENCE_FAILED', errorMessage(e));
  }
  const result: NamedTensors = {};
  for (const [name, v] of Object.entries(out)) {
    const t = v as OrtApi.Tensor;
    if (!isTensorDtype(t.type)) throw new EdgeError('EDGE_ERR_INFERENCE_FAILED', `output "${name}" has unsupported dtype ${t.type}`);
    result[name] = { dtype: t.type, dims: [...t.dims], data: t.data as TensorData };
  }
  return result;
}

/** The element type the session declares for input `name` (float32 when unknown). */
function declaredInputType(s: OrtApi.InferenceSession, name: string): string {
  const meta = (s.inputMetadata ?? []).find((m) => m.name === name);
  return meta !== undefined && meta.isTensor ? meta.type : 'float32';
}

/**
 * One sample's dims without the batch (issue 10): the set's own `shape` when given, else the
 * model's declared input dims when they are all fixed and hold `width` values ([N,1,28,28] models
 * take flat rows), else [width]. Throws EDGE_ERR_EVAL_SET_INVALID when `shape` does not hold `width`.
 */
function sampleDims(s: OrtApi.InferenceSession, name: string, width: number, shape: readonly number[] | undefined): number[] {
  if (shape !== undefined) {
    if (shape.reduce((a, b) => a * b, 1) !== width) throw new EdgeError('EDGE_ERR_EVAL_SET_INVALID', `the set's "shape" [${shape.join(', ')}] does not hold its ${width} values per sample`);
    return [...shape];
  }
  const meta = (s.inputMetadata ?? []).find((m) => m.name === name);
  const declared = meta !== undefined && meta.isTensor ? meta.shape.slice(1) : [];
  if (declared.length > 1 && declared.every((d) => typeof d === 'number' && d > 0) && (declared as number[]).reduce((a, b) => a * b, 1) === width) return declared as number[];
  return [width];
}

/** Eval rows as one [N, ...sample] tensor of the model's input type: int64 / int32 (token ids) or float32. */
function evalTensor(type: string, rows: readonly number[][], n: number, width: number, sample: readonly number[] = [width]): Tensor {
  if (type === 'int64') {
    const data = new BigInt64Array(n * width);
    rows.forEach((row, i) =>
      row.forEach((v, j) => {
        data[i * width + j] = BigInt(Math.trunc(v));
      }),
    );
    return { dtype: 'int64', dims: [n, ...sample], data };
  }
  if (type === 'int32') {
    const data = new Int32Array(n * width);
    rows.forEach((row, i) => data.set(row, i * width));
    return { dtype: 'int32', dims: [n, ...sample], data };
  }
  const data = new Float32Array(n * width);
  rows.forEach((row, i) => data.set(row, i * width));
  return { dtype: 'float32', dims: [n, ...sample], data };
}

/** Runs `modelBytes` once on `inputs` (not transferred; not modified). */
export function runOnce(modelBytes: Uint8Array, inputs: NamedTensors): Promise<NamedTensors> {
  return withSession(modelBytes, (s, o) => runSession(s, o, inputs));
}

/**
 * Top-1 accuracy of a classifier on an eval set, in one batched run: rows of `inputs` become a
 * [N, features] tensor of the input's declared type (float32, or int64 / int32 for token ids) fed to `inputName` (default: the model's first input); the first
 * output's argmax per row is the prediction.
 */
export async function evaluateAccuracy(modelBytes: Uint8Array, evalSet: { inputs: number[][]; labels: number[]; shape?: number[] }, inputName?: string): Promise<{ accuracy: number; predictions: number[] }> {
  const n = evalSet.inputs.length;
  const width = evalSet.inputs[0]?.length ?? 0;
  if (n === 0 || width === 0 || evalSet.labels.length !== n || evalSet.inputs.some((r) => r.length !== width)) {
    throw new EdgeError('EDGE_ERR_EVAL_SET_INVALID', `eval set needs N rows of equal length and N labels (got ${n} rows, ${evalSet.labels.length} labels)`);
  }
  return withSession(modelBytes, async (s, o) => {
    const name = inputName ?? s.inputNames[0] ?? 'input';
    const out = await runSession(s, o, { [name]: evalTensor(declaredInputType(s, name), evalSet.inputs, n, width, sampleDims(s, name, width, evalSet.shape)) });
    const first = out[s.outputNames[0] ?? ''];
    if (first === undefined || first.dims[0] !== n) throw new EdgeError('EDGE_ERR_INFERENCE_FAILED', 'the first output is not [N, classes]');
    const classes = first.data.length / n;
    const predictions: number[] = [];
    let correct = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (Number(first.data[i * classes + c]) > Number(first.data[i * classes + best])) best = c;
      predictions.push(best);
      if (best === evalSet.labels[i]) correct++;
    }
    return { accuracy: correct / n, predictions };
  });
}

/**
 * Runs `modelBytes` over `rows` in batches of `batchSize` (one session) and hands each float32
 * output named in `outputs` to `visit`, batch by batch (for calibration, issue 10). Non-float
 * outputs are skipped. Errors as evaluateAccuracy.
 */
export async function runRowsBatched(modelBytes: Uint8Array, set: { inputs: number[][]; shape?: number[] }, batchSize: number, outputs: readonly string[], visit: (name: string, data: Float32Array) => void): Promise<void> {
  const width = set.inputs[0]?.length ?? 0;
  if (set.inputs.length === 0 || width === 0 || set.inputs.some((r) => r.length !== width)) throw new EdgeError('EDGE_ERR_EVAL_SET_INVALID', 'a calibration set needs N rows of equal length');
  await withSession(modelBytes, async (s, o) => {
    const name = s.inputNames[0] ?? 'input';
    const sample = sampleDims(s, name, width, set.shape);
    const type = declaredInputType(s, name);
    for (let i = 0; i < set.inputs.length; i += batchSize) {
      const rows = set.inputs.slice(i, i + batchSize);
      const out = await runSession(s, o, { [name]: evalTensor(type, rows, rows.length, width, sample) });
      for (const n of outputs) {
        const t = out[n];
        if (t !== undefined && t.data instanceof Float32Array) visit(n, t.data);
      }
    }
  });
}
