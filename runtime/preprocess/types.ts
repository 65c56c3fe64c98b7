/**
 * Preprocessing declared in a model manifest (`"preprocess"` in model.json): what the runtime does to
 * a raw request (text) before inference, so clients need not know the model's tokenizer.
 */
import type { NamedTensors } from '../tensor.js';

/**
 * Word tokenizer (models/spam): optional ASCII lowercasing (A-Z -> a-z, nothing else), then tokens are
 * maximal runs of ASCII letters and digits, plus every character listed in `punctuation` as a token of
 * its own; everything else separates tokens. Tokens map to their index in `vocab` (a text file, one
 * token per line, LF), unknown ones to `unkId`; the first `maxLength` tokens are kept and the rest of the row is
 * `padId`. The result feeds model input `input` as [batch, maxLength] (int64 or int32 per the manifest).
 */
export interface TextTokensSpec {
  kind: 'text-tokens';
  /** Text file with one token per line (LF), line index (from 0) = id; path relative to the model folder. */
  vocab: string;
  lowercase: 'ascii' | 'none';
  /** Characters that are single-character tokens (e.g. "!$%"). */
  punctuation: string;
  maxLength: number;
  /** Model input the ids feed. */
  input: string;
  padId: number;
  unkId: number;
}

/**
 * Image preprocessing (issue 11): JPEG / PNG requests are decoded off the main thread
 * (runtime/media/) and turned into the tensor of input `input`. See runtime/media/image-preprocess.ts
 * for the exact steps.
 */
export interface ImageSpec {
  kind: 'image';
  /** Model input the tensor feeds: [1, C, height, width] (NCHW) or [1, height, width, C] (NHWC). */
  input: string;
  width: number;
  height: number;
  /** stretch: ignore the aspect ratio; letterbox: fit inside and pad; centre-crop: cover and crop. */
  resize: 'stretch' | 'letterbox' | 'centre-crop';
  /** grey gives one channel (luma), rgb / bgr three. */
  colour: 'rgb' | 'bgr' | 'grey';
  layout: 'NCHW' | 'NHWC';
  /** float32: (v * scale - mean) / std per channel; uint8: the 0..255 values. */
  dtype: 'float32' | 'uint8';
  /** Multiplies the 0..255 pixel value. Default 1/255. */
  scale?: number;
  /** Per channel (one value = every channel). Default [0]. */
  mean?: number[];
  /** Per channel (one value = every channel). Default [1]. */
  std?: number[];
  /** v -> 255 - v before scaling (a model trained on light-on-dark). Default false. */
  invert?: boolean;
  /** Letterbox padding, 0..255 before invert/scale. Default 0. */
  pad?: number;
  /** Largest accepted image, width * height, checked from the header before decoding. Default 16000000. */
  maxPixels?: number;
}

/**
 * Audio preprocessing (issue 11): WAV files and raw PCM chunks are resampled to `rate`, cut into
 * frames of `frameSamples` (the remainder waits in the stream for the next chunk), and each frame is
 * one inference on input `input` as float32 [1, contextSamples + frameSamples].
 */
export interface AudioSpec {
  kind: 'audio';
  input: string;
  /** The model's sample rate, Hz. */
  rate: number;
  frameSamples: number;
  /** Samples of the previous frame prepended to each frame (silero VAD v5: 64 at 16 kHz). Default 0. */
  contextSamples?: number;
  /** An int64 input that receives `rate` (silero's "sr"), if the model has one. */
  rateInput?: string;
}

export type PreprocessSpec = TextTokensSpec | ImageSpec | AudioSpec;

/** Default pixel limit for image requests (16 MP: 64 MB of RGBA). */
export const DEFAULT_MAX_PIXELS = 16_000_000;

/**
 * Texts -> the model's input tensors (one row per text). Pure and synchronous; throws nothing for any
 * string (empty text gives a row of padId).
 */
export type Preprocessor = (texts: readonly string[]) => NamedTensors;

/** One recurrent state carried per stream: the output `output` of a run feeds input `input` of the next. */
export interface StatePair {
  input: string;
  output: string;
  /** Every element of the initial state (shape and dtype from the manifest's input). Default 0. */
  init?: number;
}

/**
 * Streams (issue 11): requests naming a stream run in order, and carry the model's recurrent state,
 * the audio remainder and the event detectors' state from one request to the next.
 */
export interface StreamsSpec {
  /** Most streams alive at once; a new stream beyond it is refused (EDGE_ERR_STREAM_LIMIT). Default 16. */
  maxStreams?: number;
  /** A stream unused this long is forgotten (state, remainder, events). Default 300. */
  idleS?: number;
  state?: StatePair[];
}

/**
 * Score threshold with hysteresis: `start` when the score has been >= `on` for `minOnFrames`
 * frames in a row while inactive; `end` when it has been < `off` for `minOffFrames` frames while
 * active. The score is element `index` of output `output` (last frame row).
 */
export interface ThresholdEventSpec {
  kind: 'threshold';
  output: string;
  /** Default 0. */
  index?: number;
  on: number;
  off: number;
  /** Default 1. */
  minOnFrames?: number;
  /** Default 1. */
  minOffFrames?: number;
  /** Event names. Default "start" / "end". */
  start?: string;
  end?: string;
}

/** `change` when the top-1 class of output `output` differs from the last reported one and has held for `holdFrames` frames. */
export interface TopChangeEventSpec {
  kind: 'top1-change';
  output: string;
  /** Default 1. */
  holdFrames?: number;
  /** Event name. Default "change". */
  event?: string;
}

export type EventSpec = ThresholdEventSpec | TopChangeEventSpec;
