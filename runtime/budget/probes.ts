/**
 * Thin readers for the memory facts the budget needs. The file reader and fs root are injectable
 * so tests feed fixture trees. MB = MiB. Readers return null where the fact is absent; they never
 * throw for a missing file.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export type TextReader = (file: string) => Promise<string>;

const MiB = 1024 * 1024;
const defaultReader: TextReader = (f) => readFile(f, 'utf8');

async function tryRead(read: TextReader, file: string): Promise<string | null> {
  try {
    return await read(file);
  } catch {
    return null;
  }
}

/** This process's resident set size, MB. */
export function processRssMB(rss: () => number = () => process.memoryUsage.rss()): number {
  return rss() / MiB;
}

/**
 * The lowest cgroup v2 memory.max on this process's cgroup path and its ancestors
 * (<fsRoot>/proc/self/cgroup "0::<path>" -> <fsRoot>/sys/fs/cgroup/<path>/memory.max), MB.
 * null when unlimited ("max" everywhere), cgroup v1 only, or unreadable.
 */
export async function cgroupMemoryLimitMB(fsRoot = '/', read: TextReader = defaultReader): Promise<number | null> {
  const text = await tryRead(read, path.join(fsRoot, 'proc/self/cgroup'));
  const line = text?.split('\n').find((l) => l.startsWith('0::'));
  if (line === undefined) return null;
  const parts = line
    .slice(3)
    .trim()
    .split('/')
    .filter((p) => p !== '' && p !== '.' && p !== '..');
  let lowest: number | null = null;
  for (let n = parts.length; n >= 0; n--) {
    const raw = await tryRead(read, path.join(fsRoot, 'sys/fs/cgroup', ...parts.slice(0, n), 'memory.max'));
    const value = raw?.trim();
    if (value === undefined || value === 'max' || !/^\d+$/.test(value)) continue;
    const mb = Number(value) / MiB;
    if (lowest === null || mb < lowest) lowest = mb;
  }
  return lowest;
}

/** MemAvailable from <fsRoot>/proc/meminfo, MB; null when absent. */
export async function memAvailableMB(fsRoot = '/', read: TextReader = defaultReader): Promise<number | null> {
  const text = await tryRead(read, path.join(fsRoot, 'proc/meminfo'));
  const m = text?.match(/^MemAvailable:\s+(\d+)\s+kB/m);
  return m?.[1] === undefined ? null : Number(m[1]) / 1024;
}
