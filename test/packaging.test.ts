/**
 * Packaging (issue 14): the production dependency list from the real package-lock.json, the per-arch
 * file rules, the Debian metadata, and a real .deb per architecture built by dpkg-deb from the built
 * project (uncompressed, to keep this fast) and read back with dpkg-deb.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { foreignBinary, keepDependencyDir, keepDependencyFile } from '../packaging/arch-rules.js';
import { ARMHF_DROP_IN, REQUIRED_PATHS, buildDeb, contentProblems } from '../packaging/build-deb.js';
import { CONFFILES, PACKAGED_CONFIG, POSTINST, POSTRM, PRERM, controlFile, packagedUnit } from '../packaging/debian-files.js';
import { productionPackageDirs, type LockFile } from '../packaging/prod-deps.js';
import { SIZE_LIMIT_MB, installedSizeKiB, partOf, partSizes } from '../packaging/sizes.js';
import { readProjectPackage, stageDeb } from '../packaging/stage.js';
import { ROOT } from './helpers/service-process.js';

const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as LockFile;

t.test('production dependencies come from the lock file: no dev tools, no self link', async (t) => {
  const dirs = productionPackageDirs(lock);
  for (const need of ['node_modules/onnxruntime-node', 'node_modules/onnxruntime-web', 'node_modules/mqtt', 'node_modules/ajv', 'node_modules/protobufjs']) t.ok(dirs.includes(need), need);
  for (const dev of ['node_modules/typescript', 'node_modules/tap', 'node_modules/edge-infer']) t.notOk(dirs.includes(dev), `${dev} is not shipped`);
  t.throws(() => productionPackageDirs({}), /no "packages" map/);
});

t.test('per-arch rules: arm64 gets only linux/arm64 onnxruntime-node, armhf only the Node WASM build', async (t) => {
  const bin = (p: string): string => `onnxruntime-node/bin/napi-v6/${p}/onnxruntime_binding.node`;
  t.ok(keepDependencyFile(bin('linux/arm64'), 'arm64'));
  for (const other of ['linux/x64', 'darwin/arm64', 'win32/x64', 'win32/arm64']) t.notOk(keepDependencyFile(bin(other), 'arm64'), other);
  t.notOk(keepDependencyFile(bin('linux/arm64'), 'armhf'), 'no native code on armhf');
  t.ok(keepDependencyFile('onnxruntime-web/dist/ort-wasm-simd-threaded.wasm', 'armhf'));
  t.ok(keepDependencyFile('onnxruntime-web/dist/ort.node.min.mjs', 'armhf'));
  t.notOk(keepDependencyFile('onnxruntime-web/dist/ort-wasm-simd-threaded.jsep.wasm', 'armhf'), 'WebGPU build');
  t.notOk(keepDependencyFile('onnxruntime-web/dist/ort-wasm-simd-threaded.wasm', 'arm64'));
  t.notOk(keepDependencyDir('onnxruntime-web', 'arm64'));
  t.ok(keepDependencyDir('onnxruntime-web/node_modules/protobufjs', 'armhf'));
  t.notOk(keepDependencyDir('@types/node', 'arm64'));
  for (const junk of ['gopd/.eslintrc', '@protobufjs/pool/.npmignore', 'ajv/dist/core.js.map', 'mqtt/README.md', 'aedes/test/basic.js']) t.notOk(keepDependencyFile(junk, 'arm64'), junk);
  t.ok(keepDependencyFile('mqtt/LICENSE.md', 'arm64'), 'licenses stay');
  t.ok(keepDependencyFile('mqtt/build/lib/client.js', 'armhf'));
  t.ok(foreignBinary('usr/lib/edge-infer/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1', 'arm64'));
  t.ok(foreignBinary('x/darwin/arm64/a.dylib', 'arm64'));
  t.ok(foreignBinary('x/linux/arm64/libonnxruntime.so.1', 'armhf'));
  t.notOk(foreignBinary('usr/lib/edge-infer/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1', 'arm64'));
});

t.test('Debian metadata: control, unit, conffile, maintainer scripts', async (t) => {
  const control = controlFile({ version: '1.2.3', arch: 'arm64', installedSizeKiB: 4096, description: 'a b c', maintainer: 'M <m@example.org>' });
  t.match(control, /^Package: edge-infer\nVersion: 1\.2\.3\nArchitecture: arm64\n/);
  t.match(control, /\nDepends: nodejs \(>= 20\), init-system-helpers[^\n]*libc6 \(>= 2\.28\)/);
  t.match(controlFile({ version: '1', arch: 'armhf', installedSizeKiB: 1, description: 'x', maintainer: 'M <m@example.org>' }), /\nDepends: nodejs \(>= 20\), init-system-helpers \(>= 1\.54~\)\n/);
  t.match(control, /\nInstalled-Size: 4096\n/);
  t.equal(CONFFILES, '/etc/edge-infer/config.json\n');
  const unit = packagedUnit(readFileSync(path.join(ROOT, 'deploy/systemd/edge-infer.service'), 'utf8'));
  t.match(unit, /\nExecStart=\/usr\/bin\/edge-infer run --config \/etc\/edge-infer\/config\.json\n/);
  t.throws(() => packagedUnit('[Service]\n'), /no ExecStart/);
  t.match(POSTINST, /deb-systemd-helper enable 'edge-infer\.service'/);
  t.match(POSTINST, /deb-systemd-invoke "\$action" 'edge-infer\.service'/);
  t.match(PRERM, /"\$1" = remove[\s\S]*deb-systemd-invoke stop 'edge-infer\.service'/);
  t.match(POSTRM, /"\$1" = "purge"[\s\S]*rm -rf \/var\/lib\/edge-infer \/var\/lib\/private\/edge-infer/);
  t.notMatch(POSTRM.slice(0, POSTRM.indexOf('"purge"')), /rm -rf/, 'remove keeps the state');
  for (const [name, script] of [
    ['postinst', POSTINST],
    ['prerm', PRERM],
    ['postrm', POSTRM],
  ]) {
    const file = path.join(tmpdir(), `edge-infer-${name}-${process.pid}`);
    writeFileSync(file, script!);
    t.doesNotThrow(() => execFileSync('sh', ['-n', file]), `${name} parses`);
    rmSync(file);
  }
  // The packaged config is a valid service config.
  const dir = mkdtempSync(path.join(tmpdir(), 'pkg-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'config.json'), PACKAGED_CONFIG);
  const { loadServiceConfig } = await import('../runtime/config/service-config.js');
  const cfg = await loadServiceConfig(path.join(dir, 'config.json'));
  t.equal(cfg.embeddedBroker.mode, 'auto');
});

t.test('sizes: parts and Installed-Size', async (t) => {
  t.equal(partOf('usr/lib/edge-infer/models/digits/teacher-fp32.onnx'), 'model digits');
  t.equal(partOf('usr/lib/edge-infer/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1'), 'onnxruntime-node native binaries');
  t.equal(partOf('usr/lib/edge-infer/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm'), 'onnxruntime-web WASM binary');
  t.equal(partOf('lib/systemd/system/edge-infer.service'), 'system files (unit, config, man page, docs)');
  const sizes = new Map([
    ['usr/lib/edge-infer/models/a/x.onnx', 3000],
    ['usr/lib/edge-infer/models/a/y.onnx', 10],
    ['usr/lib/edge-infer/dist/z.js', 5000],
  ]);
  t.equal(installedSizeKiB(sizes), 3 + 1 + 5);
  t.same(partSizes(sizes), [
    { part: 'compiled runtime (dist/)', bytes: 5000, files: 1 },
    { part: 'model a', bytes: 3010, files: 2 },
  ]);
  t.same(contentProblems(['usr/lib/edge-infer/node_modules/x/linux/x64/a.node'], 'arm64').slice(0, 1), ['foreign binary: usr/lib/edge-infer/node_modules/x/linux/x64/a.node']);
  t.ok(contentProblems([], 'armhf').includes('missing: usr/bin/edge-infer'));
  t.ok(contentProblems([], 'armhf').includes(`missing: ${ARMHF_DROP_IN}`), 'armhf (WASM) needs the malloc drop-in');
  t.ok(contentProblems([ARMHF_DROP_IN], 'arm64').includes(`not for arm64: ${ARMHF_DROP_IN}`), 'arm64 (native) must not carry it');
  t.notOk(contentProblems([], 'arm64').some((p) => p.includes(ARMHF_DROP_IN)));
});

const work = mkdtempSync(path.join(tmpdir(), 'pkg-test-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

// arm64 only here (the larger package; staging and md5sums take seconds): `npm run package` builds
// both and refuses either with foreign or missing files, and CI's test/pkg/install-check.sh runs both.
for (const arch of ['arm64'] as const) {
  t.test(`a real ${arch} .deb from the built project`, async (t) => {
    const stageDir = path.join(work, `stage-${arch}`);
    const outFile = path.join(work, `edge-infer_${arch}.deb`);
    const pkg = await readProjectPackage(ROOT);
    await stageDeb({ projectRoot: ROOT, arch, stageDir, maintainer: 'Test <test@example.org>', date: new Date(Date.UTC(2026, 10, 29)) });
    const r = await buildDeb({ stageDir, outFile, arch, version: pkg.version, description: pkg.description, maintainer: 'Test <test@example.org>', compression: 'none' });
    t.ok(r.installedSizeKiB / 1024 <= (SIZE_LIMIT_MB[arch] ?? 0), `${arch} installed ${(r.installedSizeKiB / 1024).toFixed(1)} MiB within ${SIZE_LIMIT_MB[arch]} MiB`);
    const listing = execFileSync('dpkg-deb', ['-c', outFile], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    const files = listing
      .trim()
      .split('\n')
      .map((l) =>
        l
          .split(/\s+/)
          .slice(5)
          .join(' ')
          .replace(/^\.\//, '')
          .replace(/ -> .*$/, ''),
      );
    t.same(contentProblems(files, arch), [], 'no foreign binaries; entry points present');
    for (const need of REQUIRED_PATHS) t.ok(files.includes(need), need);
    t.match(listing, /root\/root .* \.\/usr\/bin\/edge-infer -> \.\.\/lib\/edge-infer\/bin\/edge-infer\.js/, 'root-owned; /usr/bin/edge-infer points at the entry');
    t.match(listing, /-rwxr-xr-x .* \.\/usr\/lib\/edge-infer\/bin\/edge-infer\.js/);
    const models = readFileSync(path.join(ROOT, 'models', 'digits', 'model.json'), 'utf8');
    for (const v of (JSON.parse(models) as { variants: { file: string }[] }).variants) t.ok(files.includes(`usr/lib/edge-infer/models/digits/${v.file}`), `digits ${v.file}`);
    t.equal(execFileSync('dpkg-deb', ['-f', outFile, 'Architecture'], { encoding: 'utf8' }).trim(), arch);
    t.equal(execFileSync('dpkg-deb', ['-f', outFile, 'Installed-Size'], { encoding: 'utf8' }).trim(), String(r.installedSizeKiB));
    const ctl = path.join(work, `ctl-${arch}`);
    execFileSync('dpkg-deb', ['-e', outFile, ctl]);
    t.equal(readFileSync(path.join(ctl, 'conffiles'), 'utf8'), '/etc/edge-infer/config.json\n');
    t.notMatch(readFileSync(path.join(ctl, 'md5sums'), 'utf8'), /etc\/edge-infer/, 'conffiles are not in md5sums');
    const root = path.join(work, `root-${arch}`);
    execFileSync('dpkg-deb', ['-x', outFile, root]);
    const installed = JSON.parse(readFileSync(path.join(root, 'usr/lib/edge-infer/package.json'), 'utf8')) as Record<string, unknown>;
    t.notOk('devDependencies' in installed || 'scripts' in installed, 'installed package.json has no scripts or devDependencies');
    t.equal(installed['name'], 'edge-infer');
  });
}
