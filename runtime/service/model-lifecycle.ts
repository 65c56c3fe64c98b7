/**
 * One model's life cycle (issue 12; Triton's model_lifecycle as the model): the one place its
 * state changes, the table of allowed transitions, the crash policy, and promises to wait on
 * instead of polling.
 *
 *   loading ──> ready <──> swapping        (load / adaptive swap)
 *      │          │  └──> restarting ──> ready | failed   (worker crash: reload with backoff;
 *      │          │                                         repeated crashes -> next variant)
 *      └──> unavailable | failed           (nothing fits / every variant refused)
 *   any ──> unloading ──> unavailable      (retire: close, reload hand-over)
 *
 * Contract: `to()` throws EDGE_ERR_INTERNAL for a transition the table does not allow (a bug in
 * the caller, never a runtime condition). `onIdle()` resolves when no transition is in progress
 * (the state is ready, unavailable or failed). `whenServing(ms)` resolves true as soon as the model
 * serves (ready or swapping), false when it settles without serving or after `ms`. No timers run
 * except the one `whenServing` arms for its own deadline.
 */
import { EdgeError } from '../errors.js';
import type { ModelState } from '../telemetry/payload.js';

const TRANSITIONS: Readonly<Record<ModelState, readonly ModelState[]>> = {
  loading: ['loading', 'ready', 'unavailable', 'failed', 'unloading'],
  ready: ['loading', 'swapping', 'restarting', 'unloading'],
  swapping: ['ready', 'restarting', 'unloading'],
  restarting: ['restarting', 'ready', 'failed', 'unavailable', 'unloading'],
  unloading: ['unavailable'],
  unavailable: ['loading', 'unavailable', 'unloading'],
  failed: ['loading', 'failed', 'unavailable', 'unloading'],
};

const SERVING: ReadonlySet<ModelState> = new Set(['ready', 'swapping']);
const IDLE: ReadonlySet<ModelState> = new Set(['ready', 'unavailable', 'failed']);

/** Crash policy: how long before reloading a crashed worker, and when to give up on a variant. */
export interface CrashPolicy {
  /** First reload delay after a crash, ms; doubles with each crash in the window. Default 200. */
  firstDelayMs: number;
  /** Longest reload delay, ms. Default 10000. */
  maxDelayMs: number;
  /** This many crashes of one variant within `windowMs` exclude it: the plan falls back. Default 3. */
  maxCrashes: number;
  /** Default 60000. */
  windowMs: number;
}

export const DEFAULT_CRASH_POLICY: Readonly<CrashPolicy> = Object.freeze({ firstDelayMs: 200, maxDelayMs: 10_000, maxCrashes: 3, windowMs: 60_000 });

export class ModelLifecycle {
  readonly model: string;
  #state: ModelState;
  #waiters: (() => void)[] = [];
  /** Crash times (monotonic ms) of the current variant, oldest first. */
  #crashes: number[] = [];
  /** Worker restarts since start (telemetry and status). */
  restarts = 0;

  constructor(model: string, initial: ModelState = 'loading') {
    this.model = model;
    this.#state = initial;
  }

  get state(): ModelState {
    return this.#state;
  }

  get serving(): boolean {
    return SERVING.has(this.#state);
  }

  get idle(): boolean {
    return IDLE.has(this.#state);
  }

  /** Moves to `next` (see the table); wakes the waiters. Throws EDGE_ERR_INTERNAL on a transition the table forbids. */
  to(next: ModelState): void {
    if (!TRANSITIONS[this.#state].includes(next)) {
      throw new EdgeError('EDGE_ERR_INTERNAL', `model "${this.model}": no transition ${this.#state} -> ${next}`, { details: { model: this.model, from: this.#state, to: next } });
    }
    this.#state = next;
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Resolves once the state is ready, unavailable or failed. */
  async onIdle(): Promise<void> {
    while (!this.idle) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** True as soon as the model serves; false when it settles without serving or after `timeoutMs`. */
  whenServing(timeoutMs: number): Promise<boolean> {
    if (this.serving) return Promise.resolve(true);
    if (this.idle) return Promise.resolve(false);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        done = true;
        resolve(false);
      }, timeoutMs);
      let done = false;
      const check = (): void => {
        if (done) return;
        if (this.serving || this.idle) {
          done = true;
          clearTimeout(t);
          resolve(this.serving);
        } else {
          this.#waiters.push(check);
        }
      };
      this.#waiters.push(check);
    });
  }

  /**
   * Records a crash at `nowMs`: moves to restarting, counts the restart, and returns the delay
   * before the reload and whether the variant crashed too often (then exclude it).
   */
  crashed(nowMs: number, policy: CrashPolicy = DEFAULT_CRASH_POLICY): { delayMs: number; giveUp: boolean } {
    this.to('restarting');
    this.restarts += 1;
    this.#crashes = this.#crashes.filter((at) => nowMs - at < policy.windowMs);
    this.#crashes.push(nowMs);
    const n = this.#crashes.length;
    return { delayMs: Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** (n - 1)), giveUp: n >= policy.maxCrashes };
  }

  /** A new variant starts with a clean crash record. */
  variantChanged(): void {
    this.#crashes = [];
  }
}
