/**
 * A native session worker started at process start, before the service's own modules are
 * imported: the thread and onnxruntime's library then load on another core while the main thread
 * imports, reads its config and plans (measured on this 2-core VM: a worker start is 60-150 ms, the
 * service's imports and setup ~350 ms). The engine adopts it as its spare worker
 * (WorkerEngine.prestart) when its boot matches; otherwise it is ended.
 *
 * Contract: at most one early worker per process. It is unref'd until adopted, so it never keeps
 * a process alive; `takeEarlyWorker` hands it out once (ref'd again) or ends it when the boot does
 * not match (another backend, test hooks); `discardEarlyWorker` ends it. Never throws.
 */
import { nativeAvailable } from './native-binary.js';
import type { WorkerBoot } from './worker/protocol.js';
import { DEFAULT_RING_SLOT_BYTES, WorkerHost } from './worker-host.js';

let early: WorkerHost | undefined;

/** Starts the early native worker, unless one was started or onnxruntime-node has no binary here. */
export function startEarlyWorker(): void {
  if (early !== undefined || !nativeAvailable()) return;
  const host = new WorkerHost({ kind: 'native', allowTestHooks: false }, 'spare', () => {
    if (early === host) early = undefined;
  });
  host.unref();
  early = host;
}

/** The early worker when it is alive and booted like `boot`; undefined otherwise (a mismatched one is ended). */
export function takeEarlyWorker(boot: WorkerBoot): WorkerHost | undefined {
  const host = early;
  early = undefined;
  if (host === undefined) return undefined;
  if (!host.up || boot.kind !== 'native' || boot.allowTestHooks || boot.wasmPathsUrl !== undefined || (boot.ringSlotBytes ?? DEFAULT_RING_SLOT_BYTES) !== DEFAULT_RING_SLOT_BYTES || boot.ringMaxRunMs !== undefined) {
    void host.terminate();
    return undefined;
  }
  host.ref();
  return host;
}

/** Ends the early worker if it was never taken. */
export async function discardEarlyWorker(): Promise<void> {
  const host = early;
  early = undefined;
  await host?.terminate();
}
