/**
 * Issue 11, streams in ModelRuntime with the real synthetic `counter` model (state h <- hn, counts
 * frames) and an injected clock: idle streams expire and free their place, an expired stream starts
 * again from the initial state, reset clears state and remainder, a partial frame waits for the next
 * chunk of its own stream, and a failed request does not stop its stream.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NativeEngine } from '../../../runtime/backend/native-engine.js';
import { readProfileFile } from '../../../runtime/config/profile.js';
import { silentLogger } from '../../../runtime/log.js';
import type { RequestExtras } from '../../../runtime/media/types.js';
import { defaultBackendCaps } from '../../../runtime/planner/backend-caps.js';
import { loadManifests } from '../../../runtime/repository/manifest.js';
import { ModelRuntime } from '../../../runtime/service/model-runtime.js';
import { pcm16 } from '../../helpers/media-models.js';
import { writeMediaModels } from '../../helpers/media-models.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..', '..');

t.test('stream bounds, idle expiry, reset, remainder and error isolation', async (t) => {
  const dir = writeMediaModels(mkdtempSync(path.join(tmpdir(), 'edge-streams-')));
  const profile = await readProfileFile(path.join(ROOT, 'device-profiles', 'generic-x64.json'));
  const { loaded } = await loadManifests(dir);
  const engine = new NativeEngine();
  t.teardown(() => engine.close());
  let now = 1000;
  const rt = new ModelRuntime({ profile, manifests: loaded, engine, caps: defaultBackendCaps('native'), budgetMB: 512, only: ['counter'], log: silentLogger, now: () => now });
  await rt.start();
  t.teardown(() => rt.close(500));
  const pcm = (samples: number, stream: string, extra: Partial<RequestExtras> = {}): Promise<number> =>
    rt.infer('counter', 'r', {}, { stream, media: { kind: 'pcm', bytes: pcm16(new Float32Array(samples)), rate: 16000, format: 's16le' }, ...extra }).then((o) => Number((o.outputs['count']?.data as Float32Array | undefined)?.at(-1) ?? 0));
  const code = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'ok',
      (e: { code: string }) => e.code,
    );

  t.equal(await pcm(1600, 'a'), 10);
  t.equal(await pcm(1600, 'b'), 10);
  t.equal(await pcm(1600, 'c'), 10);
  t.equal(await code(pcm(1600, 'd')), 'EDGE_ERR_STREAM_LIMIT', 'maxStreams 3');
  t.equal(rt.streamCount('counter'), 3);
  now += 30_000;
  t.equal(await pcm(1600, 'a'), 20, 'a stream in use keeps its state');
  now += 31_000; // b and c idle 61 s > idleS 60; a idle 31 s
  t.equal(await pcm(1600, 'd'), 10, 'expired streams free their place');
  t.equal(rt.streamCount('counter'), 2, 'a and d remain');
  t.equal(await pcm(1600, 'b'), 10, 'an expired stream starts again from the initial state');
  t.equal(await pcm(1600, 'a', { reset: true }), 10, 'reset before this chunk');
  t.equal(await pcm(100, 'a'), 0, 'a partial frame runs nothing yet (no outputs)');
  t.equal(await pcm(60, 'a'), 11, 'it completes with the next chunk of its own stream');
  t.equal(await code(rt.infer('counter', 'bad', {}, { stream: 'a', media: { kind: 'pcm', bytes: Buffer.alloc(3), rate: 16000, format: 's16le' } })), 'EDGE_ERR_BAD_AUDIO');
  t.equal(await pcm(160, 'a'), 12, 'the stream goes on after a bad request');
  const order = await Promise.all([pcm(160, 'd'), pcm(160, 'd'), pcm(160, 'd'), pcm(160, 'd')]);
  t.same(order, [11, 12, 13, 14], 'concurrent requests of one stream run in arrival order');
});
