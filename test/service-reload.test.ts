/**
 * Issue 12 item 7: SIGHUP with nothing changed keeps what runs. The built CLI on a real mosquitto,
 * three reloads in a row: no model is reloaded or refused, no variant changes, requests are answered.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startMosquitto } from './helpers/mosquitto.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { ROOT, startService } from './helpers/service-process.js';

const input = (JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'eval.json'), 'utf8')) as { inputs: number[][] }).inputs[0];

t.test('three SIGHUPs with the same config keep every model on its variant without reloading it', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const w = await Watcher.open(broker.url, ['edge/hup/status', 'replies/hup']);
  t.teardown(() => w.close());
  const svc = startService({ deviceId: 'hup', broker: { url: broker.url }, adaptive: { enabled: false } });
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  type Status = { state: string; models?: { model: string; variant: string | null; state: string }[] };
  const online = (): Status[] =>
    w
      .on('edge/hup/status')
      .map((m) => m.json as Status)
      .filter((s) => s.state === 'online');
  await w.until(() => online().length > 0, 20_000, 'status online');
  const variants = (s: Status | undefined): string => JSON.stringify(s?.models?.map((m) => [m.model, m.variant, m.state]));
  const first = variants(online()[0]);
  const loadedAtStart = svc
    .logs()
    .split('\n')
    .filter((l) => l.includes('"model.loaded"')).length;
  for (let i = 1; i <= 3; i++) {
    svc.child.kill('SIGHUP');
    await svc.waitLog(`"service.reloaded"`, 20_000);
    while (
      svc
        .logs()
        .split('\n')
        .filter((l) => l.includes('"service.reloaded"')).length < i
    )
      await new Promise((r) => setTimeout(r, 50));
    await w.publish('edge/hup/models/digits/infer', JSON.stringify({ id: `after-${i}`, input }), { qos: 1, properties: { responseTopic: 'replies/hup' } });
    await w.until(() => w.on('replies/hup').length === i, 10_000, `answer ${i}`);
  }
  await w.until(() => online().length >= 4, 10_000, 'the status republished after each reload');
  t.equal(variants(online().at(-1)), first, `the same variants serve: ${first}`);
  const logs = svc.logs().split('\n');
  t.equal(logs.filter((l) => l.includes('"model.loaded"')).length, loadedAtStart, 'nothing was loaded again');
  t.equal(logs.filter((l) => l.includes('"model.refused"')).length, 0, 'nothing was refused');
  t.ok(logs.filter((l) => l.includes('"model.kept"')).length >= 3, 'each reload kept the models');
  t.ok(
    w.on('replies/hup').every((m) => (m.json as { top?: unknown }).top),
    'every request answered with a result',
  );
  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0);
});
