/**
 * clientOptions (runtime/transport/mqtt-options.ts), issue 12 item 15: an MQTT 5 CONNECT carries
 * Receive Maximum (the service passes its largest model queueLimit), bounded to MQTT's 1..65535;
 * MQTT 3.1.1 has no such property.
 */
import t from 'tap';
import { clientOptions } from '../../../runtime/transport/mqtt-options.js';

const base = { url: 'mqtt://localhost:1883', clientId: 'c' };

t.test('MQTT 5: Receive Maximum is sent, default 64, kept within 1..65535', async (t) => {
  t.equal(clientOptions(base, null).properties?.receiveMaximum, 64);
  t.equal(clientOptions({ ...base, receiveMaximum: 8 }, null).properties?.receiveMaximum, 8);
  t.equal(clientOptions({ ...base, receiveMaximum: 1e9 }, null).properties?.receiveMaximum, 65_535);
  t.equal(clientOptions({ ...base, receiveMaximum: 0 }, null).properties?.receiveMaximum, 1);
  t.equal(clientOptions(base, null).properties?.sessionExpiryInterval, 3600, 'the session expiry is still there');
});

t.test('MQTT 3.1.1: no properties at all', async (t) => {
  t.equal(clientOptions({ ...base, protocolVersion: 4, receiveMaximum: 8 }, null).properties, undefined);
});
