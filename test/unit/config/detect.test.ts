import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgeError } from '../../../runtime/errors.js';
import { detectProfile, readHostFacts, type HostFacts, type RuntimeFacts } from '../../../runtime/config/detect.js';
import { parseCpuinfo, parseMemoryMax } from '../../../runtime/config/host-facts.js';
import { listProfiles } from '../../../runtime/config/profile.js';
import type { DeviceProfile } from '../../../runtime/config/types.js';
import { HOSTS_DIR, PROFILES_DIR } from './helpers.js';

async function host(name: string): Promise<HostFacts> {
  const root = join(HOSTS_DIR, name);
  const runtime = JSON.parse(await readFile(join(root, 'host.json'), 'utf8')) as RuntimeFacts;
  return readHostFacts(root, runtime);
}

let profiles: DeviceProfile[] = [];
t.before(async () => {
  profiles = await listProfiles(PROFILES_DIR);
});

t.test('reads the device-tree model, CPU features, memory and cgroup limit from a fixture tree', async (t) => {
  t.same(await host('rpi5-8gb'), { nodeArch: 'arm64', cpuCount: 4, deviceTreeModel: 'Raspberry Pi 5 Model B Rev 1.0', cpuModel: 'Cortex-A76', cpuFeatures: ['neon', 'dotprod', 'fp16'], memTotalMB: 8051, memAvailableMB: 7628, cgroupPath: '/init.scope' });
  const x86 = await host('x86-memorymax');
  t.equal(x86.deviceTreeModel, undefined, 'x86 has no device tree');
  t.same(x86.cpuFeatures, ['sse4', 'avx2']);
  t.equal(x86.cgroupMemoryMaxMB, 640, 'the service cgroup limit is found; "max" in the parent slice is no limit');
  t.equal((await host('rpi4-8gb-arm64')).cgroupMemoryMaxMB, undefined, '"max" everywhere means no limit');
});

t.test('a missing /proc leaves facts unknown instead of failing', async (t) => {
  t.same(await readHostFacts('/nonexistent-root', { nodeArch: 'x64', cpuCount: 2 }), { nodeArch: 'x64', cpuCount: 2, cpuFeatures: [] });
});

t.test('maps cpuinfo flags to profile features', async (t) => {
  t.same(parseCpuinfo('Features\t: fp asimd asimddp i8mm fphp\nCPU implementer\t: 0x41\nCPU part\t: 0xd0b\n'), { features: ['neon', 'dotprod', 'fp16', 'i8mm'], model: 'Cortex-A76' });
  t.same(parseCpuinfo('flags\t\t: fpu sse4_2 avx2 avx512f avx512_vnni\nmodel name\t: Some CPU\n').features, ['sse4', 'avx2', 'avx512', 'avx512vnni']);
  t.equal(parseMemoryMax('max\n'), undefined);
  t.equal(parseMemoryMax('536870912\n'), 512);
});

t.test('a Pi 4 8GB on a 64-bit OS gets rpi4-8gb, and rpi4-2gb is refused on memory', async (t) => {
  const r = detectProfile(await host('rpi4-8gb-arm64'), profiles);
  t.equal(r.profile.id, 'rpi4-8gb');
  t.equal(r.derived, false);
  t.ok(r.reasons.some((s) => s.includes('matches /^Raspberry Pi 4 Model B/')));
  const two = r.verdicts.find((v) => v.id === 'rpi4-2gb');
  t.equal(two?.matched, false);
  t.same(two?.mismatches, ['rpi4-2gb: MemTotal 7811 MB is outside [1536, 2048] MB']);
  t.same(r.verdicts.find((v) => v.id === 'rpi5-8gb')?.mismatches, ['rpi5-8gb: device-tree model "Raspberry Pi 4 Model B Rev 1.4" does not match /^Raspberry Pi 5/']);
  t.same(r.warnings, []);
});

t.test('a Pi 5 gets rpi5-8gb', async (t) => {
  const r = detectProfile(await host('rpi5-8gb'), profiles);
  t.equal(r.profile.id, 'rpi5-8gb');
  t.same(r.warnings, [], 'the host has every feature the profile claims');
});

