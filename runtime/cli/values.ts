/** Typed reads of parsed CLI values (node:util parseArgs output). */
import { EdgeError } from '../errors.js';
import type { ParsedValues } from './command.js';

export function str(values: ParsedValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(values: ParsedValues, name: string): boolean {
  return values[name] === true;
}

/** A positive integer flag, or `fallback`. Throws EDGE_ERR_USAGE naming the flag. */
export function positiveInt(values: ParsedValues, name: string, fallback: number): number {
  const v = str(values, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new EdgeError('EDGE_ERR_USAGE', `--${name} must be a positive integer (got "${v}")`);
  return n;
}

/** The one required positional argument, named `what` in the error. */
export function onePositional(positionals: string[], what: string): string {
  const [first, ...rest] = positionals;
  if (first === undefined) throw new EdgeError('EDGE_ERR_USAGE', `missing ${what}`);
  if (rest.length > 0) throw new EdgeError('EDGE_ERR_USAGE', `unexpected arguments: ${rest.join(' ')}`);
  return first;
}

/** For commands that take no positional argument: a stray word (`plan typo`) is an error, not ignored. */
export function noPositionals(positionals: string[]): void {
  if (positionals.length > 0) throw new EdgeError('EDGE_ERR_USAGE', `unexpected arguments: ${positionals.join(' ')} (this command takes options only)`);
}
