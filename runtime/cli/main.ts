/**
 * `edge-infer <command> [options]`. Commands are imported lazily so `edge-infer run` does not pay
 * for the quantizer's protobuf code at start, and `--help` is instant.
 *
 * Exit codes: 0 ok; the EdgeError's exitCode otherwise (78 config, 64 usage, 69 unavailable, 70 internal);
 * a command killed by SIGINT / SIGTERM exits as the signal (the shell shows 130 / 143), except `run`,
 * which drains and exits 0. The README's exit-code table lists the same (test/readme-cli.test.ts).
 *
 * Output contract (issue 13): a closed stdout (`| head -1`) ends the output quietly (no EPIPE stack
 * trace) and the command still exits with its own status; errors are one `edge-infer: CODE: message`
 * line plus a hint on stderr (or `{"error": {...}}` on stdout with --json), never a stack trace unless
 * `--log-level debug` asks for one.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { EdgeError, EX_SOFTWARE, EX_USAGE, asEdgeError, toErrorPayload } from '../errors.js';
import { createLogger } from '../log.js';
import type { Command, CommandContext, OptionSpec } from './command.js';
import { COMMON_OPTIONS } from './common-options.js';

type Loader = () => Promise<{ command: Command }>;

const COMMANDS: Record<string, { summary: string; load: Loader }> = {
  run: { summary: 'run the service: MQTT requests in, results, telemetry and status out', load: () => import('./commands/run.js') },
  plan: { summary: 'show which variant of each model this board would run, and why', load: () => import('./commands/plan.js') },
  detect: { summary: 'detect which device profile fits this host, and why', load: () => import('./commands/detect.js') },
  validate: { summary: 'check profiles, manifests and configs; exit 78 listing every problem', load: () => import('./commands/validate.js') },
  infer: { summary: "run one local inference through the service's path", load: () => import('./commands/infer.js') },
  request: { summary: 'send one inference request over MQTT and print the answer', load: () => import('./commands/request.js') },
  bench: { summary: 'measure every variant on this device (--calibrate writes the calibration)', load: () => import('./commands/bench.js') },
  inspect: { summary: "show an ONNX file's inputs, ops, parameters, MACs and memory cost", load: () => import('./commands/inspect.js') },
  quantize: { summary: 'make an int8, int4 or mixed-bit variant of an ONNX model', load: () => import('./commands/quantize.js') },
  prune: { summary: 'remove hidden units / channels by weight norm (structured pruning)', load: () => import('./commands/prune.js') },
  eval: { summary: 'measure accuracy, agreement, size and latency of a model or variant', load: () => import('./commands/eval.js') },
  top: { summary: 'live view over MQTT of a device or a fleet (variants, req/s, latency, budget, temperature)', load: () => import('./commands/top.js') },
  doctor: { summary: 'check this board can run the service, with a fix for each failure', load: () => import('./commands/doctor.js') },
  reload: { summary: 'reload a running service (SIGHUP) and wait until its re-plan is done (systemd ExecReload)', load: () => import('./commands/reload.js') },
  deploy: { summary: 'send a signed model bundle to devices over MQTT (install, health window, commit or roll back)', load: () => import('./commands/deploy.js') },
};

const COMMON: Record<string, OptionSpec> = COMMON_OPTIONS;

export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return `edge-infer: edge inference runtime for Raspberry Pi class boards\n\nUsage: edge-infer <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun \`edge-infer <command> --help\` for a command's options.\n`;
}

function commandHelp(cmd: Command): string {
  const opts = { ...cmd.options, ...COMMON, ...(cmd.commonHelp ?? {}) };
  const rows = Object.entries(opts).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ' <value>' : ''}`;
    return [flag, o.help] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length));
  const examples = (cmd.examples ?? []).map((e) => `  ${e}`).join('\n');
  return `Usage: edge-infer ${cmd.name} ${cmd.usage}\n\n${cmd.summary}\n\nOptions:\n${rows.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`).join('\n')}\n${examples === '' ? '' : `\nExamples:\n${examples}\n`}`;
}

/** The registered command names. */
const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/** Loads a command module by name (undefined for an unknown name). */
async function loadCommand(name: string): Promise<Command | undefined> {
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  return entry === undefined ? undefined : (await entry.load()).command;
}

let stdoutClosed = false;

/**
 * A reader that goes away (`| head -1`) makes stdout emit EPIPE asynchronously; without a listener
 * node dies with an unhandled 'error' stack trace. Output then stops quietly; stderr errors are
 * dropped (nowhere left to report them).
 */
function guardStdio(): void {
  process.stdout.on('error', () => {
    stdoutClosed = true;
  });
  process.stderr.on('error', () => undefined);
}

function usageError(message: string): number {
  process.stderr.write(`edge-infer: EDGE_ERR_USAGE: ${message}\n  hint: run \`edge-infer --help\`\n`);
  return EX_USAGE;
}

export async function main(argv: string[]): Promise<number> {
  guardStdio();
  const out = (text: string): void => {
    if (!stdoutClosed) process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  };
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(topHelp());
    return usageError('missing command');
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    // `help <command>` is `<command> --help`.
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic === undefined) {
      out(topHelp());
      return 0;
    }
    const cmd = await loadCommand(topic);
    if (cmd === undefined || rest.length > 1) return usageError(cmd === undefined ? `no command "${topic}"; commands: ${COMMAND_NAMES.join(', ')}` : `unexpected arguments: ${rest.slice(1).join(' ')}`);
    out(commandHelp(cmd));
    return 0;
  }
  if (name === '--version' || name === '-v') {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
    out(pkg.version);
    return 0;
  }
  const wantsJson = rest.includes('--json');
  const debug = rest.some((a, i) => a === '--log-level=debug' || (a === '--log-level' && rest[i + 1] === 'debug'));
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  let hints: Command['hints'];
  try {
    if (entry === undefined) {
      throw new EdgeError('EDGE_ERR_USAGE', `unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}`);
    }
    const { command } = await entry.load();
    hints = command.hints;
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
    const ctx: CommandContext = { values: parsed.values as CommandContext['values'], positionals: parsed.positionals, json: parsed.values['json'] === true, out, log: createLogger({ level: (level as 'debug' | 'info' | 'warn' | 'error' | undefined) ?? (name === 'run' ? 'info' : 'warn') }), packageRoot };
    return await command.run(ctx);
  } catch (e) {
    const err = asEdgeError(e);
    // The usage hint names the command the operator typed.
    const usageHint = err.code === 'EDGE_ERR_USAGE' && entry !== undefined ? `run \`edge-infer ${name} --help\`` : undefined;
    const hint = hints?.[err.code] ?? usageHint ?? err.hint;
    if (wantsJson) {
      out(JSON.stringify({ error: { ...toErrorPayload(err), hint } }, null, 2));
    } else {
      process.stderr.write(`edge-infer: ${err.code}: ${err.message}\n  hint: ${hint}\n`);
    }
    if (err.code === 'EDGE_ERR_INTERNAL') {
      const stack = err.cause instanceof Error ? err.cause.stack : undefined;
      process.stderr.write(debug && stack !== undefined ? stack + '\n' : '  (run again with --log-level debug for the stack trace)\n');
    }
    return err.exitCode || EX_SOFTWARE;
  }
}

// Run when executed (bin/edge-infer.js imports this module). Exit explicitly: a command that is done
// must not be kept alive by a worker thread or timer someone forgot (stdout/stderr writes are
// synchronous on Linux for files, pipes and TTYs, so nothing printed is lost).
process.exit(await main(process.argv.slice(2)));
