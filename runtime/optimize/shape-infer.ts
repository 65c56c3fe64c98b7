/**
 * A small static shape propagator at batch 1, for MAC counting and activation-size estimates.
 * Pure. It covers the ops our models use (elementwise, MatMul, Gemm, Conv, pooling, Flatten,
 * Reshape with a constant shape, the quantized forms); anything else yields an unknown shape.
 * Symbolic dims: the first dim of a graph input is taken as the batch (1); other symbolic dims are
 * unknown (null), and so is anything computed from them.
 */
import { attrInt, attrInts, indexGraph } from './graph-util.js';
import type { GraphProto, NodeProto, TypeProto } from './onnx-types.js';
import { tensorToNumbers } from './tensor-util.js';

export type Shape = (number | null)[];

const ELEMENTWISE = new Set([
  'Relu',
  'LeakyRelu',
  'Sigmoid',
  'Tanh',
  'Gelu',
  'Erf',
  'Exp',
  'Log',
  'Sqrt',
  'Neg',
  'Abs',
  'Clip',
  'Softmax',
  'LogSoftmax',
  'Dropout',
  'Identity',
  'BatchNormalization',
  'LayerNormalization',
  'Cast',
  'HardSigmoid',
  'HardSwish',
  'Elu',
  'Selu',
  'DynamicQuantizeLinear',
  'QuantizeLinear',
  'DequantizeLinear',
  'Softplus',
  'Mish',
  'InstanceNormalization',
]);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Where', 'Sum']);

function fromType(type: TypeProto | undefined, isGraphInput: boolean): Shape | undefined {
  const dims = type?.tensorType?.shape?.dim;
  if (dims === undefined) return undefined;
  return dims.map((d, i) => (d.dimValue !== undefined ? d.dimValue : isGraphInput && i === 0 ? 1 : null));
}

function broadcast(a: Shape, b: Shape): Shape {
  const n = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    out.push(x === 1 ? y : y === 1 ? x : x === null || y === null ? null : Math.max(x, y));
  }
  return out;
}

function matmul(a: Shape, b: Shape): Shape | undefined {
  if (a.length < 1 || b.length < 1) return undefined;
  if (b.length === 1) return a.slice(0, -1);
  const batch = broadcast(a.slice(0, -2), b.slice(0, -2));
  return [...batch, ...(a.length >= 2 ? [a[a.length - 2] ?? null] : []), b[b.length - 1] ?? null];
}

function conv(node: NodeProto, x: Shape, w: Shape): Shape | undefined {
  const spatial = x.length - 2;
  if (spatial < 1) return undefined;
  const kernel = attrInts(node, 'kernel_shape') ?? w.slice(2);
  const strides = attrInts(node, 'strides') ?? [];
  const dil = attrInts(node, 'dilations') ?? [];
  const pads = attrInts(node, 'pads') ?? [];
  const autoPad = node.attribute.find((a) => a.name === 'auto_pad')?.s;
  const same = autoPad !== undefined && new TextDecoder().decode(autoPad).startsWith('SAME');
  const out: Shape = [x[0] ?? null, w[0] ?? null];
  for (let i = 0; i < spatial; i++) {
    const size = x[i + 2];
    const k = kernel[i];
    if (size === null || size === undefined || k === null || k === undefined) {
      out.push(null);
      continue;
    }
    const s = strides[i] ?? 1;
    if (same) {
      out.push(Math.ceil(size / s));
      continue;
    }
    const d = dil[i] ?? 1;
    const p = (pads[i] ?? 0) + (pads[i + spatial] ?? 0);
    out.push(Math.floor((size + p - d * (k - 1) - 1) / s) + 1);
  }
  return out;
}

/**
 * Shapes of every value whose shape can be determined, keyed by value name. `outer`: the shapes of
 * the enclosing graph, for a subgraph that reads outer-scope values (If / Loop / Scan bodies).
 */
