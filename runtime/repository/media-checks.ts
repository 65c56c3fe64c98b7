/**
 * Manifest rules for image / audio preprocessing, streams and events (issue 11) that a JSON Schema
 * cannot express: the names they use exist among the manifest's inputs and outputs with usable
 * shapes. Pure; part of manifestProblems (EDGE_ERR_MANIFEST_INVALID).
 */
import type { SchemaProblem } from '../config/schema-check.js';
import type { ModelManifest, TensorSpec } from './types.js';

/** Symbolic dims of a state input are taken as 1 (one stream per run), e.g. silero's h [2, batch, 64]; all-symbolic is refused. */
function stateDimsProblem(spec: TensorSpec): string | null {
  return spec.shape.length > 0 && spec.shape.every((d) => typeof d === 'string') ? `state input "${spec.name}" needs a fixed size, not [${spec.shape.join(',')}]` : null;
}

export function mediaProblems(m: ModelManifest): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const inputs = m.inputs.map((i) => i.name);
  const outputs = m.outputs.map((o) => o.name);
  const input = (name: string): TensorSpec | undefined => m.inputs.find((i) => i.name === name);
  const pre = m.preprocess;
  if (pre?.kind === 'image') {
    const spec = input(pre.input);
    if (spec === undefined) problems.push({ path: '/preprocess/input', message: 'names no input of this model', allowed: inputs });
    else {
      const c = pre.colour === 'grey' ? 1 : 3;
      const want = pre.layout === 'NCHW' ? [c, pre.height, pre.width] : [pre.height, pre.width, c];
      const got = spec.shape.slice(1);
      if (spec.dtype !== pre.dtype) problems.push({ path: '/preprocess/dtype', message: `is ${pre.dtype} but input "${spec.name}" is ${spec.dtype}` });
      if (got.length !== 3 || got.some((d, i) => typeof d === 'number' && d !== want[i])) {
        problems.push({ path: '/preprocess', message: `makes [1,${want.join(',')}] but input "${spec.name}" is [${spec.shape.join(',')}]` });
      }
    }
  }
  if (pre?.kind === 'audio') {
    const spec = input(pre.input);
    if (spec === undefined) problems.push({ path: '/preprocess/input', message: 'names no input of this model', allowed: inputs });
    else if (spec.dtype !== 'float32' || spec.shape.length !== 2) problems.push({ path: '/preprocess/input', message: `input "${spec.name}" must be float32 [1, samples]` });
    if ((pre.contextSamples ?? 0) >= pre.frameSamples) problems.push({ path: '/preprocess/contextSamples', message: 'must be smaller than frameSamples' });
    if (pre.rateInput !== undefined && input(pre.rateInput)?.dtype !== 'int64') problems.push({ path: '/preprocess/rateInput', message: 'must name an int64 input', allowed: inputs });
  }
  (m.streams?.state ?? []).forEach((p, i) => {
    const at = `/streams/state/${i}`;
    const spec = input(p.input);
    if (spec === undefined) problems.push({ path: `${at}/input`, message: 'names no input of this model', allowed: inputs });
    else {
      const problem = stateDimsProblem(spec);
      if (problem !== null) problems.push({ path: `${at}/input`, message: problem });
    }
    if (!outputs.includes(p.output)) problems.push({ path: `${at}/output`, message: 'names no output of this model', allowed: outputs });
  });
  (m.events ?? []).forEach((e, i) => {
    const at = `/events/${i}`;
    if (!outputs.includes(e.output)) problems.push({ path: `${at}/output`, message: 'names no output of this model', allowed: outputs });
    if (e.kind === 'threshold' && e.off > e.on) problems.push({ path: `${at}/off`, message: `must be <= on (${e.on}) for hysteresis` });
  });
  return problems;
}
