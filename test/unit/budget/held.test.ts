import t from 'tap';
import { heldMB } from '../../../runtime/budget/budget.js';

t.test('without a shared runtime each model holds the larger of its measured and planned figures', async (t) => {
  t.same(
    heldMB(
      [
        { plannedMB: 10, rssDeltaMB: 12 },
        { plannedMB: 5, rssDeltaMB: 1 },
        { plannedMB: 3, rssDeltaMB: null },
      ],
      undefined,
      false,
    ),
    { heldMB: 20, sharedLeftMB: 0 },
  );
});

t.test('with a shared WASM runtime, growth over the figures is taken from the shared allowance first', async (t) => {
  const rt = { startMB: 70, sharedMB: 15 };
  // 12 MB over its figure (the first model paid for shared kernels): inside the allowance.
  t.same(
    heldMB(
      [
        { plannedMB: 5, rssDeltaMB: 17 },
        { plannedMB: 2, rssDeltaMB: 1 },
      ],
      rt,
      false,
    ),
    { heldMB: 70 + 7 + 15, sharedLeftMB: 3 },
  );
  // Overshoots beyond the allowance count in full.
  t.same(
    heldMB(
      [
        { plannedMB: 5, rssDeltaMB: 25 },
        { plannedMB: 2, rssDeltaMB: 4 },
      ],
      rt,
      false,
    ),
    { heldMB: 70 + 7 + 22, sharedLeftMB: 0 },
  );
});

t.test('the runtime is charged for the first model being loaded, and not when nothing is loaded', async (t) => {
  const rt = { startMB: 70, sharedMB: 15 };
  t.same(heldMB([], rt, true), { heldMB: 85, sharedLeftMB: 15 });
  t.same(heldMB([], rt, false), { heldMB: 0, sharedLeftMB: 0 });
});
