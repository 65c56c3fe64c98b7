/** The options every command takes (main.ts adds them to each command's own; tests parse examples with them). */
import type { OptionSpec } from './command.js';

export const COMMON_OPTIONS: Record<string, OptionSpec> = { help: { type: 'boolean', short: 'h', help: 'show this help' }, json: { type: 'boolean', help: 'print one JSON document to stdout' }, 'log-level': { type: 'string', help: 'debug | info | warn | error (default info)' } };
