/**
 * Shared set-up for the robustness tests (fuzz, soak): a temp models dir holding the real digits
 * model and the two-inputs fixture (manifest written with its real sha256), and /proc readers for a
 * child process (VmRSS, open fds). Linux only (/proc).
 */
import { createHash } from 'node:crypto';
import { liveInOutbox } from './outbox-dir.js';
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './service-process.js';

export interface EvalSet {
  inputs: number[][];
  labels: number[];
}

export function digitsEval(): EvalSet {
  return JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'eval.json'), 'utf8')) as EvalSet;
}

/** Creates `<dir>/models` with digits (copied) and two-inputs (a: float32 [batch,3], b: int64 [batch,1], y = a * b); returns its path. */
export function makeModelsDir(dir: string): string {
  const models = path.join(dir, 'models');
  mkdirSync(models, { recursive: true });
  cpSync(path.join(ROOT, 'models', 'digits'), path.join(models, 'digits'), { recursive: true });
  const two = path.join(models, 'two-inputs');
  mkdirSync(two);
  const bytes = readFileSync(path.join(ROOT, 'test', 'fixtures', 'models', 'two-inputs.onnx'));
  writeFileSync(path.join(two, 'fp32.onnx'), bytes);
  const manifest = {
    id: 'two-inputs',
    task: 'other',
    inputs: [
      { name: 'a', dtype: 'float32', shape: ['batch', 3] },
      { name: 'b', dtype: 'int64', shape: ['batch', 1] },
    ],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 3] }],
    reference: 'fp32',
    variants: [{ id: 'fp32', file: 'fp32.onnx', sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.byteLength, precision: 'fp32', params: 0, macs: 3, ops: ['Cast', 'Mul'], quality: { accuracy: 1, agreement: 1, evalCount: 1 } }],
  };
  writeFileSync(path.join(two, 'model.json'), JSON.stringify(manifest, null, 2));
  return models;
}

/** VmRSS of `pid` in MB (from /proc/<pid>/status). */
export function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m?.[1] === undefined) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

/** Open file descriptors of `pid` (entries of /proc/<pid>/fd). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Live answers in an outbox dir's log (0 when it does not exist). */
export function outboxLive(dir: string): number {
  return liveInOutbox(dir);
}
