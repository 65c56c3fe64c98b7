/**
 * The service config file (`edge-infer run --config <file>`): its type as written in the file, with
 * each field's default. Its JSON Schema, the source of truth for validation and defaults, is
 * service-config-schema.ts (typed by `SchemaOf`, so the two cannot drift).
 */
import type { LogFormat, LogLevel } from '../log.js';

export const EMBEDDED_BROKER_MODES = ['auto', 'always', 'never'] as const;
export type EmbeddedBrokerMode = (typeof EMBEDDED_BROKER_MODES)[number];

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const satisfies readonly LogLevel[];
export const LOG_FORMATS = ['auto', 'json', 'text'] as const satisfies readonly LogFormat[];

/** Device ids and model ids: safe in MQTT topic levels and file names. */
export const DEVICE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
export const MODEL_ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$';

export interface BrokerTlsConfig {
  /** PEM CA bundle that signed the broker's certificate. Default: the system CAs. */
  caFile?: string;
  /** PEM client certificate (mutual TLS); needs keyFile. */
  certFile?: string;
  /** PEM private key of certFile. */
  keyFile?: string;
  /** Refuse brokers whose certificate does not verify. Default true. */
  rejectUnauthorized: boolean;
}

export interface BrokerConfig {
  /** mqtt:// or mqtts:// URL. Default "mqtt://localhost:1883". */
  url: string;
  /** 4 = MQTT 3.1.1, 5 = MQTT 5. Default 5. */
  protocolVersion: 4 | 5;
  /** Default "edge-infer-{deviceId}"; {deviceId} is replaced. Fixed so the broker keeps the session. */
  clientId: string;
  /** Default 30. */
  keepaliveS: number;
  username?: string;
  /** Environment variable holding the password. Default "EDGE_INFER_MQTT_PASSWORD". */
  passwordEnv: string;
  /** File holding the password (mode 600 or stricter); wins over passwordEnv. */
  passwordFile?: string;
  tls?: BrokerTlsConfig;
  /** First reconnect delay, ms. Default 500. */
  reconnectMinMs: number;
  /** Longest reconnect delay (backoff cap), ms. Default 30000. */
  reconnectMaxMs: number;
  /** How long READY=1 waits for the broker once the models are loaded, s; then READY anyway, saying so (issue 12). Default 10. */
  readyWaitS: number;
}

export interface EmbeddedBrokerConfig {
  /** "auto": start an in-process MQTT 3.1.1 broker when broker.url is this host:port and nothing listens there. Default "auto". */
  mode: EmbeddedBrokerMode;
  /** Default "127.0.0.1". */
  host: string;
  /** Default 1883. */
  port: number;
}

export interface ModelServiceConfig {
  /** Default true. */
  enabled: boolean;
  /** Higher keeps its preferred variant longer when the shared budget is short. Default 0. */
  priority: number;
  /** Most requests batched into one run. Default 1 (no batching). */
  maxBatch: number;
  /** Longest a request waits for a batch to fill, ms. Default 0. */
  maxQueueDelayMs: number;
  /** Batch sizes the scheduler prefers to form. Default []. */
  preferredBatchSizes: number[];
  /** Requests queued beyond this are answered EDGE_ERR_OVERLOADED. Default 64. */
  queueLimit: number;
}

