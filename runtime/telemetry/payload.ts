/**
 * The JSON document published on `<prefix>/telemetry` every telemetry interval (issue 3).
 * Units are in the field names; a figure the board or runtime cannot give is null, never omitted
 * and never NaN, so consumers can tell "not exposed" from "zero".
 *
 * Contract: adding a field is compatible; renaming or removing one bumps `schemaVersion`.
 */
import type { ThrottleFlags } from './system-probes.js';

export const TELEMETRY_SCHEMA_VERSION = 1;

/** Where a model is in its life cycle (service/model-lifecycle.ts owns the transitions). */
export type ModelState = 'loading' | 'ready' | 'swapping' | 'restarting' | 'unloading' | 'unavailable' | 'failed';

/** Latency of answered requests, ms (queue wait + inference); each null until a request is answered. */
export interface LatencyFigures {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/** One adaptive variant switch (issue 7). `at` is wall time, ISO 8601 UTC. */
export interface ModelSwitch {
  from: string;
  to: string;
  /** 'latency' | 'thermal' | 'throttled' | 'memory' (stepped down) or 'recovered' (stepped back up). */
  reason: string;
  at: string;
}

export interface ModelTelemetry {
  /** Model id (folder name under models/). */
  model: string;
  /** Variant id currently serving, null while none is loaded. */
  variant: string | null;
  state: ModelState;
  /** Requests answered with a result since start. */
  requests: number;
  /** Requests answered with an error (bad input, inference failure) since start. */
  errors: number;
  /** Requests refused with EDGE_ERR_OVERLOADED since start. */
  rejected: number;
  /** Requests waiting in the model's queue now. */
  queueDepth: number;
  /** Over the window the scheduler keeps (see its docs), ms. */
  latencyMs: LatencyFigures;
  /** The plan's choice; differs from `variant` while the adaptive runtime has switched away from it. */
  preferredVariant?: string | null;
  /** The most recent adaptive switch, null when none happened. */
  lastSwitch?: ModelSwitch | null;
  /** Times its inference worker crashed and was reloaded since start (issue 12). */
  restarts?: number;
  /** True when the optimized-model cache could not be written at the last load (disk full, read-only): the model runs, loads are slower (issue 12). */
  cacheDegraded?: boolean;
}

export interface ProcessTelemetry {
  /** Resident set size of this process, MB. */
  rssMB: number;
  /** V8 heap in use, MB. */
  heapUsedMB: number;
  /** Seconds since this process started. */
  uptimeS: number;
  /** Open file descriptors; null where /proc is absent. */
  fds: number | null;
}

export interface MemoryTelemetry {
  /** The profile's model memory budget, MB. */
  budgetMB: number;
  /** Budget accounted to loaded sessions, MB. */
  usedMB: number;
  /** /proc/meminfo MemAvailable, MB; null where absent. */
  availableMB: number | null;
  /** cgroup v2 memory.current of the service, MB; null outside cgroup v2. */
  cgroupCurrentMB: number | null;
  /** cgroup v2 memory.max (systemd MemoryMax=), MB; null when unlimited or outside cgroup v2. */
  cgroupLimitMB: number | null;
  /** cgroup v2 memory.events counters since the cgroup was created; null outside cgroup v2. */
  cgroupEvents: { high: number; max: number; oom: number; oomKill: number } | null;
  /** /proc/pressure/memory `some avg10`, percent of time stalled on memory; null without PSI. */
  pressureSomeAvg10: number | null;
}

export interface SystemTelemetry {
  /** CPU temperature, °C; null where no thermal zone is exposed. */
  cpuTempC: number | null;
  /** Raspberry Pi firmware throttling flags; null on other boards. */
  throttled: ThrottleFlags | null;
  /** Any "now" throttling bit set; null on boards without the firmware file. */
  throttledNow: boolean | null;
  loadAvg1: number;
  loadAvg5: number;
  loadAvg15: number;
}

export interface OutboxTelemetry {
  /** Answers waiting for the broker. */
  depth: number;
  /** Answers dropped because the outbox was full, since start. */
  dropped: number;
  /** True while the state directory is unwritable and the outbox lives in memory only. */
  degraded: boolean;
}

export interface TelemetryPayload {
  schemaVersion: typeof TELEMETRY_SCHEMA_VERSION;
  /** Wall-clock time of collection, ISO 8601 UTC (may jump with NTP: do not compute durations from it). */
  timestamp: string;
  /** Seconds since the collector was created, from the monotonic clock. */
  monotonicS: number;
  models: ModelTelemetry[];
  process: ProcessTelemetry;
  memory: MemoryTelemetry;
  system: SystemTelemetry;
  outbox: OutboxTelemetry;
}