t.test('a Pi Zero 2 W on a 32-bit OS gets rpi-zero-2w, and arm64 profiles are refused on arch', async (t) => {
  const r = detectProfile(await host('rpi-zero-2w-armhf'), profiles);
  t.equal(r.profile.id, 'rpi-zero-2w');
  t.equal(r.profile.cpu.arch, 'armv7');
  t.ok(r.verdicts.find((v) => v.id === 'rpi3b-plus')?.mismatches.some((s) => s.startsWith("rpi3b-plus: arch arm64 does not match the host's armv7")));
});

t.test('an x86 CI box gets generic-x64', async (t) => {
  const r = detectProfile(await host('x86-ci'), profiles);
  t.equal(r.profile.id, 'generic-x64');
  t.same(r.reasons, ["generic-x64: arch x64 matches (process.arch 'x64')", 'generic-x64: no device-tree or memory rule; matches any x64 host']);
});

t.test('a MemoryMax cgroup below the profile budget is reported as a warning', async (t) => {
  const r = detectProfile(await host('x86-memorymax'), profiles);
  t.equal(r.profile.id, 'generic-x64');
  t.equal(r.warnings.length, 1);
  t.match(r.warnings[0], /cgroup memory\.max 640 MB minus reserveMB 256 leaves 384 MB/);
});

t.test('with no matching profile one is derived from the facts, and a cgroup limit lowers its budget', async (t) => {
  const noX64 = profiles.filter((p) => p.cpu.arch !== 'x64');
  const free = detectProfile(await host('x86-ci'), noX64);
  t.equal(free.derived, true);
  t.equal(free.profile.id, 'derived-x64');
  t.equal(free.profile.memory.totalMB, 7940);
  t.equal(free.profile.memory.budgetMB, 3970, 'half of MemTotal without a cgroup limit');
  t.same(free.profile.cpu.features, ['sse4', 'avx2', 'avx512', 'avx512vnni']);
  const limited = detectProfile(await host('x86-memorymax'), noX64);
  t.equal(limited.derived, true);
  t.equal(limited.profile.memory.budgetMB, 640 - 64, 'cgroup memory.max minus the reserve');
  t.ok(limited.reasons.some((s) => s.includes('chosen: cgroup memory.max 640')));
  t.ok(limited.profile.memory.budgetMB < Math.floor(limited.profile.memory.totalMB / 2));
});

t.test('a derived ARM profile follows dotprod for its precision order', async (t) => {
  const none: DeviceProfile[] = [];
  t.same(detectProfile(await host('rpi5-8gb'), none).profile.inference.precision, ['int8', 'mixed', 'int4', 'fp32']);
  t.same(detectProfile(await host('rpi4-8gb-arm64'), none).profile.inference.precision, ['int8', 'fp32', 'mixed', 'int4']);
  t.same(detectProfile(await host('rpi-zero-2w-armhf'), none).profile.cpu.arch, 'armv7');
});

t.test('an unsupported architecture cannot be derived', async (t) => {
  const facts: HostFacts = { nodeArch: 'ppc64', cpuCount: 8, cpuFeatures: [], memTotalMB: 4096 };
  const err = (() => {
    try {
      return detectProfile(facts, profiles);
    } catch (e) {
      return e;
    }
  })();
  t.ok(err instanceof EdgeError);
  t.equal((err as EdgeError).code, 'EDGE_ERR_PROFILE_NOT_FOUND');
});

t.test('detection is pure: the same facts give the same answer and nothing is modified', async (t) => {
  const facts = await host('rpi4-8gb-arm64');
  const before = JSON.stringify([facts, profiles]);
  t.same(detectProfile(facts, profiles), detectProfile(facts, profiles));
  t.equal(JSON.stringify([facts, profiles]), before);
});

t.test('a Pi whose /proc/device-tree is hidden (a container) is still named from the cpuinfo Model line', async (t) => {
  const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { readHostFacts, parseCpuinfo } = await import('../../../runtime/config/host-facts.js');
  const cpuinfo = 'processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU part\t: 0xd08\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n';
  t.equal(parseCpuinfo(cpuinfo).board, 'Raspberry Pi 4 Model B Rev 1.4');
  const root = mkdtempSync(join(tmpdir(), 'edge-host-'));
  mkdirSync(join(root, 'proc'), { recursive: true });
  writeFileSync(join(root, 'proc', 'cpuinfo'), cpuinfo);
  const facts = await readHostFacts(root, { nodeArch: 'arm64', cpuCount: 4 });
  t.equal(facts.deviceTreeModel, 'Raspberry Pi 4 Model B Rev 1.4');
});
