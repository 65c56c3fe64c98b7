/**
 * Where the service's MQTT connections go (split out of service.ts, issue 16): the configured
 * broker, or the embedded aedes broker when none is configured and nothing listens (config
 * `embeddedBroker.mode`), and the connection options the transport and the fleet link share.
 * Errors: what startEmbeddedBroker throws (the port cannot be bound).
 */
import type { ServiceConfig } from '../config/service-config.js';
import type { Logger } from '../log.js';
// The embedded broker (aedes, ~12 MB of RSS) is imported only when it is started.
import type { EmbeddedBroker } from '../transport/embedded-broker.js';
import type { ConnectionOptions } from '../transport/mqtt-options.js';

export interface BrokerEndpoint {
  url: string;
  protocolVersion: 4 | 5;
  /** The embedded broker this service started (closed by the service), or null. */
  embedded: EmbeddedBroker | null;
}

/** `brokerConfigured`: the URL came from a flag or the config file (then no embedded broker in "auto"). */
export async function brokerEndpoint(c: ServiceConfig, brokerConfigured: boolean, log: Logger): Promise<BrokerEndpoint> {
  const mode = c.embeddedBroker.mode;
  let embed = mode === 'always';
  if (mode === 'auto' && !brokerConfigured) {
    const { isPortListening } = await import('../transport/embedded-broker.js');
    embed = !(await isPortListening(c.embeddedBroker.host, c.embeddedBroker.port));
  }
  if (!embed) return { url: c.broker.url, protocolVersion: c.broker.protocolVersion, embedded: null };
  const { startEmbeddedBroker } = await import('../transport/embedded-broker.js');
  const embedded = await startEmbeddedBroker({ host: c.embeddedBroker.host, port: c.embeddedBroker.port });
  log.info('broker.embedded', { url: embedded.url, note: 'no broker configured and nothing listening: started the in-process aedes broker (MQTT 3.1.1); use mosquitto in production' });
  // aedes speaks MQTT 3.1.1 only.
  return { url: embedded.url, protocolVersion: 4, embedded };
}

/** The connection options for `endpoint` from the config's broker section (password already resolved). */
export function connectionOptions(c: ServiceConfig, endpoint: BrokerEndpoint, password: string | undefined): ConnectionOptions {
  const tls = c.broker.tls;
  return {
    url: endpoint.url,
    protocolVersion: endpoint.protocolVersion,
    clientId: c.broker.clientId,
    keepaliveS: c.broker.keepaliveS,
    ...(c.broker.username !== undefined ? { username: c.broker.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(tls ? { tls: stripUndefined({ caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile, rejectUnauthorized: tls.rejectUnauthorized }) } : {}),
  };
}

function stripUndefined<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}
