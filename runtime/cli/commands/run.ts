import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { applyOverrides, loadServiceConfig, type ServiceConfig } from '../../config/service-config.js';
import { createLogger, type LogFormat } from '../../log.js';
import { startEarlyWorker } from '../../backend/early-worker.js';
import { hasManifests } from '../../repository/manifest.js';
import { SystemdNotifier, startWatchdog, watchdogIntervalMs } from '../../service/systemd-notify.js';
import type { Command } from '../command.js';
import { str } from '../values.js';

export const command: Command = {
  name: 'run',
  summary: 'run the service: MQTT requests in; results, telemetry and retained status out (starts an embedded broker when none is configured or listening)',
  usage: '[--config <file>] [--broker <url>] [--device-id <id>] [--profile <id|file>] [--models <dir>]',
  options: {
    config: { type: 'string', short: 'c', help: 'service config JSON (deploy/systemd/config.example.json); default: all defaults' },
    broker: { type: 'string', help: 'broker URL, e.g. mqtt://localhost:1883 or mqtts://broker:8883 (overrides the config)' },
    'device-id': { type: 'string', help: 'device id used in the topic prefix edge/<deviceId> (default: host name)' },
    profile: { type: 'string', help: 'device profile id or file (default: detect this host)' },
    models: { type: 'string', help: 'models folder (default: the bundled models/)' },
    'state-dir': { type: 'string', help: 'state folder for the outbox and caches (default: $STATE_DIRECTORY or /var/lib/edge-infer, else ~/.local/state/edge-infer)' },
  },
  async run(ctx) {
    const configFile = str(ctx.values, 'config');
    const load = async (): Promise<ServiceConfig> => {
      const base = await loadServiceConfig(configFile === undefined ? undefined : path.resolve(configFile));
      const cfg = applyOverrides(base, {
        ...(str(ctx.values, 'broker') !== undefined ? { broker: str(ctx.values, 'broker') as string } : {}),
        ...(str(ctx.values, 'device-id') !== undefined ? { deviceId: str(ctx.values, 'device-id') as string } : {}),
        ...(str(ctx.values, 'profile') !== undefined ? { profile: str(ctx.values, 'profile') as string } : {}),
        ...(str(ctx.values, 'models') !== undefined ? { models: str(ctx.values, 'models') as string } : {}),
      });
      const stateDir = str(ctx.values, 'state-dir');
      return stateDir === undefined ? cfg : { ...cfg, stateDir: path.resolve(stateDir) };
    };
    const config = await load();
    // The first model's worker and onnxruntime's library load on the other core while the service's
    // modules are imported and its setup runs; the engine adopts it (or ends it: WASM profile). Not
    // without models: onnxruntime's library would stay mapped in an idle service for nothing.
    if (hasManifests(config.modelsDir) && !(await namesWasm(config.profile, ctx.packageRoot))) startEarlyWorker();
    const { EdgeService, DEFAULT_BROKER_URL } = await import('../../service/service.js');
    const log = createLogger({ level: config.log.level, format: config.log.format as LogFormat }, { service: 'edge-infer', device: config.deviceId });
    const pkg = JSON.parse(await readFile(path.join(ctx.packageRoot, 'package.json'), 'utf8')) as { version: string };
    const notifier = new SystemdNotifier({ log });
    const service = await EdgeService.start({
      config,
      packageRoot: ctx.packageRoot,
      version: pkg.version,
      log,
      brokerConfigured: str(ctx.values, 'broker') !== undefined || config.broker.url !== DEFAULT_BROKER_URL,
    });
    const interval = watchdogIntervalMs();
    const watchdog = interval === null ? null : startWatchdog({ notifier, intervalMs: interval, healthy: () => service.healthy(), log });
    await notifier.ready(`serving ${service.runtime.status().filter((m) => m.state === 'ready').length} model(s) on ${service.brokerUrl}`);

    return await new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        log.info('signal', { signal });
        void notifier.stopping();
        void (async () => {
          await watchdog?.stop();
          await service.stop();
          resolve(0);
        })();
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGHUP', () => {
        log.info('signal', { signal: 'SIGHUP' });
        void (async () => {
          await notifier.reloading();
          try {
            await service.reload(await load());
          } catch (e) {
            log.error('reload.failed', { error: e });
          }
          await notifier.ready();
        })();
      });
    });
  },
};

/**
 * True when the given profile names the WASM backend (issue 18: rpi-zero-2w): such a service never
 * uses onnxruntime-node, so an early native worker would only leave its library mapped (on x86,
 * where it exists). A profile that fails to load is left to the service to report.
 */
async function namesWasm(profile: string | undefined, packageRoot: string): Promise<boolean> {
  if (profile === undefined) return false;
  const { loadProfile } = await import('../../config/profile.js');
  return loadProfile(profile, path.join(packageRoot, 'device-profiles')).then((p) => p.inference.backend === 'wasm', () => false);
}
