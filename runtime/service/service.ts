/**
 * The edge-infer service: config -> setup (profile, manifests, backend, budget) -> model runtime
 * (plan + budgeted loads) -> MQTT transport (requests in, answers through the durable outbox) ->
 * telemetry and status. `edge-infer run` owns one of these.
 *
 * Contract:
 * - `start()` throws only for what an operator must fix (config/profile errors: exit 78, or a
 *   broker that can be neither reached nor embedded). A model that fails to load is reported in
 *   the status and the others are served. A broker that goes away is retried forever.
 * - `stop()` (SIGTERM): stop taking requests, answer in-flight ones within drainTimeoutMs,
 *   publish `offline` retained, flush what the broker takes, release sessions. Idempotent.
 * - `reload()` (SIGHUP): re-read config, profiles and manifests, re-plan, and swap what changed
 *   without dropping requests (the new runtime loads first; the old one drains, then closes).
 * - Calibration: with `calibration.atFirstStart` and no calibration file for this profile and
 *   backend, every variant is measured (within `calibration.timeLimitS`) before planning and the
 *   file is written; a failure is logged and the plan uses estimates.
 * - Adaptive switching (`adaptive.enabled`): adaptive-loop.ts reads the probes every
 *   `adaptive.intervalS`; each switch re-publishes the retained status (current variants, switch
 *   history), publishes telemetry at once and logs `model.switched`.
 * - Probes read the real /proc and /sys, or the tree under $EDGE_INFER_SYSFS_ROOT: a test and
 *   diagnostic hook (a fake thermal_zone0/temp drives the adaptive loop), never for production.
 */
import path from 'node:path';
import { createEngine } from '../backend/select-engine.js';
import type { InferenceEngine } from '../backend/types.js';
import { readCalibration, writeCalibration } from '../budget/calibration-file.js';
import { resolveBrokerPassword, type ServiceConfig } from '../config/service-config.js';
import { asEdgeError } from '../errors.js';
import type { Logger } from '../log.js';
import { formatPlan } from '../planner/format-plan.js';
import type { Calibration, Plan } from '../planner/types.js';
import type { TelemetryLoop } from '../telemetry/collector.js';
import type { ModelSwitch } from '../telemetry/payload.js';
import type { EmbeddedBroker } from '../transport/embedded-broker.js';
import { InboundWindow, MqttService } from '../transport/mqtt-service.js';
import type { AdaptiveLoop } from './adaptive-loop.js';
import { startServiceLoops } from './service-loops.js';
import { statusFacts } from './status-facts.js';
import { bounded } from '../timers.js';
import { calibrate } from './calibrate.js';
import { DEFAULT_MODEL_SETTINGS, ModelRuntime, type ModelSettings } from './model-runtime.js';
import { resolveSetup, type Setup } from './setup.js';
import { commandHost, startFleet, type Fleet } from './fleet.js';
import { RuntimeSwitch } from './runtime-switch.js';
import { brokerEndpoint, connectionOptions } from './broker-link.js';
import { cacheDir, usableStateDir } from './state-dir.js';
import { PoisonJournal } from './poison-journal.js';

export { usableStateDir } from './state-dir.js';
import { recoverDeploy } from '../fleet/deploy-device.js';
import { overlayModelDirs } from '../fleet/deploy-store.js';
import { createDeployHost, readTrustedKeys } from './deploy-host.js';

export const DEFAULT_BROKER_URL = 'mqtt://localhost:1883';
export { SYSFS_ROOT_ENV, adaptiveLimits } from './service-loops.js';
/** Test hook (issue 15 OTA): a deploy stops forever after reporting this step, so a test can SIGKILL there. */
export const DEPLOY_HOLD_ENV = 'EDGE_INFER_DEPLOY_HOLD';

export interface ServiceOptions {
  config: ServiceConfig;
  packageRoot: string;
  version: string;
  log: Logger;
  /** True when the broker URL came from a flag or the config file (then no embedded broker in "auto"). */
  brokerConfigured: boolean;
  /** Re-reads the config for a remote `reload` command (as SIGHUP does); default: reuse the current one. */
  loadConfig?: () => Promise<ServiceConfig>;
}

export class EdgeService {
  readonly #o: ServiceOptions;
  readonly #log: Logger;
  #config: ServiceConfig;
  #setup!: Setup;
  #stateDir = '';
  #engine!: InferenceEngine;
  #switch!: RuntimeSwitch;
  #transport: MqttService | null = null;
  #fleet: Fleet | null = null;
  /** Variants pinned by the `pin` command: the adaptive loop leaves these models alone. */
  readonly #pins = new Map<string, string>();
  #broker: EmbeddedBroker | null = null;
  #telemetry: TelemetryLoop | null = null;
  #adaptive: AdaptiveLoop | null = null;
  #startedAt = new Date();
  #stopping: Promise<void> | null = null;
  #brokerUrl = '';
  #poison: PoisonJournal | null = null;
  readonly #inbound = new InboundWindow((model) => this.#switch.queueLimit(model));

