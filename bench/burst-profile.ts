/**
 * Where the service's time and garbage go under the MQTT burst (issue 16): runs the digits service
 * (bench/service-child.js) behind a real mosquitto with `--cpu-prof` or `--heap-prof`, keeps 256
 * JSON requests in flight (QoS 1 both ways) for a few seconds, stops it, and prints the top
 * functions of the profile: self time (cpu) or sampled allocation (heap: every allocation, the
 * collected ones included, through service-child.ts's EDGE_BENCH_HEAP_SAMPLE), with their script.
 *
 *   nice -n 10 node dist/bench/burst-profile.js cpu|heap [seconds=5] [window=256]
 *
 * Figures from a profiled process are slower than unprofiled ones: use the shares, not the rates.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { jsonMaker } from './mqtt-sections.js';
import { LoadClient } from './mqtt-load.js';
import { PREFIX, ROOT, startBenchService } from './service.js';
import { fmt, printTable } from './stats.js';

interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: CpuNode[];
  samples: number[];
  timeDeltas: number[];
}
interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

const kind = process.argv[2] === 'heap' ? 'heap' : 'cpu';
const seconds = Number(process.argv[3] ?? 5);
const window = Number(process.argv[4] ?? 256);
const tmp = mkdtempSync(join(tmpdir(), 'edge-burst-prof-'));
const profDir = join(tmp, 'prof');
mkdirSync(profDir);
const where = (f: { functionName: string; url: string; lineNumber: number }): string => {
  const url = f.url.replace(/^file:\/\//, '').replace(ROOT, '');
  return `${f.functionName || '(anonymous)'} ${url === '' ? '' : `${url.split('/').slice(-3).join('/')}:${f.lineNumber + 1}`}`;
};

const broker = await startMosquitto({ tcpNoDelay: true });
const digitRow = (JSON.parse(readFileSync(join(ROOT, 'models/digits/eval/eval.json'), 'utf8')) as { inputs: number[][] }).inputs[0] ?? [];
// Heap: service-child.ts samples every allocation (collected ones too) from start to SIGTERM.
if (kind === 'heap') process.env['EDGE_BENCH_HEAP_SAMPLE'] = join(profDir, 'service.heapprofile');
const svc = startBenchService({ brokerUrl: broker.url, dir: tmp, wrapper: true, models: { digits: { maxBatch: 1, maxQueueDelayMs: 0, queueLimit: 256 } }, ...(kind === 'cpu' ? { execArgv: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] } : {}) });
try {
  await svc.waitLog('service.ready');
  const client = await LoadClient.open(broker.url, `${PREFIX}/models/digits/infer`, PREFIX);
  const r = await client.saturate({ window, durationMs: seconds * 1000, make: jsonMaker(digitRow) });
  await client.close();
  console.log(`burst: ${window} in flight for ${seconds} s under --${kind}-prof: ${fmt(r.answersPerS, 0)} answers/s, ${r.errors} errors`);
} finally {
  await svc.stop();
  await broker.stop();
}
const file = readdirSync(profDir)[0];
if (file === undefined) throw new Error('no profile written');
const self = new Map<string, number>();
let total = 0;
if (kind === 'cpu') {
  const p = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  p.samples.forEach((id, i) => {
    const n = byId.get(id);
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    if (n === undefined) return;
    const k = where(n.callFrame);
    self.set(k, (self.get(k) ?? 0) + dt);
    total += dt;
  });
} else {
  const p = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as { head: HeapNode };
  const walk = (n: HeapNode): void => {
    const k = where(n.callFrame);
    self.set(k, (self.get(k) ?? 0) + n.selfSize);
    total += n.selfSize;
    for (const c of n.children) walk(c);
  };
  walk(p.head);
}
const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30);
printTable(
  kind === 'cpu' ? 'Self time by function (whole run, ms)' : 'Sampled allocation by function, collected objects included (whole run, bytes)',
  ['function', kind === 'cpu' ? 'ms' : 'bytes', 'share'],
  top.map(([k, v]) => [k.slice(0, 110), fmt(v, kind === 'cpu' ? 1 : 0), `${fmt((100 * v) / total, 1)}%`]),
);
rmSync(tmp, { recursive: true, force: true });
