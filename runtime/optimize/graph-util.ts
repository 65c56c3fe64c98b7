/**
 * NodeProto / AttributeProto helpers and graph indexes (producers, consumers, initializers).
 * Indexes are snapshots: rebuild them after editing the graph.
 */
import { AttrType } from './onnx-schema.js';
import type { AttributeProto, GraphProto, NodeProto, OnnxModel, TensorProto, ValueInfoProto } from './onnx-types.js';

function emptyAttribute(name: string, type: number): AttributeProto {
  return { name, type, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparseTensors: [], typeProtos: [] };
}

export function intAttr(name: string, i: number): AttributeProto {
  return { ...emptyAttribute(name, AttrType.INT), i };
}

export function floatAttr(name: string, f: number): AttributeProto {
  return { ...emptyAttribute(name, AttrType.FLOAT), f };
}

export function intsAttr(name: string, ints: readonly number[]): AttributeProto {
  return { ...emptyAttribute(name, AttrType.INTS), ints: [...ints] };
}

export function makeNode(opType: string, input: readonly string[], output: readonly string[], name: string, attribute: AttributeProto[] = [], domain?: string): NodeProto {
  const node: NodeProto = { opType, input: [...input], output: [...output], name, attribute, metadataProps: [], deviceConfigurations: [] };
  if (domain !== undefined) node.domain = domain;
  return node;
}

/** A float32 graph input/output: integer dims are fixed, strings symbolic ("batch"). */
export function floatValueInfo(name: string, dims: readonly (number | string)[]): ValueInfoProto {
  return { name, metadataProps: [], type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

export function getAttr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, fallback: number): number {
  return getAttr(node, name)?.i ?? fallback;
}

export function attrFloat(node: NodeProto, name: string, fallback: number): number {
  return getAttr(node, name)?.f ?? fallback;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  return getAttr(node, name)?.ints;
}

/** "op" for the default domain, "domain.op" otherwise ("com.microsoft.MatMulNBits"). */
export function qualifiedOp(node: NodeProto): string {
  const d = node.domain ?? '';
  return d === '' || d === 'ai.onnx' ? (node.opType ?? '') : `${d}.${node.opType ?? ''}`;
}

export interface GraphIndex {
  initializers: Map<string, TensorProto>;
  /** Output name -> the node producing it. */
  producer: Map<string, NodeProto>;
  /** Value name -> nodes reading it. */
  consumers: Map<string, NodeProto[]>;
  graphOutputs: Set<string>;
}

export function indexGraph(g: GraphProto): GraphIndex {
  const initializers = new Map(g.initializer.map((t) => [t.name ?? '', t] as const));
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node) {
    for (const o of n.output) producer.set(o, n);
    for (const i of n.input) {
      if (i === '') continue;
      const list = consumers.get(i) ?? [];
      list.push(n);
      consumers.set(i, list);
    }
  }
  return { initializers, producer, consumers, graphOutputs: new Set(g.output.map((o) => o.name ?? '')) };
}

/** Removes initializers no node input and no graph output references. Returns how many went. */
export function dropUnusedInitializers(g: GraphProto): number {
  const used = new Set<string>();
  for (const n of g.node) for (const i of n.input) used.add(i);
  for (const o of g.output) used.add(o.name ?? '');
  const before = g.initializer.length;
  g.initializer = g.initializer.filter((t) => used.has(t.name ?? ''));
  return before - g.initializer.length;
}

/** A name not yet used by any value in the graph, derived from `base`. */
export function uniqueNamer(g: GraphProto): (base: string) => string {
  const taken = new Set<string>();
  for (const n of g.node) {
    for (const v of [...n.input, ...n.output]) taken.add(v);
    if (n.name) taken.add(n.name);
  }
  for (const t of g.initializer) taken.add(t.name ?? '');
  for (const v of [...g.input, ...g.output, ...g.valueInfo]) taken.add(v.name ?? '');
  return (base) => {
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };
}

/** Ensures the model imports `domain` at least at `version`. */
export function ensureOpset(model: OnnxModel, domain: string, version: number): void {
  const found = model.opsetImport.find((o) => (o.domain ?? '') === domain);
  if (found === undefined) model.opsetImport.push({ domain, version });
  else if ((found.version ?? 0) < version) found.version = version;
}

/** The default-domain opset version (0 when absent). */
export function defaultOpset(model: OnnxModel): number {
  return model.opsetImport.find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx')?.version ?? 0;
}

/** Deep copy of a model (byte fields are shared views: they are never mutated in place). */
export function cloneModel(model: OnnxModel): OnnxModel {
  return structuredCloneKeepingBytes(model) as OnnxModel;
}

function structuredCloneKeepingBytes(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(structuredCloneKeepingBytes);
  if (v instanceof Uint8Array) return v;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = structuredCloneKeepingBytes(x);
    return out;
  }
  return v;
}
