/**
 * Turns a decoded route plus a result or an error into the messages to publish. Pure.
 *
 * Destination: the route's reply topic (MQTT 5 responseTopic, else body/user-property replyTo), else
 * `<prefix>/models/<model>/result`. Error answers are ALSO published to `<prefix>/errors`. The MQTT 5
 * correlation data of the request is copied to the answer (never to the errors copy's topic alone:
 * the copy carries it too, so a monitor can match it).
 * Events a result completed (issue 11) follow the answer, one message each on
 * `<prefix>/models/<model>/events`, JSON (media/types.ts ModelEvent), without correlation data.
 */
import type { ReplyRoute } from './request-codec.js';
import { encodeBinaryResult, encodeError, encodeJsonResult, type EncodedAnswer, type LatencyMs } from './result-codec.js';
import type { Topics } from './topics.js';
import type { InferOutcome, OutgoingMessage } from './types.js';

export type Answer =
  | { kind: 'result'; id: string; outcome: InferOutcome; latencyMs: LatencyMs }
  | { kind: 'error'; error: unknown };

function withRoute(topic: string, enc: EncodedAnswer, route: ReplyRoute): OutgoingMessage {
  const properties = { ...(enc.properties ?? {}) };
  if (route.correlationData !== undefined) properties.correlationData = route.correlationData;
  return { topic, payload: enc.payload, properties };
}

/** The messages answering one request on `model` (undefined when the topic named no valid model). */
export function answerMessages(topics: Topics, model: string | undefined, route: ReplyRoute, answer: Answer): OutgoingMessage[] {
  const dest = route.replyTo ?? (model === undefined ? undefined : topics.result(model));
  if (answer.kind === 'result') {
    const enc = route.form === 'binary'
      ? encodeBinaryResult(answer.id, model ?? '', answer.outcome, answer.latencyMs)
      : encodeJsonResult(answer.id, model ?? '', answer.outcome, answer.latencyMs);
    const events = (answer.outcome.events ?? []).map((e): OutgoingMessage => ({
      topic: topics.events(e.model), payload: Buffer.from(JSON.stringify(e)), properties: { contentType: 'application/json' },
    }));
    return dest === undefined ? events : [withRoute(dest, enc, route), ...events];
  }
  const enc = encodeError(route.id, model, answer.error);
  const out: OutgoingMessage[] = [];
  if (dest !== undefined && dest !== topics.errors) out.push(withRoute(dest, enc, route));
  out.push(withRoute(topics.errors, enc, route));
  return out;
}
