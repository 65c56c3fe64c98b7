/**
 * The doctor's checklist: one result per check, each failure with the fix. Pure.
 *
 * Status: pass; warn (works, but something is off or cannot be read on this board: never changes
 * the exit status); fail (the service will not work as configured: exit 1, EDGE_ERR_DOCTOR_FAILED);
 * skip (does not apply here, e.g. no systemd in a container).
 */
import type { ErrorCode } from '../../errors.js';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Stable id: node, backend, profile, budget, broker, state-dir, clock, temperature, throttling, systemd. */
  id: string;
  title: string;
  status: CheckStatus;
  /** What was found (one line). */
  detail: string;
  /** What to do; present for every warn and fail. */
  fix?: string;
  /** The error code behind a failure, when there is one. */
  code?: ErrorCode;
}

const MARK: Record<CheckStatus, string> = { pass: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

export function formatChecklist(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.title.length));
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`[${MARK[r.status]}] ${r.title.padEnd(width)}  ${r.code ? `${r.code}: ` : ''}${r.detail}`);
    if (r.fix !== undefined && (r.status === 'fail' || r.status === 'warn')) lines.push(`       ${' '.repeat(width)}  fix: ${r.fix}`);
  }
  const count = (s: CheckStatus): number => results.filter((r) => r.status === s).length;
  lines.push('', `${count('pass')} ok, ${count('warn')} warning(s), ${count('fail')} failed, ${count('skip')} skipped`);
  return lines.join('\n');
}

export function anyFailed(results: readonly CheckResult[]): boolean {
  return results.some((r) => r.status === 'fail');
}

/** A check that threw: its code and message become a failure with the error's hint as the fix. */
export function failedCheck(id: string, title: string, e: { code: ErrorCode; message: string; hint: string }): CheckResult {
  return { id, title, status: 'fail', detail: e.message, fix: e.hint, code: e.code };
}
