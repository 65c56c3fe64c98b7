/** How `edge-infer validate` decides what a file is (issue 13, defect 4). Pure. */
import t from 'tap';
import { kindOf } from '../../../runtime/cli/validate-kind.js';
import { unknownModelIds } from '../../../runtime/cli/config-models.js';

t.test('a profile missing its memory section is still a profile, by shape, place or $schema', async (t) => {
  const noMemory = { id: 'x', board: 'b', cpu: { arch: 'arm64', cores: 4 }, inference: {} };
  t.equal(kindOf('/tmp/x.json', noMemory), 'profile', 'by shape');
  t.equal(kindOf('/srv/device-profiles/x.json', { id: 'x' }), 'profile', 'by place');
  t.equal(kindOf('/tmp/x.json', { $schema: 'https://edge-infer.dev/schemas/device-profile.json' }), 'profile', 'by $schema URL');
  t.equal(kindOf('/srv/device-profiles/a/x.json', { $schema: '../schema.json' }), 'profile', 'by $schema path');
});

t.test('manifests by name, $schema or variants; configs otherwise', async (t) => {
  t.equal(kindOf('/m/digits/model.json', {}), 'manifest');
  t.equal(kindOf('/m/models/digits/other.json', { $schema: '../schema.json' }), 'manifest');
  t.equal(kindOf('/tmp/x.json', { variants: [] }), 'manifest');
  t.equal(kindOf('/etc/edge-infer/config.json', { broker: {}, memory: {} }), 'config', 'a config key wins over a stray profile key');
  t.equal(kindOf('/etc/edge-infer/config.json', null), 'config');
  t.equal(kindOf('/etc/edge-infer/config.json', [1]), 'config');
  t.equal(kindOf('/tmp/x.json', { $schema: 'https://example.com/config.schema.json', cpu: {} }), 'config', '$schema decides first');
});

t.test("configured model ids without a manifest are found, in the config's order", async (t) => {
  t.same(unknownModelIds(['digitz', 'digits', 'spma'], ['digits', 'spam']), ['digitz', 'spma']);
  t.same(unknownModelIds([], ['digits']), []);
});
