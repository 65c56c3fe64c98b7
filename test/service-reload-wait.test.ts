/**
 * Issue 12: `edge-infer reload --pid` (the unit's ExecReload) returns only once the service's
 * re-plan is done, so `systemctl reload` on systemd 252 (no Type=notify-reload) means "reloaded".
 * The built CLI against a real service process on a real mosquitto.
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readReloadMarker } from '../runtime/service/reload-marker.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { runCli, startService } from './helpers/service-process.js';

t.test('reload --pid returns after the re-plan, exit 0; a reload the service refuses exits 1 (EDGE_ERR_RELOAD_FAILED); a pid that is no process exits 64', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-reload-'));
  const config = { deviceId: 'reloadwait', broker: { url: broker.url }, drainTimeoutMs: 1000, models: { spam: { enabled: false } }, adaptive: { enabled: false } };
  const svc = startService(config, [], dir);
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('mqtt.connected');
  const pid = String(svc.child.pid);
  const stateDir = path.join(dir, 'state');

  const ok = await runCli(['reload', '--pid', pid, '--state-dir', stateDir, '--timeout-s', '60']);
  t.equal(ok.code, 0, `reloaded: ${ok.stderr.trim().slice(-300)}`);
  t.ok(svc.logs().includes('"service.reloaded"'), 'the re-plan had finished (service.reloaded logged) when the command returned');
  t.same(readReloadMarker(stateDir), { pid: Number(pid), generation: 1, ok: true });

  writeFileSync(path.join(dir, 'config.json'), '{ "deviceId": ');
  const bad = await runCli(['reload', '--pid', pid, '--state-dir', stateDir, '--timeout-s', '60']);
  t.equal(bad.code, 1, 'a reload the service refuses (its config no longer parses) exits 1');
  t.match(bad.stderr, /EDGE_ERR_RELOAD_FAILED/);
  t.same(readReloadMarker(stateDir), { pid: Number(pid), generation: 2, ok: false });
  t.equal(svc.child.exitCode, null, 'and the service runs on with its previous configuration');

  const gone = await runCli(['reload', '--pid', '999999999', '--state-dir', stateDir]);
  t.equal(gone.code, 64, 'a pid that is no process');
  t.match(gone.stderr, /EDGE_ERR_USAGE/);
  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0);
});
