/**
 * The interactive screen of `edge-infer top`: alternate screen, hidden cursor, raw keys. Draws
 * lines from render.ts; knows nothing about MQTT. No terminal library: the view needs only
 * cursor-home, clear-to-end-of-line and the alternate screen (a few VT100 sequences every
 * terminal emulator and the Linux console understand), and a dependency would be loaded for that.
 *
 * Contract: `close()` restores the terminal (cursor, main screen, cooked mode) and is safe to call
 * twice; callers must call it on every exit path, including signals.
 */
import type { ReadStream, WriteStream } from 'node:tty';

export type Key = 'quit' | 'up' | 'down';

const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';

export function keyOf(chunk: string): Key | null {
  if (chunk === 'q' || chunk === 'Q' || chunk === '\x03') return 'quit';
  if (chunk === 'k' || chunk === '\x1b[A' || chunk === '\x1bOA') return 'up';
  if (chunk === 'j' || chunk === '\x1b[B' || chunk === '\x1bOB') return 'down';
  return null;
}

export class Screen {
  readonly #out: WriteStream;
  readonly #in: ReadStream | null;
  #open = true;

  constructor(out: WriteStream, input: ReadStream | null, onKey: (k: Key) => void, onResize: () => void) {
    this.#out = out;
    this.#in = input;
    out.write(ENTER);
    out.on('resize', onResize);
    if (input !== null) {
      input.setRawMode(true);
      input.setEncoding('utf8');
      input.on('data', (chunk: string) => {
        // A fast typist or a paste can deliver several keys in one chunk.
        for (const part of chunk.match(/\x1b(?:\[|O)[A-D]|[\s\S]/g) ?? []) {
          const k = keyOf(part);
          if (k !== null) onKey(k);
        }
      });
      input.resume();
    }
  }

  get width(): number {
    return this.#out.columns || 80;
  }
  get height(): number {
    return this.#out.rows || 24;
  }

  /** Redraws in place: home, each line cleared to its end, the rest of the screen cleared. */
  draw(lines: readonly string[]): void {
    if (!this.#open) return;
    this.#out.write('\x1b[H' + lines.map((l) => `${l}\x1b[K`).join('\r\n') + '\x1b[J');
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    if (this.#in !== null) {
      this.#in.setRawMode(false);
      this.#in.pause();
    }
    this.#out.write(LEAVE);
  }
}
