/**
 * The service's fleet features (issue 15), wired beside the request transport:
 * - Home Assistant discovery (config `homeAssistant`): the device message from ha-discovery.ts,
 *   kept published by the fleet link; the latest result of each model on `<prefix>/models/<model>/state`
 *   (at most one publish per model per `stateEveryMs`); when discovery is turned off, the device a
 *   previous run announced (remembered in `<stateDir>/ha-discovery.json`) is removed.
 * - Remote commands (config `commands.enabled`): the fleet link routes them to a `CommandHost`.
 * - Shared work (config `group`): a second MqttService on a clean session that takes
 *   `$share/<group>/edge/group/<group>/models/+/infer` into the same handler, with its own outbox.
 *   A member that dies has no session left at the broker, so its share goes to the others; what
 *   it held in flight when it died is redelivered by mosquitto only if the member comes back, so
 *   requesters retry unanswered requests (duplicates are matched by id; README "Shared work").
 *
 * - Signed model updates (config `deploy.trustedKeys`, issue 15 OTA): deploy-device.ts behind the
 *   fleet link's `<prefix>/deploy/+` topics (and the group's); `recovered` is reported first.
 * Errors: `startFleet` throws only what MqttService/FleetLink.start throw for bad config; a group
 * on the embedded broker (no shared subscriptions) is logged as EDGE_ERR_GROUP_UNSUPPORTED and skipped.
 */
