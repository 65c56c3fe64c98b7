/**
 * The JSON Schema (draft 2020-12) of the service config file (`edge-infer run --config <file>`):
 * validation and defaults. Typed by `SchemaOf` (schema-type.ts) against the file's type in
 * service-config-types.ts, so the two cannot drift. Values that depend on the host (deviceId =
 * hostname, modelsDir = the package's models/, stateDir) are filled by service-config.ts, not here.
 */
import { DEFAULT_MAX_BATCH, DEFAULT_MAX_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES_CEILING } from './limits.js';
import type { DocumentSchemaOf, SchemaOf } from './schema-type.js';
import { EMBEDDED_BROKER_MODES, LOG_LEVELS, LOG_FORMATS, DEVICE_ID_PATTERN, MODEL_ID_PATTERN, type ModelServiceConfig, type ServiceConfigFile } from './service-config-types.js';

export { EMBEDDED_BROKER_MODES, LOG_LEVELS, LOG_FORMATS, DEVICE_ID_PATTERN, MODEL_ID_PATTERN } from './service-config-types.js';
export type { EmbeddedBrokerMode, BrokerTlsConfig, BrokerConfig, EmbeddedBrokerConfig, ModelServiceConfig, ServiceConfigFile } from './service-config-types.js';

const pathString = (description: string) => ({ type: 'string', minLength: 1, description }) as const;
const int = (minimum: number, def: number, description: string, maximum?: number) => ({ type: 'integer', minimum, ...(maximum === undefined ? {} : { maximum }), default: def, description }) as const;

const modelSchema: SchemaOf<ModelServiceConfig> = {
  type: 'object',
  additionalProperties: false,
  required: [],
  description: 'Scheduling settings for one model.',
  properties: {
    enabled: { type: 'boolean', default: true, description: 'Load and serve this model. Default true.' },
    priority: { type: 'integer', default: 0, description: 'Higher keeps its preferred variant longer when the shared budget is short. Default 0.' },
    maxBatch: int(1, 1, 'Most requests batched into one run; at most limits.maxBatch. Default 1.'),
    maxQueueDelayMs: int(0, 0, 'Longest a request waits for a batch to fill, ms. Default 0.', 60_000),
    preferredBatchSizes: { type: 'array', items: { type: 'integer', minimum: 1 }, uniqueItems: true, default: [], description: 'Batch sizes the scheduler prefers to form; each at most maxBatch. Default [].' },
    queueLimit: int(1, 64, 'Requests queued beyond this are answered EDGE_ERR_OVERLOADED. Default 64.', 1_000_000),
  },
};

