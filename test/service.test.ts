/**
 * `edge-infer run` end to end: the built CLI as a child process, a real mosquitto (MQTT 5) or the
 * embedded broker (MQTT 3.1.1), the real digits model in onnxruntime, real signals.
 */
import t from 'tap';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sendRequest } from '../runtime/transport/client.js';
import { freePort, startMosquitto } from './helpers/mosquitto.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { ROOT, startService } from './helpers/service-process.js';

interface EvalSet {
  inputs: number[][];
  labels: number[];
}
const evalSet = JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'eval.json'), 'utf8')) as EvalSet;

t.test('serves digits over MQTT 5 with correlation data, reports telemetry and status, and drains on SIGTERM', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const prefix = 'edge/e2e';
  const watcher = await Watcher.open(broker.url, [`${prefix}/status`, `${prefix}/telemetry`]);
  t.teardown(() => watcher.client.endAsync());
  const svc = startService({ deviceId: 'e2e', broker: { url: broker.url }, telemetry: { intervalS: 1 } });
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('mqtt.connected');

  const online = () => watcher.on(`${prefix}/status`).some((m) => (m.json as { state?: string }).state === 'online');
  await watcher.until(online, 10_000, 'status online');
  const status = watcher.on(`${prefix}/status`).find((m) => (m.json as { state?: string }).state === 'online');
  t.ok(status?.retain === false || status?.retain === true);
  const facts = status?.json as { plan: { models: { model: string; chosen: { variant: string } | null }[] }; backend: string; models: { model: string; state: string }[] };
  t.equal(facts.backend, 'native');
  t.ok(facts.plan.models.find((m) => m.model === 'digits')?.chosen, 'the status carries the plan');
  t.equal(facts.models.find((m) => m.model === 'digits')?.state, 'ready');

  // 40 eval images, one request each, answered on the MQTT 5 response topic.
  let correct = 0;
  const n = 40;
  for (let i = 0; i < n; i++) {
    const answer = await sendRequest({ url: broker.url, prefix, model: 'digits', body: { id: `img-${i}`, input: evalSet.inputs[i] }, timeoutMs: 10_000 });
    if (answer.kind !== 'result') {
      t.fail(`img-${i}: ${JSON.stringify(answer)}`);
      continue;
    }
    t.equal(answer.body.id, `img-${i}`);
    if (answer.body.top?.[0]?.label === String(evalSet.labels[i])) correct++;
  }
  t.ok(correct / n >= 0.95, `accuracy over MQTT ${correct}/${n}`);

  // Telemetry figures move once requests flowed.
  await watcher.until(
    () =>
      watcher.on(`${prefix}/telemetry`).some((m) => {
        const d = (m.json as { models: { model: string; requests: number; latencyMs: { p50: number | null } }[] }).models.find((x) => x.model === 'digits');
        return (d?.requests ?? 0) >= n && d?.latencyMs.p50 !== null;
      }),
    10_000,
    'telemetry with request counts',
  );
  const last = watcher.on(`${prefix}/telemetry`).at(-1)?.json as { process: { rssMB: number }; memory: { budgetMB: number } };
  t.ok(last.process.rssMB > 0);
  t.ok(last.memory.budgetMB > 0);

  // SIGTERM: exit 0 and a retained offline status.
  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0, 'SIGTERM exits 0');
  const late = await Watcher.open(broker.url, [`${prefix}/status`]);
  t.teardown(() => late.client.endAsync());
  await late.until(() => late.messages.length > 0, 5_000, 'retained status');
  t.equal((late.messages[0]?.json as { state: string }).state, 'offline');
  t.equal(late.messages[0]?.retain, true);
});

t.test('with no broker configured it starts the embedded MQTT 3.1.1 broker and answers on the result topic', async (t) => {
  const port = await freePort();
  // Only digits: this test is about the broker, and the broker starts after every model has loaded
  // (the zoo's CNNs and VAD would add seconds on a loaded machine; the test above serves them all).
  const modelsDir = mkdtempSync(path.join(tmpdir(), 'edge-embedded-models-'));
  cpSync(path.join(ROOT, 'models', 'digits'), path.join(modelsDir, 'digits'), { recursive: true });
  const svc = startService({ deviceId: 'embedded', modelsDir, embeddedBroker: { mode: 'auto', port } });
  t.teardown(() => {
    svc.child.kill('SIGKILL');
    rmSync(modelsDir, { recursive: true, force: true });
  });
  await svc.waitLog('broker.embedded');
  await svc.waitLog('mqtt.connected');
  const url = `mqtt://127.0.0.1:${port}`;
  const answer = await sendRequest({ url, prefix: 'edge/embedded', model: 'digits', body: { id: 'x', input: evalSet.inputs[0] }, protocolVersion: 4, timeoutMs: 10_000 });
  t.equal(answer.kind, 'result');
  if (answer.kind === 'result') t.equal(answer.body.top?.[0]?.label, String(evalSet.labels[0]));
  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0);
});

t.test('a bad config file stops the service with exit 78 and names the field', async (t) => {
  const svc = startService({ brokr: { url: 'mqtt://x' } });
  t.equal(await svc.exited, 78);
  t.match(svc.logs(), /EDGE_ERR_CONFIG_INVALID/);
  t.match(svc.logs(), /brokr/);
});
