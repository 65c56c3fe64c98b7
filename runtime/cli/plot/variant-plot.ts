/**
 * `eval --plot`: turns an eval report into a Pareto chart and, for a model id, marks the variant
 * the planner chooses for a profile (the whole models folder is planned, as `plan` does, so a
 * shared budget is taken into account). Writes the SVG atomically (temp file + rename).
 *
 * Errors: EDGE_ERR_USAGE (no latency measured: --runs 0; a plot file that cannot be written, named
 * with the OS reason); profile and manifest errors as `plan` raises them.
 */
import { rename, writeFile } from 'node:fs/promises';
import { EdgeError } from '../../errors.js';
import { planModels } from '../../planner/plan.js';
import { resolveSetup } from '../../service/setup.js';
import type { EvalReport } from '../commands/eval.js';
import { renderParetoSvg, type ParetoChart } from './pareto-svg.js';

export interface PlotOptions {
  file: string;
  packageRoot: string;
  modelsDir: string;
  /** Profile whose plan is marked; undefined: no mark. */
  profile: string | undefined;
  runs: number;
}

/** The variant the planner chooses for `model` under `profile` (its own backend), or null. */
export async function plannedVariant(packageRoot: string, modelsDir: string, profile: string, model: string): Promise<string | null> {
  const setup = await resolveSetup({ packageRoot, profile, modelsDir, budgetMB: undefined, backend: undefined, backendFor: 'profile' });
  const plan = planModels({ profile: setup.profile, manifests: setup.manifests.map((m) => m.manifest), budgetMB: setup.budget.budgetMB, backend: setup.caps });
  return plan.models.find((m) => m.model === model)?.chosen?.variant ?? null;
}

export function chartOf(report: EvalReport, runs: number, planned: ParetoChart['planned']): ParetoChart {
  const labelled = report.variants.every((v) => v.quality.accuracy !== null);
  return {
    title: `${report.model ?? report.variants[0]?.id ?? 'model'}: variants (${report.evalCount} eval samples)`,
    qualityLabel: labelled ? 'accuracy on the eval set' : `top-1 agreement with ${report.reference ?? 'the reference'}`,
    latencyNote: `${report.backend}, ${report.threads} thread${report.threads === 1 ? '' : 's'}, median of ${runs} runs in session.run`,
    points: report.variants.map((v) => ({ id: v.id, latencyMs: v.latency.find((l) => l.batch === 1)?.medianMs ?? Number.NaN, quality: (labelled ? v.quality.accuracy : v.quality.agreement) ?? 0, bytes: v.model.bytes })),
    ...(planned !== undefined ? { planned } : {}),
  };
}

export async function writePlot(report: EvalReport, o: PlotOptions): Promise<{ file: string; planned: string | null }> {
  if (o.runs <= 0) throw new EdgeError('EDGE_ERR_USAGE', '--plot needs latency figures: do not pass --runs 0');
  let planned: string | null = null;
  if (o.profile !== undefined && report.model !== null) planned = await plannedVariant(o.packageRoot, o.modelsDir, o.profile, report.model);
  const svg = renderParetoSvg(chartOf(report, o.runs, o.profile !== undefined && report.model !== null ? { variant: planned, profile: o.profile } : undefined));
  const tmp = `${o.file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, svg);
    await rename(tmp, o.file);
  } catch (e) {
    throw new EdgeError('EDGE_ERR_USAGE', `cannot write the plot to ${o.file}: ${(e as Error).message}`, { details: { file: o.file }, cause: e });
  }
  return { file: o.file, planned };
}
