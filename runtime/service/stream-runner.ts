/**
 * Runs the requests of one model that need more than "tensor in, tensor out" (issue 11): image and
 * audio payloads, streams with recurrent state, and events.
 *
 * Contract:
 * - Requests naming a stream run strictly in arrival order (one promise chain per stream); a
 *   failed request does not stop the chain. Streams are bounded (`maxStreams`: a new stream beyond
 *   it is refused with EDGE_ERR_STREAM_LIMIT; nothing else is evicted), forgotten after `idleS`
 *   without requests (checked whenever a request arrives), and `reset` starts one afresh.
 * - Each stream owns its state tensors, audio resampler/framer remainder and event detector; nothing
 *   is shared between streams. Requests without a stream start from the initial state and keep no
 *   remainder; their events go through one detector per model (the "null" stream).
 * - Images are decoded and preprocessed in the media pool (off the main thread); the decode starts
 *   when the request arrives, only the inference waits for the stream's turn.
 * - Audio frames are one inference each, in order; the answer carries every frame's outputs
 *   stacked along dim 0 (state outputs left out), `frames`, and the events the frames completed.
 * - Errors: EDGE_ERR_BAD_IMAGE, EDGE_ERR_TOO_LARGE, EDGE_ERR_BAD_AUDIO, EDGE_ERR_BAD_REQUEST (media
 *   the model does not declare), EDGE_ERR_STREAM_LIMIT, and whatever `run` rejects with.
 */
import { EdgeError } from '../errors.js';
import { EventDetector, type FrameOutputs } from '../events/detector.js';
import { decodePcm, decodeWav, Framer, Resampler } from '../media/audio.js';
import type { MediaPool } from '../media/media-pool.js';
import type { ModelEvent, RequestExtras } from '../media/types.js';
import { DEFAULT_MAX_PIXELS, type AudioSpec } from '../preprocess/types.js';
import type { ModelManifest } from '../repository/types.js';
import { concatRows } from '../scheduler/batch-tensors.js';
import { allocate, elementCount, type NamedTensors, type Tensor } from '../tensor.js';
import type { InferOutcome } from '../transport/types.js';

export const DEFAULT_MAX_STREAMS = 16;
export const DEFAULT_STREAM_IDLE_S = 300;

export interface StreamRunnerOptions {
  manifest: ModelManifest;
  pool: () => MediaPool;
  /** One inference through the model's queue. */
  run: (inputs: NamedTensors) => Promise<InferOutcome>;
  /** Monotonic ms (idle expiry). */
  now: () => number;
  /** Wall clock ms (event times). */
  wallNow: () => number;
}

interface StreamCtx {
  state: NamedTensors;
  resampler: Resampler | null;
  framer: Framer | null;
  detector: EventDetector;
  /** Samples at the model's rate consumed since the stream (re)started. */
  samples: number;
  lastUsedMs: number;
  busy: number;
  tail: Promise<unknown>;
}

/** The manifest's inputs a client sends (state inputs and the audio rate input are fed by the runtime). */
export function requestInputs(m: ModelManifest): ModelManifest['inputs'] {
  const fed = new Set((m.streams?.state ?? []).map((p) => p.input));
  if (m.preprocess?.kind === 'audio' && m.preprocess.rateInput !== undefined) fed.add(m.preprocess.rateInput);
  return m.inputs.filter((i) => !fed.has(i.name));
}

/** True when the model needs a StreamRunner (media preprocessing, state or events). */
export function needsStreamRunner(m: ModelManifest): boolean {
  const kind = m.preprocess?.kind;
  return kind === 'image' || kind === 'audio' || m.streams !== undefined || (m.events?.length ?? 0) > 0;
}

export class StreamRunner {
  readonly #o: StreamRunnerOptions;
  readonly #m: ModelManifest;
  readonly #streams = new Map<string, StreamCtx>();
  readonly #anonymous: EventDetector;

  constructor(o: StreamRunnerOptions) {
    this.#o = o;
    this.#m = o.manifest;
    this.#anonymous = this.#detector();
  }

  /** Live streams (for tests and telemetry). */
  get streams(): number {
    return this.#streams.size;
  }

