/**
 * A Pareto chart of a model's variants as a standalone SVG: quality (accuracy, or agreement with
 * the reference when the eval set has no labels) against batch-1 latency, marker area proportional
 * to the file's bytes, the Pareto front drawn as a step line, the plan's choice for a profile
 * ringed. Pure: points in, SVG text out (no fonts, scripts or external references).
 *
 * Latency uses a log axis when the variants span more than 10x (typical: a 4 KB student next to a
 * 2 MB teacher), linear otherwise. Errors: EDGE_ERR_USAGE when a point has no finite latency.
 */
import { EdgeError } from '../../errors.js';

export interface ParetoPoint {
  id: string;
  /** Batch-1 latency, ms. */
  latencyMs: number;
  /** 0..1. */
  quality: number;
  bytes: number;
}

export interface ParetoChart {
  title: string;
  /** What `quality` is: "accuracy" or "agreement with <reference>". */
  qualityLabel: string;
  /** e.g. "native, 1 thread, median of 200 runs". */
  latencyNote: string;
  points: ParetoPoint[];
  /** The variant the plan chooses and for which profile, when known. */
  planned?: { variant: string | null; profile: string };
}

const PLOT_W = 640;
const LEGEND_W = 300;
const W = PLOT_W + LEGEND_W;
const H = 440;
const M = { left: 74, right: 24, top: 48, bottom: 64 };
const MAX_R = 22;
const MIN_R = 3.5;

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** Ids of the points no other point beats on both axes (lower latency, higher quality). */
export function paretoFront(points: readonly ParetoPoint[]): string[] {
  return points.filter((p) => !points.some((q) => q !== p && q.latencyMs <= p.latencyMs && q.quality >= p.quality && (q.latencyMs < p.latencyMs || q.quality > p.quality))).map((p) => p.id);
}

function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((s) => s * mag >= raw) ?? 10) * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString());

