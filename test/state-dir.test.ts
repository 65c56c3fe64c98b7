/**
 * Issue 12, service half: the state directory is honest. An explicit state directory that cannot
 * be used is refused with exit 78 (item 11); a full state disk degrades the optimized-model cache
 * (load without it, no temporary files left, said in status and telemetry), never the models
 * (item 9). The full-disk case mounts a 64 KiB tmpfs, so it needs root (skipped otherwise).
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startMosquitto } from './helpers/mosquitto.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { ROOT, startService } from './helpers/service-process.js';
import { onlyBundled } from './helpers/digits-copy.js';

const input = (JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'eval.json'), 'utf8')) as { inputs: number[][] }).inputs[0];
const onlyDigits = { models: onlyBundled('digits'), adaptive: { enabled: false } };
/** Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN); the mount tests skip otherwise. */
const canMount = ((): boolean => {
  if (process.getuid?.() !== 0) return false;
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-mnt-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const noMount = canMount ? false : 'mounting a tmpfs needs root with CAP_SYS_ADMIN';

function mountTmpfs(t: { teardown(fn: () => void): void }, options: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-mnt-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  t.teardown(() => {
    try {
      execFileSync('umount', ['-l', dir]);
    } catch {
      /* already gone */
    }
  });
  return dir;
}

t.test('an explicit --state-dir that is a file is refused with exit 78, not replaced', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-sd-'));
  const file = path.join(dir, 'not-a-dir');
  writeFileSync(file, 'x');
  const svc = startService({ deviceId: 'sd', broker: { url: 'mqtt://127.0.0.1:1' }, ...onlyDigits }, ['--state-dir', file], dir);
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  t.equal(await svc.exited, 78);
  t.match(svc.logs(), /EDGE_ERR_STATE_DIR/);
  t.notMatch(svc.logs(), /state\.fallback/);
});

t.test('a stateDir on a read-only mount is refused with exit 78', { skip: noMount }, async (t) => {
  const ro = mountTmpfs(t, 'size=64k,ro');
  const svc = startService({ deviceId: 'sd', broker: { url: 'mqtt://127.0.0.1:1' }, stateDir: ro, ...onlyDigits });
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  t.equal(await svc.exited, 78);
  t.match(svc.logs(), /EDGE_ERR_STATE_DIR/);
});

t.test('a full state disk degrades the cache, not the models', { skip: noMount }, async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const state = mountTmpfs(t, 'size=64k');
  mkdirSync(path.join(state, 'cache'));
  mkdirSync(path.join(state, 'outbox'));
  // Fill the disk to the last block.
  try {
    writeFileSync(path.join(state, 'filler'), Buffer.alloc(1024 * 1024));
  } catch {
    /* ENOSPC: the disk is full */
  }
  const w = await Watcher.open(broker.url, ['edge/full/#', 'replies/#']);
  t.teardown(() => w.close());
  const svc = startService({ deviceId: 'full', broker: { url: broker.url }, stateDir: state, telemetry: { intervalS: 1 }, ...onlyDigits });
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  type Status = { state: string; models?: { model: string; state: string; cacheError?: string }[] };
  await w.until(() => w.on('edge/full/status').some((m) => (m.json as Status).state === 'online'), 20_000, 'status online');
  const digits = (w.on('edge/full/status').find((m) => (m.json as Status).state === 'online')?.json as Status).models?.find((m) => m.model === 'digits');
  t.equal(digits?.state, 'ready', 'digits is served');
  t.type(digits?.cacheError, 'string', `the status says why the cache is off: ${digits?.cacheError}`);
  t.match(svc.logs(), /cache\.degraded/);

  await w.publish('edge/full/models/digits/infer', JSON.stringify({ id: 'one', input }), { qos: 1, properties: { responseTopic: 'replies/full' } });
  await w.until(() => w.on('replies/full').length > 0, 10_000, 'the answer');
  t.ok((w.on('replies/full')[0]?.json as { top?: unknown }).top, 'answered with a result');
  await w.until(() => w.on('edge/full/telemetry').some((m) => (m.json as { models: { cacheDegraded?: boolean }[] }).models[0]?.cacheDegraded === true), 10_000, 'telemetry cacheDegraded');
  t.same(
    readdirSync(path.join(state, 'cache')).filter((f) => f.includes('.tmp-')),
    [],
    'no temporary cache files left',
  );
  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0);
});
