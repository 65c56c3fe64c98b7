/**
 * `edge-infer doctor` (issue 14) as a user runs it: the built CLI against a real mosquitto (anonymous,
 * then with a password file), the real digits model on the real backend, real temp state folders.
 * Plus the checks that depend on the board, fed fake readings (clock, temperature, throttling,
 * systemd), and the launcher refusing Node 18.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI, runCli } from './helpers/service-process.js';
import { freePort, startMosquitto } from './helpers/mosquitto.js';
import { writeMosquittoPasswords } from './helpers/passwords.js';
import { clockCheck, nodeCheck, systemdCheck, temperatureCheck, throttlingCheck } from '../runtime/cli/doctor/host-checks.js';
import { formatChecklist } from '../runtime/cli/doctor/checklist.js';
import { nodeVersionProblem } from '../runtime/cli/node-version.js';
import { loadProfile } from '../runtime/config/profile.js';
import { decodeThrottled } from '../runtime/telemetry/system-probes.js';
import { ROOT } from './helpers/service-process.js';

interface Check {
  id: string;
  status: string;
  detail: string;
  fix?: string;
  code?: string;
}
interface Report {
  ok: boolean;
  checks: Check[];
}

const dir = mkdtempSync(path.join(tmpdir(), 'doctor-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, body: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(body));
  return file;
}

async function doctor(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; report: Report; stderr: string }> {
  const r = await runCli(['doctor', '--profile', 'rpi4-2gb', '--state-dir', path.join(dir, 'state'), '--timeout-ms', '3000', '--json', ...args], { env });
  return { code: r.code, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

const check = (r: Report, id: string): Check => {
  const c = r.checks.find((x) => x.id === id);
  if (c === undefined) throw new Error(`no ${id} check in ${JSON.stringify(r)}`);
  return c;
};

t.test('all pass against a real broker: exit 0, the backend answered the digits sample, every check present', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const { code, report, stderr } = await doctor(['--config', config('ok', { broker: { url: broker.url } })]);
  t.equal(code, 0, stderr);
  t.equal(report.ok, true);
  t.same(report.checks.map((c) => c.id).sort(), ['backend', 'broker', 'budget', 'clock', 'node', 'profile', 'state-dir', 'systemd', 'temperature', 'throttling']);
  t.equal(check(report, 'broker').status, 'pass', check(report, 'broker').detail);
  t.match(check(report, 'broker').detail, /accepted the connection \(anonymous, no TLS, MQTT 5\)/);
  const backend = check(report, 'backend');
  t.equal(backend.status, 'pass', backend.detail);
  t.match(backend.detail, /^native: digits\/\S+ loaded in \d+ ms, ran in [\d.]+ ms, answered 0 for sample-0\.json$/);
  t.match(check(report, 'profile').detail, /^rpi4-2gb .*given: rpi4-2gb/);
  t.match(check(report, 'budget').detail, /^\d+(\.\d+)? MB, limited by (profile|cgroup|memavailable)/);
  t.equal(check(report, 'state-dir').status, 'pass');
  for (const c of report.checks) if (c.status === 'fail' || c.status === 'warn') t.ok(c.fix, `${c.id} has a fix`);
});

t.test('a broker nobody listens on fails the broker check with EDGE_ERR_BROKER_UNREACHABLE and exit 1', async (t) => {
  const port = await freePort();
  const { code, report } = await doctor(['--config', config('closed', { broker: { url: `mqtt://127.0.0.1:${port}` }, embeddedBroker: { mode: 'never' } }), '--only', 'broker,state-dir,node']);
  t.equal(code, 1);
  t.equal(report.ok, false);
  const b = check(report, 'broker');
  t.equal(b.status, 'fail');
  t.equal(b.code, 'EDGE_ERR_BROKER_UNREACHABLE');
  t.ok(b.fix);
  t.equal(check(report, 'state-dir').status, 'pass', 'the other checks still ran');
  t.same(
    report.checks.map((c) => c.id),
    ['node', 'broker', 'state-dir'],
    '--only runs just those',
  );
  const bad = await runCli(['doctor', '--only', 'broker,nope']);
  t.equal(bad.code, 64);
  t.match(bad.stderr, /EDGE_ERR_USAGE: --only takes/);
});

t.test('a wrong password fails with EDGE_ERR_BROKER_AUTH; the right one (from the env) passes', async (t) => {
  const pw = path.join(dir, 'passwd');
  writeMosquittoPasswords(pw, { edge: 'right-secret' });
  const broker = await startMosquitto({ allowAnonymous: false, extraConf: [`password_file ${pw}`] });
  t.teardown(() => broker.stop());
  const file = config('auth', { broker: { url: broker.url, username: 'edge', passwordEnv: 'DOCTOR_TEST_PW' } });
  const bad = await doctor(['--config', file, '--only', 'broker'], { DOCTOR_TEST_PW: 'wrong' });
  t.equal(bad.code, 1);
  t.equal(check(bad.report, 'broker').code, 'EDGE_ERR_BROKER_AUTH');
  const good = await doctor(['--config', file, '--only', 'broker'], { DOCTOR_TEST_PW: 'right-secret' });
  t.equal(check(good.report, 'broker').status, 'pass', check(good.report, 'broker').detail);
  t.match(check(good.report, 'broker').detail, /user edge/);
});

t.test('a broker that takes MQTT 3.1.1 only (aedes) fails the MQTT 5 config with a fix to set protocolVersion 4', async (t) => {
  const { startEmbeddedBroker } = await import('../runtime/transport/embedded-broker.js');
  const aedes = await startEmbeddedBroker({ host: '127.0.0.1', port: await freePort() });
  t.teardown(() => aedes.close());
  const v5 = await doctor(['--config', config('aedes5', { broker: { url: aedes.url, protocolVersion: 5 } }), '--only', 'broker']);
  const b = check(v5.report, 'broker');
  t.equal(b.status, 'fail', b.detail);
  t.match(b.detail, /accepts MQTT 3\.1\.1 only/);
  t.match(b.fix, /protocolVersion to 4/);
  const v4 = await doctor(['--config', config('aedes4', { broker: { url: aedes.url, protocolVersion: 4 } }), '--only', 'broker']);
  t.equal(check(v4.report, 'broker').status, 'pass', check(v4.report, 'broker').detail);
});

t.test('a state directory that cannot be created fails with a fix', async (t) => {
  const blocker = path.join(dir, 'a-file');
  writeFileSync(blocker, 'x');
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const { code, report } = await doctor(['--config', config('state', { broker: { url: broker.url } }), '--state-dir', path.join(blocker, 'state'), '--only', 'state-dir']);
  t.equal(code, 1);
  const s = check(report, 'state-dir');
  t.equal(s.status, 'fail');
  t.match(s.detail, /not writable \(ENOTDIR\)/);
  t.ok(s.fix);
});

t.test('an invalid config file exits 78 with EDGE_ERR_CONFIG_INVALID', async (t) => {
  const r = await runCli(['doctor', '--config', config('bad', { broker: { url: 'http://nope' } })]);
  t.equal(r.code, 78);
  t.match(r.stderr, /EDGE_ERR_CONFIG_INVALID/);
});

t.test('the text checklist marks each check and prints the fix under a failure', async (t) => {
  const port = await freePort();
  const r = await runCli(['doctor', '--only', 'node,broker', '--config', config('text', { broker: { url: `mqtt://127.0.0.1:${port}` } })]);
  t.equal(r.code, 1);
  t.match(r.stdout, /\[FAIL\] MQTT broker +EDGE_ERR_BROKER_UNREACHABLE: /);
  t.match(r.stdout, /\n +fix: check the broker URL/);
  t.match(r.stdout, /\[ok {2}\] Node\.js version/);
  t.match(r.stdout, /1 ok, 0 warning\(s\), 1 failed, 0 skipped/);
});

t.test('node version policy: 20+ passes, 18 fails with EDGE_ERR_NODE_UNSUPPORTED', async (t) => {
  t.equal(nodeVersionProblem('v20.0.0'), null);
  t.equal(nodeVersionProblem('v22.11.0'), null);
  t.match(nodeVersionProblem('v18.19.0'), /Node\.js v18\.19\.0 is not supported: edge-infer needs Node\.js 20 or later/);
  t.match(nodeVersionProblem('nonsense'), /cannot read/);
  t.equal(nodeCheck('v20.20.2').status, 'pass');
  const n18 = nodeCheck('v18.19.0');
  t.equal(n18.status, 'fail');
  t.equal(n18.code, 'EDGE_ERR_NODE_UNSUPPORTED');
  t.match(n18.fix, /NodeSource/);
});

t.test('the launcher refuses Node 18 before loading the CLI: exit 78, EDGE_ERR_NODE_UNSUPPORTED', async (t) => {
  // The real launcher under this Node, with process.version reading as Pi OS bookworm's nodejs.
  const preload = 'data:text/javascript,Object.defineProperty(process,"version",{value:"v18.19.0"})';
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', preload, CLI, 'plan', '--profile', 'rpi4-2gb'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.once('exit', (code) => resolve({ code, stderr }));
  });
  t.equal(r.code, 78);
  t.match(r.stderr, /^edge-infer: EDGE_ERR_NODE_UNSUPPORTED: Node\.js v18\.19\.0 is not supported/);
  t.match(r.stderr, /hint: install Node\.js 20 or later/);
});

t.test('clock: behind the build time fails, unsynchronized warns, synchronized passes', async (t) => {
  const built = Date.UTC(2026, 10, 1);
  t.equal(clockCheck({ nowMs: Date.UTC(1970, 0, 1, 0, 0, 42), builtAtMs: built, synchronized: null }).status, 'fail');
  const w = clockCheck({ nowMs: built + 1000, builtAtMs: built, synchronized: false });
  t.equal(w.status, 'warn');
  t.match(w.fix, /timedatectl/);
  t.equal(clockCheck({ nowMs: built + 1000, builtAtMs: built, synchronized: true }).status, 'pass');
  t.equal(clockCheck({ nowMs: built + 1000, builtAtMs: built, synchronized: null }).status, 'pass');
});

t.test('temperature and throttling from probe readings', async (t) => {
  const profile = await loadProfile('rpi4-2gb', path.join(ROOT, 'device-profiles'));
  const temp = (c: number | null): { cpuTempC: () => Promise<number | null> } => ({ cpuTempC: async () => c });
  t.equal((await temperatureCheck(temp(48.2), profile)).status, 'pass');
  t.equal((await temperatureCheck(temp(profile.thermal.softLimitC + 1), profile)).status, 'warn');
  t.equal((await temperatureCheck(temp(profile.thermal.hardLimitC), profile)).status, 'fail');
  t.equal((await temperatureCheck(temp(null), profile)).status, 'warn');
  const thr = (raw: number | null): { throttled: () => Promise<ReturnType<typeof decodeThrottled> | null> } => ({ throttled: async () => (raw === null ? null : decodeThrottled(raw)) });
  t.equal((await throttlingCheck(thr(0), true)).status, 'pass');
  const now = await throttlingCheck(thr(0x50005), true);
  t.equal(now.status, 'warn');
  t.match(now.detail, /underVoltageNow/);
  t.match(now.fix, /power supply/);
  t.equal((await throttlingCheck(thr(0x50000), true)).status, 'warn', 'occurred since boot');
  t.equal((await throttlingCheck(thr(null), false)).status, 'skip', 'not a Pi');
  t.equal((await throttlingCheck(thr(null), true)).status, 'warn', 'a Pi without the firmware file');
});

t.test('systemd unit states', async (t) => {
  const unit = (p: Record<string, string> | null) => async () => p;
  t.equal((await systemdCheck(unit(null))).status, 'skip');
  t.equal((await systemdCheck(unit({ LoadState: 'not-found', ActiveState: 'inactive' }))).status, 'warn');
  const failed = await systemdCheck(unit({ LoadState: 'loaded', ActiveState: 'failed', SubState: 'failed', UnitFileState: 'enabled', Result: 'exit-code' }));
  t.equal(failed.status, 'fail');
  t.match(failed.fix, /journalctl -u edge-infer/);
  t.equal((await systemdCheck(unit({ LoadState: 'loaded', ActiveState: 'inactive', SubState: 'dead', UnitFileState: 'disabled' }))).status, 'warn');
  t.equal((await systemdCheck(unit({ LoadState: 'loaded', ActiveState: 'active', SubState: 'running', UnitFileState: 'enabled' }))).status, 'pass');
  t.match(formatChecklist([failed]), /\[FAIL\] systemd unit/);
});
