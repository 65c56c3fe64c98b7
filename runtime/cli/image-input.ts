/**
 * `--image <file>` for `infer` and `request` (issue 11): the file's bytes as the JSON request form
 * {"id", "image": "<base64>"}, so the CLI takes the same decode path as an MQTT client.
 * Errors: EDGE_ERR_INPUT_FILE (unreadable), EDGE_ERR_USAGE (both --input and --image).
 */
import { readFile } from 'node:fs/promises';
import { EdgeError } from '../errors.js';

export const IMAGE_OPTION = { type: 'string', help: 'a JPEG or PNG file, for models whose manifest declares image preprocessing' } as const;

export async function imageRequestBody(file: string, inputGiven: boolean): Promise<{ id: string; image: string }> {
  if (inputGiven) throw new EdgeError('EDGE_ERR_USAGE', 'pass either --input or --image, not both');
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new EdgeError('EDGE_ERR_INPUT_FILE', `cannot read --image ${file}`, { cause: e, details: { file } });
  }
  return { id: 'cli', image: bytes.toString('base64') };
}
