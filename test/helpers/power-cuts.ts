/**
 * Power cuts (issue 12): the real service (`edge-infer run`, digits model, real mosquitto) is
 * SIGKILLed at `kills` random moments while a requester streams QoS 1 requests to it, and started
 * again on the same state directory each time. After the last start the stream stops and every
 * request must be answered (duplicates allowed, matched by id), none with an error; after each kill
 * the outbox directory must read back cleanly (test/helpers/outbox-dir.ts: no foreign file, every
 * record before a torn tail valid). Used by test/power-cuts.test.ts (a few kills) and
 * bench/power-cuts.ts (the CI step, 20 kills).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { createMqttClient } from '../../runtime/transport/connect.js';
import { startMosquitto } from './mosquitto.js';
import { inspectOutboxDir } from './outbox-dir.js';
import { mulberry32 } from './prng.js';
import { digitsEval } from './service-harness.js';
import { startService, type ServiceProcess } from './service-process.js';

export interface PowerCutOptions {
  kills: number;
  /** PRNG seed for the kill moments. */
  seed: number;
  /**
   * A kill comes uniformly in [minUpMs, maxUpMs] after the service logged mqtt.connected, or (one
   * kill in four, at random) that long after the process started: a cut while it loads.
   */
  minUpMs: number;
  maxUpMs: number;
  /** Requests per second of the stream (at most). Default 100. */
  ratePerS?: number;
  /**
   * Most requests sent and not answered yet (DESIGN.md: a client keeps a bounded window; the
   * service answers a burst beyond its queueLimit, 64 by default, with EDGE_ERR_OVERLOADED, which
   * is overload, not a power-cut loss). Default 48.
   */
  window?: number;
  /** Longest wait for the last answers after the stream stops, ms. Default 30000. */
  drainMs?: number;
  log?: (line: string) => void;
}

export interface PowerCutReport {
  kills: number;
  /** Kills that came after the service had logged mqtt.connected in that run. */
  killsWhileConnected: number;
  sent: number;
  answered: number;
  /** Answers beyond the first for the same id. */
  duplicates: number;
  /** Error answers, by code. */
  errors: Record<string, number>;
  /** Ids sent and never answered. */
  missing: string[];
  /** After each kill: segments, live answers, torn-tail bytes of the outbox; foreign files. */
  outboxAfterKill: { segments: number; live: number; tornBytes: number; others: string[] }[];
  /** The outbox after the final clean stop. */
  outboxEnd: { live: number; others: string[] };
  finalExitCode: number | null;
}

interface Body {
  id?: string;
  error?: { code?: string };
}

