/**
 * The adaptive policy (issue 7): decides, per model and per tick, whether to stay on the current
 * variant, step down to a cheaper one, or step back up toward the preferred one. PURE: plain data
 * in, plain data out; time comes in as `nowMs` (monotonic), nothing is read or written.
 *
 * Rules (constants in DEFAULT_ADAPTIVE_LIMITS):
 * - Pressures: 'memory' (MemAvailable < memAvailableMinMB, PSI some avg10 > psiSomeAvg10Max, or a
 *   cgroup memory.events high/max counter rose within the last eventHoldMs), 'throttled' (Pi
 *   firmware throttledNow or softTempLimitNow), 'thermal' (CPU temperature >= softLimitC; it stays
 *   on until the temperature falls below softLimitC - thermalHysteresisC), 'latency' (windowed p95 >
 *   latencyTargetMs over at least minLatencySamples requests of the current variant).
 * - Step down: a pressure that has been on for downWindowMs, counted from when it began or from the
 *   last switch of this model, whichever is later, moves the model to the most preferred ladder rung
 *   that is strictly cheaper than the current one and meets the accuracy floor. Cheaper means lower
 *   memoryMB for 'memory' and lower latencyMs for the others. Reason priority when several are
 *   due: memory, throttled, thermal, latency. With nothing cheaper the model stays.
 * - Step up: when no pressure has been on for upWindowMs x backoff (and no switch happened in that
 *   time), the model returns to the variant it last stepped down from (one rung per window), reason
 *   'recovered'. A rung that left the ladder (refused at load) is skipped.
 * - No flapping: a step down within upWindowMs x backoff of the last step up doubles the backoff
 *   (up to maxBackoff), so a variant that keeps failing is retried ever less often; the backoff
 *   resets after 4 x upWindowMs calm on the preferred variant.
 */

export const PRESSURES = ['memory', 'throttled', 'thermal', 'latency'] as const;
export type Pressure = (typeof PRESSURES)[number];
/** 'pinned' / 'unpinned': an operator's remote command (issue 15), never the policy's choice. */
export type SwitchReason = Pressure | 'recovered' | 'pinned' | 'unpinned';

/** One variant the model may run, in preference order (the plan's ranked candidates). */
export interface Rung {
  variant: string;
  /** Planner figure (measured or estimated), ms. */
  latencyMs: number;
  /** Planner figure (measured or estimated), MB. */
  memoryMB: number;
  /** On the model's eval set, 0..1. */
  accuracy: number;
}

export interface AdaptiveLimits {
  /** Profile inference.latencyTargetMs. */
  latencyTargetMs: number;
  /** Profile inference.accuracyFloor. */
  accuracyFloor: number;
  /** Profile thermal.softLimitC. */
  softLimitC: number;
  /** Thermal pressure ends below softLimitC minus this, °C. Default 5. */
  thermalHysteresisC: number;
  /** Memory pressure below this MemAvailable, MB. Default 64. */
  memAvailableMinMB: number;
  /** Memory pressure above this PSI `some avg10`, percent. Default 10. */
  psiSomeAvg10Max: number;
  /** A rise of cgroup memory.events high/max keeps memory pressure on this long, ms. Default 15000. */
  eventHoldMs: number;
  /** A pressure must last this long before a step down, ms. Default 10000. */
  downWindowMs: number;
  /** No pressure for this long (times the backoff) before a step up, ms. Default 60000. */
  upWindowMs: number;
  /** Requests in the latency window before p95 counts. Default 20. */
  minLatencySamples: number;
  /** Largest multiplier on upWindowMs after repeated step downs. Default 8. */
  maxBackoff: number;
}

export const DEFAULT_ADAPTIVE_LIMITS = { thermalHysteresisC: 5, memAvailableMinMB: 64, psiSomeAvg10Max: 10, eventHoldMs: 15_000, downWindowMs: 10_000, upWindowMs: 60_000, minLatencySamples: 20, maxBackoff: 8 } as const satisfies Partial<AdaptiveLimits>;

/** What the system probes said this tick; null = not exposed on this board. */
export interface SystemSignals {
  cpuTempC: number | null;
  /** Pi firmware: throttledNow || softTempLimitNow. */
  throttledNow: boolean | null;
  memAvailableMB: number | null;
  psiSomeAvg10: number | null;
  cgroupEvents: { high: number; max: number } | null;
}

export interface SystemState {
  thermalOn: boolean;
  lastEvents: { high: number; max: number } | null;
  lastEventRiseMs: number | null;
}

export const INITIAL_SYSTEM_STATE: SystemState = { thermalOn: false, lastEvents: null, lastEventRiseMs: null };

/** System-wide pressures now. Pure. */
export function assessSystem(state: SystemState, s: SystemSignals, limits: AdaptiveLimits, nowMs: number): { state: SystemState; pressures: Pressure[] } {
  const pressures: Pressure[] = [];
  let thermalOn = state.thermalOn;
  if (s.cpuTempC === null) thermalOn = false;
  else if (s.cpuTempC >= limits.softLimitC) thermalOn = true;
  else if (s.cpuTempC < limits.softLimitC - limits.thermalHysteresisC) thermalOn = false;
  if (thermalOn) pressures.push('thermal');
  if (s.throttledNow === true) pressures.push('throttled');

  let lastEventRiseMs = state.lastEventRiseMs;
  const ev = s.cgroupEvents;
  if (ev && state.lastEvents && (ev.high > state.lastEvents.high || ev.max > state.lastEvents.max)) lastEventRiseMs = nowMs;
  const eventsHot = lastEventRiseMs !== null && nowMs - lastEventRiseMs < limits.eventHoldMs;
  const lowAvailable = s.memAvailableMB !== null && s.memAvailableMB < limits.memAvailableMinMB;
  const stalled = s.psiSomeAvg10 !== null && s.psiSomeAvg10 > limits.psiSomeAvg10Max;
  if (eventsHot || lowAvailable || stalled) pressures.push('memory');
  return { state: { thermalOn, lastEvents: ev ?? state.lastEvents, lastEventRiseMs }, pressures };
}

