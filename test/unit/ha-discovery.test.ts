/**
 * Home Assistant device discovery: the message's structure and its keys, checked against the keys
 * Home Assistant documents for device-based discovery (MQTT integration docs, "Device discovery
 * payload", 2024.11+) and for the sensor and event platforms.
 */
import t from 'tap';
import { declaredEventTypes, haDiscoveryMessage, haDiscoveryTopic, haNodeId } from '../../runtime/fleet/ha-discovery.js';

// Documented keys (abbreviated or full) that this message may use.
const TOP = new Set(['dev', 'device', 'o', 'origin', 'cmps', 'components', 'availability', 'avty', 'availability_mode', 'qos', 'state_topic', 'command_topic', 'encoding', 'e']);
const DEVICE = new Set(['ids', 'identifiers', 'name', 'mf', 'manufacturer', 'mdl', 'model', 'sw', 'sw_version', 'hw', 'hw_version', 'sa', 'suggested_area', 'cu', 'configuration_url', 'cns', 'connections', 'via_device', 'serial_number', 'sn', 'model_id', 'mdl_id']);
const ORIGIN = new Set(['name', 'sw', 'sw_version', 'url', 'support_url']);
const AVAILABILITY = new Set(['topic', 't', 'value_template', 'val_tpl', 'payload_available', 'pl_avail', 'payload_not_available', 'pl_not_avail']);
const COMMON = new Set([
  'p',
  'platform',
  'unique_id',
  'uniq_id',
  'name',
  'icon',
  'ic',
  'state_topic',
  'stat_t',
  'value_template',
  'val_tpl',
  'json_attributes_topic',
  'json_attr_t',
  'json_attributes_template',
  'json_attr_tpl',
  'entity_category',
  'ent_cat',
  'enabled_by_default',
  'en',
  'object_id',
  'obj_id',
  'qos',
  'availability',
  'device_class',
  'dev_cla',
]);
const SENSOR = new Set([...COMMON, 'unit_of_measurement', 'unit_of_meas', 'state_class', 'stat_cla', 'expire_after', 'exp_aft', 'force_update', 'frc_upd', 'suggested_display_precision']);
const EVENT = new Set([...COMMON, 'event_types', 'evt_typ']);

const FACTS = {
  deviceId: 'pi-kitchen',
  board: 'Raspberry Pi 4 Model B',
  version: '1.2.3',
  prefix: 'edge/pi-kitchen',
  models: [
    { id: 'digits', eventTypes: [] },
    { id: 'vad', eventTypes: ['start', 'end'] },
  ],
};

t.test('one retained message per device at <prefix>/device/<node id>/config', async (t) => {
  const m = haDiscoveryMessage('homeassistant', FACTS);
  t.equal(m.topic, 'homeassistant/device/edge_infer_pi-kitchen/config');
  t.equal(haDiscoveryTopic('ha', 'a.b c'), 'ha/device/edge_infer_a_b_c/config', 'node ids keep to [A-Za-z0-9_-]');
  t.match(haNodeId('x/y+z'), /^[A-Za-z0-9_-]+$/);
});

t.test('uses only keys Home Assistant documents, and every component names its platform and a unique id', async (t) => {
  const p = haDiscoveryMessage('homeassistant', FACTS).payload;
  for (const k of Object.keys(p)) t.ok(TOP.has(k), `top-level key ${k}`);
  for (const k of Object.keys(p['dev'] as object)) t.ok(DEVICE.has(k), `device key ${k}`);
  for (const k of Object.keys(p['o'] as object)) t.ok(ORIGIN.has(k), `origin key ${k}`);
  for (const a of p['availability'] as Record<string, unknown>[]) for (const k of Object.keys(a)) t.ok(AVAILABILITY.has(k), `availability key ${k}`);
  const cmps = p['cmps'] as Record<string, Record<string, unknown>>;
  const ids = new Set<string>();
  for (const [key, c] of Object.entries(cmps)) {
    const allowed = c['p'] === 'event' ? EVENT : SENSOR;
    t.ok(c['p'] === 'sensor' || c['p'] === 'event', `${key} platform ${String(c['p'])}`);
    for (const k of Object.keys(c)) t.ok(allowed.has(k), `${key}: ${k} is a documented ${String(c['p'])} key`);
    t.equal(c['unique_id'], key, 'component key = unique id');
    ids.add(c['unique_id'] as string);
    t.type(c['state_topic'], 'string');
  }
  t.equal(ids.size, Object.keys(cmps).length, 'unique ids are unique');
});

t.test('the device, origin and availability describe this board and our JSON status', async (t) => {
  const p = haDiscoveryMessage('homeassistant', FACTS).payload as { dev: Record<string, unknown>; o: Record<string, unknown>; availability: Record<string, unknown>[] };
  t.same(p.dev['ids'], ['edge_infer_pi-kitchen']);
  t.equal(p.dev['mdl'], 'Raspberry Pi 4 Model B');
  t.equal(p.dev['sw'], '1.2.3');
  t.equal(p.o['name'], 'edge-infer');
  t.same(p.availability, [{ topic: 'edge/pi-kitchen/status', value_template: '{{ value_json.state }}', payload_available: 'online', payload_not_available: 'offline' }]);
});

t.test('per model a result sensor, p95 and variant diagnostics, and an event entity only where events are declared', async (t) => {
  const cmps = haDiscoveryMessage('homeassistant', FACTS).payload['cmps'] as Record<string, Record<string, unknown>>;
  const byName = new Map(Object.values(cmps).map((c) => [c['name'], c]));
  t.equal(byName.get('digits result')?.['state_topic'], 'edge/pi-kitchen/models/digits/state');
  t.equal(byName.get('digits result')?.['value_template'], '{{ value_json.label }}');
  t.equal(byName.get('digits p95 latency')?.['unit_of_measurement'], 'ms');
  t.equal(byName.get('digits p95 latency')?.['entity_category'], 'diagnostic');
  t.match(byName.get('digits variant')?.['value_template'] as string, /selectattr\('model', 'equalto', 'digits'\)/);
  t.notOk(byName.has('digits event'), 'digits declares no events');
  t.same(byName.get('vad event')?.['event_types'], ['start', 'end']);
  t.equal(byName.get('vad event')?.['state_topic'], 'edge/pi-kitchen/models/vad/events');
  t.match(byName.get('vad event')?.['value_template'] as string, /"event_type": value_json.event/);
  for (const n of ['CPU temperature', 'Memory (RSS)', 'Outbox depth']) t.equal(byName.get(n)?.['entity_category'], 'diagnostic', n);
  t.equal(byName.get('CPU temperature')?.['device_class'], 'temperature');
});

t.test("event names come from the manifest's declarations (issue 11 shapes)", async (t) => {
  t.same(declaredEventTypes([{ kind: 'threshold', output: 'p', on: 0.5, off: 0.3 }]), ['start', 'end']);
  t.same(
    declaredEventTypes([
      { kind: 'threshold', output: 'p', on: 0.5, off: 0.3, start: 'speech', end: 'silence' },
      { kind: 'top1-change', output: 'y', event: 'changed' },
    ]),
    ['speech', 'silence', 'changed'],
  );
  t.same(declaredEventTypes(undefined), []);
  t.same(declaredEventTypes([null, 7, { kind: 'other' }]), []);
});
