import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { NativeEngine } from '../runtime/backend/native-engine.js';
import type { SessionSpec } from '../runtime/backend/types.js';
import { WasmEngine } from '../runtime/backend/wasm-engine.js';
import type { InferenceEngine } from '../runtime/backend/types.js';
import type { NamedTensors } from '../runtime/tensor.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const session: SessionSpec = { intraOpThreads: 1, graphOptimization: 'all', memArena: true, memPattern: true };
const evalSet = JSON.parse(readFileSync(join(root, 'models/digits/eval/eval.json'), 'utf8')) as { inputs: number[][] };

function digits(): NamedTensors {
  const rows = evalSet.inputs.slice(0, 64);
  return { input: { dtype: 'float32', dims: [rows.length, 64], data: new Float32Array(rows.flat()) } };
}
const addOneInput = (): NamedTensors => ({ x: { dtype: 'float32', dims: [2, 4], data: new Float32Array([0.5, -1, 2, 3, 4, 5, 6, 1e-3]) } });

async function outputs(engine: InferenceEngine, file: string, input: NamedTensors): Promise<Float32Array> {
  const info = await engine.load({ key: 'm', file, session });
  if (info.inputs?.[0]?.shape[0] !== 'batch') throw new Error(`${engine.kind} did not report the dynamic batch dim of ${file}`);
  const r = await engine.run('m', input);
  await engine.unload('m');
  return Object.values(r.outputs)[0]?.data as Float32Array;
}

t.test('the WASM engine answers like the native engine on add-one and the digits teacher', async (t) => {
  const wasm = new WasmEngine();
  const native = new NativeEngine();
  t.teardown(async () => {
    await wasm.close();
    await native.close();
  });
  t.equal(wasm.kind, 'wasm');
  for (const [file, input] of [
    [join(root, 'test/fixtures/models/add-one.onnx'), addOneInput],
    [join(root, 'models/digits/teacher-fp32.onnx'), digits],
  ] as const) {
    const w = await outputs(wasm, file, input());
    const n = await outputs(native, file, input());
    t.equal(w.length, n.length);
    const maxDiff = w.reduce((m, v, i) => Math.max(m, Math.abs(v - (n[i] as number))), 0);
    t.ok(maxDiff <= 1e-5, `${file}: max |wasm - native| = ${maxDiff}`);
  }
});

t.test('the WASM engine maps a bad model to EDGE_ERR_MODEL_INVALID', async (t) => {
  const wasm = new WasmEngine();
  t.teardown(() => wasm.close());
  await t.rejects(wasm.load({ key: 'junk', file: 'junk.onnx', bytes: new Uint8Array([1, 2, 3, 4, 5]), session }), { code: 'EDGE_ERR_MODEL_INVALID' });
});
