/**
 * Reading what this host is from /proc and /sys (the thin I/O side of detection; detect.ts is pure).
 *
 * Contract: never throws for missing or unreadable files (a fact it cannot read is left undefined);
 * every path is read under `fsRoot`, so tests feed fixture trees (test/fixtures/hosts/<name>/).
 * Only cgroup v2 is read (`0::<path>` in /proc/self/cgroup); a v1-only host reports no limit.
 */
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { CpuFeature } from './types.js';

export interface HostFacts {
  /** Node's process.arch: 'arm64', 'arm' (32-bit ARM userland), 'x64', ... */
  nodeArch: string;
  /** Online CPUs (os.cpus().length). */
  cpuCount: number;
  /** /proc/device-tree/model without the trailing NUL; undefined where absent (x86, most VMs). */
  deviceTreeModel?: string;
  /** Human CPU name: the ARM core from "CPU part", or x86 "model name". */
  cpuModel?: string;
  /** CPU features the profiles know, from the first Features/flags line of /proc/cpuinfo. */
  cpuFeatures: CpuFeature[];
  /** MemTotal, MB (1 MB = 1024 kB). */
  memTotalMB?: number;
  /** MemAvailable, MB. */
  memAvailableMB?: number;
  /** Lowest cgroup v2 memory.max along this process's cgroup path, MB; undefined = no limit. */
  cgroupMemoryMaxMB?: number;
  /** This process's cgroup v2 path, e.g. "/system.slice/edge-infer.service". */
  cgroupPath?: string;
}

/** Facts Node itself knows (passed in so fixtures can claim another host). */
export interface RuntimeFacts {
  nodeArch: string;
  cpuCount: number;
}

export function currentRuntimeFacts(): RuntimeFacts {
  return { nodeArch: process.arch, cpuCount: cpus().length };
}

/** ARM "CPU part" ids (implementer 0x41) of cores found on Pi-class boards. */
const ARM_PARTS: Readonly<Record<string, string>> = {
  '0xd03': 'Cortex-A53',
  '0xd04': 'Cortex-A35',
  '0xd05': 'Cortex-A55',
  '0xd07': 'Cortex-A57',
  '0xd08': 'Cortex-A72',
  '0xd09': 'Cortex-A73',
  '0xd0a': 'Cortex-A75',
  '0xd0b': 'Cortex-A76',
  '0xd0c': 'Neoverse-N1',
  '0xd0d': 'Cortex-A77',
  '0xd41': 'Cortex-A78',
  '0xd46': 'Cortex-A510',
  '0xd47': 'Cortex-A710',
};

/** /proc/cpuinfo flag -> profile feature. ARM: asimd (arm64) / neon (armv7); x86: flags. */
const FLAG_FEATURES: ReadonlyArray<readonly [string, CpuFeature]> = [
  ['asimd', 'neon'],
  ['neon', 'neon'],
  ['asimddp', 'dotprod'],
  ['asimdhp', 'fp16'],
  ['fphp', 'fp16'],
  ['i8mm', 'i8mm'],
  ['sse4_2', 'sse4'],
  ['avx2', 'avx2'],
  ['avx512f', 'avx512'],
  ['avx512_vnni', 'avx512vnni'],
];

