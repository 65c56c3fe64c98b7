/** What a request may carry besides tensors (issue 11). Plain data, shared by transport and service. */

/** Raw media bytes from a request; decoded by the service (images in the media pool). */
export type MediaPayload = { kind: 'image'; bytes: Uint8Array } | { kind: 'wav'; bytes: Uint8Array } | { kind: 'pcm'; bytes: Uint8Array; rate: number; format: string };

export interface RequestExtras {
  /** Stream id (1..128 chars): requests of one stream run in order and share its state. */
  stream?: string;
  /** Start the stream afresh (initial state, no audio remainder, events inactive) before this request. */
  reset?: boolean;
  media?: MediaPayload;
}

/** One event as published on <prefix>/models/<model>/events. */
export interface ModelEvent {
  event: string;
  model: string;
  variant: string;
  /** The request's stream, or null for requests without one. */
  stream: string | null;
  /** ISO 8601 wall-clock time the transition was detected. */
  time: string;
  score: number;
  /** top1-change: the new class. */
  index?: number;
  label?: string;
  /** Offset of the frame that completed the transition from the stream's start (reset), seconds; audio only. */
  streamS?: number;
}
