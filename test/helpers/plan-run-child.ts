/**
 * For plan-run-profiles.test.ts: loads the service's model runtime for one profile in a plain node
 * process (no tap loaders: with --enable-source-maps every worker thread's start measures tens of MB
 * more RSS, which the budget check counts) and prints what it loaded as JSON.
 * Usage: node plan-run-child.js <profile id>
 */
import { createEngine } from '../../runtime/backend/select-engine.js';
import { silentLogger } from '../../runtime/log.js';
import { ModelRuntime } from '../../runtime/service/model-runtime.js';
import { resolveSetup } from '../../runtime/service/setup.js';
import { ROOT } from './service-process.js';

const id = process.argv[2] ?? '';
const setup = await resolveSetup({ packageRoot: ROOT, profile: id });
const engine = createEngine(setup.profile.inference.backend);
const rt = new ModelRuntime({ profile: setup.profile, manifests: setup.manifests, engine, caps: setup.caps, budgetMB: setup.budget.budgetMB, log: silentLogger });
const after = await rt.start();
const out = { backend: setup.backend, chosen: Object.fromEntries(after.models.map((m) => [m.model, m.chosen?.variant ?? null])), loaded: Object.fromEntries(rt.status().map((s) => [s.model, s.state === 'ready' ? s.variant : null])), usedMB: rt.usedMB(), budgetMB: setup.budget.budgetMB };
await rt.close(0);
await engine.close();
process.stdout.write(JSON.stringify(out));
