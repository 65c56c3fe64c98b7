/**
 * Issue 18: for every shipped profile, the service's model runtime loads exactly what
 * `edge-infer plan --profile <id>` shows (same backend, same variants, all ready, within budget).
 * rpi-zero-2w (WASM) is in zoo-wasm.test.ts.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { createEngine } from '../runtime/backend/select-engine.js';
import { silentLogger } from '../runtime/log.js';
import { planModels } from '../runtime/planner/plan.js';
import type { Plan } from '../runtime/planner/types.js';
import { ModelRuntime } from '../runtime/service/model-runtime.js';
import { resolveSetup } from '../runtime/service/setup.js';
import { ROOT } from './helpers/service-process.js';

const PROFILES = readdirSync(path.join(ROOT, 'device-profiles')).filter((f) => f.endsWith('.json') && f !== 'schema.json' && f !== 'rpi-zero-2w.json').map((f) => f.slice(0, -5)).sort();
const chosen = (p: Plan): Record<string, string | null> => Object.fromEntries(p.models.map((m) => [m.model, m.chosen?.variant ?? null]));

/** What `edge-infer plan --profile <id>` plans (plan.ts: the profile's board decides the backend). */
async function cliPlan(profile: string): Promise<Plan> {
  const setup = await resolveSetup({ packageRoot: ROOT, profile, backendFor: 'profile' });
  return planModels({ profile: setup.profile, manifests: setup.manifests.map((m) => m.manifest), budgetMB: setup.budget.budgetMB, backend: setup.caps });
}

for (const id of PROFILES) {
  t.test(`the model runtime on ${id} loads exactly what plan shows`, async (t) => {
    const expected = await cliPlan(id);
    const setup = await resolveSetup({ packageRoot: ROOT, profile: id });
    t.equal(setup.backend, expected.backend, 'run resolves the backend plan names');
    const engine = createEngine(setup.profile.inference.backend);
    const rt = new ModelRuntime({ profile: setup.profile, manifests: setup.manifests, engine, caps: setup.caps, budgetMB: setup.budget.budgetMB, log: silentLogger });
    t.teardown(async () => { await rt.close(0); await engine.close(); });
    const after = await rt.start();
    t.same(chosen(after), chosen(expected), 'the same variants after loading');
    const loaded = Object.fromEntries(rt.status().map((s) => [s.model, s.state === 'ready' ? s.variant : null]));
    t.same(loaded, chosen(expected), 'every planned variant is loaded and ready');
    t.ok(rt.usedMB() <= setup.budget.budgetMB, `accounted ${rt.usedMB()} MB within ${setup.budget.budgetMB} MB`);
  });
}

