/**
 * Schema fuzzing of device profiles and service configs (issue 6): hundreds of deterministic
 * mutations of the shipped files (wrong types, missing fields, unknown keys, out-of-range and
 * non-integer numbers, huge strings, deep nesting, "__proto__"/"constructor"/"prototype" keys,
 * non-object roots). Each one is accepted or refused with EDGE_ERR_PROFILE_INVALID /
 * EDGE_ERR_CONFIG_INVALID whose details name the file and at least one field path; anything else
 * (another code, a TypeError, a stack overflow, prototype pollution) fails. A few go through
 * `edge-infer run`, which must exit 78 naming the file and the field.
 */
import t from 'tap';
import { mulberry32 as prng } from './helpers/prng.js';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { nestingProblem } from '../runtime/config/nesting.js';
import { parseProfile } from '../runtime/config/profile.js';
import { parseServiceConfig } from '../runtime/config/service-config.js';
import { isEdgeError } from '../runtime/errors.js';
import { ROOT, runCli } from './helpers/service-process.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path (array of keys) to a value inside doc, root excluded. */
function paths(doc: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [];
  if (Array.isArray(doc))
    doc.forEach((v, i) => {
      out.push([...prefix, i]);
      out.push(...paths(v, [...prefix, i]));
    });
  else if (doc !== null && typeof doc === 'object')
    for (const [k, v] of Object.entries(doc)) {
      out.push([...prefix, k]);
      out.push(...paths(v, [...prefix, k]));
    }
  return out;
}

function parentOf(doc: Json, p: readonly (string | number)[]): { parent: Json; key: string | number } {
  let cur: Json = doc;
  for (const k of p.slice(0, -1)) cur = (cur as Record<string | number, Json>)[k] as Json;
  return { parent: cur, key: p[p.length - 1] as string | number };
}

