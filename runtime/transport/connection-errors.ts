/**
 * Maps what mqtt.js / node:net / node:tls report into edge-infer codes, and the reconnect backoff.
 * Pure.
 */
import { EdgeError } from '../errors.js';

/** CONNACK codes that mean "your credentials": 3.1.1 return codes 4/5, MQTT 5 reason codes 134/135/140. */
const AUTH_CODES = new Set([4, 5, 134, 135, 140]);

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|ERR_OSSL_)/;

/** A connection failure as a coded EdgeError (EDGE_ERR_BROKER_AUTH, EDGE_ERR_TLS or EDGE_ERR_BROKER_UNREACHABLE). */
export function connectionError(e: unknown, url: string): EdgeError {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as { code?: unknown }).code;
  const details = { url, cause: typeof code === 'string' || typeof code === 'number' ? code : err.name };
  if (typeof code === 'number' && AUTH_CODES.has(code)) {
    return new EdgeError('EDGE_ERR_BROKER_AUTH', `broker ${url} refused the credentials: ${err.message}`, { details, cause: err });
  }
  const tlsish = (typeof code === 'string' && TLS_CODES.test(code)) || /certificate|ssl|tls alert|handshake/i.test(err.message);
  if (tlsish) {
    return new EdgeError('EDGE_ERR_TLS', `TLS with broker ${url} failed: ${err.message}`, { details, cause: err });
  }
  return new EdgeError('EDGE_ERR_BROKER_UNREACHABLE', `broker ${url} unreachable: ${err.message}`, { details, cause: err });
}

export interface BackoffOptions {
  /** First delay, ms. Default 500. */
  minMs: number;
  /** Ceiling, ms. Default 30000. */
  maxMs: number;
}

/** Delay before reconnect attempt `attempt` (0-based): doubling from minMs, capped at maxMs, +-20% jitter from `random`. */
export function backoffDelayMs(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(o.maxMs, o.minMs * 2 ** Math.min(attempt, 30));
  const jitter = 0.8 + 0.4 * random();
  return Math.max(0, Math.round(Math.min(o.maxMs, base * jitter)));
}
