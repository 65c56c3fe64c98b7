/**
 * Soak in CI (issue 6): 12 s (60 s in CI) at a high request rate to the real service over mosquitto (persistence
 * on), the broker restarted twice mid-run. No answer lost (every id answered), no error answers,
 * and bounded RSS, fds, outbox and queue depth (back to 0 after the drain). The hour-long version:
 * node dist/bench/soak.js --minutes 60.
 */
import t from 'tap';
import { runSoak } from '../bench/soak.js';

// npm test runs 12 s (test time budget); CI runs 60 s (.ci/run), the hour is bench/soak.ts.
const SECONDS = Number(process.env['SOAK_SECONDS'] ?? 12);
const WINDOW = 64;
const RSS_BOUND_MB = 40;
const FD_BOUND = 8;

t.test(`${SECONDS} s of requests with two broker restarts loses no answer and grows nothing beyond a bound`, { timeout: 240_000 }, async (t) => {
  const f = await runSoak({ seconds: SECONDS, restarts: 2, window: WINDOW, baseDir: '/dev/shm', sampleMs: 5000 });
  const { samples, ...figures } = f;
  t.comment(`soak ${f.seconds} s: sent ${f.sent}, answered ${f.answered}, lost ${f.lost}, duplicates ${f.duplicates}, broker restarts ${f.restarts}, service reconnects ${f.serviceReconnectsLogged}`);
  t.comment(
    `RSS ${f.rssStartMB.toFixed(1)} -> ${f.rssEndMB.toFixed(1)} MB (max ${f.rssMaxMB.toFixed(1)}); fds ${f.fdsStart} -> ${f.fdsEnd} (max ${f.fdsMax}); outbox depth max ${f.outboxDepthMax}, end ${String(f.outboxDepthEnd)}, live in the log ${f.outboxLiveEnd}; queue depth max ${f.queueDepthMax}, end ${String(f.queueDepthEnd)}`,
  );
  t.comment(`samples: ${samples.map((s) => `${s.atS}s:${s.answered}/${s.sent} rss=${s.rssMB.toFixed(0)} fds=${s.fds} ob=${String(s.outboxDepth)} q=${String(s.queueDepth)}`).join(' | ')}`);
  t.ok(f.alive, 'the service is still running');
  t.equal(f.restarts, 2, 'the broker was restarted twice');
  t.ok(f.serviceReconnectsLogged >= 2, 'the service reconnected after each restart');
  t.ok(f.sent >= 1000, `a high request count (${f.sent})`);
  t.equal(f.lost, 0, 'no answer lost: every id answered');
  t.same(f.errors.slice(0, 10), [], 'no error answers');
  t.equal(f.outboxDepthEnd, 0, 'the outbox is empty after the drain');
  t.equal(f.outboxLiveEnd, 0, 'and no answer is left live in the outbox log');
  t.equal(f.queueDepthEnd, 0, 'the queues are empty after the drain');
  t.ok(f.outboxDepthMax <= 4 * WINDOW, `outbox depth stayed within ${4 * WINDOW} (max ${f.outboxDepthMax})`);
  // A broker restart redelivers the requests it had handed over unacknowledged: up to a window more.
  t.ok(f.queueDepthMax <= 2 * WINDOW, `queue depth stayed within two windows, ${2 * WINDOW} (max ${f.queueDepthMax})`);
  t.equal(f.wrongLabels, 0, 'every answer for the same image gives the same digit');
  // Growth is judged on a trend, not on two single samples: the lowest RSS of the last third of the
  // samples against the lowest of the first third (after the idle one at t=0). Single samples swing
  // by tens of MB under load (GC timing, onnxruntime's arena growing to the largest batch seen): a
  // CI run went 232 -> 214 -> ... -> 274 MB; a local 90 s run at that rate kept the V8 heap at 11-26 MB with no trend.
  const loaded = samples.slice(1).map((s) => s.rssMB);
  const third = Math.max(1, Math.ceil(loaded.length / 3));
  const growth = Math.min(...loaded.slice(-third)) - Math.min(...loaded.slice(0, third));
  t.ok(growth <= RSS_BOUND_MB, `RSS growth ${growth.toFixed(1)} MB (lowest of the last third vs the first) within ${RSS_BOUND_MB} MB`);
  t.ok(f.fdsEnd - f.fdsStart <= FD_BOUND, `fd growth ${f.fdsEnd - f.fdsStart} within ${FD_BOUND}`);
  void figures;
});
