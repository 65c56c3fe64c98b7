import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../../../runtime/transport/outbox.js';
import { serialize } from '../../../runtime/transport/outbox-file.js';
import { encodePut, logName } from '../../../runtime/transport/outbox-log-file.js';
import type { OutgoingMessage } from '../../../runtime/transport/types.js';
import { inspectOutboxDir } from '../../helpers/outbox-dir.js';

const msg = (i: number, bytes = 10): OutgoingMessage => ({ topic: `t/${i}`, payload: Buffer.alloc(bytes, i), properties: { correlationData: Buffer.from(`c${i}`), contentType: 'application/json' } });

function tmp(t: { teardown(f: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'edge-outbox-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('messages survive a reopen in order, with their properties, until acknowledged', async (t) => {
  const dir = join(tmp(t), 'outbox');
  const a = await Outbox.open({ dir });
  for (let i = 1; i <= 3; i++) await a.enqueue(msg(i));
  const first = a.takeNext();
  t.equal(first?.message.topic, 't/1');
  await a.ack(first?.seq ?? -1);
  const b = await Outbox.open({ dir });
  t.equal(b.stats().depth, 2);
  const e = b.takeNext();
  t.equal(e?.message.topic, 't/2');
  t.equal(Buffer.from(e?.message.properties?.correlationData ?? []).toString(), 'c2');
  b.release(e?.seq ?? -1);
  t.equal(b.takeNext()?.message.topic, 't/2', 'a released message keeps its place');
  t.equal(b.takeNext()?.message.topic, 't/3');
  t.equal(b.takeNext(), undefined, 'nothing else pending');
  await b.enqueue(msg(4));
  t.equal(b.takeNext()?.message.topic, 't/4', 'new messages continue the sequence');
});

t.test('when full it drops the oldest and counts it', async (t) => {
  const dir = join(tmp(t), 'outbox');
  const box = await Outbox.open({ dir, maxMessages: 3, fsync: 'never' });
  for (let i = 1; i <= 5; i++) await box.enqueue(msg(i));
  t.equal(box.stats().depth, 3);
  t.equal(box.stats().dropped, 2);
  t.equal(box.takeNext()?.message.topic, 't/3');
  await new Promise((r) => setTimeout(r, 50));
  t.same(liveSeqs(dir), [3, 4, 5], 'the dropped ones are cancelled in the log');
  const bytes = await Outbox.open({ dir: join(dir, 'b'), maxBytes: 500, fsync: 'never' });
  for (let i = 1; i <= 5; i++) await bytes.enqueue(msg(i, 200));
  t.ok(bytes.stats().bytes <= 500, 'the byte bound holds');
  t.ok(bytes.stats().dropped >= 3);
});

t.test('a torn tail is cut off at open, the records before it are kept, and sequence numbers continue', async (t) => {
  const dir = join(tmp(t), 'o');
  mkdirSync(dir);
  const whole = Buffer.concat([encodePut(1, serialize(msg(1))), encodePut(2, serialize(msg(2)))]);
  // A power cut in the middle of the second record's write; then a CRC mismatch variant.
  writeFileSync(join(dir, logName(1)), whole.subarray(0, whole.byteLength - 5));
  const flipped = Buffer.from(encodePut(3, serialize(msg(3))));
  flipped.writeUInt8(flipped.readUInt8(flipped.byteLength - 1) ^ 0xff, flipped.byteLength - 1);
  writeFileSync(join(dir, logName(2)), flipped);
  const lines: string[] = [];
  const log = {
    debug: () => undefined,
    info: () => undefined,
    warn: (e: string) => {
      lines.push(e);
    },
    error: () => undefined,
    child() {
      return log;
    },
  };
  const box = await Outbox.open({ dir, log });
  t.equal(box.stats().depth, 1);
  t.equal(box.takeNext()?.message.topic, 't/1');
  t.same(lines.filter((l) => l === 'outbox.torn_tail').length, 2, 'each torn tail is logged');
  t.equal(inspectOutboxDir(dir).tornBytes, 0, 'the torn bytes are gone from the files');
  await box.enqueue(msg(4));
  t.equal(box.takeNext()?.seq, 2, 'the sequence continues after the last valid record');
});

t.test('an unwritable state dir degrades to memory and keeps working', async (t) => {
  const dir = tmp(t);
  // root ignores permission bits: a path under a regular file fails for everyone.
  writeFileSync(join(dir, 'file'), 'x');
  const box = await Outbox.open({ dir: join(dir, 'file', 'outbox'), maxMessages: 2 });
  t.equal(box.degraded, true);
  for (let i = 1; i <= 3; i++) await box.enqueue(msg(i));
  t.equal(box.stats().depth, 2);
  t.equal(box.stats().dropped, 1);
  t.equal(box.stats().degraded, true);
  t.equal(box.takeNext()?.message.topic, 't/2');
});

t.test('ages come from the monotonic clock passed in', async (t) => {
  let now = 1000;
  const box = await Outbox.open({ dir: join(tmp(t), 'o'), nowMs: () => now, fsync: 'never' });
  await box.enqueue(msg(1));
  now += 250;
  t.equal(box.stats().oldestAgeMs, 250);
});

const liveSeqs = (dir: string): number[] => inspectOutboxDir(dir).live.map((m) => m.seq);

t.test('an acknowledged message leaves depth only after its ACK record is written', async (t) => {
  const dir = join(tmp(t), 'o');
  const box = await Outbox.open({ dir, fsync: 'never' });
  const N = 6;
  for (let i = 1; i <= N; i++) await box.enqueue(msg(i));
  const taken = [];
  for (let e = box.takeNext(); e !== undefined; e = box.takeNext()) taken.push(e.seq);
  const acks = taken.map((seq) => box.ack(seq));
  // The unlinks have not completed: depth must still count the messages (the old code said 0 here).
  t.equal(box.stats().depth, N, 'depth still counts messages whose files may be on disk');
  t.equal(box.takeNext(), undefined, 'a message being removed is not handed out again');
  box.releaseAll();
  t.equal(box.takeNext(), undefined, 'not even after releaseAll');
  await Promise.all(acks);
  t.equal(box.stats().depth, 0);
  t.same(liveSeqs(dir), [], 'depth 0 means nothing is live in the log');
  await box.ack(taken[0] ?? -1);
  t.equal(box.stats().depth, 0, 'a second ack of the same seq is ignored');
});

t.test('concurrent enqueues respect the message bound and evicted messages are cancelled in the log when enqueue resolves', async (t) => {
  const dir = join(tmp(t), 'o');
  const box = await Outbox.open({ dir, maxMessages: 4, fsync: 'never' });
  await Promise.all(Array.from({ length: 20 }, (_, i) => box.enqueue(msg(i + 1))));
  t.equal(box.stats().depth, 4);
  t.equal(box.stats().dropped, 16);
  t.same(liveSeqs(dir), [17, 18, 19, 20]);
  t.equal(box.takeNext()?.message.topic, 't/17', 'the newest survive, oldest first');
});

t.test('a write failure mid-run degrades to memory, and the disk is retried after retryMs and recovers', async (t) => {
  const root = tmp(t);
  const dir = join(root, 'o');
  let now = 0;
  const lines: { level: string; event: string; fields: Record<string, unknown> }[] = [];
  const log = {
    debug: () => undefined,
    info: (event: string, fields: Record<string, unknown> = {}) => {
      lines.push({ level: 'info', event, fields });
    },
    warn: (event: string, fields: Record<string, unknown> = {}) => {
      lines.push({ level: 'warn', event, fields });
    },
    error: (event: string, fields: Record<string, unknown> = {}) => {
      lines.push({ level: 'error', event, fields });
    },
    child() {
      return log;
    },
  };
  const box = await Outbox.open({ dir, fsync: 'never', nowMs: () => now, retryMs: 1000, log });
  await box.enqueue(msg(1));
  t.equal(box.degraded, false);
  // Make every write fail for root too: the directory becomes a regular file (ENOTDIR/EEXIST).
  rmSync(dir, { recursive: true, force: true });
  writeFileSync(dir, 'not a directory');
  await box.enqueue(msg(2));
  t.equal(box.degraded, true, 'a failed write degrades');
  t.equal(box.stats().degraded, true);
  const loud = lines.filter((l) => l.event === 'outbox.degraded');
  t.equal(loud.length, 1);
  t.equal(loud[0]?.level, 'error');
  t.equal((loud[0]?.fields['error'] as { code?: string }).code, 'EDGE_ERR_OUTBOX_DEGRADED');
  await box.enqueue(msg(3));
  t.equal(box.stats().depth, 3, 'answers are still queued (in memory)');
  t.equal(lines.filter((l) => l.event === 'outbox.degraded').length, 1, 'logged once per episode');

  // The disk is back, but retryMs has not passed: still degraded, nothing written.
  rmSync(dir, { force: true });
  now += 500;
  await box.enqueue(msg(4));
  t.equal(box.degraded, true, 'no retry before retryMs');
  t.equal(existsSync(dir), false);
  now += 600;
  await box.enqueue(msg(5));
  t.equal(box.degraded, false, 'recovered after retryMs');
  t.ok(lines.some((l) => l.event === 'outbox.recovered'));
  t.same(liveSeqs(dir), [2, 3, 4, 5], 'memory-only messages are written to disk on recovery');
  const order: string[] = [];
  for (let e = box.takeNext(); e !== undefined; e = box.takeNext()) order.push(e.message.topic);
  t.same(order, ['t/1', 't/2', 't/3', 't/4', 't/5'], 'order is kept across the episode');
  const again = await Outbox.open({ dir, fsync: 'never' });
  t.equal(again.stats().depth, 4, 'a restart finds the messages written at recovery');
});

t.test('retryDisk(true) recovers an outbox whose directory was unusable at open and merges files found there', async (t) => {
  const root = tmp(t);
  const dir = join(root, 'o');
  writeFileSync(join(root, 'o'), 'blocker');
  const box = await Outbox.open({ dir, fsync: 'never', retryMs: 60_000 });
  t.equal(box.degraded, true);
  await box.enqueue(msg(1));
  rmSync(dir, { force: true });
  const earlier = await Outbox.open({ dir, fsync: 'never' });
  await earlier.enqueue(msg(7));
  await earlier.enqueue(msg(8));
  await box.retryDisk();
  t.equal(box.degraded, true, 'not yet: retryMs has not passed');
  await box.retryDisk(true);
  t.equal(box.degraded, false);
  t.equal(box.stats().depth, 3, 'the files left on disk are merged in');
  await box.enqueue(msg(9));
  await box.close();
  const live = inspectOutboxDir(dir).live;
  t.equal(new Set(live.map((m) => m.seq)).size, live.length);
  t.same(live.map((m) => m.message.topic).sort(), ['t/1', 't/7', 't/8', 't/9'], 'no sequence number collides with one on disk: all four are live');
  const again = await Outbox.open({ dir, fsync: 'never' });
  t.equal(again.stats().depth, 4, 'and a reopen finds the four');
});

t.test('concurrent enqueues commit as a group: each resolves only once its whole group is in the log', async (t) => {
  const dir = join(tmp(t), 'o');
  const box = await Outbox.open({ dir, fsync: 'always' });
  const seenAtResolve: number[] = [];
  const resolvedOrder: number[] = [];
  // The first enqueue starts a commit alone; the 49 queued behind it form the next group.
  await Promise.all(
    Array.from({ length: 50 }, (_, k) =>
      box.enqueue(msg(k + 1)).then(() => {
        resolvedOrder.push(k + 1);
        seenAtResolve.push(liveSeqs(dir).length);
      }),
    ),
  );
  t.same(
    resolvedOrder,
    Array.from({ length: 50 }, (_, k) => k + 1),
    'enqueues resolve in call order',
  );
  t.ok(seenAtResolve[0] !== undefined && seenAtResolve[0] >= 1, 'the first message is on disk when it resolves');
  t.same(seenAtResolve.slice(1), Array(49).fill(50), 'every later enqueue resolves after the whole group is on disk');
  t.equal(box.stats().depth, 50);
});

t.test('resolved enqueues survive a crash (reopen without ack) complete and in order', async (t) => {
  const dir = join(tmp(t), 'o');
  const a = await Outbox.open({ dir, fsync: 'always' });
  await Promise.all(Array.from({ length: 40 }, (_, k) => a.enqueue(msg(k + 1, 100 + k))));
  const taken = a.takeNext();
  t.equal(taken?.message.topic, 't/1', 'handed out but never acknowledged');
  const b = await Outbox.open({ dir, fsync: 'always' });
  t.equal(b.stats().depth, 40, 'nothing lost');
  for (let i = 1; i <= 40; i++) {
    const e = b.takeNext();
    t.equal(e?.message.topic, `t/${i}`);
    t.equal(e?.message.payload.byteLength, 100 + i - 1);
    t.equal(Buffer.from(e?.message.properties?.correlationData ?? []).toString(), `c${i}`);
  }
  t.equal(b.takeNext(), undefined);
  await b.enqueue(msg(41));
  t.equal(b.takeNext()?.seq, 41, 'the sequence continues after the reloaded group');
});

t.test('a group that cannot be written degrades once and still resolves every enqueue in memory', async (t) => {
  const dir = join(tmp(t), 'o');
  const lines: string[] = [];
  const log = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (event: string) => {
      lines.push(event);
    },
    child() {
      return log;
    },
  };
  const box = await Outbox.open({ dir, fsync: 'always', log, retryMs: 60_000 });
  rmSync(dir, { recursive: true, force: true });
  writeFileSync(dir, 'not a directory any more');
  await Promise.all(Array.from({ length: 20 }, (_, k) => box.enqueue(msg(k + 1))));
  t.equal(box.degraded, true);
  t.same(lines, ['outbox.degraded'], 'one loud line for the episode');
  t.equal(box.stats().depth, 20);
  for (let i = 1; i <= 20; i++) t.equal(box.takeNext()?.message.topic, `t/${i}`);
});