export function renderParetoSvg(c: ParetoChart): string {
  if (c.points.length === 0) throw new EdgeError('EDGE_ERR_USAGE', 'a plot needs at least one variant');
  for (const p of c.points) {
    if (!Number.isFinite(p.latencyMs) || p.latencyMs <= 0) throw new EdgeError('EDGE_ERR_USAGE', `variant ${p.id} has no latency figure to plot (measure with --runs > 0)`);
  }
  const lats = c.points.map((p) => p.latencyMs);
  const quals = c.points.map((p) => p.quality * 100);
  const log = Math.max(...lats) / Math.min(...lats) > 10;
  const [x0, x1] = log ? [10 ** Math.floor(Math.log10(Math.min(...lats))), 10 ** Math.ceil(Math.log10(Math.max(...lats)))] : [Math.max(0, Math.min(...lats) - (Math.max(...lats) - Math.min(...lats)) * 0.25 - Math.max(...lats) * 0.02), Math.max(...lats) * 1.08];
  const qlo = Math.min(...quals);
  const qhi = Math.max(...quals);
  const pad = Math.max(0.5, (qhi - qlo) * 0.15);
  const [y0, y1] = [Math.max(0, qlo - pad), Math.min(100, qhi + pad)];
  const pw = PLOT_W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (v: number): number => M.left + (log ? (Math.log10(v) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0)) : (v - x0) / (x1 - x0)) * pw;
  const sy = (v: number): number => M.top + (1 - (v - y0) / (y1 - y0 || 1)) * ph;
  const maxBytes = Math.max(...c.points.map((p) => p.bytes));
  const radius = (bytes: number): number => Math.max(MIN_R, MAX_R * Math.sqrt(bytes / maxBytes));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<title>${escapeXml(c.title)}</title>`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${PLOT_W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(c.title)}</text>`);
  // Axes and grid.
  const xticks = log ? Array.from({ length: Math.round(Math.log10(x1 / x0)) + 1 }, (_, i) => x0 * 10 ** i) : niceTicks(x0, x1, 6);
  for (const v of xticks) {
    const x = sx(v).toFixed(1);
    out.push(`<line x1="${x}" y1="${M.top}" x2="${x}" y2="${M.top + ph}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${x}" y="${M.top + ph + 16}" text-anchor="middle">${fmt(v)}</text>`);
  }
  for (const v of niceTicks(y0, y1, 5)) {
    const y = sy(v).toFixed(1);
    out.push(`<line x1="${M.left}" y1="${y}" x2="${M.left + pw}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${M.left - 6}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 30}" text-anchor="middle">latency at batch 1, ms${log ? ' (log scale)' : ''}</text>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 12}" text-anchor="middle" fill="#666" font-size="11">${escapeXml(c.latencyNote)}; marker area = file bytes</text>`);
  out.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(c.qualityLabel)}, %</text>`);
  // The front as a step line (sorted by latency).
  const front = new Set(paretoFront(c.points));
  const fp = c.points.filter((p) => front.has(p.id)).sort((a, b) => a.latencyMs - b.latencyMs);
  if (fp.length > 1) {
    const d = fp.map((p, i) => `${i === 0 ? 'M' : 'H'}${sx(p.latencyMs).toFixed(1)}${i === 0 ? ` ${sy(p.quality * 100).toFixed(1)}` : ` V${sy(p.quality * 100).toFixed(1)}`}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="#2a7" stroke-width="1.5" stroke-dasharray="5 3"/>`);
  }
  // Markers, biggest first so small ones stay visible; labels beside them.
  for (const p of [...c.points].sort((a, b) => b.bytes - a.bytes)) {
    const x = sx(p.latencyMs);
    const y = sy(p.quality * 100);
    const r = radius(p.bytes);
    const onFront = front.has(p.id);
    out.push(`<g><title>${escapeXml(`${p.id}: ${p.latencyMs.toFixed(3)} ms, ${(p.quality * 100).toFixed(2)} %, ${p.bytes} bytes`)}</title><circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${r.toFixed(1)}" fill="${onFront ? '#2a7' : '#888'}" fill-opacity="0.45" stroke="${onFront ? '#185' : '#555'}"/></g>`);
    if (c.planned?.variant === p.id) out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${(r + 5).toFixed(1)}" fill="none" stroke="#d33" stroke-width="2.5"/>`);
  }
  // Numbers beside the markers, names in the legend: variants often share an accuracy and sit
  // within a few microseconds of each other, where names beside markers would overprint.
  const order = [...c.points].sort((a, b) => a.latencyMs - b.latencyMs);
  order.forEach((p, i) => {
    const x = sx(p.latencyMs);
    const y = sy(p.quality * 100);
    const r = radius(p.bytes);
    const planned = c.planned?.variant === p.id;
    out.push(`<text x="${(x + r * 0.7 + 2).toFixed(1)}" y="${(y - r * 0.7 - 2).toFixed(1)}" font-weight="bold"${planned ? ' fill="#d33"' : ''}>${i + 1}</text>`);
  });
  const lx = PLOT_W + 8;
  out.push(`<text x="${lx}" y="${M.top + 4}" font-weight="bold">variant</text>`);
  out.push(`<text x="${lx + 150}" y="${M.top + 4}" font-weight="bold" text-anchor="end">ms</text>`);
  out.push(`<text x="${lx + 205}" y="${M.top + 4}" font-weight="bold" text-anchor="end">%</text>`);
  out.push(`<text x="${lx + 270}" y="${M.top + 4}" font-weight="bold" text-anchor="end">KB</text>`);
  order.forEach((p, i) => {
    const y = M.top + 24 + i * 18;
    const planned = c.planned?.variant === p.id;
    const style = planned ? ' fill="#d33" font-weight="bold"' : front.has(p.id) ? ' fill="#185"' : '';
    out.push(`<text x="${lx}" y="${y}"${style}>${i + 1} ${escapeXml(p.id)}</text>`);
    out.push(`<text x="${lx + 150}" y="${y}" text-anchor="end"${style}>${p.latencyMs.toFixed(3)}</text>`);
    out.push(`<text x="${lx + 205}" y="${y}" text-anchor="end"${style}>${(p.quality * 100).toFixed(2)}</text>`);
    out.push(`<text x="${lx + 270}" y="${y}" text-anchor="end"${style}>${(p.bytes / 1000).toFixed(1)}</text>`);
  });
  const notes = M.top + 24 + order.length * 18 + 10;
  out.push(`<text x="${lx}" y="${notes}" fill="#185">green: on the Pareto front (dashed)</text>`);
  if (c.planned !== undefined) {
    const what = c.planned.variant === null ? `no variant fits ${c.planned.profile}` : `red ring: planned for ${c.planned.profile}`;
    out.push(`<text x="${lx}" y="${notes + 18}" fill="#d33">${escapeXml(what)}</text>`);
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
