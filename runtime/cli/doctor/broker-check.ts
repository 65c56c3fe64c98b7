/**
 * Doctor check: the broker the service would use, reached with the configured credentials and TLS
 * files (runtime/transport/probe.ts). With embeddedBroker "auto", no broker URL in the config and
 * nothing listening, the service would start its embedded broker: that is a warning (fine for a
 * trial, not for production), not a failure. A broker that refuses MQTT 5 but takes 3.1.1 fails the
 * check (the service would never connect with protocolVersion 5), except on the default localhost URL
 * in "auto", where it is likely the running service's own embedded broker (a warning).
 */
import { resolveBrokerPassword, type ServiceConfig } from '../../config/service-config.js';
import { asEdgeError } from '../../errors.js';
import { isPortListening } from '../../transport/embedded-broker.js';
import { probeBroker } from '../../transport/probe.js';
import type { CheckResult } from './checklist.js';

/** The service's default broker URL (service.ts DEFAULT_BROKER_URL; not imported to keep the service graph out). */
const DEFAULT_BROKER_URL = 'mqtt://localhost:1883';

export async function brokerCheck(config: ServiceConfig, timeoutMs: number): Promise<CheckResult> {
  const title = 'MQTT broker';
  const c = config.broker;
  const mode = config.embeddedBroker.mode;
  if (mode === 'always') {
    return { id: 'broker', title, status: 'warn', detail: 'embeddedBroker.mode is "always": the service runs its own MQTT 3.1.1 broker', fix: 'for production point broker.url at mosquitto and set embeddedBroker.mode to "never"' };
  }
  if (mode === 'auto' && c.url === DEFAULT_BROKER_URL && !(await isPortListening(config.embeddedBroker.host, config.embeddedBroker.port))) {
    return { id: 'broker', title, status: 'warn', detail: `nothing listens on ${config.embeddedBroker.host}:${config.embeddedBroker.port}: the service would start its embedded broker (MQTT 3.1.1)`, fix: '`sudo apt-get install mosquitto` (see deploy/mosquitto/), or set broker.url to your broker' };
  }
  // auto + the default URL + something listening: that may be the running service's own embedded
  // broker, which speaks MQTT 3.1.1 only, so a refused MQTT 5 attempt is retried with 3.1.1.
  const mayBeEmbedded = mode === 'auto' && c.url === DEFAULT_BROKER_URL;
  const auth = [c.username !== undefined ? `user ${c.username}` : 'anonymous', c.tls ? 'TLS' : c.url.startsWith('mqtts:') ? 'TLS' : 'no TLS'].join(', ');
  try {
    const password = await resolveBrokerPassword(c);
    const probe = (protocolVersion: 4 | 5): ReturnType<typeof probeBroker> => probeBroker({ url: c.url, protocolVersion, username: c.username, password, timeoutMs, tls: c.tls ? { caFile: c.tls.caFile, certFile: c.tls.certFile, keyFile: c.tls.keyFile, rejectUnauthorized: c.tls.rejectUnauthorized } : undefined });
    try {
      const r = await probe(c.protocolVersion);
      return { id: 'broker', title, status: 'pass', detail: `${c.url} accepted the connection (${auth}, MQTT ${c.protocolVersion === 5 ? '5' : '3.1.1'}) in ${r.connectMs.toFixed(0)} ms` };
    } catch (e) {
      if (c.protocolVersion === 4 || asEdgeError(e).code !== 'EDGE_ERR_BROKER_UNREACHABLE') throw e;
      const r = await probe(4).catch(() => {
        throw e;
      });
      const detail = `${c.url} accepts MQTT 3.1.1 only (${auth}; ${r.connectMs.toFixed(0)} ms), not the configured MQTT 5`;
      return mayBeEmbedded
        ? { id: 'broker', title, status: 'warn', detail: `${detail}: the running service's embedded broker, or an old broker`, fix: 'for production run mosquitto 2.x (MQTT 5) on this port, or point broker.url at your broker' }
        : { id: 'broker', title, status: 'fail', detail, code: 'EDGE_ERR_BROKER_UNREACHABLE', fix: 'set broker.protocolVersion to 4 in the config, or use a broker with MQTT 5 (mosquitto 2.x)' };
    }
  } catch (e) {
    const err = asEdgeError(e);
    return { id: 'broker', title, status: 'fail', detail: `${c.url} (${auth}): ${err.message}`, fix: err.hint, code: err.code };
  }
}
