/**
 * `node dist/bench/media.js [--quick]` (issue 11): figures
 * for images and audio, measured here, not asserted in tests.
 *   1 decode + preprocess of a 640x480 JPEG (and PNG) to a model input, p50 per library, each
 *     decoder in its own child process (peak RSS comparable): sharp (libvips, concurrency 1) and the
 *     jpeg-js + pngjs fallback, both followed by the manifest's preprocessing
 *     (runtime/media/image-preprocess.ts); and, for reference, libvips doing the resize itself. The
 *     outputs of both decoders are compared (mean absolute difference of the 28x28 grey tensor).
 *   2 main-thread time per image request: the request codec plus the hand-off to the media pool
 *     and back, as event-loop active time (performance.eventLoopUtilization) per request, with the
 *     decode in the pool's worker thread.
 *   3 audio: CPU time (all threads of this process: user + system) per second of 16 kHz audio for
 *     the zoo's `vad` (Silero v4) streamed as 100 ms PCM chunks through ModelRuntime, native and WASM.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../runtime/backend/select-engine.js';
import { silentLogger } from '../runtime/log.js';
import { decodeImage, imageDecoder } from '../runtime/media/image-decode.js';
import { preprocessImage } from '../runtime/media/image-preprocess.js';
import { MediaPool } from '../runtime/media/media-pool.js';
import type { ImageSpec } from '../runtime/preprocess/types.js';
import { ModelRuntime } from '../runtime/service/model-runtime.js';
import { resolveSetup } from '../runtime/service/setup.js';
import { decodeRequest } from '../runtime/transport/request-codec.js';
import { DEFAULT_LIMITS } from '../runtime/transport/types.js';
import { encodeJpeg, encodePng, halfPicture, pcm16, utterances } from '../test/helpers/media-models.js';
import { fmt, median, printTable, quantile } from './stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const GREY28: ImageSpec = { kind: 'image', input: 'x', width: 28, height: 28, resize: 'stretch', colour: 'grey', layout: 'NCHW', dtype: 'float32', scale: 1 / 255 };
const RGB224: ImageSpec = { kind: 'image', input: 'x', width: 224, height: 224, resize: 'centre-crop', colour: 'rgb', layout: 'NCHW', dtype: 'float32', scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const photo = halfPicture(640, 480, 'left');
const JPG = encodeJpeg(photo, 640, 480, 85);
const PNGB = encodePng(photo, 640, 480, 2);

async function time(n: number, f: () => Promise<unknown> | unknown): Promise<number[]> {
  for (let i = 0; i < 3; i++) await f();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    out.push(performance.now() - t0);
  }
  return out;
}

/** Child: one decoder's figures as JSON on stdout (EDGE_INFER_IMAGE_DECODER set by the parent). */
async function child(lib: string): Promise<void> {
  const n = quick ? 15 : 60;
  const rows: Record<string, number> = {};
  const decoder = await imageDecoder();
  if (decoder !== (lib === 'sharp' ? 'sharp' : 'js')) throw new Error(`asked for ${lib}, got ${decoder}`);
  const run = async (b: Buffer, spec: ImageSpec): Promise<Float32Array> => preprocessImage(await decodeImage(b, 16e6), spec).data as Float32Array;
  rows['jpeg-grey28'] = median(await time(n, () => run(JPG, GREY28)));
  rows['jpeg-rgb224'] = median(await time(n, () => run(JPG, RGB224)));
  rows['png-grey28'] = median(await time(n, () => run(PNGB, GREY28)));
  rows['decode-only-jpeg'] = median(await time(n, () => decodeImage(JPG, 16e6)));
  if (lib === 'sharp') {
    // For reference: libvips resizing itself (JPEG shrink-on-load), not the manifest's area averaging.
    const sharp = (await import('sharp')).default;
    rows['libvips-resize-grey28'] = median(await time(n, () => sharp(JPG).resize(28, 28, { fit: 'fill' }).greyscale().raw().toBuffer()));
  }
  const grey = await run(JPG, GREY28);
  process.stdout.write(JSON.stringify({ lib, rows, grey: Array.from(grey), maxRssMB: process.resourceUsage().maxRSS / 1024 }));
}

interface ChildOut {
  lib: string;
  rows: Record<string, number>;
  grey: number[];
  maxRssMB: number;
}

function runChild(lib: string): ChildOut {
  const env = { ...process.env, EDGE_INFER_IMAGE_DECODER: lib === 'sharp' ? 'sharp' : 'js' };
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', lib, ...args], { encoding: 'utf8', env });
  return JSON.parse(out) as ChildOut;
}

