/**
 * Writing measured figures into a parsed model.json document. Pure: takes the parsed JSON and
 * returns a new document; the caller validates it (checkManifest) and writes it.
 *
 * Contract: key order is kept. Existing keys keep their place; a missing measured key (a variant
 * entry that so far has only id, file and precision) is inserted after its nearest predecessor in
 * the canonical order below, so a new entry reads like the others. Keys not measured here
 * (precision, pruning, distillation, ...) are never changed, except layerBits, which is written for
 * a "mixed" variant from the graph.
 */
import type { ModelFigures, QualityFigures } from './evaluate.js';

const VARIANT_ORDER = ['id', 'file', 'sha256', 'bytes', 'precision', 'layerBits', 'pruning', 'distillation', 'params', 'macs', 'ops', 'quality'];
const QUALITY_ORDER = ['accuracy', 'agreement', 'evalCount'];

type Json = Record<string, unknown>;

/** Measured figures of one variant; agreement is required (the reference agrees with itself: 1). */
export interface VariantUpdate {
  id: string;
  model: ModelFigures;
  quality: QualityFigures & { agreement: number };
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `obj` with `updates` applied, existing keys in place, new ones placed by `order`. */
export function withKeys(obj: Json, updates: Json, order: readonly string[]): Json {
  const keys = Object.keys(obj);
  for (const k of order) {
    if (!(k in updates) || keys.includes(k)) continue;
    const before = order.slice(0, order.indexOf(k)).filter((p) => keys.includes(p));
    const after = before.length === 0 ? -1 : Math.max(...before.map((p) => keys.indexOf(p)));
    keys.splice(after + 1, 0, k);
  }
  for (const k of Object.keys(updates)) if (!keys.includes(k)) keys.push(k);
  const out: Json = {};
  for (const k of keys) out[k] = k in updates ? updates[k] : obj[k];
  return out;
}

/**
 * A copy of `doc` (a parsed model.json) with each update's figures written into the variant of the
 * same id. Variants without an update are copied unchanged. Throws TypeError when `doc` has no
 * variants array (callers validate the manifest first).
 */
export function applyVariantUpdates(doc: unknown, updates: readonly VariantUpdate[]): Json {
  if (!isObject(doc) || !Array.isArray(doc.variants)) throw new TypeError('manifest document has no variants array');
  const byId = new Map(updates.map((u) => [u.id, u]));
  const variants = doc.variants.map((v: unknown) => {
    if (!isObject(v)) return v;
    const u = byId.get(String(v.id));
    if (u === undefined) return v;
    const oldQuality = isObject(v.quality) ? v.quality : {};
    const quality = withKeys(oldQuality, { accuracy: u.quality.accuracy, agreement: u.quality.agreement, evalCount: u.quality.evalCount }, QUALITY_ORDER);
    // A MAC count inspect could only partly determine (shapes it cannot follow, e.g. through
    // Gather/Reshape) would replace a complete figure with an undercount: keep the manifest's then.
    const macsKnown = u.model.macsUnknown.length === 0 || typeof v.macs !== 'number';
    const fields: Json = { sha256: u.model.sha256, bytes: u.model.bytes, params: u.model.params, macs: macsKnown ? u.model.macs : v.macs, ops: u.model.ops, quality };
    if (v.precision === 'mixed' && u.model.layerBits !== undefined) fields.layerBits = u.model.layerBits;
    return withKeys(v, fields, VARIANT_ORDER);
  });
  return withKeys(doc, { variants }, []);
}

/** The document as model.json is written: 2-space JSON and a final newline. */
export function formatManifest(doc: unknown): string {
  return JSON.stringify(doc, null, 2) + '\n';
}

/**
 * A copy of `doc` in which every variant lacking measured fields gets placeholders, so a manifest
 * with new, not yet measured entries ({id, file, precision, ...}) can be schema-checked before the
 * measurement. Never written to disk.
 */
export function withPlaceholders(doc: unknown): unknown {
  if (!isObject(doc) || !Array.isArray(doc.variants)) return doc;
  const placeholder: Json = { sha256: '0'.repeat(64), bytes: 1, params: 0, macs: 0, ops: [], quality: { accuracy: 0, agreement: 0, evalCount: 1 } };
  const variants = doc.variants.map((v: unknown) => {
    if (!isObject(v)) return v;
    const fill: Json = {};
    for (const [k, val] of Object.entries(placeholder)) if (!(k in v)) fill[k] = val;
    if (v.precision === 'mixed' && !('layerBits' in v)) fill.layerBits = { pending: 32 };
    return { ...v, ...fill };
  });
  return { ...doc, variants };
}
