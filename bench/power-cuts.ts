/**
 * `node dist/bench/power-cuts.js [--kills 20] [--seed 1]`: the power-cut check of issue 12 at full
 * length (a CI step in .ci/run, too long for `npm test`): the real service SIGKILLed at random
 * moments while QoS 1 requests stream in (test/helpers/power-cuts.ts). Prints what it saw; exits 1
 * when a request went unanswered, an answer was an error, or the outbox did not read back.
 */
import { runPowerCuts } from '../test/helpers/power-cuts.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const r = await runPowerCuts({ kills: arg('--kills', 20), seed: arg('--seed', 1), minUpMs: 100, maxUpMs: 2000, ratePerS: 100, log: (l) => console.log(l) });
const foreign = r.outboxAfterKill.flatMap((o) => o.others);
console.log(JSON.stringify({ ...r, missing: r.missing.length, outboxAfterKill: undefined, tornBytesMax: Math.max(0, ...r.outboxAfterKill.map((o) => o.tornBytes)), liveAfterKillMax: Math.max(0, ...r.outboxAfterKill.map((o) => o.live)) }));
const ok = r.missing.length === 0 && Object.keys(r.errors).length === 0 && foreign.length === 0 && r.finalExitCode === 0 && r.outboxEnd.live === 0;
console.log(ok ? 'power cuts: OK' : 'power cuts: FAILED');
process.exit(ok ? 0 : 1);