async function mainThread(): Promise<void> {
  const pool = new MediaPool({ threads: 1 });
  const specs = [{ name: 'x', dtype: 'float32' as const, shape: ['batch', 1, 28, 28] }];
  const one = async (i: number): Promise<void> => {
    const d = decodeRequest({ model: 'm', payload: JPG, properties: { contentType: 'image/jpeg', userProperties: { id: `r${i}` } }, specs, limits: DEFAULT_LIMITS });
    if (!d.ok || d.request.extras?.media?.kind !== 'image') throw new Error('decode failed');
    await pool.image(d.request.extras.media.bytes, GREY28, 16e6);
  };
  for (let i = 0; i < 5; i++) await one(i);
  const n = quick ? 50 : 200;
  const sync: number[] = [];
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    const p = one(i);
    sync.push(performance.now() - s);
    await p;
  }
  const wall = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  await pool.close();
  printTable(
    '2 main-thread time per image request (640x480 JPEG -> grey 28x28; decode in the pool)',
    ['measure', 'ms per request'],
    [
      ['event-loop active time (codec + hand-off + result), mean', fmt(elu.active / n)],
      ['synchronous part of the request (codec + copy + postMessage), p50', fmt(median(sync))],
      ['synchronous part, p95', fmt(quantile(sync, 0.95))],
      ['wall time per request (decode in the worker), mean', fmt(wall / n)],
    ],
  );
}

async function audio(): Promise<void> {
  const tmp = mkdtempSync(path.join(tmpdir(), 'edge-bench-media-'));
  try {
    cpSync(path.join(ROOT, 'models', 'vad'), path.join(tmp, 'vad'), { recursive: true });
    const seconds = quick ? 5 : 20;
    const samples = utterances(
      16000,
      Array.from({ length: seconds * 2 }, () => 500),
    );
    const rows: string[][] = [];
    for (const backend of ['native', 'wasm'] as const) {
      const setup = await resolveSetup({ packageRoot: ROOT, modelsDir: tmp, backend });
      const engine = createEngine(setup.backend);
      const rt = new ModelRuntime({ profile: { ...setup.profile, inference: { ...setup.profile.inference, threads: 1 } }, manifests: setup.manifests, engine, caps: setup.caps, budgetMB: setup.budget.budgetMB, log: silentLogger });
      await rt.start();
      const chunk = (i: number): Buffer => pcm16(samples.subarray(i * 1600, (i + 1) * 1600));
      for (let i = 0; i < 10; i++) await rt.infer('vad', 'w', {}, { stream: 'warm', media: { kind: 'pcm', bytes: chunk(i), rate: 16000, format: 's16le' } });
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const chunks = seconds * 10;
      for (let i = 0; i < chunks; i++) await rt.infer('vad', `c${i}`, {}, { stream: 'bench', media: { kind: 'pcm', bytes: chunk(i), rate: 16000, format: 's16le' } });
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      rows.push([setup.backend, String(seconds), fmt(cpuMs / seconds, 1), fmt(cpuMs / seconds / 10, 2), fmt(wall / seconds, 1)]);
      await rt.close(1000);
      await engine.close();
    }
    printTable('3 vad: CPU per second of 16 kHz audio (100 ms PCM chunks, one stream, 1 intra-op thread)', ['backend', 'audio s', 'CPU ms per audio s', '% of one core', 'wall ms per audio s'], rows);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (args[0] === '--child') {
  await child(args[1] ?? 'jpeg-js');
} else {
  console.log(`edge-infer media bench ${quick ? '(quick) ' : ''}- ${new Date().toISOString()} - node ${process.version} ${process.arch}`);
  const outs = ['jpeg-js', 'sharp'].map(runChild);
  const keys = ['jpeg-grey28', 'jpeg-rgb224', 'png-grey28', 'decode-only-jpeg', 'libvips-resize-grey28'];
  printTable(
    '1 decode + preprocess of a 640x480 photo, p50 ms (one child process per library)',
    ['library', ...keys, 'peak RSS MB'],
    outs.map((o) => [o.lib, ...keys.map((k) => fmt(o.rows[k])), fmt(o.maxRssMB, 1)]),
  );
  if (outs.length === 2) {
    const [a, b] = outs as [ChildOut, ChildOut];
    const mad = a.grey.reduce((s, v, i) => s + Math.abs(v - (b.grey[i] ?? 0)), 0) / a.grey.length;
    console.log(`grey 28x28 tensors of the two decoders (same preprocessing): mean absolute difference ${fmt(mad, 4)} (0..1 scale)`);
  }
  await mainThread();
  await audio();
}
