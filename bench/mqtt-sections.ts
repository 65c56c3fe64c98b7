/**
 * Sections 2, 3 (and the peak-RSS part of 5, 6's event-loop figures): the service behind a real
 * mosquitto on loopback, QoS 1 both ways.
 *  2. Open loop at 200 req/s: the service (`edge-infer run` child) vs a bare responder on the
 *     same broker, halves interleaved; overhead = service p50 - floor p50 - raw inference p50.
 *     Once with `set_tcp_nodelay true`, once with mosquitto's default.
 *  2b. Sequential (issue 16's measure, nodelay broker only): each request sent when the previous
 *     answer arrived, service and bare responder in interleaved halves; raw inference measured with
 *     runs spaced like those requests (one service round trip apart). The MQTT targets use this row.
 *  3. Closed loop at saturation (a fixed window in flight): batching off vs on, JSON vs binary,
 *     against bench/service-child.js (EdgeService in its own process, measuring its event loop,
 *     GC pauses and bytes allocated per request); plus a burst of 256 in flight against a bare
 *     responder doing the same QoS 1 both ways on the same broker (the floor).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startMosquitto, type Mosquitto } from '../test/helpers/mosquitto.js';
import { LoadClient, startBareResponder, type RequestMaker } from './mqtt-load.js';
import { rawP50 } from './overhead.js';
import { PREFIX, ROOT, procMemoryMB, readStatus, startBenchService, type ModelSettings } from './service.js';
import { fmt, median, printTable, quantile } from './stats.js';

export interface LatencyFigures {
  broker: string;
  nodelay: boolean;
  rate: number;
  floorP50Ms: number;
  floorP99Ms: number;
  serviceP50Ms: number;
  serviceP99Ms: number;
  /** Raw session.run p50 with runs spaced like the requests (what is subtracted). */
  rawInferenceP50Ms: number;
  /** Raw session.run p50 back to back, for reference. */
  rawBackToBackP50Ms: number;
  overheadP50Ms: number;
  overheadP99Ms: number;
  samples: number;
  serviceErrors: number;
  serviceLost: number;
  held: number;
  variant: string;
  /** Sequential requests (nodelay broker only), see the header. */
  sequential?: SequentialFigures;
}

export interface SequentialFigures {
  n: number;
  floorP50Ms: number;
  floorP99Ms: number;
  serviceP50Ms: number;
  serviceP99Ms: number;
  /** Raw session.run p50, runs spaced one service round trip apart. */
  rawSpacedP50Ms: number;
  /** Gap used for rawSpacedP50Ms, ms. */
  gapMs: number;
  /** p50 of the answers' own latencyMs.total (receipt by the service -> encoding done): the part spent inside the service process. */
  insideP50Ms: number;
  /** p50 of the answers' latencyMs.inference (session.run in the worker) and latencyMs.queue. */
  inferenceP50Ms: number;
  queueP50Ms: number;
  errors: number;
}

export interface SaturationFigures {
  batching: 'off' | 'on';
  form: 'json' | 'binary';
  window: number;
  answersPerS: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  eventLoopMaxMs: number;
  eventLoopP99Ms: number;
  gcMaxMs: number;
  gcTotalMs: number;
  preempted: number;
  /** V8 heap / external bytes allocated per request on the service's main thread (service-child.ts). */
  heapBPerRequest: number;
  externalBPerRequest: number;
}

export interface BurstFigures {
  window: number;
  /** A bare mqtt.js responder on the same broker, QoS 1 both ways: the floor. */
  bareAnswersPerS: number;
  serviceAnswersPerS: number;
  ratio: number;
}

export interface MqttFigures {
  brokerUrl: string;
  latency: LatencyFigures[];
  saturation: SaturationFigures[];
  burst: BurstFigures;
  memory: { idleWithDigitsRssMB: number; peakRssMB: number; budgetMB: number; statusRssDeltaMB: number | null };
  closeBroker(): Promise<void>;
}

export function jsonMaker(row: readonly number[]): RequestMaker {
  const input = JSON.stringify(row);
  return (i) => ({ payload: Buffer.from(`{"id":"r${i}","input":${input}}`), properties: { contentType: 'application/json' } });
}

export function binaryMaker(row: readonly number[]): RequestMaker {
  const bytes = Buffer.from(new Float32Array(row).buffer);
  return (i) => ({ payload: bytes, properties: { contentType: 'application/octet-stream', userProperties: { id: `r${i}`, dtype: 'float32', shape: '1,64' } } });
}

