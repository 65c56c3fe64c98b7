import t, { type Test } from 'tap';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EdgeError } from '../../../runtime/errors.js';
import { applyOverrides, loadServiceConfig, modelConfig, parseServiceConfig, readSecret, resolveBrokerPassword, type ConfigContext } from '../../../runtime/config/service-config.js';
import type { SchemaProblem } from '../../../runtime/config/schema-check.js';

const ctx: ConfigContext = { hostname: 'pi-kitchen', env: {}, packageRoot: '/opt/edge-infer' };

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edge-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function problemsOf(t: Test, fn: () => unknown, code = 'EDGE_ERR_CONFIG_INVALID'): SchemaProblem[] {
  try {
    fn();
  } catch (e) {
    t.ok(e instanceof EdgeError, 'throws an EdgeError');
    t.equal((e as EdgeError).code, code);
    return ((e as EdgeError).details?.['problems'] ?? []) as SchemaProblem[];
  }
  t.fail('did not throw');
  return [];
}

t.test('no file gives every default, with the host name as device id', async (t) => {
  const c = await loadServiceConfig(undefined, ctx);
  t.equal(c.deviceId, 'pi-kitchen');
  t.equal(c.topicPrefix, 'edge/pi-kitchen');
  t.equal(c.profile, undefined, 'no profile means detect');
  t.equal(c.modelsDir, '/opt/edge-infer/models');
  t.equal(c.stateDir, '/var/lib/edge-infer');
  t.same(c.broker, { url: 'mqtt://localhost:1883', protocolVersion: 5, clientId: 'edge-infer-pi-kitchen', keepaliveS: 30, passwordEnv: 'EDGE_INFER_MQTT_PASSWORD', reconnectMinMs: 500, reconnectMaxMs: 30000, readyWaitS: 10 });
  t.same(c.replyTopics, { allow: ['#'], homeAssistantPrefix: 'homeassistant' });
  t.same(c.embeddedBroker, { mode: 'auto', host: '127.0.0.1', port: 1883 });
  t.same(c.limits, { maxPayloadBytes: 1048576, maxBatch: 64 });
  t.same(c.outbox, { maxMessages: 10000, maxBytes: 67108864 });
  t.equal(c.drainTimeoutMs, 5000);
  t.same(c.log, { level: 'info', format: 'auto' });
  t.same(c.telemetry, {});
  t.same(c.models, {});
  t.same(modelConfig(c, 'digits'), { enabled: true, priority: 0, maxBatch: 1, maxQueueDelayMs: 0, preferredBatchSizes: [], queueLimit: 64 });
});

t.test("systemd's STATE_DIRECTORY is the default state directory", async (t) => {
  const c = await loadServiceConfig(undefined, { ...ctx, env: { STATE_DIRECTORY: '/var/lib/private/edge-infer:/other' } });
  t.equal(c.stateDir, '/var/lib/private/edge-infer');
});

t.test('a config file fills per-model defaults, replaces {deviceId} and resolves paths against its folder', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'config.json');
  await writeFile(
    file,
    JSON.stringify({
      deviceId: 'pi-7',
      topicPrefix: 'plant/{deviceId}/ai',
      profile: 'profiles/my-board.json',
      modelsDir: 'models',
      broker: { url: 'mqtts://broker.lan:8883', tls: { caFile: 'ca.pem' }, passwordFile: '/etc/edge-infer/password' },
      models: { digits: { priority: 2, maxBatch: 8, preferredBatchSizes: [4, 8] } },
      telemetry: { intervalS: 5 },
    }),
  );
  const c = await loadServiceConfig(file, ctx);
  t.equal(c.topicPrefix, 'plant/pi-7/ai');
  t.equal(c.broker.clientId, 'edge-infer-pi-7');
  t.equal(c.profile, join(dir, 'profiles/my-board.json'));
  t.equal(c.modelsDir, join(dir, 'models'));
  t.same(c.broker.tls, { caFile: join(dir, 'ca.pem'), rejectUnauthorized: true });
  t.equal(c.broker.passwordFile, '/etc/edge-infer/password');
  t.same(c.models['digits'], { enabled: true, priority: 2, maxBatch: 8, maxQueueDelayMs: 0, preferredBatchSizes: [4, 8], queueLimit: 64 });
  t.equal(c.telemetry.intervalS, 5);
  t.equal(c.source.file, file);
  const byId = parseServiceConfig({ profile: 'rpi4-2gb' }, file, ctx);
  t.equal(byId.profile, 'rpi4-2gb', 'a profile id stays an id');
});

