/**
 * The CLI as a user runs it: the built bin, real profiles, the real digits model, exit codes.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, runCli } from './helpers/service-process.js';

const sample = (d: number): string => path.join(ROOT, 'models', 'digits', 'eval', `sample-${d}.json`);

t.test('plan --profile rpi4-2gb prints a plan with a reason for every variant not chosen', async (t) => {
  const r = await runCli(['plan', '--profile', 'rpi4-2gb', '--json']);
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { profile: string; plan: { models: { model: string; chosen: { variant: string } | null; rejected: { variant: string; reason: string; detail: string }[] }[] } };
  t.equal(out.profile, 'rpi4-2gb');
  const digits = out.plan.models.find((m) => m.model === 'digits');
  t.ok(digits?.chosen, 'digits gets a variant');
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'model.json'), 'utf8')) as { variants: { id: string }[] };
  t.equal((digits?.rejected.length ?? 0) + 1, manifest.variants.length, 'every other variant has a rejection');
  for (const r of digits?.rejected ?? []) t.ok(r.reason && r.detail.length > 0, `${r.variant}: ${r.reason}`);
  const table = await runCli(['plan', '--profile', 'rpi4-2gb']);
  t.equal(table.code, 0);
  t.match(table.stdout, /digits/);
});

t.test('plan with a budget nothing fits exits 78 and says EDGE_ERR_NO_VARIANT_FITS', async (t) => {
  const r = await runCli(['plan', '--profile', 'rpi4-2gb', '--budget-mb', '0.01', '--json']);
  t.equal(r.code, 78);
  const out = JSON.parse(r.stdout) as { plan: { models: { chosen: unknown; error?: { code: string } }[] } };
  t.equal(out.plan.models[0]?.chosen, null);
  t.equal(out.plan.models[0]?.error?.code, 'EDGE_ERR_NO_VARIANT_FITS');
});

t.test('infer classifies every bundled sample image as its digit', async (t) => {
  for (const d of [0, 3, 7, 9]) {
    const r = await runCli(['infer', 'digits', '--input', sample(d), '--json']);
    t.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { top: { label: string }[]; variant: string; latencyMs: { inference: number } };
    t.equal(out.top[0]?.label, String(d), `sample-${d}`);
    t.ok(out.latencyMs.inference > 0);
  }
});

t.test('infer reads a bare array from stdin and can force a variant', async (t) => {
  const input = (JSON.parse(readFileSync(sample(5), 'utf8')) as { input: number[] }).input;
  const r = await runCli(['infer', 'digits', '--input', '-', '--variant', 'teacher-fp32', '--json'], { input: JSON.stringify(input) });
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { top: { label: string }[]; variant: string };
  t.equal(out.variant, 'teacher-fp32');
  t.equal(out.top[0]?.label, '5');
});

t.test('bad input gets a coded error and a usage or config exit code', async (t) => {
  const cases: [string[], string, number, string?][] = [
    [['infer', 'digits', '--input', '-'], 'EDGE_ERR_BAD_JSON', 64, '{nope'],
    [['infer', 'digits', '--input', '-'], 'EDGE_ERR_BAD_TENSOR', 64, '[1, 2, 3]'],
    [['infer', 'nosuch', '--input', sample(1)], 'EDGE_ERR_UNKNOWN_MODEL', 64],
    [['infer', 'digits'], 'EDGE_ERR_USAGE', 64],
    [['plan', '--profile', 'no-such-board'], 'EDGE_ERR_PROFILE_NOT_FOUND', 78],
    [['plan', '--budget-mb', 'lots'], 'EDGE_ERR_USAGE', 64],
    [['plan', '--frobnicate'], 'EDGE_ERR_USAGE', 64],
    [['frobnicate'], 'EDGE_ERR_USAGE', 64],
  ];
  for (const [args, code, exit, input] of cases) {
    const r = await runCli([...args, '--json'], input === undefined ? {} : { input });
    t.equal(r.code, exit, `${args.join(' ')} exits ${exit}`);
    t.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, code, args.join(' '));
  }
});

t.test('validate passes the shipped files and exits 78 listing every problem of bad ones', async (t) => {
  const ok = await runCli(['validate']);
  t.equal(ok.code, 0, ok.stdout);
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-validate-'));
  const good = JSON.parse(readFileSync(path.join(ROOT, 'device-profiles', 'rpi4-2gb.json'), 'utf8')) as Record<string, unknown> & { memory: Record<string, number> };
  writeFileSync(path.join(dir, 'over-budget.json'), JSON.stringify({ ...good, memory: { ...good.memory, budgetMB: 999999 } }));
  writeFileSync(path.join(dir, 'unknown-key.json'), JSON.stringify({ ...good, turbo: true }));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ broker: { url: 'mqtt://x', protocolVersion: 7 } }));
  const r = await runCli(['validate', dir, '--json']);
  t.equal(r.code, 78);
  const out = JSON.parse(r.stdout) as { findings: { file: string; ok: boolean; code?: string }[] };
  t.equal(out.findings.filter((f) => !f.ok).length, 3, 'all three problems are listed');
  t.same(out.findings.map((f) => f.code).sort(), ['EDGE_ERR_CONFIG_INVALID', 'EDGE_ERR_PROFILE_INVALID', 'EDGE_ERR_PROFILE_INVALID']);
});

t.test('detect reads fixture hosts and names the matching profile', async (t) => {
  const r = await runCli(['detect', '--json']);
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { profile: { id: string }; reasons: string[] };
  t.ok(out.profile.id.length > 0);
  t.ok(out.reasons.length > 0);
});

t.test('every command has --help', async (t) => {
  for (const c of ['run', 'plan', 'detect', 'validate', 'infer', 'request']) {
    const r = await runCli([c, '--help']);
    t.equal(r.code, 0, c);
    t.match(r.stdout, new RegExp(`Usage: edge-infer ${c}`));
  }
});
