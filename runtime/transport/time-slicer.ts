/**
 * Runs jobs in FIFO order on the event loop without holding it for long (issue 5: event-loop
 * delay at saturation). mqtt.js hands over every packet of one TCP read within a single macrotask
 * (its parser loop continues by process.nextTick), so a burst of 64 requests used to be decoded
 * and submitted back to back while timers (keepalive, telemetry, watchdog) waited. Here a job runs
 * at once while the current macrotask has spent less than `sliceMs` in this slicer's jobs; after
 * that, jobs wait in a queue drained by setImmediate in slices of `sliceMs`, so timers and I/O run
 * in between. At low load nothing waits: a lone request runs immediately.
 *
 * Contract: jobs run exactly once, in the order given; a job that throws is reported to `onError`
 * and does not stop the others. Times come from `nowMs` (monotonic, real: this is scheduling).
 */
import { performance } from 'node:perf_hooks';

export class TimeSlicer {
  readonly #sliceMs: number;
  readonly #nowMs: () => number;
  readonly #onError: (e: unknown) => void;
  readonly #queue: (() => void)[] = [];
  /** Start of the current macrotask's slice; -1 when none is open. */
  #sliceStart = -1;
  #scheduled = false;

  constructor(o: { sliceMs?: number; nowMs?: () => number; onError?: (e: unknown) => void } = {}) {
    this.#sliceMs = o.sliceMs ?? 4;
    this.#nowMs = o.nowMs ?? (() => performance.now());
    this.#onError = o.onError ?? (() => undefined);
  }

  /** Jobs waiting for a later slice. */
  get pending(): number {
    return this.#queue.length;
  }

  run(job: () => void): void {
    if (this.#scheduled || this.#queue.length > 0 || this.#sliceSpent()) {
      this.#queue.push(job);
      this.#schedule();
      return;
    }
    this.#call(job);
  }

  #sliceSpent(): boolean {
    const now = this.#nowMs();
    if (this.#sliceStart < 0) {
      this.#sliceStart = now;
      setImmediate(() => {
        this.#sliceStart = -1;
      });
      return false;
    }
    return now - this.#sliceStart >= this.#sliceMs;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#drain());
  }

  #drain(): void {
    this.#scheduled = false;
    const start = this.#nowMs();
    while (this.#queue.length > 0) {
      if (this.#nowMs() - start >= this.#sliceMs) {
        this.#schedule();
        return;
      }
      this.#call(this.#queue.shift() as () => void);
    }
  }

  #call(job: () => void): void {
    try {
      job();
    } catch (e) {
      this.#onError(e);
    }
  }
}
