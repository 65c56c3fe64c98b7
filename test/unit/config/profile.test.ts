import t, { type Test } from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EdgeError } from '../../../runtime/errors.js';
import { loadProfile, parseProfile } from '../../../runtime/config/profile.js';
import type { SchemaProblem } from '../../../runtime/config/schema-check.js';
import { PROFILES_DIR } from './helpers.js';

// Test documents are edited freely, so their nested values are untyped.
// biome-ignore lint/suspicious/noExplicitAny: test documents are edited freely (see above)
type Doc = Record<string, any>;

const valid = async (): Promise<Doc> => JSON.parse(await readFile(join(PROFILES_DIR, 'rpi4-2gb.json'), 'utf8')) as Doc;

function refusal(t: Test, fn: () => unknown, code: string, path: string): SchemaProblem[] {
  try {
    fn();
  } catch (e) {
    t.ok(e instanceof EdgeError, 'throws an EdgeError');
    const err = e as EdgeError;
    t.equal(err.code, code);
    t.equal(err.details?.['file'], 'bad.json', 'names the file');
    const problems = (err.details?.['problems'] ?? []) as SchemaProblem[];
    t.ok(
      problems.some((p) => p.path === path),
      `names ${path} (got ${problems.map((p) => p.path).join(', ')})`,
    );
    return problems;
  }
  t.fail('did not throw');
  return [];
}

t.test('fills the schema defaults and leaves the input document alone', async (t) => {
  const doc = await valid();
  delete doc['telemetry'];
  delete doc['memory'].reserveMB;
  doc['inference'] = { precision: ['int8'], latencyTargetMs: 40 };
  doc['memory'].budgetMB = 100;
  const before = JSON.stringify(doc);
  const p = parseProfile(doc, 'x.json');
  t.equal(JSON.stringify(doc), before, 'input not modified');
  t.equal(p.memory.reserveMB, 64);
  t.same(p.telemetry, { intervalS: 30 });
  t.same([p.inference.threads, p.inference.accuracyFloor, p.inference.backend, p.inference.graphOptimization, p.inference.estimatedGmacsPerS], [1, 0, 'auto', 'all', {}]);
});

t.test('refuses wrong types with the JSON path and the allowed type', async (t) => {
  const doc = await valid();
  doc['cpu'].cores = 'four';
  const problems = refusal(t, () => parseProfile(doc, 'bad.json'), 'EDGE_ERR_PROFILE_INVALID', '/cpu/cores');
  t.equal(problems.find((p) => p.path === '/cpu/cores')?.allowed, 'integer');
});

t.test('refuses an unknown precision and lists the allowed ones', async (t) => {
  const doc = await valid();
  doc['inference'].precision = ['int8', 'int3'];
  const problems = refusal(t, () => parseProfile(doc, 'bad.json'), 'EDGE_ERR_PROFILE_INVALID', '/inference/precision/1');
  t.same(problems.find((p) => p.path === '/inference/precision/1')?.allowed, ['fp32', 'fp16', 'int8', 'int4', 'mixed']);
});

t.test('refuses a budget above total memory minus the reserve', async (t) => {
  const doc = await valid();
  doc['memory'] = { totalMB: 2048, budgetMB: 4096, reserveMB: 384 };
  const problems = refusal(t, () => parseProfile(doc, 'bad.json'), 'EDGE_ERR_PROFILE_INVALID', '/memory/budgetMB');
  t.equal(problems.find((p) => p.path === '/memory/budgetMB')?.allowed, '<= 1664');
});

t.test('refuses missing required fields, naming each', async (t) => {
  const doc = await valid();
  delete doc['cpu'];
  delete doc['inference'].latencyTargetMs;
  const problems = refusal(t, () => parseProfile(doc, 'bad.json'), 'EDGE_ERR_PROFILE_INVALID', '/cpu');
  t.ok(
    problems.some((p) => p.path === '/inference/latencyTargetMs'),
    'every problem is listed',
  );
});

