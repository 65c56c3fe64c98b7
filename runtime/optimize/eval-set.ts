/**
 * Labelled eval sets: {"inputs": number[][], "labels": number[]} JSON files (models/<id>/eval/eval.json),
 * optionally gzip-compressed (a name ending in ".gz": image rows of 27,648 numbers pack ~20x).
 * Optional keys: "shape", one sample's shape without the batch dimension (rows are flat; a model
 * input [N,1,28,28] has shape [1,28,28]); "sequence", for recurrent models (optimize/eval-sequence.ts).
 * Throws EDGE_ERR_EVAL_SET_INVALID for anything else (unreadable, not JSON, ragged, non-finite).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { EdgeError } from '../errors.js';
import { checkSequence, type EvalSequence } from './eval-sequence.js';

export interface EvalSet {
  inputs: number[][];
  labels: number[];
  /** One sample's shape without the batch dimension; its element count equals the row width. */
  shape?: number[];
  /** Rows are consecutive frames of streams whose recurrent state the eval carries. */
  sequence?: EvalSequence;
}

/** Checks the shape of a parsed eval set. */
export function checkEvalSet(v: unknown, source = 'eval set'): EvalSet {
  const bad = (why: string): EdgeError => new EdgeError('EDGE_ERR_EVAL_SET_INVALID', `${source}: ${why}`, { details: { file: source } });
  if (v === null || typeof v !== 'object') throw bad('not a JSON object');
  const { inputs, labels } = v as { inputs?: unknown; labels?: unknown };
  if (!Array.isArray(inputs) || !Array.isArray(labels) || inputs.length === 0) throw bad('needs non-empty "inputs" and "labels" arrays');
  if (inputs.length !== labels.length) throw bad(`${inputs.length} inputs but ${labels.length} labels`);
  const width = Array.isArray(inputs[0]) ? inputs[0].length : -1;
  for (const row of inputs) {
    if (!Array.isArray(row) || row.length !== width || width === 0 || !row.every((x) => typeof x === 'number' && Number.isFinite(x))) throw bad('every input must be an array of the same number of finite numbers');
  }
  if (!labels.every((l) => Number.isInteger(l) && (l as number) >= 0)) throw bad('labels must be non-negative integers');
  const set: EvalSet = { inputs: inputs as number[][], labels: labels as number[] };
  const { shape, sequence } = v as { shape?: unknown; sequence?: unknown };
  if (shape !== undefined) {
    if (!Array.isArray(shape) || shape.length === 0 || shape.length > 7 || !shape.every((d) => Number.isInteger(d) && (d as number) >= 1)) throw bad('"shape" must be an array of 1..7 positive integers (one sample, no batch dimension)');
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (count !== width) throw bad(`"shape" [${shape.join(', ')}] has ${count} elements but each input has ${width}`);
    set.shape = shape as number[];
  }
  if (sequence !== undefined) set.sequence = checkSequence(sequence, inputs.length, bad);
  return set;
}

/** Reads an eval set from a JSON (or .gz JSON) file, or from `<dir>/eval.json` when given a folder. */
export async function readEvalSet(path: string): Promise<EvalSet> {
  let file = path;
  let text: string;
  try {
    if ((await stat(path)).isDirectory()) file = join(path, 'eval.json');
    const bytes = await readFile(file);
    text = (file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (e) {
    throw new EdgeError('EDGE_ERR_EVAL_SET_INVALID', `cannot read eval set ${file}`, { details: { file }, cause: e });
  }
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch (e) {
    throw new EdgeError('EDGE_ERR_EVAL_SET_INVALID', `${file} is not JSON`, { details: { file }, cause: e });
  }
  return checkEvalSet(parsed, file);
}
