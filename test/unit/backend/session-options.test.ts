import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARENA_MIN_BUDGET_MB, sessionOptions, sessionSpecFor, TOOL_SESSION } from '../../../runtime/backend/session-options.js';
import { listProfiles } from '../../../runtime/config/profile.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const profilesDir = path.resolve(here, '../../../../device-profiles');

t.test("native sessions run on the cpu provider with the spec's threads, level, arena and pattern", async (t) => {
  t.same(sessionOptions({ backend: 'native', intraOpThreads: 4, graphOptimization: 'extended', memArena: false, memPattern: true }), {
    executionProviders: ['cpu'],
    intraOpNumThreads: 4,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'extended',
    enableCpuMemArena: false,
    enableMemPattern: true,
    executionMode: 'sequential',
    logSeverityLevel: 3,
  });
});

t.test('WASM sessions run on the wasm provider; the optimized-model path is passed only when given', async (t) => {
  const wasm = sessionOptions({ backend: 'wasm', ...TOOL_SESSION });
  t.same(wasm.executionProviders, ['wasm']);
  t.notOk('optimizedModelFilePath' in wasm);
  const cached = sessionOptions({ backend: 'native', ...TOOL_SESSION, graphOptimization: 'disabled', optimizedModelFilePath: '/var/cache/m.ort.onnx' });
  t.equal(cached.optimizedModelFilePath, '/var/cache/m.ort.onnx');
  t.equal(cached.graphOptimizationLevel, 'disabled');
});

t.test("the tool spec is one thread with onnxruntime's own defaults", async (t) => {
  t.same(TOOL_SESSION, { intraOpThreads: 1, graphOptimization: 'all', memArena: true, memPattern: true });
});

t.test('refuses fewer than one intra-op thread', async (t) => {
  for (const intraOpThreads of [0, -1, 1.5, Number.NaN]) t.throws(() => sessionOptions({ backend: 'native', ...TOOL_SESSION, intraOpThreads }), RangeError);
});

t.test('every shipped device profile gives a spec with its threads and level, the arena only from the arena budget up', async (t) => {
  const profiles = await listProfiles(profilesDir);
  t.ok(profiles.length >= 5, 'the shipped profiles are found');
  for (const profile of profiles) {
    const f = profile.id;
    const spec = sessionSpecFor(profile, profile.memory.budgetMB);
    t.same(spec, { intraOpThreads: profile.inference.threads, graphOptimization: profile.inference.graphOptimization, memArena: profile.memory.budgetMB >= ARENA_MIN_BUDGET_MB, memPattern: true }, f);
    for (const backend of ['native', 'wasm'] as const) {
      const o = sessionOptions({ backend, ...spec });
      t.equal(o.intraOpNumThreads, profile.inference.threads, `${f} ${backend}: threads`);
      t.equal(o.enableCpuMemArena, spec.memArena, `${f} ${backend}: arena`);
    }
  }
  const first = profiles[0];
  if (first === undefined) return;
  t.equal(sessionSpecFor(first, ARENA_MIN_BUDGET_MB - 1).memArena, false, 'the arena is off below the arena budget');
  t.equal(sessionSpecFor(first, ARENA_MIN_BUDGET_MB).memArena, true, 'and on from it');
});