  handle(extras: RequestExtras, inputs: NamedTensors): Promise<InferOutcome> {
    const media = extras.media;
    const pre = this.#m.preprocess;
    if (media !== undefined) {
      const want = media.kind === 'image' ? 'image' : 'audio';
      if (pre?.kind !== want) {
        return Promise.reject(new EdgeError('EDGE_ERR_BAD_REQUEST', `model "${this.#m.id}" declares no ${want} preprocessing: send tensors`, { details: { model: this.#m.id, media: media.kind } }));
      }
    }
    // The image decode starts now, in parallel with whatever the stream is still running.
    let image: Promise<Tensor> | null = null;
    if (media?.kind === 'image' && pre?.kind === 'image') {
      image = this.#o.pool().image(media.bytes, pre, pre.maxPixels ?? DEFAULT_MAX_PIXELS);
      image.catch(() => undefined);
    }
    if (extras.stream === undefined) {
      const ctx = this.#newCtx(this.#anonymous);
      return this.#process(ctx, null, inputs, extras, image);
    }
    let ctx: StreamCtx;
    try {
      ctx = this.#stream(extras.stream);
    } catch (e) {
      return Promise.reject(e);
    }
    ctx.busy++;
    const stream = extras.stream;
    const job = ctx.tail
      .then(() => {
        if (extras.reset === true) Object.assign(ctx, this.#newCtx(this.#detector()), { tail: ctx.tail, busy: ctx.busy });
        return this.#process(ctx, stream, inputs, extras, image);
      })
      .finally(() => {
        ctx.busy--;
        ctx.lastUsedMs = this.#o.now();
      });
    ctx.tail = job.catch(() => undefined);
    return job;
  }

  #detector(): EventDetector {
    return new EventDetector(this.#m.events ?? [], this.#m.labels);
  }

  #newCtx(detector: EventDetector): StreamCtx {
    return { state: this.#initialState(), resampler: null, framer: null, detector, samples: 0, lastUsedMs: this.#o.now(), busy: 0, tail: Promise.resolve() };
  }

  #initialState(): NamedTensors {
    const out: NamedTensors = {};
    for (const pair of this.#m.streams?.state ?? []) {
      const spec = this.#m.inputs.find((i) => i.name === pair.input);
      if (spec === undefined) continue;
      const dims = spec.shape.map((d) => (typeof d === 'number' ? d : 1));
      const data = allocate(spec.dtype, elementCount(dims));
      const init = pair.init ?? 0;
      if (data instanceof BigInt64Array) data.fill(BigInt(Math.trunc(init)));
      else data.fill(init);
      out[pair.input] = { dtype: spec.dtype, dims, data };
    }
    return out;
  }

  #stream(id: string): StreamCtx {
    const now = this.#o.now();
    const idleMs = (this.#m.streams?.idleS ?? DEFAULT_STREAM_IDLE_S) * 1000;
    for (const [k, c] of this.#streams) if (c.busy === 0 && now - c.lastUsedMs > idleMs) this.#streams.delete(k);
    let ctx = this.#streams.get(id);
    if (ctx !== undefined) return ctx;
    const max = this.#m.streams?.maxStreams ?? DEFAULT_MAX_STREAMS;
    if (this.#streams.size >= max) {
      throw new EdgeError('EDGE_ERR_STREAM_LIMIT', `model "${this.#m.id}" already has ${this.#streams.size} live streams (maximum ${max})`, { details: { model: this.#m.id, maxStreams: max } });
    }
    ctx = this.#newCtx(this.#detector());
    this.#streams.set(id, ctx);
    return ctx;
  }

  async #process(ctx: StreamCtx, stream: string | null, inputs: NamedTensors, extras: RequestExtras, image: Promise<Tensor> | null): Promise<InferOutcome> {
    const pre = this.#m.preprocess;
    const media = extras.media;
    let frames: NamedTensors[];
    if (image !== null && pre?.kind === 'image') {
      frames = [{ ...inputs, [pre.input]: await image }];
    } else if (media !== undefined && media.kind !== 'image' && pre?.kind === 'audio') {
      frames = this.#audioFrames(ctx, stream !== null, media.kind === 'wav' ? decodeWav(media.bytes) : decodePcm(media.bytes, media.rate, media.format), pre, inputs);
    } else if (Object.keys(inputs).length === 0) {
      frames = []; // a reset-only request
    } else {
      frames = [inputs];
    }
    return this.#runFrames(ctx, stream, frames, pre?.kind === 'audio' ? pre : null);
  }

  #audioFrames(ctx: StreamCtx, keep: boolean, pcm: { rate: number; samples: Float32Array }, spec: AudioSpec, extra: NamedTensors): NamedTensors[] {
    if (ctx.resampler === null || ctx.resampler.from !== pcm.rate) ctx.resampler = new Resampler(pcm.rate, spec.rate);
    ctx.framer ??= new Framer(spec.frameSamples, spec.contextSamples ?? 0);
    const bodies = ctx.framer.push(ctx.resampler.push(pcm.samples));
    if (!keep) {
      ctx.framer = null;
      ctx.resampler = null;
    }
    return bodies.map((b) => {
      const f: NamedTensors = { ...extra, [spec.input]: { dtype: 'float32', dims: [1, b.length], data: b } };
      if (spec.rateInput !== undefined) {
        const rs = this.#m.inputs.find((i) => i.name === spec.rateInput);
        const dims = (rs?.shape ?? [1]).map((d) => (typeof d === 'number' ? d : 1));
        f[spec.rateInput] = { dtype: 'int64', dims, data: new BigInt64Array(elementCount(dims)).fill(BigInt(spec.rate)) };
      }
      return f;
    });
  }

  async #runFrames(ctx: StreamCtx, stream: string | null, frames: NamedTensors[], audio: AudioSpec | null): Promise<InferOutcome> {
    const pairs = this.#m.streams?.state ?? [];
    const stateOut = new Set(pairs.map((p) => p.output));
    const results: NamedTensors[] = [];
    const rows: FrameOutputs[] = [];
    let last: InferOutcome | null = null;
    let queueMs = 0,
      inferenceMs = 0;
    for (const frame of frames) {
      const r = await this.#o.run({ ...frame, ...ctx.state });
      last = r;
      queueMs += r.queueMs;
      inferenceMs += r.inferenceMs;
      for (const p of pairs) {
        const t = r.outputs[p.output];
        if (t !== undefined) ctx.state[p.input] = { dtype: t.dtype, dims: [...t.dims], data: t.data.slice() as Tensor['data'] };
      }
      const shown: NamedTensors = {};
      const row: Record<string, ArrayLike<number>> = {};
      for (const [name, t] of Object.entries(r.outputs)) {
        if (stateOut.has(name)) continue;
        shown[name] = t;
        row[name] = lastRow(t);
      }
      results.push(shown);
      rows.push(row);
    }
    const startSamples = ctx.samples;
    if (audio !== null) ctx.samples += frames.length * audio.frameSamples;
    const variant = last?.variant ?? '';
    const time = new Date(this.#o.wallNow()).toISOString();
    const events: ModelEvent[] = ctx.detector.push(rows).map((d) => {
      const ev: ModelEvent = { event: d.event, model: this.#m.id, variant, stream, time, score: d.score };
      if (d.index !== undefined) ev.index = d.index;
      if (d.label !== undefined) ev.label = d.label;
      if (audio !== null) ev.streamS = Math.round(((startSamples + (d.frame + 1) * audio.frameSamples) / audio.rate) * 1000) / 1000;
      return ev;
    });
    const outcome: InferOutcome = { variant, outputs: results.length === 1 ? (results[0] as NamedTensors) : results.length === 0 ? {} : concatRows(results), queueMs, inferenceMs, frames: frames.length, events };
    if (frames.length === 1 && last?.top !== undefined) outcome.top = last.top;
    return outcome;
  }
}

/** The last row of an output (batch 1 in practice): what events look at. */
function lastRow(t: Tensor): ArrayLike<number> {
  const per = t.dims.length === 0 ? 1 : elementCount(t.dims.slice(1));
  const d = t.data;
  const from = Math.max(0, d.length - per);
  if (d instanceof BigInt64Array) return Array.from(d.subarray(from), Number);
  return d.subarray(from);
}
