/**
 * A read-only subscriber to devices' retained status and telemetry, for `edge-infer top`.
 *
 * Watches `<root>/+/status` and `<root>/+/telemetry` (every device under the root, default `edge`),
 * or `<prefix>/status` and `<prefix>/telemetry` of one device. Each document is handed to `onDoc`
 * parsed: JSON, or null for an empty payload (a cleared retained status). Payloads that are not
 * JSON are skipped. Reconnects every second while open, so a broker restart only pauses the view.
 *
 * Errors: EDGE_ERR_CONFIG_INVALID (URL not mqtt:// or mqtts://) is thrown; connection problems
 * (EDGE_ERR_BROKER_UNREACHABLE, EDGE_ERR_BROKER_AUTH, EDGE_ERR_TLS) go to `onError`, once per kind
 * in a row, and the watcher keeps retrying.
 */
import type { MqttClient } from 'mqtt';
import { EdgeError } from '../errors.js';
import { createMqttClient } from './connect.js';
import { connectionError } from './connection-errors.js';
import { tlsOptions, type TlsFiles } from './mqtt-options.js';

export type WatchedKind = 'status' | 'telemetry';

export interface WatchOptions {
  url: string;
  /** Topic root of the fleet (`edge` in `edge/<device>/status`). Ignored when `prefix` is given. */
  root: string;
  /** One device's full prefix (e.g. `edge/pi-kitchen` or a custom `home/cam`). */
  prefix?: string;
  username?: string;
  password?: string;
  tls?: TlsFiles;
  onDoc(kind: WatchedKind, device: string, doc: unknown): void;
  onError(e: EdgeError): void;
  onConnect?(): void;
}

export interface Watch {
  close(): Promise<void>;
}

function topicLevelsOk(s: string): boolean {
  return s.length > 0 && !/[+#\u0000]/.test(s) && !s.endsWith('/') && !s.startsWith('/');
}

export function watchDevices(o: WatchOptions): Watch {
  const base = o.prefix ?? o.root;
  if (!topicLevelsOk(base)) throw new EdgeError('EDGE_ERR_USAGE', `"${base}" cannot be a topic prefix (no + # NUL, no leading or trailing /)`);
  const filters = o.prefix !== undefined ? [`${o.prefix}/status`, `${o.prefix}/telemetry`] : [`${o.root}/+/status`, `${o.root}/+/telemetry`];
  const client: MqttClient = createMqttClient(o.url, { protocolVersion: 4, clean: true, reconnectPeriod: 1000, connectTimeout: 5000, ...(o.username !== undefined ? { username: o.username } : {}), ...(o.password !== undefined ? { password: o.password } : {}) }, tlsOptions(o.tls));
  let lastError: string | null = null;
  client.on('error', (e) => {
    const err = connectionError(e, o.url);
    if (err.code !== lastError) o.onError(err);
    lastError = err.code;
  });
  client.on('connect', () => {
    lastError = null;
    client.subscribe(filters, { qos: 0 });
    o.onConnect?.();
  });
  client.on('message', (topic, payload) => {
    const kind: WatchedKind | null = topic.endsWith('/status') ? 'status' : topic.endsWith('/telemetry') ? 'telemetry' : null;
    if (kind === null) return;
    const device = o.prefix !== undefined ? o.prefix : topic.slice(o.root.length + 1, topic.length - kind.length - 1);
    if (payload.length === 0) {
      o.onDoc(kind, device, null);
      return;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    o.onDoc(kind, device, doc);
  });
  return {
    close: async () => {
      await client.endAsync(true);
    },
  };
}
