/**
 * Host detection: which device profile fits this host, and why. `detectProfile` is pure (facts in,
 * decision out); reading the facts is host-facts.ts.
 *
 * Matching: a profile's cpu.arch must equal the host's (Node 'arm' => 'armv7'); every match rule the
 * profile gives (device-tree regex, MemTotal range) must hold. The best match is the one with the most
 * specific rules (device tree 10, memory range 5, arch alone 1); ties go to the first profile given.
 * With no match a profile is derived from the facts (and marked `derived`).
 */
import { EdgeError } from '../errors.js';
import type { HostFacts } from './host-facts.js';
import { parseProfile } from './profile.js';
import type { Arch, DeviceProfile, Precision } from './types.js';

export { readHostFacts, currentRuntimeFacts, type HostFacts, type RuntimeFacts } from './host-facts.js';

export interface ProfileVerdict {
  id: string;
  matched: boolean;
  /** Higher is more specific; 0 when not matched. */
  score: number;
  /** One sentence per rule checked, each starting with the profile id. */
  reasons: string[];
  /** The reasons that failed (empty when matched). */
  mismatches: string[];
}

export interface DetectionResult {
  profile: DeviceProfile;
  /** True when no profile matched and `profile` was built from the facts. */
  derived: boolean;
  /** Why `profile` was chosen (or derived). */
  reasons: string[];
  /** Every candidate profile's verdict, in the order given. */
  verdicts: ProfileVerdict[];
  /** Mismatches between the chosen profile and the host that do not prevent the match. */
  warnings: string[];
  facts: HostFacts;
}

/** Reserve a derived profile keeps for the rest of the process (the schema's default). */
export const DERIVED_RESERVE_MB = 64;

/** Node's process.arch -> profile arch; undefined for architectures edge-infer has no profile for. */
export function hostArch(nodeArch: string): Arch | undefined {
  switch (nodeArch) {
    case 'arm64':
      return 'arm64';
    case 'arm':
      return 'armv7';
    case 'x64':
      return 'x64';
    default:
      return undefined;
  }
}

/** Judges one profile against the facts. */
export function judgeProfile(facts: HostFacts, p: DeviceProfile): ProfileVerdict {
  const reasons: string[] = [];
  const mismatches: string[] = [];
  const fail = (reason: string): void => {
    mismatches.push(reason);
    reasons.push(reason);
  };
  const arch = hostArch(facts.nodeArch);
  let score = 1;
  if (p.cpu.arch !== arch) {
    fail(`${p.id}: arch ${p.cpu.arch} does not match the host's ${arch ?? 'unsupported'} (process.arch '${facts.nodeArch}')`);
  } else {
    reasons.push(`${p.id}: arch ${p.cpu.arch} matches (process.arch '${facts.nodeArch}')`);
  }
  const dt = p.match.deviceTreeModel;
  if (dt !== undefined) {
    const re = new RegExp(dt);
    if (facts.deviceTreeModel === undefined) {
      fail(`${p.id}: host has no /proc/device-tree/model to test against /${dt}/`);
    } else if (!re.test(facts.deviceTreeModel)) {
      fail(`${p.id}: device-tree model "${facts.deviceTreeModel}" does not match /${dt}/`);
    } else {
      score += 10;
      reasons.push(`${p.id}: device-tree model "${facts.deviceTreeModel}" matches /${dt}/`);
    }
  }
  const range = p.match.memoryMB;
  if (range !== undefined) {
    const total = facts.memTotalMB;
    if (total === undefined) {
      fail(`${p.id}: MemTotal unknown, cannot check [${range.minMB}, ${range.maxMB}] MB`);
    } else if (total < range.minMB || total > range.maxMB) {
      fail(`${p.id}: MemTotal ${total} MB is outside [${range.minMB}, ${range.maxMB}] MB`);
    } else {
      score += 5;
      reasons.push(`${p.id}: MemTotal ${total} MB is within [${range.minMB}, ${range.maxMB}] MB`);
    }
  }
  const matched = mismatches.length === 0;
  if (dt === undefined && range === undefined && matched) reasons.push(`${p.id}: no device-tree or memory rule; matches any ${p.cpu.arch} host`);
  return { id: p.id, matched, score: matched ? score : 0, reasons, mismatches };
}

/** What the chosen profile claims that this host contradicts (not fatal: the profile was chosen). */
function warningsFor(facts: HostFacts, p: DeviceProfile): string[] {
  const out: string[] = [];
  const missing = p.cpu.features.filter((f) => !facts.cpuFeatures.includes(f));
  if (facts.cpuFeatures.length > 0 && missing.length > 0) {
    out.push(`${p.id} claims CPU features ${missing.join(', ')} that /proc/cpuinfo does not list`);
  }
  if (facts.cpuCount < p.inference.threads) {
    out.push(`${p.id} asks for ${p.inference.threads} threads but the host has ${facts.cpuCount} CPUs`);
  }
  if (facts.cgroupMemoryMaxMB !== undefined) {
    const room = facts.cgroupMemoryMaxMB - p.memory.reserveMB;
    if (room < p.memory.budgetMB) {
      out.push(`cgroup memory.max ${facts.cgroupMemoryMaxMB} MB minus reserveMB ${p.memory.reserveMB} leaves ${Math.max(0, room)} MB, below ${p.id}'s budgetMB ${p.memory.budgetMB}: the effective budget is the lower figure`);
    }
  }
  return out;
}

/** Precision preference for a derived profile, from what the CPU can do fast (see DESIGN.md). */
function derivedPrecision(arch: Arch, dotprod: boolean): Precision[] {
  if (arch === 'armv7') return ['fp32', 'int8', 'mixed', 'int4']; // WASM: int8/int4 run slower than fp32
  if (arch === 'x64' || dotprod) return ['int8', 'mixed', 'int4', 'fp32'];
  return ['int8', 'fp32', 'mixed', 'int4']; // MatMulNBits saves memory but not time without dotprod
}

