/**
 * Variant file checks for `edge-infer plan` (issue 12 item 3), cached by size and mtime so a plan
 * stays fast: a file whose path, size and mtime match an entry that was verified against the same
 * sha256 is not read again; anything else is verified in full (repository/integrity.ts).
 *
 * Contract: `verify` resolves when the file may be loaded, or rejects with integrity.ts's codes
 * (EDGE_ERR_FILE_MISSING, EDGE_ERR_FILE_TRUNCATED, EDGE_ERR_INTEGRITY, EDGE_ERR_PATH_ESCAPE). The
 * cache file is a convenience: unreadable or invalid means empty, a failed `save` is ignored.
 * `edge-infer run` does not use it: it verifies the bytes it loads.
 */
import { mkdir, readFile, stat, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { resolveVariantFile, verifyVariant } from './integrity.js';
import type { LoadedManifest, VariantManifest } from './types.js';

interface Entry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

export class VerifiedFiles {
  readonly #file: string | null;
  readonly #entries: Map<string, Entry>;
  #dirty = false;

  private constructor(file: string | null, entries: Map<string, Entry>) {
    this.#file = file;
    this.#entries = entries;
  }

  /** Opens the cache at `file` (null: no cache, every check reads the file). */
  static async open(file: string | null): Promise<VerifiedFiles> {
    const entries = new Map<string, Entry>();
    if (file !== null) {
      try {
        const doc = JSON.parse(await readFile(file, 'utf8')) as unknown;
        if (typeof doc === 'object' && doc !== null) {
          for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
            const e = v as Partial<Entry> | null;
            if (typeof e?.size === 'number' && typeof e.mtimeMs === 'number' && typeof e.sha256 === 'string') entries.set(k, { size: e.size, mtimeMs: e.mtimeMs, sha256: e.sha256 });
          }
        }
      } catch {
        /* absent or unreadable: start empty */
      }
    }
    return new VerifiedFiles(file, entries);
  }

  /** The default cache file: $XDG_CACHE_HOME/edge-infer/verified-files.json (~/.cache/...). */
  static defaultFile(env: NodeJS.ProcessEnv, home: string): string {
    return path.join(env['XDG_CACHE_HOME'] ?? path.join(home, '.cache'), 'edge-infer', 'verified-files.json');
  }

  /** Checks size and sha256 of the variant's file (see the module contract). */
  async verify(loaded: LoadedManifest, variant: VariantManifest): Promise<void> {
    const file = await resolveVariantFile(loaded, variant);
    const want = variant.sha256.toLowerCase();
    const st = await stat(file).catch(() => null);
    const hit = this.#entries.get(file);
    if (st !== null && hit !== undefined && hit.size === st.size && hit.mtimeMs === st.mtimeMs && hit.sha256 === want && st.size === variant.bytes) return;
    await verifyVariant(loaded, variant);
    if (st !== null) {
      this.#entries.set(file, { size: st.size, mtimeMs: st.mtimeMs, sha256: want });
      this.#dirty = true;
    }
  }

  /** Writes the cache (atomically) when it changed; never rejects. */
  async save(): Promise<void> {
    if (this.#file === null || !this.#dirty) return;
    try {
      await mkdir(path.dirname(this.#file), { recursive: true });
      const tmp = `${this.#file}.tmp-${process.pid}`;
      await writeFile(tmp, JSON.stringify(Object.fromEntries(this.#entries)));
      await rename(tmp, this.#file);
      this.#dirty = false;
    } catch {
      /* a cache: ignore */
    }
  }
}
