/**
 * Poison requests (issue 12): a QoS 1 request whose input kills the service (a native crash, or a
 * hang the systemd watchdog ends) is never acknowledged, so the broker hands it over again after
 * every restart and the service crash-loops; one that kills only the worker thread makes the
 * lifecycle restart it and, after `maxCrashes`, exclude a good variant. This journal remembers, per
 * model, which inputs were running when the service or a worker died, and refuses an input that
 * was running during `crashesToPoison` deaths with EDGE_ERR_POISON_REQUEST (the transport answers
 * that once and acknowledges it), so the model goes on.
 *
 * Files, in `<stateDir>/poison/`:
 * - `journal`: append-only lines `S <seq> <maxRun> <model> <key>` written (write(2), no fsync) just
 *   before a request is submitted to its model's queue, and `E <seq>` when it settles. Without
 *   fsync a line survives a process death (it is in the page cache), not a power cut: a power cut
 *   is not the request's fault anyway. Compacted to its open lines past 64 KiB. The file is open
 *   only while some request is journaled (closed when the last one settles), so an idle service
 *   holds no file of the state directory open for writing (a read-only remount is not refused).
 * - `suspects.json`: { model, key, crashes } of inputs that were running at a death, newest last,
 *   at most `maxSuspects` (older ones are forgotten). Written (tmp + rename) only after a death.
 *
 * Attribution at `open()` (after a death): the journal's open entries are the requests queued or
 * running when the process died. A model's queue runs in arrival order, one run at a time of at
 * most `maxRun` requests (the model's maxBatch), so the running ones are its oldest `maxRun` open
 * entries: only those count a crash (a queued request did nothing wrong). A worker-thread crash
 * (`workerCrashed`) counts the requests of the run that crashed, which the engine names exactly.
 * A clean stop leaves no open entries (every request settles, answered or shut down). An input
 * that runs to the end is cleared (`succeeded`): only deaths with no success of that input in
 * between add up, so inputs that recur (a sensor's silence, a blank frame) are not made poison by
 * unrelated power cuts over the months, and a poison input, which never completes, is.
 *
 * The key is the sha1 of the model id and the input tensors (names, dtypes, dims, bytes): the
 * input is what crashes, whoever sends it and under whatever request id.
 *
 * Never throws after `open()`: a journal that cannot be written (disk full, read-only) is turned
 * off with one warning and the service runs without poison protection.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { EdgeError, asEdgeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { NamedTensors } from '../tensor.js';

export interface PoisonJournalOptions {
  /** The service's state directory; the journal lives in `<stateDir>/poison/`. */
  stateDir: string;
  /** Deaths an input must have been running at to be refused. Default 2. */
  crashesToPoison?: number;
  /** Suspect inputs remembered. Default 256. */
  maxSuspects?: number;
  log: Logger;
}

export interface Suspect {
  model: string;
  key: string;
  crashes: number;
}

/** A request's journal entry: `settled()` once it is answered either way (idempotent). */
export interface JournalEntry {
  settled(): void;
}

const COMPACT_BYTES = 64 * 1024;
const NO_ENTRY: JournalEntry = { settled: () => undefined };

interface OpenLine {
  seq: number;
  maxRun: number;
  model: string;
  key: string;
  line: string;
}

export class PoisonJournal {
  readonly #dir: string;
  readonly #n: number;
  readonly #max: number;
  readonly #log: Logger;
  readonly #suspects = new Map<string, Suspect>();
  readonly #open = new Map<number, OpenLine>();
  #fd: number | null = null;
  /** False once the journal could not be written (see #off). */
  #on = false;
  #bytes = 0;
  #warned = false;
  #seq = 0;

  private constructor(o: PoisonJournalOptions) {
    this.#dir = path.join(o.stateDir, 'poison');
    this.#n = Math.max(1, o.crashesToPoison ?? 2);
    this.#max = Math.max(1, o.maxSuspects ?? 256);
    this.#log = o.log;
  }

