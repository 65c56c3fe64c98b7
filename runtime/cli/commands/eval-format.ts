/** Text table of an `edge-infer eval` report. Pure. */
import type { EvalReport, VariantEval } from './eval.js';

function pct(x: number | null): string {
  return x === null ? '-' : `${(x * 100).toFixed(2)}%`;
}

function latencyAt(v: VariantEval, batch: number): number | undefined {
  return v.latency.find((l) => l.batch === batch)?.medianMs;
}

export function formatEvalReport(r: EvalReport): string {
  const ref = r.variants.find((v) => v.id === r.reference);
  const batches = [...new Set(r.variants.flatMap((v) => v.latency.map((l) => l.batch)))].sort((a, b) => a - b);
  const head = ['variant', 'precision', 'bytes', 'x smaller', 'params', 'MACs', 'accuracy', 'agreement', ...batches.map((b) => `ms @${b}`), ...batches.map((b) => `x faster @${b}`)];
  const rows = r.variants.map((v) => {
    const lat = batches.map((b) => latencyAt(v, b));
    const refLat = batches.map((b) => (ref === undefined ? undefined : latencyAt(ref, b)));
    return [
      v.id,
      v.precision ?? '-',
      String(v.model.bytes),
      ref ? (ref.model.bytes / v.model.bytes).toFixed(2) : '-',
      String(v.model.params),
      String(v.model.macs),
      pct(v.quality.accuracy),
      pct(v.quality.agreement),
      ...lat.map((x) => (x === undefined ? '-' : x.toFixed(4))),
      ...lat.map((x, i) => {
        const y = refLat[i];
        return x === undefined || y === undefined ? '-' : (y / x).toFixed(2);
      }),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const out = [
    `${r.model ?? r.variants[0]?.file ?? ''}: eval set ${r.evalSet} (${r.evalCount} samples), agreement vs ${r.reference ?? 'nothing'}`,
    `latency: median time inside session.run over the timed runs, backend ${r.backend}, ${r.threads} intra-op thread(s), graph optimization all`,
    '',
    line(head),
    ...rows.map(line),
    '',
  ];
  for (const v of r.variants) {
    if (v.model.macsUnknown.length > 0) out.push(`${v.id}: MACs unknown for ${v.model.macsUnknown.join(', ')} (the MACs figure undercounts)`);
    if (v.model.layerBits !== undefined) out.push(`${v.id}: layer bits ${JSON.stringify(v.model.layerBits)}`);
    if (v.differs.length > 0) out.push(`${v.id}: differs from model.json in ${v.differs.join(', ')}${r.manifestUpdated ? ' (now written)' : ' (run with --update-manifest to write)'}`);
  }
  if (r.manifestUpdated !== null) out.push(`wrote ${r.manifestUpdated}`);
  return out.join('\n') + '\n';
}