import type { KeyObject } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ServiceConfig } from '../config/service-config.js';
import { EdgeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { LoadedManifest } from '../repository/types.js';
import { declaredEventTypes, haDiscoveryMessage, haDiscoveryTopic } from '../fleet/ha-discovery.js';
import { DeployDevice, type DeployHost, type DeployState } from '../fleet/deploy-device.js';
import { FleetLink } from '../transport/fleet-link.js';
import type { ConnectionOptions } from '../transport/mqtt-options.js';
import { MqttService, type InboundWindow } from '../transport/mqtt-service.js';
import type { InferOutcome, InferenceHandler } from '../transport/types.js';
import type { Calibration } from '../planner/types.js';
import type { ModelSwitch } from '../telemetry/payload.js';
import type { ModelRuntime } from './model-runtime.js';

/** What remote commands may do to the service. Each throws EdgeError for a caller mistake. */
export interface CommandHost {
  status(): Record<string, unknown>;
  reload(): Promise<unknown>;
  pin(model: string, variant: string): Promise<unknown>;
  unpin(model: string): Promise<unknown>;
  calibrate(): Promise<unknown>;
}

/** What the service lends the command host (service.ts). */
export interface CommandDeps {
  runtime: () => ModelRuntime;
  /** Variants pinned by `pin`; the adaptive loop leaves these models alone. Owned by the service, changed here. */
  pins: Map<string, string>;
  /** The retained status' facts. */
  status: () => Record<string, unknown>;
  /** Re-reads the config (as SIGHUP does) and reloads. */
  reload: () => Promise<void>;
  /** Measures every variant, writes the calibration and reloads; null when nothing was measured (logged). */
  calibrate: () => Promise<Calibration | null>;
  onSwitch: (model: string, record: ModelSwitch) => void;
  publishStatus: () => void;
}

/** Remote commands (issue 15): what `<prefix>/cmd/<name>` may do. Moved here from service.ts (issue 16). */
export function commandHost(d: CommandDeps): CommandHost {
  const modelOf = (model: string): ModelRuntime => {
    const rt = d.runtime();
    if (rt.manifest(model) === undefined) throw new EdgeError('EDGE_ERR_UNKNOWN_MODEL', `no model "${model}" is served here`, { details: { model } });
    return rt;
  };
  return {
    status: () => ({ state: 'online', ...d.status() }),
    reload: async () => {
      await d.reload();
      return { plan: d.runtime().plan };
    },
    calibrate: async () => {
      const cal = await d.calibrate();
      if (cal === null) throw new EdgeError('EDGE_ERR_CALIBRATION_INVALID', 'calibration measured nothing (see the service log)');
      return { measured: cal.entries.length, plan: d.runtime().plan };
    },
    pin: async (model, variant) => {
      const rt = modelOf(model);
      if (!rt.manifest(model)?.manifest.variants.some((v) => v.id === variant)) throw new EdgeError('EDGE_ERR_VARIANT_NOT_FOUND', `model "${model}" has no variant "${variant}"`, { details: { model, variant } });
      const current = rt.status().find((s) => s.model === model)?.variant ?? null;
      d.pins.set(model, variant);
      const record = current === variant ? null : await rt.swap(model, variant, 'pinned');
      if (current !== variant && record === null) {
        d.pins.delete(model);
        throw new EdgeError('EDGE_ERR_LOAD_FAILED', `could not switch ${model} to ${variant} (see the service log); nothing changed`, { details: { model, variant } });
      }
      if (record !== null) d.onSwitch(model, record);
      else d.publishStatus();
      return { model, variant, pinned: true };
    },
    unpin: async (model) => {
      const rt = modelOf(model);
      d.pins.delete(model);
      const planned = rt.plan.models.find((m) => m.model === model)?.chosen?.variant ?? null;
      const current = rt.status().find((s) => s.model === model)?.variant ?? null;
      const record = planned !== null && current !== planned ? await rt.swap(model, planned, 'unpinned') : null;
      if (record !== null) d.onSwitch(model, record);
      else d.publishStatus();
      return { model, variant: record?.to ?? current, pinned: false };
    },
  };
}

export interface FleetOptions {
  config: ServiceConfig;
  stateDir: string;
  connection: ConnectionOptions;
  /** True on the embedded broker (MQTT 3.1.1, no shared subscriptions). */
  embeddedBroker: boolean;
  board: string;
  version: string;
  manifests: readonly LoadedManifest[];
  handler: InferenceHandler;
  /** The device connection's inbound window, shared by the group connection (issue 12 item 15). */
  inbound?: InboundWindow;
  commands: CommandHost;
  log: Logger;
  /** Default 1000. */
  stateEveryMs?: number;
  /** Deploys: the trusted keys (empty: deploys off), what they may do, what start-up recovered. */
  deploy?: { trusted: readonly KeyObject[]; host: DeployHost; recovered: DeployState | null; holdAt?: string };
}

const MARKER = 'ha-discovery.json';

export interface Fleet {
  /** Publishes the model's latest top-1 for Home Assistant (rate-limited). */
  noteResult(model: string, outcome: InferOutcome): void;
  /** Models changed (reload): republish discovery. */
  setManifests(manifests: readonly LoadedManifest[]): void;
  close(drainTimeoutMs: number): Promise<void>;
}

function str(body: Record<string, unknown>, key: string, command: string): string {
  const v = body[key];
  if (typeof v !== 'string' || v.length === 0) throw new EdgeError('EDGE_ERR_BAD_REQUEST', `command ${command} needs "${key}" (a string)`);
  return v;
}

export async function startFleet(o: FleetOptions): Promise<Fleet> {
  const c = o.config;
  const ha = c.homeAssistant;
  const discoveryFor = (manifests: readonly LoadedManifest[]) =>
    ha.discovery ? haDiscoveryMessage(ha.prefix, { deviceId: c.deviceId, board: o.board, version: o.version, prefix: c.topicPrefix, models: manifests.map((m) => ({ id: m.manifest.id, eventTypes: declaredEventTypes((m.manifest as { events?: unknown }).events) })) }) : null;
  const markerFile = path.join(o.stateDir, MARKER);
  const announced = await readFile(markerFile, 'utf8').then(
    (t) => (JSON.parse(t) as { topic?: unknown }).topic,
    () => undefined,
  );
  const onCommand = c.commands.enabled
    ? async (name: string, body: Record<string, unknown>): Promise<unknown> => {
        switch (name) {
          case 'status':
            return o.commands.status();
          case 'reload':
            return o.commands.reload();
          case 'calibrate':
            return o.commands.calibrate();
          case 'pin':
            return o.commands.pin(str(body, 'model', name), str(body, 'variant', name));
          case 'unpin':
            return o.commands.unpin(str(body, 'model', name));
          default:
            throw new EdgeError('EDGE_ERR_UNKNOWN_COMMAND', `no command "${name}"; commands: status, reload, pin, unpin, calibrate`);
        }
      }
    : null;
  const deployOn = o.deploy !== undefined && o.deploy.trusted.length > 0;
  let device: DeployDevice | null = null;
  const needLink = ha.discovery || onCommand !== null || typeof announced === 'string' || deployOn;
  const link = needLink
    ? FleetLink.start({
        ...o.connection,
        prefix: c.topicPrefix,
        discovery: discoveryFor(o.manifests),
        haPrefix: ha.prefix,
        onCommand,
        replyPolicy: c.replyTopics,
        log: o.log.child({ layer: 'fleet' }),
        onDeploy: deployOn ? (kind, payload) => device?.handle(kind, payload) : null,
        deployPrefixes: c.group !== undefined ? [`edge/group/${c.group}`] : [],
      })
    : null;
  if (deployOn && o.deploy !== undefined && link !== null) {
    device = new DeployDevice({
      stateDir: o.stateDir,
      trusted: o.deploy.trusted,
      host: o.deploy.host,
      publish: (s) => link.publishDeployState(s),
      healthWindowS: c.deploy.healthWindowS,
      maxBundleBytes: Math.round(c.deploy.maxBundleMB * 1048576),
      log: o.log.child({ layer: 'deploy' }),
      ...(o.deploy.holdAt !== undefined ? { holdAt: o.deploy.holdAt } : {}),
    });
    if (o.deploy.recovered !== null) link.publishDeployState(o.deploy.recovered);
    o.log.info('deploy.enabled', { topics: `${c.topicPrefix}/deploy/{begin,chunk,end}`, trustedKeys: o.deploy.trusted.length });
  } else if (o.deploy?.recovered) {
    o.log.warn('deploy.recovered_unreported', { note: 'deploys are off (no deploy.trustedKeys): the recovery is only logged' });
  }
  if (ha.discovery) {
    const topic = haDiscoveryTopic(ha.prefix, c.deviceId);
    if (typeof announced === 'string' && announced !== topic) void link?.remove(announced);
    await writeFile(markerFile, JSON.stringify({ topic }) + '\n');
  } else if (typeof announced === 'string' && link !== null) {
    // Discovery was turned off: take the device out of Home Assistant, then forget it.
    void link.remove(announced).then(async (ok) => {
      if (!ok) return;
      await rm(markerFile, { force: true });
      o.log.info('fleet.ha_removed', { topic: announced });
    });
  }

  let group: MqttService | null = null;
  if (c.group !== undefined) {
    if (o.embeddedBroker) {
      const err = new EdgeError('EDGE_ERR_GROUP_UNSUPPORTED', `group "${c.group}" ignored: the embedded broker has no shared subscriptions`);
      o.log.error('group.unsupported', { code: err.code, message: err.message, hint: err.hint });
    } else {
      const prefix = `edge/group/${c.group}`;
      group = await MqttService.start({
        ...o.connection,
        clientId: `${o.connection.clientId}-group`,
        cleanSession: true,
        prefix,
        requestFilter: `$share/${c.group}/${prefix}/models/+/infer`,
        announce: false,
        handler: o.handler,
        ...(o.inbound !== undefined ? { inbound: o.inbound } : {}),
        outbox: { dir: path.join(o.stateDir, 'outbox-group'), maxMessages: c.outbox.maxMessages, maxBytes: c.outbox.maxBytes },
        limits: { maxPayloadBytes: c.limits.maxPayloadBytes, maxBatch: c.limits.maxBatch },
        replyTopics: c.replyTopics,
        log: o.log.child({ layer: 'group', group: c.group }),
      });
      o.log.info('group.joined', { group: c.group, filter: `$share/${c.group}/${prefix}/models/+/infer` });
    }
  }

  const every = o.stateEveryMs ?? 1000;
  const last = new Map<string, number>();
  return {
    noteResult(model, outcome) {
      if (!ha.discovery || link === null) return;
      const now = performance.now();
      if (now - (last.get(model) ?? -Infinity) < every) return;
      last.set(model, now);
      const best = outcome.top?.[0];
      link.publishState(model, { label: best?.label ?? null, score: best?.score ?? null, variant: outcome.variant, at: new Date().toISOString() });
    },
    setManifests(manifests) {
      link?.setDiscovery(discoveryFor(manifests));
    },
    async close(drainTimeoutMs) {
      await group?.stop({ drainTimeoutMs });
      await link?.close();
    },
  };
}
