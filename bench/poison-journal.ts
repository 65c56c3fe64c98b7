/**
 * `node dist/bench/poison-journal.js [--n 20000]`: what the poison-request journal
 * (runtime/service/poison-journal.ts, issue 12) adds to each request, on the state dir's file
 * system (a temp dir here): the input's key (sha1 over the tensors), and the two journal lines
 * (write(2) without fsync) around the run, for a digits-sized input (64 floats) and an image-sized
 * one (3 x 224 x 224 floats); one request at a time (the journal file is opened and closed around
 * each) and with others in flight (it stays open). Medians and p99 of n requests, and bytes
 * handed to write() per request.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../runtime/log.js';
import { PoisonJournal } from '../runtime/service/poison-journal.js';
import type { NamedTensors } from '../runtime/tensor.js';
import { fmt, median, printTable, quantile } from './stats.js';

const args = process.argv.slice(2);
const nAt = args.indexOf('--n');
const n = nAt >= 0 ? Number(args[nAt + 1]) : 20_000;

function wchar(): number {
  return Number(/^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);
}

const digits: NamedTensors = { input: { dtype: 'float32', dims: [1, 64], data: new Float32Array(64).map((_, i) => i % 17) } };
// `busy`: another request stays journaled meanwhile, so the file stays open (a loaded service);
// otherwise each request opens and closes it (one request at a time).
const cases: { name: string; inputs: NamedTensors; busy: boolean }[] = [
  { name: 'digits [1,64] f32 (256 B), one at a time', inputs: digits, busy: false },
  { name: 'digits [1,64] f32 (256 B), others in flight', inputs: digits, busy: true },
  { name: 'image [1,3,224,224] f32 (602 KB), one at a time', inputs: { input: { dtype: 'float32', dims: [1, 3, 224, 224], data: new Float32Array(3 * 224 * 224).map((_, i) => (i % 255) / 255) } }, busy: false },
];

const dir = mkdtempSync(join(tmpdir(), 'edge-bench-poison-'));
try {
  const rows: string[][] = [];
  for (const c of cases) {
    const j = PoisonJournal.open({ stateDir: dir, log: silentLogger });
    const held = c.busy ? j.start('other', 'held', 1) : null;
    const runs = c.inputs['input']!.data.length > 1000 ? Math.max(200, Math.floor(n / 50)) : n;
    const keyMs: number[] = [];
    const journalMs: number[] = [];
    const w0 = wchar();
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const key = PoisonJournal.key('m', c.inputs);
      const t1 = performance.now();
      j.poison('m', key);
      j.start('m', key, 1).settled();
      journalMs.push(performance.now() - t1);
      keyMs.push(t1 - t0);
    }
    const bytes = (wchar() - w0) / runs;
    held?.settled();
    j.close();
    rows.push([c.name, String(runs), fmt(median(keyMs), 4), fmt(quantile(keyMs, 0.99), 4), fmt(median(journalMs), 4), fmt(quantile(journalMs, 0.99), 4), fmt(bytes, 1)]);
  }
  printTable(`Poison journal cost per request (key + check + S/E lines, write(2) without fsync), ${new Date().toISOString()}`, ['input', 'requests', 'key p50 ms', 'key p99 ms', 'journal p50 ms', 'journal p99 ms', 'bytes written/request'], rows);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
