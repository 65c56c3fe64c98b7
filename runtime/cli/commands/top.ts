/**
 * `edge-infer top`: a live view of one device or every device under a topic root, over MQTT only
 * (no access to the board needed), from the retained status and the telemetry topic.
 *
 * Modes: a TTY gets a full-screen view (q quits, j/k or arrows move between devices); a pipe
 * gets plain lines, one per model per telemetry document; `--once` prints one snapshot (`--json`:
 * one JSON document) and exits.
 *
 * Errors: EDGE_ERR_USAGE (flags), EDGE_ERR_CONFIG_INVALID (broker URL), EDGE_ERR_TIMEOUT (`--once`
 * and no device published within --timeout-ms). Broker trouble in live mode is shown on the screen
 * (or stderr) and retried, never fatal.
 *
 * Module graph: the service never imports this file or runtime/cli/top/ (checked by a test).
 */
import { EdgeError } from '../../errors.js';
import { watchDevices, type Watch } from '../../transport/watch.js';
import type { Command } from '../command.js';
import { Fleet, type FleetSnapshot } from '../top/fleet.js';
import { renderPlain, renderScreen } from '../top/render.js';
import { Screen, type Key } from '../top/terminal.js';
import { positiveInt, str } from '../values.js';

/** Redraws at most this often on a busy fleet, ms. */
const DRAW_EVERY_MS = 250;

export const command: Command = {
  name: 'top',
  summary: 'live view over MQTT of a device or a fleet: state, budget, temperature, outbox, per-model variant, req/s, latency',
  usage: '[--broker URL] [--username U] [--device ID | --prefix P | --group NAME] [--root edge] [--once [--json]] [--timeout-ms N]',
  examples: ['edge-infer top --broker mqtt://broker.local:1883', 'edge-infer top --device pi-kitchen --once --json'],
  options: {
    broker: { type: 'string', help: 'broker URL (default mqtt://localhost:1883)' },
    device: { type: 'string', help: 'only this device id (topics edge/<ID>/...); default: every device under --root' },
    prefix: { type: 'string', help: 'only the device with this full topic prefix (for a custom topicPrefix)' },
    group: { type: 'string', help: 'only the devices of this shared-work group (their status names it; issue 15)' },
    root: { type: 'string', help: 'topic root of the fleet (default edge)' },
    once: { type: 'boolean', help: 'print one snapshot and exit (with --json: one JSON document)' },
    'timeout-ms': { type: 'string', help: 'with --once: how long to wait for devices to report (default 12000)' },
    username: { type: 'string', help: 'broker user; the password comes from EDGE_INFER_MQTT_PASSWORD' },
  },
  async run(ctx) {
    if (ctx.positionals.length > 0) throw new EdgeError('EDGE_ERR_USAGE', `top takes no positional arguments (got: ${ctx.positionals.join(' ')})`);
    const device = str(ctx.values, 'device');
    const prefixFlag = str(ctx.values, 'prefix');
    if (device !== undefined && prefixFlag !== undefined) throw new EdgeError('EDGE_ERR_USAGE', 'give --device or --prefix, not both');
    const root = str(ctx.values, 'root') ?? 'edge';
    const prefix = prefixFlag ?? (device === undefined ? undefined : `${root}/${device}`);
    const once = ctx.values['once'] === true;
    if (ctx.json && !once) throw new EdgeError('EDGE_ERR_USAGE', '--json needs --once (a live view has no single document)');
    const timeoutMs = positiveInt(ctx.values, 'timeout-ms', 12_000);
    const url = str(ctx.values, 'broker') ?? 'mqtt://localhost:1883';
    const username = str(ctx.values, 'username');
    const password = process.env['EDGE_INFER_MQTT_PASSWORD'];
    const group = str(ctx.values, 'group');
    if (group !== undefined && (device !== undefined || prefixFlag !== undefined)) throw new EdgeError('EDGE_ERR_USAGE', 'give --group or --device/--prefix, not both');
    const fleet = new Fleet(group);
    const source = `${url} ${prefix ?? `${root}/+`}`;
    const now = (): number => performance.now();
    const watch = (onDoc: () => void, onError: (e: EdgeError) => void): Watch =>
      watchDevices({
        url,
        root,
        ...(prefix !== undefined ? { prefix } : {}),
        ...(username !== undefined ? { username } : {}),
        ...(password !== undefined ? { password } : {}),
        onDoc(kind, dev, doc) {
          if (kind === 'status') fleet.status(dev, doc, now());
          else fleet.telemetry(dev, doc, now());
          onDoc();
        },
        onError,
      });

    if (once) return runOnce(ctx, fleet, watch, timeoutMs, source);
    const stdout = process.stdout;
    if (!stdout.isTTY) return runPlain(ctx, fleet, watch);
    return runScreen(fleet, watch, source);
  },
};

