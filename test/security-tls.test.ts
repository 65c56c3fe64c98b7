/**
 * TLS and credentials against a real mosquitto (TLS listener, require_certificate, password_file):
 * a 0600 passwordFile works; wrong CA, expired client certificate, a client certificate from
 * another CA and a bad password each log one coded error and are retried with backoff (the broker
 * sees the attempts) while the process stays up; a group-readable passwordFile stops the service
 * at start with exit 78 EDGE_ERR_CREDENTIALS. No password appears in any log line.
 */
import t, { type Test } from 'tap';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeTestPki } from './helpers/certs.js';
import { copyDigits } from './helpers/digits-copy.js';
import { SERVICE_PASSWORD, SERVICE_USER, startSecureBroker, until, type SecureBroker } from './helpers/secure-broker.js';
import { ROOT, startService, type ServiceProcess } from './helpers/service-process.js';
import { sendRequest } from '../runtime/transport/client.js';

interface EvalSet {
  inputs: number[][];
  labels: number[];
}
const evalSet = JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'eval.json'), 'utf8')) as EvalSet;

const work = mkdtempSync(path.join(tmpdir(), 'edge-sec-tls-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const MODELS = path.join(work, 'models');
copyDigits(MODELS);
const WRONG_PASSWORD = 'wrong-Pa55-93e1d';

function secretFile(name: string, text: string, mode: number): string {
  const f = path.join(work, name);
  writeFileSync(f, `${text}\n`, { mode });
  chmodSync(f, mode);
  return f;
}

const pki = makeTestPki(SERVICE_USER);
t.teardown(() => rmSync(pki.dir, { recursive: true, force: true }));
// Each case has its own broker (its log counts only that case's attempts), so the cases run in parallel.
t.jobs = 4;

async function broker(t: Test): Promise<SecureBroker> {
  const sb = await startSecureBroker({ pki });
  t.teardown(() => sb.stop());
  return sb;
}

function service(sb: SecureBroker, name: string, broker: Record<string, unknown>): ServiceProcess {
  const svc = startService({ deviceId: name, modelsDir: MODELS, broker: { url: sb.url, username: SERVICE_USER, reconnectMinMs: 50, reconnectMaxMs: 200, ...broker }, log: { level: 'debug', format: 'json' } });
  return svc;
}

const FAILED = '"event":"mqtt.connection_failed"';
/** Lines the broker writes for every connection attempt (accepted, or failed in the TLS handshake). */
const ATTEMPT = /New connection from|Client connection from .* failed/;

/** The service logs `code` once, the broker sees at least 3 more attempts, and the process is still running. */
async function expectRetried(t: Test, sb: SecureBroker, svc: ServiceProcess, code: string): Promise<void> {
  const before = sb.count(ATTEMPT);
  await svc.waitLog(FAILED, 20_000);
  await until(() => sb.count(ATTEMPT) >= before + 6 || svc.child.exitCode !== null, 20_000, 'reconnect attempts');
  t.equal(svc.child.exitCode, null, 'the service is still running after several attempts');
  const failures = svc
    .logs()
    .split('\n')
    .filter((l) => l.includes(FAILED));
  t.equal(failures.length, 1, 'the failure is logged once, not once per attempt');
  t.match(failures[0] ?? '', `"code":"${code}"`, `logged as ${code}`);
  t.notMatch(svc.logs(), /mqtt\.connected/, 'never connected');
  t.comment(`${code}: broker saw ${sb.count(ATTEMPT) - before} attempt lines`);
  svc.child.kill('SIGKILL');
  await svc.exited;
  t.notOk(svc.logs().includes(SERVICE_PASSWORD) || svc.logs().includes(WRONG_PASSWORD), 'no password in the log');
}

t.test('with a 0600 passwordFile, the CA and a client certificate the service connects over mqtts and answers', { buffered: true }, async (t) => {
  const sb = await broker(t);
  const file = secretFile('good.pw', SERVICE_PASSWORD, 0o600);
  const svc = service(sb, 'good', { passwordFile: file, tls: { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey } });
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('mqtt.connected');
  await svc.waitLog('"event":"service.ready"');
  // Retry until the subscription is in place (the request topic has no retained state).
  let answer;
  for (let i = 0; i < 20 && answer === undefined; i++) {
    answer = await sendRequest({ url: sb.url, prefix: 'edge/good', model: 'digits', body: { id: 'tls-1', input: evalSet.inputs[0] }, username: SERVICE_USER, password: SERVICE_PASSWORD, timeoutMs: 1_000, tls: { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey } }).catch(() => undefined);
  }
  t.equal(answer?.kind, 'result');
  if (answer?.kind === 'result') t.equal(answer.body.top?.[0]?.label, String(evalSet.labels[0]));
  t.notOk(svc.logs().includes(SERVICE_PASSWORD), 'no password in the log');
});

t.test('a broker certificate from another CA gives EDGE_ERR_TLS once and retries with backoff', { buffered: true }, async (t) => {
  const sb = await broker(t);
  const file = secretFile('wrongca.pw', SERVICE_PASSWORD, 0o600);
  const svc = service(sb, 'wrongca', { passwordFile: file, tls: { caFile: pki.otherCaCert, certFile: pki.clientCert, keyFile: pki.clientKey } });
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await expectRetried(t, sb, svc, 'EDGE_ERR_TLS');
});

t.test('an expired client certificate gives EDGE_ERR_TLS once and retries with backoff', { buffered: true }, async (t) => {
  const sb = await broker(t);
  const file = secretFile('expired.pw', SERVICE_PASSWORD, 0o600);
  const svc = service(sb, 'expired', { passwordFile: file, tls: { caFile: pki.caCert, certFile: pki.expiredCert, keyFile: pki.expiredKey } });
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await expectRetried(t, sb, svc, 'EDGE_ERR_TLS');
});

t.test('a client certificate signed by an unknown CA gives EDGE_ERR_TLS once and retries with backoff', { buffered: true }, async (t) => {
  const sb = await broker(t);
  const file = secretFile('stranger.pw', SERVICE_PASSWORD, 0o600);
  const svc = service(sb, 'stranger', { passwordFile: file, tls: { caFile: pki.caCert, certFile: pki.strangerCert, keyFile: pki.strangerKey } });
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await expectRetried(t, sb, svc, 'EDGE_ERR_TLS');
});

t.test('a wrong password (from a custom passwordEnv) gives EDGE_ERR_BROKER_AUTH once and retries with backoff', { buffered: true }, async (t) => {
  const sb = await broker(t);
  process.env['EDGE_SEC_TEST_PASSWORD'] = WRONG_PASSWORD;
  const svc = service(sb, 'badpw', { passwordEnv: 'EDGE_SEC_TEST_PASSWORD', tls: { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey } });
  delete process.env['EDGE_SEC_TEST_PASSWORD'];
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  const denied = sb.count(/not authori[sz]ed/);
  await expectRetried(t, sb, svc, 'EDGE_ERR_BROKER_AUTH');
  t.ok(sb.count(/not authori[sz]ed/) - denied >= 2, 'the broker refused the credentials more than once (retried)');
});

t.test('a passwordFile readable by its group stops the service at start with exit 78 EDGE_ERR_CREDENTIALS', { buffered: true }, async (t) => {
  const sb = await broker(t);
  const file = secretFile('loose.pw', SERVICE_PASSWORD, 0o640);
  const svc = service(sb, 'loose', { passwordFile: file, tls: { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey } });
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  t.equal(await svc.exited, 78, 'exit 78 (systemd RestartPreventExitStatus)');
  t.match(svc.logs(), 'EDGE_ERR_CREDENTIALS');
  t.match(svc.logs(), file, 'the message names the file');
  t.notOk(svc.logs().includes(SERVICE_PASSWORD), 'no password in the log');
});

t.test('an unreadable TLS key file stops the service at start with EDGE_ERR_TLS naming the file', { buffered: true }, async (t) => {
  const sb = await broker(t);
  const missing = path.join(work, 'no-such.key');
  const svc = service(sb, 'nokey', { tls: { caFile: pki.caCert, certFile: pki.clientCert, keyFile: missing } });
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  t.equal(await svc.exited, 78, 'exit 78');
  t.match(svc.logs(), 'EDGE_ERR_TLS');
  t.match(svc.logs(), missing);
});
