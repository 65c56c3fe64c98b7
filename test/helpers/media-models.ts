/**
 * Synthetic models, images and audio for the issue-11 tests, built with the project's ONNX writer
 * and the same decoders' encoders (jpeg-js, pngjs):
 * - `halves`: grey [1,1,28,28] in 0..1 -> logits [1,3] = (left mean - right mean, right - left, 0) * 10:
 *   labels left / right / even. A photo bright on its left half is "left".
 * - `counter`: audio model, x [1,160] at 16 kHz (10 ms frames), state h [1,1] -> p [1,1] = mean |x|
 *   and hn [1,1] = h + 1 (frames seen by the stream), shown as `count` (state outputs are not
 *   part of answers). Declares streams (state h <- hn) and a
 *   threshold event (on 0.1, off 0.05, 3 frames on, 10 frames off).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { writeOnnx } from '../../runtime/optimize/onnx-io.js';
import type { OnnxModel } from '../../runtime/optimize/onnx-types.js';
import { intAttr, intsAttr, makeNode, floatValueInfo } from '../../runtime/optimize/graph-util.js';
import { makeFloatTensor } from '../../runtime/optimize/tensor-util.js';

function model(name: string, nodes: OnnxModel['graph']['node'], inits: OnnxModel['graph']['initializer'], inputs: [string, (number | string)[]][], outputs: [string, (number | string)[]][]): Uint8Array {
  return writeOnnx({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'edge-infer-test',
    metadataProps: [],
    trainingInfo: [],
    functions: [],
    configuration: [],
    graph: { name, node: nodes, initializer: inits, sparseInitializer: [], input: inputs.map(([n, d]) => floatValueInfo(n, d)), output: outputs.map(([n, d]) => floatValueInfo(n, d)), valueInfo: [], quantizationAnnotation: [], metadataProps: [] },
  });
}

export function halvesOnnx(): Uint8Array {
  const W = new Float32Array(784 * 3);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const left = x < 14 ? 1 : -1;
      W[(y * 28 + x) * 3] = (left * 10) / 392;
      W[(y * 28 + x) * 3 + 1] = (-left * 10) / 392;
    }
  }
  return model('halves', [makeNode('Flatten', ['x'], ['flat'], 'flatten', [intAttr('axis', 1)]), makeNode('MatMul', ['flat', 'W'], ['logits'], 'matmul')], [makeFloatTensor('W', [784, 3], W)], [['x', ['batch', 1, 28, 28]]], [['logits', ['batch', 3]]]);
}

export function counterOnnx(): Uint8Array {
  return model(
    'counter',
    [makeNode('Abs', ['x'], ['ax'], 'abs'), makeNode('ReduceMean', ['ax'], ['p'], 'mean', [intsAttr('axes', [1]), intAttr('keepdims', 1)]), makeNode('Add', ['h', 'one'], ['hn'], 'count'), makeNode('Identity', ['hn'], ['count'], 'show')],
    [makeFloatTensor('one', [1, 1], Float32Array.of(1))],
    [
      ['x', [1, 160]],
      ['h', [1, 1]],
    ],
    [
      ['p', [1, 1]],
      ['hn', [1, 1]],
      ['count', [1, 1]],
    ],
  );
}

function variant(bytes: Uint8Array, ops: string[]): Record<string, unknown> {
  return { id: 'fp32', file: 'fp32.onnx', sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.byteLength, precision: 'fp32', params: 0, macs: 0, ops, quality: { accuracy: 1, agreement: 1, evalCount: 1 } };
}

export const HALVES_PREPROCESS = { kind: 'image', input: 'x', width: 28, height: 28, resize: 'stretch', colour: 'grey', layout: 'NCHW', dtype: 'float32', scale: 1 / 255 };

/** Writes models/halves and models/counter under `dir`; returns the models folder. */
export function writeMediaModels(dir: string, counterStreams: Record<string, unknown> = {}): string {
  const models = path.join(dir, 'models');
  const halves = halvesOnnx();
  mkdirSync(path.join(models, 'halves'), { recursive: true });
  writeFileSync(path.join(models, 'halves', 'fp32.onnx'), halves);
  writeFileSync(
    path.join(models, 'halves', 'model.json'),
    JSON.stringify(
      {
        id: 'halves',
        task: 'classification',
        labels: ['left', 'right', 'even'],
        inputs: [{ name: 'x', shape: ['batch', 1, 28, 28] }],
        outputs: [{ name: 'logits', shape: ['batch', 3] }],
        reference: 'fp32',
        preprocess: HALVES_PREPROCESS,
        events: [{ kind: 'top1-change', output: 'logits', holdFrames: 2 }],
        variants: [variant(halves, ['Flatten', 'MatMul'])],
      },
      null,
      2,
    ),
  );
  const counter = counterOnnx();
  mkdirSync(path.join(models, 'counter'), { recursive: true });
  writeFileSync(path.join(models, 'counter', 'fp32.onnx'), counter);
  writeFileSync(
    path.join(models, 'counter', 'model.json'),
    JSON.stringify(
      {
        id: 'counter',
        task: 'other',
        inputs: [
          { name: 'x', shape: [1, 160] },
          { name: 'h', shape: [1, 1] },
        ],
        outputs: [
          { name: 'p', shape: [1, 1] },
          { name: 'hn', shape: [1, 1] },
          { name: 'count', shape: [1, 1] },
        ],
        reference: 'fp32',
        preprocess: { kind: 'audio', input: 'x', rate: 16000, frameSamples: 160 },
        streams: { maxStreams: 3, idleS: 60, state: [{ input: 'h', output: 'hn', init: 0 }], ...counterStreams },
        events: [{ kind: 'threshold', output: 'p', on: 0.1, off: 0.05, minOnFrames: 3, minOffFrames: 10 }],
        variants: [variant(counter, ['Abs', 'ReduceMean', 'Add', 'Identity'])],
      },
      null,
      2,
    ),
  );
  return models;
}

