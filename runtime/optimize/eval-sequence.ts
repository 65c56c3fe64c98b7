/**
 * Eval sets for recurrent (streaming) models, e.g. a VAD whose LSTM state is an input and an output
 * of every run (issue 10 item 7 / issue 11's `vad`). Pure: parsing and the feeds of one run; the
 * runs themselves belong to a ModelMeasurer.
 *
 * Format (the optional top-level "sequence" of an eval set):
 *   "sequence": {
 *     "starts":    [0, 98, ...],            row indices where a recording begins (state reset); 0 first
 *     "constants": {"sr": {"dtype": "int64", "dims": [], "data": [16000]}},   fed unchanged to every run
 *     "state":     [{"input": "h", "output": "hn", "dims": [2, 1, 64]}, ...]  zero at each start, then
 *                                          each run's output feeds the next run's input
 *   }
 * Contract: with a sequence the rows are consecutive frames; each run takes one row (batch 1,
 * dims [1, ...shape] or [1, width]); predictions are per row, in order, so accuracy and agreement
 * are per-frame decisions with the state carried as a stream would carry it.
 */
import { EdgeError } from '../errors.js';
import { elementCount, isTensorDtype, type NamedTensors, type Tensor, type TensorDtype } from '../tensor.js';

export interface ConstantFeed {
  dtype: TensorDtype;
  dims: number[];
  data: number[];
}
export interface StateLink {
  input: string;
  output: string;
  dims: number[];
}
export interface EvalSequence {
  starts: number[];
  constants: Record<string, ConstantFeed>;
  state: StateLink[];
}

type Bad = (why: string) => EdgeError;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function dimsOf(v: unknown, what: string, bad: Bad): number[] {
  if (!Array.isArray(v) || v.length > 8 || !v.every((d) => Number.isInteger(d) && (d as number) >= 1)) throw bad(`${what} must be an array of at most 8 positive integers`);
  return v as number[];
}

/** Checks a parsed "sequence" object against a set of `rows` rows; throws EDGE_ERR_EVAL_SET_INVALID via `bad`. */
export function checkSequence(v: unknown, rows: number, bad: Bad): EvalSequence {
  if (!isObject(v)) throw bad('"sequence" must be an object {starts, constants, state}');
  const { starts, constants = {}, state } = v;
  if (!Array.isArray(starts) || starts[0] !== 0 || !starts.every((s, i) => Number.isInteger(s) && (s as number) < rows && (i === 0 || (s as number) > (starts[i - 1] as number)))) {
    throw bad('"sequence.starts" must be increasing row indices beginning with 0');
  }
  if (!isObject(constants)) throw bad('"sequence.constants" must be an object of {dtype, dims, data}');
  const consts: Record<string, ConstantFeed> = {};
  for (const [name, c] of Object.entries(constants)) {
    if (!isObject(c) || !isTensorDtype(c.dtype)) throw bad(`"sequence.constants.${name}" needs a dtype (float32, int64, int32, int8, uint8)`);
    const dims = c.dims === undefined ? [] : dimsOf(c.dims, `"sequence.constants.${name}.dims"`, bad);
    if (!Array.isArray(c.data) || c.data.length !== elementCount(dims) || !c.data.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw bad(`"sequence.constants.${name}.data" must hold ${elementCount(dims)} finite numbers`);
    }
    consts[name] = { dtype: c.dtype, dims, data: c.data as number[] };
  }
  if (!Array.isArray(state) || state.length === 0) throw bad('"sequence.state" must be a non-empty array of {input, output, dims}');
  const links = state.map((s, i): StateLink => {
    if (!isObject(s) || typeof s.input !== 'string' || typeof s.output !== 'string' || s.input === '' || s.output === '') throw bad(`"sequence.state[${i}]" needs "input" and "output" tensor names`);
    return { input: s.input, output: s.output, dims: dimsOf(s.dims, `"sequence.state[${i}].dims"`, bad) };
  });
  return { starts: starts as number[], constants: consts, state: links };
}

function constantTensor(c: ConstantFeed): Tensor {
  switch (c.dtype) {
    case 'int64':
      return { dtype: 'int64', dims: c.dims, data: BigInt64Array.from(c.data, (x) => BigInt(Math.trunc(x))) };
    case 'int32':
      return { dtype: 'int32', dims: c.dims, data: Int32Array.from(c.data) };
    case 'int8':
      return { dtype: 'int8', dims: c.dims, data: Int8Array.from(c.data) };
    case 'uint8':
      return { dtype: 'uint8', dims: c.dims, data: Uint8Array.from(c.data) };
    case 'float32':
      return { dtype: 'float32', dims: c.dims, data: Float32Array.from(c.data) };
  }
}

/**
 * Carries the state of one sequence across runs. `feeds(row, input)` gives the inputs of the run
 * for `row` (constants + state, reset to zeros at every start); `advance(outputs)` takes that run's
 * outputs. Throws EDGE_ERR_INFERENCE_FAILED when a state output is missing or has the wrong size.
 */
export class SequenceState {
  readonly #seq: EvalSequence;
  readonly #starts: Set<number>;
  #state = new Map<string, Float32Array>();

  constructor(seq: EvalSequence) {
    this.#seq = seq;
    this.#starts = new Set(seq.starts);
  }

  feeds(row: number, input: NamedTensors): NamedTensors {
    const out: NamedTensors = { ...input };
    for (const [name, c] of Object.entries(this.#seq.constants)) out[name] = constantTensor(c);
    for (const link of this.#seq.state) {
      let s = this.#state.get(link.input);
      if (s === undefined || this.#starts.has(row)) s = new Float32Array(elementCount(link.dims));
      out[link.input] = { dtype: 'float32', dims: link.dims, data: s };
    }
    return out;
  }

  advance(outputs: Readonly<Record<string, Tensor | undefined>>): void {
    for (const link of this.#seq.state) {
      const t = outputs[link.output];
      if (t === undefined || t.dtype !== 'float32' || t.data.length !== elementCount(link.dims)) {
        throw new EdgeError('EDGE_ERR_INFERENCE_FAILED', `state output "${link.output}" is missing or not float32 [${link.dims.join(', ')}]`);
      }
      this.#state.set(link.input, Float32Array.from(t.data as Float32Array));
    }
  }
}
