/**
 * `edge-infer eval <model-id|file.onnx>`: accuracy on the eval set, top-1 agreement with the
 * reference, size, sha256, params/MACs/ops and batch-1 latency (median of repeated runs through the
 * service's engine) of every variant of a model, or of one ONNX file. `--update-manifest` writes
 * the measured figures into model.json (optimize/manifest-update.ts), after checking the result
 * against the manifest schema. Progress goes to stderr.
 *
 * Errors: EDGE_ERR_USAGE (bad flags, --eval missing for a file, --update-manifest with a file),
 * EDGE_ERR_MODEL_NOT_FOUND (no <models>/<id>/model.json), EDGE_ERR_MANIFEST_INVALID (manifest, or
 * the updated manifest, fails the schema: nothing is written), EDGE_ERR_VARIANT_NOT_FOUND,
 * EDGE_ERR_EVAL_SET_INVALID (missing or bad eval set), EDGE_ERR_FILE_MISSING / EDGE_ERR_PATH_ESCAPE
 * (variant file), EDGE_ERR_ONNX_PARSE (not ONNX), and the engine's load / inference errors.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EdgeError } from '../../errors.js';
import { readEvalSet, type EvalSet } from '../../optimize/eval-set.js';
import { modelFigures, qualityFigures, type LatencyFigure, type ModelFigures, type ModelMeasurer, type QualityFigures } from '../../optimize/evaluate.js';
import { applyVariantUpdates, formatManifest, withPlaceholders, type VariantUpdate } from '../../optimize/manifest-update.js';
import { readOnnx } from '../../optimize/onnx-io.js';
import { resolveVariantFile } from '../../repository/integrity.js';
import { checkManifest, findVariant, MANIFEST_FILE } from '../../repository/manifest.js';
import { relativePathProblem } from '../../repository/manifest-checks.js';
import type { LoadedManifest, VariantManifest } from '../../repository/types.js';
import type { Command } from '../command.js';
import { EngineMeasurer } from '../engine-measurer.js';
import { readInputBytes, writeOutputFile } from '../files.js';
import { parseBackendFlag } from '../../service/setup.js';
import { onePositional, positiveInt, str } from '../values.js';
import { formatEvalReport } from './eval-format.js';

export interface VariantEval {
  id: string;
  file: string;
  precision: string | null;
  model: ModelFigures;
  quality: QualityFigures;
  latency: LatencyFigure[];
  /** Manifest fields whose stored value differs from the measured one (empty: the manifest is reproduced). */
  differs: string[];
}

