/**
 * Signed model updates end to end (issue 15 OTA): the built service on a real mosquitto whose
 * packet limit (64 KiB) is smaller than the bundle (~400 KB), a private copy of digits (two
 * variants) as the old model and a one-variant digits (student-fp32 only) as the new one.
 */
import t, { type Test } from 'tap';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildBundle, generateDeployKeys, privateKeyFromPem, type Bundle } from '../runtime/fleet/bundle.js';
import { sendRequest } from '../runtime/transport/client.js';
import { sendBundle, type DeviceDeployState } from '../runtime/transport/deploy-sender.js';
import { copyDigits } from './helpers/digits-copy.js';
import { startMosquitto, type Mosquitto } from './helpers/mosquitto.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { ROOT, runCli, startService, type ServiceProcess } from './helpers/service-process.js';

const sample = JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'sample-3.json'), 'utf8')) as Record<string, unknown>;
const OLD = ['student-fp32', 'teacher-fp32'];
const NEW = ['student-fp32'];
const CHUNK = 16 * 1024;

interface Rig {
  broker: Mosquitto;
  dir: string;
  keyFile: string;
  newModelDir: string;
  config: (deviceId: string, deploy?: Record<string, unknown>) => Record<string, unknown>;
}

async function rig(t: Test): Promise<Rig> {
  // mosquitto 2: packets over max_packet_size are refused, so only chunking gets the bundle through.
  const broker = await startMosquitto({ extraConf: ['max_packet_size 65536'] });
  t.teardown(() => broker.stop());
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-deploy-'));
  const keys = generateDeployKeys();
  const keyFile = path.join(dir, 'deploy.key');
  writeFileSync(keyFile, keys.privatePem);
  chmodSync(keyFile, 0o600);
  writeFileSync(`${keyFile}.pub`, keys.publicPem);
  copyDigits(path.join(dir, 'models'));
  const newModelDir = copyDigits(path.join(dir, 'new-models'), 'digits', (m) => {
    m.variants = m.variants.filter((v) => v.id === 'student-fp32');
    for (const v of m.variants) delete (v as Record<string, unknown>)['distillation'];
    m.reference = 'student-fp32';
  });
  return {
    broker,
    dir,
    keyFile,
    newModelDir,
    config: (deviceId, deploy = {}) => ({ deviceId, broker: { url: broker.url }, modelsDir: path.join(dir, 'models'), stateDir: path.join(dir, `state-${deviceId}`), adaptive: { enabled: false }, telemetry: { intervalS: 60 }, deploy: { trustedKeys: [`${keyFile}.pub`], healthWindowS: 1, ...deploy } }),
  };
}

async function newBundle(r: Rig): Promise<Bundle> {
  return buildBundle(r.newModelDir, privateKeyFromPem(readFileSync(r.keyFile, 'utf8')));
}

/** The variant ids the device's retained status lists for digits now. */
async function variantsNow(url: string, deviceId: string): Promise<string[]> {
  const w = await Watcher.open(url, [`edge/${deviceId}/status`]);
  try {
    await w.until(() => w.messages.length > 0, 10_000, 'the retained status');
    const s = w.messages.at(-1)?.json as { models: { model: string; variants: string[] }[] };
    return [...(s.models.find((m) => m.model === 'digits')?.variants ?? [])].sort();
  } finally {
    await w.close();
  }
}

async function answers(url: string, deviceId: string, id: string): Promise<string | null> {
  const a = await sendRequest({ url, prefix: `edge/${deviceId}`, model: 'digits', body: { id, ...sample }, timeoutMs: 15_000 });
  return a.kind === 'result' ? a.body.variant : null;
}

async function started(svc: ServiceProcess): Promise<void> {
  await svc.waitLog('service.ready', 60_000);
  await svc.waitLog('fleet.connected', 20_000);
}

const send = (r: Rig, deviceId: string, bundle: Bundle, extra: Partial<Parameters<typeof sendBundle>[0]> = {}) => sendBundle({ url: r.broker.url, prefix: `edge/${deviceId}`, stateFilter: `edge/${deviceId}/deploy/state`, expect: 1, bundle, chunkBytes: CHUNK, timeoutMs: 30_000, ...extra });

