/**
 * Top classes of a classifier's logits, with labels. Pure.
 * Scores are softmax probabilities over each row (computed stably: x - max).
 */
import type { TopClass } from '../result.js';
import type { Tensor } from '../tensor.js';

export type { TopClass } from '../result.js';

/**
 * Top `k` classes per row of a [rows, classes] float32 tensor, best first (equal scores: lower
 * index first). One pass per row keeping the best `k` (issue 16: no per-row index array, sort or
 * exp buffer: these were ~6% of the bytes the service allocated per request under a burst).
 */
export function topClasses(logits: Tensor, labels: readonly string[] | undefined, k = 3): TopClass[][] {
  if (logits.dtype !== 'float32' || logits.dims.length < 1) return [];
  const classes = logits.dims[logits.dims.length - 1] ?? 0;
  if (classes === 0) return [];
  const data = logits.data as Float32Array;
  const rows = data.length / classes;
  const keep = Math.min(k, classes);
  const bestC: number[] = new Array<number>(keep);
  const bestE: number[] = new Array<number>(keep);
  const result: TopClass[][] = [];
  for (let r = 0; r < rows; r++) {
    const off = r * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, data[off + c] ?? -Infinity);
    let sum = 0;
    let n = 0;
    for (let c = 0; c < classes; c++) {
      const e = Math.exp((data[off + c] ?? 0) - max);
      sum += e;
      // Insert c among the best kept so far: after every kept score >= e (a stable descending order).
      let i = Math.min(n, keep);
      while (i > 0 && (bestE[i - 1] as number) < e) i--;
      if (i >= keep) continue;
      for (let j = Math.min(n, keep - 1); j > i; j--) {
        bestC[j] = bestC[j - 1] as number;
        bestE[j] = bestE[j - 1] as number;
      }
      bestC[i] = c;
      bestE[i] = e;
      if (n < keep) n++;
    }
    const row: TopClass[] = new Array<TopClass>(n);
    for (let i = 0; i < n; i++) {
      const c = bestC[i] as number;
      row[i] = { index: c, label: labels?.[c] ?? String(c), score: Math.round(((bestE[i] as number) / sum) * 1e6) / 1e6 };
    }
    result.push(row);
  }
  return result;
}