t.test('each answer is written to the log exactly once, with one write per group', async (t) => {
  const dir = join(tmp(t), 'o');
  const box = await Outbox.open({ dir, fsync: 'always' });
  // 64 producers, the broker acknowledging each answer once its enqueue resolved (bench section 7's loop).
  let n = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (n < 640) {
        const i = ++n;
        await box.enqueue(msg(i, 100));
        const e = box.takeNext();
        if (e !== undefined) await box.ack(e.seq);
      }
    }),
  );
  const seen = inspectOutboxDir(dir);
  t.equal(seen.puts.length, 640, 'one PUT record per answer');
  t.equal(new Set(seen.puts).size, 640, 'no answer written twice');
  t.same(seen.others, [], 'no other file (no per-message file, no temp file)');
  t.same(seen.live, [], 'all acknowledged');
});

t.test('acknowledged messages of a group stay gone after a reopen, and the segment goes with the last one', async (t) => {
  const dir = join(tmp(t), 'o');
  const a = await Outbox.open({ dir, fsync: 'always' });
  await Promise.all(Array.from({ length: 10 }, (_, k) => a.enqueue(msg(k + 1))));
  for (let i = 0; i < 5; i++) await a.ack(a.takeNext()?.seq ?? -1);
  const b = await Outbox.open({ dir, fsync: 'always' });
  t.equal(b.stats().depth, 5, 'the five acknowledged are not resurrected');
  t.equal(b.takeNext()?.message.topic, 't/6');
  b.releaseAll();
  for (let e = b.takeNext(); e !== undefined; e = b.takeNext()) await b.ack(e.seq);
  t.equal(b.stats().depth, 0);
  t.same(liveSeqs(dir), [], 'nothing live in the log');
  await b.close();
  t.same(readdirSync(dir), [], 'close deletes a log with nothing live');
  const c = await Outbox.open({ dir, fsync: 'always' });
  t.equal(c.stats().depth, 0);
});

