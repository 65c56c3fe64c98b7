/**
 * The --input flag of `infer` and `request`: a file path, or "-" for stdin.
 *
 * Contract (issue 13, defect 7): the size is checked before the bytes are read: a regular file over
 * `maxBytes` is refused from its size alone, and a stream (stdin, a FIFO) is read only up to
 * `maxBytes` + 1 bytes. Errors: EDGE_ERR_TOO_LARGE (details.bytes is the file size, or "more than
 * maxBytes" for a stream), EDGE_ERR_INPUT_FILE naming the file and the reason (missing, a folder,
 * unreadable).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { EdgeError } from '../errors.js';

function tooLarge(ref: string, bytes: number | null, maxBytes: number): EdgeError {
  const size = bytes === null ? `more than ${maxBytes} bytes` : `${bytes} bytes`;
  return new EdgeError('EDGE_ERR_TOO_LARGE', `--input ${ref} holds ${size}; the limit is ${maxBytes} (limits.maxPayloadBytes in the service config)`, { details: { file: ref, maxPayloadBytes: maxBytes, ...(bytes === null ? {} : { bytes }) } });
}

function unreadable(ref: string, e: unknown): EdgeError {
  const code = (e as NodeJS.ErrnoException).code ?? String(e);
  return new EdgeError('EDGE_ERR_INPUT_FILE', `cannot read --input ${ref} (${code})`, { details: { file: ref, reason: code } });
}

async function readCapped(stream: Readable, ref: string, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of stream) {
    const chunk = c as Buffer;
    total += chunk.length;
    if (total > maxBytes) {
      stream.destroy();
      throw tooLarge(ref, null, maxBytes);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The text of --input, at most `maxBytes` bytes. See the module contract for errors. */
export async function readInputText(ref: string, maxBytes: number): Promise<string> {
  if (ref === '-') {
    try {
      return (await readCapped(process.stdin, ref, maxBytes)).toString('utf8');
    } catch (e) {
      if (e instanceof EdgeError) throw e;
      throw unreadable(ref, e);
    }
  }
  const s = await stat(ref).catch((e: unknown) => {
    throw unreadable(ref, e);
  });
  if (s.isDirectory()) throw unreadable(ref, Object.assign(new Error('is a folder'), { code: 'EISDIR' }));
  if (s.isFile() && s.size > maxBytes) throw tooLarge(ref, s.size, maxBytes);
  try {
    return (await readCapped(createReadStream(ref), ref, maxBytes)).toString('utf8');
  } catch (e) {
    if (e instanceof EdgeError) throw e;
    throw unreadable(ref, e);
  }
}
