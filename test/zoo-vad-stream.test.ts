/**
 * Issue 11 with the zoo's third-party `vad` (Silero VAD v4, LSTM state h/c declared in its manifest):
 * speech made here with espeak-ng (22.05 kHz, resampled by the service to 16 kHz), streamed over a
 * real mosquitto as 100 ms PCM chunks on two interleaved streams, yields one start and one end event
 * per utterance on each stream: the LSTM state and the audio remainder of one stream never leak into
 * the other. Needs espeak-ng (CI installs it).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import t from 'tap';
import { decodeWav } from '../runtime/media/audio.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { ROOT, startService } from './helpers/service-process.js';
import { pcm16 } from './helpers/media-models.js';

const prefix = 'edge/vadtest';
interface EventBody {
  event: string;
  stream: string | null;
  model: string;
  variant: string;
  score: number;
  streamS?: number;
}
interface Body {
  id?: string;
  frames?: number;
  error?: { code: string };
}

function speech(dir: string, text: string): { rate: number; samples: Float32Array } {
  const file = path.join(dir, `${text.replace(/\W+/g, '-')}.wav`);
  execFileSync('espeak-ng', ['-w', file, text]);
  return decodeWav(readFileSync(file));
}

/** Low noise (amplitude 0.003, deterministic) so the silences are not digital zero. */
function withSilences(rate: number, parts: (Float32Array | number)[]): Float32Array {
  const len = parts.reduce<number>((n, p) => n + (typeof p === 'number' ? Math.round((p * rate) / 1000) : p.length), 0);
  const out = new Float32Array(len);
  let seed = 7;
  for (let i = 0; i < len; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    out[i] = (seed / 2147483648 - 0.5) * 0.006;
  }
  let at = 0;
  for (const p of parts) {
    if (typeof p === 'number') {
      at += Math.round((p * rate) / 1000);
      continue;
    }
    for (let i = 0; i < p.length; i++) out[at + i] = (out[at + i] as number) + (p[i] as number) * 0.8;
    at += p.length;
  }
  return out;
}

t.test('vad: speech streamed as 100 ms chunks on two interleaved streams gives start/end per utterance', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-vad-'));
  const a1 = speech(dir, 'turn on the kitchen light');
  const a2 = speech(dir, 'what is the weather tomorrow');
  const b1 = speech(dir, 'good morning');
  const rate = a1.rate;
  const streamA = withSilences(rate, [700, a1.samples, 1200, a2.samples, 1000]);
  const streamB = withSilences(rate, [300, b1.samples, 1500]);
  const models = path.join(dir, 'models');
  cpSync(path.join(ROOT, 'models', 'vad'), path.join(models, 'vad'), { recursive: true });
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const svc = startService({ deviceId: 'vadtest', broker: { url: broker.url }, modelsDir: models, drainTimeoutMs: 2000 }, [], dir);
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('service.ready', 30_000);
  const watch = await Watcher.open(broker.url, [`${prefix}/models/vad/result`, `${prefix}/models/vad/events`]);
  t.teardown(() => watch.client.end(true));
  const pub: MqttClient = connect(broker.url, { protocolVersion: 5 });
  await new Promise<void>((resolve) => pub.once('connect', () => resolve()));
  t.teardown(() => pub.end(true));

  const chunk = Math.round(rate / 10);
  const n = (s: Float32Array): number => Math.ceil(s.length / chunk);
  const send = (stream: string, s: Float32Array, i: number): void => {
    pub.publish(`${prefix}/models/vad/infer`, pcm16(s.subarray(i * chunk, (i + 1) * chunk)), { qos: 1, properties: { contentType: 'audio/pcm', userProperties: { id: `${stream}-${i}`, stream, rate: String(rate) } } });
  };
  for (let i = 0; i < Math.max(n(streamA), n(streamB)); i++) {
    if (i < n(streamA)) send('kitchen', streamA, i);
    if (i < n(streamB)) send('hall', streamB, i);
  }
  const results = (): Body[] => watch.on(`${prefix}/models/vad/result`).map((m) => m.json as Body);
  await watch.until(() => results().length >= n(streamA) + n(streamB), 60_000, 'every chunk answered');
  t.same(
    results().filter((b) => b.error !== undefined),
    [],
    'no errors',
  );
  const events = (stream: string): EventBody[] =>
    watch
      .on(`${prefix}/models/vad/events`)
      .map((m) => m.json as EventBody)
      .filter((e) => e.stream === stream);
  await watch.until(() => events('kitchen').length >= 4 && events('hall').length >= 2, 5000, 'events').catch(() => undefined);
  const fmt = (ev: EventBody[]): string => ev.map((e) => `${e.event}@${e.streamS}s(${e.score.toFixed(2)})`).join(' ');
  t.same(
    events('kitchen').map((e) => e.event),
    ['start', 'end', 'start', 'end'],
    `kitchen: ${fmt(events('kitchen'))}`,
  );
  t.same(
    events('hall').map((e) => e.event),
    ['start', 'end'],
    `hall: ${fmt(events('hall'))}`,
  );
  const k = events('kitchen').map((e) => e.streamS ?? -1);
  const a1End = 0.7 + a1.samples.length / rate;
  t.ok((k[0] ?? 0) > 0.6 && (k[0] ?? 0) < 1.0, `first start near 0.7 s (${k[0]})`);
  t.ok((k[1] ?? 0) > a1End - 0.3 && (k[1] ?? 0) < a1End + 0.8, `first end after the first phrase ends at ${a1End.toFixed(2)} s (${k[1]})`);
  t.ok(
    events('kitchen').every((e) => e.model === 'vad' && e.variant.length > 0),
    'events name model and variant',
  );
});
