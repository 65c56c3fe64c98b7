/**
 * One ajv instance (JSON Schema 2020-12, defaults applied, unknown keys refused by the schemas'
 * additionalProperties: false) and the translation of ajv errors into EdgeErrors that name the
 * file, the JSON path and what is allowed.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { EdgeError, type ErrorCode } from '../errors.js';

const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true });

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
    case 'enum': allowed = params['allowedValues']; message = `must be one of ${JSON.stringify(allowed)}`; break;
    case 'const': allowed = [params['allowedValue']]; break;
    case 'type': allowed = params['type']; message = `must be ${String(allowed)}`; break;
    case 'additionalProperties': path = `${path}/${String(params['additionalProperty'])}`; message = 'is not an allowed key'; break;
    case 'required': path = `${path}/${String(params['missingProperty'])}`; message = 'is required'; break;
    case 'minimum': case 'maximum': case 'exclusiveMinimum': case 'exclusiveMaximum':
      allowed = `${String(params['comparison'])} ${String(params['limit'])}`; break;
    default: break;
  }
  return allowed === undefined ? { path, message } : { path, message, allowed };
}

export function formatProblems(file: string, problems: readonly SchemaProblem[]): string {
  return problems.map((p) => `${file}: ${p.path === '' ? '(root)' : p.path} ${p.message}`).join('\n');
}

/**
 * A checker for `schema`. The schema is compiled on first use, not at import: ajv code generation
 * costs 50-150 ms per schema, and a command that never validates that format should not pay it.
 */
export function compileSchema<T>(schema: object, code: ErrorCode): SchemaChecker<T> {
  let compiled: ValidateFunction | undefined;
  const problems = (doc: unknown): SchemaProblem[] => {
    const validate = (compiled ??= ajv.compile(schema));
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
