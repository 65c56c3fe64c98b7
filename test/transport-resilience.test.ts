import t from 'tap';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MqttService, type TransportStats } from '../runtime/transport/mqtt-service.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { FakeHandler } from './helpers/fake-handler.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { liveInOutbox } from './helpers/outbox-dir.js';

const PREFIX = 'edge/resilient';
const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'helpers', 'transport-child.js');

function ids(w: Watcher, topic: string, variant?: string): Set<string> {
  return new Set(
    w
      .on(topic)
      .map((m) => m.json as { id?: string; variant?: string })
      .filter((b) => variant === undefined || b.variant === variant)
      .map((b) => String(b.id)),
  );
}

async function requester(url: string, clientId: string, replyTo: string): Promise<Watcher> {
  return Watcher.open(url, [replyTo], { clientId, clean: false, properties: { sessionExpiryInterval: 3600 } });
}

function startChild(env: Record<string, unknown>): Promise<ChildProcess> {
  const child = fork(CHILD, [], { env: { ...process.env, EDGE_TRANSPORT_CHILD: JSON.stringify(env) }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => (m === 'ready' ? resolve(child) : reject(new Error(String(m)))));
    child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
}

function childStats(child: ChildProcess): Promise<TransportStats> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as TransportStats));
    child.send('stats');
  });
}

