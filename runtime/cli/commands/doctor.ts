/**
 * `edge-infer doctor`: a checklist of what the service needs on this board, with a fix for every
 * failure: Node version, the backend loads and runs a bundled model, the profile detected and why,
 * the budget and what limits it, the broker reachable with the configured credentials and TLS, the
 * state directory writable, the clock sane, temperature and throttling readable, the systemd unit.
 *
 * Exit: 0 when no check failed (warnings and skips do not count); EDGE_ERR_DOCTOR_FAILED's exit (1)
 * otherwise; 78 when the config file itself is invalid (nothing else can be checked then).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadServiceConfig, type ServiceConfig } from '../../config/service-config.js';
import { ERROR_DEFS, EdgeError, asEdgeError } from '../../errors.js';
import { createProbeFs, SystemProbes } from '../../telemetry/system-probes.js';
import { resolveSetup } from '../../service/setup.js';
import type { Command } from '../command.js';
import { positiveInt, str } from '../values.js';
import { anyFailed, failedCheck, formatChecklist, type CheckResult } from '../doctor/checklist.js';
import { brokerCheck } from '../doctor/broker-check.js';
import { clockCheck, mtimeMs, nodeCheck, stateDirCheck, systemdCheck, temperatureCheck, throttlingCheck, type UnitReader } from '../doctor/host-checks.js';
import { backendCheck, budgetCheck, profileCheck } from '../doctor/model-checks.js';

/** The packaged service's config (the .deb's conffile); used when --config is not given and it exists. */
export const PACKAGED_CONFIG = '/etc/edge-infer/config.json';

export const CHECK_IDS = ['node', 'profile', 'budget', 'backend', 'temperature', 'throttling', 'broker', 'state-dir', 'clock', 'systemd'] as const;

function parseOnly(v: string | undefined): Set<string> | null {
  if (v === undefined) return null;
  const ids = v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
  const unknown = ids.filter((x) => !(CHECK_IDS as readonly string[]).includes(x));
  if (ids.length === 0 || unknown.length > 0) throw new EdgeError('EDGE_ERR_USAGE', `--only takes ${CHECK_IDS.join(', ')} (got "${v}")`);
  return new Set(ids);
}

const readUnit: UnitReader = async () => {
  if (!existsSync('/run/systemd/system')) return null;
  try {
    const { stdout } = await promisify(execFile)('systemctl', ['show', 'edge-infer.service', '-p', 'LoadState,ActiveState,SubState,UnitFileState,Result'], { timeout: 5000 });
    return Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  } catch {
    return null;
  }
};

export const command: Command = {
  name: 'doctor',
  summary: 'check this board can run the service (Node, backend, profile, budget, broker, state dir, clock, temperature, systemd); a fix for each failure',
  usage: '[--config <file>] [--profile <id|file>] [--models <dir>] [--state-dir <dir>] [--timeout-ms N] [--only <checks>] [--json]',
  examples: ['edge-infer doctor', 'edge-infer doctor --config /etc/edge-infer/config.json --json'],
  options: {
    config: { type: 'string', help: `service config file (default: ${PACKAGED_CONFIG} when it exists, else the defaults)` },
    profile: { type: 'string', help: "device profile id or file (default: the config's, else detected from the host)" },
    models: { type: 'string', help: "models folder (default: the config's, else the bundled models/)" },
    'state-dir': { type: 'string', help: "state folder to check (default: the config's stateDir: $STATE_DIRECTORY or /var/lib/edge-infer)" },
    'timeout-ms': { type: 'string', help: 'broker connect timeout, ms (default 5000)' },
    only: { type: 'string', help: `run only these checks, comma-separated: ${CHECK_IDS.join(', ')} (default: all)` },
  },
  async run(ctx) {
    const only = parseOnly(str(ctx.values, 'only'));
    const want = (id: string): boolean => only === null || only.has(id);
    const results: CheckResult[] = want('node') ? [nodeCheck()] : [];
    const given = str(ctx.values, 'config');
    const configFile = given !== undefined ? path.resolve(given) : existsSync(PACKAGED_CONFIG) ? PACKAGED_CONFIG : undefined;
    // An invalid config is a caller mistake: main.ts reports it with exit 78 (EDGE_ERR_CONFIG_INVALID).
    const config: ServiceConfig = await loadServiceConfig(configFile);
    const profile = str(ctx.values, 'profile') ?? config.profile;
    const modelsDir = str(ctx.values, 'models') ?? config.modelsDir;
    if (['profile', 'budget', 'backend', 'temperature', 'throttling'].some(want)) {
      try {
        const setup = await resolveSetup({ packageRoot: ctx.packageRoot, profile, modelsDir });
        if (want('profile')) results.push(profileCheck(setup));
        if (want('budget')) results.push(budgetCheck(setup));
        if (want('backend')) results.push(await backendCheck(setup, ctx.log));
        const probes = new SystemProbes({ fs: createProbeFs(process.env['EDGE_INFER_SYSFS_ROOT'] ?? '/') });
        if (want('temperature')) results.push(await temperatureCheck(probes, setup.profile));
        if (want('throttling')) results.push(await throttlingCheck(probes, /raspberry pi/i.test(setup.detection?.facts.deviceTreeModel ?? setup.profile.board)));
      } catch (e) {
        results.push(failedCheck('profile', 'device profile', asEdgeError(e)));
      }
    }
    if (want('broker')) results.push(await brokerCheck(config, positiveInt(ctx.values, 'timeout-ms', 5000)));
    if (want('state-dir')) results.push(await stateDirCheck(str(ctx.values, 'state-dir') ?? config.stateDir));
    if (want('clock')) {
      results.push(clockCheck({ nowMs: Date.now(), builtAtMs: await mtimeMs(path.join(ctx.packageRoot, 'dist/runtime/cli/main.js')), synchronized: existsSync('/run/systemd/timesync') ? existsSync('/run/systemd/timesync/synchronized') : null }));
    }
    if (want('systemd')) results.push(await systemdCheck(readUnit));
    const failed = anyFailed(results);
    if (ctx.json) {
      ctx.out(JSON.stringify({ ok: !failed, config: configFile ?? null, checks: results }, null, 2));
    } else {
      ctx.out(`edge-infer doctor (config: ${configFile ?? 'defaults'})\n`);
      ctx.out(formatChecklist(results));
    }
    return failed ? ERROR_DEFS.EDGE_ERR_DOCTOR_FAILED.exit : 0;
  },
};
