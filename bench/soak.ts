/**
 * Soak: a high request rate from one MQTT 5 client to the real service (`edge-infer run` child,
 * real digits model) over a real mosquitto with persistence, the broker restarted mid-run, then a
 * drain. Counts what was sent and answered (by id), and samples the service's RSS and open fds
 * (/proc) and its outbox and queue depths (telemetry). Linux only.
 *
 *   node dist/bench/soak.js --minutes 60 [--restarts 6] [--window 64]
 *
 * `runSoak` is also the engine of test/soak.test.ts (a short run). Throws on set-up failures only;
 * lost answers and growth are reported as figures for the caller to judge.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect, type MqttClient } from 'mqtt';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { digitsEval, fdCount, makeModelsDir, outboxLive, rssMB } from '../test/helpers/service-harness.js';
import { startService } from '../test/helpers/service-process.js';

export interface SoakOptions {
  seconds: number;
  /** Broker restarts, spread evenly over the run. */
  restarts: number;
  /** Most requests in flight (sent, not answered). */
  window: number;
  /** Parent of the temp dir (state dir, outbox). Default os.tmpdir(). */
  baseDir?: string;
  /** Called with every sample (bench prints them). */
  onSample?: (s: SoakSample) => void;
  /** Sampling period, ms. Default 2000. */
  sampleMs?: number;
}

export interface SoakSample {
  atS: number;
  sent: number;
  answered: number;
  rssMB: number;
  fds: number;
  outboxDepth: number | null;
  queueDepth: number | null;
}

export interface SoakFigures {
  seconds: number;
  sent: number;
  /** Distinct ids answered with a result. */
  answered: number;
  /** Ids never answered. */
  lost: number;
  /** Answers beyond the first per id (allowed across reconnects). */
  duplicates: number;
  /** Error answers (each a coded error; none expected). */
  errors: string[];
  /** Answers whose label differs from the first answer for the same eval sample. */
  wrongLabels: number;
  restarts: number;
  serviceReconnectsLogged: number;
  rssStartMB: number;
  rssEndMB: number;
  rssMaxMB: number;
  fdsStart: number;
  fdsEnd: number;
  fdsMax: number;
  outboxDepthMax: number;
  outboxDepthEnd: number | null;
  outboxLiveEnd: number;
  queueDepthMax: number;
  queueDepthEnd: number | null;
  alive: boolean;
  samples: SoakSample[];
}

