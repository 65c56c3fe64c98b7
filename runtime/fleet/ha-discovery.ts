/**
 * Home Assistant MQTT discovery (device-based, HA 2024.11+): one retained message at
 * `<haPrefix>/device/<nodeId>/config` describing the device and all its entities. Pure: facts in,
 * topic and JSON out. An empty retained payload on the same topic removes the device.
 *
 * Entities (every one bound to the device's availability: our retained status, JSON, through a
 * value_template):
 * - per model: `<model> result` (sensor: latest top-1 label from `<prefix>/models/<model>/state`,
 *   its score and variant as attributes), `<model> event` (event entity, only when the manifest
 *   declares events, fed by `<prefix>/models/<model>/events`), and diagnostics `<model> p95
 *   latency` and `<model> variant` (from telemetry);
 * - per device, diagnostics: CPU temperature, RSS, outbox depth (from telemetry).
 * Keys are Home Assistant's documented names (`dev`, `o`, `cmps`, `p` are the device-discovery
 * abbreviations its docs use); test/unit/ha-discovery.test.ts checks them against the documented set.
 */

export interface HaModelFacts {
  id: string;
  /** Event names the manifest declares (issue 11), e.g. ["start", "end"]; empty: no event entity. */
  eventTypes: readonly string[];
}

export interface HaDeviceFacts {
  /** Our device id (topic-safe). */
  deviceId: string;
  /** The board from the profile, e.g. "Raspberry Pi 4 Model B". */
  board: string;
  version: string;
  /** Our topic prefix, e.g. edge/<deviceId>. */
  prefix: string;
  models: readonly HaModelFacts[];
}

export interface HaDiscoveryMessage {
  topic: string;
  payload: Record<string, unknown>;
}

/** HA's node id: [a-zA-Z0-9_-] only. */
export function haNodeId(deviceId: string): string {
  return `edge_infer_${deviceId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

export function haDiscoveryTopic(haPrefix: string, deviceId: string): string {
  return `${haPrefix}/device/${haNodeId(deviceId)}/config`;
}

/** Event names declared by a manifest's `events` (issue 11): threshold -> start/end names, top1-change -> its name. */
export function declaredEventTypes(events: unknown): string[] {
  if (!Array.isArray(events)) return [];
  const out: string[] = [];
  for (const e of events as unknown[]) {
    if (e === null || typeof e !== 'object') continue;
    const spec = e as Record<string, unknown>;
    if (spec['kind'] === 'threshold') out.push(typeof spec['start'] === 'string' ? spec['start'] : 'start', typeof spec['end'] === 'string' ? spec['end'] : 'end');
    if (spec['kind'] === 'top1-change') out.push(typeof spec['event'] === 'string' ? spec['event'] : 'change');
  }
  return [...new Set(out)];
}

/** A Jinja expression selecting model `id`'s entry of the telemetry document. */
function telemetryModel(id: string): string {
  return `(value_json.models | selectattr('model', 'equalto', '${id}') | first)`;
}

export function haDiscoveryMessage(haPrefix: string, f: HaDeviceFacts): HaDiscoveryMessage {
  const node = haNodeId(f.deviceId);
  const telemetry = `${f.prefix}/telemetry`;
  const cmps: Record<string, Record<string, unknown>> = {};
  const uid = (suffix: string): string => `${node}_${suffix.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  for (const m of f.models) {
    const state = `${f.prefix}/models/${m.id}/state`;
    cmps[uid(`${m.id}_result`)] = {
      p: 'sensor',
      unique_id: uid(`${m.id}_result`),
      name: `${m.id} result`,
      icon: 'mdi:brain',
      state_topic: state,
      value_template: '{{ value_json.label }}',
      json_attributes_topic: state,
      json_attributes_template: '{{ {"score": value_json.score, "variant": value_json.variant, "at": value_json.at} | tojson }}',
    };
    if (m.eventTypes.length > 0) {
      cmps[uid(`${m.id}_event`)] = {
        p: 'event',
        unique_id: uid(`${m.id}_event`),
        name: `${m.id} event`,
        event_types: [...m.eventTypes],
        state_topic: `${f.prefix}/models/${m.id}/events`,
        value_template: '{{ {"event_type": value_json.event, "score": value_json.score, "stream": value_json.stream, "variant": value_json.variant} | tojson }}',
      };
    }
    cmps[uid(`${m.id}_p95`)] = { p: 'sensor', unique_id: uid(`${m.id}_p95`), name: `${m.id} p95 latency`, entity_category: 'diagnostic', state_topic: telemetry, value_template: `{{ ${telemetryModel(m.id)}.latencyMs.p95 }}`, unit_of_measurement: 'ms', device_class: 'duration', state_class: 'measurement' };
    cmps[uid(`${m.id}_variant`)] = { p: 'sensor', unique_id: uid(`${m.id}_variant`), name: `${m.id} variant`, entity_category: 'diagnostic', state_topic: telemetry, value_template: `{{ ${telemetryModel(m.id)}.variant }}` };
  }
  cmps[uid('cpu_temp')] = { p: 'sensor', unique_id: uid('cpu_temp'), name: 'CPU temperature', entity_category: 'diagnostic', state_topic: telemetry, value_template: '{{ value_json.system.cpuTempC }}', unit_of_measurement: '°C', device_class: 'temperature', state_class: 'measurement' };
  cmps[uid('rss')] = { p: 'sensor', unique_id: uid('rss'), name: 'Memory (RSS)', entity_category: 'diagnostic', state_topic: telemetry, value_template: '{{ value_json.process.rssMB }}', unit_of_measurement: 'MB', device_class: 'data_size', state_class: 'measurement' };
  cmps[uid('outbox')] = { p: 'sensor', unique_id: uid('outbox'), name: 'Outbox depth', entity_category: 'diagnostic', state_topic: telemetry, value_template: '{{ value_json.outbox.depth }}', state_class: 'measurement' };
  return {
    topic: haDiscoveryTopic(haPrefix, f.deviceId),
    payload: {
      dev: { ids: [node], name: `edge-infer ${f.deviceId}`, mf: 'edge-infer', mdl: f.board, sw: f.version },
      o: { name: 'edge-infer', sw: f.version },
      availability: [{ topic: `${f.prefix}/status`, value_template: '{{ value_json.state }}', payload_available: 'online', payload_not_available: 'offline' }],
      cmps,
      qos: 1,
    },
  };
}
