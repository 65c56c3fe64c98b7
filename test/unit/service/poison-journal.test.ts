/**
 * runtime/service/poison-journal.ts on real files: what was running at a death is counted (only
 * the oldest `maxRun` open entries of each model), two deaths make an input poison, a success
 * clears it, worker crashes count, torn lines and compaction keep the journal readable, and an
 * unusable state directory turns the journal off without stopping requests.
 */
import t from 'tap';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EdgeError } from '../../../runtime/errors.js';
import { silentLogger } from '../../../runtime/log.js';
import { journaled, PoisonJournal, runningAtDeath } from '../../../runtime/service/poison-journal.js';
import type { NamedTensors } from '../../../runtime/tensor.js';

const input = (x: number): NamedTensors => ({ x: { dtype: 'float32', dims: [1, 1], data: new Float32Array([x]) } });
const stateDir = (): string => mkdtempSync(path.join(tmpdir(), 'edge-poison-unit-'));
const open = (dir: string): PoisonJournal => PoisonJournal.open({ stateDir: dir, log: silentLogger });
const crashes = (j: PoisonJournal, model: string, x: number): number => j.suspects().find((s) => s.model === model && s.key === PoisonJournal.key(model, input(x)))?.crashes ?? 0;

t.test('the key depends on the model and every byte, dim and name of the inputs, not on anything else', async (t) => {
  t.equal(PoisonJournal.key('m', input(1)), PoisonJournal.key('m', input(1)));
  t.not(PoisonJournal.key('m', input(1)), PoisonJournal.key('m', input(2)));
  t.not(PoisonJournal.key('m', input(1)), PoisonJournal.key('n', input(1)));
  t.not(PoisonJournal.key('m', input(1)), PoisonJournal.key('m', { y: input(1)['x']! }));
  t.not(PoisonJournal.key('m', input(1)), PoisonJournal.key('m', { x: { dtype: 'float32', dims: [1], data: new Float32Array([1]) } }));
});

t.test('runningAtDeath takes the oldest maxRun open entries of each model', async (t) => {
  const line = (seq: number, maxRun: number, model: string, key: string) => ({ seq, maxRun, model, key, line: '' });
  t.same(runningAtDeath([line(3, 1, 'a', 'k3'), line(2, 1, 'a', 'k2'), line(5, 2, 'b', 'k5'), line(6, 2, 'b', 'k6'), line(7, 2, 'b', 'k7')]), [
    { model: 'a', key: 'k2' },
    { model: 'b', key: 'k5' },
    { model: 'b', key: 'k6' },
  ]);
  t.same(runningAtDeath([]), []);
});

t.test('after a death, a crash is counted for what was running, not for what was queued behind it', async (t) => {
  const dir = stateDir();
  const j = open(dir);
  j.start('a', PoisonJournal.key('a', input(1)), 1);
  j.start('a', PoisonJournal.key('a', input(2)), 1);
  j.start('b', PoisonJournal.key('b', input(3)), 1);
  j.start('a', PoisonJournal.key('a', input(4)), 1).settled();
  // The process dies here: nothing settles, nothing closes.
  const after = open(dir);
  t.equal(crashes(after, 'a', 1), 1, 'a: the oldest open entry was running');
  t.equal(crashes(after, 'a', 2), 0, 'a: the one queued behind it is not blamed');
  t.equal(crashes(after, 'b', 3), 1, 'b: its running entry');
  t.equal(crashes(after, 'a', 4), 0, 'a settled entry is not counted');
  t.equal(readFileSync(path.join(dir, 'poison', 'journal'), 'utf8'), '', 'the new run starts a fresh journal');
  after.close();
  const clean = open(dir);
  t.equal(crashes(clean, 'a', 1), 1, 'a clean restart (nothing open) counts nothing more');
  clean.close();
});

t.test('an input running at two deaths is refused with EDGE_ERR_POISON_REQUEST without running; others run', async (t) => {
  const dir = stateDir();
  let runs = 0;
  const hang = (j: PoisonJournal) => {
    void journaled(
      j,
      'm',
      'v',
      input(11),
      1,
      () =>
        new Promise<never>(() => {
          runs++;
        }),
    );
  };
  hang(open(dir));
  hang(open(dir));
  const j = open(dir);
  t.equal(runs, 2);
  const err = await journaled(j, 'm', 'v', input(11), 1, async () => {
    runs++;
    return 'ran';
  }).catch((e: unknown) => e);
  t.ok(err instanceof EdgeError && err.code === 'EDGE_ERR_POISON_REQUEST', 'refused with EDGE_ERR_POISON_REQUEST');
  t.match((err as EdgeError).details, { model: 'm', variant: 'v', crashes: 2, key: PoisonJournal.key('m', input(11)) });
  t.equal(runs, 2, 'it did not run');
  t.equal(await journaled(j, 'm', 'v', input(1), 1, async () => 'ran'), 'ran', 'another input runs');
  j.close();
  const later = open(dir);
  t.ok((await journaled(later, 'm', 'v', input(11), 1, async () => 'ran').catch((e: unknown) => e)) instanceof EdgeError, 'still refused after a clean restart (suspects.json)');
  later.close();
});