  /** Reads the last run's journal, counts a crash for what was running at its death, starts a new journal. Never throws. */
  static open(o: PoisonJournalOptions): PoisonJournal {
    const j = new PoisonJournal(o);
    try {
      mkdirSync(j.#dir, { recursive: true, mode: 0o700 });
      j.#readSuspects();
      const running = runningAtDeath(j.#readJournal());
      for (const r of running) j.#count(r.model, r.key);
      if (running.length > 0) {
        j.#writeSuspects();
        j.#log.warn('poison.crash_counted', { running: running.map((r) => ({ model: r.model, key: r.key, crashes: j.#suspects.get(`${r.model}\0${r.key}`)?.crashes })), hint: 'the service died while these inputs were running; an input running at ' + j.#n + ' deaths is refused with EDGE_ERR_POISON_REQUEST' });
      }
      closeSync(openSync(path.join(j.#dir, 'journal'), 'w'));
      j.#on = true;
    } catch (e) {
      j.#off(e);
    }
    return j;
  }

  /** The input's key (see the module comment). Call before the tensors are handed to the engine. */
  static key(model: string, inputs: NamedTensors): string {
    const h = createHash('sha1').update(model);
    for (const name of Object.keys(inputs).sort()) {
      const t = inputs[name];
      if (t === undefined) continue;
      h.update(`\0${name}\0${t.dtype}\0${t.dims.join(',')}\0`);
      h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    return h.digest('hex').slice(0, 32);
  }

  /** Deaths this input was running at, when that makes it poison (>= crashesToPoison); else null. */
  poison(model: string, key: string): number | null {
    const s = this.#suspects.get(`${model}\0${key}`);
    return s !== undefined && s.crashes >= this.#n ? s.crashes : null;
  }

  /** Journals a request about to be submitted to `model`'s queue (runs of at most `maxRun` requests). */
  start(model: string, key: string, maxRun: number): JournalEntry {
    if (!this.#on) return NO_ENTRY;
    if (this.#fd === null) {
      try {
        this.#fd = openSync(path.join(this.#dir, 'journal'), 'a');
      } catch (e) {
        this.#off(e);
        return NO_ENTRY;
      }
    }
    const seq = ++this.#seq;
    const line = `S ${seq} ${maxRun} ${model} ${key}\n`;
    this.#open.set(seq, { seq, maxRun, model, key, line });
    this.#write(line);
    let done = false;
    return {
      settled: () => {
        if (done) return;
        done = true;
        this.#open.delete(seq);
        this.#write(`E ${seq}\n`);
        if (this.#open.size === 0 && this.#fd !== null) {
          try {
            closeSync(this.#fd);
          } catch {
            /* nothing left to lose */
          }
          this.#fd = null;
        }
      },
    };
  }

  /** The input ran to the end: it is no suspect any more (see the module comment). */
  succeeded(model: string, key: string): void {
    if (this.#suspects.size === 0 || !this.#suspects.delete(`${model}\0${key}`)) return;
    try {
      this.#writeSuspects();
    } catch (e) {
      this.#off(e);
    }
  }

  /** The worker running this input died (EDGE_ERR_WORKER_CRASHED): counts a crash for it. */
  workerCrashed(model: string, key: string): void {
    this.#count(model, key);
    try {
      this.#writeSuspects();
    } catch (e) {
      this.#off(e);
    }
  }

  /** Suspects, newest last (status, tests). */
  suspects(): Suspect[] {
    return [...this.#suspects.values()].map((s) => ({ ...s }));
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
    this.#on = false;
  }

  #count(model: string, key: string): void {
    const id = `${model}\0${key}`;
    const s = this.#suspects.get(id) ?? { model, key, crashes: 0 };
    s.crashes += 1;
    this.#suspects.delete(id);
    this.#suspects.set(id, s);
    while (this.#suspects.size > this.#max) this.#suspects.delete(this.#suspects.keys().next().value as string);
  }

  #write(line: string): void {
    if (this.#fd === null) return;
    try {
      this.#bytes += writeSync(this.#fd, line);
      if (this.#bytes > COMPACT_BYTES) this.#compact();
    } catch (e) {
      this.#off(e);
    }
  }

  /** Rewrites the journal with its open lines only (tmp + rename). */
  #compact(): void {
    const file = path.join(this.#dir, 'journal');
    const body = [...this.#open.values()].map((o) => o.line).join('');
    writeFileSync(`${file}.tmp`, body);
    renameSync(`${file}.tmp`, file);
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = openSync(file, 'a');
    this.#bytes = Buffer.byteLength(body);
  }

  #readJournal(): OpenLine[] {
    let text: string;
    try {
      text = readFileSync(path.join(this.#dir, 'journal'), 'utf8');
    } catch {
      return [];
    }
    const open = new Map<number, OpenLine>();
    for (const line of text.split('\n')) {
      const f = line.split(' ');
      if (f[0] === 'S' && f.length === 5) {
        const seq = Number(f[1]);
        const maxRun = Number(f[2]);
        if (Number.isInteger(seq) && Number.isInteger(maxRun) && maxRun > 0) open.set(seq, { seq, maxRun, model: f[3] as string, key: f[4] as string, line: `${line}\n` });
      } else if (f[0] === 'E' && f.length === 2) {
        open.delete(Number(f[1]));
      }
      // Anything else (a line torn by the death) is skipped.
    }
    return [...open.values()];
  }

  #readSuspects(): void {
    let list: unknown;
    try {
      list = JSON.parse(readFileSync(path.join(this.#dir, 'suspects.json'), 'utf8'));
    } catch {
      return;
    }
    if (!Array.isArray(list)) return;
    for (const s of list as Partial<Suspect>[]) {
      if (typeof s?.model === 'string' && typeof s.key === 'string' && Number.isInteger(s.crashes) && (s.crashes ?? 0) > 0) {
        this.#suspects.set(`${s.model}\0${s.key}`, { model: s.model, key: s.key, crashes: s.crashes as number });
      }
    }
  }

  #writeSuspects(): void {
    const file = path.join(this.#dir, 'suspects.json');
    writeFileSync(`${file}.tmp`, JSON.stringify([...this.#suspects.values()]));
    renameSync(`${file}.tmp`, file);
  }

  #off(e: unknown): void {
    this.#on = false;
    if (this.#fd !== null) {
      try {
        closeSync(this.#fd);
      } catch {
        /* already unusable */
      }
    }
    this.#fd = null;
    if (this.#warned) return;
    this.#warned = true;
    this.#log.warn('poison.journal_off', { dir: this.#dir, error: asEdgeError(e), hint: 'the poison-request journal cannot be written; requests that crash the service are not recognised until the state directory is writable again (restart)' });
  }
}

/** The open entries that were running at the death: per model, its oldest `maxRun` (see the module comment). Pure. */
export function runningAtDeath(open: readonly OpenLine[]): { model: string; key: string }[] {
  const byModel = new Map<string, OpenLine[]>();
  for (const o of [...open].sort((a, b) => a.seq - b.seq)) {
    const list = byModel.get(o.model) ?? [];
    list.push(o);
    byModel.set(o.model, list);
  }
  const out: { model: string; key: string }[] = [];
  for (const list of byModel.values()) {
    const first = list[0];
    if (first !== undefined) for (const o of list.slice(0, first.maxRun)) out.push({ model: o.model, key: o.key });
  }
  return out;
}

/**
 * Runs one request's queue submit (`run`) under the journal: refuses a poison input with
 * EDGE_ERR_POISON_REQUEST before it runs, journals it while it is queued or running, and counts a
 * crash for it when its worker died (EDGE_ERR_WORKER_CRASHED). Without a journal, just `run()`.
 */
export async function journaled<T>(journal: PoisonJournal | undefined, model: string, variant: string, inputs: NamedTensors, maxRun: number, run: () => Promise<T>): Promise<T> {
  if (journal === undefined) return run();
  const key = PoisonJournal.key(model, inputs);
  const crashes = journal.poison(model, key);
  if (crashes !== null) {
    throw new EdgeError('EDGE_ERR_POISON_REQUEST', `model "${model}": this input was running when the worker or the service died ${crashes} times; it is not run again`, { details: { model, variant, key, crashes } });
  }
  const entry = journal.start(model, key, maxRun);
  try {
    const r = await run();
    journal.succeeded(model, key);
    return r;
  } catch (e) {
    if (asEdgeError(e).code === 'EDGE_ERR_WORKER_CRASHED') journal.workerCrashed(model, key);
    throw e;
  } finally {
    entry.settled();
  }
}