t.test('flags override the file and a new device id moves the derived topic prefix and client id', async (t) => {
  const c = parseServiceConfig({ topicPrefix: 'edge/{deviceId}', broker: { clientId: 'fixed-client' } }, 'c.json', ctx);
  const o = applyOverrides(c, { deviceId: 'pi-9', broker: 'mqtt://10.0.0.2:1884', profile: 'rpi5-8gb', models: './my-models' });
  t.equal(o.deviceId, 'pi-9');
  t.equal(o.topicPrefix, 'edge/pi-9');
  t.equal(o.broker.clientId, 'fixed-client', 'an explicit client id is kept');
  t.equal(o.broker.url, 'mqtt://10.0.0.2:1884');
  t.equal(o.profile, 'rpi5-8gb');
  t.equal(o.modelsDir, './my-models');
  t.equal(c.deviceId, 'pi-kitchen', 'the input config is not modified');
  t.equal(c.topicPrefix, 'edge/pi-kitchen');
});

t.test('bad override flags are usage errors naming the flag', async (t) => {
  const c = parseServiceConfig({}, 'c.json', ctx);
  for (const [overrides, flag] of [
    [{ deviceId: 'a/b' }, '--device-id'],
    [{ deviceId: '+' }, '--device-id'],
    [{ broker: 'http://x' }, '--broker'],
    [{ broker: 'ws://x:8080' }, '--broker'],
    [{ broker: 'not a url' }, '--broker'],
  ] as const) {
    try {
      applyOverrides(c, overrides);
      t.fail(`accepted ${JSON.stringify(overrides)}`);
    } catch (e) {
      t.equal((e as EdgeError).code, 'EDGE_ERR_USAGE');
      t.equal((e as EdgeError).details?.['flag'], flag);
    }
  }
  const tls = parseServiceConfig({ broker: { url: 'mqtts://b:8883', tls: {} } }, 'c.json', ctx);
  t.throws(() => applyOverrides(tls, { broker: 'mqtt://b:1883' }), { code: 'EDGE_ERR_USAGE' }, 'TLS settings need a TLS broker URL');
});

t.test('refuses wrong types, unknown keys and values outside the allowed set, naming file, path and allowed', async (t) => {
  const problems = problemsOf(t, () => parseServiceConfig({ broker: { protocolVersion: 3, keepaliveS: '30', colour: 'red' }, embeddedBroker: { mode: 'sometimes' }, models: { 'Bad Id': {}, digits: { queueLimit: 0 } }, log: { format: 'xml' }, extra: true }, 'bad.json', ctx));
  const at = (path: string) => problems.find((p) => p.path === path);
  t.same(at('/broker/protocolVersion')?.allowed, [4, 5]);
  t.equal(at('/broker/keepaliveS')?.allowed, 'integer');
  t.ok(at('/broker/colour'), 'unknown nested key');
  t.same(at('/embeddedBroker/mode')?.allowed, ['auto', 'always', 'never']);
  t.ok(at('/models/Bad Id'), 'bad model id');
  t.equal(at('/models/digits/queueLimit')?.allowed, '>= 1');
  t.same(at('/log/format')?.allowed, ['auto', 'json', 'text']);
  t.ok(at('/extra'), 'unknown top-level key');
});

