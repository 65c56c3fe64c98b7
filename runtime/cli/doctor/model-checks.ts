/**
 * Doctor checks about planning and inference: which profile and why, the memory budget and what
 * limits it, and whether the backend loads and runs a bundled model (the digits model, through the
 * same ModelRuntime path the service uses) and gives the expected answer for its eval sample.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { createEngine } from '../../backend/select-engine.js';
import { EdgeError, asEdgeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { planModels } from '../../planner/plan.js';
import { ModelRuntime } from '../../service/model-runtime.js';
import type { Setup } from '../../service/setup.js';
import { decodeRequest } from '../../transport/request-codec.js';
import { DEFAULT_LIMITS } from '../../transport/types.js';
import { readInputText } from '../input.js';
import type { CheckResult } from './checklist.js';

export function profileCheck(setup: Setup): CheckResult {
  const why = setup.detection?.reasons.join('; ') ?? 'given on the command line or in the config';
  const warnings = setup.detection?.warnings ?? [];
  if (setup.detection?.derived === true) {
    return { id: 'profile', title: 'device profile', status: 'warn', detail: `no shipped profile matches; derived ${setup.profile.id} (${why})`, fix: 'pass --profile <id> (or "profile" in the config) when this is a known board; `edge-infer detect` shows every profile\'s verdict' };
  }
  const detail = `${setup.profile.id} (${setup.profile.board}); ${setup.profileSource}: ${why}`;
  return warnings.length > 0 ? { id: 'profile', title: 'device profile', status: 'warn', detail: `${detail}; but: ${warnings.join('; ')}`, fix: 'check the profile fits this board: `edge-infer detect`' } : { id: 'profile', title: 'device profile', status: 'pass', detail };
}

export function budgetCheck(setup: Setup): CheckResult {
  const plan = planModels({ profile: setup.profile, manifests: setup.manifests.map((m) => m.manifest), budgetMB: setup.budget.budgetMB, backend: setup.caps });
  const unplanned = plan.models.filter((m) => m.chosen === null).map((m) => m.model);
  const detail = `${setup.budget.budgetMB} MB, limited by ${setup.budget.limitedBy}: ${setup.budget.detail}; plan uses ${plan.usedMB.toFixed(1)} MB for ${plan.models.length - unplanned.length} of ${plan.models.length} model(s)`;
  if (unplanned.length > 0) {
    return { id: 'budget', title: 'memory budget', status: 'warn', detail: `${detail}; no variant fits for ${unplanned.join(', ')}`, code: 'EDGE_ERR_NO_VARIANT_FITS', fix: '`edge-infer plan` shows why; raise memory.budgetMB (or MemoryMax in the unit) or disable models in the config' };
  }
  return { id: 'budget', title: 'memory budget', status: 'pass', detail };
}

/** The first eval/sample-<label>.json of a model folder, with the label its name gives. */
async function findSample(modelDir: string): Promise<{ file: string; label: string } | null> {
  try {
    const names = (await readdir(path.join(modelDir, 'eval'))).filter((n) => /^sample-[^.]+\.json$/.test(n)).sort();
    const name = names[0];
    return name === undefined ? null : { file: path.join(modelDir, 'eval', name), label: name.slice('sample-'.length, -'.json'.length) };
  } catch {
    return null;
  }
}

/** Loads and runs `modelId` (default digits, else the first model with an eval sample) on this host's backend. */
export async function backendCheck(setup: Setup, log: Logger, modelId?: string): Promise<CheckResult> {
  const title = 'backend runs a model';
  const candidates = setup.manifests.filter((m) => (modelId === undefined ? true : m.manifest.id === modelId));
  const ordered = [...candidates.filter((m) => m.manifest.id === 'digits'), ...candidates.filter((m) => m.manifest.id !== 'digits')];
  let chosen: { loaded: (typeof ordered)[number]; sample: { file: string; label: string } } | null = null;
  for (const loaded of ordered) {
    const sample = await findSample(loaded.dir);
    if (sample !== null) {
      chosen = { loaded, sample };
      break;
    }
  }
  if (chosen === null) {
    return { id: 'backend', title, status: 'fail', detail: `no model with an eval/sample-*.json under ${setup.modelsDir}`, fix: 'reinstall the package (the bundled models are missing) or pass --models <dir>' };
  }
  const { loaded, sample } = chosen;
  const model = loaded.manifest.id;
  const engine = createEngine(setup.backend);
  const runtime = new ModelRuntime({ profile: setup.profile, manifests: [loaded], engine, caps: setup.caps, budgetMB: setup.budget.budgetMB, only: [model], log });
  try {
    const text = (await readInputText(sample.file, DEFAULT_LIMITS.maxPayloadBytes)).trimStart();
    const payload = Buffer.from(text.startsWith('[') ? `{"id":"doctor","input":${text}}` : text);
    const decoded = decodeRequest({ model, payload, specs: loaded.manifest.inputs, limits: DEFAULT_LIMITS });
    if (!decoded.ok) throw decoded.error;
    const plan = await runtime.start();
    const reason = plan.models[0]?.error;
    if (plan.models[0]?.chosen == null) {
      throw reason ? new EdgeError(reason.code, reason.message) : new EdgeError('EDGE_ERR_NO_VARIANT_FITS', `no variant of ${model} could be loaded`);
    }
    const outcome = await runtime.infer(model, 'doctor', decoded.request.inputs);
    const status = runtime.status()[0];
    const top = outcome.top?.[0]?.label;
    const detail = `${setup.backend}: ${model}/${outcome.variant} loaded in ${status?.loadMs?.toFixed(0) ?? '?'} ms, ran in ${outcome.inferenceMs.toFixed(2)} ms, answered ${top ?? '(no label)'} for ${path.basename(sample.file)}`;
    if (top !== undefined && top !== sample.label) {
      return { id: 'backend', title, status: 'fail', detail: `${detail}, expected ${sample.label}`, fix: 'the model file may be damaged: `edge-infer validate` checks its sha256; reinstall the package' };
    }
    return { id: 'backend', title, status: 'pass', detail };
  } catch (e) {
    const err = asEdgeError(e);
    return { id: 'backend', title, status: 'fail', detail: `${setup.backend}: ${err.message}`, fix: err.hint, code: err.code };
  } finally {
    await runtime.close(1000);
    await engine.close();
  }
}
