/**
 * The one builder of onnxruntime SessionOptions (issue 16): the engines' worker sessions, the
 * on-thread DirectSession (bench baseline), the CLI tools' one-shot sessions (run-once.ts) and the
 * bench floors all take their options from here, so a comparison between them never hides an
 * options difference.
 *
 * Contract: a pure function of its input (no I/O, no global state); the result holds only keys
 * the Node binding understands (DESIGN.md: no freeDimensionOverrides). Fixed for every session:
 * interOpNumThreads 1 and executionMode 'sequential' (no inter-op pool: one model's graph runs on
 * the intra-op threads only), logSeverityLevel 3 (errors only: ORT's warnings go to stderr, not
 * the service log). The execution provider follows the backend: 'cpu' for onnxruntime-node,
 * 'wasm' for onnxruntime-web.
 */
import type { InferenceSession } from 'onnxruntime-common';
import type { BackendKind, DeviceProfile, GraphOptLevel } from '../config/types.js';
import type { SessionSpec } from './types.js';

export interface SessionOptionsInput {
  /** Which onnxruntime build opens the session. */
  backend: BackendKind;
  /** Intra-op threads (>= 1). */
  intraOpThreads: number;
  graphOptimization: GraphOptLevel;
  /** The CPU arena never shrinks (DESIGN.md); the profile turns it off when memory is tight. */
  memArena: boolean;
  memPattern: boolean;
  /** Native only: where ORT writes the optimized model (optimized-cache.ts). Default none. */
  optimizedModelFilePath?: string | undefined;
}

/**
 * The spec the CLI tools and benches use for a one-shot session: one thread and ORT's own
 * defaults for the rest (full graph optimization, arena and memory pattern on).
 */
export const TOOL_SESSION: Omit<SessionOptionsInput, 'backend'> = { intraOpThreads: 1, graphOptimization: 'all', memArena: true, memPattern: true };

/** Builds the SessionOptions for `input`. Throws RangeError for intraOpThreads < 1 (a caller mistake). */
export function sessionOptions(input: SessionOptionsInput): InferenceSession.SessionOptions {
  if (!Number.isInteger(input.intraOpThreads) || input.intraOpThreads < 1) throw new RangeError(`intraOpThreads must be an integer >= 1, got ${input.intraOpThreads}`);
  return {
    executionProviders: [input.backend === 'native' ? 'cpu' : 'wasm'],
    intraOpNumThreads: input.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: input.graphOptimization,
    enableCpuMemArena: input.memArena,
    enableMemPattern: input.memPattern,
    executionMode: 'sequential',
    logSeverityLevel: 3,
    ...(input.optimizedModelFilePath === undefined ? {} : { optimizedModelFilePath: input.optimizedModelFilePath }),
  };
}

/** Below this session budget the CPU arena is off: it never shrinks, and with dynamic shapes it grows a lot (DESIGN.md). */
export const ARENA_MIN_BUDGET_MB = 256;

/**
 * The service's session spec for a model on this board: the profile's threads and graph
 * optimization, the arena only when the budget is at least ARENA_MIN_BUDGET_MB, memory pattern on.
 * (The engine turns it into SessionOptions with sessionOptions() in the worker.)
 */
export function sessionSpecFor(profile: Pick<DeviceProfile, 'inference'>, budgetMB: number): SessionSpec {
  return { intraOpThreads: profile.inference.threads, graphOptimization: profile.inference.graphOptimization, memArena: budgetMB >= ARENA_MIN_BUDGET_MB, memPattern: true };
}