t.test('an input that runs to the end is cleared: deaths with a success in between do not add up', async (t) => {
  const dir = stateDir();
  const j1 = open(dir);
  j1.start('m', PoisonJournal.key('m', input(5)), 1);
  const j2 = open(dir);
  t.equal(crashes(j2, 'm', 5), 1);
  t.equal(await journaled(j2, 'm', 'v', input(5), 1, async () => 'ok'), 'ok');
  t.equal(crashes(j2, 'm', 5), 0, 'cleared by its success');
  j2.start('m', PoisonJournal.key('m', input(5)), 1);
  const j3 = open(dir);
  t.equal(crashes(j3, 'm', 5), 1, 'a later death counts from 1 again');
  t.equal(await journaled(j3, 'm', 'v', input(5), 1, async () => 'ok'), 'ok', 'so it still runs');
  j3.close();
});

t.test('worker crashes of the same input count, and the third attempt is refused without running', async (t) => {
  const j = open(stateDir());
  const crashed = () => Promise.reject(new EdgeError('EDGE_ERR_WORKER_CRASHED', 'worker exited with code 70'));
  for (let i = 0; i < 2; i++) {
    const e = await journaled(j, 'm', 'v', input(7), 1, crashed).catch((x: unknown) => x);
    t.equal((e as EdgeError).code, 'EDGE_ERR_WORKER_CRASHED', `crash ${i + 1} is answered as the crash it is`);
  }
  let ran = false;
  const e = await journaled(j, 'm', 'v', input(7), 1, async () => {
    ran = true;
  }).catch((x: unknown) => x);
  t.equal((e as EdgeError).code, 'EDGE_ERR_POISON_REQUEST');
  t.notOk(ran);
  const other = await journaled(j, 'm', 'v', input(8), 1, () => Promise.reject(new EdgeError('EDGE_ERR_INFERENCE_FAILED', 'bad'))).catch((x: unknown) => x);
  t.equal((other as EdgeError).code, 'EDGE_ERR_INFERENCE_FAILED');
  t.equal(crashes(j, 'm', 8), 0, 'an inference error is no crash');
  j.close();
});

t.test('a torn last line is skipped, and compaction keeps the open entries', async (t) => {
  const dir = stateDir();
  const j = open(dir);
  j.start('m', PoisonJournal.key('m', input(1)), 1);
  for (let i = 0; i < 2000; i++) j.start('m', PoisonJournal.key('m', input(100 + i)), 1).settled();
  t.ok(statSync(path.join(dir, 'poison', 'journal')).size <= 64 * 1024 + 200, 'the journal stays bounded (compacted past 64 KiB)');
  appendFileSync(path.join(dir, 'poison', 'journal'), 'S 99999 1 m abc');
  const after = open(dir);
  t.equal(crashes(after, 'm', 1), 1, 'the entry open since before the compaction is counted');
  t.equal(after.suspects().length, 1, 'the torn line counts nothing');
  after.close();
});

t.test('an unusable state directory turns the journal off and requests still run', async (t) => {
  const dir = stateDir();
  writeFileSync(path.join(dir, 'poison'), 'a file where the folder should be');
  const warnings: string[] = [];
  const log = {
    ...silentLogger,
    warn: (event: string) => {
      warnings.push(event);
    },
    child: () => log,
  };
  const j = PoisonJournal.open({ stateDir: dir, log });
  t.same(warnings, ['poison.journal_off']);
  t.equal(await journaled(j, 'm', 'v', input(1), 1, async () => 'ran'), 'ran');
  j.close();
});

t.test('the journal file is open only while a request is journaled (an idle service holds no state-dir file open for writing)', async (t) => {
  const dir = stateDir();
  const j = open(dir);
  const fds = (): number =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === path.join(dir, 'poison', 'journal');
      } catch {
        return false;
      }
    }).length;
  t.equal(fds(), 0, 'closed after open()');
  const a = j.start('m', 'k1', 1);
  const b = j.start('m', 'k2', 1);
  t.equal(fds(), 1, 'open while requests are journaled');
  a.settled();
  t.equal(fds(), 1);
  b.settled();
  t.equal(fds(), 0, 'closed when the last one settles');
  j.close();
});
