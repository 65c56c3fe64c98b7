/**
 * The ONE seam between edge-infer and mqtt.js' internals (issue 12, STYLE.md 12). Everything here
 * leans on behaviour of mqtt.js that is not its documented API, so mqtt is pinned to an exact
 * version in package.json (MQTTJS_PINNED), and test/mqtt-session-contract.test.ts checks each
 * point below against the installed version and a real mosquitto: it fails when an upgrade changes
 * one of them. Nothing else in runtime/ may deep-import mqtt or touch a client's stream.
 *
 * 1. Loading. `MqttClient` comes from mqtt/lib/client and `Store` from mqtt/lib/store (public
 *    subpaths of the package's `exports` "./*", but not its documented API), so the ws, socks and
 *    browser stream builders of mqtt.js' `connect()` front end are never loaded.
 * 2. Timers. mqtt.js' KeepaliveManager requires lib/get-timer, which loads `worker-timers` (and 21
 *    files of @babel/runtime) although Node always gets native timers from it. Before the client is
 *    loaded, a get-timer whose every variant is native setInterval/clearInterval is registered in
 *    the CJS cache (unless mqtt.js' own is already loaded), and every client gets NATIVE_TIMER as
 *    its `timerVariant`. Consequence: in this process `timerVariant: 'worker'` also gets native timers.
 * 3. Deferred PUBACK. mqtt.js sends the PUBACK of an incoming QoS 1 publish when `handleMessage`
 *    (its public hook) calls back, and that would be the natural way to acknowledge a request only
 *    once its answer is durable. But mqtt.js handles incoming packets one at a time and takes the
 *    next one only after that callback (build/lib/client.js `work`, handlers/publish.js): waiting
 *    there would hold PINGRESPs and the PUBACKs of our own answers behind every inference (the
 *    contract test shows this, so it will say when an upgrade lifts it). So `deferAcks` calls back
 *    at once WITH an error (publish.js then skips its PUBACK and goes on) and hands the caller an
 *    `ack()` that writes the PUBACK itself: the 4 bytes 0x40 0x02 <id> (MQTT 3.1.1 3.4; MQTT 5
 *    3.4.2.1: reason code and properties omitted = Success), on the connection the publish came in
 *    on only. A request whose connection died first is redelivered by the broker (duplicates are
 *    allowed). PUBACKs may go out of order across requests; brokers match them by packet id.
 * 4. The client's current socket (`client.stream`): TCP_NODELAY on it, and destroying it when a
 *    stop must not wait for a broker that is gone.
 * 5. Inbound flow control (issue 12 item 15). Because mqtt.js takes no next packet until the
 *    `handleMessage` callback runs (point 3), holding that callback stops reading: the rest of the
 *    parsed chunk waits, mqtt.js' Writable stops taking data and the socket is paused (TCP then
 *    pushes back on the broker). `deferAcks` with an InboundWindow holds it exactly while the
 *    request that just arrived cannot be taken: its model already has `limitOf(model)` requests
 *    open (taken and not yet acknowledged or left). The request is parked, unacknowledged, and
 *    taken as soon as one of its model's requests settles. Why not just MQTT 5 Receive Maximum:
 *    mosquitto 2.0.11 ignores it (and max_inflight_messages) for the backlog it queued while a
 *    persistent session was away: on reconnect it sent 64, 167, 180 and 196 unacknowledged
 *    messages to clients that asked for 8, 64, 20 and 64 (bare mqtt.js clients, 100-200 queued),
 *    so after a planned restart the backlog overflowed the model queue (EDGE_ERR_OVERLOADED).
 *    Receive Maximum is still sent (mqtt-options.ts): a broker that honours it never makes us hold.
 *    Cost: while a request is parked, the PINGRESPs and answer PUBACKs behind it wait too (one
 *    inference of its model at a time); mqtt.js declares the link dead after 1.5 x keepalive
 *    without any received ack, which needs a backlog of (1.5 x keepalive / inference time)
 *    requests queued behind a full model: the broker then redelivers what was not acknowledged.
 */
import { createRequire, Module } from 'node:module';
import type { IClientOptions, MqttClient, Store } from 'mqtt';
import type { StreamBuilder } from 'mqtt/lib/shared';

export type { StreamBuilder };

/** The exact mqtt.js version this module was checked against (package.json pins it). */
export const MQTTJS_PINNED = '5.16.0';

interface Timer {
  set: (fn: () => void, ms: number) => unknown;
  clear: (id: unknown) => void;
}

const NATIVE_TIMER: Timer = { set: (fn, ms) => setInterval(fn, ms), clear: (id) => clearInterval(id as NodeJS.Timeout) };

const require = createRequire(import.meta.url);

/** No-op when mqtt.js' get-timer is already loaded or (another mqtt.js layout) does not exist. */
function registerNativeGetTimer(): void {
  let file: string;
  try {
    file = require.resolve('mqtt/lib/get-timer');
  } catch {
    return;
  }
  if (require.cache[file] !== undefined) return;
  const m = new Module(file);
  m.filename = file;
  m.loaded = true;
  m.exports = { __esModule: true, default: (): Timer => NATIVE_TIMER };
  require.cache[file] = m;
}

registerNativeGetTimer();
const MqttClientClass = (require('mqtt/lib/client') as { default: typeof MqttClient }).default;
const StoreClass = (require('mqtt/lib/store') as { default: typeof Store }).default;

