/**
 * Runs a CLI command in this process (no child, no argv parsing) with its output collected: what
 * the command tests use to call `run(ctx)` directly. Logs are silenced; the package root is the cwd.
 */
import type { Command, CommandContext, ParsedValues } from '../../runtime/cli/command.js';
import { silentLogger } from '../../runtime/log.js';

export async function runInProcess(cmd: Command, positionals: string[], values: ParsedValues, json = true): Promise<{ code: number; out: string }> {
  let out = '';
  const ctx: CommandContext = {
    values,
    positionals,
    json,
    out: (s) => {
      out += s;
    },
    log: silentLogger,
    packageRoot: process.cwd(),
  };
  return { code: await cmd.run(ctx), out };
}