async function readText(fsRoot: string, path: string): Promise<string | undefined> {
  try {
    return await readFile(join(fsRoot, path), 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Parses /proc/cpuinfo text: features (first Features/flags line), a CPU name, and the board name
 * Raspberry Pi kernels print on a `Model` line (the same text as /proc/device-tree/model).
 */
export function parseCpuinfo(text: string): { features: CpuFeature[]; model?: string; board?: string } {
  const field = (name: string): string | undefined => {
    const m = new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text);
    return m?.[1]?.trim();
  };
  const flags = new Set((field('Features') ?? field('flags') ?? '').split(/\s+/).filter((f) => f !== ''));
  const features: CpuFeature[] = [];
  for (const [flag, feature] of FLAG_FEATURES) {
    if (flags.has(flag) && !features.includes(feature)) features.push(feature);
  }
  const part = field('CPU part');
  const model = (part !== undefined && field('CPU implementer') === '0x41' ? ARM_PARTS[part] : undefined) ?? field('model name');
  const board = field('Model');
  return { features, ...(model === undefined ? {} : { model }), ...(board === undefined || board === '' ? {} : { board }) };
}

/** Parses /proc/meminfo text into MB figures. */
export function parseMeminfo(text: string): { memTotalMB?: number; memAvailableMB?: number } {
  const kB = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s*(\\d+)\\s*kB`, 'm').exec(text);
    return m?.[1] === undefined ? undefined : Math.floor(Number(m[1]) / 1024);
  };
  const out: { memTotalMB?: number; memAvailableMB?: number } = {};
  const total = kB('MemTotal');
  const available = kB('MemAvailable');
  if (total !== undefined) out.memTotalMB = total;
  if (available !== undefined) out.memAvailableMB = available;
  return out;
}

/** The cgroup v2 path from /proc/self/cgroup text ("0::/system.slice/x.service"). */
export function parseCgroupPath(text: string): string | undefined {
  const m = /^0::(\/.*)$/m.exec(text);
  return m?.[1]?.trim();
}

/** memory.max text -> MB; "max" (no limit) or garbage -> undefined. */
export function parseMemoryMax(text: string): number | undefined {
  const v = text.trim();
  if (!/^\d+$/.test(v)) return undefined;
  return Math.floor(Number(v) / (1024 * 1024));
}

async function cgroupLimitMB(fsRoot: string, cgroupPath: string): Promise<number | undefined> {
  let lowest: number | undefined;
  const parts = cgroupPath.split('/').filter((p) => p !== '' && p !== '..');
  for (let n = parts.length; n >= 0; n--) {
    const text = await readText(fsRoot, join('sys/fs/cgroup', ...parts.slice(0, n), 'memory.max'));
    const mb = text === undefined ? undefined : parseMemoryMax(text);
    if (mb !== undefined && (lowest === undefined || mb < lowest)) lowest = mb;
  }
  return lowest;
}

/**
 * Reads the host's facts under `fsRoot` (default "/"). `runtime` defaults to this Node process
 * (process.arch, os.cpus().length); tests pass the fixture host's.
 */
export async function readHostFacts(fsRoot = '/', runtime: RuntimeFacts = currentRuntimeFacts()): Promise<HostFacts> {
  const facts: HostFacts = { nodeArch: runtime.nodeArch, cpuCount: runtime.cpuCount, cpuFeatures: [] };
  const model = await readText(fsRoot, 'proc/device-tree/model');
  if (model !== undefined) {
    const trimmed = model.replace(/\0+$/, '').trim();
    if (trimmed !== '') facts.deviceTreeModel = trimmed;
  }
  const cpuinfo = await readText(fsRoot, 'proc/cpuinfo');
  if (cpuinfo !== undefined) {
    const parsed = parseCpuinfo(cpuinfo);
    facts.cpuFeatures = parsed.features;
    if (parsed.model !== undefined) facts.cpuModel = parsed.model;
    // Containers often hide /proc/device-tree (and /sys/firmware); Pi kernels repeat the board name here.
    if (facts.deviceTreeModel === undefined && parsed.board !== undefined) facts.deviceTreeModel = parsed.board;
  }
  const meminfo = await readText(fsRoot, 'proc/meminfo');
  if (meminfo !== undefined) Object.assign(facts, parseMeminfo(meminfo));
  const cgroup = await readText(fsRoot, 'proc/self/cgroup');
  const cgroupPath = cgroup === undefined ? undefined : parseCgroupPath(cgroup);
  if (cgroupPath !== undefined) {
    facts.cgroupPath = cgroupPath;
    const limit = await cgroupLimitMB(fsRoot, cgroupPath);
    if (limit !== undefined) facts.cgroupMemoryMaxMB = limit;
  }
  return facts;
}
