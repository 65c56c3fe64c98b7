/**
 * `npm run bench [-- --quick] [-- --json <file>] [-- --only 1]`: edge-infer's performance figures, every ratio
 * measured side by side in this run (issue 5). Sections:
 *   1 overhead vs raw onnxruntime (in-process; 1b the hop floor, 1c ring vs postMessage by payload
 *   size; `--only 1` stops after these, ~1 minute), 2 MQTT round trip vs the broker floor (real
 *   mosquitto, nodelay and default), 3 throughput at saturation (batching off/on, JSON/binary),
 *   4 cold start (first vs cached), 5 memory, 6 event-loop delay at saturation; then the targets.
 * Needs /usr/sbin/mosquitto. Writes a ~25 MB model into a temp dir (removed at the end).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBigMlp } from './big-model.js';
import { SESSION, measureOverhead, type OverheadRow } from './overhead.js';
import { runMqttSections, type MqttFigures } from './mqtt-sections.js';
import { runLocalSections, type LocalFigures } from './local-sections.js';
import { hopFloors } from './hop-floor.js';
import { hopSizes } from './hop-sizes.js';
import { measureOutbox } from './outbox-cost.js';
import { fmt, printTable, verdict } from './stats.js';
import { ROOT } from './service.js';
import { NativeEngine } from '../runtime/backend/native-engine.js';
import type { Tensor } from '../runtime/tensor.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
/** `--only 1`: sections 1 and 1b (in-process overhead, hop floor) and their target, nothing else. */
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const t0 = Date.now();
const tmp = mkdtempSync(join(tmpdir(), 'edge-bench-'));
const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', loadAvgAtStart: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version, date: new Date().toISOString(), quick };
console.log(`edge-infer bench ${quick ? '(quick) ' : ''}- ${machine.date} - ${machine.cpus} x ${machine.cpuModel} - load average ${machine.loadAvgAtStart.join(' ')} - node ${machine.node}`);

const digitRow = (JSON.parse(readFileSync(join(ROOT, 'models/digits/eval/eval.json'), 'utf8')) as { inputs: number[][] }).inputs[0] ?? [];
const filled = (n: number): Float32Array => {
  const a = new Float32Array(n);
  let s = 7;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    a[i] = s / 2147483648 - 0.5;
  }
  return a;
};

