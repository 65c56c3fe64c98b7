/**
 * The ONE request object (issue 16, STYLE.md 14): made when the packet leaves mqtt.js, filled in
 * place by the codec (request-codec.ts `route`), read by the runtime (inputs, extras) and by the
 * answer encoders (routing), and dropped once its answers are durable and its PUBACK is written.
 *
 * Shapes a request and its answer took between socket and socket, counted along the code:
 *   before (main at 9e5ca07): 14 — the mqtt.js packet; a copy of its properties (RequestProperties);
 *     ReplyRoute; DecodedRequest ({...route}); a second DecodedRequest for extras (withExtras);
 *     DecodeResult; QueuedResult (queue); InferOutcome (runtime); a latency object; Answer;
 *     ResultBody with per-output arrays and shape copies; EncodedAnswer; OutgoingMessage (its
 *     properties spread again); the publish options with the properties copied field by field,
 *     the correlation data copied into a new Buffer and the payload re-wrapped.
 *   after: 8 — the mqtt.js packet (its properties read as they are); this InferRequest;
 *     DecodeResult (a two-field envelope); InferResult (runtime/result.ts, from the queue to the
 *     codec, `top` added in place); the JSON text written directly (no body object, no number
 *     arrays, no shape copies) in an EncodedAnswer; its properties, copied once only when the
 *     request carried correlation data; the OutgoingMessage; the publish options mqtt.js takes
 *     (properties and payload passed through, no copy).
 * Calls from the transport up into the runtime per request: before 3 (inputSpecs, preprocessor,
 * infer); after 1 (infer): the model's facts (input specs, preprocessor, labels) are fetched once
 * per model and kept until the handler reports a change (request-path.ts).
 * Latency: before timed in three places (queue, runtime.infer, transport); after, the queue times
 * its run (queueMs, serviceMs; the runtime's histograms record those) and the transport the total
 * from `receivedAtMs`, once. Stream and media requests, which take several runs, are still timed
 * by the runtime around the whole request.
 */
import type { RequestExtras } from '../media/types.js';
import type { NamedTensors } from '../tensor.js';
import type { RequestForm } from './request-codec.js';

const NO_INPUTS: NamedTensors = Object.freeze({}) as NamedTensors;

export interface InferRequest {
  /** The model the topic names; undefined when it names none (answered EDGE_ERR_UNKNOWN_MODEL). */
  readonly model: string | undefined;
  /** Monotonic ms when the packet was taken from mqtt.js: the start of the answer's `total`. */
  readonly receivedAtMs: number;
  /** Routing, filled by the codec as soon as it is read (an error answer uses what was read). */
  form: RequestForm;
  id?: string;
  replyTo?: string;
  correlationData?: Uint8Array;
  /** Filled by the codec; empty until then (and for image/audio/reset-only requests). */
  inputs: NamedTensors;
  extras?: RequestExtras;
}

/** A request taken at `receivedAtMs` on `model`'s topic, before decoding. */
export function newRequest(model: string | undefined, receivedAtMs: number): InferRequest {
  return { model, receivedAtMs, form: 'json', inputs: NO_INPUTS };
}
