/**
 * Runs `edge-infer run` as a real child process (the built CLI) with a config file in a temp dir,
 * for end-to-end tests: real onnxruntime, real broker, real signals and exit codes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI = path.join(ROOT, 'bin', 'edge-infer.js');

export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly dir: string;
  /** Everything the service logged so far (stderr). */
  logs(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Waits until a log line contains `text`. */
  waitLog(text: string, timeoutMs?: number): Promise<void>;
}

/** Writes `config` to <tmp>/config.json (stateDir defaults to <tmp>/state) and starts the service. */
export function startService(config: Record<string, unknown>, args: string[] = [], dir?: string, env?: Record<string, string>): ServiceProcess {
  const d = dir ?? mkdtempSync(path.join(tmpdir(), 'edge-svc-'));
  const file = path.join(d, 'config.json');
  writeFileSync(file, JSON.stringify({ stateDir: path.join(d, 'state'), log: { level: 'info', format: 'json' }, ...config }));
  const child = spawn(process.execPath, [CLI, 'run', '--config', file, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
  let logs = '';
  const waiters: (() => void)[] = [];
  const onData = (b: Buffer): void => {
    logs += b.toString();
    for (const w of waiters.splice(0)) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      for (const w of waiters.splice(0)) w();
      resolve(code);
    }),
  );
  return {
    child,
    dir: d,
    logs: () => logs,
    exited,
    async waitLog(text, timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs;
      while (!logs.includes(text)) {
        if (child.exitCode !== null) throw new Error(`service exited (${child.exitCode}) before logging "${text}":\n${logs}`);
        const left = end - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for "${text}" in the service log:\n${logs}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(left, 100));
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
  };
}

/** Runs the CLI to completion; resolves with exit code, stdout and stderr. */
export function runCli(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...(options.env ?? {}) } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.stdin.end(options.input ?? '');
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
