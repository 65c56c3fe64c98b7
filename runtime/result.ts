/**
 * The ONE result type of an inference, from the queue that ran it to the codec that encodes it
 * (issue 16, STYLE.md 14). Plain data, shared by scheduler/, service/ and transport/ like tensor.ts.
 *
 * Who writes what, on the same object (no copy, no re-wrap):
 * - scheduler/model-queue.ts creates it: outputs, variant (the queue belongs to one loaded
 *   variant), queueMs, inferenceMs, serviceMs, batchRows, batchRequests;
 * - service/ adds `top` (classification), or builds one for a stream/audio request (frames, events);
 * - transport/ reads it to encode the answer; the request's total time is taken there, once.
 * Before issue 16 the same answer was a QueuedResult, then an InferOutcome, then an Answer carrying
 * a fresh latency object: three shapes and two copies per request.
 *
 * Ownership: `outputs` belong to whoever holds the result; the codec only reads them.
 */
import type { ModelEvent } from './media/types.js';
import type { NamedTensors } from './tensor.js';

export interface TopClass {
  index: number;
  label: string;
  score: number;
}

export interface InferResult {
  /** Variant that produced the outputs. */
  variant: string;
  outputs: NamedTensors;
  /** Enqueue -> dispatch, ms. */
  queueMs: number;
  /** Time inside session.run for the run this request was part of, ms. */
  inferenceMs: number;
  /** Dispatch -> result back on this thread, ms (inference plus thread hops and batching copies); absent for stream requests. */
  serviceMs?: number;
  /** Rows and requests of the run this request was part of; absent for stream requests. */
  batchRows?: number;
  batchRequests?: number;
  /** Classification: the best classes (one row: its three best; several rows: the best of each). */
  top?: TopClass[];
  /** Inferences this request took (audio: one per frame; 0 when a chunk completed no frame). */
  frames?: number;
  /** Transitions this request completed (published on <prefix>/models/<model>/events). */
  events?: ModelEvent[];
}