async function until(pred: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

t.test('every answer arrives when the broker restarts in the middle of a stream', async (t) => {
  const broker = await startMosquitto({ persistence: true });
  const dir = mkdtempSync(join(tmpdir(), 'edge-res-'));
  const svc = await MqttService.start({ url: broker.url, clientId: 'svc-restart', prefix: PREFIX, handler: new FakeHandler({ delayMs: 30 }), outbox: { dir: join(dir, 'outbox'), fsync: 'never' }, reconnect: { minMs: 50, maxMs: 300 } });
  await svc.waitConnected(5000);
  const replyTo = 'test/replies/stream';
  const req = await requester(broker.url, 'req-stream', replyTo);
  t.teardown(async () => {
    await req.close();
    await svc.stop({ drainTimeoutMs: 500 });
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const N = 60;
  for (let i = 0; i < N; i++) {
    if (i === 20) await broker.terminate();
    if (i === 40) await broker.restart();
    req.client.publish(`${PREFIX}/models/sum/infer`, JSON.stringify({ id: `s${i}`, input: [i, 0, 0, 0] }), { qos: 1, properties: { responseTopic: replyTo } });
    await new Promise((r) => setTimeout(r, 5));
  }
  await req.until(() => ids(req, replyTo).size === N, 20_000, 'all answers');
  const got = ids(req, replyTo);
  t.equal(got.size, N, 'every id answered');
  const dupes = req.on(replyTo).length - got.size;
  t.comment(`answers ${req.on(replyTo).length} for ${N} ids (${dupes} duplicates); service reconnects ${svc.stats().reconnects}`);
  t.ok(svc.stats().reconnects >= 1, 'the service reconnected');
  await until(() => svc.stats().outboxDepth === 0, 5000, 'outbox empty');
  t.equal(svc.stats().outboxDepth, 0, 'nothing left in the outbox');
});

t.test('a request is acknowledged only after its answer is queued: a stuck one is redelivered after a reconnect', async (t) => {
  const broker = await startMosquitto({ persistence: true });
  const dir = mkdtempSync(join(tmpdir(), 'edge-ack-'));
  const handler = new FakeHandler({ stuckCalls: 1 });
  const svc = await MqttService.start({ url: broker.url, clientId: 'svc-ack', prefix: PREFIX, handler, outbox: { dir: join(dir, 'outbox'), fsync: 'never' }, reconnect: { minMs: 50, maxMs: 300 } });
  await svc.waitConnected(5000);
  const replyTo = 'test/replies/ack';
  const req = await requester(broker.url, 'req-ack', replyTo);
  t.teardown(async () => {
    await req.close();
    await svc.stop({ drainTimeoutMs: 500 });
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  await req.publish(`${PREFIX}/models/stuck/infer`, JSON.stringify({ id: 'stuck-1', input: [1, 2, 3, 4] }), { qos: 1, properties: { responseTopic: replyTo } });
  await req.publish(`${PREFIX}/models/sum/infer`, JSON.stringify({ id: 'ctl', input: [1, 1, 1, 1] }), { qos: 1, properties: { responseTopic: replyTo } });
  await req.until(() => ids(req, replyTo).has('ctl'), 5000, 'control answer');
  t.equal(handler.calls.filter((c) => c.id === 'stuck-1').length, 1, 'the stuck request reached the handler once');

  await broker.restart();
  await req.until(() => ids(req, replyTo).has('stuck-1'), 10_000, 'redelivered answer');
  t.equal(handler.calls.filter((c) => c.id === 'stuck-1').length, 2, 'the unacknowledged request was redelivered');
  t.equal(handler.calls.filter((c) => c.id === 'ctl').length, 1, 'the answered request was acknowledged and not redelivered');
});

t.test('answers waiting in the outbox survive a SIGKILL of the service and arrive after its restart', async (t) => {
  const broker = await startMosquitto({ persistence: true });
  const dir = mkdtempSync(join(tmpdir(), 'edge-kill-'));
  const outbox = join(dir, 'outbox');
  const replyTo = 'test/replies/kill';
  const req = await requester(broker.url, 'req-kill', replyTo);
  const base = { url: broker.url, dir: outbox, clientId: 'svc-kill', prefix: PREFIX };
  const a = await startChild({ ...base, delayMs: 400, variant: 'first' });
  let b: ChildProcess | undefined;
  t.teardown(async () => {
    a.kill('SIGKILL');
    b?.kill('SIGKILL');
    await req.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await until(async () => (await childStats(a)).connected, 5000, 'child connected');

  const N = 10;
  for (let i = 0; i < N; i++) await req.publish(`${PREFIX}/models/sum/infer`, JSON.stringify({ id: `k${i}`, input: [i, 1, 1, 1] }), { qos: 1, properties: { responseTopic: replyTo } });
  await until(async () => (await childStats(a)).requestsReceived === N, 5000, 'requests received');
  await broker.terminate();
  // Answers are listed at once and made durable by the group commit (publish-ahead): wait for both.
  await until(
    async () => {
      const st = await childStats(a);
      return st.outboxDepth === N && st.outboxWriting === 0;
    },
    5000,
    'answers queued and durable',
  );
  await killed(a);
  t.equal(liveInOutbox(outbox), N, 'the answers are on disk');

  await broker.restart();
  b = await startChild({ ...base, delayMs: 0, variant: 'second' });
  await req.until(() => ids(req, replyTo, 'first').size === N, 10_000, 'answers from the outbox');
  t.equal(ids(req, replyTo, 'first').size, N, 'every answer computed before the kill arrived');
  await until(async () => (await childStats(b as ChildProcess)).outboxDepth === 0, 5000, 'outbox drained');
  t.equal(liveInOutbox(outbox), 0, 'every answer is cancelled in the outbox log after PUBACK');
});

t.test('the will publishes offline when the service is killed', async (t) => {
  const broker = await startMosquitto();
  const dir = mkdtempSync(join(tmpdir(), 'edge-will-'));
  const child = await startChild({ url: broker.url, dir: join(dir, 'outbox'), clientId: 'svc-will', prefix: PREFIX });
  const watch = await Watcher.open(broker.url, [`${PREFIX}/status`]);
  t.teardown(async () => {
    child.kill('SIGKILL');
    await watch.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await watch.until(() => watch.messages.some((m) => (m.json as { state?: string }).state === 'online'), 5000, 'online');
  await killed(child);
  await watch.until(() => (watch.messages.at(-1)?.json as { state?: string }).state === 'offline', 5000, 'offline');
  t.same(watch.messages.at(-1)?.json, { state: 'offline' }, 'the will says offline');
  const late = await Watcher.open(broker.url, [`${PREFIX}/status`]);
  await late.until(() => late.messages.length > 0, 5000, 'retained');
  t.same(late.messages[0]?.json, { state: 'offline' }, 'and it is retained');
  await late.close();
});
