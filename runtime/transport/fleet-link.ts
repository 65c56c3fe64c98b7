/**
 * The fleet link (issue 15): a second, clean-session MQTT connection beside the request transport,
 * for what a fleet and Home Assistant need from a device:
 * - Home Assistant discovery: the retained device config is published on every connect and again
 *   whenever Home Assistant announces itself (`<haPrefix>/status` = `online`); with discovery off,
 *   `remove` publishes the empty retained payload that deletes the device from Home Assistant.
 * - Remote commands on `<prefix>/cmd/<name>`: MQTT 5 request/response (response topic +
 *   correlation data; over 3.1.1 `replyTo` in the JSON body). Each command gets exactly one reply
 *   `{"ok": true, "result": ...}` or `{"ok": false, "error": {code, message}}`; a command with no
 *   usable reply topic is still executed and its outcome logged. Reply topics pass the same
 *   check as inference replies (transport/reply-topic.ts).
 * - Model state for Home Assistant sensors: `<prefix>/models/<model>/state` (latest top-1 label,
 *   score, variant), retained, QoS 0.
 * - Signed model updates (issue 15 OTA): `<p>/deploy/begin|chunk|end` for the own prefix and each
 *   of `deployPrefixes` (a group's `edge/group/<name>`) go to `onDeploy` as raw payloads; the
 *   device's progress goes out retained on `<prefix>/deploy/state` (QoS 1, queued while offline).
 * Why a second connection: its subscriptions must not live in the request session (a persistent
 * session would queue commands for hours while the device is off), and it keeps the hot request
 * path free of this traffic.
 *
 * Errors: `start` throws EDGE_ERR_TLS / EDGE_ERR_CONFIG_INVALID like MqttService; afterwards
 * connection failures are logged and retried by mqtt.js every `reconnectMs`.
 */
import type { IClientPublishOptions, MqttClient } from 'mqtt';
import { EdgeError, asEdgeError, toErrorPayload } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { createMqttClient } from './connect.js';
import { connectionError } from './connection-errors.js';
import { tlsOptions, type ConnectionOptions } from './mqtt-options.js';
import { checkReplyTopic, DEFAULT_REPLY_TOPIC_POLICY, type ReplyTopicPolicy } from './reply-topic.js';
import { createTopics, type Topics } from './topics.js';

export interface RetainedMessage {
  topic: string;
  payload: Record<string, unknown>;
}

export interface FleetLinkOptions extends ConnectionOptions {
  prefix: string;
  /** Home Assistant: the discovery message to keep published, or null (then `haPrefix` only serves removal). */
  discovery: RetainedMessage | null;
  haPrefix: string;
  /** Run command `name` with its JSON body; resolve with the result or throw an EdgeError. Null: commands off. */
  onCommand: ((name: string, body: Record<string, unknown>) => Promise<unknown>) | null;
  replyPolicy?: ReplyTopicPolicy;
  /** Deploy messages (`kind` = begin | chunk | end); null: deploys off. */
  onDeploy?: ((kind: string, payload: Buffer) => void) | null;
  /** Further prefixes whose `/deploy/+` topics are taken (a group's). */
  deployPrefixes?: readonly string[];
  /** Reconnect period, ms. Default 2000. */
  reconnectMs?: number;
  log?: Logger;
}

/** Command names: one topic level of letters, digits, - and _. */
const COMMAND = /^[a-z][a-z0-9_-]{0,31}$/;

export class FleetLink {
  readonly #o: FleetLinkOptions;
  readonly #client: MqttClient;
  readonly #log: Logger;
  readonly #cmdFilter: string;
  /** The device's topic tree, for the reply-topic check of every command. */
  readonly #topics: Topics;
  #lastError = '';
  #closed = false;

