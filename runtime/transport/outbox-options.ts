/**
 * The outbox's options and their defaults (runtime/transport/outbox.ts). Pure.
 */
import { performance } from 'node:perf_hooks';
import { silentLogger, type Logger } from '../log.js';
import type { FsyncPolicy } from './outbox-log.js';

export interface OutboxOptions {
  /** Directory of the log (created). Usually `<stateDir>/outbox`. */
  dir: string;
  /** Most messages kept. Default 10000. */
  maxMessages?: number;
  /** Most payload + topic bytes kept. Default 32 MiB. */
  maxBytes?: number;
  /** Default 'always'. */
  fsync?: FsyncPolicy;
  log?: Logger;
  /** Monotonic milliseconds (ages, disk retry). Default performance.now. */
  nowMs?: () => number;
  /** When degraded, how often to try the disk again, ms. Default 30000. */
  retryMs?: number;
  /** A log segment takes appends until it holds this many bytes; space comes back a segment at a time. Default 256 KiB. */
  segmentBytes?: number;
}

/** `options` with every default filled in. */
export function withDefaults(options: OutboxOptions): Required<OutboxOptions> {
  return {
    dir: options.dir,
    maxMessages: options.maxMessages ?? 10_000,
    maxBytes: options.maxBytes ?? 32 * 1024 * 1024,
    fsync: options.fsync ?? 'always',
    log: options.log ?? silentLogger,
    nowMs: options.nowMs ?? (() => performance.now()),
    retryMs: options.retryMs ?? 30_000,
    segmentBytes: options.segmentBytes ?? 256 * 1024,
  };
}