/** RGBA pixels of a w x h picture whose left (or right) half is a light colour on a dark one. */
export function halfPicture(w: number, h: number, bright: 'left' | 'right', colour: [number, number, number] = [230, 200, 120]): Uint8Array {
  const d = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const on = x < w / 2 === (bright === 'left');
      const o = (y * w + x) * 4;
      const noise = ((x * 31 + y * 17) % 23) - 11;
      d[o] = on ? colour[0] : 20 + noise;
      d[o + 1] = on ? colour[1] : 25 + noise;
      d[o + 2] = on ? colour[2] : 30 + noise;
      d[o + 3] = 255;
    }
  }
  return d;
}

export function encodeJpeg(rgba: Uint8Array, w: number, h: number, quality = 85): Buffer {
  return jpeg.encode({ data: rgba, width: w, height: h }, quality).data;
}

export function encodePng(rgba: Uint8Array, w: number, h: number, colorType: 0 | 2 | 6 = 6): Buffer {
  const png = new PNG({ width: w, height: h, colorType, inputColorType: 6 });
  png.data = Buffer.from(rgba);
  return PNG.sync.write(png, { colorType, inputColorType: 6 });
}

/**
 * A canonical 44-byte WAV header: `format` 1 (PCM integer) or 3 (IEEE float), `bits` per sample.
 * `dataSizeField` defaults to `dataBytes` (0xffffffff is what a streaming writer puts there).
 */
export function wavHeader(o: { format: 1 | 3; channels: number; rate: number; bits: number; dataBytes: number; dataSizeField?: number }): Buffer {
  const block = o.channels * (o.bits / 8);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + o.dataBytes, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(o.format, 20);
  h.writeUInt16LE(o.channels, 22);
  h.writeUInt32LE(o.rate, 24);
  h.writeUInt32LE(o.rate * block, 28);
  h.writeUInt16LE(block, 32);
  h.writeUInt16LE(o.bits, 34);
  h.write('data', 36);
  h.writeUInt32LE(o.dataSizeField ?? o.dataBytes, 40);
  return h;
}

/** 16-bit mono PCM WAV of `samples` (-1..1) at `rate`. */
export function wav16(samples: Float32Array, rate: number): Buffer {
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((v, i) => data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32767))), i * 2));
  return Buffer.concat([wavHeader({ format: 1, channels: 1, rate, bits: 16, dataBytes: data.length }), data]);
}

/** Silence and tone segments, ms each, at `rate`: [silence, tone, silence, tone, ...]. A 440 Hz tone of amplitude 0.5. */
export function utterances(rate: number, segmentsMs: readonly number[]): Float32Array {
  const total = segmentsMs.reduce((a, b) => a + b, 0);
  const out = new Float32Array(Math.round((total * rate) / 1000));
  let at = 0;
  segmentsMs.forEach((ms, i) => {
    const n = Math.round((ms * rate) / 1000);
    if (i % 2 === 1) for (let k = 0; k < n && at + k < out.length; k++) out[at + k] = 0.5 * Math.sin((2 * Math.PI * 440 * (at + k)) / rate);
    at += n;
  });
  return out;
}

/** The same samples as little-endian s16 bytes (raw PCM). */
export function pcm16(samples: Float32Array): Buffer {
  const b = Buffer.alloc(samples.length * 2);
  samples.forEach((v, i) => b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32767))), i * 2));
  return b;
}
