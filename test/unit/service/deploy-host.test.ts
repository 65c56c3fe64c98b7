import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadServiceConfig } from '../../../runtime/config/service-config.js';
import { EX_CONFIG } from '../../../runtime/errors.js';
import { generateDeployKeys, keyIdOf, publicKeyFromPem } from '../../../runtime/fleet/bundle.js';
import { readTrustedKeys } from '../../../runtime/service/deploy-host.js';

t.test('deploys are off by default; trusted key files resolve against the config file, PEM text stays as given', async (t) => {
  const ctx = { hostname: 'pi', env: {}, packageRoot: '/opt/edge-infer' };
  const none = await loadServiceConfig(undefined, ctx);
  t.same(none.deploy.trustedKeys, []);
  t.equal(none.deploy.healthWindowS, 10);
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-keys-'));
  const k = generateDeployKeys();
  writeFileSync(path.join(dir, 'ops.pub'), k.publicPem);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ deploy: { trustedKeys: ['ops.pub', k.publicPem], healthWindowS: 2 } }));
  const c = await loadServiceConfig(path.join(dir, 'config.json'), ctx);
  t.same(c.deploy.trustedKeys, [path.join(dir, 'ops.pub'), k.publicPem]);
  const keys = await readTrustedKeys(c.deploy.trustedKeys);
  t.same(keys.map(keyIdOf), [keyIdOf(publicKeyFromPem(k.publicPem)), keyIdOf(publicKeyFromPem(k.publicPem))]);
});

t.test('an unreadable or non-ed25519 trusted key is a config error (exit 78) naming the entry', async (t) => {
  await t.rejects(readTrustedKeys(['/nonexistent/key.pub']), { code: 'EDGE_ERR_DEPLOY_KEY', exitCode: EX_CONFIG, message: /trustedKeys\[0\]/ });
  await t.rejects(readTrustedKeys(['-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----\n']), { code: 'EDGE_ERR_DEPLOY_KEY', message: /trustedKeys\[0\]/ });
});
