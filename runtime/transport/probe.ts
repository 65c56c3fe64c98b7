/**
 * One connection attempt to a broker, for `edge-infer doctor`: connect with the service's URL,
 * credentials and TLS files, wait for CONNACK, disconnect. Uses a throwaway client id and a clean
 * session, so the service's persistent session and queued requests are not touched.
 *
 * Errors (rejections): EDGE_ERR_BROKER_AUTH (credentials refused), EDGE_ERR_TLS (handshake,
 * certificate, unreadable TLS file), EDGE_ERR_BROKER_UNREACHABLE (refused, timeout, closed),
 * EDGE_ERR_CONFIG_INVALID (not an mqtt:// or mqtts:// URL).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { EdgeError } from '../errors.js';
import { createMqttClient } from './connect.js';
import { connectionError } from './connection-errors.js';
import { tlsOptions, type TlsFiles } from './mqtt-options.js';

export interface BrokerProbeOptions {
  url: string;
  /** 5 or 4 (MQTT 3.1.1). */
  protocolVersion: 4 | 5;
  username?: string | undefined;
  password?: string | undefined;
  tls?: TlsFiles | undefined;
  /** CONNECT -> CONNACK limit, ms. */
  timeoutMs: number;
}

export interface BrokerProbeResult {
  /** Time from starting the connection to CONNACK, ms. */
  connectMs: number;
}

export async function probeBroker(o: BrokerProbeOptions): Promise<BrokerProbeResult> {
  const tls = tlsOptions(o.tls);
  const t0 = performance.now();
  const client = createMqttClient(
    o.url,
    { protocolVersion: o.protocolVersion, clientId: `edge-infer-doctor-${randomBytes(4).toString('hex')}`, clean: true, reconnectPeriod: 0, connectTimeout: o.timeoutMs, ...(o.username !== undefined ? { username: o.username } : {}), ...(o.password !== undefined ? { password: o.password } : {}) },
    tls,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new EdgeError('EDGE_ERR_BROKER_UNREACHABLE', `broker ${o.url}: no CONNACK within ${o.timeoutMs} ms`, { details: { url: o.url } })), o.timeoutMs);
      const done = (f: () => void): void => {
        clearTimeout(timer);
        f();
      };
      client.once('connect', () => done(resolve));
      client.once('error', (e) => done(() => reject(connectionError(e, o.url))));
      client.once('close', () => done(() => reject(connectionError(new Error('connection closed before CONNACK'), o.url))));
    });
    return { connectMs: performance.now() - t0 };
  } finally {
    await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
  }
}