t.test('refuses a wrong key and a tampered file (old model keeps serving), resumes a cut transfer, commits a good deploy that survives SIGKILL', async (t) => {
  const r = await rig(t);
  const svc = startService(r.config('ota'), [], r.dir);
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await started(svc);
  t.same(await variantsNow(r.broker.url, 'ota'), OLD, 'the bundled model serves at first');

  // A key the device does not trust: the CLI exits with the device's code.
  const other = path.join(r.dir, 'other.key');
  const gen = await runCli(['deploy', '--gen-key', other]);
  t.equal(gen.code, 0, 'deploy --gen-key writes a key pair');
  const wrong = await runCli(['deploy', r.newModelDir, '--to', 'ota', '--key', other, '--broker', r.broker.url, '--chunk-kb', '16', '--timeout-ms', '20000']);
  t.equal(wrong.code, 1, `exit code of a refused deploy\n${wrong.stdout}${wrong.stderr}`);
  t.match(wrong.stderr, /EDGE_ERR_BUNDLE_SIGNATURE/);

  // An unsigned bundle.
  const good = await newBundle(r);
  const unsigned = await send(r, 'ota', { ...good, signature: '' });
  t.match(Object.values(unsigned.states)[0], { step: 'refused', ok: false, code: 'EDGE_ERR_BUNDLE_SIGNATURE' });

  // A file changed in transit (chunk hashes made to match): the signed sha256 catches it.
  const blob = Buffer.from(good.blob);
  const at = good.manifest.files[0]!.bytes + 200;
  blob[at] = blob[at]! ^ 0xff;
  const tampered = await send(r, 'ota', { ...good, blob });
  t.match(Object.values(tampered.states)[0], { step: 'refused', ok: false, code: 'EDGE_ERR_BUNDLE_INVALID' });
  t.same(await variantsNow(r.broker.url, 'ota'), OLD, 'refused bundles change nothing');
  t.ok(await answers(r.broker.url, 'ota', 'after-refusals'), 'the old model answers');

  // A transfer cut after 5 chunks, then resumed: only the missing chunks travel again.
  const total = Math.ceil(good.blob.length / CHUNK);
  t.ok(total > 4, `the bundle (${good.blob.length} bytes) needs ${total} chunks: over the broker's 64 KiB limit`);
  const cut = await send(r, 'ota', good, { stopAfterChunks: 5 });
  t.equal(cut.interrupted, true);
  const steps: string[] = [];
  const done = await send(r, 'ota', good, { onState: (_t, s: DeviceDeployState) => steps.push(s.step) });
  t.equal(done.chunksSent, total - 5, 'the resumed transfer sent only the missing chunks');
  t.match(Object.values(done.states)[0], { step: 'committed', ok: true, bundleId: good.id, model: 'digits' });
  t.same(
    steps.filter((s) => s !== 'receiving'),
    ['staged', 'preflight', 'swapping', 'swapped', 'health', 'committed'],
    'every step reported',
  );
  t.same(await variantsNow(r.broker.url, 'ota'), NEW, 'the device serves the new variant set');
  t.equal(await answers(r.broker.url, 'ota', 'after-deploy'), 'student-fp32');
  const retained = await Watcher.open(r.broker.url, ['edge/ota/deploy/state']);
  await retained.until(() => retained.messages.length > 0, 5000, 'the retained deploy state');
  t.match(retained.messages[0], { retain: true, json: { step: 'committed', bundleId: good.id } });
  await retained.close();

  // The same bundle again: already serving it.
  const again = await send(r, 'ota', good);
  t.match(Object.values(again.states)[0], { step: 'committed', message: 'already serving this bundle' });

  // Power cut after the commit: the new model is still there on restart.
  svc.child.kill('SIGKILL');
  await svc.exited;
  const back = startService(r.config('ota'), [], r.dir);
  t.teardown(() => {
    back.child.kill('SIGKILL');
  });
  await started(back);
  t.same(await variantsNow(r.broker.url, 'ota'), NEW, 'the committed model survives a power cut');
  back.child.kill('SIGTERM');
  t.equal(await back.exited, 0);
});

