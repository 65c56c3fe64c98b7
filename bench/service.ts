/**
 * Runs the service as a child process for the benchmarks: either the real CLI (`edge-infer run
 * --config <file>`) or bench/service-child.js (EdgeService in a process of its own that also
 * measures its event-loop delay and answers over IPC). Reads RSS figures from /proc/<pid>/status.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { connectClient, endClient } from './mqtt-load.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin', 'edge-infer.js');
const CHILD = fileURLToPath(new URL('./service-child.js', import.meta.url));

export const DEVICE = 'bench';
export const PREFIX = `edge/${DEVICE}`;

export interface ModelSettings {
  maxBatch?: number;
  maxQueueDelayMs?: number;
  preferredBatchSizes?: number[];
  queueLimit?: number;
  enabled?: boolean;
}

export interface ServiceSpec {
  brokerUrl: string;
  /** Folder for config.json; state goes to `stateDir` (default <dir>/state). */
  dir: string;
  stateDir?: string;
  modelsDir?: string;
  models?: Record<string, ModelSettings>;
  /** Run bench/service-child.js (in-process EdgeService + event-loop monitor) instead of the CLI. */
  wrapper?: boolean;
  /** Extra node flags for the child (e.g. --cpu-prof). */
  execArgv?: string[];
}

export interface EventLoopFigures {
  maxMs: number;
  p99Ms: number;
  meanMs: number;
  /** Longest and summed GC pause on the service's main thread since the last reset, ms. */
  gcMaxMs: number;
  gcTotalMs: number;
  /** Involuntary context switches of the service process since the last reset. */
  preempted: number;
  /** Requests the runtime counted since the last reset, and V8 heap / external bytes allocated per request on the main thread (service-child.ts says how). */
  requests: number;
  heapBPerRequest: number;
  externalBPerRequest: number;
}

export interface BenchService {
  readonly child: ChildProcess;
  /** performance.now() just before spawn. */
  readonly spawnedAt: number;
  /** Date.now() just before spawn (to place log line times). */
  readonly spawnedWallMs: number;
  logs(): string;
  waitLog(text: string, timeoutMs?: number): Promise<number>;
  /** Event-loop delay since the last reset (wrapper only). */
  eventLoop(reset: boolean): Promise<EventLoopFigures>;
  stop(): Promise<void>;
}

export function writeConfig(s: ServiceSpec): string {
  const file = join(s.dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      deviceId: DEVICE,
      profile: 'generic-x64',
      stateDir: s.stateDir ?? join(s.dir, 'state'),
      ...(s.modelsDir !== undefined ? { modelsDir: s.modelsDir } : {}),
      broker: { url: s.brokerUrl, protocolVersion: 5 },
      embeddedBroker: { mode: 'never' },
      models: s.models ?? {},
      limits: { maxPayloadBytes: 1_048_576, maxBatch: 64 },
      telemetry: { intervalS: 1 },
      log: { level: 'info', format: 'json' },
    }),
  );
  return file;
}

export function startBenchService(s: ServiceSpec): BenchService {
  const file = writeConfig(s);
  const spawnedWallMs = Date.now();
  const spawnedAt = performance.now();
  const child =
    s.wrapper === true ? fork(CHILD, [file], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: s.execArgv ?? (process.env['EDGE_BENCH_CHILD_FLAGS'] ?? '').split(' ').filter(Boolean) }) : spawn(process.execPath, [...(s.execArgv ?? []), CLI, 'run', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  const waiters: { text: string; resolve: (at: number) => void }[] = [];
  const onData = (b: Buffer): void => {
    logs += b.toString();
    const now = performance.now();
    for (const w of [...waiters])
      if (logs.includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(now);
      }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ipc = (msg: string): Promise<unknown> =>
    new Promise((resolve) => {
      child.once('message', resolve);
      child.send?.(msg);
    });
  return {
    child,
    spawnedAt,
    spawnedWallMs,
    logs: () => logs,
    waitLog(text, timeoutMs = 30_000) {
      if (logs.includes(text)) return Promise.resolve(performance.now());
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`service did not log "${text}" in ${timeoutMs} ms:\n${logs.slice(-3000)}`)), timeoutMs);
        waiters.push({
          text,
          resolve: (at) => {
            clearTimeout(t);
            resolve(at);
          },
        });
        void exited.then(() => {
          clearTimeout(t);
          reject(new Error(`service exited (${child.exitCode}) before logging "${text}":\n${logs.slice(-3000)}`));
        });
      });
    },
    async eventLoop(reset) {
      return (await ipc(reset ? 'report-reset' : 'report')) as EventLoopFigures;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** VmRSS and VmHWM (peak RSS) of a process, MB. */
export function procMemoryMB(pid: number): { rssMB: number; hwmMB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rssMB: kb('VmRSS') / 1024, hwmMB: kb('VmHWM') / 1024 };
}

/** The `fields` of every JSON log line whose msg/event is `event`. */
export function logEvents(logs: string, event: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of logs.split('\n')) {
    if (!line.includes(`"${event}"`)) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      /* not JSON */
    }
  }
  return out;
}

/**
 * Connects and subscribes, calls `begin` (which starts the service), then sends a digits request
 * every `everyMs` (QoS 0: nobody holds them) until the first answer; resolves with
 * performance.now() at that answer.
 */
export async function firstAnswerAt(url: string, payload: Buffer, begin: () => void, everyMs = 5, timeoutMs = 30_000): Promise<number> {
  const c: MqttClient = await connectClient(url);
  const reply = `${PREFIX}/replies/cold-${process.pid}`;
  await c.subscribeAsync(reply, { qos: 1 });
  begin();
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setInterval(() => {
        c.publish(`${PREFIX}/models/digits/infer`, payload, { qos: 0, properties: { contentType: 'application/json', responseTopic: reply, correlationData: Buffer.from('cold') } });
      }, everyMs);
      const give = setTimeout(() => {
        clearInterval(timer);
        reject(new Error('no first answer'));
      }, timeoutMs);
      c.once('message', () => {
        const at = performance.now();
        clearInterval(timer);
        clearTimeout(give);
        resolve(at);
      });
    });
  } finally {
    await endClient(c);
  }
}

/** The retained status of the service (after it is online). */
export async function readStatus(url: string): Promise<Record<string, unknown>> {
  const c = await connectClient(url);
  try {
    return await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no retained status')), 5000);
      c.on('message', (_topic, payload) => {
        const s = JSON.parse(payload.toString()) as Record<string, unknown>;
        if (s['state'] === 'online') {
          clearTimeout(t);
          resolve(s);
        }
      });
      void c.subscribeAsync(`${PREFIX}/status`, { qos: 1 });
    });
  } finally {
    await endClient(c);
  }
}
