/**
 * Which reply topics a request may name (issue 12 item 6). Pure.
 *
 * A request's MQTT 5 response topic (or its `replyTo`) is where the service publishes on the
 * requester's behalf, so it is checked before anything is published there. Refused:
 * - the service's own tree `<prefix>/...` (status, telemetry, errors, events, infer topics, other
 *   models' results, anything added later), except `<prefix>/replies/<...>` (the reply area the
 *   shipped ACL grants and `edge-infer request` uses) and the request's own model's result topic,
 *   which is where the answer goes without a reply topic anyway;
 * - `$`-topics (`$SYS/...`: brokers refuse publishes there, so the answer would be lost);
 * - wildcards, NUL, empty or over-long topics;
 * - anything under the Home Assistant discovery prefix (default `homeassistant`);
 * - anything no filter of the allow-list matches (default `#`: everything else); the device's own
 *   reply area is allowed whatever the list says.
 *
 * `checkReplyTopic` returns null when the topic may be used, else an EdgeError
 * EDGE_ERR_REPLY_TOPIC_REFUSED naming the rule; it never throws.
 */
import { EdgeError } from '../errors.js';
import type { Topics } from './topics.js';

export interface ReplyTopicPolicy {
  /** MQTT topic filters (+ and # wildcards) a reply topic must match. Default ['#']. */
  allow: readonly string[];
  /** Home Assistant discovery prefix; reply topics under it are refused. Default "homeassistant". */
  homeAssistantPrefix: string;
}

export const DEFAULT_REPLY_TOPIC_POLICY: Readonly<ReplyTopicPolicy> = Object.freeze({ allow: Object.freeze(['#']), homeAssistantPrefix: 'homeassistant' });

/** Longest reply topic accepted, bytes (the echo in an error answer stays bounded too). */
export const MAX_REPLY_TOPIC_BYTES = 1024;

/** MQTT filter matching (MQTT 5 section 4.7): `+` one level, `#` the rest; wildcards never match `$` topics at the first level. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const part = f[i];
    if (part === '#') return true;
    if (i >= t.length) return false;
    if (part !== '+' && part !== t[i]) return false;
  }
  return f.length === t.length;
}

function refuse(topic: string, rule: string): EdgeError {
  const shown = topic.length > 128 ? `${topic.slice(0, 128)}...` : topic;
  return new EdgeError('EDGE_ERR_REPLY_TOPIC_REFUSED', `reply topic "${shown}" is refused: ${rule}`, { details: { replyTo: shown, rule } });
}

/** Null when `replyTo` may carry the answer to a request on `model`, else the refusal (see the module contract). */
export function checkReplyTopic(replyTo: string, model: string | undefined, topics: Topics, policy: ReplyTopicPolicy = DEFAULT_REPLY_TOPIC_POLICY): EdgeError | null {
  if (replyTo.length === 0 || Buffer.byteLength(replyTo) > MAX_REPLY_TOPIC_BYTES) return refuse(replyTo, `a reply topic is 1..${MAX_REPLY_TOPIC_BYTES} bytes`);
  if (/[+#\u0000]/.test(replyTo)) return refuse(replyTo, 'wildcards (+ #) and NUL are not allowed');
  if (replyTo.startsWith('$')) return refuse(replyTo, '$-topics belong to the broker');
  const own = `${topics.prefix}/`;
  if (replyTo === topics.prefix || replyTo.startsWith(own)) {
    if (model !== undefined && replyTo === topics.result(model)) return null;
    // The device's reply area is always allowed, whatever replyTopics.allow says.
    if (replyTo.startsWith(`${own}replies/`) && replyTo.length > own.length + 'replies/'.length) return null;
    return refuse(replyTo, `the service's own topics (${topics.prefix}/...) are not reply topics; use ${topics.prefix}/replies/<id>`);
  }
  const ha = policy.homeAssistantPrefix;
  if (ha !== '' && (replyTo === ha || replyTo.startsWith(`${ha}/`))) return refuse(replyTo, `topics under the Home Assistant discovery prefix "${ha}" are not reply topics`);
  if (!policy.allow.some((f) => topicMatches(f, replyTo))) return refuse(replyTo, `no filter of replyTopics.allow (${policy.allow.join(', ')}) matches it`);
  return null;
}
