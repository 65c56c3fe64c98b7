/**
 * A real mosquitto with a TLS listener (require_certificate), password auth, an optional ACL and
 * `log_type all` to a file, plus the PKI and the credentials the tests use. `stop()` removes
 * the broker and the PKI.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestPki, type TestPki } from './certs.js';
import { startMosquitto, type Mosquitto } from './mosquitto.js';
import { writeMosquittoPasswords } from './passwords.js';

export const SERVICE_USER = 'edge-infer';
export const SERVICE_PASSWORD = 'svc-Pa55-6f1c9e2d7b';
export const APP_USER = 'app-client';
export const APP_PASSWORD = 'app-Pa55-0a8b4c';

export interface SecureBroker {
  readonly broker: Mosquitto;
  readonly pki: TestPki;
  /** mqtts://127.0.0.1:<port> */
  readonly url: string;
  /** The broker's log so far (log_type all). */
  log(): string;
  /** Lines of the broker log matching `re`. */
  count(re: RegExp): number;
  stop(): Promise<void>;
}

/** `pki`: share one PKI between brokers (then stop() leaves it alone); default: a new one. */
export async function startSecureBroker(o: { aclFile?: string; pki?: TestPki } = {}): Promise<SecureBroker> {
  const pki = o.pki ?? makeTestPki(SERVICE_USER);
  const own = mkdtempSync(join(tmpdir(), 'edge-sbroker-'));
  const passwd = join(own, 'passwd');
  writeMosquittoPasswords(passwd, { [SERVICE_USER]: SERVICE_PASSWORD, [APP_USER]: APP_PASSWORD });
  const logFile = join(own, 'broker.log');
  const broker = await startMosquitto({
    allowAnonymous: false,
    extraConf: [`cafile ${pki.caCert}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`, 'require_certificate true', `password_file ${passwd}`, ...(o.aclFile !== undefined ? [`acl_file ${o.aclFile}`] : []), 'log_type all', `log_dest file ${logFile}`],
  });
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    broker,
    pki,
    url: `mqtts://127.0.0.1:${broker.port}`,
    log,
    count: (re) =>
      log()
        .split('\n')
        .filter((l) => re.test(l)).length,
    stop: async () => {
      await broker.stop();
      rmSync(own, { recursive: true, force: true });
      if (o.pki === undefined) rmSync(pki.dir, { recursive: true, force: true });
    },
  };
}

/** Polls `pred` every 50 ms until it holds; throws after timeoutMs with `what`. */
export async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