t.test('refuses unknown keys at the top and nested', async (t) => {
  const doc = await valid();
  doc['colour'] = 'red';
  doc['thermal'].fanRpm = 3000;
  const problems = refusal(t, () => parseProfile(doc, 'bad.json'), 'EDGE_ERR_PROFILE_INVALID', '/colour');
  t.ok(problems.some((p) => p.path === '/thermal/fanRpm'));
});

t.test('refuses null for an optional field instead of treating it as absent', async (t) => {
  const doc = await valid();
  doc['match'].deviceTreeModel = null;
  refusal(t, () => parseProfile(doc, 'bad.json'), 'EDGE_ERR_PROFILE_INVALID', '/match/deviceTreeModel');
});

t.test('refuses what the schema cannot express: ranges, threads, regex, thermal order, repeated precisions', async (t) => {
  const cases: Array<[string, (d: Doc) => void]> = [
    [
      '/match/memoryMB/minMB',
      (d) => {
        d['match'].memoryMB = { minMB: 4096, maxMB: 1024 };
      },
    ],
    [
      '/inference/threads',
      (d) => {
        d['inference'].threads = 8;
      },
    ],
    [
      '/match/deviceTreeModel',
      (d) => {
        d['match'].deviceTreeModel = '^Raspberry Pi (4';
      },
    ],
    [
      '/thermal/softLimitC',
      (d) => {
        d['thermal'] = { softLimitC: 85, hardLimitC: 85 };
      },
    ],
    [
      '/inference/precision/2',
      (d) => {
        d['inference'].precision = ['int8', 'fp32', 'int8'];
      },
    ],
  ];
  for (const [path, edit] of cases) {
    const doc = await valid();
    edit(doc);
    refusal(t, () => parseProfile(doc, 'bad.json'), 'EDGE_ERR_PROFILE_INVALID', path);
  }
});

t.test('loads by id from the profiles folder and by path', async (t) => {
  t.equal((await loadProfile('rpi5-8gb', PROFILES_DIR)).cpu.model, 'Cortex-A76');
  t.equal((await loadProfile(join(PROFILES_DIR, 'rpi-zero-2w.json'), '/nonexistent')).id, 'rpi-zero-2w');
});

t.test('an unknown id is refused with the known ids listed', async (t) => {
  const err = await loadProfile('rpi9', PROFILES_DIR).catch((e: unknown) => e);
  t.ok(err instanceof EdgeError);
  t.equal((err as EdgeError).code, 'EDGE_ERR_PROFILE_NOT_FOUND');
  t.same((err as EdgeError).details?.['known'], ['generic-x64', 'rpi-zero-2w', 'rpi3b-plus', 'rpi4-2gb', 'rpi4-8gb', 'rpi5-8gb']);
  const missing = await loadProfile('/nonexistent/board.json', PROFILES_DIR).catch((e: unknown) => e);
  t.equal((missing as EdgeError).code, 'EDGE_ERR_PROFILE_NOT_FOUND');
});

t.test('bad JSON is refused naming the file, line and column', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'edge-profile-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'broken.json');
  await writeFile(file, '{\n  "id": "broken",\n  "board": "x",\n  "cpu": { "arch": "arm64" "cores": 4 }\n}\n');
  const err = await loadProfile(file, dir).catch((e: unknown) => e);
  t.ok(err instanceof EdgeError);
  t.equal((err as EdgeError).code, 'EDGE_ERR_PROFILE_INVALID');
  t.match((err as EdgeError).details, { file, line: 4, column: 28 });
});

t.test('a profile whose id differs from its file name is refused when loaded by id', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'edge-profile-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const doc = await valid();
  await writeFile(join(dir, 'my-board.json'), JSON.stringify(doc));
  const err = await loadProfile('my-board', dir).catch((e: unknown) => e);
  t.equal((err as EdgeError).code, 'EDGE_ERR_PROFILE_INVALID');
  t.match((err as EdgeError).details, { problems: [{ path: '/id', allowed: ['my-board'] }] });
});
