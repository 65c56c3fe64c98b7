/** Shared paths for the config tests (compiled to dist/, so paths are found from the package root). */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { packageRoot } from '../../../runtime/config/package-root.js';

export const ROOT = packageRoot(fileURLToPath(import.meta.url));
export const PROFILES_DIR = join(ROOT, 'device-profiles');
export const HOSTS_DIR = join(ROOT, 'test', 'fixtures', 'hosts');
