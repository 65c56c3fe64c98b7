/** Messages between media-pool.ts and media-worker.ts. Plain, structured-clone-safe data. */
import type { ErrorCode } from '../errors.js';
import type { ImageSpec } from '../preprocess/types.js';
import type { Tensor } from '../tensor.js';
import type { ImageFormat } from './image-header.js';

export interface MediaJob {
  seq: number;
  /** The image bytes (transferred to the worker). */
  bytes: Uint8Array;
  spec: ImageSpec;
  maxPixels: number;
}

export type MediaReply = { seq: number; ok: true; tensor: Tensor; source: { width: number; height: number; format: ImageFormat } } | { seq: number; ok: false; code: ErrorCode; message: string; details?: Readonly<Record<string, unknown>> };
