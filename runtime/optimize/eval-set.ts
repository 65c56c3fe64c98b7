/**
 * Labelled eval sets: {"inputs": number[][], "labels": number[]} JSON files (models/<id>/eval/eval.json).
 * Throws EDGE_ERR_EVAL_SET_INVALID for anything else (unreadable, not JSON, ragged, non-finite).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgeError } from '../errors.js';

export interface EvalSet { inputs: number[][]; labels: number[] }

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
  return { inputs: inputs as number[][], labels: labels as number[] };
}

/** Reads an eval set from a JSON file, or from `<dir>/eval.json` when given a folder. */
export async function readEvalSet(path: string): Promise<EvalSet> {
  let file = path;
  let text: string;
  try {
    if ((await stat(path)).isDirectory()) file = join(path, 'eval.json');
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new EdgeError('EDGE_ERR_EVAL_SET_INVALID', `cannot read eval set ${file}`, { details: { file }, cause: e });
  }
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch (e) {
    throw new EdgeError('EDGE_ERR_EVAL_SET_INVALID', `${file} is not JSON`, { details: { file }, cause: e });
  }
  return checkEvalSet(parsed, file);
}
