/**
 * The service's retained status document (split out of service.ts): what a subscriber to
 * `<prefix>/status` (Home Assistant availability, `edge-infer top`, operators) reads. Pure: built
 * from the current runtime and setup on every publish; `state` is added by the transport.
 */
import type { ServiceConfig } from '../config/service-config.js';
import type { ModelSwitch } from '../telemetry/payload.js';
import type { ModelRuntime } from './model-runtime.js';
import type { Setup } from './setup.js';

export interface StatusInputs {
  version: string;
  config: ServiceConfig;
  startedAt: Date;
  setup: Setup;
  runtime: ModelRuntime;
  /** The latest variant switches, oldest first (bounded by the caller). */
  switches: readonly (ModelSwitch & { model: string })[];
  pins: ReadonlyMap<string, string>;
}

export function statusFacts(o: StatusInputs): Record<string, unknown> {
  const rt = o.runtime;
  const p = o.config.topicPrefix;
  return {
    version: o.version,
    deviceId: o.config.deviceId,
    startedAt: o.startedAt.toISOString(),
    profile: { id: o.setup.profile.id, board: o.setup.profile.board, source: o.setup.profileSource },
    backend: o.setup.backend,
    budget: o.setup.budget,
    plan: rt.plan,
    models: rt.status().map((s) => {
      const m = rt.manifest(s.model)?.manifest;
      return { ...s, inputs: m?.inputs ?? [], outputs: m?.outputs ?? [], labels: m?.labels ?? null, variants: m?.variants.map((v) => v.id) ?? [] };
    }),
    switches: [...o.switches],
    pins: Object.fromEntries(o.pins),
    group: o.config.group ?? null,
    topics: { infer: `${p}/models/<model>/infer`, result: `${p}/models/<model>/result`, telemetry: `${p}/telemetry`, errors: `${p}/errors`, events: `${p}/models/<model>/events` },
  };
}