t.test('a deploy whose health window fails rolls back by itself', async (t) => {
  const r = await rig(t);
  // A p95 limit no real inference meets: the health window must see it and roll back.
  const svc = startService(r.config('sick', { healthWindowS: 3, healthMaxP95Ms: 0.0001 }), [], r.dir);
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await started(svc);
  const load: Promise<string | null>[] = [];
  const res = await send(r, 'sick', await newBundle(r), {
    onState: (_t, s) => {
      if (s.step === 'health') for (let i = 0; i < 3; i++) load.push(answers(r.broker.url, 'sick', `h${i}`));
    },
  });
  t.match(Object.values(res.states)[0], { step: 'rolled-back', ok: false, code: 'EDGE_ERR_DEPLOY_HEALTH' });
  t.comment(JSON.stringify(Object.values(res.states)[0]));
  t.same(await Promise.all(load), ['student-fp32', 'student-fp32', 'student-fp32'], 'the new model answered during the window');
  t.same(await variantsNow(r.broker.url, 'sick'), OLD, 'the previous model is back');
  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0);
});

t.test('SIGKILL at each deploy step, then a restart: the old model or the new one, never half', async (t) => {
  const r = await rig(t);
  const bundle = await newBundle(r);
  const w = await Watcher.open(r.broker.url, ['edge/cut/deploy/state']);
  t.teardown(() => w.close());
  for (const step of ['staged', 'swapping', 'swapped', 'health']) {
    const svc = startService(r.config('cut', { healthWindowS: 30 }), [], r.dir, { EDGE_INFER_DEPLOY_HOLD: step });
    t.teardown(() => {
      svc.child.kill('SIGKILL');
    });
    await started(svc);
    const stop = new AbortController();
    const sending = send(r, 'cut', bundle, { timeoutMs: 60_000, signal: stop.signal }).catch(() => null);
    await svc.waitLog('deploy.held', 30_000);
    svc.child.kill('SIGKILL');
    await svc.exited;
    stop.abort();
    await sending;
    const n = w.messages.length;
    const back = startService(r.config('cut'), [], r.dir);
    t.teardown(() => {
      back.child.kill('SIGKILL');
    });
    await started(back);
    await back.waitLog('deploy.recovered', 10_000);
    const variants = await variantsNow(r.broker.url, 'cut');
    t.same(variants, OLD, `killed at "${step}": the old model is whole again after the restart`);
    t.ok(await answers(r.broker.url, 'cut', `after-${step}`), `killed at "${step}": it answers`);
    await w.until(() => w.messages.slice(n).some((m) => (m.json as { code?: string }).code === 'EDGE_ERR_DEPLOY_INTERRUPTED'), 10_000, 'the recovery reported');
    t.match(w.messages.slice(n).find((m) => (m.json as { code?: string }).code !== undefined)?.json, { bundleId: bundle.id, ok: false, step: step === 'staged' ? 'aborted' : 'rolled-back' });
    back.child.kill('SIGTERM');
    t.equal(await back.exited, 0);
  }
});

t.test('a group deploy reaches every member, each reporting on its own state topic', async (t) => {
  const r = await rig(t);
  const members = ['ga', 'gb'].map((id) => startService({ ...r.config(id), group: 'ota' }));
  t.teardown(() => {
    for (const m of members) m.child.kill('SIGKILL');
  });
  for (const m of members) await started(m);
  const deployed = await runCli(['deploy', r.newModelDir, '--to', 'group:ota', '--expect', '2', '--key', r.keyFile, '--broker', r.broker.url, '--chunk-kb', '16', '--timeout-ms', '30000', '--json']);
  t.equal(deployed.code, 0, deployed.stderr + deployed.stdout.slice(0, 2000));
  const doc = JSON.parse(deployed.stdout) as { states: Record<string, DeviceDeployState> };
  t.same(Object.keys(doc.states).sort(), ['edge/ga/deploy/state', 'edge/gb/deploy/state']);
  for (const s of Object.values(doc.states)) t.match(s, { step: 'committed', ok: true, model: 'digits' });
  t.comment(JSON.stringify(doc.states['edge/ga/deploy/state']));
  for (const id of ['ga', 'gb']) t.same(await variantsNow(r.broker.url, id), NEW, `${id} serves the new variant set`);
  for (const m of members) {
    m.child.kill('SIGTERM');
    t.equal(await m.exited, 0);
  }
});
