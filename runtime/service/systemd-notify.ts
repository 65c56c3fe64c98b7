/**
 * sd_notify(3) for a Type=notify unit without native addons: READY=1, STATUS=, RELOADING=1,
 * STOPPING=1 and WATCHDOG=1.
 *
 * Why a child process: the notify socket ($NOTIFY_SOCKET) is an AF_UNIX SOCK_DGRAM socket and Node
 * has no unix datagram sockets (node:dgram is UDP only), so the message is sent by systemd's own
 * `systemd-notify` binary (package systemd, always present where systemd runs).
 *
 * What that requires of the unit (deploy/systemd/edge-infer.service):
 * - `NotifyAccess=all`: the datagram comes from the systemd-notify child's PID, not the main PID;
 *   with the default `NotifyAccess=main` systemd drops it and the unit never becomes ready.
 * - Nothing else: systemd-notify >= 246 (Debian 12 ships 252) follows the message with a BARRIER=1
 *   datagram and waits until systemd has processed it, which closes the old race where the short-
 *   lived sender exited before systemd could attribute it to the unit's cgroup. We do not pass
 *   `--pid`: it would only add MAINPID=, and the main PID already is this process (ExecStart goes
 *   through /usr/bin/env, which execs node in place).
 *
 * Contract:
 * - With NOTIFY_SOCKET unset every call resolves false at once and spawns nothing.
 * - Calls never reject: a failing or missing systemd-notify is logged (`systemd.notify_failed`)
 *   and resolves false. Messages are sent one at a time, in call order.
 * - The watchdog pings only while the health check passes, so a hung engine gets the service
 *   killed (SIGABRT) and restarted by systemd instead of being kept alive by a healthy timer.
 */
import { execFile } from 'node:child_process';
import { asEdgeError } from '../errors.js';
import { startLoop } from '../loop.js';
import { refTimers, type Timers } from '../timers.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';

export interface SystemdNotifierOptions {
  /** Default process.env (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID are read from it). */
  env?: NodeJS.ProcessEnv;
  /** Path or name of the notify command. Default "systemd-notify" (found on PATH). */
  command?: string;
  /** The longest one systemd-notify run may take before it is killed, ms. Default 10000. */
  timeoutMs?: number;
  /** Default silentLogger. */
  log?: Logger;
}

const KEY = /^[A-Z][A-Z0-9_]*$/;

/** A notify field value on one line: systemd splits the datagram at newlines. */
function oneLine(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').slice(0, 1024);
}

export class SystemdNotifier {
  readonly #env: NodeJS.ProcessEnv;
  readonly #command: string;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: SystemdNotifierOptions = {}) {
    this.#env = options.env ?? process.env;
    this.#command = options.command ?? 'systemd-notify';
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#log = options.log ?? silentLogger;
  }

  /** True when running under a Type=notify unit (NOTIFY_SOCKET is set). */
  get enabled(): boolean {
    return (this.#env['NOTIFY_SOCKET'] ?? '') !== '';
  }

  /**
   * Sends the fields as one message, e.g. { READY: '1', STATUS: 'serving 2 models' }.
   * Resolves true when systemd-notify exited 0. Throws RangeError for a key that is not an
   * upper-case notify variable (a caller mistake); otherwise never rejects.
   */
  notify(fields: Readonly<Record<string, string>>): Promise<boolean> {
    const args: string[] = [];
    for (const [k, v] of Object.entries(fields)) {
      if (!KEY.test(k)) throw new RangeError(`not a notify variable: ${k}`);
      args.push(`${k}=${oneLine(v)}`);
    }
    if (!this.enabled || args.length === 0) return Promise.resolve(false);
    const send = this.#queue.then(() => this.#run(args));
    this.#queue = send;
    return send;
  }

  /** READY=1 (start-up finished), with an optional STATUS= line. */
  ready(status?: string): Promise<boolean> {
    return this.notify(status === undefined ? { READY: '1' } : { READY: '1', STATUS: status });
  }

  /** STATUS= text shown by `systemctl status`. */
  status(text: string): Promise<boolean> {
    return this.notify({ STATUS: text });
  }

  /** RELOADING=1 (SIGHUP reload started); send ready() when it is done. */
  reloading(status?: string): Promise<boolean> {
    return this.notify(status === undefined ? { RELOADING: '1' } : { RELOADING: '1', STATUS: status });
  }

  /** STOPPING=1 (shutdown started). */
  stopping(status?: string): Promise<boolean> {
    return this.notify(status === undefined ? { STOPPING: '1' } : { STOPPING: '1', STATUS: status });
  }

  /** WATCHDOG=1 keep-alive ping. */
  watchdog(): Promise<boolean> {
    return this.notify({ WATCHDOG: '1' });
  }

  #run(args: string[]): Promise<boolean> {
    return new Promise((resolve) => {
      execFile(this.#command, args, { env: this.#env, timeout: this.#timeoutMs, windowsHide: true }, (err, _stdout, stderr) => {
        if (err === null) {
          resolve(true);
          return;
        }
        this.#log.warn('systemd.notify_failed', { command: this.#command, message: args.join(' '), stderr: String(stderr).trim().slice(0, 200), error: asEdgeError(err) });
        resolve(false);
      });
    });
  }
}

