/**
 * Power cuts, kept short for `npm test` (issue 12): the real service SIGKILLed at 4 random moments
 * while QoS 1 requests stream in (test/helpers/power-cuts.ts). The 20-kill run is the CI step
 * `node dist/bench/power-cuts.js` (.ci/run).
 */
import t from 'tap';
import { runPowerCuts } from './helpers/power-cuts.js';

t.test('SIGKILLed at 4 random moments while requests stream in, the service answers every request, none with an error, and its outbox always reads back', { timeout: 120_000 }, async (t) => {
  const r = await runPowerCuts({ kills: 4, seed: 12, minUpMs: 200, maxUpMs: 1000, ratePerS: 100, log: (l) => t.comment(l) });
  t.comment(`sent ${r.sent}, answered ${r.answered}, duplicates ${r.duplicates}, kills while connected ${r.killsWhileConnected}/${r.kills}`);
  t.equal(r.kills, 4);
  t.ok(r.sent > 100, `${r.sent} requests streamed`);
  t.same(r.missing, [], 'every request was answered');
  t.same(r.errors, {}, 'no answer was an error');
  for (const [k, o] of r.outboxAfterKill.entries()) t.same(o.others, [], `after kill ${k + 1} the outbox holds only log segments`);
  t.equal(r.finalExitCode, 0, 'the last run stops cleanly');
  t.equal(r.outboxEnd.live, 0, 'and leaves nothing live in the outbox');
});
