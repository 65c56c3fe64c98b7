/**
 * The zero-setup broker: aedes (MQTT 3.1.1 only) in this process, for `edge-infer run` when no
 * broker is configured and nothing listens on localhost:1883 (issue 3 "Embedded default").
 * Throws (rejects) EDGE_ERR_BROKER_UNREACHABLE when the port cannot be bound.
 */
import { Aedes } from 'aedes';
import { createConnection, createServer, type Server } from 'node:net';
import { EdgeError } from '../errors.js';

export interface EmbeddedBrokerOptions {
  /** Default 127.0.0.1 (never exposed to the network by default). */
  host?: string;
  /** Default 1883; 0 picks a free port. */
  port?: number;
}

export interface EmbeddedBroker {
  /** mqtt://host:port, with the port actually bound. */
  readonly url: string;
  readonly port: number;
  /** Closes every client connection and the listener. */
  close(): Promise<void>;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const aedes = await Aedes.createBroker();
  const server: Server = createServer((socket) => {
    socket.setNoDelay(true);
    aedes.handle(socket);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 1883, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    throw new EdgeError('EDGE_ERR_BROKER_UNREACHABLE', `cannot start the embedded broker on ${host}:${options.port ?? 1883}: ${e instanceof Error ? e.message : String(e)}`, { details: { host, port: options.port ?? 1883 }, cause: e });
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : (options.port ?? 1883);
  return {
    url: `mqtt://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        aedes.close(() => server.close(() => resolve()));
      }),
  };
}

/** True when something accepts TCP connections on host:port within `timeoutMs` (default 500). */
export function isPortListening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (v: boolean): void => {
      socket.destroy();
      clearTimeout(t);
      resolve(v);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
