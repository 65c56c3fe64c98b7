/**
 * The service config of `edge-infer run`: load, validate, fill host-dependent defaults, apply CLI flags.
 *
 * Errors: EDGE_ERR_CONFIG_INVALID for the file (details.file, details.problems[{path, message,
 * allowed?}]); EDGE_ERR_USAGE for a bad override flag (details.flag). Relative paths in a file are
 * resolved against the file's folder; override paths are kept as given (relative to the cwd).
 */
import { assertNesting } from './nesting.js';
import { hostname as osHostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EdgeError } from '../errors.js';
import { readJsonFile } from './json-file.js';
import { packageRoot } from './package-root.js';
import { isProfilePath } from './profile.js';
import { compileSchema, formatProblems, type SchemaProblem } from './schema-check.js';
import { DEVICE_ID_PATTERN, serviceConfigSchema, type BrokerConfig, type ModelServiceConfig, type ServiceConfigFile } from './service-config-schema.js';

export type { BrokerConfig, BrokerTlsConfig, EmbeddedBrokerConfig, EmbeddedBrokerMode, ModelServiceConfig, ServiceConfigFile } from './service-config-schema.js';
export { readSecret, resolveBrokerPassword } from './secret.js';

/** The config after defaults: every host-dependent value filled, {deviceId} placeholders replaced. */
export interface ServiceConfig extends Omit<ServiceConfigFile, '$schema' | 'deviceId' | 'modelsDir' | 'stateDir'> {
  deviceId: string;
  /** Absolute or as given by an override. */
  modelsDir: string;
  /** The caller falls back to STATE_DIR_FALLBACK when this is not writable. */
  stateDir: string;
  /** Where the values came from; applyOverrides re-resolves the templates when deviceId changes. */
  source: {
    /** The config file, or undefined for all defaults. */
    file: string | undefined;
    topicPrefixTemplate: string;
    clientIdTemplate: string;
  };
}

/** Flat CLI flags of `edge-infer run` that override the file. */
export interface ServiceOverrides {
  /** --broker <url> */
  broker?: string;
  /** --device-id <id> */
  deviceId?: string;
  /** --profile <id|file> */
  profile?: string;
  /** --models <dir> */
  models?: string;
}

/** Host facts the defaults depend on (injected by tests). */
export interface ConfigContext {
  hostname: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Where models/ ships. */
  packageRoot: string;
}

export const DEFAULT_STATE_DIR = '/var/lib/edge-infer';
/** Where the caller keeps state when stateDir is not writable (relative to the cwd). */
export const STATE_DIR_FALLBACK = './state';

/** The settings a model gets when the config does not list it. */
export const DEFAULT_MODEL_CONFIG: Readonly<ModelServiceConfig> = Object.freeze({ enabled: true, priority: 0, maxBatch: 1, maxQueueDelayMs: 0, preferredBatchSizes: [], queueLimit: 64 });

const checker = compileSchema<ServiceConfigFile>(serviceConfigSchema, 'EDGE_ERR_CONFIG_INVALID');
const deviceIdRe = new RegExp(DEVICE_ID_PATTERN);

export function defaultConfigContext(): ConfigContext {
  return { hostname: osHostname(), env: process.env, packageRoot: packageRoot(fileURLToPath(import.meta.url)) };
}

/** A model's settings: its entry in config.models, or the defaults. */
export function modelConfig(config: ServiceConfig, modelId: string): ModelServiceConfig {
  return config.models[modelId] ?? { ...DEFAULT_MODEL_CONFIG, preferredBatchSizes: [] };
}

/**
 * Validates a parsed config document (not modified) and fills every default.
 * Throws EDGE_ERR_CONFIG_INVALID listing every problem.
 */