const deep = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const HUGE = 'x'.repeat(1 << 20);
const ODD_VALUES: Json[] = [null, true, false, 0, -1, 1.5, -1e308, 1e308, 2 ** 53 + 1, '', ' ', HUGE, '../../etc/passwd', '{deviceId}', [], [1, 'a', null], {}, { __proto__: 1 } as unknown as Json];
const POLLUTE = ['{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '{"prototype":{"polluted":1}}'];

/** One mutated document as JSON text (text so "__proto__" stays an own key after JSON.parse). */
function mutate(base: Json, r: () => number): { text: string; what: string } {
  const doc = structuredClone(base);
  const all = paths(doc);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const op = Math.floor(r() * 7);
  const p = pick(all);
  const { parent, key } = parentOf(doc, p);
  const container = parent as Record<string | number, Json>;
  switch (op) {
    case 0:
      container[key] = structuredClone(pick(ODD_VALUES));
      return { text: JSON.stringify(doc), what: `set /${p.join('/')} to an odd value` };
    case 1:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete container[key];
      return { text: JSON.stringify(doc), what: `delete /${p.join('/')}` };
    case 2: {
      const obj = pick([doc, ...all.map((q) => parentOf(doc, [...q, 0]).parent)].filter((x) => x !== null && typeof x === 'object' && !Array.isArray(x))) as Record<string, Json>;
      obj[`unknownKey${Math.floor(r() * 1000)}`] = 1;
      return { text: JSON.stringify(doc), what: 'unknown key' };
    }
    case 3: {
      const marker = '"__MUTATION__"';
      container[key] = '__MUTATION__';
      return { text: JSON.stringify(doc).replace(marker, deep(50 + Math.floor(r() * 3000))), what: `deep nesting at /${p.join('/')}` };
    }
    case 4: {
      const marker = '"__MUTATION__"';
      container[key] = '__MUTATION__';
      return { text: JSON.stringify(doc).replace(marker, pick(POLLUTE)), what: `prototype key at /${p.join('/')}` };
    }
    case 5: {
      const text = JSON.stringify(doc);
      const poll = pick(POLLUTE).slice(1, -1);
      return { text: `{${poll},${text.slice(1)}`, what: 'prototype key at the root' };
    }
    default: {
      const n = typeof container[key] === 'number' ? (container[key] as number) : 1;
      container[key] = pick([-n, n * 1e6, n + 0.5, Number.MAX_SAFE_INTEGER, -(2 ** 31), 0]);
      return { text: JSON.stringify(doc), what: `out-of-range number at /${p.join('/')}` };
    }
  }
}

const NON_OBJECT_ROOTS = ['null', '[]', '"x"', '42', 'true', deep(5000)];

interface Tally {
  cases: number;
  accepted: number;
  refused: number;
  problems: number;
  bad: string[];
  stackOverflows: number;
  guardCatches: number;
}

function fuzz(kind: 'profile' | 'config', file: string, base: Json, n: number, seed: number, tally: Tally): void {
  if (nestingProblem(base) !== null) tally.bad.push(`${path.basename(file)}: the nesting guard refuses the unmutated document`);
  const r = prng(seed);
  const expected = kind === 'profile' ? 'EDGE_ERR_PROFILE_INVALID' : 'EDGE_ERR_CONFIG_INVALID';
  const ctx = { hostname: 'fuzz-host', env: {}, packageRoot: ROOT };
  const cases = [...Array.from({ length: n }, () => mutate(base, r)), ...NON_OBJECT_ROOTS.map((text) => ({ text, what: 'non-object root' }))];
  for (const { text, what } of cases) {
    tally.cases++;
    const doc = JSON.parse(text) as unknown;
    try {
      if (kind === 'profile') parseProfile(doc, file);
      else parseServiceConfig(doc, file, ctx);
      tally.accepted++;
    } catch (e) {
      const ok = isEdgeError(e) && e.code === expected;
      const details = ok ? (e.details as { file?: unknown; problems?: { path?: unknown; message?: unknown }[] } | undefined) : undefined;
      const named = details?.file === file && Array.isArray(details.problems) && details.problems.length > 0 && details.problems.every((p) => typeof p.path === 'string' && typeof p.message === 'string');
      if (e instanceof RangeError) {
        tally.stackOverflows++;
        if (nestingProblem(doc) !== null) tally.guardCatches++;
      } else if (ok && named && (e as Error).message.includes(file)) {
        tally.refused++;
        tally.problems += details?.problems?.length ?? 0;
      } else {
        tally.bad.push(`${path.basename(file)} ${what}: ${isEdgeError(e) ? e.code : (e as Error).name} ${(e as Error).message.slice(0, 200)}`);
      }
    }
    if (({} as Record<string, unknown>)['polluted'] !== undefined) tally.bad.push(`${path.basename(file)} ${what}: Object.prototype polluted`);
  }
}

t.test('hundreds of mutated profiles and configs are each accepted or refused with a coded error naming the file and a field', async (t) => {
  const profilesDir = path.join(ROOT, 'device-profiles');
  const profileFiles = readdirSync(profilesDir).filter((f) => f.endsWith('.json') && f !== 'schema.json');
  t.ok(profileFiles.length >= 5, 'the shipped profiles are there');
  const profiles: Tally = { cases: 0, accepted: 0, refused: 0, problems: 0, bad: [], stackOverflows: 0, guardCatches: 0 };
  profileFiles.forEach((f, i) => {
    const file = path.join(profilesDir, f);
    fuzz('profile', file, JSON.parse(readFileSync(file, 'utf8')) as Json, 60, 1000 + i, profiles);
  });
  const configFile = path.join(ROOT, 'deploy', 'systemd', 'config.example.json');
  const configs: Tally = { cases: 0, accepted: 0, refused: 0, problems: 0, bad: [], stackOverflows: 0, guardCatches: 0 };
  fuzz('config', configFile, JSON.parse(readFileSync(configFile, 'utf8')) as Json, 300, 7, configs);
  // A fuller config (TLS, passwordFile, profile, models) so those fields are mutated too.
  const full: Json = {
    deviceId: 'pi-kitchen',
    profile: 'rpi4-2gb',
    modelsDir: './models',
    stateDir: './state',
    broker: { url: 'mqtts://broker:8883', username: 'edge-infer', passwordFile: './pw', tls: { caFile: 'ca.crt', certFile: 'c.crt', keyFile: 'c.key', rejectUnauthorized: true } },
    models: { digits: { enabled: true, priority: 2, maxBatch: 8, preferredBatchSizes: [4, 8], queueLimit: 10 } },
    telemetry: { intervalS: 5 },
  };
  fuzz('config', path.join(tmpdir(), 'full-config.json'), full, 200, 11, configs);

  for (const [name, tally] of [
    ['profiles', profiles],
    ['configs', configs],
  ] as const) {
    t.comment(`${name}: ${tally.cases} cases, ${tally.accepted} accepted, ${tally.refused} refused (${tally.problems} problems named), ${tally.stackOverflows} stack overflows on deep nesting, ${tally.bad.length} other wrong`);
    t.same(tally.bad, [], `${name}: no other error, crash or pollution`);
    t.equal(tally.stackOverflows, 0, `${name}: deep nesting is refused with a code`);
    t.equal(tally.guardCatches, tally.stackOverflows, `${name}: assertNesting refuses every document that overflowed the stack`);
    t.ok(tally.refused > tally.cases / 3, `${name}: most mutations are refused (${tally.refused}/${tally.cases})`);
    t.ok(tally.accepted > 0, `${name}: some mutations are harmless and accepted (${tally.accepted})`);
  }
  t.ok(profiles.cases + configs.cases >= 500, `${profiles.cases + configs.cases} cases fuzzed`);
});

t.test('edge-infer run with a bad config or profile exits 78 naming the file and the field', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-badcfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cases: { name: string; text: string; field: string }[] = [
    { name: 'wrong-type.json', text: '{"broker":{"url":42}}', field: '/broker/url' },
    { name: 'proto.json', text: '{"__proto__":{"polluted":1},"drainTimeoutMs":5}', field: '__proto__' },
    { name: 'deep.json', text: `{"models":{"digits":${deep(3000)}}}`, field: '/models/digits' },
    { name: 'huge.json', text: JSON.stringify({ topicPrefix: HUGE }), field: '/topicPrefix' },
  ];
  const results = await Promise.all(
    cases.map(async (c) => {
      const file = path.join(dir, c.name);
      writeFileSync(file, c.text);
      return { c, file, r: await runCli(['run', '--config', file]) };
    }),
  );
  for (const { c, file, r } of results) {
    if (c.name === 'deep.json') {
      t.equal(r.code, 78, `${c.name}: exit 78 (today: ${r.code})`);
      t.equal(r.code === 78 || r.code === 70 ? 'no crash loop' : r.code, 'no crash loop', `${c.name}: a coded exit, not a signal`);
      continue;
    }
    t.equal(r.code, 78, `${c.name}: exit 78`);
    t.match(r.stderr, 'EDGE_ERR_CONFIG_INVALID', `${c.name}: coded`);
    t.match(r.stderr, file, `${c.name}: names the file`);
    t.match(r.stderr, c.field, `${c.name}: names the field ${c.field}`);
    t.ok(r.stderr.length < 20_000, `${c.name}: the message is bounded (${r.stderr.length} chars)`);
  }
  const profile = path.join(dir, 'bad-profile.json');
  const p = JSON.parse(readFileSync(path.join(ROOT, 'device-profiles', 'rpi4-2gb.json'), 'utf8')) as { memory: { budgetMB: number } };
  p.memory.budgetMB = 4096;
  writeFileSync(profile, JSON.stringify(p));
  const r = await runCli(['run', '--profile', profile, '--broker', 'mqtt://127.0.0.1:1']);
  t.equal(r.code, 78, 'bad profile: exit 78');
  t.match(r.stderr, 'EDGE_ERR_PROFILE_INVALID');
  t.match(r.stderr, profile, 'names the file');
  t.match(r.stderr, '/memory/budgetMB', 'names the field');
});
