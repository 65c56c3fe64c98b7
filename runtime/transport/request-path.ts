/**
 * One request from the packet to its durable answer (split out of mqtt-service.ts, issue 16):
 * decode into the one InferRequest (request.ts), check the reply topic, infer, encode the one
 * InferResult, queue the answer(s) in the outbox. Knows nothing of the connection.
 *
 * Contract:
 * - `take(packet, model, receivedAtMs, done)` answers exactly once (a result, or an error with its
 *   stable code: EDGE_ERR_BAD_JSON, EDGE_ERR_BAD_REQUEST, EDGE_ERR_BAD_TENSOR, EDGE_ERR_TOO_LARGE,
 *   EDGE_ERR_UNKNOWN_MODEL, EDGE_ERR_REPLY_TOPIC_REFUSED, EDGE_ERR_SHUTTING_DOWN and whatever the
 *   handler rejects with), then calls `done` once its answers are durable; a bug is logged
 *   (mqtt.answer_failed) and `done` still runs. Never throws.
 * - Model facts (input specs, preprocessor, labels) are asked of the handler once per model and
 *   kept until the handler's `watchFacts` fires (a variant change, a reload): no call up into the
 *   runtime per request besides `infer`. Only models the handler knows are kept, so a flood of
 *   requests on made-up topics cannot grow the cache.
 * - Decoding and submitting run in time slices (time-slicer.ts), and so does encoding after a
 *   batched run (its answers all resume in one macrotask): a burst does not hold the event loop.
 */
import { EdgeError, asEdgeError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { InferResult } from '../result.js';
import { errorMessages, resultMessages } from './answers.js';
import type { PublishPacket } from './mqtt-session.js';
import { checkReplyTopic, DEFAULT_REPLY_TOPIC_POLICY, type ReplyTopicPolicy } from './reply-topic.js';
import { decodeRequest, type DecodedRequest } from './request-codec.js';
import { newRequest, type InferRequest } from './request.js';
import { TimeSlicer } from './time-slicer.js';
import type { Topics } from './topics.js';
import type { InferenceHandler, ModelFacts, OutgoingMessage, RequestLimits, RequestProperties } from './types.js';

export interface RequestPathOptions {
  topics: Topics;
  handler: InferenceHandler;
  limits: RequestLimits;
  replyTopics?: ReplyTopicPolicy | undefined;
  log: Logger;
  nowMs: () => number;
  /** Queues one answer in the outbox; resolves once it is durable (Outbox.enqueue). */
  enqueue: (m: OutgoingMessage) => Promise<void>;
  /** Hands what the outbox holds to the broker. */
  pump: () => void;
  /** True once the service is stopping (requests are then answered EDGE_ERR_SHUTTING_DOWN). */
  stopping: () => boolean;
}

export class RequestPath {
  readonly #o: RequestPathOptions;
  readonly #facts = new Map<string, ModelFacts>();
  readonly #slicer = new TimeSlicer({ sliceMs: 4 });
  readonly #unwatch: () => void;
  #errors = 0;

  constructor(o: RequestPathOptions) {
    this.#o = o;
    this.#unwatch = o.handler.watchFacts(() => this.#facts.clear());
  }

  /** Error answers queued so far. */
  get errors(): number {
    return this.#errors;
  }

  /** Stops listening to the handler's fact changes. */
  close(): void {
    this.#unwatch();
  }

  /** See the contract. `model` is the one the packet's topic names (undefined: none). */
  take(packet: PublishPacket, model: string | undefined, receivedAtMs: number, done: () => void): void {
    const req = newRequest(model, receivedAtMs);
    this.#slicer.run(() => {
      this.#answer(packet, req)
        .catch((e: unknown) => this.#o.log.error('mqtt.answer_failed', { error: asEdgeError(e), topic: packet.topic }))
        .finally(done);
    });
  }

  /** The model's facts, from the cache or (once) from the handler; undefined for an unknown model. Throws what the handler throws. */
  #factsOf(model: string): ModelFacts | undefined {
    let f = this.#facts.get(model);
    if (f === undefined) {
      f = this.#o.handler.modelFacts(model);
      if (f !== undefined) this.#facts.set(model, f);
    }
    return f;
  }

  /** Decodes, infers and queues the answer(s). Rejects only on a bug (logged by `take`). */
  async #answer(packet: PublishPacket, req: InferRequest): Promise<void> {
    const model = req.model;
    let facts: ModelFacts | undefined;
    try {
      facts = model === undefined ? undefined : this.#factsOf(model);
    } catch (e) {
      return this.#queueError(req, e);
    }
    // mqtt.js' properties are read as they are (same field names), not copied (issue 16).
    const decoded = decodeRequest({ model: model ?? packet.topic, payload: packet.payload as Uint8Array, properties: packet.properties as RequestProperties | undefined, specs: facts?.specs, limits: this.#o.limits, preprocess: facts?.preprocess, route: req });
    if (req.replyTo !== undefined) {
      const refused = checkReplyTopic(req.replyTo, model, this.#o.topics, this.#o.replyTopics ?? DEFAULT_REPLY_TOPIC_POLICY);
      if (refused !== null) {
        // Answered once, with the refusal, where an answer goes without a reply topic (and on errors).
        delete req.replyTo;
        this.#badRequest(model, refused.code);
        return this.#queueError(req, refused);
      }
    }
    if (!decoded.ok) {
      this.#badRequest(model, decoded.error.code);
      return this.#queueError(req, decoded.error);
    }
    const r = decoded.request as DecodedRequest & InferRequest;
    if (this.#o.stopping() || model === undefined) {
      return this.#queueError(r, model === undefined ? new EdgeError('EDGE_ERR_UNKNOWN_MODEL', `topic ${packet.topic} names no model`) : new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the service is stopping'));
    }
    let result: InferResult;
    try {
      result = await this.#o.handler.infer(model, r.id, r.inputs, r.extras);
    } catch (e) {
      return this.#queueError(r, e);
    }
    // The one place the total is taken: socket (receivedAtMs) to encoding.
    const totalMs = this.#o.nowMs() - r.receivedAtMs;
    // The answers of one batched run all resume here in one macrotask: encode them in slices too.
    await new Promise<void>((resolve) => this.#slicer.run(resolve));
    let messages: OutgoingMessage[];
    try {
      messages = resultMessages(this.#o.topics, model, r, result, totalMs);
    } catch (e) {
      return this.#queueError(r, e);
    }
    return this.#queue(messages);
  }

  /** Counts a request refused before inference against its model (telemetry `errors`, issue 12 item 13). */
  #badRequest(model: string | undefined, code: ErrorCode): void {
    if (model !== undefined) this.#o.handler.noteRefused?.(model, code);
  }

  #queueError(req: InferRequest, error: unknown): Promise<void> {
    this.#errors++;
    this.#o.log.debug('request.error', { model: req.model, id: req.id, code: asEdgeError(error).code });
    return this.#queue(errorMessages(this.#o.topics, req.model, req, error));
  }

  /**
   * Listed at once and handed to the broker while the outbox makes them durable (publish-ahead);
   * resolves when each answer is on disk or already taken by the broker (the PUBACK waits for it).
   */
  #queue(messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 1) {
      const durable = this.#o.enqueue(messages[0] as OutgoingMessage);
      this.#o.pump();
      return durable;
    }
    const durable = messages.map((m) => this.#o.enqueue(m));
    this.#o.pump();
    return Promise.all(durable).then(() => undefined);
  }
}