/**
 * The watchdog ping interval for this process, ms: half of WATCHDOG_USEC (the sd_watchdog_enabled
 * rule), or null when no watchdog is armed, the value is not a positive integer, or WATCHDOG_PID
 * names another process (a child that inherited the environment must not ping).
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): number | null {
  const usecText = env['WATCHDOG_USEC'];
  if (usecText === undefined || !/^\d+$/.test(usecText)) return null;
  const usec = Number(usecText);
  if (usec <= 0) return null;
  const pidText = env['WATCHDOG_PID'];
  if (pidText !== undefined && pidText !== '' && Number(pidText) !== pid) return null;
  return usec / 2 / 1000;
}

/** The watchdog's timers (not unref'd: the watchdog lives as long as the service). */
export type WatchdogTimers = Timers;

const realTimers: WatchdogTimers = refTimers;

export interface WatchdogOptions {
  /** Where pings go; a SystemdNotifier in the service. */
  notifier: Pick<SystemdNotifier, 'watchdog'>;
  /** Ping period, ms; use watchdogIntervalMs(). Must be > 0. */
  intervalMs: number;
  /**
   * True when the service can do its job (engines answer, queues move). A false answer, a throw
   * or no answer within healthTimeoutMs skips the ping. The event loop being alive is implied: a
   * blocked loop never runs the timer.
   */
  healthy: () => boolean | Promise<boolean>;
  /** Longest wait for healthy(), ms. Default intervalMs / 2. */
  healthTimeoutMs?: number;
  /** Default real timers (not unref'd: the watchdog lives as long as the service). */
  timers?: WatchdogTimers;
  log?: Logger;
}

export interface Watchdog {
  /** Stops pinging; resolves once a check in progress has finished. Idempotent. */
  stop(): Promise<void>;
  /** Pings sent successfully. */
  readonly pings: number;
  /** Checks that found the service unhealthy (no ping sent). */
  readonly skipped: number;
}

/** Starts pinging every intervalMs while healthy. Throws RangeError for intervalMs <= 0. */
export function startWatchdog(options: WatchdogOptions): Watchdog {
  if (!(options.intervalMs > 0)) throw new RangeError(`intervalMs must be > 0, got ${options.intervalMs}`);
  const timers = options.timers ?? realTimers;
  const log = options.log ?? silentLogger;
  const healthTimeoutMs = options.healthTimeoutMs ?? options.intervalMs / 2;
  let pings = 0;
  let skipped = 0;

  const check = (): Promise<boolean> =>
    new Promise((resolve) => {
      let done = false;
      const finish = (ok: boolean, reason?: string, error?: unknown): void => {
        if (done) return;
        done = true;
        timers.clearTimeout(timer);
        if (!ok) log.warn('systemd.watchdog_unhealthy', { reason, ...(error === undefined ? {} : { error: asEdgeError(error) }) });
        resolve(ok);
      };
      const timer = timers.setTimeout(() => finish(false, 'health check did not answer in time'), healthTimeoutMs);
      try {
        Promise.resolve(options.healthy()).then(
          (ok) => finish(ok === true, 'health check failed'),
          (e: unknown) => finish(false, 'health check threw', e),
        );
      } catch (e) {
        finish(false, 'health check threw', e);
      }
    });

  const tick = async (): Promise<void> => {
    if (await check()) {
      if (await options.notifier.watchdog()) pings += 1;
    } else {
      skipped += 1;
    }
  };

  // First ping right away: systemd arms the watchdog when the service starts, not when it is ready.
  const loop = startLoop({ intervalMs: options.intervalMs, tick, immediate: true, timers, onError: (e) => log.warn('systemd.watchdog_failed', { error: asEdgeError(e) }) });

  return {
    stop: () => loop.stop(),
    get pings() {
      return pings;
    },
    get skipped() {
      return skipped;
    },
  };
}
