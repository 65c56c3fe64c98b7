/**
 * The contract every `edge-infer <command>` module implements. main.ts parses nothing itself:
 * each command declares its options (node:util parseArgs format) and gets the parsed values.
 *
 * Contract: `run` resolves to an exit status (0 ok). It throws EdgeError for caller mistakes;
 * main.ts prints `code: message` + hint (or the JSON error payload with --json) and exits with
 * the error's exitCode (78 for config errors, 64 for usage).
 */
import type { ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** One line for --help, with the default. */
  help: string;
}

export type ParsedValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface CommandContext {
  values: ParsedValues;
  positionals: string[];
  /** True when --json was given: print one JSON document to stdout, nothing else. */
  json: boolean;
  /** Writes command output (stdout). */
  out: (text: string) => void;
  log: Logger;
  /** The package root (where device-profiles/ and models/ ship). */
  packageRoot: string;
}

export interface Command {
  name: string;
  /** One line for `edge-infer --help`. */
  summary: string;
  /** Usage line after `edge-infer <name>`, e.g. "<model> --input <file|->". */
  usage: string;
  options: Record<string, OptionSpec>;
  /** Command lines shown under "Examples:" in --help; each parses with `options` (test/cli-help.test.ts). */
  examples?: readonly string[];
  /** Help text for a common option (--json, --log-level) where it means something else for this command. */
  commonHelp?: Record<string, OptionSpec>;
  /** Hints that replace the registry's for this command (e.g. a local command's errors must not point at MQTT topics). */
  hints?: Partial<Record<ErrorCode, string>>;
  run(ctx: CommandContext): Promise<number>;
}