const BATCH_ON: ModelSettings = { maxBatch: 32, maxQueueDelayMs: 1, preferredBatchSizes: [], queueLimit: 256 };
const BATCH_OFF: ModelSettings = { maxBatch: 1, maxQueueDelayMs: 0, queueLimit: 256 };

async function latencyRun(broker: Mosquitto, nodelay: boolean, o: { quick: boolean; tmp: string; digitRow: number[] }, memory: MqttFigures['memory'] | null): Promise<LatencyFigures> {
  const rate = 200;
  const halfMs = o.quick ? 2500 : 8000;
  const dir = join(o.tmp, `svc-latency-${nodelay ? 'nodelay' : 'default'}`);
  mkdirSync(dir, { recursive: true });
  const bare = await startBareResponder(broker.url, 'bench/bare/infer');
  const svc = startBenchService({ brokerUrl: broker.url, dir, models: { digits: BATCH_OFF } });
  try {
    await svc.waitLog('service.ready');
    const status = await readStatus(broker.url);
    const models = status['models'] as { model: string; variant: string; rssDeltaMB: number | null }[];
    const digits = models.find((m) => m.model === 'digits');
    const variant = digits?.variant ?? 'unknown';
    const make = jsonMaker(o.digitRow);
    const floorClient = await LoadClient.open(broker.url, 'bench/bare/infer', 'bench');
    const svcClient = await LoadClient.open(broker.url, `${PREFIX}/models/digits/infer`, PREFIX);
    if (memory !== null) {
      await new Promise((r) => setTimeout(r, 1000));
      memory.idleWithDigitsRssMB = procMemoryMB(svc.child.pid as number).rssMB;
      memory.budgetMB = (status['budget'] as { budgetMB: number }).budgetMB;
      memory.statusRssDeltaMB = digits?.rssDeltaMB ?? null;
    }
    await svcClient.openLoop({ rate, durationMs: 1000, window: 64, make });
    await floorClient.openLoop({ rate, durationMs: 500, window: 64, make });
    const floor: number[] = [];
    const service: number[] = [];
    let errors = 0;
    let lost = 0;
    let held = 0;
    for (let h = 0; h < 2; h++) {
      const f = await floorClient.openLoop({ rate, durationMs: halfMs, window: 64, make });
      floor.push(...f.latencies);
      const s = await svcClient.openLoop({ rate, durationMs: halfMs, window: 64, make });
      service.push(...s.latencies);
      errors += s.errors;
      lost += s.lost;
      held += s.held + f.held;
    }
    let sequential: SequentialFigures | undefined;
    if (nodelay) {
      const n = o.quick ? 200 : 400;
      const quarter = Math.ceil(n / 4);
      await svcClient.sequential({ n: 20, make });
      const sf: number[] = [];
      const ss: number[] = [];
      const inside: number[] = [];
      const inf: number[] = [];
      const que: number[] = [];
      let serr = 0;
      // Four interleaved quarters each, so a shift in the machine's load falls on both.
      for (let h = 0; h < 4; h++) {
        sf.push(...(await floorClient.sequential({ n: quarter, make })).latencies);
        const r = await svcClient.sequential({ n: quarter, make });
        ss.push(...r.latencies);
        inside.push(...r.serviceTotals);
        inf.push(...r.serviceInferences);
        que.push(...r.serviceQueues);
        serr += r.errors;
      }
      sequential = { n: ss.length, floorP50Ms: median(sf), floorP99Ms: quantile(sf, 0.99), serviceP50Ms: median(ss), serviceP99Ms: quantile(ss, 0.99), rawSpacedP50Ms: NaN, gapMs: median(ss), insideP50Ms: median(inside), inferenceP50Ms: median(inf), queueP50Ms: median(que), errors: serr };
    }
    if (memory !== null) {
      // A burst at saturation for the peak RSS (VmHWM) of the real CLI process.
      await svcClient.saturate({ window: 64, durationMs: o.quick ? 2000 : 5000, make });
      memory.peakRssMB = procMemoryMB(svc.child.pid as number).hwmMB;
    }
    await floorClient.close();
    await svcClient.close();
    const rawInput = (): { input: { dtype: 'float32'; dims: number[]; data: Float32Array } } => ({ input: { dtype: 'float32', dims: [1, 64], data: new Float32Array(o.digitRow) } });
    const rawFile = join(ROOT, 'models/digits', `${variant}.onnx`);
    const rawBackToBack = await rawP50(rawFile, rawInput(), 2000, 1);
    // Subtracted: raw inference spaced like the requests (1000 / rate ms apart), see rawP50.
    const raw = await rawP50(rawFile, rawInput(), o.quick ? 200 : 400, 1, 1000 / rate);
    if (sequential !== undefined) sequential.rawSpacedP50Ms = await rawP50(rawFile, rawInput(), o.quick ? 200 : 400, 1, sequential.gapMs);
    const fp50 = median(floor);
    const sp50 = median(service);
    const fp99 = quantile(floor, 0.99);
    const sp99 = quantile(service, 0.99);
    return {
      broker: nodelay ? 'mosquitto set_tcp_nodelay true' : 'mosquitto default (nodelay false)',
      nodelay,
      rate,
      floorP50Ms: fp50,
      floorP99Ms: fp99,
      serviceP50Ms: sp50,
      serviceP99Ms: sp99,
      rawInferenceP50Ms: raw,
      rawBackToBackP50Ms: rawBackToBack,
      overheadP50Ms: sp50 - fp50 - raw,
      overheadP99Ms: sp99 - fp99 - raw,
      samples: service.length,
      serviceErrors: errors,
      serviceLost: lost,
      held,
      variant,
      ...(sequential !== undefined ? { sequential } : {}),
    };
  } finally {
    await svc.stop();
    await bare.close();
  }
}