t.test('refuses what the schema cannot express', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ broker: { reconnectMinMs: 60000, reconnectMaxMs: 1000 } }, '/broker/reconnectMinMs'],
    [{ broker: { url: 'mqtts://b', tls: { certFile: 'c.pem' } } }, '/broker/tls/keyFile'],
    [{ broker: { url: 'mqtt://b', tls: { caFile: 'ca.pem' } } }, '/broker/tls'],
    [{ broker: { url: 'wss://b' } }, '/broker/url'],
    [{ models: { digits: { maxBatch: 128 } } }, '/models/digits/maxBatch'],
    [{ models: { digits: { maxBatch: 4, preferredBatchSizes: [2, 8] } } }, '/models/digits/preferredBatchSizes/1'],
    [{ topicPrefix: 'edge/{deviceId}/' }, '/topicPrefix'],
    [{ topicPrefix: 'edge/#' }, '/topicPrefix'],
    [{ deviceId: 'a b' }, '/deviceId'],
  ];
  for (const [doc, path] of cases) {
    const problems = problemsOf(t, () => parseServiceConfig(doc, 'bad.json', ctx));
    t.ok(
      problems.some((p) => p.path === path),
      `${JSON.stringify(doc)} -> ${path} (got ${problems.map((p) => p.path).join(', ')})`,
    );
  }
  const odd = problemsOf(t, () => parseServiceConfig({}, 'c.json', { ...ctx, hostname: 'my host' }));
  t.equal(odd[0]?.path, '/deviceId', 'an unusable host name asks for deviceId');
});

t.test('a missing or malformed config file is a config error naming the file', async (t) => {
  const dir = await tempDir(t);
  const missing = await loadServiceConfig(join(dir, 'nope.json'), ctx).catch((e: unknown) => e);
  t.equal((missing as EdgeError).code, 'EDGE_ERR_CONFIG_INVALID');
  t.equal((missing as EdgeError).details?.['file'], join(dir, 'nope.json'));
  const bad = join(dir, 'bad.json');
  await writeFile(bad, '{ "deviceId": "x", }');
  const err = await loadServiceConfig(bad, ctx).catch((e: unknown) => e);
  t.equal((err as EdgeError).code, 'EDGE_ERR_CONFIG_INVALID');
  t.match((err as EdgeError).details, { file: bad, line: 1, column: 20 });
});

t.test('readSecret reads a private file and refuses one group or others can read, without revealing it', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'password');
  const secret = 's3cret-Value';
  await writeFile(file, `${secret}\n`);
  await chmod(file, 0o600);
  t.equal(await readSecret(file), secret, 'one trailing newline is stripped');
  for (const mode of [0o640, 0o604, 0o660]) {
    await chmod(file, mode);
    const err = await readSecret(file).catch((e: unknown) => e);
    t.ok(err instanceof EdgeError);
    t.equal((err as EdgeError).code, 'EDGE_ERR_CREDENTIALS', mode.toString(8));
    t.equal((err as EdgeError).details?.['mode'], `0${mode.toString(8)}`);
    t.notOk(JSON.stringify({ m: (err as EdgeError).message, d: (err as EdgeError).details }).includes(secret), 'the secret is not in the error');
  }
  t.equal(((await readSecret(join(dir, 'none')).catch((e: unknown) => e)) as EdgeError).code, 'EDGE_ERR_CREDENTIALS');
  t.equal(((await readSecret(dir).catch((e: unknown) => e)) as EdgeError).code, 'EDGE_ERR_CREDENTIALS', 'a directory is refused');
  const empty = join(dir, 'empty');
  await writeFile(empty, '\n', { mode: 0o600 });
  t.equal(((await readSecret(empty).catch((e: unknown) => e)) as EdgeError).code, 'EDGE_ERR_CREDENTIALS');
});

t.test('the broker password comes from the file when set, else from the environment variable', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'pw');
  await writeFile(file, 'from-file', { mode: 0o600 });
  t.equal(await resolveBrokerPassword({ passwordEnv: 'PW', passwordFile: file }, { PW: 'from-env' }), 'from-file');
  t.equal(await resolveBrokerPassword({ passwordEnv: 'PW' }, { PW: 'from-env' }), 'from-env');
  t.equal(await resolveBrokerPassword({ passwordEnv: 'PW' }, {}), undefined);
});
