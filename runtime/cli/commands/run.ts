import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { applyOverrides, loadServiceConfig, type ServiceConfig } from '../../config/service-config.js';
import { DEVICE_ID_PATTERN } from '../../config/service-config-schema.js';
import { EdgeError } from '../../errors.js';
import { createLogger, type LogFormat } from '../../log.js';
import { startEarlyWorker } from '../../backend/early-worker.js';
import { hasManifests } from '../../repository/manifest.js';
import { SystemdNotifier, startWatchdog, watchdogIntervalMs } from '../../service/systemd-notify.js';
import type { Command } from '../command.js';
import { noPositionals, str } from '../values.js';
import { warnUnknownModels } from '../config-models.js';
import { writeReloadMarker } from '../../service/reload-marker.js';

export const command: Command = {
  name: 'run',
  summary: 'run the service: MQTT requests in; results, telemetry and retained status out (starts an embedded broker when none is configured or listening)',
  usage: '[--config <file>] [--broker <url>] [--device-id <id>] [--profile <id|file>] [--models <dir>] [--state-dir <dir>] [--ha-discovery] [--group <name>] [--log-level L] [--json]',
  options: {
    config: { type: 'string', short: 'c', help: 'service config JSON (deploy/systemd/config.example.json); default: all defaults' },
    broker: { type: 'string', help: 'broker URL, e.g. mqtt://localhost:1883 or mqtts://broker:8883 (overrides the config)' },
    'device-id': { type: 'string', help: 'device id used in the topic prefix edge/<deviceId> (default: host name)' },
    profile: { type: 'string', help: 'device profile id or file (default: detect this host)' },
    models: { type: 'string', help: 'models folder (default: the bundled models/)' },
    'ha-discovery': { type: 'boolean', help: 'publish Home Assistant discovery (config homeAssistant.discovery)' },
    group: { type: 'string', help: 'also take requests shared by the group edge/group/<name>/models/+/infer (MQTT 5 broker)' },
    'state-dir': { type: 'string', help: 'state folder for the outbox and caches (default: $STATE_DIRECTORY or /var/lib/edge-infer, else ~/.local/state/edge-infer)' },
  },
  examples: ['edge-infer run', 'edge-infer run --config /etc/edge-infer/config.json', 'edge-infer run --broker mqtt://broker.local:1883 --device-id kitchen --log-level warn --json'],
  commonHelp: { json: { type: 'boolean', help: 'log JSON lines (overrides log.format; the default is JSON when stderr is not a terminal)' }, 'log-level': { type: 'string', help: 'debug | info | warn | error (overrides log.level in the config; default info)' } },
  async run(ctx) {
    noPositionals(ctx.positionals);
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
      const group = str(ctx.values, 'group');
      if (group !== undefined && !new RegExp(DEVICE_ID_PATTERN).test(group)) throw new EdgeError('EDGE_ERR_USAGE', `--group "${group.slice(0, 64)}" must match ${DEVICE_ID_PATTERN}`);
      return { ...cfg, ...(stateDir === undefined ? {} : { stateDir: path.resolve(stateDir) }), ...(ctx.values['ha-discovery'] === true ? { homeAssistant: { ...cfg.homeAssistant, discovery: true } } : {}), ...(group === undefined ? {} : { group }) };
    };
    const config = await load();
    // The first model's worker and onnxruntime's library load on the other core while the service's
    // modules are imported and its setup runs; the engine adopts it (or ends it: WASM profile). Not
    // without models: onnxruntime's library would stay mapped in an idle service for nothing.
    if (hasManifests(config.modelsDir) && !(await namesWasm(config.profile, ctx.packageRoot))) startEarlyWorker();
    const { EdgeService, DEFAULT_BROKER_URL } = await import('../../service/service.js');
    // --log-level and --json win over the config's log section (issue 13, defect 3).
    const level = (str(ctx.values, 'log-level') as ServiceConfig['log']['level'] | undefined) ?? config.log.level;
    const format: LogFormat = ctx.json ? 'json' : (config.log.format as LogFormat);
    const log = createLogger({ level, format }, { service: 'edge-infer', device: config.deviceId });
    await warnUnknownModels(config, log);
    const pkg = JSON.parse(await readFile(path.join(ctx.packageRoot, 'package.json'), 'utf8')) as { version: string };
    const notifier = new SystemdNotifier({ log });
    const service = await EdgeService.start({ config, packageRoot: ctx.packageRoot, version: pkg.version, log, brokerConfigured: str(ctx.values, 'broker') !== undefined || config.broker.url !== DEFAULT_BROKER_URL, loadConfig: () => load() });
    const interval = watchdogIntervalMs();
    const watchdog = interval === null ? null : startWatchdog({ notifier, intervalMs: interval, healthy: () => service.healthy(), log });
    // READY=1 once the models are loaded and MQTT is up, or broker.readyWaitS later saying the
    // broker is unreachable (deploy/systemd/README.md "When READY=1 is sent").
    const connected = await service.waitConnected(config.broker.readyWaitS * 1000);
    const serving = `serving ${service.runtime.status().filter((m) => m.state === 'ready').length} model(s)`;
    if (!connected) log.warn('service.ready_without_broker', { broker: service.brokerUrl, waitedS: config.broker.readyWaitS, hint: 'the broker is unreachable; the service keeps retrying and serves once it connects' });
    await notifier.ready(connected ? `${serving} on ${service.brokerUrl}` : `${serving}; broker ${service.brokerUrl} unreachable, retrying`);

    return await new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        log.info('signal', { signal });
        void notifier.stopping();
        void (async () => {
          await watchdog?.stop();
          // service.stop() is bounded by drainTimeoutMs + ~1 s; this is the backstop behind it.
          const backstop = setTimeout(() => {
            log.error('service.stop_timeout', { drainTimeoutMs: config.drainTimeoutMs, hint: 'the stop overran its deadline; exiting (undelivered answers stay in the outbox)' });
            resolve(0);
          }, config.drainTimeoutMs + 1500);
          await service.stop();
          clearTimeout(backstop);
          resolve(0);
        })();
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      let reloads = 0;
      process.on('SIGHUP', () => {
        log.info('signal', { signal: 'SIGHUP' });
        void (async () => {
          await notifier.reloading();
          let ok = false;
          try {
            ok = await service.reload(await load());
          } catch (e) {
            log.error('reload.failed', { error: e });
          }
          // What `edge-infer reload` (the unit's ExecReload) waits for (issue 12).
          if (!(await writeReloadMarker(service.stateDir, { pid: process.pid, generation: ++reloads, ok }))) log.warn('reload.marker_failed', { stateDir: service.stateDir, hint: '`edge-infer reload` (systemctl reload) will time out: the state directory is not writable' });
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
  return loadProfile(profile, path.join(packageRoot, 'device-profiles')).then(
    (p) => p.inference.backend === 'wasm',
    () => false,
  );
}
