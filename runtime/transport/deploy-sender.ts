/**
 * The sending side of signed model updates (issue 15 OTA; `edge-infer deploy`). Protocol, under the
 * target prefix `<p>` (a device's `edge/<id>` or a group's `edge/group/<name>`):
 * - `<p>/deploy/begin` (QoS 1, JSON): `{bundleId, manifest, signature, total, chunkBytes}`.
 * - Each device answers on its own retained `<its prefix>/deploy/state` with step `receiving` and
 *   `missing` (chunk indexes it lacks: all of them at first, fewer after an interrupted transfer:
 *   chunks are kept on the device's disk, so a transfer resumes).
 * - `<p>/deploy/chunk` (QoS 1, binary, bundle.ts encodeChunk): each missing chunk, with its bundle
 *   id, index, total and sha256; then `<p>/deploy/end` `{bundleId}`. A device that still lacks
 *   chunks answers `receiving` with them, and they are re-sent (at most `maxRounds` rounds).
 * - Then the device installs and reports staged, preflight, swapping, swapped, health and finally
 *   committed, refused or rolled-back; this resolves with the last state of each device.
 * Chunks are `chunkBytes` of data (plus ~150 bytes of header): keep it under the broker's
 * message limit (mosquitto `max_packet_size` / `message_size_limit`). Retained states from
 * earlier deploys (delivered at subscribe) are ignored.
 *
 * Errors: EDGE_ERR_BROKER_* / EDGE_ERR_TLS (connection), EDGE_ERR_DEPLOY_FAILED (no answer within
 * `timeoutMs`, or chunks still missing after `maxRounds`). A device's refusal resolves (ok false).
 */
import type { MqttClient } from 'mqtt';
import { EdgeError } from '../errors.js';
import { encodeChunk, sha256Hex } from '../fleet/bundle.js';
import { createMqttClient } from './connect.js';
import { connectionError } from './connection-errors.js';

export interface DeviceDeployState {
  bundleId: string;
  model: string;
  step: string;
  ok: boolean;
  code?: string;
  message?: string;
  missing?: number[];
}

export interface SendBundleOptions {
  url: string;
  /** Where begin / chunk / end go: `edge/<id>` or `edge/group/<name>`. */
  prefix: string;
  /** The state topic filter to watch: `<p>/deploy/state`, or `edge/+/deploy/state` for a group. */
  stateFilter: string;
  /** How many devices must answer (1 for a device). */
  expect: number;
  bundle: { id: string; manifestText: string; signature: string; blob: Buffer };
  chunkBytes: number;
  /** Per wait (each round, and the install). Default 120000. */
  timeoutMs?: number;
  /** Default 5. */
  maxRounds?: number;
  /** Stop after publishing this many chunks (simulates a transfer cut off; resumable). */
  stopAfterChunks?: number;
  username?: string;
  password?: string;
  onState?: (topic: string, s: DeviceDeployState) => void;
  /** Aborting ends the wait at once (EDGE_ERR_DEPLOY_FAILED). */
  signal?: AbortSignal;
}

export interface SendBundleResult {
  /** Final state per state topic. */
  states: Record<string, DeviceDeployState>;
  /** Chunks published (re-sends included). */
  chunksSent: number;
  rounds: number;
  interrupted: boolean;
}

const TERMINAL = new Set(['committed', 'refused', 'rolled-back', 'aborted']);

export async function sendBundle(o: SendBundleOptions): Promise<SendBundleResult> {
  const timeoutMs = o.timeoutMs ?? 120_000;
  const b = o.bundle;
  const total = Math.max(1, Math.ceil(b.blob.length / o.chunkBytes));
  const client: MqttClient = createMqttClient(o.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0, connectTimeout: 10_000, ...(o.username !== undefined ? { username: o.username } : {}), ...(o.password !== undefined ? { password: o.password } : {}) });
  const fresh = new Map<string, DeviceDeployState>();
  let wake: (() => void) | null = null;
  client.on('message', (topic, payload, packet) => {
    if (packet.retain) return;
    let s: DeviceDeployState;
    try {
      s = JSON.parse(payload.toString('utf8')) as DeviceDeployState;
    } catch {
      return;
    }
    if (s.bundleId !== b.id) return;
    fresh.set(topic, s);
    o.onState?.(topic, s);
    wake?.();
  });
  const waitFor = async (done: () => boolean, what: string): Promise<void> => {
    const end = Date.now() + timeoutMs;
    while (!done()) {
      if (o.signal?.aborted) throw new EdgeError('EDGE_ERR_DEPLOY_FAILED', `bundle ${b.id}: aborted while waiting (${what})`);
      const left = end - Date.now();
      if (left <= 0) throw new EdgeError('EDGE_ERR_DEPLOY_FAILED', `bundle ${b.id}: ${what} within ${timeoutMs} ms (${fresh.size}/${o.expect} devices answered)`, { details: { bundleId: b.id, states: Object.fromEntries(fresh) } });
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      wake = null;
    }
  };
  o.signal?.addEventListener('abort', () => wake?.(), { once: true });
  let chunksSent = 0;
  let rounds = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', (e) => reject(connectionError(e, o.url)));
    });
    await client.subscribeAsync(o.stateFilter, { qos: 1 });
    const answered = (): boolean => fresh.size >= o.expect;
    await client.publishAsync(`${o.prefix}/deploy/begin`, JSON.stringify({ bundleId: b.id, manifest: b.manifestText, signature: b.signature, total, chunkBytes: o.chunkBytes }), { qos: 1 });
    for (;;) {
      await waitFor(answered, 'no device answered the begin/end message');
      const states = [...fresh.values()];
      const missing = new Set(states.filter((s) => s.step === 'receiving').flatMap((s) => s.missing ?? []));
      // Nobody is receiving any more (installing, refused or done): the transfer is over.
      if (states.every((s) => s.step !== 'receiving')) break;
      if (++rounds > (o.maxRounds ?? 5)) throw new EdgeError('EDGE_ERR_DEPLOY_FAILED', `bundle ${b.id}: chunks still missing after ${rounds - 1} rounds`, { details: { missing: missing.size } });
      fresh.clear();
      for (const i of [...missing].sort((x, y) => x - y)) {
        if (o.stopAfterChunks !== undefined && chunksSent >= o.stopAfterChunks) return { states: {}, chunksSent, rounds, interrupted: true };
        const data = b.blob.subarray(i * o.chunkBytes, Math.min(b.blob.length, (i + 1) * o.chunkBytes));
        await client.publishAsync(`${o.prefix}/deploy/chunk`, encodeChunk({ bundleId: b.id, index: i, total, sha256: sha256Hex(data) }, data), { qos: 1 });
        chunksSent++;
      }
      await client.publishAsync(`${o.prefix}/deploy/end`, JSON.stringify({ bundleId: b.id }), { qos: 1 });
    }
    await waitFor(() => fresh.size >= o.expect && [...fresh.values()].every((s) => TERMINAL.has(s.step)), 'the install did not finish');
    return { states: Object.fromEntries(fresh), chunksSent, rounds, interrupted: false };
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}
