/**
 * Contracts between the MQTT transport and the rest of edge-infer. Only runtime/transport/ imports
 * mqtt/aedes; everything here is plain data.
 */
import type { ErrorCode } from '../errors.js';
import { DEFAULT_MAX_BATCH, DEFAULT_MAX_PAYLOAD_BYTES } from '../config/limits.js';
import type { NamedTensors } from '../tensor.js';
import type { TensorSpec } from '../repository/types.js';
import type { Preprocessor } from '../preprocess/types.js';
import type { RequestExtras } from '../media/types.js';
import type { InferResult } from '../result.js';

/** The one result type (runtime/result.ts); the old name stays for the callers that use it. */
export type InferOutcome = InferResult;

/**
 * What the transport needs from a model to decode its requests, fetched once per model (issue 16)
 * and kept until the handler says it changed (`watchFacts`: a variant change, a reload).
 */
export interface ModelFacts {
  /** The inputs a request carries (the manifest's, less those the runtime feeds). */
  readonly specs: readonly TensorSpec[];
  /** The text preprocessor ("text" / "texts" requests); undefined when the manifest declares none. */
  readonly preprocess: Preprocessor | undefined;
  /** Class labels (classification), or undefined. */
  readonly labels: readonly string[] | undefined;
}

export interface InferenceHandler {
  /** Facts of a model this service serves, or undefined when unknown (-> EDGE_ERR_UNKNOWN_MODEL). May throw (-> an error answer). */
  modelFacts(model: string): ModelFacts | undefined;
  /** Calls `onChange` whenever facts given out before may be stale; returns the unsubscribe. */
  watchFacts(onChange: () => void): () => void;
  /** Resolves with the result or rejects with an EdgeError (EDGE_ERR_OVERLOADED, ...). Never throws synchronously. */
  infer(model: string, requestId: string, inputs: NamedTensors, extras?: RequestExtras): Promise<InferResult>;
  /** A request on `model` was answered with an error before reaching infer() (bad JSON, bad tensor, refused reply topic...): count it. Optional. */
  noteRefused?(model: string, code: ErrorCode): void;
  /**
   * Most requests of `model` the transport may have open at once (issue 12 item 15: its queue's
   * capacity, so a broker backlog waits at the broker instead of overflowing the queue). Optional;
   * default DEFAULT_INBOUND_LIMIT.
   */
  queueLimit?(model: string): number;
}

/** Open requests per model when the handler names no queue limit (the default model queueLimit). */
export const DEFAULT_INBOUND_LIMIT = 64;

/** Request limits, checked before any inference work. */
export interface RequestLimits {
  /** Largest accepted request payload, bytes; checked before parsing. */
  maxPayloadBytes: number;
  /** Largest accepted batch (first dim of every input). */
  maxBatch: number;
}

/** The service config's defaults (config/limits.ts: one limit for the service and `edge-infer infer`). */
export const DEFAULT_LIMITS: RequestLimits = { maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES, maxBatch: DEFAULT_MAX_BATCH };

/** The MQTT 5 properties of a request the codec looks at (all absent over MQTT 3.1.1). */
export interface RequestProperties {
  contentType?: string | undefined;
  /** mqtt.js gives string | string[] per key; the first value wins. */
  userProperties?: Readonly<Record<string, string | string[]>> | undefined;
  responseTopic?: string | undefined;
  correlationData?: Uint8Array | undefined;
}

/** Properties of an outgoing message (MQTT 5 only; dropped on 3.1.1 connections). */
export interface PublishProperties {
  contentType?: string;
  correlationData?: Uint8Array;
  userProperties?: Record<string, string>;
}

/** One message to publish at QoS 1. */
export interface OutgoingMessage {
  topic: string;
  payload: Uint8Array;
  properties?: PublishProperties;
}
