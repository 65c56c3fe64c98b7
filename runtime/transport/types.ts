/**
 * Contracts between the MQTT transport and the rest of edge-infer. Only runtime/transport/ imports
 * mqtt/aedes; everything here is plain data.
 */
import type { ErrorCode } from '../errors.js';
import { DEFAULT_MAX_BATCH, DEFAULT_MAX_PAYLOAD_BYTES } from '../config/limits.js';
import type { NamedTensors } from '../tensor.js';
import type { TensorSpec } from '../repository/types.js';
import type { Preprocessor } from '../preprocess/types.js';
import type { ModelEvent, RequestExtras } from '../media/types.js';

export interface InferOutcome {
  variant: string;
  outputs: NamedTensors;
  top?: { index: number; label: string; score: number }[];
  queueMs: number;
  inferenceMs: number;
  /** Inferences this request took (audio: one per frame; 0 when a chunk completed no frame). */
  frames?: number;
  /** Transitions this request completed (published on <prefix>/models/<model>/events). */
  events?: ModelEvent[];
}

export interface InferenceHandler {
  /** Input specs of a model this service serves, or undefined when unknown (-> EDGE_ERR_UNKNOWN_MODEL). */
  inputSpecs(model: string): readonly TensorSpec[] | undefined;
  /** Resolves with the outcome or rejects with an EdgeError (EDGE_ERR_OVERLOADED, ...). Never throws synchronously. */
  infer(model: string, requestId: string, inputs: NamedTensors, extras?: RequestExtras): Promise<InferOutcome>;
  /** The model's text preprocessor ("text" / "texts" requests); undefined when it declares none. Optional. */
  preprocessor?(model: string): Preprocessor | undefined;
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
