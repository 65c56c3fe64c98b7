/**
 * Writes device-profiles/schema.json from profile-schema.ts.
 * Run after changing the schema: `npm run build && node dist/runtime/config/write-profile-schema.js`
 * (test/unit/config/profile-schema.test.ts fails while the committed file is stale).
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { packageRoot } from './package-root.js';
import { profileSchemaText } from './profile-schema.js';

const target = `${packageRoot(fileURLToPath(import.meta.url))}/device-profiles/schema.json`;
await writeFile(target, profileSchemaText());
process.stdout.write(`wrote ${target}\n`);