export function inferShapes(g: GraphProto, outer?: ReadonlyMap<string, Shape>): Map<string, Shape> {
  const shapes = new Map<string, Shape>(outer ?? []);
  const idx = indexGraph(g);
  for (const t of g.initializer) shapes.set(t.name ?? '', [...t.dims]);
  for (const v of g.input) {
    const s = fromType(v.type, true);
    if (s && !shapes.has(v.name ?? '')) shapes.set(v.name ?? '', s);
  }
  for (const v of [...g.valueInfo, ...g.output]) {
    const s = fromType(v.type, false);
    if (s) shapes.set(v.name ?? '', s);
  }
  const get = (n: string | undefined): Shape | undefined => (n === undefined ? undefined : shapes.get(n));
  for (const node of g.node) {
    const op = node.opType ?? '';
    const a = get(node.input[0]);
    const b = get(node.input[1]);
    let out: Shape | undefined;
    if (ELEMENTWISE.has(op)) out = a;
    else if (BROADCAST.has(op)) out = node.input.map(get).reduce<Shape | undefined>((acc, s) => (acc && s ? broadcast(acc, s) : undefined), []);
    else if ((op === 'MatMul' || op === 'MatMulInteger' || op === 'FusedMatMul' || op === 'DynamicQuantizeMatMul') && a && b) out = matmul(a, b);
    else if (op === 'MatMulNBits' && a) out = [...a.slice(0, -1), attrInt(node, 'N', 0)];
    else if ((op === 'Gemm' || op === 'FusedGemm') && a && b) {
      const m = attrInt(node, 'transA', 0) ? a[1] : a[0];
      const n = attrInt(node, 'transB', 0) ? b[0] : b[1];
      out = [m ?? null, n ?? null];
    } else if ((op === 'Conv' || op === 'ConvInteger' || op === 'FusedConv') && a && b) out = conv(node, a, b);
    else if ((op === 'MaxPool' || op === 'AveragePool') && a) {
      const k = attrInts(node, 'kernel_shape') ?? [];
      out = conv(node, a, [a[1] ?? null, a[1] ?? null, ...k]);
    } else if ((op === 'GlobalAveragePool' || op === 'GlobalMaxPool') && a) out = [a[0] ?? null, a[1] ?? null, ...a.slice(2).map(() => 1)];
    else if (op === 'Flatten' && a) {
      let axis = attrInt(node, 'axis', 1);
      if (axis < 0) axis += a.length;
      const prod = (s: Shape): number | null => s.reduce<number | null>((x, y) => (x === null || y === null ? null : x * y), 1);
      out = [prod(a.slice(0, axis)), prod(a.slice(axis))];
    } else if (op === 'Reshape' && a) {
      const shapeInit = idx.initializers.get(node.input[1] ?? '');
      if (shapeInit) {
        const target: Shape = tensorToNumbers(shapeInit).map((d, i) => (d === 0 ? (a[i] ?? null) : d));
        const total = a.reduce<number | null>((x, y) => (x === null || y === null ? null : x * y), 1);
        const known = target.reduce<number | null>((x, y) => (x === null || y === null || y === -1 ? x : x * y), 1);
        out = target.map((d) => (d === -1 ? (total !== null && known ? total / known : null) : d));
      }
    }
    if (op === 'DynamicQuantizeLinear') for (const o of node.output.slice(1)) shapes.set(o, []); // y_scale, y_zero_point are scalars
    if (out && node.output[0] !== undefined && (op !== 'Reshape' || !out.includes(null) || !shapes.has(node.output[0]))) shapes.set(node.output[0], out);
  }
  return shapes;
}

/** Product of a shape, or null when any dim is unknown. */
export function shapeSize(s: Shape | undefined): number | null {
  if (s === undefined) return null;
  return s.reduce<number | null>((x, y) => (x === null || y === null ? null : x * y), 1);
}
