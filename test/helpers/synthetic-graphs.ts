/**
 * Small synthetic ONNX graphs of the structures real exports have (issue 10), built with the
 * project's own writer: BatchNormalization left unfused, depthwise Conv, residual Add, weights in
 * Constant nodes (paddle2onnx style, behind Identity), a Conv + MatMul inside the branches of an If,
 * an LSTM. Deterministic (seeded).
 */
import { floatAttr, floatValueInfo, intAttr, intsAttr, makeNode } from '../../runtime/optimize/graph-util.js';
import type { AttributeProto, GraphProto, NodeProto, OnnxModel, TensorProto } from '../../runtime/optimize/onnx-types.js';
import { emptyTensor, makeFloatTensor } from '../../runtime/optimize/tensor-util.js';
import { signedUniform } from './prng.js';

function rand(n: number, r: () => number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => r() * scale);
}

function positive(n: number, r: () => number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, () => lo + ((r() + 1) / 2) * (hi - lo));
}

function graphAttr(name: string, g: GraphProto): AttributeProto {
  return { name, type: 5, g, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparseTensors: [], typeProtos: [] };
}

function tensorAttr(name: string, t: TensorProto): AttributeProto {
  return { name, type: 4, t, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparseTensors: [], typeProtos: [] };
}

export function wrapModel(graph: GraphProto, opset: number, extraOpsets: { domain: string; version: number }[] = []): OnnxModel {
  return { irVersion: opset >= 21 ? 10 : opset >= 13 ? 7 : 6, opsetImport: [{ domain: '', version: opset }, ...extraOpsets], producerName: 'edge-infer-test', metadataProps: [], trainingInfo: [], functions: [], configuration: [], graph };
}

function graph(name: string, node: NodeProto[], initializer: TensorProto[], input: GraphProto['input'], output: GraphProto['output']): GraphProto {
  return { name, node, initializer, sparseInitializer: [], input, output, valueInfo: [], quantizationAnnotation: [], metadataProps: [] };
}

export interface CnnOptions {
  /** Keep BatchNormalization after the first conv (default true). */
  batchNorm?: boolean;
  /** Put conv weights in Constant nodes behind Identity instead of initializers (default false). */
  constantNodes?: boolean;
  /** Default opset (default 17). */
  opset?: number;
  /** Channels of the residual block (default 8). */
  channels?: number;
  /** Input side (default 16). */
  size?: number;
  seed?: number;
}

/**
 * x[N,1,S,S] -> Conv3x3(C) -> BN -> Relu -> [depthwise Conv3x3 -> Relu -> Conv1x1 -> Add(residual) -> Relu]
 * -> MaxPool2 -> Conv3x3(2C) -> Relu -> GlobalAveragePool -> Flatten -> Gemm(10) -> y[N,10]
 */