/**
 * A profile built from the facts: cores and features as read, totalMB = MemTotal, budgetMB =
 * min(half of MemTotal, cgroup memory.max - reserve, MemTotal - reserve), never below 0.
 * Throws EDGE_ERR_PROFILE_NOT_FOUND when the arch is unsupported or MemTotal unknown.
 */
export function deriveProfile(facts: HostFacts): { profile: DeviceProfile; reasons: string[] } {
  const arch = hostArch(facts.nodeArch);
  if (arch === undefined) {
    throw new EdgeError('EDGE_ERR_PROFILE_NOT_FOUND', `no profile matches and none can be derived: process.arch '${facts.nodeArch}' is not arm64, arm or x64`, { details: { nodeArch: facts.nodeArch } });
  }
  const totalMB = facts.memTotalMB ?? facts.cgroupMemoryMaxMB;
  if (totalMB === undefined) {
    throw new EdgeError('EDGE_ERR_PROFILE_NOT_FOUND', 'no profile matches and none can be derived: MemTotal is unknown (no /proc/meminfo)', { details: {} });
  }
  const reserveMB = DERIVED_RESERVE_MB;
  const half = Math.floor(totalMB / 2);
  const candidates: Array<[number, string]> = [
    [half, `half of MemTotal ${totalMB} = ${half}`],
    [totalMB - reserveMB, `MemTotal - reserve = ${totalMB - reserveMB}`],
  ];
  if (facts.cgroupMemoryMaxMB !== undefined) {
    candidates.push([facts.cgroupMemoryMaxMB - reserveMB, `cgroup memory.max ${facts.cgroupMemoryMaxMB} - reserve ${reserveMB} = ${facts.cgroupMemoryMaxMB - reserveMB}`]);
  }
  const [budgetRaw, why] = candidates.reduce((a, b) => (b[0] < a[0] ? b : a));
  const budgetMB = Math.max(0, budgetRaw);
  const cores = Math.max(1, facts.cpuCount);
  const dotprod = facts.cpuFeatures.includes('dotprod');
  const hot = arch === 'x64' ? { softLimitC: 90, hardLimitC: 100 } : { softLimitC: 80, hardLimitC: 85 };
  const doc: DeviceProfile = {
    id: `derived-${arch}`,
    board: facts.deviceTreeModel ?? `unknown ${arch} host`,
    description: 'Derived from the host facts because no shipped profile matched. No throughput estimates: run `edge-infer bench --calibrate` or write a profile.',
    match: {},
    cpu: { arch, cores, ...(facts.cpuModel === undefined ? {} : { model: facts.cpuModel }), features: [...facts.cpuFeatures] },
    memory: { totalMB, budgetMB, reserveMB: Math.min(reserveMB, totalMB) },
    inference: { threads: Math.max(1, Math.min(4, cores - 1)), precision: derivedPrecision(arch, dotprod), accuracyFloor: 0.9, latencyTargetMs: 100, backend: 'auto', graphOptimization: 'all', estimatedGmacsPerS: {} },
    thermal: hot,
    telemetry: { intervalS: 30 },
  };
  const profile = parseProfile(doc, `<derived ${doc.id}>`);
  const reasons = [
    `derived from the host: ${arch}, ${cores} CPUs${facts.cpuModel === undefined ? '' : ` (${facts.cpuModel})`}, features [${facts.cpuFeatures.join(', ')}]`,
    `budgetMB ${budgetMB} = lowest of: ${candidates.map((c) => c[1]).join('; ')} (chosen: ${why})`,
    `precision order ${profile.inference.precision.join(' > ')} (${arch === 'armv7' ? 'WASM backend' : dotprod ? 'dotprod' : arch === 'x64' ? 'x64' : 'no dotprod'})`,
  ];
  return { profile, reasons };
}

/** Picks the best-matching profile for the facts, or derives one. Pure. */
export function detectProfile(facts: HostFacts, profiles: readonly DeviceProfile[]): DetectionResult {
  const verdicts = profiles.map((p) => judgeProfile(facts, p));
  let best = -1;
  verdicts.forEach((v, i) => {
    if (v.matched && (best < 0 || v.score > (verdicts[best] as ProfileVerdict).score)) best = i;
  });
  if (best >= 0) {
    const profile = profiles[best] as DeviceProfile;
    const verdict = verdicts[best] as ProfileVerdict;
    const ties = verdicts.filter((v, i) => i !== best && v.matched && v.score === verdict.score).map((v) => v.id);
    const warnings = warningsFor(facts, profile);
    if (ties.length > 0) warnings.push(`${ties.join(', ')} match${ties.length === 1 ? 'es' : ''} equally well; ${profile.id} was listed first`);
    return { profile, derived: false, reasons: verdict.reasons, verdicts, warnings, facts };
  }
  const { profile, reasons } = deriveProfile(facts);
  return { profile, derived: true, reasons: ['no profile matched this host', ...reasons], verdicts, warnings: [], facts };
}

/** Human-readable detection report (for `edge-infer detect`). */
export function formatDetection(r: DetectionResult): string {
  const lines = [`profile: ${r.profile.id}${r.derived ? ' (derived)' : ''} - ${r.profile.board}`];
  for (const reason of r.reasons) lines.push(`  ${reason}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  const others = r.verdicts.filter((v) => v.id !== r.profile.id);
  if (others.length > 0) {
    lines.push('other profiles:');
    for (const v of others) {
      lines.push(`  ${v.matched ? `${v.id}: matches too (score ${v.score})` : v.mismatches.join('; ')}`);
    }
  }
  return lines.join('\n');
}
