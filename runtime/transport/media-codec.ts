/**
 * The media forms of a request (issue 11), next to request-codec.ts's tensor forms. Pure.
 *
 * - MQTT 5 binary payload with content type `image/jpeg` / `image/png` (an image),
 *   `audio/wav` (also audio/x-wav, audio/wave, audio/vnd.wave: a whole WAV file) or `audio/pcm`
 *   (raw mono PCM; user properties `rate` in Hz, required, and `format`: s16le default, f32le, u8;
 *   `audio/pcm;rate=16000;format=s16le` parameters work too). User properties: `id` (required, as
 *   for binary tensors), `stream` (1..128 chars), `reset` ("1" / "true"), `replyTo`.
 * - JSON: `"image": "<base64 JPEG/PNG>"`, `"audio": "<base64 WAV>"`, `"stream"`, `"reset": true`
 *   (see request-schema.ts).
 * The bytes are not decoded here: the service decodes them (images off the main thread). The
 * answer is JSON (form "json").
 */
import { EdgeError } from '../errors.js';
import type { MediaPayload, RequestExtras } from '../media/types.js';
import type { RequestProperties } from './types.js';

export const IMAGE_CONTENT_TYPES: readonly string[] = ['image/jpeg', 'image/png'];
export const WAV_CONTENT_TYPES: readonly string[] = ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave'];
export const PCM_CONTENT_TYPE = 'audio/pcm';

const STREAM_ID = /^[^\u0000-\u001f]{1,128}$/;

function baseType(contentType: string | undefined): string {
  return contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Content-type parameters (`audio/pcm;rate=16000`), lower-cased keys. */
function typeParams(contentType: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (contentType ?? '').split(';').slice(1)) {
    const [k, v] = part.split('=');
    if (k !== undefined && v !== undefined) out[k.trim().toLowerCase()] = v.trim();
  }
  return out;
}

/** True when the content type selects a media form. */
export function isMediaContentType(contentType: string | undefined): boolean {
  const t = baseType(contentType);
  return IMAGE_CONTENT_TYPES.includes(t) || WAV_CONTENT_TYPES.includes(t) || t === PCM_CONTENT_TYPE;
}

/** Checks a stream id (JSON "stream" or user property). EDGE_ERR_BAD_REQUEST. */
export function checkStreamId(stream: string): string {
  if (!STREAM_ID.test(stream)) throw new EdgeError('EDGE_ERR_BAD_REQUEST', 'stream must be 1..128 characters without control characters', { details: { stream: stream.slice(0, 64) } });
  return stream;
}

/** The media payload and stream fields of a media-form request. EDGE_ERR_BAD_REQUEST / EDGE_ERR_BAD_AUDIO. */
export function mediaExtras(payload: Uint8Array, props: RequestProperties | undefined, userProp: (key: string) => string | undefined): RequestExtras {
  const t = baseType(props?.contentType);
  let media: MediaPayload;
  if (IMAGE_CONTENT_TYPES.includes(t)) media = { kind: 'image', bytes: payload };
  else if (WAV_CONTENT_TYPES.includes(t)) media = { kind: 'wav', bytes: payload };
  else {
    const params = typeParams(props?.contentType);
    const rateText = userProp('rate') ?? params['rate'];
    const rate = rateText !== undefined && /^\d{1,6}$/.test(rateText) ? Number(rateText) : NaN;
    if (!Number.isFinite(rate)) throw new EdgeError('EDGE_ERR_BAD_AUDIO', 'audio/pcm needs a user property "rate" in Hz (e.g. 16000)', { details: { rate: rateText?.slice(0, 16) ?? null } });
    media = { kind: 'pcm', bytes: payload, rate, format: userProp('format') ?? params['format'] ?? 's16le' };
  }
  const extras: RequestExtras = { media };
  const stream = userProp('stream');
  if (stream !== undefined) extras.stream = checkStreamId(stream);
  const reset = userProp('reset');
  if (reset === '1' || reset === 'true') extras.reset = true;
  return extras;
}
