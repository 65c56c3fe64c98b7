/**
 * The CLI probe suite (issue 13): generated bad arguments and bad files for every command, closed
 * pipes and signals, each run judged against the operator contract (test/helpers/cli-probe.ts).
 *
 * `npm test` runs the fast part: the fixed probes plus a seeded sample of generated ones, two at a
 * time. CI runs the larger part from .ci/run: `EDGE_INFER_PROBES=<count> npx tap dist/test/cli-probe.test.js`
 * (EDGE_INFER_PROBE_SEED picks another sample; a failure prints the seed and the command line).
 */
import t from 'tap';
import path from 'node:path';
import { generatedProbes, fixedProbes } from './helpers/cli-probe-cases.js';
import { hashTree, judge, knownFindings, makeFixtures, runPool, treeChanges, type ProbeRun } from './helpers/cli-probe.js';
import { ROOT } from './helpers/service-process.js';

const FAST_COUNT = 20;
const count = Number(process.env['EDGE_INFER_PROBES'] ?? FAST_COUNT);
const seed = Number(process.env['EDGE_INFER_PROBE_SEED'] ?? 13);
const full = count > FAST_COUNT;

t.test(`every command survives ${count} generated probes (seed ${seed}) and the fixed ones without breaking the operator contract`, { timeout: full ? 3_600_000 : 300_000 }, async (t) => {
  const fixtures = makeFixtures();
  t.teardown(() => fixtures.cleanup());
  for (const s of fixtures.skipped) t.comment(`skipped: ${s}`);
  const sources = [path.join(ROOT, 'models'), path.join(ROOT, 'device-profiles'), fixtures.fx];
  const before = hashTree(sources);
  const probes = [...fixedProbes(fixtures), ...generatedProbes(fixtures, seed, count)];
  const runs = await runPool(probes, fixtures, full ? 3 : 2);
  const failures: string[] = [];
  for (const r of runs) {
    const v = judge(r);
    if (v.length > 0) failures.push(`${r.probe.name}\n    -> ${v.join('\n    -> ')}\n    (exit ${String(r.code)}${r.signal ? ` ${r.signal}` : ''}) ${firstLine(r)}`);
  }
  t.same(treeChanges(before, hashTree(sources)), [], 'models/, device-profiles/ and the fixtures are unchanged');
  const byCommand = new Map<string, number>();
  for (const r of runs) byCommand.set(r.probe.args[0] ?? '', (byCommand.get(r.probe.args[0] ?? '') ?? 0) + 1);
  t.comment(`probes per command: ${[...byCommand].map(([c, n]) => `${c} ${n}`).join(', ')}; bad ${runs.filter((r) => r.probe.bad).length} of ${runs.length}`);
  const known = new Map<string, number>();
  for (const r of runs) for (const k of knownFindings(r)) known.set(k, (known.get(k) ?? 0) + 1);
  for (const [k, n] of known) t.comment(`known finding (${n} runs): ${k}`);
  for (const f of failures) t.comment(`VIOLATION ${f}`);
  t.equal(failures.length, 0, `${failures.length} of ${runs.length} probes broke the contract (seed ${seed})`);
  t.ok(runs.filter((r) => r.probe.bad).length >= runs.length / 3, 'at least a third of the probes pass something bad');
});

function firstLine(r: ProbeRun): string {
  return (r.stderr.split('\n').find((l) => l.trim() !== '') ?? '').slice(0, 200);
}
