/**
 * Issue 12 item 3: `plan` verifies the files of the variants it names, so it never presents a
 * variant `run` would refuse. Real CLI, a private copy of the digits model, real files.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { copyDigits } from './helpers/digits-copy.js';
import { runCli } from './helpers/service-process.js';
import { loadManifests } from '../runtime/repository/manifest.js';
import { VerifiedFiles } from '../runtime/repository/verified-files.js';

interface PlanOut {
  plan: { models: { model: string; chosen: { variant: string } | null; rejected: { variant: string; reason: string; detail: string }[] }[] };
}

function flipLastByte(file: string): void {
  const b = readFileSync(file);
  b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 0xff;
  writeFileSync(file, b);
}

t.test('plan excludes a chosen variant whose file was altered and names the refusal', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-planv-'));
  const modelDir = copyDigits(path.join(dir, 'models'));
  const env = { XDG_CACHE_HOME: path.join(dir, 'cache') };
  const args = ['plan', '--models', path.join(dir, 'models'), '--profile', 'generic-x64', '--json'];
  const before = await runCli(args, { env });
  t.equal(before.code, 0, before.stderr);
  const chosen = (JSON.parse(before.stdout) as PlanOut).plan.models[0]?.chosen?.variant;
  t.type(chosen, 'string');
  const manifest = JSON.parse(readFileSync(path.join(modelDir, 'model.json'), 'utf8')) as { variants: { id: string; file: string }[] };
  const file = path.join(modelDir, manifest.variants.find((v) => v.id === chosen)?.file ?? '');
  flipLastByte(file);

  const after = await runCli(args, { env });
  const m = (JSON.parse(after.stdout) as PlanOut).plan.models[0];
  t.not(m?.chosen?.variant, chosen, `the plan no longer names ${chosen}`);
  t.ok(m?.chosen, `it names ${m?.chosen?.variant} instead`);
  const why = m?.rejected.find((r) => r.variant === chosen);
  t.equal(why?.reason, 'excluded');
  t.match(why?.detail, /^EDGE_ERR_INTEGRITY/);
  const table = await runCli(
    args.filter((a) => a !== '--json'),
    { env },
  );
  t.match(table.stdout, /EDGE_ERR_INTEGRITY/, 'the printed plan shows the refusal');
});

t.test('verified files are cached by path, size and mtime', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-vf-'));
  const modelDir = copyDigits(path.join(dir, 'models'));
  const { loaded: manifests } = await loadManifests(path.join(dir, 'models'));
  const loaded = manifests[0]!;
  const variant = loaded.manifest.variants[0]!;
  const file = path.join(modelDir, variant.file);
  const cacheFile = path.join(dir, 'verified.json');
  utimesSync(file, 1_700_000_000, 1_700_000_000);
  const first = await VerifiedFiles.open(cacheFile);
  await first.verify(loaded, variant);
  await first.save();
  t.ok(JSON.parse(readFileSync(cacheFile, 'utf8'))[file], 'the verified file is recorded');

  // Same size and mtime: the cached verdict stands without reading the file (the documented trade-off).
  flipLastByte(file);
  utimesSync(file, 1_700_000_000, 1_700_000_000);
  await (await VerifiedFiles.open(cacheFile)).verify(loaded, variant);
  t.pass('a size+mtime hit is not re-read');

  // A new mtime is a miss: the bytes are read and the change is found.
  utimesSync(file, 1_700_000_000, 1_700_000_005);
  await t.rejects((await VerifiedFiles.open(cacheFile)).verify(loaded, variant), { code: 'EDGE_ERR_INTEGRITY' });
  await t.rejects((await VerifiedFiles.open(null)).verify(loaded, variant), { code: 'EDGE_ERR_INTEGRITY' }, 'without a cache every check reads the file');
});
