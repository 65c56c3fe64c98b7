import t from 'tap';
import { nativeAvailable, resolveBackend } from '../../../runtime/backend/select-engine.js';

const probe = (platform: string, arch: string) => ({ platform, arch, packageRoot: '/pkg', exists: (p: string) => p === `/pkg/bin/napi-v6/${platform}/${arch}/onnxruntime_binding.node` && arch !== 'arm' });

t.test('auto picks native where onnxruntime-node has a binary and WASM on 32-bit ARM', async (t) => {
  t.equal(resolveBackend('auto', probe('linux', 'arm64')), 'native');
  t.equal(resolveBackend('auto', probe('linux', 'arm')), 'wasm');
  t.equal(resolveBackend('wasm', probe('linux', 'x64')), 'wasm');
});

t.test('forcing native where there is no binary throws EDGE_ERR_BACKEND_UNAVAILABLE', async (t) => {
  t.throws(() => resolveBackend('native', probe('linux', 'arm')), { code: 'EDGE_ERR_BACKEND_UNAVAILABLE' });
});

t.test('the real package has no binary for linux/arm and has one for linux/x64 and linux/arm64', async (t) => {
  t.notOk(nativeAvailable({ platform: 'linux', arch: 'arm' }));
  t.ok(nativeAvailable({ platform: 'linux', arch: 'x64' }));
  t.ok(nativeAvailable({ platform: 'linux', arch: 'arm64' }));
  t.notOk(nativeAvailable({ platform: 'linux', arch: 'x64', packageRoot: null }), 'no package, no native');
});
