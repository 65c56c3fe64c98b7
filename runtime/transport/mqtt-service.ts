/**
 * The service side of MQTT: takes requests on `<prefix>/models/+/infer`, answers each exactly once
 * through the durable outbox, keeps the retained status, reconnects forever (issue 3).
 *
 * Acknowledgement contract: a QoS 1 request is PUBACKed only after its answer is durable in the
 * outbox or already acknowledged by the broker (the answer is published while it is being written).
 * The deferred PUBACK and every other use of mqtt.js internals are in mqtt-session.ts (`deferAcks`).
 *
 * Errors: `start` throws EDGE_ERR_TLS (unreadable TLS files) or EDGE_ERR_CONFIG_INVALID (prefix, or
 * a broker URL that is not mqtt:// or mqtts://; see connect.ts);
 * afterwards nothing throws: connection problems are logged once per state change with
 * EDGE_ERR_BROKER_UNREACHABLE / EDGE_ERR_BROKER_AUTH / EDGE_ERR_TLS and retried with backoff.
 */
import type { MqttClient } from 'mqtt';
import { performance } from 'node:perf_hooks';
import { asEdgeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { backoffDelayMs, connectionError, type BackoffOptions } from './connection-errors.js';
import { createMqttClient, parseBrokerUrl, type TlsSocketOptions } from './connect.js';
import { createStore, deferAcks, dropConnection, InboundWindow, setNoDelay, type AckFn, type LeaveFn, type PublishPacket } from './mqtt-session.js';
import { clientOptions, publishOptions, publishPayload, tlsOptions, type ConnectionOptions } from './mqtt-options.js';
import { Outbox, type OutboxOptions } from './outbox.js';
import type { ReplyTopicPolicy } from './reply-topic.js';
import { RequestPath } from './request-path.js';
import { createTopics, type Topics } from './topics.js';
import { DEFAULT_INBOUND_LIMIT, DEFAULT_LIMITS, type InferenceHandler, type RequestLimits } from './types.js';

export { InboundWindow } from './mqtt-session.js';

export interface MqttServiceOptions extends ConnectionOptions {
  /** Topic prefix, e.g. `edge/<deviceId>` (see topics.ts defaultPrefix). */
  prefix: string;
  handler: InferenceHandler;
  /** Outbox directory and bounds (log and clock are taken from here). */
  outbox: Omit<OutboxOptions, 'log' | 'nowMs'>;
  /** Default DEFAULT_LIMITS (config/limits.ts: 1 MiB, 64). */
  limits?: Partial<RequestLimits>;
  /** Reconnect backoff. Default {minMs: 500, maxMs: 30000}. */
  reconnect?: Partial<BackoffOptions>;
  /** Which reply topics requests may name (reply-topic.ts). Default: anything but the refused ones. */
  replyTopics?: ReplyTopicPolicy;
  /** Most answers handed to mqtt.js and not yet PUBACKed by the broker. Default 64. */
  publishWindow?: number;
  /**
   * Subscription filter for requests; default `<prefix>/models/+/infer`. A group member (issue 15)
   * uses `$share/<group>/edge/group/<group>/models/+/infer` with `prefix` edge/group/<group>.
   */
  requestFilter?: string;
  /**
   * Inbound flow control (issue 12 item 15, mqtt-session.ts point 5): at most `handler.queueLimit(model)`
   * requests of a model open at once; pass one window to every connection feeding the same models.
   * Default: a window of this connection's own.
   */
  inbound?: InboundWindow;
  /** Publish a retained status and set the will (default true); false for a group connection, whose prefix is shared. */
  announce?: boolean;
  log?: Logger;
  /** Monotonic ms. Default performance.now. */
  nowMs?: () => number;
}

export interface TransportStats {
  connected: boolean;
  /** Answers waiting in the outbox (including in flight). */
  outboxDepth: number;
  /** Of those, answers not durable yet (their group commit is still being written). */
  outboxWriting: number;
  outboxDropped: number;
  outboxDegraded: boolean;
  requestsReceived: number;
  /** Answers (results and errors, not the errors-topic copies) the broker acknowledged. */
  answersPublished: number;
  /** Error answers queued. */
  errorsAnswered: number;
  /** Requests received and not yet answered. */
  inFlightRequests: number;
  reconnects: number;
  /** Retained requests dropped unanswered (issue 12 item 12). */
  retainedIgnored: number;
  /** QoS 1 requests left unacknowledged during a stop, for the broker to redeliver after the restart. */
  leftForRestart: number;
  /** Times reading from the broker was held because a model had `queueLimit` requests open (issue 12 item 15). */
  inboundHolds: number;
}

export interface StopOptions {
  /** Longest wait for in-flight requests and the outbox flush, ms. Default 5000. */
  drainTimeoutMs?: number;
}

export class MqttService {
  readonly topics: Topics;
  readonly #o: MqttServiceOptions;
  readonly #log: Logger;
  readonly #nowMs: () => number;
  readonly #limits: RequestLimits;
  readonly #backoff: BackoffOptions;
  readonly #outbox: Outbox;
  readonly #client: MqttClient;
  readonly #incomingStore = createStore();
  readonly #outgoingStore = createStore();
  #status: Record<string, unknown> = {};
  #stopping = false;
  #stopped = false;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  /** Retries a degraded outbox's disk even when no answer comes (retryDisk is a no-op otherwise). */
  readonly #diskRetryTimer: NodeJS.Timeout;
  #lastState = '';
  #inFlightPublishes = 0;
  #inFlightRequests = 0;
  #requests = 0;
  #published = 0;
  #reconnects = 0;
  #retainedIgnored = 0;
  #leftForRestart = 0;
  #idleWaiters: (() => void)[] = [];
  readonly #path: RequestPath;
  #connectWaiters: (() => void)[] = [];
  #subscribed = false;
  readonly #inbound: InboundWindow;

  private constructor(o: MqttServiceOptions, outbox: Outbox, tls: TlsSocketOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger;
    this.#nowMs = o.nowMs ?? (() => performance.now());
    this.#limits = { ...DEFAULT_LIMITS, ...(o.limits ?? {}) };
    this.#backoff = { minMs: o.reconnect?.minMs ?? 500, maxMs: o.reconnect?.maxMs ?? 30_000 };
    this.topics = createTopics(o.prefix);
    this.#outbox = outbox;
    this.#path = new RequestPath({ topics: this.topics, handler: o.handler, limits: this.#limits, replyTopics: o.replyTopics, log: this.#log, nowMs: this.#nowMs, enqueue: (m) => this.#outbox.enqueue(m), pump: () => this.#pump(), stopping: () => this.#stopping });
    this.#diskRetryTimer = setInterval(() => void this.#outbox.retryDisk(), Math.max(50, Math.min(o.outbox.retryMs ?? 5000, 5000)));
    this.#diskRetryTimer.unref();
    const opts = clientOptions(o, o.announce === false ? null : { topic: this.topics.status, payload: Buffer.from(JSON.stringify({ state: 'offline' })) });
    opts.incomingStore = this.#incomingStore;
    opts.outgoingStore = this.#outgoingStore;
    this.#client = createMqttClient(o.url, opts, tls);
    this.#inbound = o.inbound ?? new InboundWindow((model) => o.handler.queueLimit?.(model) ?? DEFAULT_INBOUND_LIMIT);
    deferAcks(this.#client, (packet, ack, leave) => this.#onPublish(packet, ack, leave), { window: this.#inbound, keyOf: (packet) => this.topics.modelOfInferTopic(packet.topic) ?? '' });
    setNoDelay(this.#client);
    this.#client.on('connect', () => this.#onConnect());
    this.#client.on('error', (e) => this.#onError(e));
    this.#client.on('close', () => this.#onClose());
  }

  /** Opens the outbox and starts connecting (does not wait for the broker). Throws EDGE_ERR_TLS / EDGE_ERR_CONFIG_INVALID (prefix, URL scheme). */
  static async start(options: MqttServiceOptions): Promise<MqttService> {
    createTopics(options.prefix);
    parseBrokerUrl(options.url);
    const tls = tlsOptions(options.tls);
    const log = options.log ?? silentLogger;
    const outbox = await Outbox.open({ ...options.outbox, log, ...(options.nowMs ? { nowMs: options.nowMs } : {}) });
    return new MqttService(options, outbox, tls);
  }

  get degraded(): boolean {
    return this.#outbox.degraded;
  }

  /** Resolves true once connected and the request subscription is acknowledged, false after `timeoutMs`. */
  waitConnected(timeoutMs: number): Promise<boolean> {
    if (this.#client.connected && this.#lastState === 'connected' && this.#subscribed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.#connectWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Sets the birth facts (version, profile, plan, models, backend...) published retained with state "online". */
  setStatus(facts: Record<string, unknown>): void {
    this.#status = facts;
    if (this.#client.connected && !this.#stopping) this.#publishStatus('online');
  }

  /** Publishes telemetry at QoS 0 when connected; returns false when it was dropped (offline). */
  publishTelemetry(obj: unknown): boolean {
    if (!this.#client.connected || this.#stopped) return false;
    this.#client.publish(this.topics.telemetry, JSON.stringify(obj), { qos: 0 });
    return true;
  }

  stats(): TransportStats {
    const ob = this.#outbox.stats();
    return {
      connected: this.#client.connected,
      outboxDepth: ob.depth,
      outboxWriting: ob.writing,
      outboxDropped: ob.dropped,
      outboxDegraded: ob.degraded,
      requestsReceived: this.#requests,
      answersPublished: this.#published,
      errorsAnswered: this.#path.errors,
      inFlightRequests: this.#inFlightRequests,
      reconnects: this.#reconnects,
      retainedIgnored: this.#retainedIgnored,
      leftForRestart: this.#leftForRestart,
      inboundHolds: this.#inbound.holds,
    };
  }

  #state(state: string, log: () => void): void {
    if (state === this.#lastState) return;
    this.#lastState = state;
    log();
  }

  #onConnect(): void {
    setNoDelay(this.#client);
    this.#attempt = 0;
    this.#state('connected', () => this.#log.info('mqtt.connected', { url: this.#o.url, clientId: this.#o.clientId, prefix: this.topics.prefix }));
    if (this.#stopping) return;
    // Retain handling 2: the broker sends no retained message on (re)subscribing, so a request
    // published with retain=1 is not replayed on every start (issue 12 item 12). MQTT 3.1.1 has no
    // such option: #onPublish drops retained deliveries there.
    const v5 = (this.#o.protocolVersion ?? 5) === 5;
    const filter = this.#o.requestFilter ?? this.topics.inferFilter;
    this.#client.subscribe(filter, v5 ? { qos: 1, rh: 2 } : { qos: 1 }, (err) => {
      if (err) this.#log.error('mqtt.subscribe_failed', { error: asEdgeError(err), filter });
      // waitConnected means "requests published now are taken": resolve after the SUBACK.
      this.#subscribed = err === null || err === undefined;
      for (const w of this.#connectWaiters.splice(0)) w();
    });
    this.#publishStatus('online');
    this.#pump();
  }

  #onError(e: Error): void {
    const err = connectionError(e, this.#o.url);
    this.#state(err.code, () => this.#log.error('mqtt.connection_failed', { error: err }));
  }

  #onClose(): void {
    this.#subscribed = false;
    if (this.#lastState === 'connected') this.#state('disconnected', () => this.#log.warn('mqtt.disconnected', { url: this.#o.url }));
    if (this.#stopped || this.#reconnectTimer !== undefined) return;
    const delay = backoffDelayMs(this.#attempt++, this.#backoff);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#stopped) return;
      this.#reconnects++;
      this.#client.reconnect({ incomingStore: this.#incomingStore, outgoingStore: this.#outgoingStore });
      setNoDelay(this.#client);
    }, delay);
  }

  #publishStatus(state: 'online' | 'offline', cb?: () => void): void {
    if (this.#o.announce === false) {
      cb?.();
      return;
    }
    const body = state === 'online' ? { state, ...this.#status } : { state };
    this.#client.publish(this.topics.status, JSON.stringify(body), { qos: 1, retain: true }, () => cb?.());
  }

  /** Hands outbox messages to mqtt.js while connected, at most `publishWindow` unacknowledged. */
  #pump(): void {
    const window = this.#o.publishWindow ?? 64;
    const v5 = (this.#o.protocolVersion ?? 5) === 5;
    while (this.#client.connected && this.#inFlightPublishes < window) {
      const entry = this.#outbox.takeNext();
      if (entry === undefined) break;
      this.#inFlightPublishes++;
      const m = entry.message;
      this.#client.publish(m.topic, publishPayload(m), publishOptions(m, v5), (err) => {
        this.#inFlightPublishes--;
        const reasonCode = (err as { code?: unknown } | undefined)?.code;
        if (err && typeof reasonCode === 'number' && reasonCode >= 0x80) {
          // The broker refused this publish for good (MQTT 5 reason >= 0x80, e.g. 0x87 not authorized
          // for a reply topic outside the ACL): retrying would loop forever. Drop it, loudly.
          this.#log.warn('mqtt.publish_refused', { topic: m.topic, reasonCode, hint: 'the broker refuses this topic (ACL?); the answer was dropped' });
          void this.#outbox.ack(entry.seq).then(() => this.#checkIdle());
        } else if (err) {
          this.#outbox.release(entry.seq);
        } else {
          if (m.topic !== this.topics.errors) this.#published++;
          void this.#outbox.ack(entry.seq).then(() => this.#checkIdle());
        }
        this.#pump();
      });
    }
  }

  #onPublish(packet: PublishPacket, ack: AckFn, leave: LeaveFn): void {
    if (packet.retain) {
      // A retained request is replayed by the broker on every subscribe: never answer it (issue 12
      // item 12). Acknowledged so it is not redelivered either.
      ack();
      if (this.#retainedIgnored++ === 0) this.#log.warn('request.retained_ignored', { topic: packet.topic, hint: 'requests must be published with retain=0; retained ones are not answered' });
      return;
    }
    if (this.#stopping && packet.qos > 0) {
      // A planned stop keeps the subscription in the broker's session (issue 12 item 8): a QoS 1
      // request that arrives now is neither answered nor acknowledged, so the broker delivers it
      // again when the service is back.
      this.#leftForRestart++;
      leave();
      return;
    }
    this.#requests++;
    this.#inFlightRequests++;
    // Taken first, so the time slicer's wait counts in the request's total.
    this.#path.take(packet, this.topics.modelOfInferTopic(packet.topic), this.#nowMs(), () => {
      this.#inFlightRequests--;
      ack();
      this.#pump();
      this.#checkIdle();
    });
  }

  #checkIdle(): void {
    if (this.#inFlightRequests > 0) return;
    if (this.#outbox.stats().depth > 0 && this.#client.connected) return;
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  #waitIdle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.#idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
      this.#checkIdle();
    });
  }

  /**
   * Stops taking requests, waits for in-flight answers and the outbox flush up to `drainTimeoutMs`,
   * publishes retained `offline`, and ends the connection, all within `drainTimeoutMs` + 1 s
   * whatever the broker does (it may vanish at any moment: issue 12 item 1). The subscription stays
   * in the broker's session (no UNSUBSCRIBE, issue 12 item 8): QoS 1 requests arriving during and
   * after the stop are left unacknowledged and delivered again after the restart. What the broker
   * did not take stays in the outbox for the next start. Never rejects.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const deadline = this.#nowMs() + (options.drainTimeoutMs ?? 5000);
    const left = (): number => Math.max(0, deadline - this.#nowMs());
    await this.#waitIdle(left());
    if (this.#client.connected) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(Math.max(left(), 200), left() + 500));
        this.#publishStatus('offline', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    this.#stopped = true;
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    clearInterval(this.#diskRetryTimer);
    this.#path.close();
    // end(false) waits for every unacknowledged publish: forever if the broker is gone. Bounded:
    // what it did not take stays in the outbox (answers) or is the will's business (status).
    await new Promise<void>((resolve) => {
      const t = setTimeout(
        () => {
          dropConnection(this.#client);
          resolve();
        },
        Math.max(left(), 300),
      );
      this.#client.end(false, {}, () => {
        clearTimeout(t);
        resolve();
      });
    });
    await this.#outbox.close();
    this.#log.info('mqtt.stopped', { outboxDepth: this.#outbox.stats().depth, inboundHolds: this.#inbound.holds });
  }
}