/** Waits until every device seen has sent telemetry (or the timeout), then prints one snapshot. */
async function runOnce(ctx: Parameters<Command['run']>[0], fleet: Fleet, watch: (onDoc: () => void, onError: (e: EdgeError) => void) => Watch, timeoutMs: number, source: string): Promise<number> {
  let lastError: EdgeError | null = null;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const complete = (s: FleetSnapshot): boolean => s.devices.length > 0 && s.devices.every((d) => d.state === 'offline' || d.rssMB !== null);
  const w = watch(
    () => {
      if (complete(fleet.snapshot())) done();
    },
    (e) => {
      lastError = e;
    },
  );
  const timer = setTimeout(done, timeoutMs);
  try {
    await finished;
  } finally {
    clearTimeout(timer);
    await w.close();
  }
  const snap = fleet.snapshot();
  if (snap.devices.length === 0) {
    const le = lastError as EdgeError | null;
    if (le !== null) throw le;
    throw new EdgeError('EDGE_ERR_TIMEOUT', `no device published status or telemetry on ${source} within ${timeoutMs} ms`, { details: { timeoutMs } });
  }
  if (ctx.json) ctx.out(JSON.stringify(snap, null, 2));
  else for (const l of renderPlain(snap, new Date().toISOString())) ctx.out(l);
  return 0;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Not a TTY: plain lines for each telemetry document, until SIGINT/SIGTERM or a closed pipe. */
async function runPlain(ctx: Parameters<Command['run']>[0], fleet: Fleet, watch: (onDoc: () => void, onError: (e: EdgeError) => void) => Watch): Promise<number> {
  // One block per document that arrived (not per timer tick): a log of what the fleet reported.
  const w = watch(
    () => {
      for (const l of renderPlain(fleet.snapshot(), new Date().toISOString())) ctx.out(l);
    },
    (e) => process.stderr.write(`top: ${e.code}: ${e.message} (retrying)\n`),
  );
  const closed = new Promise<void>((resolve) => process.stdout.once('error', () => resolve()));
  await Promise.race([untilSignal(), closed]);
  await w.close();
  return 0;
}

async function runScreen(fleet: Fleet, watch: (onDoc: () => void, onError: (e: EdgeError) => void) => Watch, source: string): Promise<number> {
  let selected = 0;
  let problem: string | null = null;
  let pending: NodeJS.Timeout | null = null;
  let quit!: () => void;
  const quitting = new Promise<void>((resolve) => {
    quit = resolve;
  });
  const draw = (): void => {
    pending = null;
    const snap = fleet.snapshot();
    selected = Math.min(selected, Math.max(0, snap.devices.length - 1));
    const lines = renderScreen(snap, { width: screen.width, height: screen.height - (problem === null ? 0 : 1), selected, source });
    screen.draw(problem === null ? lines : [...lines, problem]);
  };
  const soon = (): void => {
    pending ??= setTimeout(draw, DRAW_EVERY_MS);
  };
  const onKey = (k: Key): void => {
    if (k === 'quit') quit();
    else {
      selected = Math.max(0, selected + (k === 'down' ? 1 : -1));
      draw();
    }
  };
  const stdin = process.stdin.isTTY ? process.stdin : null;
  const screen = new Screen(process.stdout, stdin, onKey, draw);
  const w = watch(
    () => {
      problem = null;
      soon();
    },
    (e) => {
      problem = `${e.code}: ${e.message} (retrying)`;
      soon();
    },
  );
  // Ages and "waiting" text change without messages too.
  const tick = setInterval(draw, 1000);
  draw();
  try {
    await Promise.race([quitting, untilSignal()]);
  } finally {
    clearInterval(tick);
    if (pending !== null) clearTimeout(pending);
    screen.close();
    await w.close();
  }
  return 0;
}
