import { performance } from 'node:perf_hooks';
import { createEngine } from '../../backend/select-engine.js';
import { EdgeError } from '../../errors.js';
import { ModelRuntime } from '../../service/model-runtime.js';
import { SETUP_OPTIONS, setupFromFlags } from '../setup-flags.js';
import { decodeRequest } from '../../transport/request-codec.js';
import { resultBody } from '../../transport/result-codec.js';
import { DEFAULT_LIMITS, type RequestLimits } from '../../transport/types.js';
import { loadServiceConfig } from '../../config/service-config.js';
import { createPreprocessor } from '../../preprocess/index.js';
import type { Command } from '../command.js';
import { readInputText } from '../input.js';
import { onePositional, str } from '../values.js';
import { IMAGE_OPTION, imageRequestBody } from '../image-input.js';
import { requestInputs } from '../../service/stream-runner.js';

/**
 * Reads --input: a file or "-" (stdin), refused from its size when over the limit. A bare JSON array
 * is the shorthand input of a single-input model; it is wrapped in a request object, and the limit
 * given back grows by the wrapper's bytes only, so the limit applies to what the user wrote.
 */
async function readInput(ref: string, limits: RequestLimits): Promise<{ payload: Uint8Array; limits: RequestLimits }> {
  const text = await readInputText(ref, limits.maxPayloadBytes);
  const trimmed = text.trimStart();
  if (!trimmed.startsWith('[')) return { payload: Buffer.from(trimmed), limits };
  const payload = Buffer.from(`{"id":"cli","input":${trimmed}}`);
  return { payload, limits: { ...limits, maxPayloadBytes: limits.maxPayloadBytes + payload.byteLength - Buffer.byteLength(trimmed) } };
}

/** One limit from one place (issue 13, defect 7): the service config's, defaults or --config's. */
async function requestLimits(configFile: string | undefined): Promise<RequestLimits> {
  if (configFile === undefined) return DEFAULT_LIMITS;
  const c = await loadServiceConfig(configFile);
  return { maxPayloadBytes: c.limits.maxPayloadBytes, maxBatch: c.limits.maxBatch };
}

/** A local command's errors must not point at MQTT topics (issue 13, defect 9). */
const LOCAL_HINTS = {
  EDGE_ERR_UNKNOWN_MODEL: 'list the models with `edge-infer plan`; the id is the folder name under models/',
  EDGE_ERR_BAD_TENSOR: "check dtype, shape and values against the model's inputs in models/<id>/model.json or `edge-infer plan --json` (no NaN or Infinity)",
  EDGE_ERR_MODEL_UNAVAILABLE: 'the model could not be loaded on this profile; `edge-infer plan` shows why',
  EDGE_ERR_TOO_LARGE: 'the input is over limits.maxPayloadBytes / limits.maxBatch (the same limits the service applies); split it, or raise them in the config passed with --config',
} as const;

