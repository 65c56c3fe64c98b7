/**
 * `edge-infer top`'s model of a fleet: folds the retained status and telemetry documents each
 * device publishes (transport/mqtt-service.ts, telemetry/payload.ts) into one snapshot per device.
 * Pure: messages and a monotonic time in (ms), plain data out. No MQTT, no clock, no terminal.
 *
 * Contract: unknown or malformed documents are ignored field by field (a device of another version
 * still shows what it can); requests/s comes from the difference of two telemetry documents'
 * counters over their `monotonicS` (the device's clock, not ours, so network jitter does not skew it).
 */

/** Samples of p50 latency kept per model for the sparkline. */
export const HISTORY_LENGTH = 40;

export interface ModelView {
  model: string;
  variant: string | null;
  state: string;
  /** "from -> to (reason)" of the last adaptive switch, null when none happened. */
  lastSwitch: string | null;
  requestsPerS: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  queueDepth: number;
  requests: number;
  errors: number;
  rejected: number;
  /** Recent p50 latencies, oldest first (null where the window had no answers). */
  history: (number | null)[];
}

export interface DeviceView {
  /** The topic level after the root: `edge/<device>/status`. */
  device: string;
  state: 'online' | 'offline' | 'unknown';
  profile: string | null;
  board: string | null;
  backend: string | null;
  version: string | null;
  /** The shared-work group the device joined (status `group`, issue 15), null when none. */
  group: string | null;
  budgetMB: number | null;
  usedMB: number | null;
  rssMB: number | null;
  cpuTempC: number | null;
  throttledNow: boolean | null;
  outboxDepth: number | null;
  outboxDegraded: boolean | null;
  /** Our monotonic ms when the device last published anything. */
  lastSeenMs: number | null;
  models: ModelView[];
}

export interface FleetSnapshot {
  devices: DeviceView[];
}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);

interface ModelCounters {
  requests: number;
  monotonicS: number;
}

interface DeviceState {
  view: DeviceView;
  counters: Map<string, ModelCounters>;
}

export class Fleet {
  readonly #devices = new Map<string, DeviceState>();
  readonly #group: string | undefined;

  /** `group`: show only devices whose status names this shared-work group. */
  constructor(group?: string) {
    this.#group = group;
  }