interface Telemetry {
  outbox?: { depth?: number };
  models?: { queueDepth?: number }[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runSoak(o: SoakOptions): Promise<SoakFigures> {
  const dir = mkdtempSync(path.join(o.baseDir ?? tmpdir(), 'edge-soak-'));
  const broker = await startMosquitto({ persistence: true });
  const prefix = 'edge/soak';
  const svc = startService(
    {
      deviceId: 'soak',
      topicPrefix: prefix,
      profile: 'generic-x64',
      modelsDir: makeModelsDir(dir),
      broker: { url: broker.url, protocolVersion: 5, reconnectMinMs: 100, reconnectMaxMs: 1000 },
      models: { digits: { queueLimit: Math.max(256, o.window * 4) } },
      telemetry: { intervalS: 1 },
      log: { level: 'info', format: 'json' },
    },
    [],
    dir,
  );
  let client: MqttClient | undefined;
  try {
    await svc.waitLog('mqtt.connected');
    const pid = svc.child.pid as number;
    const ev = digitsEval();
    client = connect(broker.url, { protocolVersion: 5, clientId: 'soaker', clean: false, reconnectPeriod: 100, properties: { sessionExpiryInterval: 3600 } });
    const c = client;
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
    });
    await c.subscribeAsync(['soakr/answers', `${prefix}/telemetry`], { qos: 1 });

    /** id -> eval sample index; the first answer per sample fixes its label, later ones must agree. */
    const expected = new Map<string, number>();
    const firstLabel = new Map<number, number>();
    const answered = new Set<string>();
    const errors: string[] = [];
    let duplicates = 0;
    let wrongLabels = 0;
    let telemetry: { outbox: number | null; queue: number | null } = { outbox: null, queue: null };
    let wake: (() => void) | undefined;
    c.on('message', (topic, payload) => {
      if (topic === `${prefix}/telemetry`) {
        try {
          const tm = JSON.parse(payload.toString()) as Telemetry;
          telemetry = { outbox: tm.outbox?.depth ?? null, queue: (tm.models ?? []).reduce((n, m) => n + (m.queueDepth ?? 0), 0) };
        } catch {
          /* a torn telemetry message is not a soak figure */
        }
        return;
      }
      const body = JSON.parse(payload.toString()) as { id?: string; error?: { code?: string }; outputs?: { logits?: { data: number[] } } };
      const id = String(body.id);
      if (answered.has(id)) {
        duplicates++;
        return;
      }
      if (body.error !== undefined) {
        errors.push(`${id}: ${body.error.code ?? '?'}`);
        answered.add(id);
      } else {
        const d = body.outputs?.logits?.data ?? [];
        const label = d.indexOf(Math.max(...d));
        const sampleIndex = expected.get(id) ?? -1;
        const first = firstLabel.get(sampleIndex);
        if (first === undefined) firstLabel.set(sampleIndex, label);
        else if (first !== label) wrongLabels++;
        answered.add(id);
      }
      wake?.();
    });

    const samples: SoakSample[] = [];
    const t0 = performance.now();
    const atS = (): number => (performance.now() - t0) / 1000;
    let sent = 0;
    const sample = (): SoakSample => {
      const s: SoakSample = { atS: Math.round(atS() * 10) / 10, sent, answered: answered.size, rssMB: rssMB(pid), fds: fdCount(pid), outboxDepth: telemetry.outbox, queueDepth: telemetry.queue };
      samples.push(s);
      o.onSample?.(s);
      return s;
    };
    const restartAt = Array.from({ length: o.restarts }, (_, k) => (o.seconds * (k + 1)) / (o.restarts + 1));
    let restarts = 0;
    let nextSample = 0;
    const warmupS = Math.min(5, o.seconds / 6);
    let start: SoakSample | undefined;
    const timeouts: Promise<void>[] = [];
    while (atS() < o.seconds) {
      if (svc.child.exitCode !== null) break;
      if (restarts < restartAt.length && atS() >= (restartAt[restarts] as number)) {
        restarts++;
        timeouts.push(broker.restart());
        await timeouts.at(-1);
      }
      if (start === undefined && atS() >= warmupS) start = sample();
      if (atS() * 1000 >= nextSample) {
        sample();
        nextSample += o.sampleMs ?? 2000;
      }
      if (sent - answered.size >= o.window && c.connected) {
        await new Promise<void>((resolve) => {
          const tm = setTimeout(resolve, 100);
          wake = () => {
            clearTimeout(tm);
            resolve();
          };
        });
        continue;
      }
      if (!c.connected) {
        await sleep(20);
        continue;
      }
      const i = sent % ev.inputs.length;
      const id = `s${sent}`;
      expected.set(id, i);
      sent++;
      c.publish(`${prefix}/models/digits/infer`, JSON.stringify({ id, input: ev.inputs[i] }), { qos: 1, properties: { responseTopic: 'soakr/answers' } });
    }
    // Drain: every id answered, telemetry back to an empty outbox and queue.
    const drainEnd = performance.now() + 60_000;
    while (performance.now() < drainEnd && svc.child.exitCode === null) {
      const allIn = answered.size >= expected.size && [...expected.keys()].every((id) => answered.has(id));
      if (allIn && telemetry.outbox === 0 && telemetry.queue === 0) break;
      await sleep(200);
    }
    // One more telemetry interval so the end figures are after the drain.
    await sleep(1200);
    const end = sample();
    const first = start ?? samples[0] ?? end;
    const ids = [...expected.keys()];
    const reconnects = (svc.logs().match(/"event":"mqtt\.connected"/g) ?? []).length - 1;
    return {
      seconds: Math.round(atS()),
      sent,
      answered: ids.filter((id) => answered.has(id)).length,
      lost: ids.filter((id) => !answered.has(id)).length,
      duplicates,
      errors,
      wrongLabels,
      restarts,
      serviceReconnectsLogged: reconnects,
      rssStartMB: first.rssMB,
      rssEndMB: end.rssMB,
      rssMaxMB: Math.max(...samples.map((s) => s.rssMB)),
      fdsStart: first.fds,
      fdsEnd: end.fds,
      fdsMax: Math.max(...samples.map((s) => s.fds)),
      outboxDepthMax: Math.max(0, ...samples.map((s) => s.outboxDepth ?? 0)),
      outboxDepthEnd: end.outboxDepth,
      outboxLiveEnd: outboxLive(path.join(dir, 'state', 'outbox')),
      queueDepthMax: Math.max(0, ...samples.map((s) => s.queueDepth ?? 0)),
      queueDepthEnd: end.queueDepth,
      alive: svc.child.exitCode === null,
      samples,
    };
  } finally {
    await client?.endAsync().catch(() => undefined);
    svc.child.kill('SIGKILL');
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const minutes = arg('minutes', 60);
  const restarts = arg('restarts', Math.max(2, Math.round(minutes / 10)));
  const f = await runSoak({ seconds: minutes * 60, restarts, window: arg('window', 64), sampleMs: 60_000, onSample: (s) => console.log(`t=${s.atS}s sent=${s.sent} answered=${s.answered} rss=${s.rssMB.toFixed(1)}MB fds=${s.fds} outbox=${String(s.outboxDepth)} queue=${String(s.queueDepth)}`) });
  const { samples, ...figures } = f;
  void samples;
  console.log(JSON.stringify(figures, null, 2));
  process.exitCode = f.lost === 0 && f.alive && f.errors.length === 0 ? 0 : 1;
}
