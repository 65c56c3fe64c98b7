/**
 * A one-shot request/response client (`edge-infer request`, scripts, tests).
 *
 * MQTT 5: subscribes to a unique reply topic and sends it as responseTopic with correlationData.
 * MQTT 3.1.1: the same reply topic travels as `replyTo` in the JSON body (binary needs MQTT 5).
 * Rejects with EDGE_ERR_TIMEOUT when no answer arrives in `timeoutMs`, EDGE_ERR_BROKER_* /
 * EDGE_ERR_TLS when the broker cannot be reached or a TLS file cannot be read, EDGE_ERR_USAGE for a
 * binary request over 3.1.1, EDGE_ERR_CONFIG_INVALID for a URL that is not mqtt:// or mqtts://.
 * An error answer from the service resolves (kind 'error'), it does not reject.
 */
import type { IClientPublishOptions, MqttClient } from 'mqtt';
import { randomUUID } from 'node:crypto';
import { EdgeError } from '../errors.js';
import { createMqttClient } from './connect.js';
import { connectionError } from './connection-errors.js';
import { tlsOptions, type TlsFiles } from './mqtt-options.js';
import type { ErrorBody, ResultBody } from './result-codec.js';

export interface BinaryRequest {
  /** Raw little-endian tensor bytes. */
  bytes: Uint8Array;
  dtype: string;
  shape: readonly number[];
  /** Input name; optional for single-input models. */
  input?: string;
}

export interface SendRequestOptions {
  url: string;
  /** e.g. edge/<deviceId>. */
  prefix: string;
  model: string;
  /** A JSON request object; `id` is added when absent. Exactly one of body / binary. */
  body?: Record<string, unknown>;
  binary?: BinaryRequest;
  /** Default 10000. */
  timeoutMs?: number;
  /** Default 5. */
  protocolVersion?: 4 | 5;
  username?: string;
  password?: string;
  /** TLS files for mqtts:// (CA, client certificate and key). */
  tls?: TlsFiles;
}

export type RequestAnswer =
  | { kind: 'result'; body: ResultBody; raw: Buffer }
  | { kind: 'error'; body: ErrorBody; raw: Buffer }
  /** A binary result (MQTT 5): the bytes plus the user properties. */
  | { kind: 'binary'; payload: Buffer; userProperties: Record<string, string> };

function firstValues(up: Record<string, string | string[]> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(up ?? {})) out[k] = Array.isArray(v) ? (v[0] ?? '') : v;
  return out;
}

export async function sendRequest(o: SendRequestOptions): Promise<RequestAnswer> {
  const v5 = (o.protocolVersion ?? 5) === 5;
  if (o.binary !== undefined && !v5) throw new EdgeError('EDGE_ERR_USAGE', 'binary requests need MQTT 5 (user properties)');
  if ((o.body === undefined) === (o.binary === undefined)) throw new EdgeError('EDGE_ERR_USAGE', 'pass exactly one of body or binary');
  const timeoutMs = o.timeoutMs ?? 10_000;
  const nonce = randomUUID();
  const replyTo = `${o.prefix}/replies/${nonce}`;
  const id = typeof o.body?.['id'] === 'string' ? (o.body['id'] as string) : nonce;
  const client: MqttClient = createMqttClient(o.url, { protocolVersion: v5 ? 5 : 4, clean: true, reconnectPeriod: 0, connectTimeout: Math.min(timeoutMs, 10_000), ...(o.username !== undefined ? { username: o.username } : {}), ...(o.password !== undefined ? { password: o.password } : {}) }, tlsOptions(o.tls));
  try {
    return await new Promise<RequestAnswer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new EdgeError('EDGE_ERR_TIMEOUT', `no answer from ${o.prefix}/models/${o.model} within ${timeoutMs} ms`, { details: { id, timeoutMs } })), timeoutMs);
      const fail = (e: unknown): void => {
        clearTimeout(timer);
        reject(e);
      };
      client.once('error', (e) => fail(connectionError(e, o.url)));
      client.on('message', (_topic, payload, packet) => {
        const props = packet.properties;
        if (v5 && props?.correlationData !== undefined && Buffer.from(props.correlationData).toString() !== nonce) return;
        clearTimeout(timer);
        if (props?.contentType === 'application/x-edge-tensor') {
          resolve({ kind: 'binary', payload, userProperties: firstValues(props.userProperties as Record<string, string | string[]> | undefined) });
          return;
        }
        try {
          const body = JSON.parse(payload.toString('utf8')) as ResultBody | ErrorBody;
          resolve('error' in body ? { kind: 'error', body, raw: payload } : { kind: 'result', body, raw: payload });
        } catch (e) {
          reject(new EdgeError('EDGE_ERR_BAD_JSON', 'the answer is not JSON', { cause: e }));
        }
      });
      client.once('connect', () => {
        client.subscribe(replyTo, { qos: 1 }, (err) => {
          if (err) return fail(connectionError(err, o.url));
          const topic = `${o.prefix}/models/${o.model}/infer`;
          const opts: IClientPublishOptions = { qos: 1 };
          let payload: Buffer;
          if (o.binary !== undefined) {
            const b = o.binary;
            payload = Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength);
            const userProperties: Record<string, string> = { id, dtype: b.dtype, shape: b.shape.join(',') };
            if (b.input !== undefined) userProperties['input'] = b.input;
            opts.properties = { contentType: 'application/x-edge-tensor', responseTopic: replyTo, correlationData: Buffer.from(nonce), userProperties };
          } else {
            const body: Record<string, unknown> = { ...o.body, id };
            if (!v5) body['replyTo'] = replyTo;
            payload = Buffer.from(JSON.stringify(body));
            if (v5) opts.properties = { contentType: 'application/json', responseTopic: replyTo, correlationData: Buffer.from(nonce) };
          }
          client.publish(topic, payload, opts);
        });
      });
    });
  } finally {
    await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
  }
}
