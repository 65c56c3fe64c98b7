/**
 * Walking a model's graphs at any depth (the main graph and every If / Loop / Scan body, issue 10),
 * and normalising where weights live so every tool finds them the same way.
 *
 * Contracts:
 * - allGraphs lists the main graph first, then subgraphs depth-first in node order. `scope` is the
 *   graph itself followed by its enclosing graphs (innermost first): a name a node reads resolves
 *   to the first graph in `scope` that defines it (ONNX outer-scope rule).
 * - hoistConstants mutates the model it is given (callers pass a clone): every `Constant` node whose
 *   value is a tensor / float(s) / int(s) becomes an initializer of the same graph under its output
 *   name; `Identity` of an initializer is bypassed (its readers read the initializer), and `Cast` to
 *   float of a constant becomes a float initializer. Values that are graph outputs keep their node.
 * - usedNames / dropUnusedInitializersDeep count reads from subgraphs (outer-scope references), so
 *   an initializer only a branch reads is never dropped.
 */
import { DataType } from './onnx-schema.js';
import type { GraphProto, NodeProto, OnnxModel, TensorProto } from './onnx-types.js';
import { emptyTensor, makeFloatTensor, tensorToFloat32 } from './tensor-util.js';

export interface GraphVisit {
  graph: GraphProto;
  /** "main", or e.g. "main/if_node.then_branch" for a subgraph. */
  path: string;
  depth: number;
  /** This graph, then its enclosing graphs, innermost first. */
  scope: GraphProto[];
}

/** Subgraphs held by a node's attributes, with the attribute name. */
export function nodeSubgraphs(n: NodeProto): { attr: string; graph: GraphProto }[] {
  const out: { attr: string; graph: GraphProto }[] = [];
  for (const a of n.attribute) {
    if (a.g) out.push({ attr: a.name ?? '', graph: a.g });
    a.graphs.forEach((g, i) => out.push({ attr: `${a.name ?? ''}[${i}]`, graph: g }));
  }
  return out;
}

export function allGraphs(model: OnnxModel): GraphVisit[] {
  const out: GraphVisit[] = [];
  const visit = (graph: GraphProto, path: string, depth: number, scope: GraphProto[]): void => {
    out.push({ graph, path, depth, scope });
    for (const n of graph.node) {
      for (const s of nodeSubgraphs(n)) visit(s.graph, `${path}/${n.name || n.output[0] || n.opType}.${s.attr}`, depth + 1, [s.graph, ...scope]);
    }
  };
  visit(model.graph, 'main', 0, [model.graph]);
  return out;
}

/** The initializer `name` resolves to from a graph with this scope (see the module contract). */
export function lookupInitializer(scope: readonly GraphProto[], name: string | undefined): TensorProto | undefined {
  if (name === undefined || name === '') return undefined;
  for (const g of scope) {
    const t = g.initializer.find((x) => x.name === name);
    if (t) return t;
    if (g.node.some((n) => n.output.includes(name)) || g.input.some((v) => v.name === name)) return undefined;
  }
  return undefined;
}

/** Every value name read by the graph's nodes, including reads from its subgraphs at any depth. */
export function usedNames(g: GraphProto): Set<string> {
  const used = new Set<string>();
  const walk = (x: GraphProto): void => {
    for (const n of x.node) {
      for (const i of n.input) used.add(i);
      for (const s of nodeSubgraphs(n)) walk(s.graph);
    }
    for (const o of x.output) used.add(o.name ?? '');
  };
  walk(g);
  return used;
}

/** Removes initializers no node (at any depth below) and no graph output reads, in every graph. Returns how many went. */
export function dropUnusedInitializersDeep(model: OnnxModel): number {
  let dropped = 0;
  for (const v of allGraphs(model)) {
    const used = usedNames(v.graph);
    const before = v.graph.initializer.length;
    v.graph.initializer = v.graph.initializer.filter((t) => used.has(t.name ?? ''));
    dropped += before - v.graph.initializer.length;
  }
  return dropped;
}

