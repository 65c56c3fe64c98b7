import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SystemProbes, createProbeFs, decodeThrottled, isThrottledNow } from '../../../runtime/telemetry/system-probes.js';

/** Writes a fixture tree: { "/sys/class/thermal/thermal_zone0/temp": "48312\n", ... }. */
function fixture(t: { teardown(fn: () => void): void }, files: Record<string, string>, dirs: string[] = []): string {
  const root = mkdtempSync(path.join(tmpdir(), 'edge-probes-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const d of dirs) mkdirSync(path.join(root, d), { recursive: true });
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    writeFileSync(path.join(root, p), text);
  }
  return root;
}

const PI4_MEMINFO = 'MemTotal:        3884084 kB\nMemFree:         2817724 kB\nMemAvailable:    3390976 kB\nBuffers:           33480 kB\n';

t.test('reads the CPU temperature of a Pi from the cpu-thermal zone in degrees C', async (t) => {
  const root = fixture(t, { '/sys/class/thermal/thermal_zone0/type': 'cpu-thermal\n', '/sys/class/thermal/thermal_zone0/temp': '48312\n' });
  t.equal(await new SystemProbes({ fs: createProbeFs(root) }).cpuTempC(), 48.312);
});

t.test('takes the hottest CPU or SoC zone and ignores other sensors', async (t) => {
  const root = fixture(t, {
    '/sys/class/thermal/thermal_zone0/type': 'acpitz\n',
    '/sys/class/thermal/thermal_zone0/temp': '90000\n',
    '/sys/class/thermal/thermal_zone1/type': 'x86_pkg_temp\n',
    '/sys/class/thermal/thermal_zone1/temp': '55000\n',
    '/sys/class/thermal/thermal_zone2/type': 'soc_thermal\n',
    '/sys/class/thermal/thermal_zone2/temp': '61500\n',
    '/sys/class/thermal/cooling_device0/type': 'Processor\n',
  });
  t.equal(await new SystemProbes({ fs: createProbeFs(root) }).cpuTempC(), 61.5);
});

t.test('falls back to zone 0 when no zone names the CPU', async (t) => {
  const root = fixture(t, { '/sys/class/thermal/thermal_zone0/type': 'generic\n', '/sys/class/thermal/thermal_zone0/temp': '40000\n' });
  t.equal(await new SystemProbes({ fs: createProbeFs(root) }).cpuTempC(), 40);
});

t.test('every probe answers null on a board that exposes nothing', async (t) => {
  const root = fixture(t, {});
  const p = new SystemProbes({ fs: createProbeFs(root) });
  t.equal(await p.cpuTempC(), null);
  t.equal(await p.throttled(), null);
  t.equal(await p.memAvailableMB(), null);
  t.equal(await p.memTotalMB(), null);
  t.equal(await p.cgroupMemory(), null);
  t.equal(await p.memoryPressure(), null);
  t.equal(await p.openFds(), null);
});

t.test('garbage in a sysfs file gives null, not an error', async (t) => {
  const root = fixture(t, {
    '/sys/class/thermal/thermal_zone0/type': 'cpu-thermal\n',
    '/sys/class/thermal/thermal_zone0/temp': 'n/a\n',
    '/sys/devices/platform/soc/soc:firmware/get_throttled': 'zz\n',
    '/proc/self/cgroup': '0::/system.slice/edge-infer.service\n',
    '/sys/fs/cgroup/system.slice/edge-infer.service/memory.current': '\n',
  });
  const p = new SystemProbes({ fs: createProbeFs(root) });
  t.equal(await p.cpuTempC(), null);
  t.equal(await p.throttled(), null);
  t.equal(await p.cgroupMemory(), null);
});

t.test('decodes the Pi firmware throttling bits into named flags', async (t) => {
  // 0x50005: under-voltage now + throttled now, and both have occurred
  const root = fixture(t, { '/sys/devices/platform/soc/soc:firmware/get_throttled': '50005\n' });
  const f = await new SystemProbes({ fs: createProbeFs(root) }).throttled();
  t.same(f, { raw: 0x50005, underVoltageNow: true, armFreqCappedNow: false, throttledNow: true, softTempLimitNow: false, underVoltageOccurred: true, armFreqCappedOccurred: false, throttledOccurred: true, softTempLimitOccurred: false });
  t.ok(isThrottledNow(f!));
  const past = decodeThrottled(0xa0000);
  t.ok(past.armFreqCappedOccurred && past.softTempLimitOccurred);
  t.notOk(isThrottledNow(past), 'bits that only say "has occurred" do not mean throttled now');
  t.equal(decodeThrottled(0x8).softTempLimitNow, true);
  t.equal(decodeThrottled(0x2).armFreqCappedNow, true);
});

t.test('accepts the vcgencmd form of the throttled value', async (t) => {
  const root = fixture(t, { '/sys/devices/platform/soc/soc:firmware/get_throttled': 'throttled=0x0\n' });
  const f = await new SystemProbes({ fs: createProbeFs(root) }).throttled();
  t.equal(f?.raw, 0);
  t.notOk(isThrottledNow(f!));
});

t.test('reads MemAvailable and MemTotal in MB', async (t) => {
  const root = fixture(t, { '/proc/meminfo': PI4_MEMINFO });
  const p = new SystemProbes({ fs: createProbeFs(root) });
  t.equal(await p.memAvailableMB(), 3390976 / 1024);
  t.equal(await p.memTotalMB(), 3884084 / 1024);
});

t.test('reads the cgroup v2 memory figures and event counters of the service cgroup', async (t) => {
  const cg = '/sys/fs/cgroup/system.slice/edge-infer.service';
  const root = fixture(t, { '/proc/self/cgroup': '0::/system.slice/edge-infer.service\n', [`${cg}/memory.current`]: `${150 * 1024 * 1024}\n`, [`${cg}/memory.max`]: `${512 * 1024 * 1024}\n`, [`${cg}/memory.high`]: 'max\n', [`${cg}/memory.events`]: 'low 0\nhigh 3\nmax 2\noom 1\noom_kill 1\noom_group_kill 0\n' });
  t.same(await new SystemProbes({ fs: createProbeFs(root) }).cgroupMemory(), { currentMB: 150, maxMB: 512, highMB: null, events: { low: 0, high: 3, max: 2, oom: 1, oomKill: 1 } });
});

t.test('an unlimited cgroup reports no limit and a cgroup v1 host reports nothing', async (t) => {
  const root = fixture(t, { '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/memory.current': '1048576\n', '/sys/fs/cgroup/memory.max': 'max\n' });
  const cg = await new SystemProbes({ fs: createProbeFs(root) }).cgroupMemory();
  t.equal(cg?.currentMB, 1);
  t.equal(cg?.maxMB, null);
  t.equal(cg?.events, null);
  const v1 = fixture(t, { '/proc/self/cgroup': '4:memory:/user.slice\n1:name=systemd:/\n' });
  t.equal(await new SystemProbes({ fs: createProbeFs(v1) }).cgroupMemory(), null);
});

t.test('reads memory pressure stall averages', async (t) => {
  const root = fixture(t, { '/proc/pressure/memory': 'some avg10=3.25 avg60=1.10 avg300=0.20 total=123456\nfull avg10=0.50 avg60=0.10 avg300=0.00 total=4567\n' });
  t.same(await new SystemProbes({ fs: createProbeFs(root) }).memoryPressure(), { someAvg10: 3.25, someAvg60: 1.1, fullAvg10: 0.5 });
});

t.test('counts open file descriptors from /proc/self/fd', async (t) => {
  const root = fixture(t, { '/proc/self/fd/0': '', '/proc/self/fd/1': '', '/proc/self/fd/2': '', '/proc/self/fd/7': '' });
  t.equal(await new SystemProbes({ fs: createProbeFs(root) }).openFds(), 4);
});

t.test('load, process memory and uptime come from the injected functions in MB and s', async (t) => {
  const p = new SystemProbes({ fs: createProbeFs(fixture(t, {})), loadavg: () => [0.5, 0.25, 0.125], memoryUsage: () => ({ rss: 64 * 1024 * 1024, heapUsed: 8 * 1024 * 1024, heapTotal: 16 * 1024 * 1024, external: 1024 * 1024, arrayBuffers: 0 }), processUptimeS: () => 42 });
  t.same(p.loadAvg(), { loadAvg1: 0.5, loadAvg5: 0.25, loadAvg15: 0.125 });
  t.same(p.processMemory(), { rssMB: 64, heapUsedMB: 8, heapTotalMB: 16, externalMB: 1 });
  t.equal(p.processUptimeS(), 42);
});

t.test('on this Linux host the real probes resolve without throwing and see this process', async (t) => {
  const p = new SystemProbes();
  const fds = await p.openFds();
  t.ok(fds !== null && fds >= 3, `open fds ${fds}`);
  const avail = await p.memAvailableMB();
  t.ok(avail !== null && avail > 0, `MemAvailable ${avail} MB`);
  t.ok(p.processMemory().rssMB > 1);
  // These depend on the host: each is either a plausible figure or null, never an exception.
  const temp = await p.cpuTempC();
  t.ok(temp === null || (temp > -40 && temp < 150), `cpu temp ${temp}`);
  const cg = await p.cgroupMemory();
  t.ok(cg === null || cg.currentMB > 0, `cgroup memory ${JSON.stringify(cg)}`);
});
