/**
 * Does a loaded session's I/O match the manifest? Pure. Names and dtypes must be equal, ranks must
 * agree where both sides know the shape, fixed dims must be equal; a symbolic dim on either side
 * matches anything. A session that reports no I/O (undefined) is not checked.
 * Used by ModelRuntime after engine.load: a mismatch refuses the variant with EDGE_ERR_MODEL_MISMATCH.
 */
import type { IoSpec } from '../backend/types.js';
import type { TensorSpec } from '../repository/types.js';

export interface IoMismatch {
  side: 'input' | 'output';
  name: string;
  problem: string;
}

function compareSide(side: IoMismatch['side'], manifest: readonly TensorSpec[], session: readonly IoSpec[]): IoMismatch[] {
  const out: IoMismatch[] = [];
  const byName = new Map(session.map((s) => [s.name, s]));
  for (const m of manifest) {
    const s = byName.get(m.name);
    if (!s) {
      out.push({ side, name: m.name, problem: `the model file has no ${side} "${m.name}" (it has ${session.map((x) => x.name).join(', ') || 'none'})` });
      continue;
    }
    byName.delete(m.name);
    if (s.dtype !== m.dtype) out.push({ side, name: m.name, problem: `dtype is ${s.dtype} in the model file, ${m.dtype} in model.json` });
    if (s.shape.length === 0) continue;
    if (s.shape.length !== m.shape.length) {
      out.push({ side, name: m.name, problem: `rank is ${s.shape.length} in the model file, ${m.shape.length} in model.json` });
      continue;
    }
    m.shape.forEach((d, i) => {
      const f = s.shape[i];
      if (typeof d === 'number' && typeof f === 'number' && d !== f) {
        out.push({ side, name: m.name, problem: `dim ${i} is ${f} in the model file, ${d} in model.json` });
      }
    });
  }
  for (const extra of byName.keys()) out.push({ side, name: extra, problem: `the model file has an ${side} "${extra}" that model.json does not list` });
  return out;
}

/** Every difference between the manifest's and the session's inputs and outputs; [] when they match. */
export function checkSessionIo(manifest: { inputs: readonly TensorSpec[]; outputs: readonly TensorSpec[] }, session: { inputs?: readonly IoSpec[] | undefined; outputs?: readonly IoSpec[] | undefined }): IoMismatch[] {
  return [...(session.inputs ? compareSide('input', manifest.inputs, session.inputs) : []), ...(session.outputs ? compareSide('output', manifest.outputs, session.outputs) : [])];
}
