/**
 * File-tree helpers for staging packages: recursive listing and copying with normalised modes.
 *
 * Contract: paths returned are relative, with "/" separators, sorted; symlinks are reported as
 * files (lstat) and copied as symlinks; modes are 0644 for files and 0755 for folders unless the
 * caller marks a file executable.
 */
import { chmod, copyFile, lstat, mkdir, open, readdir, readlink, symlink } from 'node:fs/promises';
import path from 'node:path';

/** Every file (and symlink) under `root`, relative; folders named in `skipDirs` are not entered. */
export async function listFiles(root: string, skipDirs: ReadonlySet<string> = new Set()): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    const entries = await readdir(path.join(root, rel), { withFileTypes: true });
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (!skipDirs.has(e.name)) await walk(r);
      } else {
        out.push(r);
      }
    }
  }
  await walk('');
  return out.sort();
}

/**
 * Copies one file (or symlink) to `to`, creating folders; mode 0755 when `executable` or when the
 * source is an executable script ("#!" first line and an x bit), else 0644.
 */
export async function copyOne(from: string, to: string, executable = false): Promise<void> {
  await mkdir(path.dirname(to), { recursive: true, mode: 0o755 });
  const st = await lstat(from);
  if (st.isSymbolicLink()) {
    await symlink(await readlink(from), to);
    return;
  }
  await copyFile(from, to);
  let script = false;
  if (!executable && (st.mode & 0o111) !== 0) {
    const fh = await open(from, 'r');
    try {
      const head = Buffer.alloc(2);
      await fh.read(head, 0, 2, 0);
      script = head.toString('latin1') === '#!';
    } finally {
      await fh.close();
    }
  }
  await chmod(to, executable || script ? 0o755 : 0o644);
}

/** Sum of file sizes under `root` in bytes, per file (symlinks count 0). */
export async function fileSizes(root: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const rel of await listFiles(root)) {
    const st = await lstat(path.join(root, rel));
    sizes.set(rel, st.isSymbolicLink() ? 0 : st.size);
  }
  return sizes;
}

/** Sets 0755 on every folder under `root` (umask-proof, what lintian expects). */
export async function normaliseDirModes(root: string): Promise<void> {
  await chmod(root, 0o755);
  const entries = await readdir(root, { withFileTypes: true, recursive: true });
  for (const e of entries) if (e.isDirectory()) await chmod(path.join(e.parentPath, e.name), 0o755);
}
