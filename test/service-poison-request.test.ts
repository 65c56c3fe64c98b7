/**
 * Issue 12, poison requests: a QoS 1 request whose input hangs the inference (the real spin-loop
 * model with x = 11: ~25 min in one session.run) is redelivered by the broker after every restart.
 * The service's own watchdog check finds the inference stuck (`health.stuck`, as under systemd with
 * WatchdogSec) and the test then kills it as systemd would; after the second such death the
 * redelivered request is answered once with EDGE_ERR_POISON_REQUEST and acknowledged, and the model
 * goes on serving other inputs, also after another restart. Real mosquitto, real onnxruntime, the
 * built CLI.
 */
import t from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startMosquitto } from './helpers/mosquitto.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { ROOT, startService, type ServiceProcess } from './helpers/service-process.js';

/** A models folder holding only `spin` (test/fixtures/models/spin-loop.onnx, as test/systemd-nspawn/run.sh builds it). */
function spinModels(dir: string): string {
  const models = path.join(dir, 'models');
  mkdirSync(path.join(models, 'spin'), { recursive: true });
  const file = path.join(models, 'spin', 'fp32.onnx');
  copyFileSync(path.join(ROOT, 'test', 'fixtures', 'models', 'spin-loop.onnx'), file);
  const bytes = readFileSync(file);
  writeFileSync(
    path.join(models, 'spin', 'model.json'),
    JSON.stringify({
      id: 'spin',
      task: 'other',
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 1] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 1] }],
      reference: 'fp32',
      variants: [{ id: 'fp32', file: 'fp32.onnx', sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, precision: 'fp32', params: 0, macs: 1, ops: ['Sub', 'Relu', 'Mul', 'Cast', 'Reshape', 'Loop'], quality: { accuracy: 1, agreement: 1, evalCount: 1 } }],
    }),
  );
  return models;
}

t.test('a request that hangs the service at every restart is answered once with EDGE_ERR_POISON_REQUEST after two deaths, and the model goes on', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-poison-'));
  const config = { deviceId: 'poison', broker: { url: broker.url }, modelsDir: spinModels(dir), profile: 'generic-x64', drainTimeoutMs: 1000, adaptive: { enabled: false }, telemetry: { intervalS: 60 } };
  // The watchdog check runs every 0.5 s (as under WatchdogSec=1); nobody pings systemd (no NOTIFY_SOCKET).
  const env = { WATCHDOG_USEC: '1000000', NOTIFY_SOCKET: '' };
  const procs: ServiceProcess[] = [];
  const start = async (): Promise<ServiceProcess> => {
    const s = startService(config, [], dir, env);
    procs.push(s);
    await s.waitLog('mqtt.connected');
    return s;
  };
  t.teardown(() => {
    for (const p of procs) p.child.kill('SIGKILL');
  });
  const w = await Watcher.open(broker.url, ['replies/poison', 'edge/poison/status']);
  t.teardown(() => w.close());
  const answers = (id: string) =>
    w
      .on('replies/poison')
      .map((m) => m.json as { id: string; error?: { code: string; details?: { crashes?: number } }; outputs?: unknown })
      .filter((a) => a.id === id);
  const send = (id: string, x: number): void => {
    w.client.publish('edge/poison/models/spin/infer', JSON.stringify({ id, input: [x] }), { qos: 1, properties: { responseTopic: 'replies/poison' } });
  };
  const answered = async (id: string): Promise<void> =>
    w
      .until(() => answers(id).length > 0, 20_000, `an answer to ${id}`)
      .catch((e: unknown) => {
        t.comment(procs.at(-1)?.logs() ?? '');
        throw e;
      });

  let svc = await start();
  // The first start subscribes; its retained `online` follows the SUBSCRIBE on the same connection.
  await w.until(() => w.on('edge/poison/status').some((m) => (m.json as { state?: string }).state === 'online'), 20_000, 'status online');
  send('warm', 1);
  await answered('warm');
  t.notOk(answers('warm')[0]?.error, 'x = 1 is answered with a result (subscribed, model ready)');

  send('stuck', 11);
  for (let death = 1; death <= 2; death++) {
    await svc.waitLog('health.stuck');
    svc.child.kill('SIGKILL'); // what systemd does when the watchdog pings stop
    await svc.exited;
    svc = await start();
    t.match(svc.logs(), /poison\.crash_counted/, `restart ${death} counts a crash for the input that was running`);
  }
  await answered('stuck');
  const poison = answers('stuck');
  t.equal(poison.length, 1, 'the redelivered request is answered once');
  t.equal(poison[0]?.error?.code, 'EDGE_ERR_POISON_REQUEST', 'with EDGE_ERR_POISON_REQUEST');
  t.equal(poison[0]?.error?.details?.crashes, 2, 'naming the two deaths');
  send('after', 2);
  await answered('after');
  t.notOk(answers('after')[0]?.error, 'the model goes on: the next input is answered with a result');
  t.notOk(svc.logs().includes('health.stuck'), 'and nothing hung in this run');

  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0, 'a clean stop');
  svc = await start();
  send('again', 3);
  await answered('again');
  t.notOk(answers('again')[0]?.error, 'after another restart the model serves');
  t.equal(answers('stuck').length, 1, 'and the poison request was acknowledged: not delivered again');
  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0);
});