t.test('answers left in the per-message layout before issue 12 are migrated into the log, a segment copy winning over a torn file', async (t) => {
  const dir = join(tmp(t), 'o');
  mkdirSync(dir);
  const name = (seq: number, ext: string): string => `${String(seq).padStart(16, '0')}.${ext}`;
  for (const i of [1, 2, 3]) writeFileSync(join(dir, name(i, 'msg')), serialize(msg(i)));
  // The old group segment holding seq 3's durable bytes; its .msg file torn by a power cut.
  const rec = serialize(msg(3));
  const head = Buffer.alloc(12);
  head.writeUInt32LE(rec.byteLength, 0);
  head.writeDoubleLE(3, 4);
  writeFileSync(join(dir, name(3, 'seg')), Buffer.concat([head, rec]));
  writeFileSync(join(dir, name(3, 'msg')), Buffer.alloc(0));
  writeFileSync(join(dir, name(4, 'tmp')), 'partial');
  const a = await Outbox.open({ dir, fsync: 'always' });
  t.same(inspectOutboxDir(dir).others, [], 'the old files are gone');
  const topics: string[] = [];
  for (let e = a.takeNext(); e !== undefined; e = a.takeNext()) topics.push(e.message.topic);
  t.same(topics, ['t/1', 't/2', 't/3']);
  const b = await Outbox.open({ dir, fsync: 'always' });
  t.equal(b.stats().depth, 3, 'they are in the log now');
});

