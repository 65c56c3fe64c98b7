import t from 'tap';
import { findBySeq, insertBySeq, type Entry } from '../../../runtime/transport/outbox-entries.js';
import { withDefaults } from '../../../runtime/transport/outbox-options.js';

const entry = (seq: number): Entry => ({ seq, message: { topic: 't', payload: new Uint8Array(0) }, bytes: 1, enqueuedMs: 0, inFlight: false, onDisk: false, removing: false, relocating: false, written: undefined });

t.test('insertBySeq keeps the entries sorted by seq, whatever order they come in', async (t) => {
  const entries: Entry[] = [];
  for (const seq of [3, 5, 1, 4, 2, 9]) insertBySeq(entries, entry(seq));
  t.same(
    entries.map((e) => e.seq),
    [1, 2, 3, 4, 5, 9],
  );
});

t.test('findBySeq finds every seq present and answers -1 for the rest', async (t) => {
  const entries: Entry[] = [];
  for (const seq of [2, 4, 6, 8, 10]) insertBySeq(entries, entry(seq));
  for (const [i, seq] of [2, 4, 6, 8, 10].entries()) t.equal(findBySeq(entries, seq), i);
  for (const seq of [0, 1, 3, 11]) t.equal(findBySeq(entries, seq), -1);
  t.equal(findBySeq([], 1), -1);
});

t.test('outbox options default to 10000 messages, 32 MiB, fsync always, a 30 s disk retry and 256 KiB segments', async (t) => {
  const o = withDefaults({ dir: '/x' });
  t.same({ dir: o.dir, maxMessages: o.maxMessages, maxBytes: o.maxBytes, fsync: o.fsync, retryMs: o.retryMs, segmentBytes: o.segmentBytes }, { dir: '/x', maxMessages: 10_000, maxBytes: 32 * 1024 * 1024, fsync: 'always', retryMs: 30_000, segmentBytes: 256 * 1024 });
  t.type(o.nowMs(), 'number');
  t.equal(withDefaults({ dir: '/y', fsync: 'never', maxMessages: 5 }).maxMessages, 5, 'given values are kept');
});
