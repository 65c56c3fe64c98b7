/**
 * Turns per-frame outputs into events, only on transitions (issue 11). Pure and clock-free: the
 * caller passes frames in order and stamps the events it gets back.
 *
 * - threshold (hysteresis): inactive -> `start` once the score has been >= on for minOnFrames
 *   consecutive frames; active -> `end` once it has been < off for minOffFrames consecutive frames (a frame at or above `off` breaks an end run, a frame below
 *   `on` breaks a start run).
 * - top1-change: `change` once the arg-max class differs from the last reported one (none at the
 *   start) and has been the arg-max for holdFrames consecutive frames.
 * The reported score is the frame's score (threshold) or the class score (top1-change) of the frame
 * that completed the transition.
 */
import type { EventSpec } from '../preprocess/types.js';

export interface DetectedEvent {
  /** Event name (manifest: start / end / change or the names it gives). */
  event: string;
  score: number;
  /** Index of the frame within the frames passed to `push` that completed the transition. */
  frame: number;
  /** top1-change: the new class index and label. */
  index?: number;
  label?: string;
}

/** One frame's view of an output: its last row (a Float32Array-like of scores). */
export type FrameOutputs = Readonly<Record<string, ArrayLike<number>>>;

interface ThresholdState {
  kind: 'threshold';
  active: boolean;
  run: number;
}
interface TopState {
  kind: 'top1-change';
  reported: number | null;
  candidate: number;
  run: number;
}

export class EventDetector {
  readonly #specs: readonly EventSpec[];
  readonly #labels: readonly string[] | undefined;
  readonly #state: (ThresholdState | TopState)[];

  constructor(specs: readonly EventSpec[], labels?: readonly string[]) {
    this.#specs = specs;
    this.#labels = labels;
    this.#state = specs.map((s) => (s.kind === 'threshold' ? { kind: 'threshold', active: false, run: 0 } : { kind: 'top1-change', reported: null, candidate: -1, run: 0 }));
  }

  /** True while some threshold event is between its start and end. */
  get active(): boolean {
    return this.#state.some((s) => s.kind === 'threshold' && s.active);
  }

  /** Feeds frames in order; returns the transitions they complete, in order. */
  push(frames: readonly FrameOutputs[]): DetectedEvent[] {
    const out: DetectedEvent[] = [];
    frames.forEach((f, frame) => {
      this.#specs.forEach((spec, i) => {
        const row = f[spec.output];
        if (row === undefined) return;
        const st = this.#state[i] as ThresholdState | TopState;
        if (spec.kind === 'threshold' && st.kind === 'threshold') {
          const score = Number(row[spec.index ?? 0] ?? 0);
          if (!st.active) {
            st.run = score >= spec.on ? st.run + 1 : 0;
            if (st.run >= (spec.minOnFrames ?? 1)) {
              st.active = true;
              st.run = 0;
              out.push({ event: spec.start ?? 'start', score, frame });
            }
          } else {
            st.run = score < spec.off ? st.run + 1 : 0;
            if (st.run >= (spec.minOffFrames ?? 1)) {
              st.active = false;
              st.run = 0;
              out.push({ event: spec.end ?? 'end', score, frame });
            }
          }
        } else if (spec.kind === 'top1-change' && st.kind === 'top1-change') {
          let best = 0;
          for (let k = 1; k < row.length; k++) if (Number(row[k]) > Number(row[best])) best = k;
          st.run = best === st.candidate ? st.run + 1 : 1;
          st.candidate = best;
          if (best !== st.reported && st.run >= (spec.holdFrames ?? 1)) {
            st.reported = best;
            const ev: DetectedEvent = { event: spec.event ?? 'change', score: Number(row[best]), frame, index: best };
            const label = this.#labels?.[best];
            if (label !== undefined) ev.label = label;
            out.push(ev);
          }
        }
      });
    });
    return out;
  }
}