export const serviceConfigSchema: DocumentSchemaOf<ServiceConfigFile> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://edge-infer.dev/schemas/service-config.json',
  title: 'edge-infer service config',
  description: "Settings of `edge-infer run`. Relative paths are resolved against this file's folder.",
  type: 'object',
  additionalProperties: false,
  required: [],
  properties: {
    $schema: { type: 'string', description: 'Path or URL of this schema, for editors.' },
    deviceId: { type: 'string', pattern: DEVICE_ID_PATTERN, description: "This device's id in topics. Default: the host name." },
    topicPrefix: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^#+]+$', default: 'edge/{deviceId}', description: 'Prefix of every topic; {deviceId} is replaced. No + or #, no leading or trailing /. Default "edge/{deviceId}".' },
    profile: { type: 'string', minLength: 1, description: 'Device profile id (device-profiles/<id>.json) or path. Default: detect from the host.' },
    modelsDir: pathString("Folder of <id>/model.json manifests. Default: the package's models/."),
    stateDir: pathString('Writable folder for the outbox. Default: $STATE_DIRECTORY (systemd StateDirectory=) or /var/lib/edge-infer.'),
    broker: {
      type: 'object',
      additionalProperties: false,
      required: [],
      default: { url: 'mqtt://localhost:1883', protocolVersion: 5, clientId: 'edge-infer-{deviceId}', keepaliveS: 30, passwordEnv: 'EDGE_INFER_MQTT_PASSWORD', reconnectMinMs: 500, reconnectMaxMs: 30_000, readyWaitS: 10 },
      description: 'The MQTT broker to connect to.',
      properties: {
        url: { type: 'string', pattern: '^(mqtt|mqtts)://', default: 'mqtt://localhost:1883', description: 'Broker URL: mqtt:// or mqtts:// (TLS). Default "mqtt://localhost:1883".' },
        protocolVersion: { type: 'integer', enum: [4, 5], default: 5, description: '4 = MQTT 3.1.1, 5 = MQTT 5. Default 5.' },
        clientId: { type: 'string', minLength: 1, maxLength: 200, default: 'edge-infer-{deviceId}', description: 'MQTT client id; {deviceId} is replaced. Default "edge-infer-{deviceId}".' },
        keepaliveS: int(0, 30, 'MQTT keepalive, s. Default 30.', 65_535),
        username: { type: 'string', description: 'Broker user name.' },
        passwordEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', default: 'EDGE_INFER_MQTT_PASSWORD', description: 'Environment variable holding the password. Default "EDGE_INFER_MQTT_PASSWORD".' },
        passwordFile: pathString('File holding the password (mode 600 or stricter); wins over passwordEnv.'),
        tls: {
          type: 'object',
          additionalProperties: false,
          required: [],
          description: 'TLS settings for mqtts:// URLs.',
          properties: {
            caFile: pathString("PEM CA bundle that signed the broker's certificate. Default: the system CAs."),
            certFile: pathString('PEM client certificate (mutual TLS); needs keyFile.'),
            keyFile: pathString('PEM private key of certFile.'),
            rejectUnauthorized: { type: 'boolean', default: true, description: 'Refuse brokers whose certificate does not verify. Default true.' },
          },
        },
        reconnectMinMs: int(10, 500, 'First reconnect delay, ms. Default 500.', 3_600_000),
        reconnectMaxMs: int(10, 30_000, 'Longest reconnect delay, ms. Default 30000.', 3_600_000),
        readyWaitS: { type: 'number', minimum: 0, maximum: 3600, default: 10, description: 'READY=1 waits this long for the broker once the models are loaded, then is sent anyway with STATUS saying the broker is unreachable, s. Default 10.' },
      },
    },
    embeddedBroker: {
      type: 'object',
      additionalProperties: false,
      required: [],
      default: { mode: 'auto', host: '127.0.0.1', port: 1883 },
      description: 'The in-process MQTT 3.1.1 broker (aedes) for a first run with nothing installed.',
      properties: {
        mode: { type: 'string', enum: EMBEDDED_BROKER_MODES, default: 'auto', description: '"auto": start it when broker.url is this host:port and nothing listens there. Default "auto".' },
        host: { type: 'string', minLength: 1, default: '127.0.0.1', description: 'Address it listens on. Default "127.0.0.1".' },
        port: int(1, 1883, 'TCP port. Default 1883.', 65_535),
      },
    },
    models: { type: 'object', required: [], default: {}, patternProperties: { [MODEL_ID_PATTERN]: modelSchema }, additionalProperties: false, description: 'Per-model settings, keyed by model id; models not listed get the defaults.' },
    limits: {
      type: 'object',
      additionalProperties: false,
      required: [],
      default: { maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES, maxBatch: DEFAULT_MAX_BATCH },
      description: 'Request limits.',
      properties: {
        maxPayloadBytes: int(64, DEFAULT_MAX_PAYLOAD_BYTES, `Largest request payload accepted, bytes (the service and \`edge-infer infer\`). Default ${DEFAULT_MAX_PAYLOAD_BYTES}.`, MAX_PAYLOAD_BYTES_CEILING),
        maxBatch: int(1, DEFAULT_MAX_BATCH, `Largest batch a request may carry. Default ${DEFAULT_MAX_BATCH}.`, 65_536),
      },
    },
    outbox: {
      type: 'object',
      additionalProperties: false,
      required: [],
      default: { maxMessages: 10_000, maxBytes: 67_108_864 },
      description: 'The durable queue of answers while the broker is away; when full, the oldest are dropped and counted.',
      properties: { maxMessages: int(1, 10_000, 'Default 10000.'), maxBytes: int(1024, 67_108_864, 'Default 67108864 (64 MiB).') },
    },
    drainTimeoutMs: int(0, 5000, 'On SIGTERM, how long in-flight requests may take, ms. Default 5000.', 600_000),
    replyTopics: {
      type: 'object',
      additionalProperties: false,
      required: [],
      default: { allow: ['#'], homeAssistantPrefix: 'homeassistant' },
      description: "Reply topics requests may name (MQTT 5 response topic or replyTo). The service's own topics, $-topics, wildcards and the Home Assistant prefix are always refused.",
      properties: {
        allow: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 1024 }, maxItems: 64, default: ['#'], description: 'MQTT topic filters (+ and #) a reply topic must match. Default ["#"].' },
        homeAssistantPrefix: { type: 'string', maxLength: 256, default: 'homeassistant', description: 'Home Assistant discovery prefix; "" to not refuse one. Default "homeassistant".' },
      },
    },
    homeAssistant: {
      type: 'object',
      additionalProperties: false,
      required: [],
      default: { discovery: false, prefix: 'homeassistant' },
      description: 'Home Assistant MQTT discovery (device-based, HA 2024.11+).',
      properties: {
        discovery: { type: 'boolean', default: false, description: 'Publish the retained discovery message; false removes one published before. Default false.' },
        prefix: { type: 'string', pattern: '^[^+#$/\\u0000][^+#\\u0000]{0,127}$', default: 'homeassistant', description: 'Discovery prefix. Default "homeassistant".' },
      },
    },
    group: { type: 'string', pattern: DEVICE_ID_PATTERN, description: 'Also take requests from edge/group/<group>/models/+/infer through an MQTT 5 shared subscription ($share/<group>/...). Needs an MQTT 5 broker.' },
    commands: { type: 'object', additionalProperties: false, required: [], default: { enabled: true }, description: 'Remote commands on <prefix>/cmd/<name> (reload, status, pin, unpin, calibrate), MQTT 5 request/response.', properties: { enabled: { type: 'boolean', default: true, description: 'Default true.' } } },
    deploy: {
      type: 'object',
      additionalProperties: false,
      required: [],
      default: { trustedKeys: [], healthWindowS: 10, healthMaxErrors: 0, preflightSamples: 32, preflightTolerance: 0.1, maxBundleMB: 512 },
      description: 'Signed model updates over MQTT (edge-infer deploy). Off while trustedKeys is empty.',
      properties: {
        trustedKeys: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 4096 }, maxItems: 32, default: [], description: 'ed25519 public keys: PEM text or a PEM file path. Default [] (deploys off).' },
        healthWindowS: { type: 'number', minimum: 0, maximum: 3600, default: 10, description: 'Health window after a swap, s. Default 10.' },
        healthMaxErrors: { type: 'integer', minimum: 0, default: 0, description: 'Error answers tolerated in the health window. Default 0.' },
        healthMaxP95Ms: { type: 'number', exclusiveMinimum: 0, description: 'p95 latency over the health window above which the deploy rolls back, ms. Default: none.' },
        preflightSamples: { type: 'integer', minimum: 0, maximum: 10000, default: 32, description: 'Eval samples per variant in preflight. Default 32.' },
        preflightTolerance: { type: 'number', minimum: 0, maximum: 1, default: 0.1, description: 'Allowed accuracy shortfall against the manifest in preflight. Default 0.1.' },
        maxBundleMB: { type: 'number', exclusiveMinimum: 0, default: 512, description: 'Largest bundle accepted, MB. Default 512.' },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      required: [],
      default: { level: 'info', format: 'auto' },
      description: 'Operator logs.',
      properties: { level: { type: 'string', enum: LOG_LEVELS, default: 'info', description: 'Default "info".' }, format: { type: 'string', enum: LOG_FORMATS, default: 'auto', description: '"auto": text on a TTY, JSON otherwise. Default "auto".' } },
    },
    telemetry: { type: 'object', additionalProperties: false, required: [], default: {}, description: 'Telemetry publishing.', properties: { intervalS: { type: 'number', minimum: 1, maximum: 86_400, description: "Overrides the profile's telemetry.intervalS." } } },
    calibration: {
      type: 'object',
      additionalProperties: false,
      required: [],
      default: { atFirstStart: false, timeLimitS: 60 },
      description: 'On-device calibration (the figures `edge-infer bench --calibrate` measures).',
      properties: {
        atFirstStart: { type: 'boolean', default: false, description: 'Calibrate at start when no calibration exists for this profile and backend. Default false.' },
        timeLimitS: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: 60, description: 'Stop measuring new variants after this long, s. Default 60.' },
      },
    },
    adaptive: {
      type: 'object',
      additionalProperties: false,
      required: [],
      default: { enabled: true, intervalS: 5, downWindowS: 10, upWindowS: 60, thermalHysteresisC: 5, memAvailableMinMB: 64, psiSomeAvg10Max: 10, minLatencySamples: 20 },
      description: 'Switch a model to a cheaper variant under heat, throttling, memory pressure or a slow p95, and back when the pressure is gone.',
      properties: {
        enabled: { type: 'boolean', default: true, description: 'Default true.' },
        intervalS: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: 5, description: 'Seconds between probe reads and decisions. Default 5.' },
        downWindowS: { type: 'number', minimum: 0, maximum: 3600, default: 10, description: 'A pressure must last this long before a step down, s. Default 10.' },
        upWindowS: { type: 'number', minimum: 0, maximum: 86_400, default: 60, description: 'No pressure for this long before a step back up, s. Default 60.' },
        thermalHysteresisC: { type: 'number', minimum: 0, maximum: 50, default: 5, description: 'Thermal pressure ends below softLimitC minus this, °C. Default 5.' },
        memAvailableMinMB: { type: 'number', minimum: 0, default: 64, description: 'Memory pressure below this MemAvailable, MB. Default 64.' },
        psiSomeAvg10Max: { type: 'number', minimum: 0, maximum: 100, default: 10, description: 'Memory pressure above this PSI some avg10, percent. Default 10.' },
        minLatencySamples: int(1, 20, 'Requests in the latency window before its p95 counts. Default 20.', 1_000_000),
      },
    },
  },
};
