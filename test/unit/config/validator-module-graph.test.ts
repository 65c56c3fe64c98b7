/**
 * Issue 5: the service validates with build-time code; its module graph must not load ajv's
 * compiler (ajv core, compile/, vocabularies/), only the ajv/dist/runtime helpers.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ROOT } from './helpers.js';

const COMPILER = /node_modules\/ajv\/dist\/(ajv|2019|2020|core|jtd|compile|vocabularies|standalone)[/.]/;

/** Imports the service, validates a profile, a manifest and a request, returns require.cache keys. */
async function loadedModules(extra = ''): Promise<string[]> {
  const script = `
    import { createRequire } from 'node:module';
    import { readFile } from 'node:fs/promises';
    await import('./dist/runtime/service/service.js');
    const { loadProfile } = await import('./dist/runtime/config/profile.js');
    const { loadManifest } = await import('./dist/runtime/repository/manifest.js');
    const { requestSchema } = await import('./dist/runtime/transport/request-schema.js');
    await loadProfile('rpi4-2gb', 'device-profiles');
    await loadManifest('models/digits/model.json');
    if (requestSchema.problems({ id: 'a', input: [1] }).length !== 0) throw new Error('request refused');
    ${extra}
    process.stdout.write(JSON.stringify(Object.keys(createRequire(process.cwd() + '/').cache)));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
  return JSON.parse(stdout) as string[];
}

t.test('the service validates without loading the ajv compiler', async (t) => {
  const loaded = await loadedModules();
  t.ok(
    loaded.some((f) => f.endsWith('dist/runtime/generated/validators.cjs')),
    'the generated validators were used',
  );
  t.ok(
    loaded.some((f) => /node_modules\/ajv\/dist\/runtime\//.test(f)),
    'their ajv runtime helpers were loaded',
  );
  t.same(
    loaded.filter((f) => COMPILER.test(f)),
    [],
    'no ajv compiler module',
  );
});

t.test('the probe sees the ajv compiler when something imports it', async (t) => {
  const loaded = await loadedModules(`await import('ajv/dist/2020.js');`);
  t.ok(loaded.some((f) => COMPILER.test(f)));
});
