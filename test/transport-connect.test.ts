/**
 * runtime/transport/connect.ts against real mosquittos: keepalive pings on the native timers, TLS
 * with the test PKI (SNI host, IP host, URL credentials, mqtt:// upgraded by a client certificate),
 * a wrong CA mapped to EDGE_ERR_TLS, and, in a fresh child process, that the service's transport
 * loads none of ws, socks, ip-address, worker-timers or @babel/runtime, at import or on connecting.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { createMqttClient } from '../runtime/transport/connect.js';
import { connectionError } from '../runtime/transport/connection-errors.js';
import { tlsOptions } from '../runtime/transport/mqtt-options.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { SERVICE_PASSWORD, SERVICE_USER, startSecureBroker } from './helpers/secure-broker.js';

const plain = await startMosquitto();
const secure = await startSecureBroker();
t.teardown(async () => {
  await plain.stop();
  await secure.stop();
});
const pki = secure.pki;
const clientTls = { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey };

/** Resolves with 'connect' or the first error of `client`, then ends it. */
function outcome(t: Test, client: MqttClient): Promise<'connect' | Error> {
  t.teardown(() => new Promise<void>((resolve) => client.end(true, {}, () => resolve())));
  return new Promise((resolve) => {
    client.once('connect', () => resolve('connect'));
    client.once('error', (e) => resolve(e));
  });
}

t.test('over mqtt:// the client connects and its keepalive pings are answered', async (t) => {
  const client = createMqttClient(plain.url, { keepalive: 1, reconnectPeriod: 0 });
  const pong = new Promise<void>((resolve) =>
    client.on('packetreceive', (p) => {
      if (p.cmd === 'pingresp') resolve();
    }),
  );
  t.equal(await outcome(t, client), 'connect');
  await pong;
  t.ok(client.connected, 'still connected after a ping round trip');
});

t.test('over mqtts:// with the CA and a client certificate the client connects by host name (SNI) and by IP', async (t) => {
  const auth = { username: SERVICE_USER, password: SERVICE_PASSWORD, reconnectPeriod: 0 };
  t.equal(await outcome(t, createMqttClient(`mqtts://localhost:${secure.broker.port}`, auth, tlsOptions(clientTls))), 'connect', 'localhost');
  t.equal(await outcome(t, createMqttClient(secure.url, auth, tlsOptions(clientTls))), 'connect', '127.0.0.1');
});

t.test('credentials in the URL are used', async (t) => {
  const url = `mqtts://${SERVICE_USER}:${encodeURIComponent(SERVICE_PASSWORD)}@127.0.0.1:${secure.broker.port}`;
  t.equal(await outcome(t, createMqttClient(url, { reconnectPeriod: 0 }, tlsOptions(clientTls))), 'connect');
});

t.test('an mqtt:// URL with a client certificate and key is upgraded to TLS', async (t) => {
  const url = `mqtt://127.0.0.1:${secure.broker.port}`;
  const opts = { username: SERVICE_USER, password: SERVICE_PASSWORD, reconnectPeriod: 0 };
  t.equal(await outcome(t, createMqttClient(url, opts, tlsOptions(clientTls))), 'connect');
});

t.test('a broker certificate from another CA is an error that maps to EDGE_ERR_TLS', async (t) => {
  const opts = { username: SERVICE_USER, password: SERVICE_PASSWORD, reconnectPeriod: 0 };
  const r = await outcome(t, createMqttClient(secure.url, opts, tlsOptions({ ...clientTls, caFile: pki.otherCaCert })));
  t.not(r, 'connect');
  if (r !== 'connect') t.equal(connectionError(r, secure.url).code, 'EDGE_ERR_TLS');
});

t.test('a wrong password is an error that maps to EDGE_ERR_BROKER_AUTH', async (t) => {
  const opts = { username: SERVICE_USER, password: 'not-the-password', reconnectPeriod: 0 };
  const r = await outcome(t, createMqttClient(secure.url, opts, tlsOptions(clientTls)));
  t.not(r, 'connect');
  if (r !== 'connect') t.equal(connectionError(r, secure.url).code, 'EDGE_ERR_BROKER_AUTH');
});

const CHILD = `
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const e = JSON.parse(process.env.EDGE_CONNECT_CHILD);
const { MqttService } = await import(e.service);
const { FakeHandler } = await import(e.handler);
const cache = () => Object.keys(createRequire(e.service).cache);
const atImport = cache();
const dir = mkdtempSync(join(tmpdir(), 'edge-connect-child-'));
const svc = await MqttService.start({ url: e.plain, clientId: 'connect-child', prefix: 'edge/connect-child', handler: new FakeHandler(), outbox: { dir, fsync: 'never' } });
if (!(await svc.waitConnected(10000))) throw new Error('the service did not connect');
const { sendRequest } = await import(e.client);
await sendRequest({ url: e.secure, prefix: 'edge/nobody', model: 'none', body: {}, timeoutMs: 300, ...e.tlsAuth }).catch((err) => {
  if (err.code !== 'EDGE_ERR_TIMEOUT') throw err;
});
await svc.stop({ drainTimeoutMs: 500 });
rmSync(dir, { recursive: true, force: true });
const numberCache = Object.keys(createRequire(e.service)('mqtt-packet/numbers').cache).length;
process.stdout.write(JSON.stringify({ atImport, atEnd: cache(), numberCache }));
`;

t.test('in a fresh process the service transport loads no ws, socks, ip-address, worker-timers or @babel/runtime', async (t) => {
  const env = {
    ...process.env,
    EDGE_CONNECT_CHILD: JSON.stringify({
      service: fileURLToPath(new URL('../runtime/transport/mqtt-service.js', import.meta.url)),
      client: fileURLToPath(new URL('../runtime/transport/client.js', import.meta.url)),
      handler: fileURLToPath(new URL('./helpers/fake-handler.js', import.meta.url)),
      plain: plain.url,
      secure: secure.url,
      tlsAuth: { username: SERVICE_USER, password: SERVICE_PASSWORD, tls: clientTls },
    }),
  };
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', CHILD], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`child failed: ${String(err)}\n${stderr}`));
      else resolve(stdout);
    });
  });
  const { atImport, atEnd, numberCache } = JSON.parse(out) as { atImport: string[]; atEnd: string[]; numberCache: number };
  const heavy = /[\\/]node_modules[\\/](ws|socks|ip-address|worker-timers|@babel[\\/]runtime)[\\/]/;
  t.ok(
    atImport.some((k) => k.endsWith('/mqtt/build/lib/client.js')),
    'the import loaded the mqtt.js client',
  );
  t.ok(
    atEnd.some((k) => k.endsWith('/mqtt-packet/mqtt.js')),
    'the run used mqtt-packet',
  );
  t.same(
    atImport.filter((k) => heavy.test(k)),
    [],
    'none at import',
  );
  t.same(
    atEnd.filter((k) => heavy.test(k)),
    [],
    'none after connecting over mqtt:// and mqtts://',
  );
  t.equal(numberCache, 0, "mqtt-packet's 65,536-Buffer message-id cache (6 MB of heap) was never built");
  t.comment(`CJS modules: ${atImport.length} at import, ${atEnd.length} after connecting`);
});
