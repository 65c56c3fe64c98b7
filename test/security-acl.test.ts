/**
 * The service over mqtts:// with a client certificate, a password from the environment and the
 * shipped least-privilege ACL (deploy/mosquitto/edge-infer.acl) on a real mosquitto: it works,
 * mosquitto denies nothing it does, and the password appears in no log line.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { IClientOptions } from 'mqtt';
import { sendRequest } from '../runtime/transport/client.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { APP_PASSWORD, APP_USER, SERVICE_PASSWORD, SERVICE_USER, startSecureBroker, until } from './helpers/secure-broker.js';
import { copyDigits } from './helpers/digits-copy.js';
import { ROOT, startService } from './helpers/service-process.js';

interface EvalSet {
  inputs: number[][];
  labels: number[];
}
const evalSet = JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'eval.json'), 'utf8')) as EvalSet;
const ACL = path.join(ROOT, 'deploy', 'mosquitto', 'edge-infer.acl');
const DEVICE = 'pi-kitchen';
const PREFIX = `edge/${DEVICE}`;
const MODELS = mkdtempSync(path.join(tmpdir(), 'edge-sec-models-'));
copyDigits(MODELS);
t.teardown(() => rmSync(MODELS, { recursive: true, force: true }));
const DENIED = /Denied PUBLISH|Denied SUBSCRIBE|not authori[sz]ed/i;

/** mqtt.js options for the application's own client (the app account, the test PKI's client cert). */
function appClient(sb: Awaited<ReturnType<typeof startSecureBroker>>): IClientOptions {
  return { username: APP_USER, password: APP_PASSWORD, ca: readFileSync(sb.pki.caCert), cert: readFileSync(sb.pki.clientCert), key: readFileSync(sb.pki.clientKey) };
}

t.test('under the shipped ACL over TLS the service answers, publishes status, telemetry, results and errors, and nothing is denied', async (t) => {
  const sb = await startSecureBroker({ aclFile: ACL });
  t.teardown(() => sb.stop());
  // The test PKI has one client certificate; the service and the application both present it.
  const clientTls = { caFile: sb.pki.caCert, certFile: sb.pki.clientCert, keyFile: sb.pki.clientKey };
  const watcher = await Watcher.open(sb.url, [`${PREFIX}/status`, `${PREFIX}/telemetry`, `${PREFIX}/errors`, `${PREFIX}/models/+/result`], appClient(sb));
  t.teardown(() => watcher.client.endAsync(true));

  process.env['EDGE_INFER_MQTT_PASSWORD'] = SERVICE_PASSWORD;
  const svc = startService({ deviceId: DEVICE, modelsDir: MODELS, broker: { url: sb.url, username: SERVICE_USER, tls: clientTls }, telemetry: { intervalS: 1 }, log: { level: 'debug', format: 'json' }, group: 'kitchen' });
  delete process.env['EDGE_INFER_MQTT_PASSWORD'];
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('mqtt.connected');

  // Retained status, on the device's own prefix.
  await watcher.until(() => watcher.on(`${PREFIX}/status`).some((m) => (m.json as { state?: string }).state === 'online'), 10_000, 'status online');

  // Answers on the client's reply topic (edge/pi-kitchen/replies/<uuid>), MQTT 5 and 3.1.1.
  for (const [i, protocolVersion] of [
    [0, 5],
    [1, 4],
  ] as const) {
    const a = await sendRequest({ url: sb.url, prefix: PREFIX, model: 'digits', body: { id: `ok-${i}`, input: evalSet.inputs[i] }, protocolVersion, username: APP_USER, password: APP_PASSWORD, tls: clientTls, timeoutMs: 10_000 });
    t.equal(a.kind, 'result', `MQTT ${protocolVersion} request answered`);
    if (a.kind === 'result') t.equal(a.body.top?.[0]?.label, String(evalSet.labels[i]));
  }

  // An error answer on the reply topic and its copy on <prefix>/errors.
  const bad = await sendRequest({ url: sb.url, prefix: PREFIX, model: 'digits', body: { id: 'bad-1', input: [1, 2, 3] }, username: APP_USER, password: APP_PASSWORD, tls: clientTls, timeoutMs: 10_000 });
  t.equal(bad.kind, 'error');
  if (bad.kind === 'error') t.equal(bad.body.error.code, 'EDGE_ERR_BAD_TENSOR');
  await watcher.until(() => watcher.on(`${PREFIX}/errors`).some((m) => (m.json as { id?: string }).id === 'bad-1'), 10_000, 'error copy');

  // A request with no reply topic is answered on <prefix>/models/digits/result.
  await watcher.client.publishAsync(`${PREFIX}/models/digits/infer`, JSON.stringify({ id: 'plain-1', input: evalSet.inputs[2] }), { qos: 1 });
  await watcher.until(() => watcher.on(`${PREFIX}/models/digits/result`).some((m) => (m.json as { id?: string }).id === 'plain-1'), 10_000, 'result topic answer');

  // The group's shared stream (issue 15) under the same ACL: a request to edge/group/kitchen is
  // answered on the group's reply area, and a bad one copied to the group's errors topic.
  await svc.waitLog('group.joined');
  await svc.waitLog('"layer":"group"');
  const grp = await sendRequest({ url: sb.url, prefix: 'edge/group/kitchen', model: 'digits', body: { id: 'grp-1', input: evalSet.inputs[3] }, username: APP_USER, password: APP_PASSWORD, tls: clientTls, timeoutMs: 10_000 });
  t.equal(grp.kind, 'result', 'a group request is answered under the ACL');
  if (grp.kind === 'result') t.equal(grp.body.top?.[0]?.label, String(evalSet.labels[3]));
  const grpBad = await sendRequest({ url: sb.url, prefix: 'edge/group/kitchen', model: 'digits', body: { id: 'grp-bad', input: [1] }, username: APP_USER, password: APP_PASSWORD, tls: clientTls, timeoutMs: 10_000 });
  t.equal(grpBad.kind, 'error', 'a bad group request gets its error answer');

  // Telemetry (QoS 0) arrives.
  await watcher.until(() => watcher.on(`${PREFIX}/telemetry`).length > 0, 10_000, 'telemetry');

  // Nothing the service did was denied; the service logged no subscribe or publish failure.
  const brokerLog = sb.log();
  t.equal(
    sb.count(DENIED),
    0,
    `mosquitto denied nothing:\n${brokerLog
      .split('\n')
      .filter((l) => DENIED.test(l))
      .join('\n')}`,
  );
  t.notMatch(svc.logs(), /subscribe_failed|publish_failed/, 'no subscribe or publish failure in the service log');
  t.match(brokerLog, new RegExp(`Received PUBLISH from edge-infer-${DEVICE}.*'${PREFIX}/status'`), 'the broker log shows the service publishing (the check above is not vacuous)');

  // The ACL does deny: the app may not publish a status in the device's name.
  await watcher.client.publishAsync(`${PREFIX}/status`, '{"state":"online","forged":true}', { qos: 1, retain: true }).catch(() => undefined);
  await until(() => sb.count(/Denied PUBLISH/) > 0, 5_000, 'the forged status to be denied');
  t.ok(sb.count(/Denied PUBLISH .*status/) >= 1, 'a forged status from the app client is denied');

  // The password never appears in the service's logs (level debug) nor in anything it published.
  t.notOk(svc.logs().includes(SERVICE_PASSWORD), 'password absent from the service log');
  t.notOk(
    watcher.messages.some((m) => m.payload.includes(SERVICE_PASSWORD)),
    'password absent from every published message',
  );
  t.ok(svc.logs().length > 0);
  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0, 'SIGTERM exits 0 (offline status is allowed by the ACL too)');
  t.equal(sb.count(DENIED) - 1, 0, 'still only the forged status denied after the clean stop');
});

