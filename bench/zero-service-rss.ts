/**
 * Issue 18 target: RSS of `edge-infer run --profile rpi-zero-2w` with the zoo loaded (the profile
 * names the WASM backend, so on x86 this is the WASM path the board takes). Prints figures.
 *
 *   nice node dist/bench/zero-service-rss.js [--root <package root>] [--profile rpi-zero-2w] [--settle-s 3] [--ready-timeout-s 120]
 *   nice .ci/pi-emu armv7 -- node dist/bench/zero-service-rss.js --ready-timeout-s 900   # the emulated Zero's 32-bit userland
 *
 * `--root` runs another checkout's built CLI (how the "before" figure of the issue was taken from
 * main). Starts a real mosquitto on a free port, starts the service, waits for `service.ready`,
 * lets it settle, reads VmRSS and VmHWM (peak) from /proc/<pid>/status, and lists which models
 * loaded (log `model.loaded`) or were refused / unavailable, then stops it with SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMosquitto } from '../test/helpers/mosquitto.js';

const argv = process.argv.slice(2);
const flag = (name: string, def: string): string => {
  const i = argv.indexOf(name);
  return i < 0 ? def : (argv[i + 1] ?? def);
};
const root = path.resolve(flag('--root', path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')));
const profile = flag('--profile', 'rpi-zero-2w');
const settleS = Number(flag('--settle-s', '3'));

function status(pid: number): { rssMB: number; hwmMB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
  return { rssMB: kb('VmRSS') / 1024, hwmMB: kb('VmHWM') / 1024 };
}

/** The `n` mappings holding the most RSS: "12.3 [heap]; 9.1 anon rwx; ...". */
function topMappings(pid: number, n: number): string {
  const maps: { what: string; mb: number }[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) maps.push({ what: `${head[2] || 'anon'} ${head[1]}`, mb: 0 });
    else if (line.startsWith('Rss:') && maps.length > 0) (maps[maps.length - 1] as { mb: number }).mb = Number(line.split(/\s+/)[1]) / 1024;
  }
  return maps
    .sort((a, b) => b.mb - a.mb)
    .slice(0, n)
    .map((m) => `${m.mb.toFixed(1)} ${path.basename(m.what)}`)
    .join('; ');
}

const broker = await startMosquitto();
const state = mkdtempSync(path.join(tmpdir(), 'edge-zero-rss-'));
// Under .ci/pi-emu, process.execPath is an ARM binary only the qemu shim (`node` on PATH) starts.
const nodeBin = process.env['PI_EMU_ARCH'] !== undefined ? 'node' : process.execPath;
const child = spawn(nodeBin, [path.join(root, 'bin/edge-infer.js'), 'run', '--profile', profile, '--broker', broker.url, '--state-dir', state, '--device-id', 'zero-rss'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
let logs = '';
child.stdout.on('data', (b: Buffer) => {
  logs += b.toString();
});
child.stderr.on('data', (b: Buffer) => {
  logs += b.toString();
});
try {
  const end = Date.now() + Number(flag('--ready-timeout-s', '120')) * 1000;
  while (!logs.includes('service.ready')) {
    if (child.exitCode !== null || Date.now() > end) throw new Error(`service did not get ready:\n${logs}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, settleS * 1000));
  const s = status(child.pid ?? 0);
  const top = topMappings(child.pid ?? 0, 8);
  const events = logs
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const loaded = events.filter((e) => e['event'] === 'model.loaded' || e['msg'] === 'model.loaded').map((e) => `${String(e['model'])}/${String(e['variant'])} ${Number(e['rssDeltaMB']).toFixed(1)} MB`);
  const refused = events.filter((e) => e['event'] === 'model.refused' || e['msg'] === 'model.refused').map((e) => `${String(e['model'])}/${String(e['variant'])} ${String(e['code'])}`);
  const plan = events.filter((e) => e['event'] === 'plan' || e['msg'] === 'plan').map((e) => String(e['line']));
  console.log(`root ${root}\nprofile ${profile}: VmRSS ${s.rssMB.toFixed(1)} MB, VmHWM (peak) ${s.hwmMB.toFixed(1)} MB, ${settleS} s after service.ready`);
  console.log(`loaded: ${loaded.join('; ') || 'none'}`);
  console.log(`refused: ${refused.join('; ') || 'none'}`);
  console.log(`largest mappings (RSS MB): ${top}`);
  console.log(plan.filter((l) => !l.startsWith('    ')).join('\n'));
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await broker.stop();
}
