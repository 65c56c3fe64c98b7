/**
 * The flags every command that plans or loads models shares (--profile, --models, --backend,
 * --budget-mb), declared once and turned into a resolved Setup once.
 */
import { parseBackendFlag, parseBudgetFlag, resolveSetup, type Setup } from '../service/setup.js';
import type { CommandContext, OptionSpec } from './command.js';
import { str } from './values.js';

export const SETUP_OPTIONS: Record<string, OptionSpec> = {
  profile: { type: 'string', help: 'device profile id (device-profiles/<id>.json) or file; default: detect this host' },
  models: { type: 'string', help: 'models folder; default: the bundled models/' },
  backend: { type: 'string', help: "auto | native | wasm; default: the profile's" },
  'budget-mb': { type: 'string', help: 'memory budget ceiling in MB; default: the profile, cgroup and MemAvailable limits' },
};

/** Resolves profile, manifests, backend and budget from the shared flags. Throws EDGE_ERR_USAGE / config errors. */
export function setupFromFlags(ctx: CommandContext, backendFor: 'host' | 'profile' = 'host'): Promise<Setup> {
  return resolveSetup({ packageRoot: ctx.packageRoot, profile: str(ctx.values, 'profile'), modelsDir: str(ctx.values, 'models'), budgetMB: parseBudgetFlag(str(ctx.values, 'budget-mb')), backend: parseBackendFlag(str(ctx.values, 'backend')), backendFor });
}
