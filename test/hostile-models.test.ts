/**
 * Hostile model files (issue 6): tampered, truncated, not ONNX, a protobuf claiming 4 TiB, a path
 * escaping the folder, a symlink out of it, a manifest lying about inputs, next to a good model
 * and a model whose preferred variant is tampered. `validate`, `plan`, `infer` and `run` each
 * refuse every bad one with its code, nothing else stops, and the good ones answer.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sendRequest } from '../runtime/transport/client.js';
import { HOSTILE_EXPECTED, buildHostileModels, type HostileModel } from './helpers/hostile-models.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { ROOT, runCli, startService } from './helpers/service-process.js';

interface EvalSet {
  inputs: number[][];
  labels: number[];
}
const evalSet = JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'eval.json'), 'utf8')) as EvalSet;

const root = mkdtempSync(path.join(tmpdir(), 'edge-hostile-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const MODELS = buildHostileModels(root);
const SAMPLE = path.join(root, 'sample.json');
writeFileSync(SAMPLE, JSON.stringify({ id: 's0', input: evalSet.inputs[0] }));
// The liar's manifest says [batch, 3]: a request that fits the lie reaches the (refused) model.
const THREE = path.join(root, 'three.json');
writeFileSync(THREE, JSON.stringify({ id: 's3', input: [0.1, 0.2, 0.3] }));

const RUNTIME_BAD: HostileModel[] = ['tampered', 'truncated', 'notonnx', 'hugeclaim', 'symlink', 'liar'];

interface LogLine {
  event?: string;
  model?: string;
  variant?: string;
  code?: string;
}
function logLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return {};
      }
    });
}

t.test('validate refuses every file-level problem with its code and passes the good model', async (t) => {
  const r = await runCli(['validate', MODELS, '--json']);
  t.equal(r.code, 78, 'exit 78: files to fix');
  const out = JSON.parse(r.stdout) as { findings: { file: string; ok: boolean; code?: string }[] };
  const byModel = new Map(out.findings.map((f) => [path.basename(path.dirname(f.file)), f]));
  t.equal(byModel.get('digits')?.ok, true, 'the good model validates');
  for (const m of ['tampered', 'truncated', 'symlink', 'escape'] as const) {
    t.equal(byModel.get(m)?.code, HOSTILE_EXPECTED[m], `${m}: ${HOSTILE_EXPECTED[m]}`);
  }
  t.equal(byModel.get('fallback')?.code, 'EDGE_ERR_INTEGRITY', 'a model with one tampered variant is reported');
  // validate checks files against the manifest, it does not load them: content-level lies pass here and are refused at load.
  for (const m of ['notonnx', 'hugeclaim', 'liar'] as const) t.ok(byModel.has(m), `${m} was checked`);
});

t.test('plan still plans every loadable model and reports the escaping manifest', async (t) => {
  const r = await runCli(['plan', '--models', MODELS, '--profile', 'generic-x64', '--json']);
  t.equal(r.code, 78, 'exit 78 because a manifest is invalid');
  const out = JSON.parse(r.stdout) as { plan: { models: { model: string; chosen: { variant: string } | null }[] }; manifestErrors: { code: string; message: string }[] };
  t.ok(out.plan.models.find((m) => m.model === 'digits')?.chosen, 'digits is planned');
  t.notOk(
    out.plan.models.some((m) => m.model === 'escape'),
    'the escaping manifest is not planned',
  );
  t.ok(
    out.manifestErrors.some((e) => e.code === 'EDGE_ERR_MANIFEST_INVALID' && e.message.includes('escape')),
    'the escaping manifest is reported',
  );
});

t.test('infer refuses bad models at load with their code, and the good models answer', async (t) => {
  // A subset through the CLI (each run starts onnxruntime; the service test below covers all), three at a time.
  const names = ['digits', 'fallback', 'notonnx', 'liar', 'truncated', 'hugeclaim'];
  const runs: { m: string; r: Awaited<ReturnType<typeof runCli>> }[] = [];
  for (let i = 0; i < names.length; i += 3) {
    runs.push(...(await Promise.all(names.slice(i, i + 3).map(async (m) => ({ m, r: await runCli(['infer', m, '--models', MODELS, '--profile', 'generic-x64', '--input', m === 'liar' ? THREE : SAMPLE, '--json']) })))));
  }
  for (const { m, r } of runs) {
    if (m === 'digits' || m === 'fallback') {
      t.equal(r.code, 0, `${m} answers`);
      const body = JSON.parse(r.stdout) as { variant: string; top?: { label: string }[] };
      t.equal(body.top?.[0]?.label, String(evalSet.labels[0]), `${m} is right`);
      if (m === 'fallback') {
        t.equal(body.variant, 'teacher-fp32', 'fallback: the tampered preferred variant is skipped for the next one');
        t.ok(
          logLines(r.stderr).some((l) => l.event === 'model.refused' && l.variant === 'student-fp32' && l.code === 'EDGE_ERR_INTEGRITY'),
          'fallback: the tampered variant is refused EDGE_ERR_INTEGRITY',
        );
      }
      continue;
    }
    const expected = HOSTILE_EXPECTED[m as HostileModel];
    t.equal(r.code, 69, `${m}: exit 69 (model unavailable), not a crash`);
    t.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'EDGE_ERR_MODEL_UNAVAILABLE', `${m}: unavailable`);
    const refused = logLines(r.stderr).find((l) => l.event === 'model.refused');
    t.ok(refused?.code !== undefined, `${m}: refused with a code (${refused?.code})`);
    t.equal(refused?.code, expected, `${m}: ${expected}`);
  }
  const escaped = await runCli(['infer', 'escape', '--models', MODELS, '--profile', 'generic-x64', '--input', SAMPLE, '--json']);
  t.equal(escaped.code, 64, 'the escaping model is not served at all (unknown model)');
});

t.test('the service serves the good models next to every hostile one and answers the bad ones with a coded error', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const svc = startService({ deviceId: 'hostile', modelsDir: MODELS, profile: 'generic-x64', broker: { url: broker.url } });
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('mqtt.connected', 30_000);
  const lines = logLines(svc.logs());
  for (const m of RUNTIME_BAD) {
    const refused = lines.find((l) => l.event === 'model.refused' && l.model === m);
    t.ok(refused?.code !== undefined, `${m}: refused at start (${refused?.code})`);
    t.equal(refused?.code, HOSTILE_EXPECTED[m], `${m}: ${HOSTILE_EXPECTED[m]}`);
  }
  t.ok(
    lines.some((l) => l.event === 'manifest.refused' && l.code === 'EDGE_ERR_MANIFEST_INVALID'),
    'escape: manifest refused',
  );

  const prefix = 'edge/hostile';
  const ask = async (model: string, input: number[]) => {
    // The first request may race the subscription: retry a few times on timeout.
    for (let i = 0; ; i++) {
      try {
        return await sendRequest({ url: broker.url, prefix, model, body: { id: `${model}-q`, input }, timeoutMs: 2_000 });
      } catch (e) {
        if (i >= 5) throw e;
      }
    }
  };
  const good = await ask('digits', evalSet.inputs[1] ?? []);
  t.equal(good.kind, 'result', 'digits answers');
  if (good.kind === 'result') t.equal(good.body.top?.[0]?.label, String(evalSet.labels[1]));
  const fb = await ask('fallback', evalSet.inputs[1] ?? []);
  t.equal(fb.kind === 'result' ? fb.body.variant : null, 'teacher-fp32', 'fallback answers from its next variant');
  for (const m of RUNTIME_BAD) {
    const a = await ask(m, m === 'liar' ? [0.1, 0.2, 0.3] : (evalSet.inputs[1] ?? []));
    t.equal(a.kind === 'error' ? a.body.error.code : a.kind, 'EDGE_ERR_MODEL_UNAVAILABLE', `${m}: a coded error answer`);
  }
  const esc = await ask('escape', evalSet.inputs[1] ?? []);
  t.equal(esc.kind === 'error' ? esc.body.error.code : esc.kind, 'EDGE_ERR_UNKNOWN_MODEL', 'escape: unknown model');
  const again = await ask('digits', evalSet.inputs[2] ?? []);
  t.equal(again.kind, 'result', 'digits still answers after all of that');
  t.equal(svc.child.exitCode, null, 'the service is running');
  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0);
});
