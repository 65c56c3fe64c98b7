/** The --input flag of `infer` and `request`: a file path, or "-" for stdin. */
import { readFile } from 'node:fs/promises';
import { EdgeError } from '../errors.js';

/** The text of --input. Throws EDGE_ERR_INPUT_FILE naming the file when it cannot be read. */
export async function readInputText(ref: string): Promise<string> {
  try {
    if (ref !== '-') return await readFile(ref, 'utf8');
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } catch (e) {
    throw new EdgeError('EDGE_ERR_INPUT_FILE', `cannot read --input ${ref} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { details: { file: ref } });
  }
}
