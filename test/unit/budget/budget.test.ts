import t from 'tap';
import { BudgetLedger, effectiveBudgetMB } from '../../../runtime/budget/budget.js';

const base = { profileBudgetMB: 768, cgroupLimitMB: null, reserveMB: 64, memAvailableMB: null, processRssMB: 50 };

t.test('without a cgroup limit or MemAvailable the profile budget applies', async (t) => {
  t.same({ ...effectiveBudgetMB(base), detail: undefined }, { budgetMB: 768, limitedBy: 'profile', detail: undefined });
});

t.test('a cgroup limit below the profile budget wins, minus the reserve', async (t) => {
  const b = effectiveBudgetMB({ ...base, cgroupLimitMB: 512 });
  t.equal(b.limitedBy, 'cgroup');
  t.equal(b.budgetMB, 512 - 64);
});

t.test('under a cgroup limit a process bigger than the reserve counts its measured non-session RSS', async (t) => {
  const b = effectiveBudgetMB({ ...base, cgroupLimitMB: 512, processRssMB: 200, heldMB: 40 });
  t.equal(b.budgetMB, 512 - 160);
});

t.test('low MemAvailable limits the budget and sessions already held are added back', async (t) => {
  const b = effectiveBudgetMB({ ...base, cgroupLimitMB: 1024, memAvailableMB: 300, heldMB: 100 });
  t.equal(b.limitedBy, 'memavailable');
  t.equal(b.budgetMB, 300 - 64 + 100);
});

t.test('the budget is never negative', async (t) => {
  t.equal(effectiveBudgetMB({ ...base, memAvailableMB: 10 }).budgetMB, 0);
});

t.test('a reservation over the free budget is refused with need, free and budget', async (t) => {
  const l = new BudgetLedger(100);
  l.reserve('a@fp32', 60);
  t.throws(() => l.reserve('b@fp32', 50), { code: 'EDGE_ERR_BUDGET_EXCEEDED', details: { needMB: 50, freeMB: 40, budgetMB: 100 } });
  t.equal(l.usedMB, 60, 'the refused reservation books nothing');
  l.reserve('b@int8', 40);
  t.equal(l.freeMB, 0);
});

t.test('commit replaces the estimate with the measurement and release frees it', async (t) => {
  const l = new BudgetLedger(100);
  l.reserve('a', 30);
  l.commit('a', 22);
  t.equal(l.usedMB, 22);
  t.same(l.entries(), [{ key: 'a', mb: 22, measured: true }]);
  l.release('a');
  l.release('a');
  t.equal(l.usedMB, 0);
  t.equal(l.limitMB, 100);
});

t.test('a measurement over the budget is recorded and reported as budget exceeded', async (t) => {
  const l = new BudgetLedger(100);
  l.reserve('a', 50);
  l.reserve('b', 30);
  t.throws(() => l.commit('b', 60), { code: 'EDGE_ERR_BUDGET_EXCEEDED', details: { needMB: 60, freeMB: 50, budgetMB: 100 } });
  t.equal(l.usedMB, 110);
  l.release('b');
  t.equal(l.usedMB, 50);
});

t.test('reserving a key twice or committing an unknown key is a programming error', async (t) => {
  const l = new BudgetLedger(100);
  l.reserve('a', 1);
  t.throws(() => l.reserve('a', 1), { code: 'EDGE_ERR_INTERNAL' });
  t.throws(() => l.commit('nope', 1), { code: 'EDGE_ERR_INTERNAL' });
});

t.test('a lowered limit leaves holdings in place and refuses new reservations', async (t) => {
  const l = new BudgetLedger(100);
  l.reserve('a', 80);
  l.setLimitMB(60);
  t.equal(l.freeMB, -20);
  t.throws(() => l.reserve('b', 1), { code: 'EDGE_ERR_BUDGET_EXCEEDED' });
});
