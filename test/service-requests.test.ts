/**
 * The service's request forms and limits with the real digits model: binary, named and batched
 * requests, overload answered EDGE_ERR_OVERLOADED (never silence), the `request` CLI, and a SIGHUP
 * reload while requests flow.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sendRequest, type RequestAnswer } from '../runtime/transport/client.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { ROOT, runCli, startService } from './helpers/service-process.js';

interface EvalSet {
  inputs: number[][];
  labels: number[];
}
const evalSet = JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'eval.json'), 'utf8')) as EvalSet;
const prefix = 'edge/forms';
const image = (i: number): number[] => evalSet.inputs[i] ?? [];

t.test('request forms, overload and reload against one running service', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const config = { deviceId: 'forms', broker: { url: broker.url }, models: { digits: { queueLimit: 2 } }, drainTimeoutMs: 3000 };
  const svc = startService(config);
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('mqtt.connected');
  const ask = (body: Record<string, unknown>): Promise<RequestAnswer> => sendRequest({ url: broker.url, prefix, model: 'digits', body, timeoutMs: 10_000 });

  await t.test('a binary request (raw float32 bytes, dtype and shape in user properties) gets the right digit', async (t) => {
    const bytes = new Uint8Array(new Float32Array(image(4)).buffer);
    const a = await sendRequest({ url: broker.url, prefix, model: 'digits', binary: { bytes, dtype: 'float32', shape: [1, 64] }, timeoutMs: 10_000 });
    t.not(a.kind, 'error', JSON.stringify(a));
    if (a.kind === 'binary') {
      const shape = a.userProperties['shape'] ?? '';
      t.equal(shape, '1,10');
      const logits = new Float32Array(a.payload.buffer.slice(a.payload.byteOffset, a.payload.byteOffset + a.payload.byteLength));
      t.equal(logits.indexOf(Math.max(...logits)), evalSet.labels[4]);
    } else if (a.kind === 'result') {
      t.equal(a.body.top?.[0]?.label, String(evalSet.labels[4]));
    }
  });

  await t.test('named inputs with a batch of two answer both rows', async (t) => {
    const a = await ask({ id: 'named', inputs: { input: { dtype: 'float32', shape: [2, 64], data: [...image(1), ...image(2)] } } });
    t.equal(a.kind, 'result', JSON.stringify(a));
    if (a.kind !== 'result') return;
    const logits = a.body.outputs['logits'];
    t.same(logits?.shape, [2, 10]);
    const rows = [0, 1].map((r) => (logits?.data.slice(r * 10, r * 10 + 10) ?? []).map(Number));
    t.same(
      rows.map((row) => row.indexOf(Math.max(...row))),
      [evalSet.labels[1], evalSet.labels[2]],
    );
    t.same(
      a.body.top?.map((c) => c.label),
      [String(evalSet.labels[1]), String(evalSet.labels[2])],
      'top holds the best class of each row',
    );
  });

  await t.test('a burst past the queue limit is answered EDGE_ERR_OVERLOADED, every request exactly once', async (t) => {
    const n = 40;
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => ask({ id: `burst-${i}`, input: image(i) })));
    const codes = answers.map((a) => (a.kind === 'error' ? a.body.error.code : 'ok'));
    t.equal(answers.length, n);
    t.ok(codes.includes('ok'), 'some requests are served');
    t.ok(
      codes.every((c) => c === 'ok' || c === 'EDGE_ERR_OVERLOADED'),
      `only results and overload errors: ${[...new Set(codes)].join(',')}`,
    );
    const ids = answers.map((a) => (a.kind === 'binary' ? '' : a.body.id));
    t.same(
      ids,
      Array.from({ length: n }, (_, i) => `burst-${i}`),
      'each answer carries its request id',
    );
    t.comment(`overloaded ${codes.filter((c) => c !== 'ok').length} of ${n}`);
  });

  await t.test('a text model takes raw text (the runtime tokenizes) and a pixel model refuses text', async (t) => {
    const sample = JSON.parse(readFileSync(path.join(ROOT, 'models', 'spam', 'eval', 'sample-spam.json'), 'utf8')) as { text: string };
    const a = await sendRequest({ url: broker.url, prefix, model: 'spam', body: { id: 'txt', text: sample.text }, timeoutMs: 10_000 });
    t.equal(a.kind, 'result', JSON.stringify(a));
    if (a.kind === 'result') t.equal(a.body.top?.[0]?.label, 'spam');
    const b = await ask({ id: 'txt-digits', text: 'hello' });
    t.equal(b.kind === 'error' ? b.body.error.code : b.kind, 'EDGE_ERR_BAD_REQUEST');
  });

  await t.test('edge-infer request prints the digit', async (t) => {
    const file = path.join(svc.dir, 'req.json');
    writeFileSync(file, JSON.stringify({ id: 'cli', input: image(7) }));
    const r = await runCli(['request', 'digits', '--input', file, '--broker', broker.url, '--device-id', 'forms', '--json']);
    t.equal(r.code, 0, r.stderr);
    t.equal((JSON.parse(r.stdout) as { top: { label: string }[] }).top[0]?.label, String(evalSet.labels[7]));
  });

  await t.test('SIGHUP reloads config and re-plans without dropping requests', async (t) => {
    const cfgFile = path.join(svc.dir, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(cfgFile, JSON.stringify({ ...cfg, models: { digits: { queueLimit: 64 } } }));
    // One request at a time (so the queue limit of 2 is never the reason for an error), before,
    // during and after the reload.
    const answers: RequestAnswer[] = [];
    for (let i = 0; i < 40; i++) {
      if (i === 5) svc.child.kill('SIGHUP');
      answers.push(await ask({ id: `hup-${i}`, input: image(i) }));
    }
    t.ok(
      answers.every((a) => a.kind === 'result'),
      answers
        .filter((a) => a.kind !== 'result')
        .map((a) => JSON.stringify(a))
        .join('\n'),
    );
    await svc.waitLog('service.reloaded');
  });

  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0);
});
