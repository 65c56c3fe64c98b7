import { planModels } from '../../planner/plan.js';
import { formatPlan } from '../../planner/format-plan.js';
import { parseBackendFlag, parseBudgetFlag, resolveSetup } from '../../service/setup.js';
import { loadServiceConfig, modelConfig } from '../../config/service-config.js';
import type { Command } from '../command.js';
import { str } from '../values.js';

export const command: Command = {
  name: 'plan',
  summary: 'show which variant of each model this board would run, and why every other variant was not chosen',
  usage: '[--profile <id|file>] [--models <dir>] [--budget-mb N] [--backend auto|native|wasm] [--json]',
  options: {
    profile: { type: 'string', help: 'device profile id (device-profiles/<id>.json) or file; default: detect this host' },
    models: { type: 'string', help: 'models folder; default: the bundled models/' },
    'budget-mb': { type: 'string', help: 'memory budget ceiling in MB; default: the profile, cgroup and MemAvailable limits' },
    backend: { type: 'string', help: 'auto | native | wasm; default: the profile\'s' },
    config: { type: 'string', help: 'service config file (for model priorities); optional' },
  },
  async run(ctx) {
    const setup = await resolveSetup({
      packageRoot: ctx.packageRoot,
      profile: str(ctx.values, 'profile'),
      modelsDir: str(ctx.values, 'models'),
      budgetMB: parseBudgetFlag(str(ctx.values, 'budget-mb')),
      backend: parseBackendFlag(str(ctx.values, 'backend')),
    });
    const configFile = str(ctx.values, 'config');
    const config = configFile === undefined ? null : await loadServiceConfig(configFile);
    const priorities: Record<string, number> = {};
    for (const m of setup.manifests) priorities[m.manifest.id] = config ? modelConfig(config, m.manifest.id).priority : 0;
    const plan = planModels({
      profile: setup.profile,
      manifests: setup.manifests.map((m) => m.manifest),
      budgetMB: setup.budget.budgetMB,
      backend: setup.caps,
      priorities,
    });
    const manifestErrors = setup.manifestErrors.map((e) => ({ code: e.code, message: e.message }));
    if (ctx.json) {
      ctx.out(JSON.stringify({ profile: setup.profile.id, profileSource: setup.profileSource, backend: setup.backend, budget: setup.budget, plan, manifestErrors }, null, 2));
    } else {
      ctx.out(`profile: ${setup.profile.id} (${setup.profile.board}; ${setup.profileSource})`);
      ctx.out(`backend: ${setup.backend}    budget: ${setup.budget.budgetMB} MB (${setup.budget.detail})\n`);
      ctx.out(formatPlan(plan));
      for (const e of manifestErrors) ctx.out(`\nrefused manifest: ${e.code}: ${e.message}`);
    }
    return plan.models.some((m) => m.chosen === null) || manifestErrors.length > 0 ? 78 : 0;
  },
};
