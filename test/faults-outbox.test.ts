/**
 * Disk full and read-only state directory (issue 6), for real: a tiny tmpfs (`mount -t tmpfs -o
 * size=64k`) filled up, and a tmpfs remounted read-only. The outbox degrades to memory with a loud
 * EDGE_ERR_OUTBOX_DEGRADED, keeps every answer in order, and goes back to disk when it can; the
 * service keeps answering and says `outbox.degraded` in its telemetry. Needs root (CI runs as root);
 * skipped with the reason otherwise.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Outbox } from '../runtime/transport/outbox.js';
import type { Logger, LogFields } from '../runtime/log.js';
import type { OutgoingMessage } from '../runtime/transport/types.js';
import { sendRequest } from '../runtime/transport/client.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { digitsEval } from './helpers/service-harness.js';
import { startService } from './helpers/service-process.js';
import { inspectOutboxDir } from './helpers/outbox-dir.js';

function canMount(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs (CI runs as root)';
  const d = mkdtempSync(path.join(tmpdir(), 'edge-mnt-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d], { stdio: 'ignore' });
    execFileSync('umount', [d], { stdio: 'ignore' });
    return false;
  } catch {
    return 'mount -t tmpfs is not permitted here (container without CAP_SYS_ADMIN)';
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}
const SKIP = canMount();

/** Mounts a tmpfs of `size` on a new temp dir; unmounted and removed at teardown. */
function tinyTmpfs(t: { teardown(f: () => void): void }, size: string): string {
  const d = mkdtempSync(path.join(tmpdir(), 'edge-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', d]);
  t.teardown(() => {
    try {
      execFileSync('umount', ['-l', d], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
    rmSync(d, { recursive: true, force: true });
  });
  return d;
}
const remount = (d: string, mode: 'ro' | 'rw'): void => {
  execFileSync('mount', ['-o', `remount,${mode}`, d]);
};

/** Fills the filesystem holding `dir` (a file of zeros until ENOSPC). */
function fill(dir: string): void {
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${path.join(dir, 'filler')}`, 'bs=4k'], { stdio: 'ignore' });
  } catch {
    /* dd exits 1 on ENOSPC: that is the point */
  }
}

interface Line {
  level: string;
  event: string;
  fields: LogFields;
}
function recorder(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const log: Logger = {
    debug: () => undefined,
    info: (event, fields = {}) => {
      lines.push({ level: 'info', event, fields });
    },
    warn: (event, fields = {}) => {
      lines.push({ level: 'warn', event, fields });
    },
    error: (event, fields = {}) => {
      lines.push({ level: 'error', event, fields });
    },
    child: () => log,
  };
  return { log, lines };
}
const codeOf = (l: Line | undefined): string | undefined => (l?.fields['error'] as { code?: string } | undefined)?.code;
const msg = (i: number): OutgoingMessage => ({ topic: `t/${i}`, payload: Buffer.alloc(3000, i % 256) });
const liveSeqs = (d: string): number[] => inspectOutboxDir(d).live.map((m) => m.seq);

t.test('disk full mid-run: the outbox degrades to memory loudly, loses nothing, and returns to disk when space is back', { skip: SKIP }, async (t) => {
  const mnt = tinyTmpfs(t, '64k');
  const dir = path.join(mnt, 'outbox');
  let now = 0;
  const { log, lines } = recorder();
  // 12 KiB segments: acknowledged answers give their space back a segment at a time.
  const box = await Outbox.open({ dir, fsync: 'always', nowMs: () => now, retryMs: 1000, log, segmentBytes: 12 * 1024 });
  let n = 0;
  while (!box.degraded && n < 100) await box.enqueue(msg(++n));
  t.ok(box.degraded, `ENOSPC after ${n} messages of 3000 bytes on a 64 KiB tmpfs degrades the outbox`);
  const onDisk = liveSeqs(dir).length;
  t.ok(onDisk > 4, `${onDisk} answers in the log when the disk ran full`);
  t.equal(inspectOutboxDir(dir).tornBytes, 0, 'the write that hit ENOSPC was cut off: no torn tail');
  for (let k = 0; k < 5; k++) await box.enqueue(msg(++n));
  const loud = lines.filter((l) => l.event === 'outbox.degraded');
  t.equal(loud.length, 1, 'one loud line per episode');
  t.equal(loud[0]?.level, 'error');
  t.equal(codeOf(loud[0]), 'EDGE_ERR_OUTBOX_DEGRADED');
  t.equal((loud[0]?.fields['error'] as { details?: { errno?: string } }).details?.errno, 'ENOSPC', 'the cause is named');
  t.equal(box.stats().depth, n, 'every message is still queued (disk + memory)');
  t.equal(box.stats().degraded, true);

  // The broker takes the first half: their segments go, space is back; after retryMs the disk is used again.
  const half = Math.ceil(onDisk / 2) + 2;
  for (let k = 0; k < half; k++) {
    const e = box.takeNext();
    if (e !== undefined) await box.ack(e.seq);
  }
  await box.enqueue(msg(++n));
  t.equal(box.degraded, true, 'no retry before retryMs');
  now += 1001;
  await box.enqueue(msg(++n));
  t.equal(box.degraded, false, 'recovered after retryMs once space is back');
  t.ok(lines.some((l) => l.event === 'outbox.recovered'));
  t.equal(liveSeqs(dir).length, box.stats().depth, 'every waiting message is on disk again, the acknowledged ones are not');
  const order: number[] = [];
  for (let e = box.takeNext(); e !== undefined; e = box.takeNext()) order.push(Number(e.message.topic.slice(2)));
  t.same(
    order,
    Array.from({ length: n - half }, (_, i) => half + 1 + i),
    'order is kept across the episode',
  );
});

t.test('a state dir remounted read-only degrades on the next write and recovers after it is writable again', { skip: SKIP }, async (t) => {
  const mnt = tinyTmpfs(t, '1m');
  const dir = path.join(mnt, 'outbox');
  let now = 0;
  const { log, lines } = recorder();
  const box = await Outbox.open({ dir, fsync: 'always', nowMs: () => now, retryMs: 500, log });
  await box.enqueue(msg(1));
  remount(mnt, 'ro');
  await box.enqueue(msg(2));
  t.equal(box.degraded, true, 'EROFS degrades');
  t.equal((lines.find((l) => l.event === 'outbox.degraded')?.fields['error'] as { details?: { errno?: string } }).details?.errno, 'EROFS');
  const first = box.takeNext();
  await box.ack(first?.seq ?? -1);
  t.equal(box.stats().depth, 1, 'an acknowledged message is forgotten although its ACK record cannot be written yet');
  t.same(liveSeqs(dir), [1], 'on disk it is still live (a restart now would re-send it: a duplicate)');
  remount(mnt, 'rw');
  now += 501;
  await box.enqueue(msg(3));
  t.equal(box.degraded, false, 'writable again: recovered');
  await box.close();
  t.same(liveSeqs(dir), [2, 3], 'the memory-only message was written and the deferred ACK record too: the acknowledged one stays gone');
  t.equal(inspectOutboxDir(dir).tornBytes, 0, 'no torn tail');
});

t.test('the service keeps answering with a full, then read-only, state dir and says outbox.degraded in telemetry', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const mnt = tinyTmpfs(t, '256k');
  const ev = digitsEval();
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const prefix = 'edge/faults';
  const svcDir = mkdtempSync(path.join(tmpdir(), 'edge-faults-'));
  t.teardown(() => rmSync(svcDir, { recursive: true, force: true }));
  const svc = startService({ deviceId: 'faults', topicPrefix: prefix, profile: 'generic-x64', stateDir: mnt, broker: { url: broker.url, protocolVersion: 5 }, telemetry: { intervalS: 1 }, log: { level: 'info', format: 'json' } }, [], svcDir);
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('mqtt.connected');
  const watch = await Watcher.open(broker.url, [`${prefix}/telemetry`]);
  t.teardown(() => watch.close());

  const ask = async (i: number): Promise<string | undefined> => {
    const a = await sendRequest({ url: broker.url, prefix, model: 'digits', body: { id: `d${i}`, input: ev.inputs[i] }, timeoutMs: 15_000 });
    return a.kind === 'result' ? a.body.top?.[0]?.label : `error ${JSON.stringify(a)}`;
  };
  // The labels the service gives before the fault (the model's own, not the eval set's).
  const before: (string | undefined)[] = [];
  for (let i = 0; i <= 10; i++) before.push(await ask(i));
  t.ok(
    before.every((l) => l !== undefined && /^\d$/.test(l)),
    'answers before the fault',
  );
  fill(mnt);
  for (let i = 1; i <= 5; i++) t.equal(await ask(i), before[i], `answer ${i} with the disk full`);
  await svc.waitLog('EDGE_ERR_OUTBOX_DEGRADED', 10_000);
  t.pass('the service logged EDGE_ERR_OUTBOX_DEGRADED');
  const degraded = (): boolean => watch.messages.some((m) => (m.json as { outbox?: { degraded?: boolean } }).outbox?.degraded === true);
  await watch.until(degraded, 10_000, 'telemetry outbox.degraded');
  t.ok(degraded(), 'telemetry says outbox.degraded: true');
  remount(mnt, 'ro');
  for (let i = 6; i <= 10; i++) t.equal(await ask(i), before[i], `answer ${i} with the state dir read-only`);
  t.equal(svc.child.exitCode, null, 'the service is still running');
  remount(mnt, 'rw');
});
