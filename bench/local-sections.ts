/**
 * Sections 4 and 5 and the in-process batching figure:
 *  4. Cold start of `edge-infer run`: process spawn -> first answer received, first start (empty
 *     state dir) vs second (same state dir: optimized-model cache); the model's loadMs from the
 *     service log; plus first vs cached load of the big MLP through the engine.
 *  5. Memory: idle RSS with an empty models dir; RSS growth per loaded variant vs its file size
 *     (engine in this process, each in its own worker); peak RSS under load vs the budget.
 *  Batching in-process: ModelQueue + engine with 64 concurrent submitters, batching off vs on.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { NativeEngine } from '../runtime/backend/native-engine.js';
import { ModelQueue } from '../runtime/scheduler/model-queue.js';
import type { NamedTensors } from '../runtime/tensor.js';
import type { MqttFigures } from './mqtt-sections.js';
import { SESSION } from './overhead.js';
import { ROOT, firstAnswerAt, logEvents, procMemoryMB, startBenchService } from './service.js';
import { fmt, printTable } from './stats.js';

/** Phases from spawn, ms (log line times, 1 ms resolution): profile = imports + config + setup done; loaded = model ready. */
export interface ColdStart {
  start: 'first' | 'second';
  firstAnswerMs: number;
  readyMs: number;
  profileLogMs: number;
  loadedLogMs: number;
  connectedLogMs: number;
  loadMs: number;
  fromCache: boolean;
}
export interface VariantMemory {
  variant: string;
  fileMB: number;
  rssDeltaMB: number;
  loadMs: number;
}

export interface LocalFigures {
  cold: ColdStart[];
  /** First load vs a load from the optimized-model cache, per model (engine figures). */
  cacheLoads: CacheLoad[];
  idleNoModels: { rssMB: number | null; note: string };
  /** RSS of a fresh node process: bare, and after importing the service's module graph (no models, no broker). */
  importRss: { bareNodeMB: number; serviceImportedMB: number };
  variants: VariantMemory[];
  inProcessBatching: { offPerS: number; onPerS: number; ratio: number; meanBatchOn: number };
}

async function coldStarts(brokerUrl: string, tmp: string, digitRow: number[]): Promise<ColdStart[]> {
  const dir = join(tmp, 'svc-cold');
  mkdirSync(dir, { recursive: true });
  const stateDir = join(dir, 'state');
  const payload = Buffer.from(JSON.stringify({ id: 'cold', input: digitRow }));
  const out: ColdStart[] = [];
  for (const start of ['first', 'second'] as const) {
    let svc: ReturnType<typeof startBenchService> | undefined;
    try {
      const at = await firstAnswerAt(brokerUrl, payload, () => {
        svc = startBenchService({ brokerUrl, dir, stateDir });
      });
      const s = svc as unknown as ReturnType<typeof startBenchService>;
      const readyAt = await s.waitLog('service.ready');
      const loaded = logEvents(s.logs(), 'model.loaded').find((e) => e['model'] === 'digits') ?? {};
      const at0 = (event: string): number => Date.parse(String(logEvents(s.logs(), event)[0]?.['time'] ?? '')) - s.spawnedWallMs;
      out.push({ start, firstAnswerMs: at - s.spawnedAt, readyMs: readyAt - s.spawnedAt, profileLogMs: at0('profile'), loadedLogMs: Date.parse(String(loaded['time'] ?? '')) - s.spawnedWallMs, connectedLogMs: at0('mqtt.connected'), loadMs: Number(loaded['loadMs']), fromCache: loaded['fromCache'] === true });
    } finally {
      await svc?.stop();
    }
  }
  return out;
}

async function idleNoModels(brokerUrl: string, tmp: string): Promise<LocalFigures['idleNoModels']> {
  const dir = join(tmp, 'svc-empty');
  const modelsDir = join(dir, 'models');
  mkdirSync(modelsDir, { recursive: true });
  const svc = startBenchService({ brokerUrl, dir, modelsDir });
  try {
    await svc.waitLog('service.ready', 20_000);
    await new Promise((r) => setTimeout(r, 1500));
    return { rssMB: procMemoryMB(svc.child.pid as number).rssMB, note: 'empty models dir' };
  } catch {
    const code =
      /EDGE_ERR_[A-Z_]+/.exec(
        svc
          .logs()
          .split('\n')
          .filter((l) => l.includes('EDGE_ERR_'))
          .pop() ?? '',
      )?.[0] ?? 'no ready';
    return { rssMB: null, note: `the service refuses to start without models (${code})` };
  } finally {
    await svc.stop();
  }
}

