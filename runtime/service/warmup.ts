/**
 * A warm-up input for a model: zeros of batch 1 for every input, symbolic dims set to 1.
 * Run once after load so RSS and first-run costs are paid at start, not by the first request.
 */
import type { TensorSpec } from '../repository/types.js';
import { allocate, elementCount, type NamedTensors } from '../tensor.js';

export function warmupInputs(specs: readonly TensorSpec[]): NamedTensors {
  const out: NamedTensors = {};
  for (const s of specs) {
    const dims = s.shape.map((d) => (typeof d === 'number' ? d : 1));
    out[s.name] = { dtype: s.dtype, dims, data: allocate(s.dtype, elementCount(dims)) };
  }
  return out;
}
