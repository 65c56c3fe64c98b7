import t from 'tap';
import { topClasses } from '../../../runtime/service/top-classes.js';

t.test('ranks classes per row by softmax score and names them with labels', async (t) => {
  const logits = { dtype: 'float32' as const, dims: [2, 3], data: new Float32Array([0, 5, 1, 9, 0, 0]) };
  const top = topClasses(logits, ['cat', 'dog', 'eel'], 2);
  t.equal(top.length, 2);
  t.same(top[0]?.map((c) => c.label), ['dog', 'eel']);
  t.same(top[1]?.map((c) => c.index), [0, 1]);
  const s = top[1]?.[0]?.score ?? 0;
  t.ok(s > 0.99 && s <= 1, 'a dominant logit has a probability near 1');
});

t.test('falls back to the class index when there are no labels', async (t) => {
  const top = topClasses({ dtype: 'float32', dims: [1, 2], data: new Float32Array([1, 2]) }, undefined, 5);
  t.same(top[0]?.map((c) => c.label), ['1', '0']);
});
