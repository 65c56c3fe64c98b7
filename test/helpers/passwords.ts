/**
 * mosquitto password files for tests, made with `mosquitto_passwd -b` (the broker reads hashes,
 * never the plain text). Throws (from execFileSync) when mosquitto_passwd fails.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

export const MOSQUITTO_PASSWD_BIN = '/usr/bin/mosquitto_passwd';

/** Writes `file` with one hashed entry per user (mode 0600, as mosquitto wants). */
export function writeMosquittoPasswords(file: string, users: Readonly<Record<string, string>>): void {
  writeFileSync(file, '', { mode: 0o600 });
  for (const [user, password] of Object.entries(users)) {
    execFileSync(MOSQUITTO_PASSWD_BIN, ['-b', file, user, password], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
}