export function parseServiceConfig(doc: unknown, file: string, ctx: ConfigContext = defaultConfigContext()): ServiceConfig {
  assertNesting(doc, file, 'EDGE_ERR_CONFIG_INVALID');
  // A file holding `null` (or any non-object) is a config to fix, not "all defaults" (issue 13, defect 5);
  // the schema's `type: object` names it at path "".
  const raw = checker.check(structuredClone(doc), file);
  const problems = fileProblems(raw);
  const base = dirname(resolve(file));
  const rel = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const deviceId = raw.deviceId ?? ctx.hostname;
  if (raw.deviceId === undefined && !deviceIdRe.test(deviceId)) {
    problems.push({ path: '/deviceId', message: `is not set and the host name "${deviceId}" is not a valid device id; set deviceId`, allowed: DEVICE_ID_PATTERN });
  }
  const config = build(raw, {
    file,
    deviceId,
    modelsDir: raw.modelsDir === undefined ? join(ctx.packageRoot, 'models') : rel(raw.modelsDir),
    stateDir: raw.stateDir === undefined ? (firstPath(ctx.env['STATE_DIRECTORY']) ?? DEFAULT_STATE_DIR) : rel(raw.stateDir),
    profile: raw.profile === undefined ? undefined : isProfilePath(raw.profile) ? rel(raw.profile) : raw.profile,
    rel,
  });
  problems.push(...resolvedProblems(config));
  if (problems.length > 0) {
    throw new EdgeError('EDGE_ERR_CONFIG_INVALID', formatProblems(file, problems), { details: { file, problems } });
  }
  return config;
}

/** Loads a config file; no file gives every default. Throws EDGE_ERR_CONFIG_INVALID (also for a missing file). */
export async function loadServiceConfig(file?: string, ctx: ConfigContext = defaultConfigContext()): Promise<ServiceConfig> {
  if (file === undefined) return parseServiceConfig({}, '<defaults>', ctx);
  return parseServiceConfig(await readJsonFile(file, 'EDGE_ERR_CONFIG_INVALID'), file, ctx);
}

/**
 * Applies CLI flags (flags win over the file). Returns a new config; `config` is not modified.
 * A changed deviceId re-resolves topicPrefix and clientId from their templates.
 * Throws EDGE_ERR_USAGE for a bad flag value (details.flag, details.allowed).
 */
export function applyOverrides(config: ServiceConfig, overrides: ServiceOverrides): ServiceConfig {
  const out: ServiceConfig = structuredClone(config);
  if (overrides.deviceId !== undefined) {
    if (!deviceIdRe.test(overrides.deviceId)) throw usage('--device-id', `"${overrides.deviceId}" is not a valid device id`, DEVICE_ID_PATTERN);
    out.deviceId = overrides.deviceId;
    out.topicPrefix = fill(config.source.topicPrefixTemplate, out.deviceId);
    out.broker.clientId = fill(config.source.clientIdTemplate, out.deviceId);
  }
  if (overrides.broker !== undefined) {
    if (brokerUrlProblem(overrides.broker) !== undefined) throw usage('--broker', `"${overrides.broker}" is not a broker URL`, 'mqtt:// or mqtts:// URL');
    out.broker.url = overrides.broker;
  }
  if (overrides.profile !== undefined) out.profile = overrides.profile;
  if (overrides.models !== undefined) out.modelsDir = overrides.models;
  const problems = resolvedProblems(out);
  const first = problems[0];
  if (first !== undefined) throw usage(overrides.broker !== undefined ? '--broker' : '--device-id', `the result is invalid: ${first.path} ${first.message}`, first.allowed);
  return out;
}

interface Resolved {
  file: string;
  deviceId: string;
  modelsDir: string;
  stateDir: string;
  profile: string | undefined;
  rel: (p: string) => string;
}

