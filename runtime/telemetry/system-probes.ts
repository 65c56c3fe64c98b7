/**
 * System probes: CPU temperature, Raspberry Pi throttling flags, memory (MemAvailable, cgroup v2,
 * PSI pressure), load, process memory, uptime and open file descriptors.
 *
 * Contract:
 * - Every probe resolves to null where the board or kernel does not expose the figure (missing file,
 *   unreadable file, unparsable content). Probes never throw and never reject.
 * - All file access goes through a `ProbeFs` (default: the real filesystem under `/`), so tests run
 *   against fixture trees; OS and process figures come from injectable functions.
 * - Read-only: nothing here writes anywhere (the systemd unit makes /sys and /proc read-only).
 */
import { readFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** The file access the probes need. Both methods resolve to null instead of failing. */
export interface ProbeFs {
  /** Whole file as UTF-8, or null when it is absent or unreadable. */
  readText(absPath: string): Promise<string | null>;
  /** Directory entry names, or null when the directory is absent or unreadable. */
  list(absDir: string): Promise<string[] | null>;
}

/** A ProbeFs reading the real filesystem, with absolute paths resolved under `root` (default "/"). */
export function createProbeFs(root = '/'): ProbeFs {
  const at = (p: string): string => path.join(root, p);
  return {
    async readText(p) {
      try {
        return await readFile(at(p), 'utf8');
      } catch {
        return null;
      }
    },
    async list(d) {
      try {
        return await readdir(at(d));
      } catch {
        return null;
      }
    },
  };
}

/** Raspberry Pi firmware throttling state (the `get_throttled` / `vcgencmd get_throttled` bits). */
export interface ThrottleFlags {
  /** The raw bitfield. */
  raw: number;
  /** bit 0: supply voltage is below 4.63 V now. */
  underVoltageNow: boolean;
  /** bit 1: the ARM frequency is capped now. */
  armFreqCappedNow: boolean;
  /** bit 2: the CPU is throttled now. */
  throttledNow: boolean;
  /** bit 3: the soft temperature limit is active now. */
  softTempLimitNow: boolean;
  /** bit 16: under-voltage has occurred since boot. */
  underVoltageOccurred: boolean;
  /** bit 17: ARM frequency capping has occurred since boot. */
  armFreqCappedOccurred: boolean;
  /** bit 18: throttling has occurred since boot. */
  throttledOccurred: boolean;
  /** bit 19: the soft temperature limit has been reached since boot. */
  softTempLimitOccurred: boolean;
}

/** Decodes the firmware bitfield. Pure. */
export function decodeThrottled(raw: number): ThrottleFlags {
  const bit = (n: number): boolean => ((raw >>> n) & 1) === 1;
  return { raw, underVoltageNow: bit(0), armFreqCappedNow: bit(1), throttledNow: bit(2), softTempLimitNow: bit(3), underVoltageOccurred: bit(16), armFreqCappedOccurred: bit(17), throttledOccurred: bit(18), softTempLimitOccurred: bit(19) };
}

/** True when any "now" bit is set: the board is limiting performance at this moment. */
export function isThrottledNow(f: ThrottleFlags): boolean {
  return f.underVoltageNow || f.armFreqCappedNow || f.throttledNow || f.softTempLimitNow;
}

/** cgroup v2 memory figures of this process's cgroup. */
export interface CgroupMemory {
  /** memory.current, MB. */
  currentMB: number;
  /** memory.max, MB; null when unlimited ("max") or absent. */
  maxMB: number | null;
  /** memory.high, MB; null when unlimited or absent. */
  highMB: number | null;
  /** memory.events counters since the cgroup was created; null when the file is absent. */
  events: { low: number; high: number; max: number; oom: number; oomKill: number } | null;
}

/** Pressure stall information (PSI): share of time tasks waited for memory, percent. */
export interface MemoryPressure {
  someAvg10: number;
  someAvg60: number;
  fullAvg10: number | null;
}

export interface ProcessMemory {
  rssMB: number;
  heapUsedMB: number;
  heapTotalMB: number;
  externalMB: number;
}

export interface SystemProbesOptions {
  /** Default: the real filesystem under "/". */
  fs?: ProbeFs;
  /** Default os.loadavg. */
  loadavg?: () => number[];
  /** Default process.memoryUsage. */
  memoryUsage?: () => NodeJS.MemoryUsage;
  /** Process uptime, s. Default process.uptime. */
  processUptimeS?: () => number;
}

const MB = 1024 * 1024;

/** Zone types whose temperature is the CPU's (Pi: "cpu-thermal"; x86: "x86_pkg_temp"; others: "soc"). */
const CPU_ZONE_TYPE = /cpu|soc|x86_pkg/i;
const THROTTLED_PATH = '/sys/devices/platform/soc/soc:firmware/get_throttled';

function parseNumber(text: string | null): number | null {
  if (text === null) return null;
  const n = Number(text.trim());
  return text.trim() !== '' && Number.isFinite(n) ? n : null;
}

function parseLimitMB(text: string | null): number | null {
  if (text === null || text.trim() === 'max') return null;
  const n = parseNumber(text);
  return n === null ? null : n / MB;
}

function parseKeyedCounters(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k !== undefined && v !== undefined && Number.isFinite(Number(v))) out.set(k, Number(v));
  }
  return out;
}

/** The probes, bound to one filesystem and process. Cheap to call every telemetry interval. */
export class SystemProbes {
  readonly #fs: ProbeFs;
  readonly #loadavg: () => number[];
  readonly #memoryUsage: () => NodeJS.MemoryUsage;
  readonly #uptimeS: () => number;

