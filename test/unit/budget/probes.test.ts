import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { effectiveBudgetMB } from '../../../runtime/budget/budget.js';
import { cgroupMemoryLimitMB, memAvailableMB, processRssMB } from '../../../runtime/budget/probes.js';

const MEMINFO = 'MemTotal:        1894404 kB\nMemFree:          120000 kB\nMemAvailable:     409600 kB\nBuffers:           10000 kB\n';

async function host(t: { teardown(fn: () => unknown): void }, files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'edge-probes-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), text);
  }
  return root;
}

t.test('reads the service cgroup memory.max (systemd MemoryMax) in MB', async (t) => {
  const root = await host(t, { 'proc/self/cgroup': '0::/system.slice/edge-infer.service\n', 'sys/fs/cgroup/system.slice/edge-infer.service/memory.max': `${384 * 1024 * 1024}\n`, 'sys/fs/cgroup/system.slice/memory.max': 'max\n' });
  t.equal(await cgroupMemoryLimitMB(root), 384);
});

t.test('a lower limit on a parent cgroup is the one that applies', async (t) => {
  const root = await host(t, { 'proc/self/cgroup': '0::/system.slice/edge-infer.service\n', 'sys/fs/cgroup/system.slice/edge-infer.service/memory.max': 'max\n', 'sys/fs/cgroup/system.slice/memory.max': `${256 * 1024 * 1024}\n` });
  t.equal(await cgroupMemoryLimitMB(root), 256);
});

t.test('"max" everywhere, cgroup v1 only or no /proc means no cgroup limit', async (t) => {
  const unlimited = await host(t, { 'proc/self/cgroup': '0::/user.slice\n', 'sys/fs/cgroup/user.slice/memory.max': 'max\n' });
  t.equal(await cgroupMemoryLimitMB(unlimited), null);
  const v1 = await host(t, { 'proc/self/cgroup': '4:memory:/user.slice\n' });
  t.equal(await cgroupMemoryLimitMB(v1), null);
  t.equal(await cgroupMemoryLimitMB(path.join(unlimited, 'nowhere')), null);
});

t.test('reads MemAvailable in MB and null when meminfo lacks it', async (t) => {
  const root = await host(t, { 'proc/meminfo': MEMINFO });
  t.equal(await memAvailableMB(root), 400);
  const old = await host(t, { 'proc/meminfo': 'MemTotal: 1000 kB\n' });
  t.equal(await memAvailableMB(old), null);
});

t.test('an injected reader replaces the file system', async (t) => {
  const files: Record<string, string> = { '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/memory.max': '1073741824\n' };
  const read = async (f: string): Promise<string> => {
    const v = files[f];
    if (v === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    return v;
  };
  t.equal(await cgroupMemoryLimitMB('/', read), 1024);
});

t.test('processRssMB converts bytes to MB and reads the real process by default', async (t) => {
  t.equal(
    processRssMB(() => 50 * 1024 * 1024),
    50,
  );
  t.ok(processRssMB() > 10);
});

t.test('a cgroup fixture host yields the budget the cgroup allows', async (t) => {
  const root = await host(t, { 'proc/self/cgroup': '0::/system.slice/edge-infer.service\n', 'sys/fs/cgroup/system.slice/edge-infer.service/memory.max': `${512 * 1024 * 1024}\n`, 'proc/meminfo': MEMINFO });
  const b = effectiveBudgetMB({ profileBudgetMB: 768, reserveMB: 64, cgroupLimitMB: await cgroupMemoryLimitMB(root), memAvailableMB: await memAvailableMB(root), processRssMB: 40 });
  t.same([b.limitedBy, b.budgetMB], ['memavailable', 400 - 64]);
  const roomy = effectiveBudgetMB({ profileBudgetMB: 768, reserveMB: 64, cgroupLimitMB: await cgroupMemoryLimitMB(root), memAvailableMB: 1500, processRssMB: 40 });
  t.same([roomy.limitedBy, roomy.budgetMB], ['cgroup', 512 - 64]);
});
