/**
 * Labelled eval sets and calibration sets: JSON files
 *   {"inputs": number[][], "labels": number[], "shape"?: number[]}
 * (models/<id>/eval/eval.json). `shape` (issue 10) is one sample's shape without the batch dim,
 * e.g. [3, 224, 224] for a model input [N, 3, H, W] with dynamic H and W; each row holds its
 * product of values, row-major. `labels` is optional for calibration sets only.
 * Throws EDGE_ERR_EVAL_SET_INVALID for anything else (unreadable, not JSON, ragged, non-finite,
 * a shape that does not hold the row width).
 *
 * Also (issue 10 zoo): a file whose name ends in ".gz" is gunzipped first (image rows of 27,648
 * numbers pack ~20x); an eval set may carry "sequence" for recurrent models: rows are consecutive
 * frames and the eval carries the model's state between them (optimize/eval-sequence.ts).
 *
 * Seam for folders of images (issue 11): readEvalSet / readCalibrationSet are the only places a
 * set is read from disk; a folder is read as `<dir>/eval.json` today, and a folder of images
 * becomes a set here once a manifest declares its preprocessing.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { EdgeError } from '../errors.js';
import { checkSequence, type EvalSequence } from './eval-sequence.js';

export interface EvalSet {
  inputs: number[][];
  labels: number[];
  shape?: number[];
  /** Rows are consecutive frames of streams whose recurrent state the eval carries. */
  sequence?: EvalSequence;
}
export interface CalibrationSet {
  inputs: number[][];
  labels?: number[];
  shape?: number[];
}

function check(v: unknown, source: string, labelsRequired: boolean): CalibrationSet {
  const bad = (why: string): EdgeError => new EdgeError('EDGE_ERR_EVAL_SET_INVALID', `${source}: ${why}`, { details: { file: source } });
  if (v === null || typeof v !== 'object') throw bad('not a JSON object');
  const { inputs, labels, shape } = v as { inputs?: unknown; labels?: unknown; shape?: unknown };
  if (!Array.isArray(inputs) || inputs.length === 0) throw bad('needs a non-empty "inputs" array');
  if (labelsRequired && !Array.isArray(labels)) throw bad('needs non-empty "inputs" and "labels" arrays');
  if (labels !== undefined && !Array.isArray(labels)) throw bad('"labels" must be an array');
  if (Array.isArray(labels) && inputs.length !== labels.length) throw bad(`${inputs.length} inputs but ${labels.length} labels`);
  const width = Array.isArray(inputs[0]) ? inputs[0].length : -1;
  for (const row of inputs) {
    if (!Array.isArray(row) || row.length !== width || width === 0 || !row.every((x) => typeof x === 'number' && Number.isFinite(x))) throw bad('every input must be an array of the same number of finite numbers');
  }
  if (Array.isArray(labels) && !labels.every((l) => Number.isInteger(l) && (l as number) >= 0)) throw bad('labels must be non-negative integers');
  if (shape !== undefined) {
    if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && (d as number) > 0)) throw bad('"shape" must be a non-empty array of positive integers (one sample, without the batch dimension)');
    const size = (shape as number[]).reduce((a, b) => a * b, 1);
    if (size !== width) throw bad(`"shape" [${(shape as number[]).join(', ')}] holds ${size} values but each input has ${width}`);
  }
  return { inputs: inputs as number[][], ...(Array.isArray(labels) ? { labels: labels as number[] } : {}), ...(shape !== undefined ? { shape: shape as number[] } : {}) };
}

/** Checks the shape of a parsed eval set (labels required). */
export function checkEvalSet(v: unknown, source = 'eval set'): EvalSet {
  const set = check(v, source, true) as EvalSet;
  const { sequence } = v as { sequence?: unknown };
  if (sequence !== undefined) {
    const bad = (why: string): EdgeError => new EdgeError('EDGE_ERR_EVAL_SET_INVALID', `${source}: ${why}`, { details: { file: source } });
    set.sequence = checkSequence(sequence, set.inputs.length, bad);
  }
  return set;
}

/** Checks a parsed calibration set (labels optional). */
export function checkCalibrationSet(v: unknown, source = 'calibration set'): CalibrationSet {
  return check(v, source, false);
}

async function readJson(path: string): Promise<{ parsed: unknown; file: string }> {
  let file = path;
  let text: string;
  try {
    if ((await stat(path)).isDirectory()) file = join(path, 'eval.json');
    const bytes = await readFile(file);
    text = (file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (e) {
    throw new EdgeError('EDGE_ERR_EVAL_SET_INVALID', `cannot read set ${file}`, { details: { file }, cause: e });
  }
  try {
    return { parsed: JSON.parse(text), file };
  } catch (e) {
    throw new EdgeError('EDGE_ERR_EVAL_SET_INVALID', `${file} is not JSON`, { details: { file }, cause: e });
  }
}

/** Reads an eval set from a JSON (or gzipped JSON, ".gz") file, or from `<dir>/eval.json` when given a folder. */
export async function readEvalSet(path: string): Promise<EvalSet> {
  const { parsed, file } = await readJson(path);
  return checkEvalSet(parsed, file);
}

/** Reads a calibration set (same format, labels optional). */
export async function readCalibrationSet(path: string): Promise<CalibrationSet> {
  const { parsed, file } = await readJson(path);
  return checkCalibrationSet(parsed, file);
}