export interface ModelPolicyState {
  current: string;
  /** Variants stepped down from, most recent last. */
  downFrom: string[];
  /** When each pressure began (continuously on since), ms. */
  since: Partial<Record<Pressure, number>>;
  /** When every pressure went off, ms; null while one is on. */
  calmSinceMs: number | null;
  lastSwitchMs: number | null;
  lastUpMs: number | null;
  backoff: number;
}

export function initialModelState(current: string, nowMs: number): ModelPolicyState {
  return { current, downFrom: [], since: {}, calmSinceMs: nowMs, lastSwitchMs: null, lastUpMs: null, backoff: 1 };
}

export interface ModelSignals {
  /** p95 latency of the current variant over the latency window, ms; null without samples. */
  p95Ms: number | null;
  samples: number;
}

export type Decision = { action: 'stay'; pressures: Pressure[]; note?: 'at-cheapest' | 'waiting' } | { action: 'switch'; from: string; to: string; reason: SwitchReason; direction: 'down' | 'up' };

export interface DecideInput {
  nowMs: number;
  /** Preference order, best first (the plan's ranked candidates). */
  ladder: readonly Rung[];
  /** From assessSystem. */
  system: readonly Pressure[];
  model: ModelSignals;
  limits: AdaptiveLimits;
}

const cost = (r: Rung, p: Pressure): number => (p === 'memory' ? r.memoryMB : r.latencyMs);

/**
 * One decision for one model. The returned state assumes the switch (if any) happened: a caller
 * whose swap failed keeps the previous state and asks again next tick.
 */
export function decide(state: ModelPolicyState, input: DecideInput): { state: ModelPolicyState; decision: Decision } {
  const { nowMs: now, limits } = input;
  const ladder = input.ladder.filter((r) => r.accuracy >= limits.accuracyFloor);
  const active = new Set<Pressure>(input.system);
  const m = input.model;
  if (m.p95Ms !== null && m.samples >= limits.minLatencySamples && m.p95Ms > limits.latencyTargetMs) active.add('latency');

  const since: Partial<Record<Pressure, number>> = {};
  for (const p of PRESSURES) if (active.has(p)) since[p] = state.since[p] ?? now;
  const pressures = PRESSURES.filter((p) => active.has(p));
  const next: ModelPolicyState = { ...state, since, calmSinceMs: pressures.length > 0 ? null : (state.calmSinceMs ?? now) };

  const here = ladder.find((r) => r.variant === state.current);
  if (pressures.length > 0) {
    let waiting = false;
    for (const p of pressures) {
      const start = Math.max(since[p] ?? now, state.lastSwitchMs ?? -Infinity);
      if (now - start < limits.downWindowMs) {
        waiting = true;
        continue;
      }
      if (!here) continue;
      const to = ladder.find((r) => cost(r, p) < cost(here, p));
      if (!to) continue;
      const flapping = state.lastUpMs !== null && now - state.lastUpMs < limits.upWindowMs * state.backoff;
      return { state: { ...next, current: to.variant, downFrom: [...state.downFrom, state.current], lastSwitchMs: now, backoff: flapping ? Math.min(limits.maxBackoff, state.backoff * 2) : state.backoff }, decision: { action: 'switch', from: state.current, to: to.variant, reason: p, direction: 'down' } };
    }
    return { state: next, decision: { action: 'stay', pressures, note: waiting ? 'waiting' : 'at-cheapest' } };
  }

  const upAfter = limits.upWindowMs * state.backoff;
  const calmFor = now - (next.calmSinceMs ?? now);
  const quietFor = state.lastSwitchMs === null ? Infinity : now - state.lastSwitchMs;
  if (state.downFrom.length > 0 && calmFor >= upAfter && quietFor >= upAfter) {
    const stack = [...state.downFrom];
    let to: string | undefined;
    while (stack.length > 0 && to === undefined) {
      const v = stack.pop();
      if (v !== undefined && ladder.some((r) => r.variant === v)) to = v;
    }
    if (to !== undefined && to !== state.current) {
      return { state: { ...next, current: to, downFrom: stack, lastSwitchMs: now, lastUpMs: now }, decision: { action: 'switch', from: state.current, to, reason: 'recovered', direction: 'up' } };
    }
    return { state: { ...next, downFrom: stack }, decision: { action: 'stay', pressures } };
  }
  if (state.downFrom.length === 0 && state.backoff > 1 && calmFor >= 4 * limits.upWindowMs && quietFor >= 4 * limits.upWindowMs) {
    return { state: { ...next, backoff: 1 }, decision: { action: 'stay', pressures } };
  }
  return { state: next, decision: { action: 'stay', pressures } };
}