/** A namer that avoids every name used anywhere in the model (all graphs). */
export function modelNamer(model: OnnxModel): (base: string) => string {
  const taken = new Set<string>();
  for (const { graph: g } of allGraphs(model)) {
    for (const n of g.node) {
      for (const v of [...n.input, ...n.output]) taken.add(v);
      if (n.name) taken.add(n.name);
    }
    for (const t of g.initializer) taken.add(t.name ?? '');
    for (const v of [...g.input, ...g.output, ...g.valueInfo]) taken.add(v.name ?? '');
  }
  return (base) => {
    const clean = base.replace(/[^A-Za-z0-9_.:/-]/g, '_');
    let name = clean;
    for (let k = 1; taken.has(name); k++) name = `${clean}_${k}`;
    taken.add(name);
    return name;
  };
}

/** The tensor a Constant node holds, or undefined for sparse / string-list forms. */
function constantValue(n: NodeProto, name: string): TensorProto | undefined {
  for (const a of n.attribute) {
    if (a.name === 'value' && a.t) return { ...a.t, name };
    if (a.name === 'value_float') return makeFloatTensor(name, [], Float32Array.of(a.f ?? 0));
    if (a.name === 'value_floats') return makeFloatTensor(name, [a.floats.length], Float32Array.from(a.floats));
    if (a.name === 'value_int') return { ...emptyTensor(name, DataType.INT64, []), int64Data: [a.i ?? 0] };
    if (a.name === 'value_ints') return { ...emptyTensor(name, DataType.INT64, [a.ints.length]), int64Data: [...a.ints] };
  }
  return undefined;
}

/** Renames every read of `from` to `to` in the graph and its subgraphs (subgraphs that redefine `from` are left alone). */
function renameReads(g: GraphProto, from: string, to: string): void {
  for (const n of g.node) {
    n.input = n.input.map((i) => (i === from ? to : i));
    for (const s of nodeSubgraphs(n)) {
      const shadows = s.graph.input.some((v) => v.name === from) || s.graph.initializer.some((t) => t.name === from) || s.graph.node.some((x) => x.output.includes(from));
      if (!shadows) renameReads(s.graph, from, to);
    }
  }
}

export interface HoistReport {
  constants: number;
  identities: number;
  casts: number;
}

/**
 * See the module contract. Mutates `model`. `minElements` (default 0) keeps Constant nodes holding
 * fewer elements (inspect passes 2: scalar Constants are op parameters such as epsilons, not weights,
 * and counting them would change every manifest's measured params).
 */
export function hoistConstants(model: OnnxModel, opts: { minElements?: number } = {}): HoistReport {
  const minElements = opts.minElements ?? 0;
  const report: HoistReport = { constants: 0, identities: 0, casts: 0 };
  for (const v of allGraphs(model)) {
    const g = v.graph;
    const outputs = new Set(g.output.map((o) => o.name ?? ''));
    const keep: NodeProto[] = [];
    for (const n of g.node) {
      const out = n.output[0] ?? '';
      if (n.opType === 'Constant' && (n.domain ?? '') === '' && !outputs.has(out)) {
        const t = constantValue(n, out);
        if (t && t.dims.reduce((a, b) => a * b, 1) >= minElements) {
          g.initializer.push(t);
          report.constants++;
          continue;
        }
      }
      const src = lookupInitializer(v.scope, n.input[0]);
      if (src && n.opType === 'Identity' && !outputs.has(out)) {
        renameReads(g, out, n.input[0] as string);
        report.identities++;
        continue;
      }
      const to = n.attribute.find((a) => a.name === 'to')?.i;
      if (src && n.opType === 'Cast' && to === DataType.FLOAT && !outputs.has(out) && src.dataType !== DataType.STRING) {
        try {
          g.initializer.push(makeFloatTensor(out, src.dims, tensorToFloat32(src)));
          report.casts++;
          continue;
        } catch {
          /* a type tensorToFloat32 cannot read (e.g. float16): keep the Cast */
        }
      }
      keep.push(n);
    }
    g.node = keep;
  }
  return report;
}
