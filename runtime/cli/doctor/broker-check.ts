/**
 * Doctor check: the broker the service would use, reached with the configured credentials and TLS
 * files (runtime/transport/probe.ts). With embeddedBroker "auto", no broker URL in the config and
 * nothing listening, the service would start its embedded broker: that is a warning (fine for a
 * trial, not for production), not a failure.
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
    return {
      id: 'broker', title, status: 'warn', detail: `nothing listens on ${config.embeddedBroker.host}:${config.embeddedBroker.port}: the service would start its embedded broker (MQTT 3.1.1)`,
      fix: '`sudo apt-get install mosquitto` (see deploy/mosquitto/), or set broker.url to your broker',
    };
  }
  const auth = [c.username !== undefined ? `user ${c.username}` : 'anonymous', c.tls ? 'TLS' : c.url.startsWith('mqtts:') ? 'TLS' : 'no TLS'].join(', ');
  try {
    const password = await resolveBrokerPassword(c);
    const r = await probeBroker({
      url: c.url, protocolVersion: c.protocolVersion, username: c.username, password, timeoutMs,
      tls: c.tls ? { caFile: c.tls.caFile, certFile: c.tls.certFile, keyFile: c.tls.keyFile, rejectUnauthorized: c.tls.rejectUnauthorized } : undefined,
    });
    return { id: 'broker', title, status: 'pass', detail: `${c.url} accepted the connection (${auth}, MQTT ${c.protocolVersion === 5 ? '5' : '3.1.1'}) in ${r.connectMs.toFixed(0)} ms` };
  } catch (e) {
    const err = asEdgeError(e);
    return { id: 'broker', title, status: 'fail', detail: `${c.url} (${auth}): ${err.message}`, fix: err.hint, code: err.code };
  }
}