export interface ServiceConfigFile {
  $schema?: string;
  /** Default: the host name. */
  deviceId?: string;
  /** Default "edge/{deviceId}"; {deviceId} is replaced. */
  topicPrefix: string;
  /** Profile id or path. Default: detect from the host. */
  profile?: string;
  /** Default: the package's models/. */
  modelsDir?: string;
  /** Default: $STATE_DIRECTORY (systemd) or /var/lib/edge-infer. */
  stateDir?: string;
  broker: BrokerConfig;
  embeddedBroker: EmbeddedBrokerConfig;
  /** Per-model settings; models not listed get the defaults. */
  models: Record<string, ModelServiceConfig>;
  limits: {
    /** Largest request payload accepted, bytes. Default 1048576. */
    maxPayloadBytes: number;
    /** Largest batch a request may carry. Default 64. */
    maxBatch: number;
  };
  outbox: {
    /** Default 10000. */
    maxMessages: number;
    /** Default 67108864 (64 MiB). */
    maxBytes: number;
  };
  /** On SIGTERM, how long in-flight requests may take before they are answered EDGE_ERR_SHUTTING_DOWN, ms. Default 5000. */
  drainTimeoutMs: number;
  /** Which reply topics requests may name (issue 12); own topics, $-topics and the HA prefix are always refused. */
  replyTopics: {
    /** MQTT topic filters a reply topic must match. Default ["#"] (anything not refused). */
    allow: string[];
    /** Home Assistant discovery prefix, refused as a reply topic. Default "homeassistant". */
    homeAssistantPrefix: string;
  };
  /** Home Assistant MQTT discovery (issue 15). */
  homeAssistant: {
    /** Publish the retained device discovery message; false removes one published before. Default false. */
    discovery: boolean;
    /** Discovery prefix. Default "homeassistant". */
    prefix: string;
  };
  /** Shared work (issue 15): also take requests from edge/group/<group>/models/+/infer through an MQTT 5 shared subscription. Default: none. */
  group?: string;
  /** Remote commands on <prefix>/cmd/<name> (issue 15). */
  commands: {
    /** Default true. */
    enabled: boolean;
  };
  /** Signed model updates (issue 15 OTA). Off while trustedKeys is empty. */
  deploy: {
    /** ed25519 public keys (PEM text, or a path to a PEM file) whose bundles this device installs. Default [] (deploys off). */
    trustedKeys: string[];
    /** After a swap, how long the new model must stay healthy before it is committed, s. Default 10. */
    healthWindowS: number;
    /** Requests answered with an error during the health window that trigger a rollback (more than this). Default 0. */
    healthMaxErrors: number;
    /** p95 latency (queue + inference) over the health window above which the deploy rolls back, ms. Default: none. */
    healthMaxP95Ms?: number;
    /** Eval samples run per variant in preflight. Default 32. */
    preflightSamples: number;
    /** Preflight accuracy may be this far (0..1) below the variant's manifest accuracy. Default 0.1. */
    preflightTolerance: number;
    /** Largest bundle accepted, MB. Default 512. */
    maxBundleMB: number;
  };
  log: {
    /** Default "info". */
    level: LogLevel;
    /** Default "auto": text on a TTY, JSON otherwise. */
    format: LogFormat;
  };
  telemetry: {
    /** Overrides the profile's telemetry.intervalS. */
    intervalS?: number;
  };
  /** On-device calibration (issue 7). */
  calibration: {
    /** Run `bench --calibrate` at start when no calibration file exists for this profile and backend. Default false. */
    atFirstStart: boolean;
    /** Stop measuring new variants after this long, s. Default 60. */
    timeLimitS: number;
  };
  /** Variant switching under heat, throttling, memory pressure and slow p95 (issue 7). */
  adaptive: {
    /** Default true. */
    enabled: boolean;
    /** Seconds between probe reads and decisions. Default 5. */
    intervalS: number;
    /** A pressure must last this long before a step down to a cheaper variant, s. Default 10. */
    downWindowS: number;
    /** No pressure for this long before a step back up, s. Default 60. */
    upWindowS: number;
    /** Thermal pressure ends below the profile's softLimitC minus this, °C. Default 5. */
    thermalHysteresisC: number;
    /** Memory pressure below this MemAvailable, MB. Default 64. */
    memAvailableMinMB: number;
    /** Memory pressure above this PSI some avg10, percent. Default 10. */
    psiSomeAvg10Max: number;
    /** Requests in the latency window before its p95 counts. Default 20. */
    minLatencySamples: number;
  };
}
