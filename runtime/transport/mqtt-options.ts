/**
 * Builds mqtt.js client options from edge-infer's transport options (fixed client id, persistent
 * session, will) and the TLS socket options from TLS files (EDGE_ERR_TLS when a file cannot be read).
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import { EdgeError } from '../errors.js';
import type { TlsSocketOptions } from './connect.js';

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
  if (will !== null) opts.will = { topic: will.topic, payload: will.payload, qos: 1, retain: true };
  if (v5) {
    opts.properties = {
      sessionExpiryInterval: o.cleanSession === true ? 0 : (o.sessionExpiryS ?? 3600),
      receiveMaximum: Math.min(65_535, Math.max(1, Math.round(o.receiveMaximum ?? 64))),
    };
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
