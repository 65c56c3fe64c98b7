/**
 * Issue 11 with the zoo's `fashion` CNN, whose manifest declares image preprocessing (grey,
 * letterbox to 28x28, pixel / 255): photo-sized JPEG and PNG files of garments made here (Fashion-
 * MNIST eval images enlarged onto a 640x480 dark canvas, tinted in colour, or kept grey) are sent
 * through a real mosquitto and answered with the class the model gives the original 28x28 image.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import t from 'tap';
import { startMosquitto } from './helpers/mosquitto.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { ROOT, startService } from './helpers/service-process.js';
import { encodeJpeg, encodePng } from './helpers/media-models.js';
import { evaluateAccuracy } from '../runtime/backend/run-once.js';
import { modelFigures } from '../runtime/optimize/evaluate.js';
import { readEvalSet } from '../runtime/optimize/eval-set.js';
import { readOnnx } from '../runtime/optimize/onnx-io.js';

/**
 * A copy of models/fashion whose variants all carry their measured facts. While the zoo's manifest
 * still lacks them (sha256, bytes, params, MACs, ops, quality: written by `eval --update-manifest`),
 * they are measured here the same way (inspect + accuracy / agreement on the eval set).
 */
async function fashionModels(dir: string): Promise<string> {
  const to = path.join(dir, 'models', 'fashion');
  cpSync(path.join(ROOT, 'models', 'fashion'), to, { recursive: true });
  const file = path.join(to, 'model.json');
  const m = JSON.parse(readFileSync(file, 'utf8')) as { reference: string; eval: { file: string }; variants: Record<string, unknown>[] };
  if (m.variants.every((v) => v['sha256'] !== undefined)) return path.dirname(to);
  const set = await readEvalSet(path.join(to, m.eval.file));
  let ref: number[] | undefined;
  const order = [...m.variants].sort((a) => (a['id'] === m.reference ? -1 : 1));
  for (const v of order) {
    const bytes = new Uint8Array(readFileSync(path.join(to, String(v['file']))));
    const fig = modelFigures(bytes, readOnnx(bytes));
    const { accuracy, predictions } = await evaluateAccuracy(bytes, set);
    ref ??= predictions;
    const agreement = predictions.filter((p, i) => p === ref?.[i]).length / predictions.length;
    Object.assign(v, { sha256: fig.sha256, bytes: fig.bytes, params: fig.params, macs: fig.macs, ops: fig.ops, quality: { accuracy, agreement, evalCount: predictions.length } });
  }
  writeFileSync(file, JSON.stringify(m, null, 2));
  return path.dirname(to);
}

interface EvalSet {
  inputs: number[][];
  labels: number[];
}
interface Body {
  id?: string;
  top?: { label: string; index: number }[];
  variant?: string;
  error?: { code: string };
}
const evalSet = JSON.parse(readFileSync(path.join(ROOT, 'models', 'fashion', 'eval', 'eval.json'), 'utf8')) as EvalSet;
const labels = (JSON.parse(readFileSync(path.join(ROOT, 'models', 'fashion', 'model.json'), 'utf8')) as { labels: string[] }).labels;
const prefix = 'edge/fashion-img';

/** The 28x28 image (0..1) drawn 480x480 (nearest) in the middle of a 640x480 dark RGBA canvas, tinted: a framed photo. */
function photo(pixels: readonly number[], tint: [number, number, number]): Uint8Array {
  const W = 640,
    H = 480,
    S = 480 / 28,
    ox = (W - 480) / 2,
    oy = 0;
  const d = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const gx = Math.floor((x - ox) / S),
        gy = Math.floor((y - oy) / S);
      const v = gx >= 0 && gx < 28 && gy >= 0 && gy < 28 ? (pixels[gy * 28 + gx] ?? 0) : 0;
      const o = (y * W + x) * 4;
      d[o] = Math.round(v * tint[0]);
      d[o + 1] = Math.round(v * tint[1]);
      d[o + 2] = Math.round(v * tint[2]);
      d[o + 3] = 255;
    }
  }
  return d;
}

t.test('fashion: photo-sized JPEG / PNG garments get the class of their 28x28 original', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-fashion-img-'));
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const svc = startService({ deviceId: 'fashion-img', broker: { url: broker.url }, modelsDir: await fashionModels(dir), drainTimeoutMs: 2000 }, [], dir);
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('service.ready', 60_000);
  const watch = await Watcher.open(broker.url, [`${prefix}/models/fashion/result`]);
  t.teardown(() => watch.client.end(true));
  const pub: MqttClient = connect(broker.url, { protocolVersion: 5 });
  await new Promise<void>((resolve) => pub.once('connect', () => resolve()));
  t.teardown(() => pub.end(true));
  const send = (id: string, payload: Buffer | string, contentType?: string): void => {
    pub.publish(`${prefix}/models/fashion/infer`, payload, { qos: 1, ...(contentType ? { properties: { contentType, userProperties: { id } } } : {}) });
  };
  const answer = async (id: string): Promise<Body> => {
    await watch.until(() => watch.messages.some((m) => (m.json as Body).id === id), 20_000, id);
    return watch.messages.find((m) => (m.json as Body).id === id)?.json as Body;
  };

  // The tensor form of each eval image gives the reference class (what the served variant says).
  const n = 20;
  for (let i = 0; i < n; i++) send(`tensor-${i}`, JSON.stringify({ id: `tensor-${i}`, input: evalSet.inputs[i] }));
  const ref: string[] = [];
  for (let i = 0; i < n; i++) ref.push((await answer(`tensor-${i}`)).top?.[0]?.label ?? '?');
  const correct = ref.filter((l, i) => l === labels[evalSet.labels[i] ?? -1]).length;
  t.ok(correct >= 16, `the served variant gets ${correct}/${n} eval images right as tensors`);

  const tints: [number, number, number][] = [
    [255, 255, 255],
    [255, 180, 90],
    [120, 200, 255],
    [230, 230, 160],
  ];
  let same = 0,
    total = 0;
  const misses: string[] = [];
  // Four images in flight at a time (the media pool refuses more than 16 waiting: EDGE_ERR_OVERLOADED).
  for (let i = 0; i < n; i++) {
    const rgba = photo(evalSet.inputs[i] ?? [], tints[i % tints.length] as [number, number, number]);
    send(`jpg-${i}`, encodeJpeg(rgba, 640, 480, 90), 'image/jpeg');
    send(`png-${i}`, encodePng(rgba, 640, 480, i % 2 === 0 ? 2 : 0), 'image/png');
    if (i % 2 === 0) continue;
    for (const [k, kind] of [
      [i - 1, 'jpg'],
      [i - 1, 'png'],
      [i, 'jpg'],
      [i, 'png'],
    ] as const) {
      const b = await answer(`${kind}-${k}`);
      total++;
      if (b.top?.[0]?.label === ref[k]) same++;
      else misses.push(`${kind}-${k}: ${b.top?.[0]?.label ?? b.error?.code} vs ${ref[k]}`);
    }
  }
  t.ok(same >= total - 2, `photos answered like their originals: ${same}/${total} (${misses.join('; ') || 'all'})`);
});
