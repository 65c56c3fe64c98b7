/**
 * The build-time validators (dist/runtime/generated/validators.cjs) against the schemas they were
 * generated from: built from the current schema text, and deciding, reporting and filling defaults
 * exactly as a fresh ajv compile with the same options does.
 */
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { AJV_OPTIONS, PRECOMPILED_SCHEMAS } from '../../../runtime/config/precompiled-schemas.js';
import { compileSchema } from '../../../runtime/config/schema-check.js';
import { schemaFingerprint } from '../../../runtime/config/schema-fingerprint.js';
import { REQUEST_SCHEMA } from '../../../runtime/transport/request-schema.js';
import type * as Generated from '../../../runtime/generated/validators.cjs';
import { PROFILES_DIR, ROOT } from './helpers.js';

const generated = createRequire(import.meta.url)('../../../runtime/generated/validators.cjs') as typeof Generated;
const readJson = async (file: string): Promise<unknown> => JSON.parse(await readFile(file, 'utf8')) as unknown;

/** Valid documents of each format; the cases below are these plus mutations of them. */
async function seeds(): Promise<Record<string, unknown[]>> {
  const profiles = (await readdir(PROFILES_DIR)).filter((f) => f.endsWith('.json') && f !== 'schema.json');
  const models = (await readdir(join(ROOT, 'models'), { withFileTypes: true })).filter((d) => d.isDirectory());
  const entry = { model: 'digits', variant: 'fp32', backend: 'native', threads: 1, loadMs: 10, latencyP50Ms: 0.2, latencyP95Ms: 0.3, rssMB: 9 };
  return {
    profile: await Promise.all(profiles.map((f) => readJson(join(PROFILES_DIR, f)))),
    manifest: await Promise.all(models.map((d) => readJson(join(ROOT, 'models', d.name, 'model.json')))),
    serviceConfig: [await readJson(join(ROOT, 'deploy/systemd/config.example.json')), {}],
    calibration: [{ profile: 'generic-x64', measuredAt: '2026-01-01T00:00:00Z', entries: [entry, { ...entry, variant: 'int8' }] }],
    request: [
      { id: 'a', input: [1, 2, 3] },
      { id: 'b', replyTo: 'x/y', inputs: { x: { dtype: 'float32', shape: [1, 2], data: [1, 2] }, y: { data: [] } } },
      { id: 'c', text: 'hello' },
      { id: 'd', texts: ['a', 'b'] },
    ],
  };
}

const REPLACEMENTS: readonly unknown[] = ['', 'zz', -1, 0, 1.5, 1e9, null, true, [], {}, ['zz'], { zz: 1 }];

/** Every container path of `doc` down to `depth`, as key lists (root first). */
function paths(doc: unknown, depth: number, at: (string | number)[] = []): (string | number)[][] {
  if (depth === 0 || doc === null || typeof doc !== 'object') return [];
  const keys: (string | number)[] = Array.isArray(doc) ? doc.map((_, i) => i) : Object.keys(doc);
  return keys.flatMap((k) => [[...at, k], ...paths((doc as Record<string | number, unknown>)[k], depth - 1, [...at, k])]);
}

