/**
 * Draws a fleet snapshot as text for `edge-infer top`. Pure: snapshot in, lines out; no escape
 * codes except none at all (the terminal module adds cursor control). Every line fits `width`
 * columns and the screen fits `height` rows, so an 80x24 terminal shows it whole.
 */
import type { DeviceView, FleetSnapshot, ModelView } from './fleet.js';

const SPARKS = '▁▂▃▄▅▆▇█';

/** One character per sample scaled to the window's max; a gap (no answers) is a space. */
export function sparkline(values: readonly (number | null)[], width: number): string {
  const tail = values.slice(-width);
  const max = Math.max(0, ...tail.map((v) => v ?? 0));
  return tail
    .map((v) => {
      if (v === null) return ' ';
      if (max === 0) return SPARKS[0];
      return SPARKS[Math.min(SPARKS.length - 1, Math.floor((v / max) * (SPARKS.length - 1) + 0.5))];
    })
    .join('');
}

const fixed = (v: number | null, digits: number): string => (v === null ? '-' : v.toFixed(digits));

/** Text of exactly `n` columns: cut or padded (characters, not bytes; the sparks are one column each). */
export function cell(s: string, n: number, right = false): string {
  const chars = [...s];
  if (chars.length > n) return chars.slice(0, Math.max(0, n - 1)).join('') + (n > 0 ? '…' : '');
  return right ? s.padStart(n) : s.padEnd(n);
}

function fit(line: string, width: number): string {
  const chars = [...line];
  return chars.length > width ? chars.slice(0, width).join('') : line;
}

function deviceRow(d: DeviceView, selected: boolean): string {
  const budget = d.budgetMB === null ? '-' : `${d.usedMB === null ? '?' : Math.round(d.usedMB)}/${Math.round(d.budgetMB)}MB`;
  const temp = d.cpuTempC === null ? '-' : `${d.cpuTempC.toFixed(0)}C${d.throttledNow === true ? '!' : ''}`;
  const outbox = d.outboxDepth === null ? '-' : `${d.outboxDepth}${d.outboxDegraded === true ? ' mem' : ''}`;
  return [selected ? '>' : ' ', cell(d.device, 14), cell(d.state, 8), cell(d.profile ?? '-', 12), cell(d.backend ?? '-', 7), cell(budget, 11, true), cell(temp, 5, true), cell(d.rssMB === null ? '-' : `${Math.round(d.rssMB)}MB`, 6, true), cell(outbox, 6, true)].join(' ');
}

const DEVICE_HEADER = '  ' + [cell('DEVICE', 14), cell('STATE', 8), cell('PROFILE', 12), cell('BACKEND', 7), cell('BUDGET', 11, true), cell('TEMP', 5, true), cell('RSS', 6, true), cell('OUTBOX', 6, true)].join(' ');

function modelHeader(sparkWidth: number): string {
  return ' ' + [cell('MODEL', 10), cell('VARIANT', 17), cell('STATE', 7), cell('REQ/S', 6, true), cell('P50', 6, true), cell('P95', 6, true), cell('P99', 6, true), cell('Q', 3, true), cell('ERR', 4, true), cell('p50', sparkWidth)].join(' ');
}

function modelRow(m: ModelView, sparkWidth: number): string {
  return (
    ' ' +
    [
      cell(m.model, 10),
      cell(m.variant ?? '-', 17),
      cell(m.state, 7),
      cell(fixed(m.requestsPerS, 1), 6, true),
      cell(fixed(m.p50Ms, 2), 6, true),
      cell(fixed(m.p95Ms, 2), 6, true),
      cell(fixed(m.p99Ms, 2), 6, true),
      cell(String(m.queueDepth), 3, true),
      cell(String(m.errors + m.rejected), 4, true),
      sparkline(m.history, sparkWidth),
    ].join(' ')
  );
}

export interface ScreenOptions {
  width: number;
  height: number;
  /** Index of the selected device in snapshot.devices. */
  selected: number;
  /** Shown on the title line: what is watched (broker, filter). */
  source: string;
}

/** The full screen: a title, the device table, and the selected device's models. At most `height` lines. */
export function renderScreen(s: FleetSnapshot, o: ScreenOptions): string[] {
  const width = Math.max(20, o.width);
  const lines: string[] = [];
  lines.push(`edge-infer top · ${s.devices.length} device${s.devices.length === 1 ? '' : 's'} · ${o.source} · q quit, j/k move`);
  if (s.devices.length === 0) {
    lines.push('', 'waiting for a device to publish its status or telemetry...');
    return lines.slice(0, o.height).map((l) => fit(l, width));
  }
  const selected = Math.min(Math.max(0, o.selected), s.devices.length - 1);
  const device = s.devices[selected] as DeviceView;
  // Rows left for the device table: keep at least header + 2 rows for the model table.
  const modelRows = device.models.length * 2 + 3;
  const deviceRoom = Math.max(1, Math.min(s.devices.length, o.height - 3 - Math.min(modelRows, o.height - 6)));
  const first = Math.min(Math.max(0, selected - deviceRoom + 1), Math.max(0, s.devices.length - deviceRoom));
  lines.push(DEVICE_HEADER);
  for (let i = first; i < first + deviceRoom && i < s.devices.length; i++) lines.push(deviceRow(s.devices[i] as DeviceView, i === selected));
  lines.push('');
  const sparkWidth = Math.max(4, width - 76);
  lines.push(`${device.device}: ${device.board ?? 'board ?'}  edge-infer ${device.version ?? '?'}`);
  lines.push(modelHeader(sparkWidth));
  for (const m of device.models) {
    if (lines.length >= o.height) break;
    lines.push(modelRow(m, sparkWidth));
    if (m.lastSwitch !== null && lines.length < o.height) lines.push(`   last switch ${m.lastSwitch}`);
  }
  return lines.slice(0, o.height).map((l) => fit(l, width));
}

/** One plain line per model (and per device without models), for pipes and logs: no drawing. */
export function renderPlain(s: FleetSnapshot, clock: string): string[] {
  const out: string[] = [];
  for (const d of s.devices) {
    const head = `${clock} ${d.device} ${d.state} profile=${d.profile ?? '-'} backend=${d.backend ?? '-'} budget=${d.usedMB ?? '-'}/${d.budgetMB ?? '-'}MB temp=${d.cpuTempC ?? '-'} throttled=${d.throttledNow ?? '-'} rss=${d.rssMB ?? '-'}MB outbox=${d.outboxDepth ?? '-'}`;
    if (d.models.length === 0) out.push(head);
    for (const m of d.models) {
      out.push(`${head} model=${m.model} variant=${m.variant ?? '-'} state=${m.state} rps=${fixed(m.requestsPerS, 1)} p50=${fixed(m.p50Ms, 2)} p95=${fixed(m.p95Ms, 2)} p99=${fixed(m.p99Ms, 2)} queue=${m.queueDepth} errors=${m.errors} rejected=${m.rejected}${m.lastSwitch === null ? '' : ` switch="${m.lastSwitch}"`}`);
    }
  }
  return out;
}
