import { performance } from 'node:perf_hooks';
import { createEngine } from '../../backend/select-engine.js';
import { EdgeError } from '../../errors.js';
import { ModelRuntime } from '../../service/model-runtime.js';
import { SETUP_OPTIONS, setupFromFlags } from '../setup-flags.js';
import { decodeRequest } from '../../transport/request-codec.js';
import { resultBody } from '../../transport/result-codec.js';
import { DEFAULT_LIMITS } from '../../transport/types.js';
import { createPreprocessor } from '../../preprocess/index.js';
import type { Command } from '../command.js';
import { readInputText } from '../input.js';
import { onePositional, str } from '../values.js';
import { IMAGE_OPTION, imageRequestBody } from '../image-input.js';
import { requestInputs } from '../../service/stream-runner.js';

/** Reads --input: a file or "-" (stdin). A bare JSON array is the shorthand input of a single-input model. */
async function readInput(ref: string): Promise<Uint8Array> {
  const text = await readInputText(ref);
  const trimmed = text.trimStart();
  return Buffer.from(trimmed.startsWith('[') ? `{"id":"cli","input":${trimmed}}` : trimmed);
}

export const command: Command = {
  name: 'infer',
  summary: 'run one local inference through the path the service uses (plan, verify, budgeted load, queue, worker)',
  usage: '<model> --input <file.json|-> | --image <file.jpg|png> [--profile <id|file>] [--variant <id>] [--json]',
  options: {
    ...SETUP_OPTIONS,
    input: { type: 'string', short: 'i', help: 'request JSON ({"id","input":[...]}, {"id","inputs":{...}} or {"id","text":"..."} for text models), a bare array, or - for stdin' },
    variant: { type: 'string', help: 'force this variant instead of the planner\'s choice' },
    image: IMAGE_OPTION,
  },
  async run(ctx) {
    const model = onePositional(ctx.positionals, '<model>');
    const inputRef = str(ctx.values, 'input');
    const imageRef = str(ctx.values, 'image');
    if (inputRef === undefined && imageRef === undefined) throw new EdgeError('EDGE_ERR_USAGE', 'missing --input <file.json|-> or --image <file>');
    const payload = imageRef !== undefined
      ? Buffer.from(JSON.stringify(await imageRequestBody(imageRef, inputRef !== undefined)))
      : await readInput(inputRef ?? '-');
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
    const decoded = decodeRequest({ model, payload, specs: requestInputs(loaded.manifest), limits: DEFAULT_LIMITS, preprocess });
    if (!decoded.ok) throw decoded.error;

    const manifest = forced === undefined ? loaded : { ...loaded, manifest: { ...loaded.manifest, variants: loaded.manifest.variants.filter((v) => v.id === forced) } };
    const engine = createEngine(setup.backend);
    const runtime = new ModelRuntime({
      profile: setup.profile, manifests: [manifest], engine, caps: setup.caps, budgetMB: setup.budget.budgetMB, only: [model], log: ctx.log,
    });
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
