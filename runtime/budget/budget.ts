/**
 * Memory budget math. Pure: every figure comes in as an argument. MB means MiB (1,048,576 bytes)
 * throughout edge-infer.
 */
import { EdgeError } from '../errors.js';

export interface BudgetInputs {
  /** profile.memory.budgetMB. */
  profileBudgetMB: number;
  /** Lowest cgroup v2 memory.max on this process's path, or null when unlimited / unknown. */
  cgroupLimitMB: number | null;
  /** profile.memory.reserveMB: left for the OS and the rest of the process. */
  reserveMB: number;
  /** MemAvailable from /proc/meminfo, or null when unknown. */
  memAvailableMB: number | null;
  /** This process's RSS now. */
  processRssMB: number;
  /** What loaded sessions already hold (counted inside processRssMB). Default 0. */
  heldMB?: number;
}

export type BudgetLimit = 'profile' | 'cgroup' | 'memavailable';

export interface EffectiveBudget {
  /** Total MB model sessions may hold (including sessions already loaded), >= 0. */
  budgetMB: number;
  limitedBy: BudgetLimit;
  /** One sentence with the figures behind it. */
  detail: string;
}

const r1 = (x: number): string => (Math.round(x * 10) / 10).toFixed(1);

/**
 * The smallest of:
 * - profile: profileBudgetMB;
 * - cgroup: cgroupLimitMB minus what the rest of the process needs, i.e. max(reserveMB, the
 *   process's RSS not held by sessions). The cgroup counts the whole process, so when the
 *   non-session part of the process has already outgrown the reserve, the measured figure is used;
 * - memavailable: memAvailableMB - reserveMB + heldMB. MemAvailable excludes memory the process
 *   already holds, so sessions already loaded are added back (the budget covers all sessions).
 * Ties go to the earlier one in that order. Never negative.
 */
export function effectiveBudgetMB(i: BudgetInputs): EffectiveBudget {
  const held = i.heldMB ?? 0;
  const options: { limitedBy: BudgetLimit; mb: number; detail: string }[] = [{ limitedBy: 'profile', mb: i.profileBudgetMB, detail: `the profile's budget is ${r1(i.profileBudgetMB)} MB` }];
  if (i.cgroupLimitMB !== null) {
    const rest = Math.max(i.reserveMB, i.processRssMB - held);
    options.push({ limitedBy: 'cgroup', mb: i.cgroupLimitMB - rest, detail: `cgroup memory.max ${r1(i.cgroupLimitMB)} MB minus ${r1(rest)} MB for the rest of the process (reserve ${r1(i.reserveMB)} MB, non-session RSS ${r1(i.processRssMB - held)} MB)` });
  }
  if (i.memAvailableMB !== null) {
    options.push({ limitedBy: 'memavailable', mb: i.memAvailableMB - i.reserveMB + held, detail: `MemAvailable ${r1(i.memAvailableMB)} MB minus the ${r1(i.reserveMB)} MB reserve plus ${r1(held)} MB already held by sessions` });
  }
  let best = options[0] ?? { limitedBy: 'profile' as const, mb: i.profileBudgetMB, detail: '' };
  for (const o of options) if (o.mb < best.mb) best = o;
  return { budgetMB: Math.max(0, best.mb), limitedBy: best.limitedBy, detail: best.detail };
}

export interface LedgerEntry {
  key: string;
  mb: number;
  measured: boolean;
}

/**
 * Who holds how much of the budget. Keys are caller handles ("digits@int8"); a swap reserves the
 * new key before releasing the old, so both count while both are loaded.
 */
export class BudgetLedger {
  #limitMB: number;
  readonly #entries = new Map<string, LedgerEntry>();

  constructor(limitMB: number) {
    this.#limitMB = limitMB;
  }

