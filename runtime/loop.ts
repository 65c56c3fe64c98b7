/**
 * The one periodic-loop helper (issue 16) behind the telemetry loop, the adaptive policy loop and
 * the systemd watchdog.
 *
 * Contract:
 * - Self-rescheduling setTimeout, never setInterval: the next tick is scheduled `intervalMs` after
 *   the previous one *finished*, so ticks never overlap, however slow one is. A slow tick delays
 *   the ones after it; missed ticks are not made up (no burst of catch-up ticks after a stall).
 * - Timers default to unref'd real timers (a pending tick never keeps the process alive);
 *   `timers` is injectable, so tests drive time by hand (test/helpers/fake-timers.ts).
 * - A tick that throws or rejects is reported to `onError` (default: dropped) and the loop goes on.
 *   Nothing escapes as an unhandled rejection.
 * - `tickNow()` runs one extra tick after any tick in progress (ticks stay serial) and does not
 *   move the schedule.
 * - `stop()` is idempotent: it cancels the pending timer and resolves once a tick in progress
 *   (and any `tickNow()` queued before it) has finished; no tick starts after it was called.
 */
import { unrefTimers, type Timers } from './timers.js';

export interface LoopOptions {
  /** Milliseconds from the end of one tick to the start of the next. Must be > 0. */
  intervalMs: number;
  /** One round of the loop's work. */
  tick: () => void | Promise<void>;
  /** Run a tick right away instead of after the first interval. Default false. */
  immediate?: boolean;
  /** Receives what a tick threw or rejected with. Default: ignored. */
  onError?: (error: unknown) => void;
  /** Default unrefTimers. */
  timers?: Timers;
}

export interface Loop {
  /** Runs one tick now, after a tick in progress; resolves when it has finished. No-op after stop(). */
  tickNow(): Promise<void>;
  /** Stops scheduling; resolves when a tick in progress has finished. Idempotent. */
  stop(): Promise<void>;
  /** Ticks started so far (scheduled and tickNow). */
  readonly ticks: number;
}

/** Starts a loop. Throws RangeError for a non-positive or non-finite interval (a caller mistake). */
export function startLoop(options: LoopOptions): Loop {
  const { intervalMs } = options;
  if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) throw new RangeError(`intervalMs must be a finite number > 0, got ${intervalMs}`);
  const timers = options.timers ?? unrefTimers;
  let handle: unknown = null;
  let stopped = false;
  let ticks = 0;
  let running: Promise<void> = Promise.resolve();

  const guarded = async (): Promise<void> => {
    if (stopped) return;
    ticks += 1;
    try {
      await options.tick();
    } catch (e) {
      try {
        options.onError?.(e);
      } catch {
        // An error reporter that throws must not break the loop either.
      }
    }
  };

  const schedule = (): void => {
    if (stopped) return;
    handle = timers.setTimeout(() => {
      handle = null;
      running = running.then(guarded).then(schedule);
    }, intervalMs);
  };

  if (options.immediate === true) running = running.then(guarded).then(schedule);
  else schedule();

  return {
    tickNow() {
      running = running.then(guarded);
      return running;
    },
    async stop() {
      stopped = true;
      if (handle !== null) timers.clearTimeout(handle);
      handle = null;
      await running;
    },
    get ticks() {
      return ticks;
    },
  };
}
