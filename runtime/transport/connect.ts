/**
 * The one place that builds mqtt.js clients: `MqttClient` (mqtt/lib/client) over our own stream
 * builder on node:net (mqtt://) and node:tls (mqtts://), instead of mqtt.js' `connect()` front end,
 * which loads its ws, socks (ip-address) and browser stream builders on first use.
 *
 * Every use of mqtt.js internals (loading MqttClient, its timers) is in mqtt-session.ts.
 *
 * What is replicated from mqtt.js 5.16 build/lib/connect/{index,tcp,tls}.js for tcp/tls:
 * - default ports 1883 / 8883, host 'localhost' when the URL has none, IPv6 brackets removed;
 * - user:password in the URL override options.username / options.password;
 * - an mqtt:// URL with both a client certificate and key is upgraded to TLS;
 * - TLS: servername = host unless the host is an IP, rejectUnauthorized unless exactly false,
 *   a handshake error is emitted on the client (when rejectUnauthorized) and the socket ended;
 * - clean:false without a clientId throws; a no-op 'error' listener on the client, so an error
 *   with no listener of the caller never throws.
 * Not replicated: ws/wss/wx/ali, unix sockets, SOCKS (MQTTJS_SOCKS_PROXY), `servers` failover,
 * `?clientId=` in the URL.
 */
import { createConnection, isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { IClientOptions, MqttClient } from 'mqtt';
import { EdgeError } from '../errors.js';
import { newMqttClient, type StreamBuilder } from './mqtt-session.js';

/** Socket-level TLS settings handed to tls.connect (not to MqttClient). */
export type TlsSocketOptions = Pick<TlsConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;

export interface BrokerAddress {
  secure: boolean;
  host: string;
  port: number;
  /** Decoded user info from the URL, when present. */
  username?: string;
  password?: string;
}

/** Host, port, TLS-ness and URL credentials of an mqtt:// or mqtts:// URL. Throws EDGE_ERR_CONFIG_INVALID for any other URL. */
export function parseBrokerUrl(url: string): BrokerAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch (e) {
    throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `broker URL "${url}" is not a URL`, { details: { path: '/broker/url', url }, cause: e });
  }
  if (u.protocol !== 'mqtt:' && u.protocol !== 'mqtts:') {
    throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `broker URL "${url}" has scheme ${u.protocol}; edge-infer connects over mqtt:// (TCP) or mqtts:// (TLS) only`, { details: { path: '/broker/url', url, allowed: 'mqtt:// or mqtts://' } });
  }
  const secure = u.protocol === 'mqtts:';
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const out: BrokerAddress = { secure, host, port: u.port === '' ? (secure ? 8883 : 1883) : Number(u.port) };
  if (u.username !== '') out.username = decodeURIComponent(u.username);
  if (u.password !== '') out.password = decodeURIComponent(u.password);
  return out;
}

function tcpStream(a: BrokerAddress): Duplex {
  return createConnection({ host: a.host, port: a.port });
}

function tlsStream(client: MqttClient, a: BrokerAddress, tls: TlsSocketOptions): Duplex {
  const rejectUnauthorized = tls.rejectUnauthorized !== false;
  const opts: TlsConnectionOptions = { ...tls, host: a.host, port: a.port, rejectUnauthorized };
  if (isIP(a.host) === 0 && opts.servername === undefined) opts.servername = a.host;
  const socket = tlsConnect(opts);
  const onTlsError = (err: Error): void => {
    if (rejectUnauthorized) client.emit('error', err);
    socket.end();
  };
  socket.on('secureConnect', () => {
    if (rejectUnauthorized && !socket.authorized) socket.emit('error', new Error('TLS not authorized'));
    else socket.removeListener('error', onTlsError);
  });
  socket.on('error', onTlsError);
  return socket;
}

/**
 * A connecting MqttClient for `url` (it starts connecting at once, like mqtt.connect). `options`
 * go to MqttClient unchanged except timerVariant (native, mqtt-session.ts) and writeCache (false unless given);
 * `tls` goes to tls.connect for mqtts://.
 * Throws EDGE_ERR_CONFIG_INVALID for a URL that is not mqtt:// or mqtts://, or clean:false without
 * a clientId. Connection failures arrive later as the client's 'error' / 'close' events.
 */
export function createMqttClient(url: string, options: IClientOptions, tls: TlsSocketOptions = {}): MqttClient {
  const parsed = parseBrokerUrl(url);
  const address: BrokerAddress = { ...parsed, secure: parsed.secure || (tls.cert !== undefined && tls.key !== undefined) };
  // writeCache false: mqtt-packet otherwise pre-builds 65,536 two-byte Buffers for message ids on
  // the first packet written (measured: 6.0 MB of the idle service's 14 MB heap); without it each
  // packet allocates its 2-byte id, which costs nothing measurable.
  const opts: IClientOptions = { writeCache: false, ...options };
  if (parsed.username !== undefined) opts.username = parsed.username;
  if (parsed.password !== undefined) opts.password = parsed.password;
  if (opts.clean === false && !opts.clientId) {
    throw new EdgeError('EDGE_ERR_CONFIG_INVALID', 'a persistent MQTT session (clean: false) needs a clientId', { details: { path: '/broker/clientId' } });
  }
  const build: StreamBuilder = (client) => (address.secure ? tlsStream(client, address, tls) : tcpStream(address));
  const client = newMqttClient(build, opts);
  client.on('error', () => {});
  return client;
}
