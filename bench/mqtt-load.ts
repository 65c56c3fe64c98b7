/**
 * MQTT 5 load generation for the benchmarks: an open-loop client (steady rate, bounded window in
 * flight), a closed-loop saturating client (a fixed window always in flight), and a bare responder
 * that answers at once (the broker's own floor). Requests carry a response topic and correlation
 * data; answers are matched by correlation data. QoS 1 both ways.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connect, type IClientPublishOptions, type MqttClient } from 'mqtt';

export type RequestMaker = (i: number) => { payload: Buffer; properties: NonNullable<IClientPublishOptions['properties']> };

export interface OpenLoopResult {
  sent: number;
  answered: number;
  /** Error answers (EDGE_ERR_*), not counted in latencies. */
  errors: number;
  /** Requests sent late because the window was full. */
  held: number;
  lost: number;
  /** Scheduled send -> answer received, ms, successful answers only. */
  latencies: number[];
  achievedRate: number;
}

export interface SaturateResult {
  answered: number;
  errors: number;
  answersPerS: number;
  latencies: number[];
}

export function connectClient(url: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = connect(url, { protocolVersion: 5, clean: true, reconnectPeriod: 0, clientId: `bench-${randomUUID().slice(0, 8)}` });
    // TCP_NODELAY on the bench's own sockets too (the service sets it on its own): with Nagle here,
    // the load generator and the bare responder added ~25 ms to every figure, floor included.
    c.once('connect', () => {
      (c.stream as unknown as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
      resolve(c);
    });
    c.once('error', reject);
  });
}

export function endClient(c: MqttClient): Promise<void> {
  return new Promise((resolve) => c.end(true, {}, () => resolve()));
}

function isError(payload: Buffer, contentType: string | undefined): boolean {
  return contentType !== 'application/x-edge-tensor' && payload.includes('"error":{');
}

/** A client that sends requests on `topic` and collects answers on its own reply topic. */
export class LoadClient {
  readonly #c: MqttClient;
  readonly #reply: string;
  readonly #topic: string;
  #pending = new Map<string, { at: number; done: (ok: boolean, payload: Buffer) => void }>();

  private constructor(c: MqttClient, topic: string, reply: string) {
    this.#c = c;
    this.#topic = topic;
    this.#reply = reply;
    c.on('message', (_t, payload, packet) => {
      const cd = packet.properties?.correlationData;
      if (cd === undefined) return;
      const key = Buffer.from(cd).toString();
      const p = this.#pending.get(key);
      if (p === undefined) return;
      this.#pending.delete(key);
      p.done(!isError(payload, packet.properties?.contentType), payload);
    });
  }

  static async open(url: string, topic: string, replyPrefix: string): Promise<LoadClient> {
    const c = await connectClient(url);
    const reply = `${replyPrefix}/replies/${randomUUID()}`;
    await c.subscribeAsync(reply, { qos: 1 });
    return new LoadClient(c, topic, reply);
  }

  close(): Promise<void> {
    return endClient(this.#c);
  }

  /** Sends request `i`; `done(ok, ms)` runs on its answer (ms from `scheduledAt`). */
  #send(i: number, make: RequestMaker, scheduledAt: number, done: (ok: boolean, ms: number, payload: Buffer) => void): void {
    const key = `${i}-${randomUUID().slice(0, 8)}`;
    const r = make(i);
    this.#pending.set(key, { at: scheduledAt, done: (ok, payload) => done(ok, performance.now() - scheduledAt, payload) });
    this.#c.publish(this.#topic, r.payload, { qos: 1, properties: { ...r.properties, responseTopic: this.#reply, correlationData: Buffer.from(key) } });
  }

