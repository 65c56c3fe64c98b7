/**
 * Turns a request plus its result or an error into the messages to publish. Pure.
 *
 * Destination: the request's reply topic (MQTT 5 responseTopic, else body/user-property replyTo), else
 * `<prefix>/models/<model>/result`. Error answers are ALSO published to `<prefix>/errors`. The MQTT 5
 * correlation data of the request is copied to the answer (never to the errors copy's topic alone:
 * the copy carries it too, so a monitor can match it).
 * Events a result completed (issue 11) follow the answer, one message each on
 * `<prefix>/models/<model>/events`, JSON (media/types.ts ModelEvent), without correlation data.
 *
 * Issue 16: the result goes from the engine's InferResult straight to its encoding (no Answer or
 * latency wrapper), and the encoded properties are completed in place rather than spread.
 */
import type { InferResult } from '../result.js';
import type { ReplyRoute } from './request-codec.js';
import { encodeBinaryResult, encodeError, encodeJsonResult, type EncodedAnswer } from './result-codec.js';
import type { Topics } from './topics.js';
import type { OutgoingMessage, PublishProperties } from './types.js';

function withRoute(topic: string, enc: EncodedAnswer, route: ReplyRoute): OutgoingMessage {
  const properties: PublishProperties | undefined = route.correlationData === undefined ? enc.properties : { ...enc.properties, correlationData: route.correlationData };
  return properties === undefined ? { topic, payload: enc.payload } : { topic, payload: enc.payload, properties };
}

/** The messages answering `route` (a request on `model`, undefined when the topic named no valid model) with `result`; `totalMs` is the request's total time. */
export function resultMessages(topics: Topics, model: string | undefined, route: ReplyRoute & { id: string }, result: InferResult, totalMs: number): OutgoingMessage[] {
  const dest = route.replyTo ?? (model === undefined ? undefined : topics.result(model));
  const out: OutgoingMessage[] = [];
  if (dest !== undefined) {
    const enc = route.form === 'binary' ? encodeBinaryResult(route.id, model ?? '', result, totalMs) : encodeJsonResult(route.id, model ?? '', result, totalMs);
    out.push(withRoute(dest, enc, route));
  }
  if (result.events !== undefined) {
    for (const e of result.events) out.push({ topic: topics.events(e.model), payload: Buffer.from(JSON.stringify(e)), properties: { contentType: 'application/json' } });
  }
  return out;
}

/** The messages answering `route` with `error` (an EdgeError or anything: see errors.ts toErrorPayload). */
export function errorMessages(topics: Topics, model: string | undefined, route: ReplyRoute, error: unknown): OutgoingMessage[] {
  const dest = route.replyTo ?? (model === undefined ? undefined : topics.result(model));
  const enc = encodeError(route.id, model, error);
  const out: OutgoingMessage[] = [];
  if (dest !== undefined && dest !== topics.errors) out.push(withRoute(dest, enc, route));
  out.push(withRoute(topics.errors, enc, route));
  return out;
}