t.test('a message that is never acknowledged does not pin old segments: it is re-appended and they are deleted', async (t) => {
  const dir = join(tmp(t), 'o');
  const box = await Outbox.open({ dir, fsync: 'never', segmentBytes: 2048 });
  await box.enqueue(msg(0, 100));
  const stuck = box.takeNext();
  let maxSegments = 0;
  for (let i = 1; i <= 300; i++) {
    await box.enqueue(msg(i, 100));
    await box.ack(box.takeNext()?.seq ?? -1);
    maxSegments = Math.max(maxSegments, inspectOutboxDir(dir).segments);
  }
  t.ok(maxSegments <= 6, `at most 6 segments at any time (saw ${maxSegments}), though the log wrote about ${Math.round((300 * 170) / 2048)} segments' worth`);
  t.same(liveSeqs(dir), [stuck?.seq], 'only the unacknowledged message is live');
  const again = await Outbox.open({ dir, fsync: 'never' });
  t.equal(again.takeNext()?.message.topic, 't/0', 'and it survives a reopen');
});

t.test('publish-ahead: a message can be taken before it is durable, and one acknowledged before its group is written never touches the disk', async (t) => {
  const dir = join(tmp(t), 'outbox');
  const box = await Outbox.open({ dir });
  // The first enqueue starts a group commit at once; the next two wait for the following group.
  const first = box.enqueue(msg(1));
  const second = box.enqueue(msg(2));
  const third = box.enqueue(msg(3));
  const a = box.takeNext();
  const b = box.takeNext();
  const c = box.takeNext();
  t.same([a?.message.topic, b?.message.topic, c?.message.topic], ['t/1', 't/2', 't/3'], 'listed in order before any enqueue resolved');
  await box.ack(b?.seq ?? -1);
  await Promise.all([first, second, third]);
  t.same(inspectOutboxDir(dir).puts, [1, 3], 'the message acknowledged before its group began was never written');
  t.equal(box.stats().depth, 2);
  const reopened = await Outbox.open({ dir });
  t.same([reopened.takeNext()?.message.topic, reopened.takeNext()?.message.topic, reopened.takeNext()], ['t/1', 't/3', undefined], 'the unacknowledged ones are durable');
});

t.test('publish-ahead: a message acknowledged while its group is being written is deleted once the write finished', async (t) => {
  const dir = join(tmp(t), 'outbox');
  const box = await Outbox.open({ dir });
  const done = box.enqueue(msg(1)); // its group is being written now
  const e = box.takeNext();
  t.equal(e?.message.topic, 't/1');
  const acked = box.ack(e?.seq ?? -1);
  t.equal(box.stats().depth, 1, 'still counted until its file is gone');
  await Promise.all([done, acked]);
  t.equal(box.stats().depth, 0);
  t.same(liveSeqs(dir), [], 'nothing is live in the log');
  const reopened = await Outbox.open({ dir });
  t.equal(reopened.stats().depth, 0, 'nothing comes back after a reopen');
});
