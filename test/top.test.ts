/**
 * `edge-infer top` end to end: the built CLI in a real pseudo-terminal (tmux, 80x24) against a
 * running service on a real mosquitto; the screen is read back with capture-pane. Also `--once
 * --json` and plain lines through a pipe, and that the service's module graph never reaches the
 * view's code.
 */
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sendRequest } from '../runtime/transport/client.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { CLI, ROOT, runCli, startService } from './helpers/service-process.js';

const TMUX = ['/usr/bin/tmux', '/bin/tmux'].find((p) => existsSync(p));
const sample = JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'sample-3.json'), 'utf8')) as Record<string, unknown>;

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await probe();
    if (last !== undefined) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}`);
}

t.test('top against a live service: a real pseudo-terminal, --once --json, and plain lines', { skip: TMUX === undefined ? 'tmux is not installed (apt-get install tmux)' : false }, async (t) => {
  const tmux = TMUX as string;
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const svc = startService({ deviceId: 'toptest', broker: { url: broker.url }, telemetry: { intervalS: 1 } });
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('mqtt.connected', 60_000);
  for (let i = 0; i < 5; i++) {
    const a = await sendRequest({ url: broker.url, prefix: 'edge/toptest', model: 'digits', body: { id: `r${i}`, ...sample }, timeoutMs: 10_000 });
    t.equal(a.kind, 'result');
  }
  // A second, retained device: what a fleet looks like to `top` (another board's last status).
  const other = await Watcher.open(broker.url, ['edge/zz-other/unused']);
  t.teardown(() => other.client.endAsync());
  await other.client.publishAsync('edge/zz-other/status', JSON.stringify({ state: 'online', version: '9.9.9', profile: { id: 'rpi-zero-2w', board: 'Raspberry Pi Zero 2 W' }, backend: 'wasm', budget: { budgetMB: 128 }, models: [{ model: 'fashion', variant: 'student-fp32', state: 'ready' }] }), { qos: 1, retain: true });
  t.teardown(() => other.client.publishAsync('edge/zz-other/status', '', { qos: 1, retain: true }));

  await t.test('draws both devices in 80x24, moves with j/k and quits on q', async (t) => {
    const session = `edge-top-${process.pid}`;
    execFileSync(tmux, ['new-session', '-d', '-s', session, '-x', '80', '-y', '24', `${process.execPath} ${CLI} top --broker ${broker.url}; sleep 30`]);
    t.teardown(() => {
      try {
        execFileSync(tmux, ['kill-session', '-t', session], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    });
    const capture = (): string => execFileSync(tmux, ['capture-pane', '-p', '-t', session], { encoding: 'utf8' });
    const screen = await until("a screen with the service's model figures", 30_000, () => {
      const s = capture();
      return /digits\s+student|digits\s+teacher/.test(s) && /toptest\s+online/.test(s) && /zz-other/.test(s) && /\d+\.\d+\s+\d+\.\d+\s+\d+\.\d+/.test(s) ? s : undefined;
    });
    const lines = screen.split('\n');
    t.ok(lines.length <= 25, 'fits 24 rows');
    for (const l of lines) t.ok([...l.trimEnd()].length <= 80, `fits 80 columns: ${l}`);
    t.match(screen, /generic-x64|derived/, "the service's profile");
    t.match(screen, /native/, 'its backend');
    t.match(screen, /\d+\/\d+MB/, 'budget used / budget');
    t.match(lines.find((l) => l.startsWith('>')) ?? '', /toptest/, 'the first device is selected');
    t.match(screen, /spam/, 'every model of the selected device');

    execFileSync(tmux, ['send-keys', '-t', session, 'j']);
    const moved = await until('the selection on the second device', 10_000, () => {
      const s = capture();
      return /^>\s*zz-other/m.test(s) && /fashion\s+student-fp32/.test(s) ? s : undefined;
    });
    t.match(moved, /zz-other: Raspberry Pi Zero 2 W/, "the selected device's header");
    execFileSync(tmux, ['send-keys', '-t', session, 'Up']);
    await until('the selection back on the first device', 10_000, () => (/^>\s*toptest/m.test(capture()) ? true : undefined));

    execFileSync(tmux, ['send-keys', '-t', session, 'q']);
    // After q the command exits and the shell runs `sleep`: the alternate screen is gone.
    const after = await until('top to exit and restore the screen', 10_000, () => {
      const s = capture();
      return !/edge-infer top ·/.test(s) ? s : undefined;
    });
    t.notMatch(after, /DEVICE\s+STATE/, 'the main screen is back');
  });

  await t.test('--once --json prints one snapshot of every device for scripts', async (t) => {
    const r = await runCli(['top', '--broker', broker.url, '--once', '--json', '--timeout-ms', '5000']);
    t.equal(r.code, 0, r.stderr);
    const snap = JSON.parse(r.stdout) as { devices: { device: string; state: string; backend: string | null; rssMB: number | null; models: { model: string; variant: string | null; requests: number; p50Ms: number | null }[] }[] };
    t.same(
      snap.devices.map((d) => d.device),
      ['toptest', 'zz-other'],
    );
    const me = snap.devices[0];
    t.equal(me?.state, 'online');
    t.equal(me?.backend, 'native');
    t.ok((me?.rssMB ?? 0) > 0, 'telemetry figures are in');
    const digits = me?.models.find((m) => m.model === 'digits');
    t.ok((digits?.requests ?? 0) >= 5, 'the requests sent are counted');
    t.ok(digits?.p50Ms !== null, 'latency figures');
  });

  await t.test('--device limits the view to one device; a pipe gets plain lines', async (t) => {
    const child = spawn(process.execPath, [CLI, 'top', '--broker', broker.url, '--device', 'toptest'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    await until('plain lines for digits', 15_000, () => (/model=digits variant=\S+ state=ready/.test(out) ? true : undefined));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    t.equal(code, 0, 'SIGTERM ends it cleanly');
    t.notMatch(out, /\x1b\[/, 'no escape codes in a pipe');
    t.notMatch(out, /zz-other/, 'only the named device');
  });
});

t.test('--once with nobody publishing ends with EDGE_ERR_TIMEOUT; bad flags are usage errors', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const r = await runCli(['top', '--broker', broker.url, '--once', '--timeout-ms', '500', '--root', 'nobody']);
  t.not(r.code, 0);
  t.match(r.stderr, /EDGE_ERR_TIMEOUT/);
  const both = await runCli(['top', '--device', 'a', '--prefix', 'b/c']);
  t.equal(both.code, 64);
  t.match(both.stderr, /EDGE_ERR_USAGE/);
  const json = await runCli(['top', '--json']);
  t.equal(json.code, 64, '--json without --once');
  const wild = await runCli(['top', '--root', 'edge/#', '--once']);
  t.equal(wild.code, 64, 'a wildcard root');
});

t.test("the service's module graph never reaches the top view", async (t) => {
  // Static and dynamic imports from the `run` command, followed through dist/.
  const start = path.join(ROOT, 'dist', 'runtime', 'cli', 'commands', 'run.js');
  const seen = new Set<string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) queue.push(path.resolve(path.dirname(file), m[1] as string));
  }
  t.ok(seen.size > 20, `followed ${seen.size} modules`);
  const top = [...seen].filter((f) => /[\\/]cli[\\/]top[\\/]|commands[\\/]top\.js$|transport[\\/]watch\.js$/.test(f));
  t.same(top, [], 'no top module in the service graph');
});
