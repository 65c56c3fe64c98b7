/**
 * Types of dist/runtime/generated/validators.cjs. That file is not committed: `npm run build` (and
 * `prepare`, run by `npm ci`) writes it with runtime/config/gen-validators.ts, as ajv standalone code
 * for every schema in runtime/config/precompiled-schemas.ts. Keep the named exports below in step
 * with PRECOMPILED_SCHEMAS (the agreement test in test/unit/config/ fails otherwise).
 *
 * CommonJS, not ESM: ajv's standalone output calls require("ajv/dist/runtime/...") even with
 * `code.esm`, and schema-check.ts loads it synchronously on first use (createRequire).
 */
import type { ErrorObject } from 'ajv';

export interface GeneratedValidator {
  /** Validates `doc` and fills schema defaults into it; on false, `errors` lists every problem. */
  (doc: unknown): boolean;
  errors?: ErrorObject[] | null;
}

export declare const profile: GeneratedValidator;
export declare const serviceConfig: GeneratedValidator;
export declare const manifest: GeneratedValidator;
export declare const calibration: GeneratedValidator;
export declare const request: GeneratedValidator;

/** schemaFingerprint(schema) of each schema above -> its validator. */
export declare const byFingerprint: Readonly<Record<string, GeneratedValidator>>;
