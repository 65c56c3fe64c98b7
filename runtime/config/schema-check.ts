/**
 * Schema checkers backed by validators compiled at build time (ajv standalone code in
 * dist/runtime/generated/validators.cjs, written by gen-validators.ts with the options in
 * precompiled-schemas.ts: JSON Schema 2020-12, every problem, defaults applied), and the
 * translation of ajv errors into EdgeErrors that name the file, the JSON path and what is allowed.
 * Nothing here loads ajv's compiler at run time; the generated code needs only ajv/dist/runtime/*.
 */
import { createRequire } from 'node:module';
import type { ErrorObject } from 'ajv';
import { EdgeError, type ErrorCode } from '../errors.js';
import type * as Generated from '../generated/validators.cjs';
import { schemaFingerprint } from './schema-fingerprint.js';

const GENERATED = '../generated/validators.cjs';
let generated: typeof Generated | undefined;

/** Throws EDGE_ERR_INTERNAL when the build step did not run or ran before `schema` last changed. */
function generatedValidator(schema: object): Generated.GeneratedValidator {
  try {
    generated ??= createRequire(import.meta.url)(GENERATED) as typeof Generated;
  } catch (e) {
    throw new EdgeError('EDGE_ERR_INTERNAL', `dist/runtime/generated/validators.cjs did not load (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); run \`npm run build\``, { cause: e });
  }
  const validate = generated.byFingerprint[schemaFingerprint(schema)];
  if (validate === undefined) {
    const title = (schema as { title?: unknown }).title;
    throw new EdgeError('EDGE_ERR_INTERNAL', `no build-time validator for schema ${JSON.stringify(title ?? '(untitled)')}: list it in runtime/config/precompiled-schemas.ts and run \`npm run build\` (dist/runtime/generated/validators.cjs is older than the schema)`);
  }
  return validate;
}

export interface SchemaProblem {
  /** JSON pointer into the document, "" for the root. */
  path: string;
  message: string;
  /** Allowed values or type, when the schema says. */
  allowed?: unknown;
}

export interface SchemaChecker<T> {
  /** Validates (and fills defaults into) `doc`; throws `code` listing every problem. */
  check(doc: unknown, file: string): T;
  /** Validates without throwing. */
  problems(doc: unknown): SchemaProblem[];
}

function toProblem(e: ErrorObject): SchemaProblem {
  const params = e.params as Record<string, unknown>;
  let path = e.instancePath;
  let message = e.message ?? 'is invalid';
  let allowed: unknown;
  switch (e.keyword) {
    case 'enum':
      allowed = params['allowedValues'];
      message = `must be one of ${JSON.stringify(allowed)}`;
      break;
    case 'const':
      allowed = [params['allowedValue']];
      break;
    case 'type':
      allowed = params['type'];
      message = `must be ${String(allowed)}`;
      break;
    case 'additionalProperties':
      path = `${path}/${String(params['additionalProperty'])}`;
      message = 'is not an allowed key';
      break;
    case 'required':
      path = `${path}/${String(params['missingProperty'])}`;
      message = 'is required';
      break;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      allowed = `${String(params['comparison'])} ${String(params['limit'])}`;
      break;
    default:
      break;
  }
  return allowed === undefined ? { path, message } : { path, message, allowed };
}

export function formatProblems(file: string, problems: readonly SchemaProblem[]): string {
  return problems.map((p) => `${file}: ${p.path === '' ? '(root)' : p.path} ${p.message}`).join('\n');
}

/**
 * A checker for `schema`, which must be listed in precompiled-schemas.ts. Its build-time validator
 * is looked up on first use, not at import (a command that never validates pays nothing); that first
 * use throws EDGE_ERR_INTERNAL when the generated validators are missing or older than the schema.
 */
export function compileSchema<T>(schema: object, code: ErrorCode): SchemaChecker<T> {
  let compiled: Generated.GeneratedValidator | undefined;
  const problems = (doc: unknown): SchemaProblem[] => {
    const validate = (compiled ??= generatedValidator(schema));
    return validate(doc) ? [] : (validate.errors ?? []).map(toProblem);
  };
  return {
    problems,
    check(doc: unknown, file: string): T {
      const found = problems(doc);
      if (found.length > 0) {
        throw new EdgeError(code, formatProblems(file, found), { details: { file, problems: found } });
      }
      return doc as T;
    },
  };
}

/** Raises `code` with the file and a single problem (for checks a schema cannot express). */
export function semanticError(code: ErrorCode, file: string, path: string, message: string, allowed?: unknown): EdgeError {
  const problem: SchemaProblem = allowed === undefined ? { path, message } : { path, message, allowed };
  return new EdgeError(code, formatProblems(file, [problem]), { details: { file, problems: [problem] } });
}
