import t from 'tap';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../../../runtime/transport/outbox.js';
import type { OutgoingMessage } from '../../../runtime/transport/types.js';

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
  t.equal(readdirSync(dir).filter((n) => n.endsWith('.msg')).length, 3, 'dropped files are deleted');
  const bytes = await Outbox.open({ dir: join(dir, 'b'), maxBytes: 500, fsync: 'never' });
  for (let i = 1; i <= 5; i++) await bytes.enqueue(msg(i, 200));
  t.ok(bytes.stats().bytes <= 500, 'the byte bound holds');
  t.ok(bytes.stats().dropped >= 3);
});

t.test('a corrupt or half-written file is discarded at open', async (t) => {
  const dir = tmp(t);
  mkdirSync(join(dir, 'o'));
  writeFileSync(join(dir, 'o', '0000000000000001.msg'), Buffer.from([255, 255, 0, 0, 1]));
  writeFileSync(join(dir, 'o', '0000000000000002.tmp'), 'partial');
  const box = await Outbox.open({ dir: join(dir, 'o') });
  t.equal(box.stats().depth, 0);
  t.same(readdirSync(join(dir, 'o')), []);
  await box.enqueue(msg(1));
  t.equal(box.takeNext()?.seq, 2, 'sequence numbers are not reused');
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
