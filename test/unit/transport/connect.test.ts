import t from 'tap';
import { createMqttClient, parseBrokerUrl } from '../../../runtime/transport/connect.js';

function code(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    return String((e as { code?: unknown }).code);
  }
}

t.test('mqtt:// defaults to port 1883 and mqtts:// to 8883', async (t) => {
  t.same(parseBrokerUrl('mqtt://broker.local'), { secure: false, host: 'broker.local', port: 1883 });
  t.same(parseBrokerUrl('mqtts://broker.local'), { secure: true, host: 'broker.local', port: 8883 });
});

t.test('an explicit port wins and an IPv6 host loses its brackets', async (t) => {
  t.same(parseBrokerUrl('mqtt://127.0.0.1:1999'), { secure: false, host: '127.0.0.1', port: 1999 });
  t.same(parseBrokerUrl('mqtts://[::1]:8884'), { secure: true, host: '::1', port: 8884 });
});

t.test('user info in the URL is decoded into username and password', async (t) => {
  const a = parseBrokerUrl('mqtts://dev%40site:p%3Ass@host:8883');
  t.equal(a.username, 'dev@site');
  t.equal(a.password, 'p:ss');
  t.notOk('password' in parseBrokerUrl('mqtt://only-user@host'), 'no password when the URL has none');
});

t.test('ws, wss, other schemes and non-URLs are refused with EDGE_ERR_CONFIG_INVALID', async (t) => {
  for (const url of ['ws://host:8080/mqtt', 'wss://host/mqtt', 'tcp://host:1883', 'http://host', 'localhost:1883', 'not a url']) {
    t.equal(
      code(() => parseBrokerUrl(url)),
      'EDGE_ERR_CONFIG_INVALID',
      url,
    );
    t.equal(
      code(() => createMqttClient(url, { reconnectPeriod: 0 })),
      'EDGE_ERR_CONFIG_INVALID',
      `client for ${url}`,
    );
  }
});

t.test('a persistent session without a clientId is refused before any socket opens', async (t) => {
  t.equal(
    code(() => createMqttClient('mqtt://127.0.0.1:1', { clean: false, reconnectPeriod: 0 })),
    'EDGE_ERR_CONFIG_INVALID',
  );
});