export function buildCnn(o: CnnOptions = {}): OnnxModel {
  const r = signedUniform(o.seed ?? 7);
  const c = o.channels ?? 8;
  const s = o.size ?? 16;
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  const weight = (name: string, dims: number[], fanIn: number): string => {
    const data = rand(
      dims.reduce((a, b) => a * b, 1),
      r,
      Math.sqrt(6 / fanIn),
    );
    if (!o.constantNodes) {
      inits.push(makeFloatTensor(name, dims, data));
      return name;
    }
    nodes.push(makeNode('Constant', [], [`${name}_const`], `${name}_Constant`, [tensorAttr('value', makeFloatTensor(`${name}_const`, dims, data))]));
    nodes.push(makeNode('Identity', [`${name}_const`], [name], `${name}_Identity`));
    return name;
  };
  const bias = (name: string, n: number): string => {
    inits.push(makeFloatTensor(name, [n], rand(n, r, 0.1)));
    return name;
  };
  const pads = intsAttr('pads', [1, 1, 1, 1]);
  nodes.push(makeNode('Conv', ['x', weight('w1', [c, 1, 3, 3], 9), bias('b1', c)], ['c1'], 'conv1', [pads, intsAttr('kernel_shape', [3, 3])]));
  let h = 'c1';
  if (o.batchNorm !== false) {
    inits.push(makeFloatTensor('bn_scale', [c], positive(c, r, 0.5, 1.5)), makeFloatTensor('bn_bias', [c], rand(c, r, 0.2)), makeFloatTensor('bn_mean', [c], rand(c, r, 0.3)), makeFloatTensor('bn_var', [c], positive(c, r, 0.5, 2)));
    nodes.push(makeNode('BatchNormalization', ['c1', 'bn_scale', 'bn_bias', 'bn_mean', 'bn_var'], ['bn1'], 'bn1', [floatAttr('epsilon', 1e-5)]));
    h = 'bn1';
  }
  nodes.push(makeNode('Relu', [h], ['r1'], 'relu1'));
  nodes.push(makeNode('Conv', ['r1', weight('wdw', [c, 1, 3, 3], 9), bias('bdw', c)], ['dw'], 'conv_dw', [pads, intAttr('group', c)]));
  nodes.push(makeNode('Relu', ['dw'], ['r2'], 'relu2'));
  nodes.push(makeNode('Conv', ['r2', weight('wpw', [c, c, 1, 1], c), bias('bpw', c)], ['pw'], 'conv_pw'));
  nodes.push(makeNode('Add', ['pw', 'r1'], ['res'], 'residual_add'));
  nodes.push(makeNode('Relu', ['res'], ['r3'], 'relu3'));
  nodes.push(makeNode('MaxPool', ['r3'], ['mp'], 'pool', [intsAttr('kernel_shape', [2, 2]), intsAttr('strides', [2, 2])]));
  nodes.push(makeNode('Conv', ['mp', weight('w3', [2 * c, c, 3, 3], 9 * c), bias('b3', 2 * c)], ['c3'], 'conv3', [pads]));
  nodes.push(makeNode('Relu', ['c3'], ['r4'], 'relu4'));
  nodes.push(makeNode('GlobalAveragePool', ['r4'], ['gap'], 'gap'));
  nodes.push(makeNode('Flatten', ['gap'], ['flat'], 'flatten'));
  inits.push(makeFloatTensor('wfc', [10, 2 * c], rand(20 * c, r, Math.sqrt(6 / (2 * c)))), makeFloatTensor('bfc', [10], rand(10, r, 0.1)));
  nodes.push(makeNode('Gemm', ['flat', 'wfc', 'bfc'], ['y'], 'fc', [intAttr('transB', 1)]));
  return wrapModel(graph('cnn', nodes, inits, [floatValueInfo('x', ['batch', 1, s, s])], [floatValueInfo('y', ['batch', 10])]), o.opset ?? 17);
}

/** A branch: x[N,1,S,S] -> Conv3x3(4) -> Relu -> GlobalAveragePool -> Flatten -> MatMul(4x3) -> y_branch. */
function branch(tag: string, r: () => number): GraphProto {
  const inits = [makeFloatTensor(`${tag}_w`, [4, 1, 3, 3], rand(36, r, 0.8)), makeFloatTensor(`${tag}_b`, [4], rand(4, r, 0.1)), makeFloatTensor(`${tag}_fc`, [4, 3], rand(12, r, 1))];
  const nodes = [
    makeNode('Conv', ['x', `${tag}_w`, `${tag}_b`], [`${tag}_c`], `${tag}_conv`, [intsAttr('pads', [1, 1, 1, 1])]),
    makeNode('Relu', [`${tag}_c`], [`${tag}_r`], `${tag}_relu`),
    makeNode('GlobalAveragePool', [`${tag}_r`], [`${tag}_g`], `${tag}_gap`),
    makeNode('Flatten', [`${tag}_g`], [`${tag}_f`], `${tag}_flatten`),
    makeNode('MatMul', [`${tag}_f`, `${tag}_fc`], [`${tag}_y`], `${tag}_matmul`),
  ];
  return graph(tag, nodes, inits, [], [floatValueInfo(`${tag}_y`, ['batch', 3])]);
}