/** The installed mqtt.js version (for the contract test and status). */
export function mqttjsVersion(): string {
  return (require('mqtt/package.json') as { version: string }).version;
}

/** A new MqttClient over `build` (it starts connecting at once). `options.timerVariant` is replaced by native timers. */
export function newMqttClient(build: StreamBuilder, options: IClientOptions): MqttClient {
  return new MqttClientClass(build, { ...options, timerVariant: NATIVE_TIMER as unknown as IClientOptions['timerVariant'] });
}

/** A new in-memory mqtt.js message store (for incomingStore / outgoingStore). */
export function createStore(): Store {
  return new StoreClass();
}

export type PublishPacket = Parameters<MqttClient['handleMessage']>[0];

/**
 * Acknowledges one incoming publish: writes its PUBACK when it is QoS 1 and its connection is still
 * the client's current, connected one; otherwise (QoS 0, connection gone) does nothing. Either way
 * it frees the publish's place in the InboundWindow (point 5). Idempotent.
 */
export type AckFn = () => void;

const DEFER_ACK = new Error('edge-infer: PUBACK deferred until the answer is queued');

/**
 * Counts, per key (a model), the requests taken from the broker and not yet settled, across every
 * connection that shares it (the device's and its group's), and parks a request whose key is full
 * until one of that key's requests settles (see point 5). `limitOf` is asked at every arrival (a
 * reload may change a model's queue limit); a limit below 1 counts as 1.
 */
export class InboundWindow {
  readonly #limitOf: (key: string) => number;
  readonly #open = new Map<string, number>();
  readonly #parked: { key: string; take: () => void }[] = [];
  #holds = 0;

  constructor(limitOf: (key: string) => number) {
    this.#limitOf = limitOf;
  }

  /** Requests of `key` taken and not settled. */
  open(key: string): number {
    return this.#open.get(key) ?? 0;
  }

  /** Requests parked now (at most one per connection: each holds its connection's reading). */
  get parked(): number {
    return this.#parked.length;
  }

  /** Times a request had to be parked since start. */
  get holds(): number {
    return this.#holds;
  }

  /** Takes a request of `key`: runs `take` now when the key has room, else once it has. */
  enter(key: string, take: () => void): void {
    if (this.#room(key)) {
      this.#open.set(key, this.open(key) + 1);
      take();
      return;
    }
    this.#holds++;
    this.#parked.push({ key, take });
  }

  /** One request of `key` settled (answered, or left for the broker to redeliver): takes parked ones that fit now, oldest first. */
  leave(key: string): void {
    const n = this.open(key) - 1;
    if (n > 0) this.#open.set(key, n);
    else this.#open.delete(key);
    for (let i = 0; i < this.#parked.length; ) {
      const p = this.#parked[i] as { key: string; take: () => void };
      if (!this.#room(p.key)) {
        i++;
        continue;
      }
      this.#parked.splice(i, 1);
      this.#open.set(p.key, this.open(p.key) + 1);
      p.take();
    }
  }

  #room(key: string): boolean {
    return this.open(key) < Math.max(1, this.#limitOf(key));
  }
}

/** Releases a request's place in the InboundWindow without acknowledging it (the broker redelivers it after a reconnect). Idempotent. */
export type LeaveFn = () => void;

/** How `deferAcks` bounds what it takes: the shared window, and the key (model) of a publish. */
export interface InboundFlow {
  window: InboundWindow;
  keyOf: (packet: PublishPacket) => string;
}

/**
 * Installs `client.handleMessage` (see points 3 and 5): each incoming publish goes to `onPublish`
 * with its AckFn (which also frees its place in the window) and a LeaveFn; mqtt.js sends no PUBACK
 * of its own, and goes on to the next packet at once, or (with `flow`) once the publish's key has
 * room. A parked publish whose connection died meanwhile is dropped (the broker redelivers it).
 */
export function deferAcks(client: MqttClient, onPublish: (packet: PublishPacket, ack: AckFn, leave: LeaveFn) => void, flow?: InboundFlow): void {
  client.handleMessage = (packet, done) => {
    const stream = client.stream;
    const messageId = packet.qos > 0 ? packet.messageId : undefined;
    const key = flow === undefined ? '' : flow.keyOf(packet);
    let left = flow === undefined;
    const leave: LeaveFn = () => {
      if (left) return;
      left = true;
      flow?.window.leave(key);
    };
    let acked = messageId === undefined;
    const ack: AckFn = () => {
      leave();
      if (acked || messageId === undefined) return;
      acked = true;
      if (client.stream === stream && client.connected) stream.write(Buffer.from([0x40, 0x02, messageId >> 8, messageId & 0xff]));
    };
    const take = (): void => {
      done(messageId === undefined ? undefined : DEFER_ACK);
      if (client.stream !== stream) {
        leave();
        return;
      }
      onPublish(packet, ack, leave);
    };
    if (flow === undefined) take();
    else flow.window.enter(key, take);
  };
}

/** Sets TCP_NODELAY on the client's current socket, when it has one (see point 4). */
export function setNoDelay(client: MqttClient): void {
  const s = client.stream as unknown as { setNoDelay?: (v: boolean) => void } | undefined;
  if (typeof s?.setNoDelay === 'function') s.setNoDelay(true);
}

/** Destroys the client's current socket (mqtt.js then emits 'close'); for a stop that cannot wait for the broker. */
export function dropConnection(client: MqttClient): void {
  client.stream?.destroy();
}
