import { homedir } from 'node:os';
import path from 'node:path';
import { readCalibration } from '../../budget/calibration-file.js';
import { readJsonFile } from '../../config/json-file.js';
import { EdgeError, ERROR_DEFS, EX_CONFIG } from '../../errors.js';
import { parseCalibration } from '../../planner/calibration.js';
import type { Calibration } from '../../planner/types.js';
import { VerifiedFiles } from '../../repository/verified-files.js';
import { verifiedPlan } from '../verified-plan.js';
import { formatPlan } from '../../planner/format-plan.js';
import { SETUP_OPTIONS, setupFromFlags } from '../setup-flags.js';
import { loadServiceConfig, modelConfig } from '../../config/service-config.js';
import type { Command } from '../command.js';
import { noPositionals, str } from '../values.js';
import { unknownModelIds } from '../config-models.js';

export const command: Command = {
  name: 'plan',
  summary: 'show which variant of each model this board would run, and why every other variant was not chosen',
  usage: '[--profile <id|file>] [--models <dir>] [--budget-mb N] [--backend auto|native|wasm] [--config <file>] [--state-dir <dir> | --calibration <file>] [--json]   (exit 78 when a model fits nowhere or a manifest is refused)',
  options: {
    ...SETUP_OPTIONS,
    config: { type: 'string', help: 'service config file (for model priorities); optional' },
    'state-dir': { type: 'string', help: 'use <dir>/calibration-<profile>-<backend>.json (from `bench --calibrate`) for measured figures' },
    calibration: { type: 'string', help: 'a calibration file to plan with (measured figures instead of estimates)' },
  },
  examples: ['edge-infer plan --profile rpi4-2gb', 'edge-infer plan --profile rpi-zero-2w --json', 'edge-infer plan --budget-mb 64 --state-dir /var/lib/edge-infer'],
  async run(ctx) {
    noPositionals(ctx.positionals);
    // Plan for the board the profile names (a Pi Zero plans WASM even when asked from x86).
    const setup = await setupFromFlags(ctx, 'profile');
    const configFile = str(ctx.values, 'config');
    const config = configFile === undefined ? null : await loadServiceConfig(configFile);
    if (config !== null) {
      // A typo in config.models (issue 13, defect 8) is said, not planned around silently.
      for (const id of unknownModelIds(
        Object.keys(config.models),
        setup.manifests.map((m) => m.manifest.id),
      )) {
        process.stderr.write(`edge-infer: warning: config.models.${id} names no model in ${setup.modelsDir}; fix the id or remove the entry\n`);
      }
    }
    const priorities: Record<string, number> = {};
    for (const m of setup.manifests) priorities[m.manifest.id] = config ? modelConfig(config, m.manifest.id).priority : 0;
    const calibration = await loadCalibration(str(ctx.values, 'state-dir'), str(ctx.values, 'calibration'), setup.profile.id, setup.backend);
    // The variants it names are verified (sha256, size; cached by size and mtime), so plan and run agree.
    const files = await VerifiedFiles.open(VerifiedFiles.defaultFile(process.env, homedir()));
    const plan = await verifiedPlan({ profile: setup.profile, manifests: setup.manifests.map((m) => m.manifest), budgetMB: setup.budget.budgetMB, backend: setup.caps, priorities, ...(calibration ? { calibration } : {}) }, setup.manifests, files);
    const manifestErrors = setup.manifestErrors.map((e) => ({ code: e.code, message: e.message }));
    if (ctx.json) {
      ctx.out(JSON.stringify({ profile: setup.profile.id, profileSource: setup.profileSource, backend: setup.backend, budget: setup.budget, plan, manifestErrors }, null, 2));
    } else {
      ctx.out(`profile: ${setup.profile.id} (${setup.profile.board}; ${setup.profileSource})`);
      ctx.out(`backend: ${setup.backend}    budget: ${setup.budget.budgetMB} MB (${setup.budget.detail})`);
      const wasmNote = setup.caps.wasmMemory ? '; WASM memory: x86 = measured on the x86 reference machine (README, "The Pi Zero 2 W: WASM memory")' : '';
      ctx.out(calibration ? `figures: measured where the calibration of ${calibration.measuredAt} has an entry, estimated otherwise${wasmNote}\n` : `figures: estimated (no calibration; \`edge-infer bench --calibrate\` measures them)${wasmNote}\n`);
      ctx.out(formatPlan(plan));
      for (const e of manifestErrors) ctx.out(`\nrefused manifest: ${e.code}: ${e.message}`);
    }
    const unplanned = plan.models.filter((m) => m.chosen === null);
    if (unplanned.length === 0 && manifestErrors.length === 0) return 0;
    // Exit 78 names its first reason on stderr too (for a caller whose stdout is a closed pipe or a file).
    if (!ctx.json) {
      const code = unplanned[0]?.error?.code ?? manifestErrors[0]?.code ?? 'EDGE_ERR_NO_VARIANT_FITS';
      const what = [...(unplanned.length > 0 ? [`no variant fits for ${unplanned.map((m) => m.model).join(', ')}`] : []), ...(manifestErrors.length > 0 ? [`${manifestErrors.length} manifest(s) refused`] : [])].join('; ');
      process.stderr.write(`edge-infer: ${code}: ${what}; the plan above says why\n  hint: ${ERROR_DEFS[code].hint}\n`);
    }
    return EX_CONFIG;
  },
};

/**
 * The calibration to plan with: --calibration <file>, else --state-dir's file for this profile and
 * backend (null when absent), else none. Throws EDGE_ERR_USAGE for both flags,
 * EDGE_ERR_CALIBRATION_INVALID for an unreadable or invalid file or one for another profile.
 */
async function loadCalibration(stateDir: string | undefined, file: string | undefined, profile: string, backend: 'native' | 'wasm'): Promise<Calibration | null> {
  if (stateDir !== undefined && file !== undefined) throw new EdgeError('EDGE_ERR_USAGE', 'give --state-dir or --calibration, not both');
  if (stateDir !== undefined) return readCalibration(path.resolve(stateDir), profile, backend);
  if (file === undefined) return null;
  const cal = parseCalibration(await readJsonFile(path.resolve(file), 'EDGE_ERR_CALIBRATION_INVALID'), file);
  if (cal.profile !== profile) {
    throw new EdgeError('EDGE_ERR_CALIBRATION_INVALID', `${file} holds figures for profile ${cal.profile}, not ${profile}`, { details: { file, profile: cal.profile } });
  }
  return cal;
}
