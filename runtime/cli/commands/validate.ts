import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { readJsonFile } from '../../config/json-file.js';
import { parseProfile } from '../../config/profile.js';
import { parseServiceConfig } from '../../config/service-config.js';
import { EX_CONFIG, asEdgeError, type ErrorCode } from '../../errors.js';
import { loadManifest } from '../../repository/manifest.js';
import { verifyVariant } from '../../repository/integrity.js';
import type { Command } from '../command.js';

type Kind = 'profile' | 'manifest' | 'config';
interface Finding { file: string; kind: Kind; ok: boolean; code?: ErrorCode; message?: string }

/** Which file format a JSON document is: manifests have variants, profiles a cpu and memory section. */
function kindOf(file: string, doc: unknown): Kind {
  if (path.basename(file) === 'model.json') return 'manifest';
  if (doc !== null && typeof doc === 'object') {
    if ('variants' in doc) return 'manifest';
    if ('cpu' in doc && 'memory' in doc) return 'profile';
  }
  return 'config';
}

async function collect(p: string): Promise<string[]> {
  const s = await stat(p).catch(() => null);
  if (s === null) return [p];
  if (!s.isDirectory()) return [p];
  const out: string[] = [];
  for (const e of (await readdir(p, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(p, e.name);
    if (e.isDirectory()) { if (e.name !== 'node_modules' && !e.name.startsWith('.')) out.push(...await collect(full)); }
    else if (e.name.endsWith('.json') && e.name !== 'schema.json' && (path.basename(p) !== 'models' || e.name === 'model.json')) {
      if (path.basename(path.dirname(full)) === 'eval' || e.name.endsWith('.expected.json') || e.name === 'metrics.json') continue;
      out.push(full);
    }
  }
  return out;
}

async function check(file: string): Promise<Finding> {
  let kind: Kind = 'config';
  try {
    const doc = await readJsonFile(file, 'EDGE_ERR_CONFIG_INVALID');
    kind = kindOf(file, doc);
    if (kind === 'profile') parseProfile(doc, file);
    else if (kind === 'config') parseServiceConfig(doc, file);
    else {
      // A manifest is only valid when every variant file is there, whole and untampered.
      const loaded = await loadManifest(file);
      for (const v of loaded.manifest.variants) await verifyVariant(loaded, v);
    }
    return { file, kind, ok: true };
  } catch (e) {
    const err = asEdgeError(e);
    return { file, kind, ok: false, code: err.code, message: err.message };
  }
}

export const command: Command = {
  name: 'validate',
  summary: 'check profiles, manifests (and their files\' sha256) and service configs; exit 0, or 78 listing every problem',
  usage: '[paths...]   (default: the bundled device-profiles/ and models/)',
  options: {},
  async run(ctx) {
    const roots = ctx.positionals.length > 0 ? ctx.positionals : [path.join(ctx.packageRoot, 'device-profiles'), path.join(ctx.packageRoot, 'models')];
    const files: string[] = [];
    for (const r of roots) files.push(...await collect(path.resolve(r)));
    const findings: Finding[] = [];
    for (const f of files) findings.push(await check(f));
    const bad = findings.filter((f) => !f.ok);
    if (ctx.json) ctx.out(JSON.stringify({ ok: bad.length === 0, findings }, null, 2));
    else {
      for (const f of findings) ctx.out(f.ok ? `ok    ${f.kind.padEnd(8)} ${f.file}` : `FAIL  ${f.kind.padEnd(8)} ${f.code}: ${f.message}`);
      ctx.out(`\n${findings.length - bad.length} ok, ${bad.length} with problems`);
    }
    return bad.length === 0 ? 0 : EX_CONFIG;
  },
};