/** `seed` with the value at `path` deleted, or replaced by `value`, or with an unknown key added. */
function mutate(seed: unknown, path: (string | number)[], change: { value: unknown } | 'delete' | 'add-key'): unknown {
  const doc = structuredClone(seed) as Record<string | number, unknown>;
  let parent = doc;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (change === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else if (change === 'add-key') {
    const target = parent[last];
    if (target !== null && typeof target === 'object' && !Array.isArray(target)) (target as Record<string, unknown>)['notInSchema'] = 1;
  } else {
    parent[last] = change.value;
  }
  return doc;
}

function cases(seed: unknown): unknown[] {
  const out: unknown[] = [seed, null, 7, 'x', [], {}, { ...(seed as object), notInSchema: true }];
  // Three replacements per path, rotating, so every kind of value meets every level of the document.
  paths(seed, 4).forEach((p, i) => {
    out.push(mutate(seed, p, 'delete'), mutate(seed, p, 'add-key'));
    for (let j = 0; j < 3; j++) out.push(mutate(seed, p, { value: REPLACEMENTS[(i * 3 + j) % REPLACEMENTS.length] }));
  });
  return out;
}

t.test('every schema the runtime checks has a generated validator built from its current text', async (t) => {
  const named = generated as unknown as Record<string, unknown>;
  for (const [name, schema] of Object.entries(PRECOMPILED_SCHEMAS)) {
    const validate = generated.byFingerprint[schemaFingerprint(schema)];
    t.type(validate, 'function', `${name}: stale or missing, run \`npm run build\``);
    t.equal(validate, named[name], `${name}: the fingerprint names the ${name} export`);
  }
  t.equal(Object.keys(generated.byFingerprint).length, Object.keys(PRECOMPILED_SCHEMAS).length, 'no validator for a schema that is gone');
});

t.test('generated validators agree with a fresh ajv compile: verdict, every error and the defaults filled in', async (t) => {
  const bySchema = await seeds();
  for (const [name, schema] of Object.entries(PRECOMPILED_SCHEMAS)) {
    const fresh = new Ajv2020({ ...AJV_OPTIONS }).compile(schema);
    const built = generated.byFingerprint[schemaFingerprint(schema)];
    if (built === undefined) {
      t.fail(`${name}: no generated validator`);
      continue;
    }
    const docs = (bySchema[name] ?? []).flatMap(cases);
    let valid = 0,
      invalid = 0,
      filled = 0,
      disagreements = 0;
    for (const doc of docs) {
      const a = structuredClone(doc),
        b = structuredClone(doc);
      const freshOk = fresh(a),
        builtOk = built(b);
      const same = freshOk === builtOk && JSON.stringify(fresh.errors ?? null) === JSON.stringify(built.errors ?? null) && JSON.stringify(a) === JSON.stringify(b);
      if (!same && disagreements++ < 3) t.same({ ok: builtOk, errors: built.errors ?? null, doc: b }, { ok: freshOk, errors: fresh.errors ?? null, doc: a }, `${name}: ${JSON.stringify(doc).slice(0, 200)}`);
      if (freshOk) valid++;
      else invalid++;
      if (JSON.stringify(a) !== JSON.stringify(doc)) filled++;
    }
    t.equal(disagreements, 0, `${name}: ${docs.length} documents, ${valid} valid, ${invalid} invalid, ${filled} with defaults filled`);
    t.ok(valid > 0 && invalid > 0, `${name}: the cases include valid and invalid documents`);
    if (JSON.stringify(schema).includes('"default":')) t.ok(filled > 0, `${name}: the cases exercise schema defaults`);
  }
});

t.test('a schema not in the build fails on first use with EDGE_ERR_INTERNAL, not at import', async (t) => {
  const unlisted = compileSchema({ title: 'not listed', type: 'object' }, 'EDGE_ERR_BAD_REQUEST');
  t.throws(() => unlisted.problems({}), { code: 'EDGE_ERR_INTERNAL' });
  const edited = compileSchema({ ...REQUEST_SCHEMA, required: ['id', 'replyTo'] }, 'EDGE_ERR_BAD_REQUEST');
  t.throws(() => edited.check({ id: 'a', input: [] }, 'r.json'), { code: 'EDGE_ERR_INTERNAL' }, 'an edited schema does not get the old validator');
  const listed = compileSchema(REQUEST_SCHEMA, 'EDGE_ERR_BAD_REQUEST');
  t.same(listed.problems({ id: 'a', input: [] }), []);
  t.throws(() => listed.check({ input: [] }, 'r.json'), { code: 'EDGE_ERR_BAD_REQUEST' });
});
