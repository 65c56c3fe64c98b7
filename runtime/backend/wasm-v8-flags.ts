/**
 * The one seam on V8's WebAssembly compiler settings (issue 18). onnxruntime-web's wasm module is
 * 14.2 MB; V8 compiles it with Liftoff (baseline) and then recompiles hot functions with TurboFan
 * in the background. TurboFan's compile zones and second copy of the hot code are what made the
 * WASM runtime's memory jump by 100-170 MB during a model's first few hundred runs on x86
 * (bench/wasm-memory.ts, "tiers" section), far more than a 128 MB budget holds.
 *
 * `--liftoff-only` keeps the baseline code only. V8 flags are per process: set here, in the main
 * thread, before the shared WASM runtime's worker compiles the module (a module compiled earlier
 * keeps its tiers). Node 20 (V8 11.3) honours it set at run time (measured, same bench); a V8 that
 * drops the flag makes setFlagsFromString a silent no-op, which the bench's figures would show.
 * Native onnxruntime does not use WebAssembly, so the flag changes nothing for it.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** 'liftoff-only' (default): baseline code only; 'default': V8's own tiering (Liftoff then TurboFan). */
export type WasmTiers = 'liftoff-only' | 'default';

let applied: WasmTiers | undefined;

/** Sets V8's wasm tiering for this process. Idempotent; the last call before a compile wins. */
export function applyWasmTiers(tiers: WasmTiers): void {
  if (applied === tiers) return;
  v8.setFlagsFromString(tiers === 'liftoff-only' ? '--liftoff-only' : '--no-liftoff-only');
  applied = tiers;
}

let gcFn: (() => void) | undefined;

/**
 * A full GC of the calling isolate (the shared WASM runtime's worker calls it after starting
 * onnxruntime-web and after each load). onnxruntime-web reads its 14.2 MB .wasm into a Buffer that
 * is garbage once compiled, and a load leaves the model's bytes behind; V8 saw no reason to
 * collect them in an otherwise idle worker (measured: RSS 74.6 -> 61.4 MB after compiling the
 * module and collecting). `gc` is reached the documented-but-unusual way: `--expose-gc` set at run
 * time applies to contexts created afterwards, so a fresh vm context hands out `gc`.
 */
export function collectGarbage(): void {
  if (gcFn === undefined) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
}
