import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { profileSchema, profileSchemaText } from '../../../runtime/config/profile-schema.js';
import { listProfileIds, listProfiles } from '../../../runtime/config/profile.js';
import { PROFILES_DIR } from './helpers.js';

const SHIPPED = ['generic-x64', 'rpi-zero-2w', 'rpi3b-plus', 'rpi4-2gb', 'rpi4-8gb', 'rpi5-8gb'];

t.test('the committed device-profiles/schema.json equals the TypeScript schema', async (t) => {
  const committed = await readFile(join(PROFILES_DIR, 'schema.json'), 'utf8');
  t.equal(committed, profileSchemaText(), 'stale: run `node dist/runtime/config/write-profile-schema.js`');
});

t.test('the schema is draft 2020-12 and refuses unknown keys at every object level', async (t) => {
  t.equal(profileSchema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  const objects: Array<[string, Record<string, unknown>]> = [];
  const walk = (node: unknown, path: string): void => {
    if (node === null || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    if (n['type'] === 'object') objects.push([path, n]);
    for (const [k, v] of Object.entries(n)) walk(v, `${path}/${k}`);
  };
  walk(profileSchema, '');
  t.ok(objects.length >= 9, `found ${objects.length} object schemas`);
  for (const [path, o] of objects) {
    t.equal(o['additionalProperties'], false, `${path || '(root)'} has additionalProperties: false`);
    t.type(o['description'], 'string', `${path || '(root)'} has a description`);
  }
});

t.test('every shipped profile validates, points editors at ./schema.json and is named after its id', async (t) => {
  t.same(await listProfileIds(PROFILES_DIR), SHIPPED);
  const profiles = await listProfiles(PROFILES_DIR);
  t.same(
    profiles.map((p) => p.id),
    SHIPPED,
  );
  for (const p of profiles) {
    t.equal(p.$schema, './schema.json', `${p.id} $schema`);
    t.ok(p.inference.accuracyFloor > 0, `${p.id} sets an accuracy floor`);
    t.ok(Object.keys(p.inference.estimatedGmacsPerS).length > 0, `${p.id} has throughput estimates`);
    t.match(p.description ?? '', /estimate/i, `${p.id} says its throughput figures are estimates`);
    for (const prec of p.inference.precision) t.type(p.inference.estimatedGmacsPerS[prec], 'number', `${p.id} estimates ${prec}`);
  }
});

t.test('shipped profiles say what each board is: arch, dotprod and precision order', async (t) => {
  const byId = new Map((await listProfiles(PROFILES_DIR)).map((p) => [p.id, p]));
  const get = (id: string) => {
    const p = byId.get(id);
    if (p === undefined) throw new Error(`missing ${id}`);
    return p;
  };
  t.equal(get('rpi-zero-2w').cpu.arch, 'armv7', 'the Zero 2 W profile is for a 32-bit OS');
  t.equal(get('rpi-zero-2w').memory.totalMB, 512);
  t.equal(get('generic-x64').cpu.arch, 'x64');
  t.same(get('generic-x64').match, {}, 'generic-x64 matches any x64 host');
  t.ok(get('rpi5-8gb').cpu.features.includes('dotprod'), 'Pi 5 has dotprod');
  for (const id of ['rpi4-2gb', 'rpi4-8gb', 'rpi3b-plus']) {
    const p = get(id);
    t.notOk(p.cpu.features.includes('dotprod'), `${id} has no dotprod`);
    t.same(p.inference.precision.slice(0, 2), ['int8', 'fp32'], `${id} prefers int8 then fp32`);
  }
  t.same(get('rpi5-8gb').inference.precision.slice(0, 4), ['int8', 'mixed', 'int4', 'fp32']);
  t.equal(get('rpi3b-plus').thermal.softLimitC, 60, 'the 3B+ firmware soft limit is 60 C');
  for (const id of ['rpi4-2gb', 'rpi4-8gb', 'rpi5-8gb']) t.same(get(id).thermal, { softLimitC: 80, hardLimitC: 85 });
});