try {
  // 1. Overhead
  const big = writeBigMlp(tmp);
  const engine = new NativeEngine();
  const postedEngine = new NativeEngine({ ringSlotBytes: 0 });
  await engine.load({ key: 'boot', file: join(ROOT, 'test/fixtures/models/add-one.onnx'), session: SESSION });
  await engine.unload('boot');
  const pathMs = quick ? 600 : 2500;
  const cases = [
    { name: 'digits teacher b1', file: join(ROOT, 'models/digits/teacher-fp32.onnx'), input: () => ({ input: { dtype: 'float32', dims: [1, 64], data: new Float32Array(digitRow) } as Tensor }) },
    { name: 'mlp-wide b1', file: join(ROOT, 'test/fixtures/models/mlp-wide.onnx'), input: () => ({ input: { dtype: 'float32', dims: [1, 256], data: filled(256) } as Tensor }) },
    { name: 'big-mlp 1024-2048-2048-10 b1', file: big.file, input: () => ({ x: { dtype: 'float32', dims: [1, 1024], data: filled(1024) } as Tensor }) },
  ];
  const overhead: OverheadRow[] = [];
  for (const c of cases) overhead.push(await measureOverhead(c, engine, pathMs, postedEngine));
  await Promise.all([engine.close(), postedEngine.close()]);
  printTable(
    '1. In-process overhead: ModelQueue + worker engine vs raw InferenceSession.run (and vs a bare worker holding a raw session: the floor of any worker design; and vs the engine with the shared-memory ring off), batch 1, 1 intra-op thread',
    ['model', 'raw p50 ms', 'bare worker p50', 'edge p50 ms', 'ring off p50', 'added p50 ms', 'edge/raw', 'bare/raw', 'edge/bare', 'edge/ring off', 'raw p10', 'edge p10', 'edge/raw p10', 'samples'],
    overhead.map((r) => [
      r.model,
      fmt(r.rawP50Ms),
      fmt(r.bareWorkerP50Ms),
      fmt(r.edgeP50Ms),
      fmt(r.postedP50Ms),
      fmt(r.addedMs),
      `${fmt(r.ratio, 3)}x`,
      `${fmt(r.bareRatio, 3)}x`,
      `${fmt(r.edgeOverBare, 3)}x`,
      `${fmt(r.edgeOverPosted, 3)}x`,
      fmt(r.rawP10Ms),
      fmt(r.edgeP10Ms),
      `${fmt(r.ratioP10, 3)}x`,
      String(r.samples),
    ]),
  );

  const hop = await hopFloors(quick ? 1000 : 3000);
  printTable('1b. Floor of the worker hop (wake-ups only), median ms', ['postMessage echo (today)', 'SharedArrayBuffer + Atomics (proposed)'], [[fmt(hop.postMessageMs, 4), fmt(hop.atomicsMs, 4)]]);
  const sizes = await hopSizes(quick ? 300 : 1000);
  printTable(
    '1c. Engine round trip by payload size (add-one.onnx, input = output bytes), shared-memory ring vs postMessage with transfer, median ms (picks the ring slot size, DEFAULT_RING_SLOT_BYTES)',
    ['bytes', 'ring', 'postMessage', 'ring/postMessage', 'samples'],
    sizes.map((r) => [String(r.bytes), fmt(r.ringP50Ms, 4), fmt(r.postP50Ms, 4), `${fmt(r.ratio, 3)}x`, String(r.samples)]),
  );
  if (only === '1') {
    const b = overhead[overhead.length - 1] as OverheadRow;
    printTable(
      'Target (issue 16, section 1 only)',
      ['target', 'measured', 'verdict'],
      [['in-process overhead <= 1.05x raw ORT at batch 1 (>= 1 ms model)', `${fmt(b.ratio, 3)}x (raw ${fmt(b.rawP50Ms)} ms; a bare worker ${fmt(b.bareRatio, 3)}x; edge over bare ${fmt(b.edgeOverBare, 3)}x; ring off ${fmt(b.postedP50Ms / b.rawP50Ms, 3)}x)`, verdict(b.ratio <= 1.05)]],
    );
    if (jsonFile !== undefined) writeFileSync(jsonFile, JSON.stringify({ machine, overhead, hop, sizes }, null, 2) + '\n');
    rmSync(tmp, { recursive: true, force: true });
    process.exit(0);
  }

  // 2-6. The service over MQTT, cold start, memory, event loop.
  const mqtt: MqttFigures = await runMqttSections({ quick, tmp, digitRow });
  const local: LocalFigures = await runLocalSections({ quick, tmp, digitRow, bigFile: big.file, bigBytes: big.bytes, brokerUrl: mqtt.brokerUrl, memory: mqtt.memory, variant: mqtt.latency[0]?.variant ?? 'student-fp32' });
  await mqtt.closeBroker();
  const outbox = await measureOutbox(quick);

  // Targets.
  const bigRow = overhead[overhead.length - 1] as OverheadRow;
  const seq = mqtt.latency.find((l) => l.nodelay)?.sequential;
  const sat = mqtt.saturation;
  const off = sat.find((s) => s.batching === 'off' && s.form === 'json' && s.window === 64);
  const on = sat.find((s) => s.batching === 'on' && s.form === 'json' && s.window === 64);
  const maxEld = Math.max(...sat.map((s) => s.eventLoopMaxMs));
  const targets = [
    {
      target: 'in-process overhead <= 1.05x raw ORT at batch 1 (>= 1 ms model)',
      measured: `${fmt(bigRow.ratio, 3)}x (raw ${fmt(bigRow.rawP50Ms)} ms; a bare worker ${fmt(bigRow.bareRatio, 3)}x; edge over bare ${fmt(bigRow.edgeOverBare, 3)}x; shared-memory ring off ${fmt(bigRow.postedP50Ms / bigRow.rawP50Ms, 3)}x)`,
      ok: bigRow.ratio <= 1.05,
    },
    // Issue 16's MQTT targets, measured as the issue did: sequential requests (section 2b), nodelay broker, QoS 1 both ways.
    {
      target: 'MQTT sequential: service p50 <= floor p50 + raw inference (spaced like the requests) + 0.3 ms',
      measured: seq === undefined ? 'not measured' : `${fmt(seq.serviceP50Ms)} ms vs ${fmt(seq.floorP50Ms)} + ${fmt(seq.rawSpacedP50Ms)} + 0.3 = ${fmt(seq.floorP50Ms + seq.rawSpacedP50Ms + 0.3)} ms (added ${fmt(seq.serviceP50Ms - seq.floorP50Ms - seq.rawSpacedP50Ms)} ms)`,
      ok: seq !== undefined && seq.serviceP50Ms <= seq.floorP50Ms + seq.rawSpacedP50Ms + 0.3,
    },
    { target: 'MQTT sequential: service p99 <= floor p99 + 2 ms', measured: seq === undefined ? 'not measured' : `${fmt(seq.serviceP99Ms)} ms vs ${fmt(seq.floorP99Ms)} + 2 = ${fmt(seq.floorP99Ms + 2)} ms`, ok: seq !== undefined && seq.serviceP99Ms <= seq.floorP99Ms + 2 },
    { target: `MQTT burst (${mqtt.burst.window} in flight) answers/s >= 0.5x a bare responder's on the same broker`, measured: `${fmt(mqtt.burst.ratio, 2)}x (${fmt(mqtt.burst.serviceAnswersPerS, 0)} vs bare ${fmt(mqtt.burst.bareAnswersPerS, 0)} /s)`, ok: mqtt.burst.ratio >= 0.5 },
    { target: 'batching over MQTT >= 3x unbatched throughput at saturation (64 in flight, JSON)', measured: `${fmt((on?.answersPerS ?? NaN) / (off?.answersPerS ?? NaN), 2)}x (${fmt(off?.answersPerS, 0)} -> ${fmt(on?.answersPerS, 0)} /s)`, ok: (on?.answersPerS ?? 0) >= 3 * (off?.answersPerS ?? Infinity) },
    { target: 'batching >= 3x in-process (ModelQueue + engine only)', measured: `${fmt(local.inProcessBatching.ratio, 2)}x (${fmt(local.inProcessBatching.offPerS, 0)} -> ${fmt(local.inProcessBatching.onPerS, 0)} /s)`, ok: local.inProcessBatching.ratio >= 3 },
    { target: 'idle RSS <= 60 MB (no models)', measured: local.idleNoModels.rssMB === null ? `service: ${local.idleNoModels.note}; its imports alone: ${fmt(local.importRss.serviceImportedMB, 1)} MB` : `${fmt(local.idleNoModels.rssMB, 1)} MB`, ok: (local.idleNoModels.rssMB ?? local.importRss.serviceImportedMB) <= 60 },
    { target: 'second start load <= half the first (digits, service log loadMs)', measured: `${fmt(local.cold[1]?.loadMs, 1)} vs ${fmt(local.cold[0]?.loadMs, 1)} ms`, ok: (local.cold[1]?.loadMs ?? Infinity) <= (local.cold[0]?.loadMs ?? 0) / 2 },
    ...local.cacheLoads.map((c) => ({ target: `second load <= half the first: ${c.model}, engine load (session part)`, measured: `${fmt(c.cachedLoadMs, 1)} vs ${fmt(c.firstLoadMs, 1)} ms (${fmt(c.cachedSessionMs, 1)} vs ${fmt(c.firstSessionMs, 1)})`, ok: c.cachedLoadMs <= c.firstLoadMs / 2 })),
    { target: 'first answer within 1 s of process start (digits)', measured: local.cold.map((c) => `${c.start}: ${fmt(c.firstAnswerMs, 0)} ms`).join(', '), ok: local.cold.every((c) => c.firstAnswerMs <= 1000) },
    { target: 'event-loop delay <= 20 ms at saturation (every section-3 row)', measured: `max ${fmt(maxEld, 1)} ms (GC max ${fmt(Math.max(...sat.map((s) => s.gcMaxMs)), 1)} ms)`, ok: maxEld <= 20 },
  ];
  printTable(
    'Targets (issues 5 and 16)',
    ['target', 'measured', 'verdict'],
    targets.map((t) => [t.target, t.measured, verdict(t.ok)]),
  );
  const elapsedS = (Date.now() - t0) / 1000;
  const figures = { machine: { ...machine, loadAvgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100) }, elapsedS, bigModel: { bytes: big.bytes }, overhead, hop, sizes, mqtt: { latency: mqtt.latency, saturation: mqtt.saturation, burst: mqtt.burst, memory: mqtt.memory }, local: { ...local }, outbox, targets };
  console.log(
    `\nfinished in ${fmt(elapsedS, 1)} s; load average now ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  if (jsonFile !== undefined) {
    writeFileSync(jsonFile, JSON.stringify(figures, null, 2) + '\n');
    console.log(`figures written to ${jsonFile}`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