  constructor(options: SystemProbesOptions = {}) {
    this.#fs = options.fs ?? createProbeFs('/');
    this.#loadavg = options.loadavg ?? (() => os.loadavg());
    this.#memoryUsage = options.memoryUsage ?? (() => process.memoryUsage());
    this.#uptimeS = options.processUptimeS ?? (() => process.uptime());
  }

  /**
   * CPU temperature, °C: the hottest thermal zone whose type names the CPU/SoC, else zone 0;
   * null when no zone is readable.
   */
  async cpuTempC(): Promise<number | null> {
    const base = '/sys/class/thermal';
    const zones = ((await this.#fs.list(base)) ?? []).filter((z) => /^thermal_zone\d+$/.test(z)).sort((a, b) => Number(a.slice(12)) - Number(b.slice(12)));
    let best: number | null = null;
    let zone0: number | null = null;
    for (const z of zones) {
      const milli = parseNumber(await this.#fs.readText(`${base}/${z}/temp`));
      if (milli === null) continue;
      const c = milli / 1000;
      if (z === 'thermal_zone0') zone0 = c;
      const type = (await this.#fs.readText(`${base}/${z}/type`))?.trim() ?? '';
      if (CPU_ZONE_TYPE.test(type) && (best === null || c > best)) best = c;
    }
    return best ?? zone0;
  }

  /** Pi firmware throttling flags; null on boards without the firmware file. */
  async throttled(): Promise<ThrottleFlags | null> {
    const text = (await this.#fs.readText(THROTTLED_PATH))?.trim();
    if (text === undefined || text === '') return null;
    // The sysfs file holds bare hex ("50005"); vcgencmd prints "throttled=0x50005". Accept both.
    const m = /^(?:throttled=)?(?:0x)?([0-9a-f]+)$/i.exec(text);
    if (m === null) return null;
    return decodeThrottled(Number.parseInt(m[1]!, 16));
  }

  /** 1, 5 and 15 minute load averages (all 0 on platforms without them). */
  loadAvg(): { loadAvg1: number; loadAvg5: number; loadAvg15: number } {
    const [a = 0, b = 0, c = 0] = this.#loadavg();
    return { loadAvg1: a, loadAvg5: b, loadAvg15: c };
  }

  processMemory(): ProcessMemory {
    const m = this.#memoryUsage();
    return { rssMB: m.rss / MB, heapUsedMB: m.heapUsed / MB, heapTotalMB: m.heapTotal / MB, externalMB: m.external / MB };
  }

  processUptimeS(): number {
    return this.#uptimeS();
  }

  /** /proc/meminfo MemAvailable, MB; null when absent (old kernels, non-Linux). */
  async memAvailableMB(): Promise<number | null> {
    const text = await this.#fs.readText('/proc/meminfo');
    const m = text === null ? null : /^MemAvailable:\s+(\d+)\s+kB/m.exec(text);
    return m ? Number(m[1]) / 1024 : null;
  }

  /** /proc/meminfo MemTotal, MB; null when absent. */
  async memTotalMB(): Promise<number | null> {
    const text = await this.#fs.readText('/proc/meminfo');
    const m = text === null ? null : /^MemTotal:\s+(\d+)\s+kB/m.exec(text);
    return m ? Number(m[1]) / 1024 : null;
  }

  /** The cgroup v2 directory of this process under /sys/fs/cgroup; null on cgroup v1 or outside Linux. */
  async cgroupDir(): Promise<string | null> {
    const text = await this.#fs.readText('/proc/self/cgroup');
    const m = text === null ? null : /^0::(\/.*)$/m.exec(text);
    if (!m) return null;
    return path.posix.join('/sys/fs/cgroup', m[1]!.trim());
  }

  /** cgroup v2 memory.current / max / high / events; null when the controller files are absent. */
  async cgroupMemory(): Promise<CgroupMemory | null> {
    const dir = await this.cgroupDir();
    if (dir === null) return null;
    const current = parseNumber(await this.#fs.readText(`${dir}/memory.current`));
    if (current === null) return null;
    const eventsText = await this.#fs.readText(`${dir}/memory.events`);
    let events: CgroupMemory['events'] = null;
    if (eventsText !== null) {
      const c = parseKeyedCounters(eventsText);
      events = { low: c.get('low') ?? 0, high: c.get('high') ?? 0, max: c.get('max') ?? 0, oom: c.get('oom') ?? 0, oomKill: c.get('oom_kill') ?? 0 };
    }
    return { currentMB: current / MB, maxMB: parseLimitMB(await this.#fs.readText(`${dir}/memory.max`)), highMB: parseLimitMB(await this.#fs.readText(`${dir}/memory.high`)), events };
  }

  /** /proc/pressure/memory (PSI, kernel >= 4.20 with CONFIG_PSI); null when absent. */
  async memoryPressure(): Promise<MemoryPressure | null> {
    const text = await this.#fs.readText('/proc/pressure/memory');
    if (text === null) return null;
    const some = /^some avg10=([\d.]+) avg60=([\d.]+)/m.exec(text);
    if (!some) return null;
    const full = /^full avg10=([\d.]+)/m.exec(text);
    return { someAvg10: Number(some[1]), someAvg60: Number(some[2]), fullAvg10: full ? Number(full[1]) : null };
  }

  /**
   * Open file descriptors of this process (entries of /proc/self/fd; on the real filesystem the
   * count includes the one descriptor used to list the directory). Null where /proc is absent.
   */
  async openFds(): Promise<number | null> {
    const entries = await this.#fs.list('/proc/self/fd');
    return entries === null ? null : entries.length;
  }
}
