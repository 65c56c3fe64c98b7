/**
 * The README's CLI claims, checked by running them (issue 13, defect 10): the exit-code table
 * against runtime/errors.ts, the usage block against each command's --help, every help example
 * parses, and the documented outputs (validate, plan, the 63-values error, the quick start's
 * request and the models `run` serves) match what the commands print.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ERROR_DEFS } from '../runtime/errors.js';
import type { Command } from '../runtime/cli/command.js';
import { COMMON_OPTIONS } from '../runtime/cli/common-options.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { ROOT, runCli, startService } from './helpers/service-process.js';

const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The fenced block right after `marker` in the README. */
function blockAfter(marker: string): string[] {
  const at = README.indexOf(marker);
  if (at < 0) throw new Error(`README has no "${marker}"`);
  const start = README.indexOf('```', at);
  const body = README.indexOf('\n', start) + 1;
  return README.slice(body, README.indexOf('```', body)).replace(/\n$/, '').split('\n');
}

/** Words of one shell command line (quotes kept simple: '...' and "..."). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}

t.test('the exit-code table lists every status the error registry uses, each code under its status', async (t) => {
  const rows = README.split('\n').filter((l) => /^\| \d/.test(l));
  const table = new Map<number, string[]>();
  for (const row of rows) {
    const [exits, , codes] = row
      .split('|')
      .slice(1)
      .map((c) => c.trim());
    for (const e of (exits ?? '').split(',').map((x) => Number(x.trim())))
      table.set(
        e,
        [...(codes ?? '').matchAll(/EDGE_ERR_[A-Z_]+/g)].map((m) => m[0]),
      );
  }
  for (const [code, def] of Object.entries(ERROR_DEFS)) {
    t.ok(table.get(def.exit)?.includes(code), `${code} is listed under ${def.exit}`);
  }
  const used = new Set([0, 130, 143, ...Object.values(ERROR_DEFS).map((d) => d.exit)]);
  t.same(
    [...table.keys()].sort((a, b) => a - b),
    [...used].sort((a, b) => a - b),
    'the table has exactly the statuses in use',
  );
});

t.test("the usage block is each command's usage, and every command has examples that parse", async (t) => {
  const documented = blockAfter('## The CLI');
  const names = documented.map((l) => l.split(' ')[1] ?? '');
  const top = await runCli(['--help']);
  const listed = [...top.stdout.matchAll(/^ {2}(\S+) {2,}/gm)].map((m) => m[1]);
  t.same([...names].sort(), [...listed].sort(), 'the README lists every command');
  for (const [i, name] of names.entries()) {
    const { command } = (await import(`../runtime/cli/commands/${name}.js`)) as { command: Command };
    t.equal(documented[i], `edge-infer ${command.name} ${command.usage}`, `${name}: README usage = --help usage`);
    const options = { ...command.options, ...COMMON_OPTIONS };
    for (const [o, spec] of Object.entries(command.options)) {
      t.ok(command.usage.includes(`--${o}`) || (spec.short !== undefined && command.usage.includes(`-${spec.short} `)), `${name}: the usage line names --${o}`);
    }
    t.ok((command.examples ?? []).length > 0, `${name} --help has examples`);
    for (const line of command.examples ?? []) {
      const cmd = line.split('|').pop()?.trim() ?? '';
      t.match(cmd, new RegExp(`^edge-infer ${name}( |$)`), `example runs ${name}: ${line}`);
      // Parses as main.ts parses (strict: no unknown flag, no flag without its value).
      t.doesNotThrow(() => parseArgs({ args: words(cmd).slice(2), options, allowPositionals: true, strict: true }), `parses: ${cmd}`);
    }
  }
});

t.test('the documented validate and plan runs print what the README shows', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-readme-'));
  const broken = path.join(dir, 'broken.json');
  const profile = JSON.parse(readFileSync(path.join(ROOT, 'device-profiles', 'rpi4-2gb.json'), 'utf8')) as { memory: Record<string, number> };
  writeFileSync(broken, JSON.stringify({ ...profile, memory: { ...profile.memory, budgetMB: 4096 } }));
  const [v, p] = await Promise.all([runCli(['validate', broken]), runCli(['plan', '--profile', 'rpi-zero-2w'])]);
  const vDoc = blockAfter('Bad profiles are refused');
  t.equal(vDoc[0], '$ edge-infer validate /tmp/broken.json; echo $?');
  t.same(`${v.stdout}${v.stderr}${String(v.code)}`.replaceAll(broken, '/tmp/broken.json').split('\n'), vDoc.slice(1));

  const pDoc = blockAfter('## The plan');
  t.equal(pDoc[0], '$ edge-infer plan --profile rpi-zero-2w; echo $?');
  t.equal(String(p.code), pDoc[pDoc.length - 1], 'plan exits as documented');
  // The README elides lines with "..."; the rest appears in this order.
  const out = `${p.stdout}${p.stderr}`.split('\n');
  let at = 0;
  for (const line of pDoc.slice(1, -1)) {
    if (line.trim() === '...') continue;
    const found = out.indexOf(line, at);
    t.ok(found >= 0, `plan prints: ${line}`);
    if (found >= 0) at = found + 1;
  }
});

t.test('the documented error for 63 values is the real one', async (t) => {
  const doc = README.split('\n').find((l) => l.startsWith('{"id": "r3"'));
  const message = /"message": "((?:[^"\\]|\\.)*)"/.exec(doc ?? '')?.[1];
  const hint = /"hint": "((?:[^"\\]|\\.)*)"/.exec(doc ?? '')?.[1];
  const r = await runCli(['infer', 'digits', '--input', '-', '--json'], { input: JSON.stringify(new Array(63).fill(0.5)) });
  const err = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
  t.equal(err.code, 'EDGE_ERR_BAD_TENSOR');
  t.equal(JSON.parse(`"${message ?? ''}"`), err.message);
  t.equal(hint, ERROR_DEFS.EDGE_ERR_BAD_TENSOR.hint, 'the MQTT answer carries the registry hint');
});

t.test('the quick start: run serves every bundled model, and request prints what the README shows', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const watcher = await Watcher.open(broker.url, ['edge/readme/status']);
  t.teardown(() => watcher.client.end(true));
  const svc = startService({ deviceId: 'readme', broker: { url: broker.url }, log: { level: 'warn', format: 'json' } });
  t.teardown(() => {
    svc.child.kill('SIGTERM');
    return svc.exited;
  });
  const online = (): { models?: { model: string; state: string }[] } | undefined =>
    watcher
      .on('edge/readme/status')
      .map((m) => m.json as { state?: string; models?: { model: string; state: string }[] })
      .find((s) => s.state === 'online');
  await watcher.until(() => online() !== undefined, 30_000, 'status online');
  const serving = (online()?.models ?? [])
    .filter((m) => m.state === 'ready')
    .map((m) => m.model)
    .sort();
  const bundled = readdirSync(path.join(ROOT, 'models'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(ROOT, 'models', d.name, 'model.json')))
    .map((d) => d.name)
    .sort();
  t.same(serving, bundled, 'the bundled models are served');
  t.ok(README.includes(`serves the bundled models (models/: ${bundled.join(', ')})`), 'the quick start names every bundled model');

  const doc = blockAfter('In a second terminal:');
  const cmd = words(doc[0] ?? '');
  t.same(cmd.slice(0, 3), ['npx', 'edge-infer', 'request']);
  const r = await runCli([...cmd.slice(2), '--broker', broker.url, '--device-id', 'readme'], {});
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.equal(`# ${lines[0] ?? ''}`, doc[1], 'the answer line');
  t.match(lines[1], /^variant \S+ {2}queue [\d.]+ ms {2}inference [\d.]+ ms {2}total [\d.]+ ms$/);
  t.match(doc[2], /^# variant \S+ {2}queue [\d.]+ ms {2}inference [\d.]+ ms {2}total [\d.]+ ms$/, 'the README shows the same shape');
});