function importRss(): LocalFigures['importRss'] {
  const rss = (code: string): number => Number(execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }).trim());
  const service = new URL('../runtime/service/service.js', import.meta.url).href;
  return { bareNodeMB: rss('console.log(process.memoryUsage().rss / 1048576)'), serviceImportedMB: rss(`await import(${JSON.stringify(service)}); console.log(process.memoryUsage().rss / 1048576)`) };
}

async function variantMemory(bigFile: string): Promise<VariantMemory[]> {
  const engine = new NativeEngine();
  await engine.load({ key: 'boot', file: join(ROOT, 'test/fixtures/models/add-one.onnx'), session: SESSION });
  const files = [
    ['digits/student-fp32', join(ROOT, 'models/digits/student-fp32.onnx')],
    ['digits/teacher-fp32', join(ROOT, 'models/digits/teacher-fp32.onnx')],
    ['fixtures/mlp-wide', join(ROOT, 'test/fixtures/models/mlp-wide.onnx')],
    ['big-mlp 1024-2048-2048-10', bigFile],
  ] as const;
  const out: VariantMemory[] = [];
  for (const [variant, file] of files) {
    const r = await engine.load({ key: variant, file, session: SESSION });
    out.push({ variant, fileMB: statSync(file).size / 1048576, rssDeltaMB: r.rssDeltaMB, loadMs: r.loadMs });
    await engine.unload(variant);
  }
  await engine.close();
  return out;
}

/** Loads `file` twice through the engine with the optimized-model cache: first (writes it) and cached. */
async function cacheLoad(tmp: string, model: string, file: string): Promise<CacheLoad> {
  const spec = { ...SESSION, optimizedModelPath: join(tmp, `${model.replace(/\W+/g, '-')}.opt.onnx`) };
  const engine = new NativeEngine();
  // As in the service: the load's worker was started ahead (prestart) and has booted, so loadMs is
  // reading + hashing + session creation, the part the cache is for.
  const booted = async (): Promise<void> => {
    engine.prestart();
    await new Promise((r) => setTimeout(r, 400));
  };
  await booted();
  const a = await engine.load({ key: 'm', file, session: spec });
  await engine.unload('m');
  await booted();
  const b = await engine.load({ key: 'm', file, session: spec });
  await engine.close();
  return { model, firstLoadMs: a.loadMs, cachedLoadMs: b.loadMs, firstSessionMs: a.sessionMs ?? NaN, cachedSessionMs: b.sessionMs ?? NaN, fromCache: b.fromCache };
}

async function inProcessBatching(variantFile: string, digitRow: number[], durationMs: number): Promise<LocalFigures['inProcessBatching']> {
  const engine = new NativeEngine();
  const perS: number[] = [];
  let meanBatchOn = NaN;
  for (const on of [false, true]) {
    const key = on ? 'on' : 'off';
    await engine.load({ key, file: variantFile, session: SESSION });
    const q = new ModelQueue({ engine, key, queueLimit: 256, batching: on ? { maxBatch: 32, maxQueueDelayMs: 1, preferredBatchSizes: [] } : null });
    const input = (): NamedTensors => ({ input: { dtype: 'float32', dims: [1, 64], data: new Float32Array(digitRow) } });
    let stop = false;
    let done = 0;
    let runs = 0;
    const loop = async (): Promise<void> => {
      while (!stop) {
        const r = await q.submit(input(), 1);
        done++;
        runs += 1 / r.batchRequests;
      }
    };
    const t0 = performance.now();
    const loops = Array.from({ length: 64 }, loop);
    await new Promise((r) => setTimeout(r, durationMs));
    stop = true;
    const n = done;
    const el = performance.now() - t0;
    await Promise.all(loops);
    perS.push(n / (el / 1000));
    if (on) meanBatchOn = done / runs;
    await engine.unload(key);
  }
  await engine.close();
  const [off, onPerS] = perS as [number, number];
  return { offPerS: off, onPerS, ratio: onPerS / off, meanBatchOn };
}

