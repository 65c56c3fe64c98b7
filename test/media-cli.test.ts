/**
 * Issue 11 from the command line: `edge-infer infer <model> --image <file>` (local, same runtime
 * path as the service) and `edge-infer request <model> --image <file>` (over a real mosquitto to a
 * running service), with JPEG / PNG files written here.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startMosquitto } from './helpers/mosquitto.js';
import { runCli, startService } from './helpers/service-process.js';
import { encodeJpeg, encodePng, halfPicture, writeMediaModels } from './helpers/media-models.js';

const dir = mkdtempSync(path.join(tmpdir(), 'edge-media-cli-'));
const models = writeMediaModels(dir);
const jpg = path.join(dir, 'left.jpg');
const png = path.join(dir, 'right.png');
writeFileSync(jpg, encodeJpeg(halfPicture(800, 600, 'left'), 800, 600));
writeFileSync(png, encodePng(halfPicture(640, 480, 'right'), 640, 480));

t.test('infer --image classifies a JPEG and a PNG; a bad file gets its code and exit status', async (t) => {
  const a = await runCli(['infer', 'halves', '--image', jpg, '--models', models, '--json']);
  t.equal(a.code, 0, a.stderr);
  t.equal((JSON.parse(a.stdout) as { top: { label: string }[] }).top[0]?.label, 'left');
  const b = await runCli(['infer', 'halves', '--image', png, '--models', models]);
  t.match(b.stdout, /^halves: right/m);
  const bad = path.join(dir, 'bad.png');
  writeFileSync(bad, 'not a png');
  const c = await runCli(['infer', 'halves', '--image', bad, '--models', models]);
  t.equal(c.code, 64);
  t.match(c.stderr, /EDGE_ERR_BAD_IMAGE/);
  const d = await runCli(['infer', 'halves', '--image', path.join(dir, 'missing.jpg'), '--models', models]);
  t.match(d.stderr, /EDGE_ERR_INPUT_FILE/);
});

t.test('request --image goes through the broker to the service', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const svc = startService({ deviceId: 'mcli', broker: { url: broker.url }, modelsDir: models, drainTimeoutMs: 2000 }, [], mkdtempSync(path.join(tmpdir(), 'edge-media-cli-svc-')));
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('service.ready', 30_000);
  const r = await runCli(['request', 'halves', '--image', png, '--broker', broker.url, '--device-id', 'mcli']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^halves: right/m);
});