/** x[N,1,8,8], flag bool[] -> If(flag, then: branch A, else: branch B) -> y[N,3]. Weights live inside the branches. */
export function buildIfModel(opset = 13): OnnxModel {
  const r = signedUniform(11);
  const ifNode = makeNode('If', ['flag'], ['y'], 'branch_if', [graphAttr('then_branch', branch('then', r)), graphAttr('else_branch', branch('else', r))]);
  const flag = { name: 'flag', metadataProps: [], type: { tensorType: { elemType: 9, shape: { dim: [] } } } };
  return wrapModel(graph('if_model', [ifNode], [], [floatValueInfo('x', ['batch', 1, 8, 8]), flag], [floatValueInfo('y', ['batch', 3])]), opset);
}

/** x[N,T,8] -> Transpose -> LSTM(hidden 16) -> Y_h[1,N,16] -> Squeeze -> MatMul(16x4) -> y[N,4] (a batch_first export). */
export function buildLstmModel(opset = 14): OnnxModel {
  const r = signedUniform(5);
  const hidden = 16;
  const inits = [
    makeFloatTensor('W', [1, 4 * hidden, 8], rand(4 * hidden * 8, r, 0.4)),
    makeFloatTensor('R', [1, 4 * hidden, hidden], rand(4 * hidden * hidden, r, 0.3)),
    makeFloatTensor('B', [1, 8 * hidden], rand(8 * hidden, r, 0.1)),
    { ...emptyTensor('axes', 7, [1]), int64Data: [0] },
    makeFloatTensor('fc', [hidden, 4], rand(hidden * 4, r, 0.5)),
  ];
  const nodes = [makeNode('Transpose', ['x'], ['x_tnc'], 'to_time_major', [intsAttr('perm', [1, 0, 2])]), makeNode('LSTM', ['x_tnc', 'W', 'R', 'B'], ['Y', 'Y_h'], 'lstm', [intAttr('hidden_size', hidden)]), makeNode('Squeeze', ['Y_h', 'axes'], ['h'], 'squeeze'), makeNode('MatMul', ['h', 'fc'], ['y'], 'head')];
  return wrapModel(graph('lstm_model', nodes, inits, [floatValueInfo('x', ['batch', 'time', 8])], [floatValueInfo('y', ['batch', 4])]), opset);
}

/**
 * A residual block with a depthwise conv inside, for pruning:
 * x[N,4,8,8] -> conv0(8) -> BN -> Relu = h -> conv_a(16) -> BN -> Relu -> depthwise(16) -> Relu
 * -> conv_b(8) -> Add(h) -> Relu -> GlobalAveragePool -> Flatten -> Gemm(10) -> y.
 * With `weakHalf`, the odd channels of conv_a (and their reads in conv_b) are scaled by 1e-3, so a
 * 50% prune removes exactly them and the output barely moves.
 */
