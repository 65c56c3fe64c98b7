/**
 * A real mosquitto for tests: `/usr/sbin/mosquitto -c <tmp conf>` on a free loopback port.
 *
 * Conf: `listener <port> 127.0.0.1`, `allow_anonymous true`, `set_tcp_nodelay true` (unless
 * `tcpNoDelay: false`), `persistence` per options, plus `extraConf` lines (password_file, TLS
 * cafile/certfile/keyfile, acl_file... for issue 6). `kill()` is SIGKILL (sessions not saved),
 * `stop()` is SIGTERM (a persistent broker saves its sessions), `restart()` starts it again on the
 * same port with the same conf and data dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface MosquittoOptions {
  /** Keep sessions and queued messages across a stop()/restart(). Default false. */
  persistence?: boolean;
  /** Default true (DESIGN.md: the default false adds ~44 ms to QoS 1 round trips). */
  tcpNoDelay?: boolean;
  /** Extra mosquitto.conf lines, appended after the listener (auth, TLS, ACL). */
  extraConf?: readonly string[];
  /** Replace `allow_anonymous true`. Default true. */
  allowAnonymous?: boolean;
  /** Keep the broker's stderr (default: discarded). */
  verbose?: boolean;
}

export interface Mosquitto {
  readonly port: number;
  readonly url: string;
  /** The temp folder holding the conf and persistence files (removed by stop()). */
  readonly dir: string;
  kill(): Promise<void>;
  /** Graceful stop (SIGTERM) that keeps the temp dir so restart() works. */
  terminate(): Promise<void>;
  restart(): Promise<void>;
  /** SIGTERM and remove the temp dir. */
  stop(): Promise<void>;
}

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => {
      c.destroy();
      resolve(false);
    });
  });
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'edge-mosq-'));
  const conf = [
    `listener ${port} 127.0.0.1`,
    `allow_anonymous ${options.allowAnonymous === false ? 'false' : 'true'}`,
    `set_tcp_nodelay ${options.tcpNoDelay === false ? 'false' : 'true'}`,
    `persistence ${options.persistence === true ? 'true' : 'false'}`,
    `persistence_location ${dir}/`,
    'max_queued_messages 10000',
    // Run as root, mosquitto would drop to user "mosquitto", which cannot write our 0700 temp dir.
    `user ${userInfo().username}`,
    ...(options.extraConf ?? []),
    '',
  ].join('\n');
  const confFile = join(dir, 'mosquitto.conf');
  writeFileSync(confFile, conf);
  let proc: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const p = spawn(MOSQUITTO_BIN, ['-c', confFile], { stdio: ['ignore', 'ignore', options.verbose === true ? 'inherit' : 'ignore'] });
    proc = p;
    let exited = false;
    p.once('exit', () => {
      exited = true;
    });
    for (let i = 0; i < 200; i++) {
      if (exited) throw new Error(`mosquitto exited at start (conf ${confFile})`);
      if (await accepts(port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    p.kill('SIGKILL');
    throw new Error(`mosquitto did not listen on ${port}`);
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const p = proc;
    proc = undefined;
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill(sig);
    });
  };

  await launch();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    kill: () => signal('SIGKILL'),
    terminate: () => signal('SIGTERM'),
    restart: async () => {
      await signal('SIGTERM');
      await launch();
    },
    stop: async () => {
      await signal('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
