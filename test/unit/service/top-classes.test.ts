import t from 'tap';
import { topClasses } from '../../../runtime/service/top-classes.js';

t.test('ranks classes per row by softmax score and names them with labels', async (t) => {
  const logits = { dtype: 'float32' as const, dims: [2, 3], data: new Float32Array([0, 5, 1, 9, 0, 0]) };
  const top = topClasses(logits, ['cat', 'dog', 'eel'], 2);
  t.equal(top.length, 2);
  t.same(
    top[0]?.map((c) => c.label),
    ['dog', 'eel'],
  );
  t.same(
    top[1]?.map((c) => c.index),
    [0, 1],
  );
  const s = top[1]?.[0]?.score ?? 0;
  t.ok(s > 0.99 && s <= 1, 'a dominant logit has a probability near 1');
});

t.test('falls back to the class index when there are no labels', async (t) => {
  const top = topClasses({ dtype: 'float32', dims: [1, 2], data: new Float32Array([1, 2]) }, undefined, 5);
  t.same(
    top[0]?.map((c) => c.label),
    ['1', '0'],
  );
});

t.test('keeps the same classes, order and scores as a full stable sort, ties included (issue 16)', async (t) => {
  let seed = 11;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let trial = 0; trial < 200; trial++) {
    const classes = 1 + Math.floor(rnd() * 12);
    const rows = 1 + Math.floor(rnd() * 3);
    const k = 1 + Math.floor(rnd() * 5);
    // Few distinct values, so ties are common.
    const data = Float32Array.from({ length: rows * classes }, () => Math.floor(rnd() * 4) - 2);
    const got = topClasses({ dtype: 'float32', dims: [rows, classes], data }, undefined, k);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(data.subarray(r * classes, (r + 1) * classes));
      const max = Math.max(...row);
      const exp = row.map((x) => Math.exp(x - max));
      const sum = exp.reduce((a, b) => a + b, 0);
      const want = exp
        .map((e, c) => ({ c, e }))
        .sort((a, b) => b.e - a.e)
        .slice(0, Math.min(k, classes))
        .map(({ c, e }) => ({ index: c, label: String(c), score: Math.round((e / sum) * 1e6) / 1e6 }));
      t.same(got[r], want, `trial ${trial} row ${r}`);
    }
  }
});
