/**
 * Writes models/schema.json from manifest-schema.ts:
 * `npm run build && node dist/runtime/repository/write-manifest-schema.js [out]`.
 * Default out: models/schema.json under the current directory.
 */
import { writeFile } from 'node:fs/promises';
import { manifestSchemaText } from './manifest-schema.js';

const out = process.argv[2] ?? 'models/schema.json';
await writeFile(out, manifestSchemaText());
process.stdout.write(`wrote ${out}\n`);