export const command: Command = {
  name: 'infer',
  summary: 'run one local inference through the path the service uses (plan, verify, budgeted load, queue, worker)',
  usage: '<model> --input <file.json|-> | --image <file.jpg|png> [--profile <id|file>] [--models <dir>] [--backend auto|native|wasm] [--budget-mb N] [--variant <id>] [--config <file>] [--json]',
  examples: ['edge-infer infer digits --input models/digits/eval/sample-3.json', 'edge-infer infer fashion --image shirt.jpg', 'echo \'{"id": "m1", "text": "win a free prize now"}\' | edge-infer infer spam --input - --json'],
  hints: LOCAL_HINTS,
  options: {
    ...SETUP_OPTIONS,
    config: { type: 'string', short: 'c', help: 'service config whose limits (limits.maxPayloadBytes, limits.maxBatch) apply, as in the service; default: the defaults (1 MiB, 64)' },
    input: { type: 'string', short: 'i', help: 'request JSON ({"id","input":[...]}, {"id","inputs":{...}} or {"id","text":"..."} for text models), a bare array, or - for stdin' },
    variant: { type: 'string', help: "force this variant instead of the planner's choice" },
    image: IMAGE_OPTION,
  },
  async run(ctx) {
    const model = onePositional(ctx.positionals, '<model>');
    const inputRef = str(ctx.values, 'input');
    const imageRef = str(ctx.values, 'image');
    if (inputRef === undefined && imageRef === undefined) throw new EdgeError('EDGE_ERR_USAGE', 'missing --input <file.json|-> or --image <file>');
    const baseLimits = await requestLimits(str(ctx.values, 'config'));
    const { payload, limits } = imageRef !== undefined ? { payload: Buffer.from(JSON.stringify(await imageRequestBody(imageRef, inputRef !== undefined))), limits: baseLimits } : await readInput(inputRef ?? '-', baseLimits);
    const setup = await setupFromFlags(ctx);
    const loaded = setup.manifests.find((m) => m.manifest.id === model);
    if (!loaded) {
      throw new EdgeError('EDGE_ERR_UNKNOWN_MODEL', `no model "${model}" in ${setup.modelsDir}`, { details: { model, known: setup.manifests.map((m) => m.manifest.id) } });
    }
    const forced = str(ctx.values, 'variant');
    if (forced !== undefined && !loaded.manifest.variants.some((v) => v.id === forced)) {
      throw new EdgeError('EDGE_ERR_VARIANT_NOT_FOUND', `model "${model}" has no variant "${forced}"`, { details: { allowed: loaded.manifest.variants.map((v) => v.id) } });
    }
    const preprocess = (await createPreprocessor(loaded)) ?? undefined;
    const decoded = decodeRequest({ model, payload, specs: requestInputs(loaded.manifest), limits, preprocess });
    if (!decoded.ok) throw decoded.error;

    const manifest = forced === undefined ? loaded : { ...loaded, manifest: { ...loaded.manifest, variants: loaded.manifest.variants.filter((v) => v.id === forced) } };
    const engine = createEngine(setup.backend);
    const runtime = new ModelRuntime({ profile: setup.profile, manifests: [manifest], engine, caps: setup.caps, budgetMB: setup.budget.budgetMB, only: [model], log: ctx.log });
    try {
      const plan = await runtime.start();
      const t0 = performance.now();
      const outcome = await runtime.infer(model, decoded.request.id, decoded.request.inputs, decoded.request.extras);
      const totalMs = performance.now() - t0;
      const body = resultBody(decoded.request.id, model, outcome, { queue: outcome.queueMs, inference: outcome.inferenceMs, total: totalMs });
      const status = runtime.status()[0];
      if (ctx.json) {
        ctx.out(JSON.stringify({ ...body, backend: engine.kind, profile: setup.profile.id, load: status, plan: plan.models[0] }, null, 2));
      } else {
        if (body.top && body.top.length > 0) {
          const best = body.top[0];
          ctx.out(`${model}: ${best?.label} (p=${best?.score.toFixed(3)})`);
          ctx.out(`top: ${body.top.map((c) => `${c.label}=${c.score.toFixed(3)}`).join('  ')}`);
        }
        for (const [name, t] of Object.entries(body.outputs)) {
          const shown = t.data.length > 16 ? `${t.data.slice(0, 16).join(', ')}, ...` : t.data.join(', ');
          ctx.out(`${name} ${t.dtype}[${t.shape.join(',')}]: ${shown}`);
        }
        ctx.out(`variant: ${outcome.variant} (${setup.backend}, profile ${setup.profile.id})  load ${status?.loadMs?.toFixed(1)} ms  inference ${outcome.inferenceMs.toFixed(3)} ms  total ${totalMs.toFixed(3)} ms`);
      }
      return 0;
    } finally {
      await runtime.close(1000);
      await engine.close();
    }
  },
};