function build(raw: ServiceConfigFile, r: Resolved): ServiceConfig {
  const { $schema: _schema, deviceId: _id, modelsDir: _m, stateDir: _s, profile: _p, ...rest } = raw;
  const broker: BrokerConfig = { ...raw.broker, clientId: fill(raw.broker.clientId, r.deviceId) };
  if (broker.passwordFile !== undefined) broker.passwordFile = r.rel(broker.passwordFile);
  if (broker.tls !== undefined) {
    const tls = { ...broker.tls };
    if (tls.caFile !== undefined) tls.caFile = r.rel(tls.caFile);
    if (tls.certFile !== undefined) tls.certFile = r.rel(tls.certFile);
    if (tls.keyFile !== undefined) tls.keyFile = r.rel(tls.keyFile);
    broker.tls = tls;
  }
  const config: ServiceConfig = { ...rest, deviceId: r.deviceId, topicPrefix: fill(raw.topicPrefix, r.deviceId), modelsDir: r.modelsDir, stateDir: r.stateDir, broker, source: { file: r.file === '<defaults>' ? undefined : r.file, topicPrefixTemplate: raw.topicPrefix, clientIdTemplate: raw.broker.clientId } };
  if (r.profile !== undefined) config.profile = r.profile;
  // Issue 15 OTA: a trusted key given as a file path is resolved like the other paths.
  config.deploy = { ...raw.deploy, trustedKeys: raw.deploy.trustedKeys.map((k) => (k.includes('-----BEGIN') ? k : r.rel(k))) };
  return config;
}

function fill(template: string, deviceId: string): string {
  return template.replaceAll('{deviceId}', deviceId);
}

/** First entry of a systemd colon-separated path list. */
function firstPath(list: string | undefined): string | undefined {
  const first = list?.split(':')[0];
  return first === undefined || first === '' ? undefined : first;
}

/** Why `url` is not an mqtt:// or mqtts:// URL with a host, or undefined when it is one. */
export function brokerUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a URL';
  }
  if (!['mqtt:', 'mqtts:'].includes(parsed.protocol)) return `has scheme ${parsed.protocol}`;
  if (parsed.hostname === '') return 'has no host';
  return undefined;
}

/** Checks on the file's own values that the schema cannot express. */
function fileProblems(raw: ServiceConfigFile): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  const b = raw.broker;
  if (b.reconnectMinMs > b.reconnectMaxMs) {
    out.push({ path: '/broker/reconnectMinMs', message: `is ${b.reconnectMinMs}, above reconnectMaxMs (${b.reconnectMaxMs})`, allowed: `<= ${b.reconnectMaxMs}` });
  }
  if (b.tls !== undefined && (b.tls.certFile === undefined) !== (b.tls.keyFile === undefined)) {
    out.push({ path: b.tls.certFile === undefined ? '/broker/tls/certFile' : '/broker/tls/keyFile', message: 'is required when the other of certFile/keyFile is set' });
  }
  for (const [id, m] of Object.entries(raw.models)) {
    if (m.maxBatch > raw.limits.maxBatch) {
      out.push({ path: `/models/${id}/maxBatch`, message: `is ${m.maxBatch}, above limits.maxBatch (${raw.limits.maxBatch})`, allowed: `<= ${raw.limits.maxBatch}` });
    }
    m.preferredBatchSizes.forEach((size, i) => {
      if (size > m.maxBatch) out.push({ path: `/models/${id}/preferredBatchSizes/${i}`, message: `is ${size}, above maxBatch (${m.maxBatch})`, allowed: `<= ${m.maxBatch}` });
    });
  }
  return out;
}

/** Checks that hold after defaults and overrides: URL, TLS vs scheme, topic prefix. */
function resolvedProblems(c: ServiceConfig): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  const urlProblem = brokerUrlProblem(c.broker.url);
  if (urlProblem !== undefined) {
    out.push({ path: '/broker/url', message: `"${c.broker.url}" ${urlProblem}`, allowed: 'mqtt:// or mqtts:// URL' });
  } else if (c.broker.tls !== undefined && !/^mqtts:/.test(c.broker.url)) {
    out.push({ path: '/broker/tls', message: `is set but broker.url "${c.broker.url}" does not use TLS`, allowed: 'an mqtts:// broker.url' });
  }
  const p = c.topicPrefix;
  if (p.startsWith('/') || p.endsWith('/') || p.includes('//') || /[#+\0]/.test(p)) {
    out.push({ path: '/topicPrefix', message: `"${p}" must not start or end with /, contain // or hold + # or NUL` });
  }
  return out;
}

function usage(flag: string, message: string, allowed: unknown): EdgeError {
  return new EdgeError('EDGE_ERR_USAGE', `${flag}: ${message}`, { details: { flag, allowed } });
}
