/**
 * Timer functions as the long-running loops take them (scheduler batching deadlines, telemetry
 * ticks, the systemd watchdog), so tests drive time by hand. Method syntax: any handle type fits.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Real timers, unref'd: a pending tick never keeps the process alive on its own. */
export const unrefTimers: Timers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** Real timers that keep the process alive while pending (the systemd watchdog's). */
export const refTimers: Timers = {
  setTimeout(fn, ms) {
    return setTimeout(fn, ms);
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/**
 * Resolves when `p` settles or after `ms`, whichever is first; never rejects (bounded waits: shutdown
 * steps, a swap's drain, a worker's stop). `unref`: the timer alone does not keep the process alive.
 */
export function bounded(p: Promise<unknown>, ms: number, unref = false): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (unref) t.unref();
    const done = (): void => {
      clearTimeout(t);
      resolve();
    };
    p.then(done, done);
  });
}
