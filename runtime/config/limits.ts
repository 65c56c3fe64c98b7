/**
 * Request limits' defaults, defined once (issue 13, defect 7: `infer` accepted 4 MiB while the
 * service refused anything over 1 MiB, so a request that worked locally failed over MQTT). The
 * service config schema's defaults, the transport's DEFAULT_LIMITS and `edge-infer infer` (through
 * the service config, so `limits.maxPayloadBytes` there applies to both) all read these.
 */

/** Largest request payload accepted, bytes (limits.maxPayloadBytes). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1_048_576;
/** The schema's ceiling for limits.maxPayloadBytes, bytes. */
export const MAX_PAYLOAD_BYTES_CEILING = 268_435_456;
/** Largest batch a request may carry (limits.maxBatch). */
export const DEFAULT_MAX_BATCH = 64;
