/**
 * Issue 11 end to end: a real service and a real mosquitto, synthetic models (test/helpers/
 * media-models.ts). JPEG / PNG requests (MQTT 5 content type and JSON base64) are classified;
 * hostile images are answered with codes and the service keeps serving; audio streamed as 100 ms
 * PCM chunks on two interleaved streams keeps separate state and yields start / end events per
 * utterance on the events topic; reset, the stream limit and bad audio.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import t from 'tap';
import { startMosquitto } from './helpers/mosquitto.js';
import { Watcher, type Received } from './helpers/mqtt-watch.js';
import { startService } from './helpers/service-process.js';
import { encodeJpeg, encodePng, halfPicture, pcm16, utterances, wav16, writeMediaModels } from './helpers/media-models.js';
import { jpegWithDims, pngBomb } from './helpers/hostile-images.js';

const prefix = 'edge/media';
interface Body {
  id?: string;
  top?: { label: string }[];
  frames?: number;
  outputs?: Record<string, { shape: number[]; data: number[] }>;
  error?: { code: string };
}
interface EventBody {
  event: string;
  stream: string | null;
  model: string;
  variant: string;
  time: string;
  score: number;
  label?: string;
  streamS?: number;
}

t.test('images, audio streams and events through mosquitto', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-media-'));
  const modelsDir = writeMediaModels(dir);
  const svc = startService({ deviceId: 'media', broker: { url: broker.url }, modelsDir, drainTimeoutMs: 2000 }, [], dir);
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('service.ready', 30_000);
  const watch = await Watcher.open(broker.url, [`${prefix}/models/+/result`, `${prefix}/models/+/events`]);
  t.teardown(() => watch.client.end(true));
  const pub: MqttClient = connect(broker.url, { protocolVersion: 5 });
  await new Promise<void>((resolve) => pub.once('connect', () => resolve()));
  t.teardown(() => pub.end(true));

  const answers = (model: string): Received[] => watch.on(`${prefix}/models/${model}/result`);
  const answer = async (model: string, id: string): Promise<Body> => {
    await watch.until(() => answers(model).some((m) => (m.json as Body).id === id), 15_000, `answer ${id}`);
    return answers(model).find((m) => (m.json as Body).id === id)?.json as Body;
  };
  const send = (model: string, payload: Buffer, contentType: string, user: Record<string, string>): Promise<void> => new Promise((resolve, reject) => pub.publish(`${prefix}/models/${model}/infer`, payload, { qos: 1, properties: { contentType, userProperties: user } }, (e) => (e ? reject(e) : resolve())));
  const events = (model: string): EventBody[] => watch.on(`${prefix}/models/${model}/events`).map((m) => m.json as EventBody);

  await t.test('photo-sized JPEG and PNG (colour and grey) and a JSON base64 image get their class', async (t) => {
    const left = halfPicture(640, 480, 'left');
    const right = halfPicture(1024, 768, 'right', [90, 200, 250]);
    await send('halves', encodeJpeg(left, 640, 480), 'image/jpeg', { id: 'jpg-left' });
    await send('halves', encodePng(right, 1024, 768, 2), 'image/png', { id: 'png-right' });
    await send('halves', encodePng(left, 640, 480, 0), 'image/png', { id: 'png-grey-left' });
    const json = JSON.stringify({ id: 'json-right', image: encodeJpeg(right, 1024, 768).toString('base64') });
    pub.publish(`${prefix}/models/halves/infer`, json, { qos: 1 });
    t.equal((await answer('halves', 'jpg-left')).top?.[0]?.label, 'left');
    t.equal((await answer('halves', 'png-right')).top?.[0]?.label, 'right');
    t.equal((await answer('halves', 'png-grey-left')).top?.[0]?.label, 'left');
    t.equal((await answer('halves', 'json-right')).top?.[0]?.label, 'right');
  });

  await t.test('hostile images are answered with codes; the next good image is still classified', async (t) => {
    const jpg = encodeJpeg(halfPicture(640, 480, 'left'), 640, 480);
    const cases: [string, Buffer, string, string][] = [
      ['h-bomb', pngBomb(), 'image/png', 'EDGE_ERR_TOO_LARGE'],
      ['h-dims', jpegWithDims(jpg, 60000, 60000), 'image/jpeg', 'EDGE_ERR_TOO_LARGE'],
      ['h-trunc', jpg.subarray(0, jpg.length >> 1), 'image/jpeg', 'EDGE_ERR_BAD_IMAGE'],
      ['h-text', Buffer.from('definitely not a picture'), 'image/png', 'EDGE_ERR_BAD_IMAGE'],
    ];
    for (const [id, bytes, ct] of cases) await send('halves', bytes, ct, { id });
    await send('halves', jpg, 'image/jpeg', { id: 'after-hostile' });
    for (const [id, , , code] of cases) t.equal((await answer('halves', id)).error?.code, code, id);
    t.equal((await answer('halves', 'after-hostile')).top?.[0]?.label, 'left');
    await send('counter', jpg, 'image/jpeg', { id: 'image-to-audio' });
    t.equal((await answer('counter', 'image-to-audio')).error?.code, 'EDGE_ERR_BAD_REQUEST', 'an image to a model without image preprocessing');
  });

  await t.test('top-1 changes held 2 frames become events on a stream, only on transitions', async (t) => {
    const l = encodeJpeg(halfPicture(320, 240, 'left'), 320, 240);
    const r = encodeJpeg(halfPicture(320, 240, 'right'), 320, 240);
    const seq = [l, l, l, r, l, r, r, r];
    for (const [i, b] of seq.entries()) await send('halves', b, 'image/jpeg', { id: `cam-${i}`, stream: 'cam1' });
    await answer('halves', `cam-${seq.length - 1}`);
    await watch.until(() => events('halves').filter((e) => e.stream === 'cam1').length >= 2, 5000, 'camera events');
    const ev = events('halves').filter((e) => e.stream === 'cam1');
    t.same(
      ev.map((e) => [e.event, e.label]),
      [
        ['change', 'left'],
        ['change', 'right'],
      ],
      'a single right frame is not held long enough',
    );
    t.equal(ev[0]?.model, 'halves');
    t.equal(ev[0]?.variant, 'fp32');
    t.ok(Number.isFinite(Date.parse(ev[0]?.time ?? '')), 'time is ISO 8601');
  });

  await t.test('two interleaved 100 ms PCM streams: separate state, in order, start/end per utterance', async (t) => {
    const a = utterances(16000, [300, 500, 400, 500, 400]); // two utterances, 2.1 s
    const b = utterances(48000, [200, 600, 500]); // one utterance, 1.3 s, resampled 48 -> 16 kHz
    const chunksA = Math.round(a.length / 1600),
      chunksB = Math.round(b.length / 4800);
    for (let i = 0; i < Math.max(chunksA, chunksB); i++) {
      if (i < chunksA) await send('counter', pcm16(a.subarray(i * 1600, (i + 1) * 1600)), 'audio/pcm', { id: `a-${i}`, stream: 'micA', rate: '16000' });
      if (i < chunksB) await send('counter', pcm16(b.subarray(i * 4800, (i + 1) * 4800)), 'audio/pcm', { id: `b-${i}`, stream: 'micB', rate: '48000', format: 's16le' });
    }
    const lastA = await answer('counter', `a-${chunksA - 1}`);
    const lastB = await answer('counter', `b-${chunksB - 1}`);
    const counts = (prefixId: string, n: number): number[] =>
      Array.from({ length: n }, (_, i) => {
        const body = answers('counter').find((m) => (m.json as Body).id === `${prefixId}-${i}`)?.json as Body | undefined;
        return body?.outputs?.['count']?.data.at(-1) ?? -1;
      });
    t.same(
      counts('a', chunksA),
      Array.from({ length: chunksA }, (_, i) => (i + 1) * 10),
      'micA: 10 frames per chunk, state carried in order',
    );
    const cb = counts('b', chunksB);
    t.ok(
      cb.every((c, i) => i === 0 || c > (cb[i - 1] as number)),
      `micB counts rise: ${cb.join(',')}`,
    );
    t.ok(Math.abs((cb.at(-1) ?? 0) - 130) <= 1, `micB saw ~130 frames after resampling (${cb.at(-1)})`);
    t.equal(lastA.frames, 10);
    t.equal(lastA.outputs?.['hn'], undefined, 'state outputs stay on the device');
    t.same(lastB.outputs?.['p']?.shape.slice(1), [1], 'per-frame scores stacked along dim 0');
    await watch.until(() => events('counter').filter((e) => e.stream === 'micA').length >= 4 && events('counter').filter((e) => e.stream === 'micB').length >= 2, 5000, 'audio events');
    const evA = events('counter').filter((e) => e.stream === 'micA');
    const evB = events('counter').filter((e) => e.stream === 'micB');
    t.same(
      evA.map((e) => e.event),
      ['start', 'end', 'start', 'end'],
      'micA: two utterances',
    );
    t.same(
      evB.map((e) => e.event),
      ['start', 'end'],
      'micB: one utterance',
    );
    const at = evA.map((e) => e.streamS ?? -1);
    t.ok(Math.abs((at[0] ?? 0) - 0.33) < 0.02 && Math.abs((at[2] ?? 0) - 1.23) < 0.02, `starts 30 ms into each tone: ${at.join(', ')}`);
    t.ok(Math.abs((at[1] ?? 0) - 0.9) < 0.02 && Math.abs((at[3] ?? 0) - 1.8) < 0.02, `ends 100 ms into each silence: ${at.join(', ')}`);
    t.ok(
      evA.every((e) => e.score >= 0 && e.model === 'counter'),
      'events carry score and model',
    );
  });

  await t.test('reset restarts a stream; the stream limit and bad audio get codes; a whole WAV file works', async (t) => {
    pub.publish(`${prefix}/models/counter/infer`, JSON.stringify({ id: 'reset-a', stream: 'micA', reset: true }), { qos: 1 });
    t.same((await answer('counter', 'reset-a')).frames, 0);
    const chunk = pcm16(new Float32Array(1600));
    await send('counter', chunk, 'audio/pcm', { id: 'a-after-reset', stream: 'micA', rate: '16000' });
    t.same((await answer('counter', 'a-after-reset')).outputs?.['count']?.data.at(-1), 10, 'state starts again from init');
    await send('counter', chunk, 'audio/pcm', { id: 'third', stream: 'micC', rate: '16000' });
    await send('counter', chunk, 'audio/pcm', { id: 'fourth', stream: 'micD', rate: '16000' });
    t.equal((await answer('counter', 'third')).frames, 10);
    t.equal((await answer('counter', 'fourth')).error?.code, 'EDGE_ERR_STREAM_LIMIT', 'maxStreams 3');
    await send('counter', chunk, 'audio/pcm', { id: 'no-rate', stream: 'micA' });
    await send('counter', chunk.subarray(1), 'audio/pcm', { id: 'odd', stream: 'micA', rate: '16000' });
    await send('counter', Buffer.from('RIFF....WAVEjunk'), 'audio/wav', { id: 'bad-wav' });
    t.equal((await answer('counter', 'no-rate')).error?.code, 'EDGE_ERR_BAD_AUDIO');
    t.equal((await answer('counter', 'odd')).error?.code, 'EDGE_ERR_BAD_AUDIO');
    t.equal((await answer('counter', 'bad-wav')).error?.code, 'EDGE_ERR_BAD_AUDIO');
    await send('counter', wav16(utterances(16000, [100, 300, 200]), 16000), 'audio/wav', { id: 'wav' });
    const w = await answer('counter', 'wav');
    t.equal(w.frames, 60, 'a 600 ms WAV is 60 frames');
    t.same(w.outputs?.['count']?.data.at(-1), 60, 'state runs from frame to frame within the request');
    pub.publish(`${prefix}/models/counter/infer`, JSON.stringify({ id: 'json-wav', stream: 'micC', audio: wav16(utterances(16000, [50]), 16000).toString('base64') }), { qos: 1 });
    t.same((await answer('counter', 'json-wav')).outputs?.['count']?.data.at(-1), 15, 'JSON base64 WAV on a stream: 10 + 5 frames');
    await send('counter', wav16(utterances(16000, [100]), 16000), 'audio/wav', { id: 'wav-2' });
    t.same((await answer('counter', 'wav-2')).outputs?.['count']?.data.at(-1), 10, 'without a stream nothing is kept between requests');
  });
});
