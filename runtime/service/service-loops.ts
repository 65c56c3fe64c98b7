/**
 * The service's two periodic loops (split out of service.ts): telemetry (always) and the adaptive
 * variant policy (when `adaptive.enabled`), both reading the current runtime through `runtime()` so
 * a reload needs no restart of either. Both run on runtime/loop.ts's startLoop.
 *
 * Contract: `startServiceLoops` starts them and returns their handles; the caller stops both
 * (`stop()` awaits an in-flight tick). Nothing here throws after start: a failed tick is logged.
 */
import type { Logger } from '../log.js';
import type { ServiceConfig } from '../config/service-config.js';
import { createCollector, startTelemetry, type TelemetryLoop } from '../telemetry/collector.js';
import type { ModelSwitch } from '../telemetry/payload.js';
import { SystemProbes, createProbeFs } from '../telemetry/system-probes.js';
import type { TelemetryPayload } from '../telemetry/payload.js';
import { startAdaptiveLoop, type AdaptiveLoop } from './adaptive-loop.js';
import { DEFAULT_ADAPTIVE_LIMITS, type AdaptiveLimits } from './adaptive-policy.js';
import type { ModelRuntime } from './model-runtime.js';
import type { Setup } from './setup.js';

/** Test/diagnostic hook: the probes read /proc and /sys under this folder instead of "/". */
export const SYSFS_ROOT_ENV = 'EDGE_INFER_SYSFS_ROOT';

/** The policy's limits from the profile and the service config. */
export function adaptiveLimits(profile: Setup['profile'], a: ServiceConfig['adaptive']): AdaptiveLimits {
  return {
    ...DEFAULT_ADAPTIVE_LIMITS,
    latencyTargetMs: profile.inference.latencyTargetMs,
    accuracyFloor: profile.inference.accuracyFloor,
    softLimitC: profile.thermal.softLimitC,
    thermalHysteresisC: a.thermalHysteresisC,
    memAvailableMinMB: a.memAvailableMinMB,
    psiSomeAvg10Max: a.psiSomeAvg10Max,
    downWindowMs: a.downWindowS * 1000,
    upWindowMs: a.upWindowS * 1000,
    minLatencySamples: a.minLatencySamples,
  };
}

export interface ServiceLoopsOptions {
  config: ServiceConfig;
  setup: () => Setup;
  runtime: () => ModelRuntime;
  /** The outbox's figures for telemetry (zeros before the transport is up). */
  outbox: () => { depth: number; dropped: number; degraded: boolean };
  publishTelemetry: (payload: TelemetryPayload) => void;
  onSwitch: (model: string, record: ModelSwitch) => void;
  /** Models the adaptive policy must leave alone (pinned by a remote command). */
  skip: (model: string) => boolean;
  log: Logger;
}

export interface ServiceLoops {
  telemetry: TelemetryLoop;
  adaptive: AdaptiveLoop | null;
}

export function startServiceLoops(o: ServiceLoopsOptions): ServiceLoops {
  const c = o.config;
  const probeRoot = process.env[SYSFS_ROOT_ENV];
  if (probeRoot) o.log.warn('probes.fake_root', { root: probeRoot, note: `${SYSFS_ROOT_ENV} is a test and diagnostic hook` });
  const probes = new SystemProbes({ fs: createProbeFs(probeRoot || '/') });
  const collect = createCollector({ models: () => o.runtime().telemetry(), budget: () => ({ budgetMB: o.setup().budget.budgetMB, usedMB: o.runtime().usedMB() }), outbox: o.outbox, probes });
  const telemetry = startTelemetry({
    intervalS: c.telemetry?.intervalS ?? o.setup().profile.telemetry.intervalS,
    collect,
    publish: async (payload) => {
      o.publishTelemetry(payload);
    },
    log: o.log.child({ layer: 'telemetry' }),
  });
  const adaptive = c.adaptive.enabled ? startAdaptiveLoop({ runtime: o.runtime, probes, limits: adaptiveLimits(o.setup().profile, c.adaptive), intervalMs: c.adaptive.intervalS * 1000, onSwitch: o.onSwitch, skip: o.skip, log: o.log.child({ layer: 'adaptive' }) }) : null;
  return { telemetry, adaptive };
}
