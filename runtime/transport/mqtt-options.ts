/**
 * Builds mqtt.js client options from edge-infer's transport options (fixed client id, persistent
 * session, will) and the TLS socket options from TLS files (EDGE_ERR_TLS when a file cannot be read).
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions, IClientPublishOptions } from 'mqtt';
import { EdgeError } from '../errors.js';
import type { TlsSocketOptions } from './connect.js';
import type { OutgoingMessage } from './types.js';

export interface TlsFiles {
  /** PEM CA bundle that signed the broker's certificate. */
  caFile?: string;
  /** PEM client certificate (mutual TLS). */
  certFile?: string;
  /** PEM private key of certFile. */
  keyFile?: string;
  /** Default true. Only set false for a test broker. */
  rejectUnauthorized?: boolean;
}

export interface ConnectionOptions {
  /** mqtt://host:port or mqtts://host:port. */
  url: string;
  /** 5 (default) or 4 (MQTT 3.1.1: no response topics, properties or binary requests). */
  protocolVersion?: 4 | 5;
  /** Fixed per device so the broker keeps the session (subscriptions, queued requests) across reconnects. */
  clientId: string;
  /** Default 30. */
  keepaliveS?: number;
  username?: string;
  /** From the environment or a credentials file; never logged. */
  password?: string;
  tls?: TlsFiles;
  /** MQTT 5 session expiry, s. Default 3600 (an hour of broker-side queueing while we are away). */
  sessionExpiryS?: number;
  /** Start a clean session (nothing kept by the broker). Default false; a group member uses true (issue 15). */
  cleanSession?: boolean;
  /** CONNECT -> CONNACK timeout, ms. Default 10000. */
  connectTimeoutMs?: number;
  /**
   * MQTT 5 Receive Maximum: most unacknowledged QoS 1 requests the broker may send at once (the
   * service passes its largest model queueLimit; mqtt-session.ts point 5 enforces the per-model
   * bound whatever the broker does). Default 64, at most 65535.
   */
  receiveMaximum?: number;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new EdgeError('EDGE_ERR_TLS', `cannot read TLS ${what} file ${path}: ${e instanceof Error ? e.message : String(e)}`, { details: { file: path, what }, cause: e });
  }
}

/** MQTT-level options for createMqttClient (TLS goes separately: tlsOptions). */
const noLog = (): void => undefined;

export function clientOptions(o: ConnectionOptions, will: { topic: string; payload: Buffer } | null): IClientOptions {
  const v5 = (o.protocolVersion ?? 5) === 5;
  const opts: IClientOptions = {
    protocolVersion: v5 ? 5 : 4,
    clientId: o.clientId,
    clean: o.cleanSession ?? false,
    keepalive: o.keepaliveS ?? 30,
    // edge-infer runs its own backoff (mqtt-service.ts); mqtt.js' fixed-period reconnect is off.
    reconnectPeriod: 0,
    connectTimeout: o.connectTimeoutMs ?? 10_000,
    resubscribe: false,
    // QoS 0 publishes made while offline are dropped, not queued without bound (DESIGN.md).
    queueQoSZero: false,
  };
  // mqtt.js logs each packet through `debug`, whose rest-args array is allocated even when it is
  // off: 9% of the bytes the service allocated per request under a burst (issue 16,
  // bench/burst-profile.js heap). Its documented `log` option takes a no-op unless DEBUG asks for it.
  if (!/mqttjs/.test(process.env['DEBUG'] ?? '')) opts.log = noLog;
  if (will !== null) opts.will = { topic: will.topic, payload: will.payload, qos: 1, retain: true };
  if (v5) {
    opts.properties = { sessionExpiryInterval: o.cleanSession === true ? 0 : (o.sessionExpiryS ?? 3600), receiveMaximum: Math.min(65_535, Math.max(1, Math.round(o.receiveMaximum ?? 64))) };
  }
  if (o.username !== undefined) opts.username = o.username;
  if (o.password !== undefined) opts.password = o.password;
  return opts;
}

/** tls.connect options (ca, cert, key, rejectUnauthorized) from TLS files; {} without files. Throws EDGE_ERR_TLS when a file cannot be read. */
export function tlsOptions(tls: TlsFiles | undefined): TlsSocketOptions {
  if (tls === undefined) return {};
  const opts: TlsSocketOptions = { rejectUnauthorized: tls.rejectUnauthorized ?? true };
  if (tls.caFile !== undefined) opts.ca = readPem(tls.caFile, 'CA');
  if (tls.certFile !== undefined) opts.cert = readPem(tls.certFile, 'certificate');
  if (tls.keyFile !== undefined) opts.key = readPem(tls.keyFile, 'key');
  return opts;
}

type PublishProps = NonNullable<IClientPublishOptions['properties']>;
const QOS1: IClientPublishOptions = Object.freeze({ qos: 1 });

/**
 * mqtt.js publish options for an answer, QoS 1 (issue 16: no field-by-field copy). Over MQTT 5 the
 * message's properties go as they are: their fields are mqtt.js' own, and correlation data is
 * already a Buffer (mqtt.js gives one, the outbox log reads one back); anything else is wrapped.
 * Over MQTT 3.1.1 properties are dropped. mqtt.js copies the options it is given, never mutates them.
 */
export function publishOptions(m: OutgoingMessage, v5: boolean): IClientPublishOptions {
  const p = m.properties;
  if (!v5 || p === undefined) return QOS1;
  const cd = p.correlationData;
  const properties = (cd === undefined || Buffer.isBuffer(cd) ? p : { ...p, correlationData: Buffer.from(cd.buffer, cd.byteOffset, cd.byteLength) }) as PublishProps;
  return { qos: 1, properties };
}

/** The payload as a Buffer: itself when it is one (the encoders make Buffers), else a view (no copy). */
export function publishPayload(m: OutgoingMessage): Buffer {
  const p = m.payload;
  return Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
}
