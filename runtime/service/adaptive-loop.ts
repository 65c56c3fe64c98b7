/**
 * The adaptive loop: every interval, read the system probes and each model's windowed p95, ask the
 * pure policy (adaptive-policy.ts), and perform its switches through the runtime.
 *
 * Contract:
 * - Never throws or rejects on the service path: a failing tick is logged (`adaptive.tick_failed`)
 *   and the next one still runs. Ticks never overlap.
 * - A switch the runtime refuses (variant refused at load) leaves the policy state as it was; the
 *   runtime has excluded that variant, so the next tick's ladder no longer offers it.
 * - When the runtime object changes (SIGHUP reload), per-model policy state starts over.
 * - Timers and the monotonic clock are injected; probes are any object with the SystemProbes methods.
 */
import { performance } from 'node:perf_hooks';
import { asEdgeError } from '../errors.js';
import type { Logger } from '../log.js';
import { startLoop } from '../loop.js';
import type { Timers } from '../timers.js';
import type { ModelSwitch } from '../telemetry/payload.js';
import type { SystemProbes } from '../telemetry/system-probes.js';
import { INITIAL_SYSTEM_STATE, assessSystem, decide, initialModelState, type AdaptiveLimits, type ModelPolicyState, type Rung, type SwitchReason, type SystemSignals, type SystemState } from './adaptive-policy.js';

/** What the loop needs from ModelRuntime. */
export interface AdaptiveRuntime {
  status(): { model: string; state: string; variant: string | null }[];
  ladder(model: string): Rung[];
  windowLatency(model: string, windowS: number): { p95Ms: number | null; samples: number };
  swap(model: string, variant: string, reason: SwitchReason): Promise<ModelSwitch | null>;
}

export type AdaptiveProbes = Pick<SystemProbes, 'cpuTempC' | 'throttled' | 'memAvailableMB' | 'memoryPressure' | 'cgroupMemory'>;

export interface AdaptiveLoopOptions {
  /** The runtime serving now (it changes on reload). */
  runtime: () => AdaptiveRuntime;
  probes: AdaptiveProbes;
  limits: AdaptiveLimits;
  intervalMs: number;
  /** Called after every switch the runtime performed. */
  onSwitch: (model: string, record: ModelSwitch) => void;
  /** Models the loop must leave alone (pinned by an operator, issue 15). Default: none. */
  skip?: (model: string) => boolean;
  log: Logger;
  /** Default unref'd real timers (runtime/loop.ts). */
  timers?: Timers;
  /** Monotonic ms. Default performance.now. */
  nowMs?: () => number;
}

export interface AdaptiveLoop {
  /** Runs one tick now (after a tick in progress). */
  tickNow(): Promise<void>;
  /** Stops scheduling; resolves when a tick in progress has finished. Idempotent. */
  stop(): Promise<void>;
}

/** Reads the probes into the policy's signals. Probes never reject (SystemProbes contract). */
export async function readSignals(p: AdaptiveProbes): Promise<SystemSignals> {
  const [cpuTempC, throttled, memAvailableMB, psi, cgroup] = await Promise.all([p.cpuTempC(), p.throttled(), p.memAvailableMB(), p.memoryPressure(), p.cgroupMemory()]);
  return { cpuTempC, throttledNow: throttled === null ? null : throttled.throttledNow || throttled.softTempLimitNow, memAvailableMB, psiSomeAvg10: psi?.someAvg10 ?? null, cgroupEvents: cgroup?.events ? { high: cgroup.events.high, max: cgroup.events.max } : null };
}

export function startAdaptiveLoop(o: AdaptiveLoopOptions): AdaptiveLoop {
  const now = o.nowMs ?? (() => performance.now());
  let system: SystemState = INITIAL_SYSTEM_STATE;
  let states = new Map<string, ModelPolicyState>();
  let seen: AdaptiveRuntime | null = null;
  let stopped = false;

  const once = async (): Promise<void> => {
    const rt = o.runtime();
    if (rt !== seen) {
      seen = rt;
      states = new Map();
    }
    const signals = await readSignals(o.probes);
    const t = now();
    const assessed = assessSystem(system, signals, o.limits, t);
    system = assessed.state;
    for (const m of rt.status()) {
      if (stopped) return;
      if (m.state !== 'ready' || m.variant === null || o.skip?.(m.model) === true) continue;
      let st = states.get(m.model);
      if (!st || st.current !== m.variant) st = initialModelState(m.variant, t);
      const { state, decision } = decide(st, { nowMs: t, ladder: rt.ladder(m.model), system: assessed.pressures, model: rt.windowLatency(m.model, o.limits.downWindowMs / 1000), limits: o.limits });
      if (decision.action === 'stay') {
        states.set(m.model, state);
        continue;
      }
      o.log.info('adaptive.decision', { model: m.model, from: decision.from, to: decision.to, reason: decision.reason, direction: decision.direction, signals });
      const record = await rt.swap(m.model, decision.to, decision.reason);
      if (record) {
        states.set(m.model, { ...state, current: record.to });
        o.onSwitch(m.model, record);
      } else {
        states.set(m.model, st);
      }
    }
  };

  const loop = startLoop({ intervalMs: o.intervalMs, tick: once, onError: (e) => o.log.warn('adaptive.tick_failed', { error: asEdgeError(e) }), ...(o.timers !== undefined ? { timers: o.timers } : {}) });

  return {
    tickNow: () => loop.tickNow(),
    stop() {
      stopped = true;
      return loop.stop();
    },
  };
}
