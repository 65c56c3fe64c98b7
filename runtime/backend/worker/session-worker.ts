/**
 * Session worker: holds onnxruntime InferenceSessions off the main thread, so a long (synchronous,
 * native) session.run never blocks the service's event loop. A native worker holds one session;
 * the shared WASM runtime holds one per loaded model, by name (protocol.ts).
 *
 * Contract: answers every request id once (protocol.ts). Load errors come back as
 * EDGE_ERR_MODEL_INVALID | EDGE_ERR_LOAD_FAILED | EDGE_ERR_FILE_MISSING, run errors as
 * EDGE_ERR_INFERENCE_FAILED carrying ORT's message. Output buffers are transferred to the caller.
 * A native session is never released here: the engine terminates the whole worker instead, which
 * is what gives leaked native memory back (onnxruntime issue 25325). A WASM session is released on
 * `unload`: its memory goes back to the wasm heap (which never shrinks) for the next session.
 */
import { readFileSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { isTensorDtype, type NamedTensors, type TensorData } from '../../tensor.js';
import { commitCache, readCache, sha256, tempCachePath, type CacheIdentity } from '../optimized-cache.js';
import { errorMessage, loadErrorCode } from '../ort-errors.js';
import { sessionOptions } from '../session-options.js';
import { prepareTransfer } from '../transfer.js';
import type { IoSpec } from '../types.js';
import { collectGarbage } from '../wasm-v8-flags.js';
import { loadOrt, ortVersion, type Ort } from './ort-module.js';
import type { FromWorker, LoadReply, RunReply, ToWorker, WorkerBoot, WorkerFailure, WorkerLoadSpec } from './protocol.js';
import { RingServer } from './ring-server.js';

class Failure extends Error {
  constructor(readonly failure: WorkerFailure) {
    super(failure.message);
  }
}

const boot = workerData as WorkerBoot;
function requirePort(): MessagePort {
  if (parentPort === null) throw new Error('session-worker must run in a worker thread');
  return parentPort;
}
const port = requirePort();

const ort: Ort = await loadOrt(boot);
const sessions = new Map<string, InferenceSession>();

/**
 * A 66-byte ONNX model (opset 13, one Identity on float32 [1]), hand-encoded: creating a session
 * from it makes onnxruntime-web instantiate its wasm module and environment now, not inside the
 * first model's load. test/backend-wasm-shared.test.ts checks the engine reports that cost.
 */
const INIT_MODEL_B64 = 'CAg6OgoQCgF4EgF5IghJZGVudGl0eRIEaW5pdFoPCgF4EgoKCAgBEgQKAggBYg8KAXkSCgoICAESBAoCCAFCAhAN';
if (boot.kind === 'wasm' && boot.initRuntime === true) {
  const init = await ort.InferenceSession.create(Buffer.from(INIT_MODEL_B64, 'base64'), { executionProviders: ['wasm'] });
  await init.release();
  collectGarbage();
}

function toOrt(inputs: NamedTensors): Record<string, OrtTensor> {
  const feeds: Record<string, OrtTensor> = {};
  for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor(t.dtype, t.data, [...t.dims]);
  return feeds;
}

function fromOrt(outputs: InferenceSession.OnnxValueMapType): NamedTensors {
  const result: NamedTensors = {};
  for (const [name, value] of Object.entries(outputs)) {
    const t = value as OrtTensor;
    if (!isTensorDtype(t.type)) {
      throw new Failure({ code: 'EDGE_ERR_INFERENCE_FAILED', message: `output "${name}" has dtype ${t.type}, which edge-infer does not carry` });
    }
    result[name] = { dtype: t.type, dims: [...t.dims], data: t.data as TensorData };
  }
  return result;
}

function ioSpecs(meta: readonly InferenceSession.ValueMetadata[]): IoSpec[] {
  return meta.map((m) => (m.isTensor ? { name: m.name, dtype: String(m.type), shape: [...m.shape] } : { name: m.name, dtype: 'non-tensor', shape: [] }));
}

function optionsFor(spec: WorkerLoadSpec, level: WorkerLoadSpec['graphOptimization'], optimizedModelFilePath?: string): InferenceSession.SessionOptions {
  return sessionOptions({ ...spec, backend: boot.kind, graphOptimization: level, optimizedModelFilePath });
}

function readSource(spec: WorkerLoadSpec): Uint8Array {
  if (spec.bytes !== undefined) return spec.bytes;
  try {
    const b = readFileSync(spec.file);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'EDGE_ERR_FILE_MISSING' : 'EDGE_ERR_LOAD_FAILED';
    throw new Failure({ code, message: `cannot read ${spec.file}: ${errorMessage(e)}` });
  }
}

async function create(bytes: Uint8Array, options: InferenceSession.SessionOptions): Promise<InferenceSession> {
  try {
    return await ort.InferenceSession.create(bytes, options);
  } catch (e) {
    const message = errorMessage(e);
    throw new Failure({ code: loadErrorCode(message), message });
  }
}

async function load(name: string, spec: WorkerLoadSpec): Promise<LoadReply> {
  if (sessions.has(name) || (boot.kind === 'native' && sessions.size > 0)) {
    throw new Failure({ code: 'EDGE_ERR_INTERNAL', message: `this worker already holds session "${name}"` });
  }
  let session: InferenceSession | null = null;
  const t0 = performance.now();
  const source = readSource(spec);
  let fromCache = false;
  let cacheError: string | undefined;
  // The optimized-model cache is native only: ORT-web writes into its in-memory file system.
  const cachePath = boot.kind === 'native' ? spec.optimizedModelPath : undefined;
  if (cachePath === undefined) {
    session = await create(source, optionsFor(spec, spec.graphOptimization));
  } else {
    const id: CacheIdentity = { ortVersion: ortVersion(ort, boot), graphOptimization: spec.graphOptimization };
    const sourceSha = sha256(source);
    const cached = readCache(cachePath, sourceSha, spec.bytes === undefined ? spec.file : null, id);
    if (cached !== null) {
      try {
        session = await create(cached, optionsFor(spec, 'disabled'));
        fromCache = true;
      } catch {
        session = null; // a cache ORT refuses is a miss: fall through to the source
      }
    }
    if (session === null) {
      // A cache is an optimisation (issue 12 item 9): when ORT cannot write it (disk full,
      // read-only) the model loads without it and the reason is reported, never the model refused.
      // A model ORT refuses fails the second create too, with ORT's own message.
      const tmp = tempCachePath(cachePath);
      try {
        session = await create(source, optionsFor(spec, spec.graphOptimization, tmp));
        cacheError = commitCache(tmp, cachePath, sourceSha, id) ?? undefined;
      } catch (e) {
        rmSync(tmp, { force: true });
        session = await create(source, optionsFor(spec, spec.graphOptimization));
        cacheError = errorMessage(e);
      }
    }
  }
  const loadMs = performance.now() - t0;
  sessions.set(name, session);
  let warmupMs: number | null = null;
  if (spec.warmup !== undefined) {
    const w0 = performance.now();
    try {
      await session.run(toOrt(spec.warmup));
    } catch (e) {
      await unload(name);
      throw new Failure({ code: 'EDGE_ERR_LOAD_FAILED', message: `warm-up run failed: ${errorMessage(e)}` });
    }
    warmupMs = performance.now() - w0;
  }
  return { inputNames: [...session.inputNames], outputNames: [...session.outputNames], inputs: ioSpecs(session.inputMetadata), outputs: ioSpecs(session.outputMetadata), loadMs, warmupMs, fromCache, ...(cacheError === undefined ? {} : { cacheError }) };
}

/** Releases a named session; unknown names are ignored. */
async function unload(name: string): Promise<void> {
  const session = sessions.get(name);
  sessions.delete(name);
  await session?.release();
}

async function run(name: string, inputs: NamedTensors): Promise<{ reply: RunReply; transfer: ArrayBuffer[] }> {
  const session = sessions.get(name);
  if (session === undefined) throw new Failure({ code: 'EDGE_ERR_MODEL_UNAVAILABLE', message: 'no session loaded in this worker' });
  const feeds = toOrt(inputs);
  const t0 = performance.now();
  let out: InferenceSession.OnnxValueMapType;
  try {
    out = await session.run(feeds);
  } catch (e) {
    throw new Failure({ code: 'EDGE_ERR_INFERENCE_FAILED', message: errorMessage(e) });
  }
  const inferenceMs = performance.now() - t0;
  const outputs = fromOrt(out);
  return { reply: { outputs, inferenceMs }, transfer: prepareTransfer(outputs) };
}

function failureOf(e: unknown): WorkerFailure {
  return e instanceof Failure ? e.failure : { code: 'EDGE_ERR_INTERNAL', message: errorMessage(e) };
}

function fail(id: number, e: unknown): void {
  port.postMessage({ type: 'fail', id, error: failureOf(e) } satisfies FromWorker);
}

/** The shared-memory hop (ring-server.ts); absent when the engine turned it off. */
const ring = boot.ring === undefined ? undefined : new RingServer(boot.ring, run, failureOf, (msg, transfer) => port.postMessage(msg, transfer));
const done = (): void => ring?.messageDone();

port.on('message', (msg: ToWorker) => {
  ring?.messageArrived();
  switch (msg.type) {
    case 'load':
      load(msg.session ?? '', msg.spec)
        .then(
          (reply) => {
            // The model's bytes are in the wasm heap now; their JS copy is garbage (wasm-v8-flags.ts).
            if (boot.initRuntime === true) collectGarbage();
            port.postMessage({ type: 'loaded', id: msg.id, reply } satisfies FromWorker);
          },
          (e) => fail(msg.id, e),
        )
        .finally(done);
      break;
    case 'run':
      run(msg.session ?? '', msg.inputs)
        .then(
          ({ reply, transfer }) => port.postMessage({ type: 'ran', id: msg.id, reply } satisfies FromWorker, transfer),
          (e) => fail(msg.id, e),
        )
        .finally(done);
      break;
    case 'unload':
      unload(msg.session)
        .then(
          () => port.postMessage({ type: 'pong', id: msg.id } satisfies FromWorker),
          (e) => fail(msg.id, e),
        )
        .finally(done);
      break;
    case 'ping':
      port.postMessage({ type: 'pong', id: msg.id } satisfies FromWorker);
      done();
      break;
    case 'stop':
      // Handled between runs, never inside onnxruntime's native run: terminating the thread during
      // one aborted the whole process ("terminate called after throwing an instance of
      // 'Napi::Error'"). No `done()`: the ring is not served again.
      process.exit(0);
      return;
    case 'crash':
      // process.exit in a worker stops the thread a little later, not at once: return without
      // `done()` so the ring is not served again meanwhile.
      if (boot.allowTestHooks) {
        process.exit(70);
        return;
      }
      fail(msg.id, new Failure({ code: 'EDGE_ERR_INTERNAL', message: 'test hooks are disabled in this engine' }));
      done();
      break;
  }
});
ring?.arm();
