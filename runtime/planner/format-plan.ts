/**
 * A plan as a table for people on a TTY. Pure: returns text, prints nothing.
 */
import type { ModelPlan, Plan } from './types.js';

function pad(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows)
    r.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** measured on this device / measured on the x86 reference machine (WASM, issue 18) / estimated. */
const est = (source: string): string => (source === 'measured' ? 'measured' : source === 'reference' ? 'x86' : 'est');

function row(m: ModelPlan): string[] {
  const c = m.chosen;
  if (!c) return [m.model, '-', '-', '-', '-', '-'];
  return [m.model, c.variant, c.precision, `${c.memoryMB.toFixed(1)} (${est(c.memorySource)})`, `${c.latencyMs.toFixed(2)} (${est(c.latencySource)})`, c.accuracy.toFixed(4)];
}

export function formatPlan(plan: Plan): string {
  const lines = [`profile ${plan.profile}, backend ${plan.backend}, budget ${plan.budgetMB.toFixed(1)} MB, used ${plan.usedMB.toFixed(1)} MB`];
  if (plan.runtime) lines.push(`shared ${plan.backend} runtime: ${plan.runtime.mb.toFixed(1)} MB once (start ${plan.runtime.startMB.toFixed(1)} ${est(plan.runtime.source)} + ${plan.runtime.sharedMB.toFixed(1)} shared by its models), models share the rest`);
  lines.push('');
  const table = pad([['MODEL', 'VARIANT', 'PRECISION', 'MEMORY MB', 'LATENCY MS', 'ACCURACY'], ...plan.models.map(row)]);
  lines.push(table[0] ?? '');
  plan.models.forEach((m, i) => {
    lines.push(table[i + 1] ?? '');
    if (m.error) lines.push(`    ! ${m.error.code}: ${m.error.message}`);
    if (m.chosen) lines.push(`    = ${m.chosen.variant}: ${m.chosen.detail}`);
    for (const r of m.rejected) lines.push(`    - ${r.variant}: ${r.reason}: ${r.detail}`);
  });
  return lines.join('\n') + '\n';
}
