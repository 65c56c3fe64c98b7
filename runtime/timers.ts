/**
 * Timer functions as the long-running loops take them (scheduler batching deadlines, telemetry
 * ticks, the systemd watchdog), so tests drive time by hand. Method syntax: any handle type fits.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}