const BURST = 256;

/** Answers/s of a bare responder with `window` requests in flight (the floor of the burst). */
async function bareBurst(broker: Mosquitto, o: { quick: boolean; digitRow: number[] }): Promise<number> {
  const bare = await startBareResponder(broker.url, 'bench/bare/infer');
  try {
    const client = await LoadClient.open(broker.url, 'bench/bare/infer', 'bench');
    const make = jsonMaker(o.digitRow);
    await client.saturate({ window: BURST, durationMs: 1000, make });
    const r = await client.saturate({ window: BURST, durationMs: o.quick ? 2000 : 8000, make });
    await client.close();
    return r.answersPerS;
  } finally {
    await bare.close();
  }
}

async function saturationRuns(broker: Mosquitto, o: { quick: boolean; tmp: string; digitRow: number[] }): Promise<SaturationFigures[]> {
  const out: SaturationFigures[] = [];
  const window = 64;
  const durationMs = o.quick ? 2000 : 8000;
  for (const batching of ['off', 'on'] as const) {
    const dir = join(o.tmp, `svc-sat-${batching}`);
    mkdirSync(dir, { recursive: true });
    const svc = startBenchService({ brokerUrl: broker.url, dir, models: { digits: batching === 'on' ? BATCH_ON : BATCH_OFF }, wrapper: true });
    try {
      await svc.waitLog('service.ready');
      const client = await LoadClient.open(broker.url, `${PREFIX}/models/digits/infer`, PREFIX);
      /** One row: a 1 s warm-up, then `durationMs` at `win` in flight with the service's event loop, GC and allocations over the same window. */
      const measure = async (form: 'json' | 'binary', win: number): Promise<void> => {
        const make = form === 'json' ? jsonMaker(o.digitRow) : binaryMaker(o.digitRow);
        await client.saturate({ window: win, durationMs: 1000, make });
        await svc.eventLoop(true);
        const r = await client.saturate({ window: win, durationMs, make });
        const eld = await svc.eventLoop(true);
        out.push({
          batching,
          form,
          window: win,
          answersPerS: r.answersPerS,
          errors: r.errors,
          p50Ms: median(r.latencies),
          p99Ms: quantile(r.latencies, 0.99),
          eventLoopMaxMs: eld.maxMs,
          eventLoopP99Ms: eld.p99Ms,
          gcMaxMs: eld.gcMaxMs,
          gcTotalMs: eld.gcTotalMs,
          preempted: eld.preempted,
          heapBPerRequest: eld.heapBPerRequest,
          externalBPerRequest: eld.externalBPerRequest,
        });
      };
      for (const form of ['json', 'binary'] as const) await measure(form, window);
      // The burst (issue 16): 256 in flight, JSON, unbatched, same broker as the bare floor below.
      if (batching === 'off') await measure('json', BURST);
      await client.close();
    } finally {
      await svc.stop();
    }
  }
  return out;
}

