/**
 * The MQTT topic tree of one device (DESIGN.md "Topics"). Pure.
 *
 *   <prefix>/status                  retained online/offline (+ birth facts)
 *   <prefix>/models/<model>/infer    requests in
 *   <prefix>/models/<model>/result   answers when the request named no reply topic
 *   <prefix>/telemetry               periodic figures
 *   <prefix>/errors                  a copy of every error answer
 *   <prefix>/models/<model>/events   transitions declared in the manifest (issue 11)
 *
 * Throws EDGE_ERR_CONFIG_INVALID for a prefix or model id that cannot be part of a topic.
 */
import { EdgeError } from '../errors.js';

/** Model ids are one topic level: no wildcards, no separators, no NUL, 1..128 chars. */
const MODEL_ID = /^[^+#/\u0000]{1,128}$/;

export function isValidModelId(id: string): boolean {
  return MODEL_ID.test(id);
}

/** A topic a client may publish to: non-empty, no wildcards, no NUL, at most 65535 bytes. */
export function isValidPublishTopic(topic: string): boolean {
  return topic.length > 0 && !/[+#\u0000]/.test(topic) && Buffer.byteLength(topic) <= 65535;
}

export function defaultPrefix(deviceId: string): string {
  return `edge/${deviceId}`;
}

export interface Topics {
  readonly prefix: string;
  readonly status: string;
  readonly telemetry: string;
  readonly errors: string;
  /** The subscription filter for every model's requests. */
  readonly inferFilter: string;
  infer(model: string): string;
  result(model: string): string;
  events(model: string): string;
  /** The model id of a `<prefix>/models/<model>/infer` topic, or undefined when it is not one. */
  modelOfInferTopic(topic: string): string | undefined;
}

export function createTopics(prefix: string): Topics {
  if (!isValidPublishTopic(prefix) || prefix.endsWith('/') || prefix.startsWith('$')) {
    throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `MQTT topic prefix "${prefix}" is not usable (no + # or trailing /, not starting with $)`, { details: { prefix } });
  }
  const checkModel = (model: string): string => {
    if (!isValidModelId(model)) throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `model id "${model}" cannot be a topic level (no + # /)`, { details: { model } });
    return model;
  };
  const head = `${prefix}/models/`;
  const tail = '/infer';
  return {
    prefix,
    status: `${prefix}/status`,
    telemetry: `${prefix}/telemetry`,
    errors: `${prefix}/errors`,
    inferFilter: `${prefix}/models/+/infer`,
    infer: (model) => `${head}${checkModel(model)}${tail}`,
    result: (model) => `${head}${checkModel(model)}/result`,
    events: (model) => `${head}${checkModel(model)}/events`,
    modelOfInferTopic(topic) {
      if (!topic.startsWith(head) || !topic.endsWith(tail)) return undefined;
      const model = topic.slice(head.length, topic.length - tail.length);
      return isValidModelId(model) ? model : undefined;
    },
  };
}