t.test('an answer to a reply topic outside the ACL is denied once per request, not retried in a loop, and other requests are still answered', async (t) => {
  const sb = await startSecureBroker({ aclFile: ACL });
  t.teardown(() => sb.stop());
  // The test PKI has one client certificate; the service and the application both present it.
  const clientTls = { caFile: sb.pki.caCert, certFile: sb.pki.clientCert, keyFile: sb.pki.clientKey };
  const watcher = await Watcher.open(sb.url, [`${PREFIX}/status`], appClient(sb));
  t.teardown(() => watcher.client.endAsync(true));
  process.env['EDGE_INFER_MQTT_PASSWORD'] = SERVICE_PASSWORD;
  const svc = startService({ deviceId: DEVICE, modelsDir: MODELS, broker: { url: sb.url, username: SERVICE_USER, tls: clientTls } });
  delete process.env['EDGE_INFER_MQTT_PASSWORD'];
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('mqtt.connected');
  // Status online means the broker has taken the service's SUBSCRIBE (sent before it on the same connection).
  await watcher.until(() => watcher.on(`${PREFIX}/status`).some((m) => (m.json as { state?: string }).state === 'online'), 10_000, 'status online');

  // A hostile reply topic: MQTT 5 responseTopic outside edge/pi-kitchen/replies/#.
  await watcher.client.publishAsync(`${PREFIX}/models/digits/infer`, JSON.stringify({ id: 'elsewhere-1', input: evalSet.inputs[0] }), { qos: 1, properties: { responseTopic: 'other/device/inbox', correlationData: Buffer.from('x') } });
  await until(() => sb.count(/Denied PUBLISH .*other\/device\/inbox/) >= 1, 10_000, 'the denied answer');
  const a = await sendRequest({ url: sb.url, prefix: PREFIX, model: 'digits', body: { id: 'after', input: evalSet.inputs[1] }, username: APP_USER, password: APP_PASSWORD, tls: clientTls, timeoutMs: 10_000 });
  t.equal(a.kind, 'result', 'a later request is answered');
  const again = await sendRequest({ url: sb.url, prefix: PREFIX, model: 'digits', body: { id: 'after-2', input: evalSet.inputs[2] }, username: APP_USER, password: APP_PASSWORD, tls: clientTls, timeoutMs: 10_000 });
  t.equal(again.kind, 'result', 'and another');
  const denials = sb.count(/Denied PUBLISH .*other\/device\/inbox/);
  t.comment(`denied publishes to the hostile reply topic: ${denials}`);
  t.ok(denials <= 3, `the denied answer is not republished in a loop (${denials} denials)`);
  t.equal(svc.child.exitCode, null, 'the service is running');
});
