/**
 * Reading broker secrets. Contract: the secret never appears in an error, log line or details;
 * errors carry only the file name, its mode and a reason.
 */
import { open } from 'node:fs/promises';
import { EdgeError } from '../errors.js';
import type { BrokerConfig } from './service-config-schema.js';

/**
 * Reads a secret file (one trailing newline stripped). Refuses with EDGE_ERR_CREDENTIALS a file that
 * is missing, unreadable, not a regular file, empty, or has any group/other permission bit (mode & 077).
 * The mode is checked on the opened descriptor, so a swap between check and read is not possible.
 */
export async function readSecret(file: string): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new EdgeError('EDGE_ERR_CREDENTIALS', `${file}: cannot open the credentials file (${reason})`, { details: { file, reason } });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      throw new EdgeError('EDGE_ERR_CREDENTIALS', `${file}: not a regular file`, { details: { file, reason: 'not-a-file' } });
    }
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    if ((st.mode & 0o077) !== 0) {
      throw new EdgeError('EDGE_ERR_CREDENTIALS', `${file}: mode ${mode} lets group or others read it; chmod 600 ${file}`, { details: { file, mode, reason: 'permissions' } });
    }
    const text = (await handle.readFile('utf8')).replace(/\r?\n$/, '');
    if (text === '') throw new EdgeError('EDGE_ERR_CREDENTIALS', `${file}: the credentials file is empty`, { details: { file, reason: 'empty' } });
    return text;
  } finally {
    await handle.close();
  }
}

/**
 * The broker password: broker.passwordFile (via readSecret) when set, else the environment variable
 * broker.passwordEnv, else undefined. Throws EDGE_ERR_CREDENTIALS as readSecret does.
 */
export async function resolveBrokerPassword(broker: Pick<BrokerConfig, 'passwordFile' | 'passwordEnv'>, env: Readonly<Record<string, string | undefined>> = process.env): Promise<string | undefined> {
  if (broker.passwordFile !== undefined) return readSecret(broker.passwordFile);
  const value = env[broker.passwordEnv];
  return value === undefined || value === '' ? undefined : value;
}
