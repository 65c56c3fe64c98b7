/**
 * Builds the telemetry payload from injected sources and publishes it on a timer.
 *
 * Contract:
 * - `createCollector` reads the runtime figures synchronously (models, budget, outbox) and the
 *   system probes asynchronously; probe failures become nulls (the probes never reject).
 * - `startTelemetry` never throws or rejects on the service path: a failing collect or publish is
 *   logged (`telemetry.collect_failed` / `telemetry.publish_failed`) and counted, and the next tick
 *   still runs. Ticks never overlap: the next one is scheduled when the previous one finished.
 */
import { asEdgeError } from '../errors.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { LatencySnapshot } from './histogram.js';
import type { LatencyFigures, ModelTelemetry, OutboxTelemetry, TelemetryPayload } from './payload.js';
import { TELEMETRY_SCHEMA_VERSION } from './payload.js';
import { startLoop } from '../loop.js';
import { unrefTimers, type Timers } from '../timers.js';
import type { SystemProbes } from './system-probes.js';
import { isThrottledNow } from './system-probes.js';

/** The probes the collector reads (SystemProbes satisfies it; tests may pass a fixture-backed one). */
export type TelemetryProbes = Pick<SystemProbes, 'cpuTempC' | 'throttled' | 'loadAvg' | 'processMemory' | 'processUptimeS' | 'memAvailableMB' | 'cgroupMemory' | 'memoryPressure' | 'openFds'>;

export interface TelemetryClock {
  /** Wall time, ms since the epoch. Default Date.now. */
  wallMs(): number;
  /** Monotonic time, ms. Default performance.now. */
  monotonicMs(): number;
}

export interface TelemetrySources {
  /** Per-model figures now (the scheduler's counters and histograms). */
  models(): ModelTelemetry[];
  /** The model memory budget and what loaded sessions account for, MB. */
  budget(): { budgetMB: number; usedMB: number };
  outbox(): OutboxTelemetry;
  probes: TelemetryProbes;
  /** Default: Date.now and performance.now. */
  clock?: TelemetryClock;
}

const round = (n: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};
const roundOrNull = (n: number | null, digits: number): number | null => (n === null ? null : round(n, digits));

/** The four latency figures of a histogram snapshot, rounded to µs. */
export function latencyFigures(s: LatencySnapshot): LatencyFigures {
  return { p50: roundOrNull(s.p50, 3), p95: roundOrNull(s.p95, 3), p99: roundOrNull(s.p99, 3), max: roundOrNull(s.max, 3) };
}

/** Returns a function that collects one payload. The monotonic origin is the moment of this call. */
export function createCollector(sources: TelemetrySources): () => Promise<TelemetryPayload> {
  const clock = sources.clock ?? { wallMs: () => Date.now(), monotonicMs: () => performance.now() };
  const origin = clock.monotonicMs();
  const p = sources.probes;

  return async () => {
    const [cpuTempC, throttled, availableMB, cgroup, pressure, fds] = await Promise.all([p.cpuTempC(), p.throttled(), p.memAvailableMB(), p.cgroupMemory(), p.memoryPressure(), p.openFds()]);
    const mem = p.processMemory();
    const load = p.loadAvg();
    const budget = sources.budget();
    return {
      schemaVersion: TELEMETRY_SCHEMA_VERSION,
      timestamp: new Date(clock.wallMs()).toISOString(),
      monotonicS: round((clock.monotonicMs() - origin) / 1000, 3),
      models: sources.models().map((m) => ({ ...m, latencyMs: { ...m.latencyMs } })),
      process: { rssMB: round(mem.rssMB, 1), heapUsedMB: round(mem.heapUsedMB, 1), uptimeS: round(p.processUptimeS(), 1), fds },
      memory: {
        budgetMB: budget.budgetMB,
        usedMB: round(budget.usedMB, 1),
        availableMB: roundOrNull(availableMB, 1),
        cgroupCurrentMB: cgroup === null ? null : round(cgroup.currentMB, 1),
        cgroupLimitMB: cgroup === null ? null : roundOrNull(cgroup.maxMB, 1),
        cgroupEvents: cgroup?.events == null ? null : { high: cgroup.events.high, max: cgroup.events.max, oom: cgroup.events.oom, oomKill: cgroup.events.oomKill },
        pressureSomeAvg10: pressure === null ? null : pressure.someAvg10,
      },
      system: { cpuTempC: roundOrNull(cpuTempC, 1), throttled, throttledNow: throttled === null ? null : isThrottledNow(throttled), loadAvg1: round(load.loadAvg1, 2), loadAvg5: round(load.loadAvg5, 2), loadAvg15: round(load.loadAvg15, 2) },
      outbox: { ...sources.outbox() },
    };
  };
}

export type { Timers } from '../timers.js';
/** Real timers, unref'd: a telemetry tick never keeps the process alive on its own. */
export const realTimers: Timers = unrefTimers;

export interface TelemetryLoopOptions {
  /** Seconds between the end of one publish and the next collection. Must be > 0. */
  intervalS: number;
  collect: () => Promise<TelemetryPayload>;
  /** Hands the payload to the transport. A rejection is logged and counted, never rethrown. */
  publish: (payload: TelemetryPayload) => Promise<void>;
  /** Default realTimers. */
  timers?: Timers;
  /** Default silentLogger. */
  log?: Logger;
  /** Publish once right away instead of after the first interval. Default true. */
  immediate?: boolean;
}

export interface TelemetryLoop {
  /** Collects and publishes now (between scheduled ticks; waits for a tick in progress first). */
  tickNow(): Promise<void>;
  /** Stops scheduling; resolves when a tick in progress has finished. Idempotent. */
  stop(): Promise<void>;
  /** Payloads handed to publish that resolved. */
  readonly published: number;
  /** Ticks whose collect or publish failed. */
  readonly failures: number;
}

/** Starts the telemetry loop (runtime/loop.ts). Throws RangeError for a non-positive interval (a caller mistake). */
export function startTelemetry(options: TelemetryLoopOptions): TelemetryLoop {
  if (!(options.intervalS > 0)) throw new RangeError(`intervalS must be > 0, got ${options.intervalS}`);
  const log = options.log ?? silentLogger;
  let published = 0;
  let failures = 0;

  const once = async (): Promise<void> => {
    let payload: TelemetryPayload;
    try {
      payload = await options.collect();
    } catch (e) {
      failures += 1;
      log.warn('telemetry.collect_failed', { error: asEdgeError(e) });
      return;
    }
    try {
      await options.publish(payload);
      published += 1;
    } catch (e) {
      failures += 1;
      log.warn('telemetry.publish_failed', { error: asEdgeError(e) });
    }
  };

  const loop = startLoop({ intervalMs: options.intervalS * 1000, tick: once, immediate: options.immediate ?? true, timers: options.timers ?? realTimers });
  return {
    tickNow: () => loop.tickNow(),
    stop: () => loop.stop(),
    get published() {
      return published;
    },
    get failures() {
      return failures;
    },
  };
}
