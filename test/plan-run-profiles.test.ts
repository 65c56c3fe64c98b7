/**
 * Issue 18: for every shipped profile, the service's model runtime loads exactly what
 * `edge-infer plan --profile <id>` shows (same backend, same variants, all ready, within budget).
 * rpi-zero-2w (WASM) is in zoo-wasm.test.ts.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { planModels } from '../runtime/planner/plan.js';
import type { Plan } from '../runtime/planner/types.js';
import { resolveSetup } from '../runtime/service/setup.js';
import { ROOT } from './helpers/service-process.js';

const PROFILES = readdirSync(path.join(ROOT, 'device-profiles'))
  .filter((f) => f.endsWith('.json') && f !== 'schema.json' && f !== 'rpi-zero-2w.json')
  .map((f) => f.slice(0, -5))
  .sort();
const chosen = (p: Plan): Record<string, string | null> => Object.fromEntries(p.models.map((m) => [m.model, m.chosen?.variant ?? null]));

/** What `edge-infer plan --profile <id>` plans (plan.ts: the profile's board decides the backend). */
async function cliPlan(profile: string): Promise<Plan> {
  const setup = await resolveSetup({ packageRoot: ROOT, profile, backendFor: 'profile' });
  return planModels({ profile: setup.profile, manifests: setup.manifests.map((m) => m.manifest), budgetMB: setup.budget.budgetMB, backend: setup.caps });
}

const CHILD = path.join(ROOT, 'dist', 'test', 'helpers', 'plan-run-child.js');

for (const id of PROFILES) {
  t.test(`the model runtime on ${id} loads exactly what plan shows`, async (t) => {
    const expected = await cliPlan(id);
    // In a plain child process: see plan-run-child.ts for why not in the tap process.
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [CHILD, id], { timeout: 120_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${String(err)}\n${stderr}`)) : resolve(stdout)));
    });
    const r = JSON.parse(out) as { backend: string; chosen: Record<string, string | null>; loaded: Record<string, string | null>; usedMB: number; budgetMB: number };
    t.equal(r.backend, expected.backend, 'run resolves the backend plan names');
    t.same(r.chosen, chosen(expected), 'the same variants after loading');
    t.same(r.loaded, chosen(expected), 'every planned variant is loaded and ready');
    t.ok(r.usedMB <= r.budgetMB, `accounted ${r.usedMB} MB within ${r.budgetMB} MB`);
  });
}