  #device(id: string): DeviceState {
    let d = this.#devices.get(id);
    if (d === undefined) {
      d = { view: { device: id, state: 'unknown', profile: null, board: null, backend: null, version: null, group: null, budgetMB: null, usedMB: null, rssMB: null, cpuTempC: null, throttledNow: null, outboxDepth: null, outboxDegraded: null, lastSeenMs: null, models: [] }, counters: new Map() };
      this.#devices.set(id, d);
    }
    return d;
  }

  #model(d: DeviceState, id: string): ModelView {
    let m = d.view.models.find((x) => x.model === id);
    if (m === undefined) {
      m = { model: id, variant: null, state: 'unknown', lastSwitch: null, requestsPerS: null, p50Ms: null, p95Ms: null, p99Ms: null, queueDepth: 0, requests: 0, errors: 0, rejected: 0, history: [] };
      d.view.models.push(m);
      d.view.models.sort((a, b) => a.model.localeCompare(b.model));
    }
    return m;
  }

  /** A retained status document of `device` (online with its facts, or `{"state":"offline"}`). An empty payload (cleared retained status) forgets the device. */
  status(device: string, doc: unknown, nowMs: number): void {
    if (doc === null) {
      this.#devices.delete(device);
      return;
    }
    const s = obj(doc);
    if (s === null) return;
    const d = this.#device(device);
    const v = d.view;
    v.lastSeenMs = nowMs;
    v.state = s['state'] === 'online' ? 'online' : s['state'] === 'offline' ? 'offline' : 'unknown';
    if (v.state === 'offline') {
      for (const m of v.models) m.state = 'offline';
      return;
    }
    const profile = obj(s['profile']);
    v.profile = text(profile?.['id']) ?? v.profile;
    v.board = text(profile?.['board']) ?? v.board;
    v.backend = text(s['backend']) ?? v.backend;
    v.version = text(s['version']) ?? v.version;
    v.group = text(s['group']) ?? v.group;
    v.budgetMB = num(obj(s['budget'])?.['budgetMB']) ?? v.budgetMB;
    for (const raw of Array.isArray(s['models']) ? s['models'] : []) {
      const m = obj(raw);
      const id = text(m?.['model']);
      if (m === null || id === null) continue;
      const view = this.#model(d, id);
      view.variant = text(m['variant']) ?? view.variant;
      view.state = text(m['state']) ?? view.state;
    }
    const switches = Array.isArray(s['switches']) ? s['switches'] : [];
    for (const raw of switches) {
      const sw = obj(raw);
      const id = text(sw?.['model']);
      if (sw === null || id === null) continue;
      this.#model(d, id).lastSwitch = formatSwitch(sw);
    }
  }

  /** A telemetry document of `device` (telemetry/payload.ts, schemaVersion 1). */
  telemetry(device: string, doc: unknown, nowMs: number): void {
    const t = obj(doc);
    if (t === null) return;
    const d = this.#device(device);
    const v = d.view;
    v.lastSeenMs = nowMs;
    if (v.state === 'unknown') v.state = 'online';
    const memory = obj(t['memory']);
    v.budgetMB = num(memory?.['budgetMB']) ?? v.budgetMB;
    v.usedMB = num(memory?.['usedMB']) ?? v.usedMB;
    v.rssMB = num(obj(t['process'])?.['rssMB']) ?? v.rssMB;
    const system = obj(t['system']);
    v.cpuTempC = num(system?.['cpuTempC']);
    v.throttledNow = bool(system?.['throttledNow']);
    const outbox = obj(t['outbox']);
    v.outboxDepth = num(outbox?.['depth']) ?? v.outboxDepth;
    v.outboxDegraded = bool(outbox?.['degraded']) ?? v.outboxDegraded;
    const monotonicS = num(t['monotonicS']);
    for (const raw of Array.isArray(t['models']) ? t['models'] : []) {
      const m = obj(raw);
      const id = text(m?.['model']);
      if (m === null || id === null) continue;
      const view = this.#model(d, id);
      view.variant = text(m['variant']) ?? view.variant;
      view.state = text(m['state']) ?? view.state;
      const requests = num(m['requests']) ?? view.requests;
      view.requests = requests;
      view.errors = num(m['errors']) ?? view.errors;
      view.rejected = num(m['rejected']) ?? view.rejected;
      view.queueDepth = num(m['queueDepth']) ?? view.queueDepth;
      const lat = obj(m['latencyMs']);
      view.p50Ms = num(lat?.['p50']);
      view.p95Ms = num(lat?.['p95']);
      view.p99Ms = num(lat?.['p99']);
      view.history.push(view.p50Ms);
      if (view.history.length > HISTORY_LENGTH) view.history.splice(0, view.history.length - HISTORY_LENGTH);
      const sw = obj(m['lastSwitch']);
      if (sw !== null) view.lastSwitch = formatSwitch(sw);
      if (monotonicS !== null) {
        const before = d.counters.get(id);
        // A restart resets both counters and the device clock: start over rather than show a negative rate.
        view.requestsPerS = before !== undefined && monotonicS > before.monotonicS && requests >= before.requests ? (requests - before.requests) / (monotonicS - before.monotonicS) : view.requestsPerS;
        d.counters.set(id, { requests, monotonicS });
      }
    }
  }

  /** Devices sorted by id (only members of the constructor's group, when one was given); a copy the caller may keep. */
  snapshot(): FleetSnapshot {
    const group = this.#group;
    const devices = [...this.#devices.values()].filter((d) => group === undefined || d.view.group === group).map((d) => structuredClone(d.view));
    devices.sort((a, b) => a.device.localeCompare(b.device));
    return { devices };
  }
}

function formatSwitch(sw: Json): string {
  return `${text(sw['from']) ?? '?'} -> ${text(sw['to']) ?? '?'} (${text(sw['reason']) ?? '?'})`;
}