  private constructor(o: FleetLinkOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger;
    this.#cmdFilter = `${o.prefix}/cmd/+`;
    this.#topics = createTopics(o.prefix);
    const v5 = (o.protocolVersion ?? 5) === 5;
    this.#client = createMqttClient(
      o.url,
      {
        protocolVersion: v5 ? 5 : 4,
        clientId: `${o.clientId}-fleet`,
        clean: true,
        keepalive: o.keepaliveS ?? 30,
        reconnectPeriod: o.reconnectMs ?? 2000,
        connectTimeout: o.connectTimeoutMs ?? 10_000,
        queueQoSZero: false,
        ...(o.username !== undefined ? { username: o.username } : {}),
        ...(o.password !== undefined ? { password: o.password } : {}),
      },
      tlsOptions(o.tls),
    );
    this.#client.on('connect', () => this.#onConnect());
    this.#client.on('error', (e) => {
      const err = connectionError(e, o.url);
      if (err.code !== this.#lastError) this.#log.warn('fleet.connection_failed', { error: err });
      this.#lastError = err.code;
    });
    this.#client.on('message', (topic, payload, packet) => void this.#onMessage(topic, payload, packet.properties));
  }

  /** Throws EDGE_ERR_CONFIG_INVALID (prefix, URL) or EDGE_ERR_TLS; connects in the background. */
  static start(o: FleetLinkOptions): FleetLink {
    createTopics(o.prefix);
    return new FleetLink(o);
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  #onConnect(): void {
    this.#lastError = '';
    const filters = [...(this.#o.discovery !== null ? [`${this.#o.haPrefix}/status`] : []), ...(this.#o.onCommand !== null ? [this.#cmdFilter] : []), ...(this.#o.onDeploy ? [this.#o.prefix, ...(this.#o.deployPrefixes ?? [])].map((p) => `${p}/deploy/+`) : [])];
    if (filters.length > 0) this.#client.subscribe(filters, { qos: 1 });
    this.#publishDiscovery();
    this.#log.info('fleet.connected', { commands: this.#o.onCommand !== null ? this.#cmdFilter : null, discovery: this.#o.discovery?.topic ?? null });
  }

  #publishDiscovery(): void {
    const d = this.#o.discovery;
    if (d === null || !this.#client.connected) return;
    this.#client.publish(d.topic, JSON.stringify(d.payload), { qos: 1, retain: true });
  }

  /** Replaces the discovery message (models changed after a reload) and publishes it. */
  setDiscovery(d: RetainedMessage | null): void {
    this.#o.discovery = d;
    this.#publishDiscovery();
  }

  /** Publishes the empty retained payload that removes `topic`'s device from Home Assistant; resolves when the broker has it. */
  async remove(topic: string, timeoutMs = 5000): Promise<boolean> {
    const ok = await this.#waitConnected(timeoutMs);
    if (!ok) return false;
    await this.#client.publishAsync(topic, '', { qos: 1, retain: true });
    return true;
  }

  /** Latest result of `model` for Home Assistant's sensor; dropped while offline. */
  publishState(model: string, state: Record<string, unknown>): void {
    if (!this.#client.connected || this.#closed) return;
    this.#client.publish(`${this.#o.prefix}/models/${model}/state`, JSON.stringify(state), { qos: 0, retain: true });
  }

  /** The device's deploy progress, retained on `<prefix>/deploy/state`; QoS 1, queued by mqtt.js while offline. */
  publishDeployState(state: object): void {
    if (this.#closed) return;
    this.#client.publish(`${this.#o.prefix}/deploy/state`, JSON.stringify(state), { qos: 1, retain: true });
  }

  async #waitConnected(timeoutMs: number): Promise<boolean> {
    if (this.#client.connected) return true;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#client.off('connect', on);
        resolve(false);
      }, timeoutMs);
      const on = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      this.#client.once('connect', on);
    });
  }

  async #onMessage(topic: string, payload: Buffer, props: { responseTopic?: string; correlationData?: Buffer } | undefined): Promise<void> {
    if (topic === `${this.#o.haPrefix}/status`) {
      if (payload.toString('utf8').trim() === 'online') {
        this.#log.info('fleet.ha_online', { note: 'Home Assistant (re)started: discovery republished' });
        this.#publishDiscovery();
      }
      return;
    }
    if (this.#o.onDeploy && topic.includes('/deploy/')) {
      const kind = topic.slice(topic.lastIndexOf('/') + 1);
      const base = topic.slice(0, -`/deploy/${kind}`.length);
      if (kind !== 'state' && (base === this.#o.prefix || (this.#o.deployPrefixes ?? []).includes(base))) this.#o.onDeploy(kind, payload);
      return;
    }
    const head = `${this.#o.prefix}/cmd/`;
    if (!topic.startsWith(head) || this.#o.onCommand === null) return;
    const name = topic.slice(head.length);
    let body: Record<string, unknown> = {};
    let reply: string | undefined = props?.responseTopic;
    let outcome: { ok: true; result: unknown } | { ok: false; error: unknown };
    try {
      if (payload.length > 0) {
        let doc: unknown;
        try {
          doc = JSON.parse(payload.toString('utf8'));
        } catch {
          throw new EdgeError('EDGE_ERR_BAD_JSON', `command ${name}: the body is not JSON`);
        }
        if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new EdgeError('EDGE_ERR_BAD_REQUEST', `command ${name}: the body must be a JSON object`);
        body = doc as Record<string, unknown>;
        if (reply === undefined && typeof body['replyTo'] === 'string') reply = body['replyTo'];
      }
      if (!COMMAND.test(name)) throw new EdgeError('EDGE_ERR_UNKNOWN_COMMAND', `"${name.slice(0, 64)}" is not a command name`);
      outcome = { ok: true, result: await this.#o.onCommand(name, body) };
      this.#log.info('fleet.command', { command: name, ok: true });
    } catch (e) {
      const err = asEdgeError(e);
      this.#log.warn('fleet.command', { command: name.slice(0, 64), ok: false, code: err.code, message: err.message });
      outcome = { ok: false, error: toErrorPayload(err) };
    }
    if (reply === undefined) return;
    const refused = checkReplyTopic(reply, undefined, this.#topics, this.#o.replyPolicy ?? DEFAULT_REPLY_TOPIC_POLICY);
    if (refused !== null) {
      this.#log.warn('fleet.reply_refused', { command: name, code: refused.code, message: refused.message });
      return;
    }
    const opts: IClientPublishOptions = { qos: 1 };
    if (props?.correlationData !== undefined) opts.properties = { correlationData: props.correlationData };
    this.#client.publish(reply, JSON.stringify({ command: name, ...outcome }), opts);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#client.endAsync(false);
  }
}