  /** Open loop: request i is due at start + i/rate; never more than `window` unanswered. */
  async openLoop(o: { rate: number; durationMs: number; window: number; make: RequestMaker; settleMs?: number }): Promise<OpenLoopResult> {
    const total = Math.round((o.rate * o.durationMs) / 1000);
    const period = 1000 / o.rate;
    const res: OpenLoopResult = { sent: 0, answered: 0, errors: 0, held: 0, lost: 0, latencies: [], achievedRate: 0 };
    let inFlight = 0;
    let i = 0;
    let heldNow = false;
    const start = performance.now();
    let allAnswered: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      allAnswered = resolve;
    });
    const onAnswer = (ok: boolean, ms: number): void => {
      inFlight--;
      if (ok) {
        res.answered++;
        res.latencies.push(ms);
      } else res.errors++;
      if (i >= total && inFlight === 0) allAnswered();
    };
    await new Promise<void>((resolveSent) => {
      const tick = (): void => {
        const now = performance.now();
        while (i < total && start + i * period <= now) {
          if (inFlight >= o.window) {
            if (!heldNow) {
              res.held++;
              heldNow = true;
            }
            setTimeout(tick, 1);
            return;
          }
          heldNow = false;
          inFlight++;
          res.sent++;
          this.#send(i, o.make, start + i * period, onAnswer);
          i++;
        }
        if (i >= total) {
          resolveSent();
          return;
        }
        setTimeout(tick, Math.max(0, start + i * period - performance.now()));
      };
      tick();
    });
    const sentAt = performance.now();
    if (inFlight > 0) await Promise.race([finished, new Promise((r) => setTimeout(r, o.settleMs ?? 5000))]);
    res.achievedRate = res.sent / ((sentAt - start) / 1000);
    res.lost = res.sent - res.answered - res.errors;
    this.#pending.clear();
    return res;
  }

  /** Sequential: `n` requests one after the other, each sent when the previous answer arrived (issue 16's measure). */
  async sequential(o: { n: number; make: RequestMaker; timeoutMs?: number }): Promise<SaturateResult & { serviceTotals: number[]; serviceInferences: number[]; serviceQueues: number[] }> {
    const res = { answered: 0, errors: 0, answersPerS: 0, latencies: [] as number[], serviceTotals: [] as number[], serviceInferences: [] as number[], serviceQueues: [] as number[] };
    const start = performance.now();
    for (let i = 0; i < o.n; i++) {
      const r = await new Promise<{ ok: boolean; ms: number; payload: Buffer } | null>((resolve) => {
        const t = setTimeout(() => resolve(null), o.timeoutMs ?? 5000);
        this.#send(i, o.make, performance.now(), (ok, ms, payload) => {
          clearTimeout(t);
          resolve({ ok, ms, payload });
        });
      });
      if (r === null) break;
      if (r.ok) {
        res.answered++;
        res.latencies.push(r.ms);
      } else res.errors++;
      // The service's own view of the request (edge-infer answers carry latencyMs.total: receipt -> encoding).
      const l = r.ok && r.payload[0] === 0x7b ? (JSON.parse(r.payload.toString()) as { latencyMs?: { total?: number; inference?: number; queue?: number } }).latencyMs : undefined;
      if (typeof l?.total === 'number' && typeof l.inference === 'number' && typeof l.queue === 'number') {
        res.serviceTotals.push(l.total);
        res.serviceInferences.push(l.inference);
        res.serviceQueues.push(l.queue);
      }
    }
    res.answersPerS = res.answered / ((performance.now() - start) / 1000);
    this.#pending.clear();
    return res;
  }

  /** Closed loop: keeps `window` requests in flight for `durationMs`; counts answers in that time. */
  async saturate(o: { window: number; durationMs: number; make: RequestMaker }): Promise<SaturateResult> {
    const res: SaturateResult = { answered: 0, errors: 0, answersPerS: 0, latencies: [] };
    let i = 0;
    let stop = false;
    const start = performance.now();
    let inFlight = 0;
    let idle: () => void = () => undefined;
    const one = (): void => {
      if (stop) return;
      inFlight++;
      this.#send(i++, o.make, performance.now(), (ok, ms) => {
        inFlight--;
        if (!stop) {
          if (ok) {
            res.answered++;
            res.latencies.push(ms);
          } else res.errors++;
          one();
        } else if (inFlight === 0) idle();
      });
    };
    for (let k = 0; k < o.window; k++) one();
    await new Promise((r) => setTimeout(r, o.durationMs));
    stop = true;
    const elapsed = performance.now() - start;
    res.answersPerS = res.answered / (elapsed / 1000);
    if (inFlight > 0)
      await Promise.race([
        new Promise<void>((r) => {
          idle = r;
        }),
        new Promise((r) => setTimeout(r, 5000)),
      ]);
    this.#pending.clear();
    return res;
  }
}

/** A plain client that answers every request on `topic` at once, QoS 1, with a result-sized JSON body. */
export async function startBareResponder(url: string, topic: string): Promise<{ close(): Promise<void> }> {
  const c = await connectClient(url);
  const body = Buffer.from(JSON.stringify({ id: 'x', model: 'digits', variant: 'bare', outputs: { logits: { dtype: 'float32', shape: [1, 10], data: [-10.43, -4.89, 2.27, 14.56, -3.1, 0.5, -7.2, 1.1, 0.2, -2.2] } }, top: [{ index: 3, label: '3', score: 1 }], latencyMs: { queue: 0.01, inference: 0.05, total: 0.1 } }));
  c.on('message', (_t, _payload, packet) => {
    const rt = packet.properties?.responseTopic;
    if (rt === undefined) return;
    const cd = packet.properties?.correlationData;
    c.publish(rt, body, { qos: 1, properties: { contentType: 'application/json', ...(cd !== undefined ? { correlationData: cd } : {}) } });
  });
  await c.subscribeAsync(topic, { qos: 1 });
  return { close: () => endClient(c) };
}