export async function runPowerCuts(o: PowerCutOptions): Promise<PowerCutReport> {
  const say = o.log ?? (() => undefined);
  const rnd = mulberry32(o.seed);
  const ev = digitsEval();
  const broker = await startMosquitto();
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-powercut-'));
  const prefix = 'edge/powercut';
  const replyTo = 'test/powercut/replies';
  const config = { deviceId: 'powercut', topicPrefix: prefix, profile: 'generic-x64', stateDir: path.join(dir, 'state'), broker: { url: broker.url, protocolVersion: 5 }, log: { level: 'info', format: 'json' } };
  const req: MqttClient = createMqttClient(broker.url, { clientId: 'powercut-requester', clean: true, protocolVersion: 5, reconnectPeriod: 200 });
  const answers = new Map<string, number>();
  let answeredSent = 0;
  let probed = false;
  const errors: Record<string, number> = {};
  req.on('message', (_topic, payload) => {
    let b: Body;
    try {
      b = JSON.parse(payload.toString('utf8')) as Body;
    } catch {
      errors['not JSON'] = (errors['not JSON'] ?? 0) + 1;
      return;
    }
    if (b.error !== undefined) errors[b.error.code ?? '?'] = (errors[b.error.code ?? '?'] ?? 0) + 1;
    if (typeof b.id !== 'string') return;
    if (!answers.has(b.id) && b.id.startsWith('p') && !b.id.startsWith('probe')) answeredSent++;
    if (b.id.startsWith('probe')) probed = true;
    answers.set(b.id, (answers.get(b.id) ?? 0) + 1);
  });
  await new Promise<void>((resolve, reject) => {
    req.once('connect', () => resolve());
    req.once('error', reject);
  });
  await new Promise<void>((resolve) => req.subscribe(replyTo, { qos: 1 }, () => resolve()));
  const sentIds: string[] = [];
  let svc: ServiceProcess | undefined;
  const report: PowerCutReport = { kills: 0, killsWhileConnected: 0, sent: 0, answered: 0, duplicates: 0, errors, missing: [], outboxAfterKill: [], outboxEnd: { live: 0, others: [] }, finalExitCode: null };
  let streaming = false;
  const stream = async (): Promise<void> => {
    const gapMs = 1000 / (o.ratePerS ?? 100);
    const window = o.window ?? 48;
    while (streaming) {
      if (sentIds.length - answeredSent >= window) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const i = sentIds.length;
      const id = `p${i}`;
      sentIds.push(id);
      req.publish(`${prefix}/models/digits/infer`, JSON.stringify({ id, input: ev.inputs[i % ev.inputs.length] }), { qos: 1, properties: { responseTopic: replyTo } });
      await new Promise((r) => setTimeout(r, gapMs));
    }
  };
  try {
    // The first run subscribes the service's persistent session; only then can requests queue at the broker.
    svc = startService(config, [], dir);
    await svc.waitLog('mqtt.connected', 60_000);
    // Answered probe = the service's subscription exists (requests sent before it are not queued).
    for (let p = 0; !probed; p++) {
      if (p > 60) throw new Error('the service never answered a probe request');
      req.publish(`${prefix}/models/digits/infer`, JSON.stringify({ id: `probe${p}`, input: ev.inputs[0] }), { qos: 1, properties: { responseTopic: replyTo } });
      await new Promise((r) => setTimeout(r, 500));
    }
    streaming = true;
    const streamDone = stream();
    for (let k = 0; k < o.kills; k++) {
      const s = svc as ServiceProcess;
      const duringStart = rnd() < 0.25;
      const upMs = o.minUpMs + rnd() * (o.maxUpMs - o.minUpMs);
      if (!duringStart) await s.waitLog('mqtt.connected', 60_000);
      await new Promise((r) => setTimeout(r, upMs));
      if (s.logs().includes('mqtt.connected')) report.killsWhileConnected++;
      s.child.kill('SIGKILL');
      await s.exited;
      report.kills++;
      const seen = inspectOutboxDir(path.join(config.stateDir, 'outbox'));
      report.outboxAfterKill.push({ segments: seen.segments, live: seen.live.length, tornBytes: seen.tornBytes, others: seen.others });
      say(`kill ${k + 1}/${o.kills} ${Math.round(upMs)} ms after ${duringStart ? 'the start' : 'mqtt.connected'}: sent ${sentIds.length}, answered ${answers.size}, outbox live ${seen.live.length} in ${seen.segments} segment(s), torn ${seen.tornBytes} B`);
      svc = startService(config, [], dir);
    }
    await svc.waitLog('mqtt.connected', 60_000);
    streaming = false;
    await streamDone;
    const end = Date.now() + (o.drainMs ?? 30_000);
    while (sentIds.some((id) => !answers.has(id)) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    svc.child.kill('SIGTERM');
    report.finalExitCode = await svc.exited;
    const last = inspectOutboxDir(path.join(config.stateDir, 'outbox'));
    report.outboxEnd = { live: last.live.length, others: last.others };
  } finally {
    streaming = false;
    if (svc !== undefined && svc.child.exitCode === null) svc.child.kill('SIGKILL');
    await new Promise<void>((resolve) => req.end(true, {}, () => resolve()));
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  report.sent = sentIds.length;
  report.answered = sentIds.filter((id) => answers.has(id)).length;
  report.duplicates = [...answers.values()].reduce((n, c) => n + c - 1, 0);
  report.missing = sentIds.filter((id) => !answers.has(id));
  return report;
}