  get limitMB(): number {
    return this.#limitMB;
  }
  get usedMB(): number {
    let sum = 0;
    for (const e of this.#entries.values()) sum += e.mb;
    return sum;
  }
  get freeMB(): number {
    return this.#limitMB - this.usedMB;
  }

  /** A new limit (e.g. MemAvailable fell). Entries are kept; `freeMB` may go negative. */
  setLimitMB(mb: number): void {
    this.#limitMB = mb;
  }

  /**
   * Books an estimate before a load. Throws EDGE_ERR_BUDGET_EXCEEDED {needMB, freeMB, budgetMB}
   * when it does not fit (nothing is booked), EDGE_ERR_INTERNAL when `key` is already booked.
   */
  reserve(key: string, mb: number): void {
    if (this.#entries.has(key)) throw new EdgeError('EDGE_ERR_INTERNAL', `budget key ${key} is already reserved`, { details: { key } });
    const free = this.freeMB;
    if (mb > free) {
      throw new EdgeError('EDGE_ERR_BUDGET_EXCEEDED', `${key} needs ${r1(mb)} MB, ${r1(free)} MB of the ${r1(this.#limitMB)} MB budget is free`, { details: { key, needMB: mb, freeMB: free, budgetMB: this.#limitMB } });
    }
    this.#entries.set(key, { key, mb, measured: false });
  }

  /**
   * Replaces the estimate with the measured figure. The measurement is recorded even when it
   * passes the limit (the memory is really held); then EDGE_ERR_BUDGET_EXCEEDED
   * {needMB, freeMB, budgetMB} is thrown and the caller must unload and `release(key)`.
   * EDGE_ERR_INTERNAL when `key` was never reserved.
   */
  commit(key: string, measuredMB: number): void {
    const e = this.#entries.get(key);
    if (!e) throw new EdgeError('EDGE_ERR_INTERNAL', `budget key ${key} was not reserved`, { details: { key } });
    const freeBefore = this.freeMB + e.mb;
    e.mb = measuredMB;
    e.measured = true;
    if (measuredMB > freeBefore) {
      throw new EdgeError('EDGE_ERR_BUDGET_EXCEEDED', `${key} measured ${r1(measuredMB)} MB, ${r1(freeBefore)} MB of the ${r1(this.#limitMB)} MB budget was free`, { details: { key, needMB: measuredMB, freeMB: freeBefore, budgetMB: this.#limitMB } });
    }
  }

  /** Frees what `key` held; unknown keys are ignored (release is idempotent). */
  release(key: string): void {
    this.#entries.delete(key);
  }

  entries(): LedgerEntry[] {
    return [...this.#entries.values()].map((e) => ({ ...e }));
  }
}

/** What one loaded model counts for: its planned figure and its measured growth (null: not measured). */
export interface HeldModel {
  plannedMB: number;
  rssDeltaMB: number | null;
}

/**
 * Memory held by loaded models, MB (issue 18). Without a shared runtime: the sum of
 * max(measured, planned). With one (WASM: a start plus a shared allowance, charged once by the
 * plan), the models' measured growth over their figures is taken from the allowance first:
 * start + sum of planned + max(shared, sum of overshoots). `sharedLeftMB` is the allowance still
 * unused (what the next model's overshoot may take). With no model held and `charge` false, 0.
 * Pure.
 */
export function heldMB(models: readonly HeldModel[], runtime: { startMB: number; sharedMB: number } | undefined, charge: boolean): { heldMB: number; sharedLeftMB: number } {
  let planned = 0;
  let overshoot = 0;
  for (const m of models) {
    planned += m.plannedMB;
    overshoot += Math.max(0, (m.rssDeltaMB ?? 0) - m.plannedMB);
  }
  if (runtime === undefined || (models.length === 0 && !charge)) return { heldMB: planned + overshoot, sharedLeftMB: 0 };
  return { heldMB: runtime.startMB + planned + Math.max(runtime.sharedMB, overshoot), sharedLeftMB: Math.max(0, runtime.sharedMB - overshoot) };
}