export function buildResidualBlock(weakHalf = false, seed = 3): OnnxModel {
  const r = signedUniform(seed);
  const w = (n: number, fan: number): Float32Array => rand(n, r, Math.sqrt(6 / fan));
  const wa = w(16 * 8 * 9, 72);
  const wb = w(8 * 16, 16);
  if (weakHalf) {
    for (let i = 0; i < wa.length; i++) if (Math.floor(i / 72) % 2 === 1) wa[i] = (wa[i] as number) * 1e-3;
    for (let i = 0; i < wb.length; i++) if ((i % 16) % 2 === 1) wb[i] = (wb[i] as number) * 1e-3;
  }
  const bn = (p: string, c: number): TensorProto[] => [makeFloatTensor(`${p}_s`, [c], positive(c, r, 0.5, 1.5)), makeFloatTensor(`${p}_b`, [c], rand(c, r, 0.2)), makeFloatTensor(`${p}_m`, [c], rand(c, r, 0.2)), makeFloatTensor(`${p}_v`, [c], positive(c, r, 0.5, 2))];
  const inits = [
    makeFloatTensor('w0', [8, 4, 3, 3], w(288, 36)),
    ...bn('bn0', 8),
    makeFloatTensor('wa', [16, 8, 3, 3], wa),
    ...bn('bna', 16),
    makeFloatTensor('wdw', [16, 1, 3, 3], w(144, 9)),
    makeFloatTensor('bdw', [16], rand(16, r, 0.1)),
    makeFloatTensor('wb', [8, 16, 1, 1], wb),
    makeFloatTensor('bb', [8], rand(8, r, 0.1)),
    makeFloatTensor('wfc', [10, 8], w(80, 8)),
    makeFloatTensor('bfc', [10], rand(10, r, 0.1)),
  ];
  const pads = intsAttr('pads', [1, 1, 1, 1]);
  const nodes = [
    makeNode('Conv', ['x', 'w0'], ['c0'], 'conv0', [pads]),
    makeNode('BatchNormalization', ['c0', 'bn0_s', 'bn0_b', 'bn0_m', 'bn0_v'], ['n0'], 'bn0'),
    makeNode('Relu', ['n0'], ['h'], 'relu0'),
    makeNode('Conv', ['h', 'wa'], ['ca'], 'conv_a', [pads]),
    makeNode('BatchNormalization', ['ca', 'bna_s', 'bna_b', 'bna_m', 'bna_v'], ['na'], 'bna'),
    makeNode('Relu', ['na'], ['ra'], 'relu_a'),
    makeNode('Conv', ['ra', 'wdw', 'bdw'], ['dw'], 'conv_dw', [pads, intAttr('group', 16)]),
    makeNode('Relu', ['dw'], ['rdw'], 'relu_dw'),
    makeNode('Conv', ['rdw', 'wb', 'bb'], ['cb'], 'conv_b'),
    makeNode('Add', ['cb', 'h'], ['sum'], 'residual_add'),
    makeNode('Relu', ['sum'], ['rs'], 'relu_sum'),
    makeNode('GlobalAveragePool', ['rs'], ['gap'], 'gap'),
    makeNode('Flatten', ['gap'], ['flat'], 'flatten'),
    makeNode('Gemm', ['flat', 'wfc', 'bfc'], ['y'], 'fc', [intAttr('transB', 1)]),
  ];
  return wrapModel(graph('residual', nodes, inits, [floatValueInfo('x', ['batch', 4, 8, 8])], [floatValueInfo('y', ['batch', 10])]), 13);
}

/** x[N,8,4,4] -> Conv(8) -> Relu -> ConvTranspose(4, k2 s2) -> BN -> Relu -> Conv1x1(4) -> y[N,4,8,8] (a decoder step). */
export function buildDecoder(seed = 13): OnnxModel {
  const r = signedUniform(seed);
  const inits = [
    makeFloatTensor('w0', [8, 8, 3, 3], rand(576, r, 0.3)),
    makeFloatTensor('b0', [8], rand(8, r, 0.1)),
    makeFloatTensor('wt', [8, 4, 2, 2], rand(128, r, 0.5)),
    makeFloatTensor('bt', [4], rand(4, r, 0.1)),
    makeFloatTensor('bn_s', [4], positive(4, r, 0.5, 1.5)),
    makeFloatTensor('bn_b', [4], rand(4, r, 0.2)),
    makeFloatTensor('bn_m', [4], rand(4, r, 0.2)),
    makeFloatTensor('bn_v', [4], positive(4, r, 0.5, 2)),
    makeFloatTensor('w1', [4, 4, 1, 1], rand(16, r, 0.8)),
    makeFloatTensor('b1', [4], rand(4, r, 0.1)),
  ];
  const nodes = [
    makeNode('Conv', ['x', 'w0', 'b0'], ['c0'], 'conv0', [intsAttr('pads', [1, 1, 1, 1])]),
    makeNode('Relu', ['c0'], ['r0'], 'relu0'),
    makeNode('ConvTranspose', ['r0', 'wt', 'bt'], ['up'], 'up', [intsAttr('kernel_shape', [2, 2]), intsAttr('strides', [2, 2])]),
    makeNode('BatchNormalization', ['up', 'bn_s', 'bn_b', 'bn_m', 'bn_v'], ['upn'], 'bn_up'),
    makeNode('Relu', ['upn'], ['r1'], 'relu1'),
    makeNode('Conv', ['r1', 'w1', 'b1'], ['y'], 'conv1'),
  ];
  return wrapModel(graph('decoder', nodes, inits, [floatValueInfo('x', ['batch', 8, 4, 4])], [floatValueInfo('y', ['batch', 4, 8, 8])]), 13);
}
