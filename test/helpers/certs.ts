/**
 * Test PKI generated with the openssl CLI at test time (never committed): a CA, a server
 * certificate for 127.0.0.1/localhost, a client certificate (CN "edge-infer"), an unrelated second
 * CA with a client certificate of its own, and a client certificate that expired in 2020 (`openssl ca -startdate/-enddate`, since
 * `openssl x509 -days` cannot go negative on OpenSSL 3.0).
 *
 * Throws (from execFileSync) when openssl is missing or fails; the caller removes `dir`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** Client certificate signed by the CA, CN = clientCn. */
  readonly clientCert: string;
  readonly clientKey: string;
  readonly clientCn: string;
  /** A CA that signed nothing the broker uses. */
  readonly otherCaCert: string;
  /** Signed by the CA, valid 2020-01-01 .. 2020-01-02 only. */
  readonly expiredCert: string;
  readonly expiredKey: string;
  /** A client certificate (CN = clientCn) signed by the other CA. */
  readonly strangerCert: string;
  readonly strangerKey: string;
}

/** EC P-256 keys: fast to generate, accepted by mosquitto and node:tls. */
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] as const;

function ssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function selfSignedCa(dir: string, name: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  ssl(['req', '-x509', ...KEY, '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return { cert, key };
}

function csr(dir: string, name: string, cn: string): { csr: string; key: string } {
  const key = join(dir, `${name}.key`);
  const req = join(dir, `${name}.csr`);
  ssl(['req', ...KEY, '-nodes', '-keyout', key, '-out', req, '-subj', `/CN=${cn}`], dir);
  return { csr: req, key };
}

function sign(dir: string, ca: { cert: string; key: string }, req: string, out: string, ext: string): void {
  const extFile = join(dir, `${out}.ext`);
  writeFileSync(extFile, ext);
  ssl(['x509', '-req', '-in', req, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', join(dir, out), '-days', '2', '-extfile', extFile], dir);
}

/** A certificate valid only in January 2020, through a minimal `openssl ca` setup. */
function expired(dir: string, ca: { cert: string; key: string }, req: string, out: string): void {
  const db = join(dir, 'ca-db');
  mkdirSync(join(db, 'new'), { recursive: true });
  writeFileSync(join(db, 'index.txt'), '');
  writeFileSync(join(db, 'serial'), '1000\n');
  const conf = join(db, 'ca.cnf');
  writeFileSync(
    conf,
    [
      '[ca]',
      'default_ca = edge',
      '',
      '[edge]',
      `dir = ${db}`,
      'database = $dir/index.txt',
      'serial = $dir/serial',
      'new_certs_dir = $dir/new',
      `certificate = ${ca.cert}`,
      `private_key = ${ca.key}`,
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      'copy_extensions = none',
      'x509_extensions = client_ext',
      '',
      '[any]',
      'commonName = supplied',
      '',
      '[client_ext]',
      'basicConstraints = CA:FALSE',
      'extendedKeyUsage = clientAuth',
      '',
    ].join('\n'),
  );
  ssl(['ca', '-batch', '-config', conf, '-in', req, '-out', join(dir, out), '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-notext'], dir);
}

export function makeTestPki(clientCn = 'edge-infer'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'edge-pki-'));
  const ca = selfSignedCa(dir, 'ca');
  const other = selfSignedCa(dir, 'other-ca');
  const server = csr(dir, 'server', 'localhost');
  sign(dir, ca, server.csr, 'server.crt', 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const client = csr(dir, 'client', clientCn);
  sign(dir, ca, client.csr, 'client.crt', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  const stranger = csr(dir, 'stranger', clientCn);
  sign(dir, other, stranger.csr, 'stranger.crt', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  const old = csr(dir, 'expired', clientCn);
  expired(dir, ca, old.csr, 'expired.crt');
  return { dir, caCert: ca.cert, serverCert: join(dir, 'server.crt'), serverKey: server.key, clientCert: join(dir, 'client.crt'), clientKey: client.key, clientCn, otherCaCert: other.cert, expiredCert: join(dir, 'expired.crt'), expiredKey: old.key, strangerCert: join(dir, 'stranger.crt'), strangerKey: stranger.key };
}