export interface EvalReport {
  model: string | null;
  reference: string | null;
  evalSet: string;
  evalCount: number;
  backend: string;
  threads: number;
  variants: VariantEval[];
  /** model.json written, or null. */
  manifestUpdated: string | null;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function nonNegativeInt(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new EdgeError('EDGE_ERR_USAGE', `--${name} must be a non-negative integer (got "${v}")`);
  return n;
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (e) {
    throw new EdgeError('EDGE_ERR_FILE_MISSING', `cannot read ${file}`, { details: { file }, cause: e });
  }
}

/** Reads and checks <modelsDir>/<id>/model.json; variants not yet measured are accepted (placeholders). */
async function loadForEval(modelsDir: string, id: string): Promise<{ loaded: LoadedManifest; doc: unknown }> {
  if (!ID.test(id)) throw new EdgeError('EDGE_ERR_USAGE', `"${id}" is neither a model id nor an .onnx file`);
  const file = path.resolve(modelsDir, id, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new EdgeError('EDGE_ERR_MODEL_NOT_FOUND', `no model "${id}": cannot read ${file}`, { details: { model: id, file }, cause: e });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new EdgeError('EDGE_ERR_MANIFEST_INVALID', `${file} is not JSON`, { details: { file }, cause: e });
  }
  const manifest = checkManifest(withPlaceholders(doc), file);
  if (manifest.id !== id) throw new EdgeError('EDGE_ERR_MANIFEST_INVALID', `${file}: id "${manifest.id}" must equal its folder name "${id}"`, { details: { file } });
  return { loaded: { manifest, dir: path.dirname(file), file }, doc };
}

async function evalSetOf(loaded: LoadedManifest): Promise<{ set: EvalSet; file: string }> {
  const e = loaded.manifest.eval;
  if (e === undefined) throw new EdgeError('EDGE_ERR_EVAL_SET_INVALID', `${loaded.file} declares no eval set`, { details: { file: loaded.file } });
  const problem = relativePathProblem(e.file);
  if (problem !== null) throw new EdgeError('EDGE_ERR_PATH_ESCAPE', `eval file "${e.file}" ${problem}`, { details: { file: loaded.file } });
  const file = path.join(loaded.dir, e.file);
  return { set: await readEvalSet(file), file };
}

function differences(v: VariantManifest, m: ModelFigures, q: QualityFigures): string[] {
  const d: string[] = [];
  if (v.sha256.toLowerCase() !== m.sha256) d.push('sha256');
  if (v.bytes !== m.bytes) d.push('bytes');
  if (v.params !== m.params) d.push('params');
  if (v.macs !== m.macs && m.macsUnknown.length === 0) d.push('macs');
  if (JSON.stringify(v.ops) !== JSON.stringify(m.ops)) d.push('ops');
  if (v.precision === 'mixed' && JSON.stringify(v.layerBits) !== JSON.stringify(m.layerBits)) d.push('layerBits');
  if (v.quality.accuracy !== q.accuracy) d.push('quality.accuracy');
  if (v.quality.agreement !== q.agreement) d.push('quality.agreement');
  if (v.quality.evalCount !== q.evalCount) d.push('quality.evalCount');
  return d;
}

interface Measured {
  model: ModelFigures;
  predictions: number[];
  latency: LatencyFigure[];
}

async function measureFile(measurer: ModelMeasurer, file: string, bytes: Uint8Array, set: EvalSet, batches: number[], runs: number): Promise<Measured> {
  const model = modelFigures(bytes, readOnnx(bytes));
  const layout = { ...(set.shape ? { shape: set.shape } : {}), ...(set.sequence ? { sequence: set.sequence } : {}) };
  const r = await measurer.measure(file, bytes, set.inputs, { batches: runs > 0 ? batches : [], runs }, layout);
  return { model, predictions: r.predictions, latency: r.latency };
}

export interface EvalOptions {
  variant?: string;
  modelsDir: string;
  updateManifest: boolean;
  runs: number;
  /** Batch sizes to time (always includes 1). */
  batches: number[];
  progress: (message: string) => void;
}

/** Evaluates every variant of a model (or one). See the module comment for errors. */
export async function evalModel(id: string, measurer: ModelMeasurer, opts: EvalOptions): Promise<EvalReport> {
  const { loaded, doc } = await loadForEval(opts.modelsDir, id);
  const m = loaded.manifest;
  const { set, file: evalFile } = await evalSetOf(loaded);
  const reference = findVariant(m, m.reference);
  const targets = opts.variant === undefined ? m.variants : [findVariant(m, opts.variant)];
  const order = [reference, ...targets.filter((v) => v.id !== reference.id)];
  let refPredictions: number[] | undefined;
  const results: VariantEval[] = [];
  for (const [i, v] of order.entries()) {
    const wanted = targets.includes(v);
    const file = await resolveVariantFile(loaded, v);
    opts.progress(`${m.id}/${v.id} (${i + 1}/${order.length}): ${wanted && opts.runs > 0 ? `accuracy and latency (${opts.runs} runs at batch ${opts.batches.join(', ')})` : 'accuracy'}`);
    const r = await measureFile(measurer, file, await readBytes(file), set, wanted ? opts.batches : [], wanted ? opts.runs : 0);
    refPredictions ??= r.predictions;
    if (!wanted) continue;
    const quality = qualityFigures(r.predictions, set.labels, refPredictions);
    results.push({ id: v.id, file: v.file, precision: v.precision, model: r.model, quality, latency: r.latency, differs: differences(v, r.model, quality) });
  }
  let manifestUpdated: string | null = null;
  if (opts.updateManifest) {
    const updates: VariantUpdate[] = results.map((r) => ({ id: r.id, model: r.model, quality: { ...r.quality, agreement: r.quality.agreement ?? 1 } }));
    const next = applyVariantUpdates(doc, updates);
    checkManifest(next, loaded.file);
    // Atomic, and a full or read-only disk is EDGE_ERR_OUTPUT_FILE with the temporary file removed.
    await writeOutputFile(loaded.file, Buffer.from(formatManifest(next)), loaded.file);
    manifestUpdated = loaded.file;
    opts.progress(`wrote ${loaded.file}`);
  }
  return { model: m.id, reference: m.reference, evalSet: evalFile, evalCount: set.labels.length, backend: measurer.backend, threads: measurer.threads, variants: results, manifestUpdated };
}

/** Evaluates one ONNX file on `evalFile`, with agreement against `referenceFile` when given. */
export async function evalFile(file: string, evalFile: string, referenceFile: string | undefined, measurer: ModelMeasurer, opts: Pick<EvalOptions, 'runs' | 'batches' | 'progress'>): Promise<EvalReport> {
  const set = await readEvalSet(evalFile);
  const abs = path.resolve(file);
  const bytes = await readInputBytes(abs);
  readOnnx(bytes);
  let refPredictions: number[] | undefined;
  if (referenceFile !== undefined) {
    opts.progress(`reference ${referenceFile}: accuracy`);
    const ref = path.resolve(referenceFile);
    refPredictions = (await measureFile(measurer, ref, await readInputBytes(ref), set, [], 0)).predictions;
  }
  opts.progress(`${file}: accuracy${opts.runs > 0 ? ` and latency (${opts.runs} runs at batch ${opts.batches.join(', ')})` : ''}`);
  const r = await measureFile(measurer, abs, bytes, set, opts.batches, opts.runs);
  const quality = qualityFigures(r.predictions, set.labels, refPredictions);
  return { model: null, reference: referenceFile ?? null, evalSet: evalFile, evalCount: set.labels.length, backend: measurer.backend, threads: measurer.threads, variants: [{ id: path.basename(file), file, precision: null, model: r.model, quality, latency: r.latency, differs: [] }], manifestUpdated: null };
}

export const command: Command = {
  name: 'eval',
  summary: "measure accuracy, agreement, size, sha256, params/MACs/ops and latency of a model's variants or of one ONNX file",
  usage: '<model-id|file.onnx> [--variant V] [--models <dir>] [--update-manifest] [--runs N] [--batch N] [--threads N] [--backend auto|native|wasm] [--eval <eval.json> [--reference <file.onnx>]] [--plot <file.svg> [--profile <id>]] [--json]',
  examples: ['edge-infer eval digits', 'edge-infer eval digits --variant student-int8 --runs 50 --json', 'edge-infer eval model-int8.onnx --eval eval.json --reference model.onnx'],
  options: {
    variant: { type: 'string', help: "only this variant (agreement is still against the manifest's reference)" },
    models: { type: 'string', help: 'models folder; default: the bundled models/' },
    'update-manifest': { type: 'boolean', help: 'write the measured figures into model.json (refused if the result fails the schema)' },
    runs: { type: 'string', help: 'timed runs per batch size; 0 skips latency (default 200)' },
    batch: { type: 'string', help: 'also time this batch size besides 1, e.g. 64 (default: batch 1 only)' },
    threads: { type: 'string', help: 'intra-op threads of the session (default 1)' },
    backend: { type: 'string', help: 'auto | native | wasm (default auto)' },
    eval: { type: 'string', help: 'with an .onnx file: labelled eval set {"inputs","labels"} (file or folder with eval.json); required' },
    reference: { type: 'string', help: 'with an .onnx file: model to measure top-1 agreement against' },
    plot: { type: 'string', help: 'also write a Pareto chart (SVG) of the variants: quality vs batch-1 latency, area = bytes' },
    profile: { type: 'string', help: 'with --plot and a model id: ring the variant the plan chooses for this profile' },
  },
  async run(ctx) {
    const target = onePositional(ctx.positionals, '<model-id|file.onnx>');
    const runs = nonNegativeInt(str(ctx.values, 'runs'), 'runs', 200);
    const extra = str(ctx.values, 'batch') === undefined ? undefined : positiveInt(ctx.values, 'batch', 1);
    const batches = extra === undefined || extra === 1 ? [1] : [1, extra];
    const threads = positiveInt(ctx.values, 'threads', 1);
    const backend = parseBackendFlag(str(ctx.values, 'backend')) ?? 'auto';
    const update = ctx.values['update-manifest'] === true;
    const isFile = target.toLowerCase().endsWith('.onnx');
    if (str(ctx.values, 'profile') !== undefined && str(ctx.values, 'plot') === undefined) throw new EdgeError('EDGE_ERR_USAGE', '--profile is for --plot (which variant the plan chooses)');
    if (str(ctx.values, 'plot') !== undefined && runs === 0) throw new EdgeError('EDGE_ERR_USAGE', '--plot needs latency figures: do not pass --runs 0');
    const evalRef = str(ctx.values, 'eval');
    if (isFile && evalRef === undefined) throw new EdgeError('EDGE_ERR_USAGE', 'evaluating an .onnx file needs --eval <eval.json>');
    if (isFile && update) throw new EdgeError('EDGE_ERR_USAGE', '--update-manifest needs a model id, not a file');
    if (!isFile && (evalRef !== undefined || str(ctx.values, 'reference') !== undefined)) throw new EdgeError('EDGE_ERR_USAGE', "--eval and --reference are for .onnx files; a model uses its manifest's eval set and reference");
    const progress = (m: string): void => {
      process.stderr.write(`eval: ${m}\n`);
    };
    const measurer = new EngineMeasurer({ backend, threads });
    try {
      const report = isFile
        ? await evalFile(target, evalRef ?? '', str(ctx.values, 'reference'), measurer, { runs, batches, progress })
        : await evalModel(target, measurer, { modelsDir: str(ctx.values, 'models') ?? path.join(ctx.packageRoot, 'models'), updateManifest: update, runs, batches, progress, ...(str(ctx.values, 'variant') === undefined ? {} : { variant: str(ctx.values, 'variant') as string }) });
      ctx.out(ctx.json ? JSON.stringify(report, null, 2) + '\n' : formatEvalReport(report));
      const plot = str(ctx.values, 'plot');
      if (plot !== undefined) {
        const { writePlot } = await import('../plot/variant-plot.js');
        const w = await writePlot(report, { file: plot, packageRoot: ctx.packageRoot, modelsDir: str(ctx.values, 'models') ?? path.join(ctx.packageRoot, 'models'), profile: str(ctx.values, 'profile'), runs });
        progress(`wrote ${w.file}${w.planned === null ? '' : ` (planned: ${w.planned})`}`);
      }
      return 0;
    } finally {
      await measurer.close();
    }
  },
};