  private constructor(o: ServiceOptions) {
    this.#o = o;
    this.#config = o.config;
    this.#log = o.log;
  }

  static async start(o: ServiceOptions): Promise<EdgeService> {
    const s = new EdgeService(o);
    await s.#start();
    return s;
  }

  get plan(): Plan {
    return this.#switch.current.plan;
  }
  get brokerUrl(): string {
    return this.#brokerUrl;
  }
  get stateDir(): string {
    return this.#stateDir;
  }
  get topicPrefix(): string {
    return this.#config.topicPrefix;
  }
  get runtime(): ModelRuntime {
    return this.#switch.current;
  }

  /** True once MQTT is connected and the request subscription acknowledged; false after `timeoutMs` (READY=1 timing, deploy/systemd/README.md). */
  waitConnected(timeoutMs: number): Promise<boolean> {
    return this.#transport?.waitConnected(timeoutMs) ?? Promise.resolve(false);
  }

  async #start(): Promise<void> {
    const c = this.#config;
    this.#stateDir = await usableStateDir(c.stateDir, this.#log);
    // Before anything runs: counts a crash for the inputs that were running when the last run died.
    this.#poison = PoisonJournal.open({ stateDir: this.#stateDir, log: this.#log.child({ layer: 'poison' }) });
    // Issue 15 OTA: finish or undo a deploy a crash interrupted, before the manifests are read.
    const trusted = await readTrustedKeys(c.deploy.trustedKeys);
    const recovered = await recoverDeploy(this.#stateDir, this.#log.child({ layer: 'deploy' }));
    this.#setup = await this.#resolve(c);
    this.#engine = createEngine(this.#setup.backend, {
      onWorkerCrash: (key, err) => {
        this.#log.error('worker.crashed', { key, code: err.code, message: err.message, hint: err.hint });
        // The model's lifecycle reloads it with backoff, or falls back to the next variant.
        // (Before the first runtime is up, a crash fails its load instead.)
        (this.#switch as RuntimeSwitch | undefined)?.current.onWorkerCrash(key, err);
      },
    });
    // The first model's worker (and the runtime library) starts while calibration, preprocessors,
    // the plan and the model file checks run; released below if no load took it.
    if (this.#setup.manifests.length > 0) this.#engine.prestart?.();
    const rt = await this.#newRuntime(this.#setup, c);
    await this.#engine.releaseSpare?.();
    this.#switch = new RuntimeSwitch(rt);

    const broker = await brokerEndpoint(c, this.#o.brokerConfigured, this.#log);
    this.#broker = broker.embedded;
    this.#brokerUrl = broker.url;
    const connection = connectionOptions(c, broker, await resolveBrokerPassword(c.broker));
    this.#transport = await MqttService.start({
      ...connection,
      prefix: c.topicPrefix,
      handler: this.#switch,
      outbox: { dir: path.join(this.#stateDir, 'outbox'), maxMessages: c.outbox.maxMessages, maxBytes: c.outbox.maxBytes },
      limits: { maxPayloadBytes: c.limits.maxPayloadBytes, maxBatch: c.limits.maxBatch },
      replyTopics: c.replyTopics,
      reconnect: { minMs: c.broker.reconnectMinMs, maxMs: c.broker.reconnectMaxMs },
      // Issue 12 item 15: one inbound window for this connection and the group's (fleet.ts).
      inbound: this.#inbound,
      receiveMaximum: Math.max(DEFAULT_MODEL_SETTINGS.queueLimit, ...Object.values(c.models).map((m) => m.queueLimit ?? 0)),
      log: this.#log.child({ layer: 'transport' }),
    });
    this.#publishStatus();
    this.#fleet = await startFleet({
      config: c,
      stateDir: this.#stateDir,
      embeddedBroker: this.#broker !== null,
      connection,
      board: this.#setup.profile.board,
      version: this.#o.version,
      manifests: this.#setup.manifests,
      handler: this.#switch,
      inbound: this.#inbound,
      log: this.#log,
      commands: commandHost({
        runtime: () => this.#switch.current,
        pins: this.#pins,
        status: () => this.#statusFacts(),
        reload: async () => {
          await this.reload(await (this.#o.loadConfig?.() ?? Promise.resolve(this.#config)));
        },
        calibrate: async () => {
          const cal = await this.#calibrateNow(this.#setup, this.#config);
          if (cal !== null) await this.reload(this.#config);
          return cal;
        },
        onSwitch: (model, record) => this.#onSwitch(model, record),
        publishStatus: () => this.#publishStatus(),
      }),
      deploy: {
        trusted,
        recovered,
        host: createDeployHost({
          engine: this.#engine,
          deploy: c.deploy,
          budgetMB: () => this.#setup.budget.budgetMB,
          runtime: () => this.#switch.current,
          apply: async () => {
            await this.reload(this.#config);
          },
        }),
        ...(process.env[DEPLOY_HOLD_ENV] ? { holdAt: process.env[DEPLOY_HOLD_ENV] } : {}),
      },
    });
    if (c.homeAssistant.discovery) this.#switch.observer = (model, outcome) => this.#fleet?.noteResult(model, outcome);

    const loops = startServiceLoops({
      config: c,
      setup: () => this.#setup,
      runtime: () => this.#switch.current,
      outbox: () => {
        const st = this.#transport?.stats();
        return { depth: st?.outboxDepth ?? 0, dropped: st?.outboxDropped ?? 0, degraded: st?.outboxDegraded ?? false };
      },
      publishTelemetry: (payload) => this.#transport?.publishTelemetry(payload),
      onSwitch: (model, record) => this.#onSwitch(model, record),
      skip: (model) => this.#pins.has(model),
      log: this.#log,
    });
    this.#telemetry = loops.telemetry;
    this.#adaptive = loops.adaptive;
    this.#log.info('service.ready', { broker: broker.url, prefix: c.topicPrefix, stateDir: this.#stateDir, embeddedBroker: this.#broker !== null });
  }

  async #resolve(c: ServiceConfig): Promise<Setup> {
    const setup = await resolveSetup({ packageRoot: this.#o.packageRoot, profile: c.profile, modelsDir: c.modelsDir, overlay: await overlayModelDirs(this.#stateDir) });
    this.#log.info('profile', { profile: setup.profile.id, source: setup.profileSource, backend: setup.backend, budgetMB: setup.budget.budgetMB, limitedBy: setup.budget.limitedBy });
    for (const e of setup.manifestErrors) this.#log.error('manifest.refused', { code: e.code, message: e.message, hint: e.hint });
    return setup;
  }

  #onSwitch(model: string, record: ModelSwitch): void {
    this.#switches.push({ model, ...record });
    if (this.#switches.length > 50) this.#switches.splice(0, this.#switches.length - 50);
    this.#publishStatus();
    void this.#telemetry?.tickNow();
  }

  #switches: (ModelSwitch & { model: string })[] = [];

  /** Measures every variant now and writes the calibration file; null (logged) on failure. */
  async #calibrateNow(setup: Setup, c: ServiceConfig): Promise<Calibration | null> {
    this.#log.info('calibration.start', { profile: setup.profile.id, backend: setup.backend, timeLimitS: c.calibration.timeLimitS });
    try {
      const r = await calibrate({ profile: setup.profile, manifests: setup.manifests, engine: this.#engine, timeLimitMs: c.calibration.timeLimitS * 1000 });
      for (const f of r.failures) this.#log.warn('calibration.failed_variant', f);
      if (r.calibration.entries.length === 0) return null;
      const file = await writeCalibration(this.#stateDir, r.calibration, setup.backend);
      this.#log.info('calibration.written', { file, measured: r.calibration.entries.length, skipped: r.skipped.length, failed: r.failures.length });
      return r.calibration;
    } catch (e) {
      this.#log.warn('calibration.failed', { error: asEdgeError(e) });
      return null;
    }
  }

  async #newRuntime(setup: Setup, c: ServiceConfig, adoptFrom?: ModelRuntime): Promise<ModelRuntime> {
    let calibration = await readCalibration(this.#stateDir, setup.profile.id, setup.backend).catch((e: unknown) => {
      this.#log.warn('calibration.ignored', { error: asEdgeError(e) });
      return null;
    });
    if (calibration === null && c.calibration.atFirstStart) calibration = await this.#calibrateNow(setup, c);
    const cacheDir = await this.#cacheDir();
    const settings: Record<string, Partial<ModelSettings>> = {};
    for (const [id, m] of Object.entries(c.models)) settings[id] = m;
    const rt = new ModelRuntime({
      profile: setup.profile,
      manifests: setup.manifests,
      engine: this.#engine,
      caps: setup.caps,
      budgetMB: setup.budget.budgetMB,
      settings,
      ...(calibration ? { calibration } : {}),
      ...(cacheDir !== null ? { cacheDir } : {}),
      ...(this.#poison !== null ? { poison: this.#poison } : {}),
      log: this.#log.child({ layer: 'runtime' }),
      onChange: () => this.#publishStatus(),
    });
    const plan = await rt.start(adoptFrom ? { adoptFrom } : {});
    for (const line of formatPlan(plan).split('\n')) if (line.trim() !== '') this.#log.info('plan', { line });
    return rt;
  }

  /** The cache folder (stale temporary files swept at the first call), or null when unusable (models load without it). */
  async #cacheDir(): Promise<string | null> {
    const sweep = !this.#cacheSwept;
    this.#cacheSwept = true;
    return cacheDir(this.#stateDir, sweep, this.#log);
  }

  #cacheSwept = false;

  #publishStatus(): void {
    this.#transport?.setStatus(this.#statusFacts());
  }

  #statusFacts(): Record<string, unknown> {
    return statusFacts({ version: this.#o.version, config: this.#config, startedAt: this.#startedAt, setup: this.#setup, runtime: this.#switch.current, switches: this.#switches, pins: this.#pins });
  }

  /** SIGHUP: re-read config, profiles and manifests; build and load a new runtime; swap; drain the old one. Resolves true when reloaded, false when it kept the previous configuration (logged). */
  async reload(config: ServiceConfig): Promise<boolean> {
    this.#log.info('service.reloading', {});
    try {
      const setup = await this.#resolve(config);
      if (setup.backend !== this.#setup.backend) {
        this.#log.warn('reload.backend_change_ignored', { from: this.#setup.backend, to: setup.backend, hint: 'restart the service to change backends' });
      }
      const old = this.#switch.current;
      // Models whose planned variant did not change keep their session (issue 12 item 7).
      const fresh = await this.#newRuntime({ ...setup, backend: this.#setup.backend, caps: this.#setup.caps }, config, old);
      this.#switch.current = fresh;
      this.#setup = { ...setup, backend: this.#setup.backend, caps: this.#setup.caps };
      this.#config = config;
      // Pins outlive a reload (an operator's choice until `unpin`).
      for (const [model, variant] of this.#pins) {
        const now = fresh.status().find((x) => x.model === model)?.variant;
        if (now !== undefined && now !== variant) await fresh.swap(model, variant, 'pinned');
      }
      this.#fleet?.setManifests(setup.manifests);
      this.#publishStatus();
      await old.close(config.drainTimeoutMs);
      this.#log.info('service.reloaded', {});
      return true;
    } catch (e) {
      const err = asEdgeError(e);
      this.#log.error('reload.failed', { code: err.code, message: err.message, hint: err.hint, note: 'kept running with the previous configuration' });
      return false;
    }
  }

  /**
   * Watchdog health: false when some model has had runs in flight and finished none since the
   * previous check (an engine that hangs inside session.run). Call at the watchdog period; the
   * first call only records a baseline.
   */
  healthy(): boolean {
    const rt = this.#switch.current;
    let ok = true;
    const next = new Map<string, number>();
    for (const s of rt.status()) {
      const q = rt.queueStats(s.model);
      if (!q) continue;
      const done = q.completed + q.failed;
      next.set(s.model, done);
      const before = this.#progress.get(s.model);
      if (q.inFlight > 0 && before !== undefined && before === done) {
        ok = false;
        this.#log.error('health.stuck', { model: s.model, inFlight: q.inFlight, hint: 'an inference has not finished for a whole watchdog period; systemd will restart the service' });
      }
    }
    this.#progress = next;
    return ok;
  }

  #progress = new Map<string, number>();

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /**
   * One deadline for the whole stop (issue 12 item 1): the transport drains within
   * drainTimeoutMs (+ at most 0.5 s for the offline status and the disconnect), the runtime gets
   * what is left, and the engine and embedded broker at most 250 ms each more: drainTimeoutMs + 1 s
   * in all, whatever the broker does meanwhile.
   */
  async #stop(): Promise<void> {
    const drainTimeoutMs = this.#config.drainTimeoutMs;
    const deadline = Date.now() + drainTimeoutMs;
    const left = (): number => Math.max(0, deadline - Date.now());
    this.#log.info('service.stopping', { drainTimeoutMs });
    await this.#adaptive?.stop();
    await this.#telemetry?.stop();
    await this.#fleet?.close(drainTimeoutMs);
    // The transport stops taking requests and waits for in-flight answers, then publishes offline.
    await this.#transport?.stop({ drainTimeoutMs });
    await this.#switch.current.close(left());
    await bounded(this.#engine.close(), 250);
    if (this.#broker) await bounded(this.#broker.close(), 250);
    this.#poison?.close();
    this.#log.info('service.stopped', { outboxDepth: this.#transport?.stats().outboxDepth ?? 0 });
  }
}