export interface CacheLoad {
  model: string;
  firstLoadMs: number;
  cachedLoadMs: number;
  firstSessionMs: number;
  cachedSessionMs: number;
  fromCache: boolean;
}

export async function runLocalSections(o: { quick: boolean; tmp: string; digitRow: number[]; bigFile: string; bigBytes: number; brokerUrl: string; memory: MqttFigures['memory']; variant: string }): Promise<LocalFigures> {
  const batching = await inProcessBatching(join(ROOT, 'models/digits', `${o.variant}.onnx`), o.digitRow, o.quick ? 2000 : 5000);
  printTable(
    `3b. Throughput in-process (ModelQueue + worker engine, 64 concurrent submitters, digits ${o.variant}), answers/s`,
    ['batching off', 'batching on (max 32, delay 1 ms)', 'ratio', 'mean batch (on)'],
    [[fmt(batching.offPerS, 0), fmt(batching.onPerS, 0), `${fmt(batching.ratio, 2)}x`, fmt(batching.meanBatchOn, 1)]],
  );
  const cold = await coldStarts(o.brokerUrl, o.tmp, o.digitRow);
  const cacheLoads = [await cacheLoad(o.tmp, 'big MLP 1024-2048-2048-10 (24 MB)', o.bigFile), await cacheLoad(o.tmp, 'spam teacher-int8 (transformer)', join(ROOT, 'models/spam/teacher-int8.onnx')), await cacheLoad(o.tmp, 'spam teacher-fp32 (transformer)', join(ROOT, 'models/spam/teacher-fp32.onnx'))];
  printTable(
    '4. Cold start of `edge-infer run` (digits; same state dir for both starts), ms from spawn',
    ['start', 'log "profile" (imports+setup)', 'log model.loaded', 'model loadMs', 'service.ready', 'mqtt.connected', 'first answer', 'fromCache'],
    cold.map((c) => [c.start, fmt(c.profileLogMs, 0), fmt(c.loadedLogMs, 0), fmt(c.loadMs, 1), fmt(c.readyMs, 0), fmt(c.connectedLogMs, 0), fmt(c.firstAnswerMs, 0), String(c.fromCache)]),
  );
  printTable(
    '4b. Engine load on a pre-started worker (read + hash + session) and its session part, first vs from the optimized-model cache, ms',
    ['model', 'first load', 'cached load', 'session first', 'session cached', 'session ratio', 'fromCache'],
    cacheLoads.map((c) => [c.model, fmt(c.firstLoadMs, 1), fmt(c.cachedLoadMs, 1), fmt(c.firstSessionMs, 1), fmt(c.cachedSessionMs, 1), `${fmt(c.cachedSessionMs / c.firstSessionMs, 2)}x`, String(c.fromCache)]),
  );
  const idle = await idleNoModels(o.brokerUrl, o.tmp);
  const variants = await variantMemory(o.bigFile);
  const imported = importRss();
  printTable(
    '5. Memory (MB)',
    ['what', 'value'],
    [
      ['idle RSS, no models (edge-infer run)', idle.rssMB === null ? `n/a (${idle.note.slice(0, 120)})` : fmt(idle.rssMB, 1)],
      ['RSS of bare node (node -e)', fmt(imported.bareNodeMB, 1)],
      ['RSS after importing runtime/service/service.js (no models, no broker)', fmt(imported.serviceImportedMB, 1)],
      ['idle RSS, the default models/ loaded (edge-infer run: the whole zoo, 5 models)', fmt(o.memory.idleWithDigitsRssMB, 1)],
      ['digits rssDeltaMB in the service status', fmt(o.memory.statusRssDeltaMB, 1)],
      ['peak RSS (VmHWM) after 200 req/s + saturation', fmt(o.memory.peakRssMB, 1)],
      ['budget (status.budget.budgetMB)', fmt(o.memory.budgetMB, 0)],
    ],
  );
  printTable(
    '5b. RSS growth per loaded variant (own worker thread each, incl. ~10 MB worker isolate) vs file size',
    ['variant', 'file MB', 'RSS delta MB', 'load ms'],
    variants.map((v) => [v.variant, fmt(v.fileMB, 2), fmt(v.rssDeltaMB, 1), fmt(v.loadMs, 1)]),
  );
  return { cold, cacheLoads, idleNoModels: idle, importRss: imported, variants, inProcessBatching: batching };
}
