/**
 * Top classes of a classifier's logits, with labels. Pure.
 * Scores are softmax probabilities over each row (computed stably: x - max).
 */
import type { Tensor } from '../tensor.js';

export interface TopClass {
  index: number;
  label: string;
  score: number;
}

/** Top `k` classes per row of a [rows, classes] float32 tensor. */
export function topClasses(logits: Tensor, labels: readonly string[] | undefined, k = 3): TopClass[][] {
  if (logits.dtype !== 'float32' || logits.dims.length < 1) return [];
  const classes = logits.dims[logits.dims.length - 1] ?? 0;
  if (classes === 0) return [];
  const data = logits.data as Float32Array;
  const rows = data.length / classes;
  const result: TopClass[][] = [];
  for (let r = 0; r < rows; r++) {
    const off = r * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, data[off + c] ?? -Infinity);
    let sum = 0;
    const exp = new Float64Array(classes);
    for (let c = 0; c < classes; c++) {
      exp[c] = Math.exp((data[off + c] ?? 0) - max);
      sum += exp[c] ?? 0;
    }
    const order = Array.from({ length: classes }, (_, c) => c).sort((a, b) => (exp[b] ?? 0) - (exp[a] ?? 0));
    result.push(order.slice(0, Math.min(k, classes)).map((c) => ({
      index: c,
      label: labels?.[c] ?? String(c),
      score: Math.round(((exp[c] ?? 0) / sum) * 1e6) / 1e6,
    })));
  }
  return result;
}
