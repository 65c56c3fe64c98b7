/**
 * The identity of a JSON Schema as the validator generator saw it: sha256 of its JSON text.
 * compileSchema looks a schema's build-time validator up by this value, so a schema edited after
 * the last `npm run build` finds no validator (EDGE_ERR_INTERNAL) instead of a stale one.
 */
import { createHash } from 'node:crypto';

export function schemaFingerprint(schema: object): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex');
}