/** `nagle: false` skips the run on mosquitto's default broker (bench/path-ab.ts). */
export async function runMqttSections(o: { quick: boolean; tmp: string; digitRow: number[]; nagle?: boolean }): Promise<MqttFigures> {
  const nodelay = await startMosquitto({ tcpNoDelay: true });
  const memory = { idleWithDigitsRssMB: NaN, peakRssMB: NaN, budgetMB: NaN, statusRssDeltaMB: null as number | null };
  const latency: LatencyFigures[] = [];
  latency.push(await latencyRun(nodelay, true, o, memory));
  if (o.nagle !== false) {
    const nagle = await startMosquitto({ tcpNoDelay: false });
    try {
      latency.push(await latencyRun(nagle, false, o, null));
    } finally {
      await nagle.stop();
    }
  }
  printTable(
    '2. MQTT round trip at a steady 200 req/s (open loop, window 64), QoS 1 both ways, digits JSON, ms',
    ['broker', 'floor p50', 'floor p99', 'service p50', 'service p99', 'raw inf p50 (spaced / back to back)', 'overhead p50', 'overhead p99', 'samples', 'errors', 'lost', 'variant'],
    latency.map((l) => [l.broker, fmt(l.floorP50Ms), fmt(l.floorP99Ms), fmt(l.serviceP50Ms), fmt(l.serviceP99Ms), `${fmt(l.rawInferenceP50Ms)} / ${fmt(l.rawBackToBackP50Ms)}`, fmt(l.overheadP50Ms), fmt(l.overheadP99Ms), String(l.samples), String(l.serviceErrors), String(l.serviceLost), l.variant]),
  );
  const seq = latency.flatMap((l) => (l.sequential !== undefined ? [l.sequential] : []));
  printTable(
    '2b. MQTT round trip, sequential requests (each sent on the previous answer), QoS 1 both ways, nodelay broker, digits JSON, ms',
    ['requests', 'floor p50', 'floor p99', 'service p50', 'service p99', 'raw inf p50 (spaced one round trip)', 'added p50', 'added p99', 'inside the service p50 (answer latencyMs.total)', 'of it: queue / session.run p50', 'errors'],
    seq.map((q) => [String(q.n), fmt(q.floorP50Ms), fmt(q.floorP99Ms), fmt(q.serviceP50Ms), fmt(q.serviceP99Ms), fmt(q.rawSpacedP50Ms), fmt(q.serviceP50Ms - q.floorP50Ms - q.rawSpacedP50Ms), fmt(q.serviceP99Ms - q.floorP99Ms), fmt(q.insideP50Ms), `${fmt(q.queueP50Ms)} / ${fmt(q.inferenceP50Ms)}`, String(q.errors)]),
  );
  const saturation = await saturationRuns(nodelay, o);
  const bareAnswersPerS = await bareBurst(nodelay, o);
  const svcBurst = saturation.find((s) => s.window === BURST)?.answersPerS ?? NaN;
  const burst: BurstFigures = { window: BURST, bareAnswersPerS, serviceAnswersPerS: svcBurst, ratio: svcBurst / bareAnswersPerS };
  printTable(
    '3+6. Throughput at saturation (closed loop, 64 or 256 in flight), digits, nodelay broker; event-loop delay, GC and bytes allocated per request of the service process',
    ['batching', 'form', 'window', 'answers/s', 'errors', 'p50 ms', 'p99 ms', 'loop max ms', 'loop p99 ms', 'GC max ms', 'GC total ms', 'heap B/req', 'external B/req', 'preempted'],
    saturation.map((s) => [s.batching, s.form, String(s.window), fmt(s.answersPerS, 0), String(s.errors), fmt(s.p50Ms, 2), fmt(s.p99Ms, 2), fmt(s.eventLoopMaxMs, 1), fmt(s.eventLoopP99Ms, 1), fmt(s.gcMaxMs, 1), fmt(s.gcTotalMs, 0), fmt(s.heapBPerRequest, 0), fmt(s.externalBPerRequest, 0), String(s.preempted)]),
  );
  printTable(`3c. Burst: ${BURST} in flight, QoS 1 both ways, same broker, answers/s`, ['bare mqtt.js responder (floor)', 'edge-infer (digits, JSON, unbatched)', 'ratio'], [[fmt(bareAnswersPerS, 0), fmt(svcBurst, 0), `${fmt(burst.ratio, 2)}x`]]);
  return { brokerUrl: nodelay.url, latency, saturation, burst, memory, closeBroker: () => nodelay.stop() };
}
