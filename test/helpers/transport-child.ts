/**
 * Runs an MqttService with a FakeHandler in a child process, so tests can SIGKILL "the service".
 * Config: JSON in env EDGE_TRANSPORT_CHILD {url, dir, clientId, prefix, delayMs?, variant?}.
 * IPC: 'stats' -> replies with TransportStats; 'stop' -> clean stop, exit 0.
 */
import { MqttService } from '../../runtime/transport/mqtt-service.js';
import { FakeHandler } from './fake-handler.js';

interface ChildConfig {
  url: string;
  dir: string;
  clientId: string;
  prefix: string;
  delayMs?: number;
  variant?: string;
}

const cfg = JSON.parse(process.env['EDGE_TRANSPORT_CHILD'] ?? '{}') as ChildConfig;
const svc = await MqttService.start({ url: cfg.url, clientId: cfg.clientId, prefix: cfg.prefix, keepaliveS: 5, handler: new FakeHandler({ delayMs: cfg.delayMs ?? 0, variant: cfg.variant ?? 'child' }), outbox: { dir: cfg.dir, fsync: 'always' }, reconnect: { minMs: 50, maxMs: 300 } });
svc.setStatus({ variant: cfg.variant ?? 'child' });
process.on('message', (m) => {
  if (m === 'stats') process.send?.(svc.stats());
  if (m === 'stop') void svc.stop({ drainTimeoutMs: 2000 }).then(() => process.exit(0));
});
process.send?.('ready');
