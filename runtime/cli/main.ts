/**
 * `edge-infer <command> [options]`. Commands are imported lazily so `edge-infer run` does not pay
 * for the quantizer's protobuf code at start, and `--help` is instant.
 *
 * Exit codes: 0 ok; the EdgeError's exitCode otherwise (78 config, 64 usage, 69 unavailable, 70 internal).
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { EdgeError, EX_SOFTWARE, asEdgeError, toErrorPayload } from '../errors.js';
import { createLogger } from '../log.js';
import type { Command, CommandContext, OptionSpec } from './command.js';

type Loader = () => Promise<{ command: Command }>;

const COMMANDS: Record<string, { summary: string; load: Loader }> = {
  run: { summary: 'run the service: MQTT requests in, results, telemetry and status out', load: () => import('./commands/run.js') },
  plan: { summary: 'show which variant of each model this board would run, and why', load: () => import('./commands/plan.js') },
  detect: { summary: 'detect which device profile fits this host, and why', load: () => import('./commands/detect.js') },
  validate: { summary: 'check profiles, manifests and configs; exit 78 listing every problem', load: () => import('./commands/validate.js') },
  infer: { summary: 'run one local inference through the service\'s path', load: () => import('./commands/infer.js') },
  request: { summary: 'send one inference request over MQTT and print the answer', load: () => import('./commands/request.js') },
  bench: { summary: 'measure every variant on this device (--calibrate writes the calibration)', load: () => import('./commands/bench.js') },
  inspect: { summary: 'show an ONNX file\'s inputs, ops, parameters, MACs and memory cost', load: () => import('./commands/inspect.js') },
  quantize: { summary: 'make an int8, int4 or mixed-bit variant of an ONNX model', load: () => import('./commands/quantize.js') },
  prune: { summary: 'remove hidden units / channels by weight norm (structured pruning)', load: () => import('./commands/prune.js') },
  eval: { summary: 'measure accuracy, agreement, size and latency of a model or variant', load: () => import('./commands/eval.js') },
  top: { summary: 'live view over MQTT of a device or a fleet (variants, req/s, latency, budget, temperature)', load: () => import('./commands/top.js') },
  deploy: { summary: 'send a signed model bundle to devices over MQTT (install, health window, commit or roll back)', load: () => import('./commands/deploy.js') },
};

const COMMON: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  json: { type: 'boolean', help: 'print one JSON document to stdout' },
  'log-level': { type: 'string', help: 'debug | info | warn | error (default info)' },
};

export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return `edge-infer: edge inference runtime for Raspberry Pi class boards\n\nUsage: edge-infer <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun \`edge-infer <command> --help\` for a command's options.\n`;
}

function commandHelp(cmd: Command): string {
  const opts = { ...cmd.options, ...COMMON };
  const rows = Object.entries(opts).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ' <value>' : ''}`;
    return [flag, o.help] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length));
  return `Usage: edge-infer ${cmd.name} ${cmd.usage}\n\n${cmd.summary}\n\nOptions:\n${rows.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`).join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const out = (text: string): void => void process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out(topHelp());
    return name === undefined ? 64 : 0;
  }
  if (name === '--version' || name === '-v') {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
    out(pkg.version);
    return 0;
  }
  const wantsJson = rest.includes('--json');
  const entry = COMMANDS[name];
  try {
    if (entry === undefined) {
      throw new EdgeError('EDGE_ERR_USAGE', `unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}`);
    }
    const { command } = await entry.load();
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({ args: rest, options: { ...command.options, ...COMMON }, allowPositionals: true, strict: true });
    } catch (e) {
      throw new EdgeError('EDGE_ERR_USAGE', `${name}: ${(e as Error).message}`);
    }
    if (parsed.values['help'] === true) {
      out(commandHelp(command));
      return 0;
    }
    const level = parsed.values['log-level'];
    if (level !== undefined && !['debug', 'info', 'warn', 'error'].includes(String(level))) {
      throw new EdgeError('EDGE_ERR_USAGE', `--log-level must be one of debug, info, warn, error (got "${String(level)}")`);
    }
    const ctx: CommandContext = {
      values: parsed.values as CommandContext['values'],
      positionals: parsed.positionals,
      json: parsed.values['json'] === true,
      out,
      log: createLogger({ level: (level as 'debug' | 'info' | 'warn' | 'error' | undefined) ?? (name === 'run' ? 'info' : 'warn') }),
      packageRoot,
    };
    return await command.run(ctx);
  } catch (e) {
    const err = asEdgeError(e);
    if (wantsJson) {
      out(JSON.stringify({ error: toErrorPayload(err) }, null, 2));
    } else {
      process.stderr.write(`edge-infer: ${err.code}: ${err.message}\n  hint: ${err.hint}\n`);
      if (err.code === 'EDGE_ERR_INTERNAL' && err.cause instanceof Error && err.cause.stack) process.stderr.write(err.cause.stack + '\n');
    }
    return err.exitCode || EX_SOFTWARE;
  }
}

// Run when executed (bin/edge-infer.js imports this module). Exit explicitly: a command that is done
// must not be kept alive by a worker thread or timer someone forgot (stdout/stderr writes are
// synchronous on Linux for files, pipes and TTYs, so nothing printed is lost).
process.exit(await main(process.argv.slice(2)));
