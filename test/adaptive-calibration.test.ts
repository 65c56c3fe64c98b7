/**
 * Calibration changes plans: `edge-infer plan --state-dir` reads a calibration and uses measured
 * figures; `edge-infer run` with calibration.atFirstStart measures and writes one, then plans with it.
 */
import t from 'tap';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startMosquitto } from './helpers/mosquitto.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { ROOT, runCli, startService } from './helpers/service-process.js';

/** A models dir holding only a copy of digits (other models in the checkout may be work in progress). */
function digitsOnly(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-cal-models-'));
  cpSync(path.join(ROOT, 'models', 'digits'), path.join(dir, 'digits'), { recursive: true });
  return dir;
}

interface PlanJson {
  backend: string;
  plan: { models: { model: string; chosen: { variant: string; latencySource: string; memorySource: string } | null; rejected: { variant: string; reason: string; detail: string }[] }[] };
}

const digits = (p: PlanJson) => p.plan.models.find((m) => m.model === 'digits')!;

t.test('a calibration that measures the chosen variant slower than the target changes the plan', async (t) => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'edge-cal-'));
  const models = digitsOnly();
  const before = await runCli(['plan', '--profile', 'generic-x64', '--models', models, '--json']);
  t.equal(before.code, 0, before.stderr);
  const b = JSON.parse(before.stdout) as PlanJson;
  const first = digits(b).chosen!;
  t.equal(first.latencySource, 'estimated', 'without calibration every figure is estimated');

  // The chosen variant measured at 400 ms p95: far over generic-x64's 50 ms target.
  const cal = { profile: 'generic-x64', measuredAt: new Date().toISOString(), entries: [{ model: 'digits', variant: first.variant, backend: b.backend, threads: 1, loadMs: 5, latencyP50Ms: 300, latencyP95Ms: 400, rssMB: 12 }] };
  writeFileSync(path.join(stateDir, `calibration-generic-x64-${b.backend}.json`), JSON.stringify(cal));
  const after = await runCli(['plan', '--profile', 'generic-x64', '--models', models, '--state-dir', stateDir, '--json']);
  const a = JSON.parse(after.stdout) as PlanJson;
  const d = digits(a);
  t.not(d.chosen?.variant, first.variant, 'another variant is chosen');
  const why = d.rejected.find((r) => r.variant === first.variant);
  t.equal(why?.reason, 'slower-than-target');
  t.match(why?.detail, /measured/);

  const text = await runCli(['plan', '--profile', 'generic-x64', '--models', models, '--state-dir', stateDir]);
  t.match(text.stdout, /figures: measured where the calibration/);
  const file = await runCli(['plan', '--profile', 'generic-x64', '--models', models, '--calibration', path.join(stateDir, `calibration-generic-x64-${b.backend}.json`), '--json']);
  t.equal(digits(JSON.parse(file.stdout) as PlanJson).chosen?.variant, d.chosen?.variant, '--calibration <file> plans the same');

  const wrong = { ...cal, profile: 'rpi4-2gb' };
  const wrongFile = path.join(stateDir, 'other.json');
  writeFileSync(wrongFile, JSON.stringify(wrong));
  const refused = await runCli(['plan', '--profile', 'generic-x64', '--models', models, '--calibration', wrongFile, '--json']);
  t.equal((JSON.parse(refused.stdout) as { error: { code: string } }).error.code, 'EDGE_ERR_CALIBRATION_INVALID', 'a calibration of another profile is refused');
});

t.test('the service calibrates at first start when no calibration exists and plans with measured figures', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const prefix = 'edge/cal';
  const watcher = await Watcher.open(broker.url, [`${prefix}/status`]);
  t.teardown(() => watcher.close());
  const svc = startService({ deviceId: 'cal', profile: 'generic-x64', modelsDir: digitsOnly(), broker: { url: broker.url }, calibration: { atFirstStart: true, timeLimitS: 30 } });
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('calibration.written', 60_000);
  await watcher.until(() => watcher.on(`${prefix}/status`).some((m) => (m.json as { state?: string }).state === 'online'), 20_000, 'status online');
  const status = watcher.on(`${prefix}/status`).find((m) => (m.json as { state?: string }).state === 'online')!.json as PlanJson;
  t.equal(digits(status).chosen?.latencySource, 'measured');
  t.equal(digits(status).chosen?.memorySource, 'measured');
  const calFile = path.join(svc.dir, 'state', `calibration-generic-x64-${status.backend}.json`);
  t.ok(existsSync(calFile), 'the calibration file is in the state dir');
  const cal = JSON.parse(readFileSync(calFile, 'utf8')) as { entries: { model: string }[] };
  t.ok(cal.entries.some((e) => e.model === 'digits'));
  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0);
});
