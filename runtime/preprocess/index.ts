/**
 * Builds the preprocessor a manifest declares (`"preprocess"` in model.json).
 *
 * Contract: `createPreprocessor` resolves to null when the model declares no preprocessing. It reads
 * the vocabulary once; the returned function is pure. Errors: EDGE_ERR_PATH_ESCAPE (vocab path with
 * "..", absolute, or a symlink out of the model folder), EDGE_ERR_FILE_MISSING (vocab unreadable),
 * EDGE_ERR_MANIFEST_INVALID (vocab empty or with an empty line, ids out of range, the target input
 * missing from `inputs` or not int64/int32 [batch, maxLength]).
 */
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { EdgeError } from '../errors.js';
import { relativePathProblem } from '../repository/manifest-checks.js';
import type { LoadedManifest } from '../repository/types.js';
import { textTokensPreprocessor } from './text-tokens.js';
import type { Preprocessor, TextTokensSpec } from './types.js';

export type { AudioSpec, EventSpec, ImageSpec, Preprocessor, PreprocessSpec, StreamsSpec, TextTokensSpec } from './types.js';
export { splitTokens, textTokensPreprocessor } from './text-tokens.js';

function inside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

async function readVocab(loaded: LoadedManifest, spec: TextTokensSpec): Promise<string[]> {
  const details = { model: loaded.manifest.id, vocab: spec.vocab };
  const problem = relativePathProblem(spec.vocab);
  if (problem !== null) throw new EdgeError('EDGE_ERR_PATH_ESCAPE', `preprocess vocab "${spec.vocab}" ${problem}`, { details });
  const joined = path.resolve(loaded.dir, spec.vocab);
  let text: string;
  try {
    const [realDir, real] = [await realpath(loaded.dir), await realpath(joined)];
    if (!inside(realDir, real)) throw new EdgeError('EDGE_ERR_PATH_ESCAPE', `preprocess vocab ${joined} resolves outside ${realDir}`, { details });
    text = await readFile(real, 'utf8');
  } catch (e) {
    if (e instanceof EdgeError) throw e;
    throw new EdgeError('EDGE_ERR_FILE_MISSING', `cannot read preprocess vocab ${joined}`, { details, cause: e });
  }
  const vocab = text.split('\n');
  if (vocab[vocab.length - 1] === '') vocab.pop();
  const empty = vocab.findIndex((t) => t === '' || t.includes('\r'));
  if (vocab.length === 0 || empty >= 0) {
    throw new EdgeError('EDGE_ERR_MANIFEST_INVALID', `preprocess vocab ${joined} must hold one non-empty token per line (LF)${empty >= 0 ? `; line ${empty + 1} is not` : ''}`, { details });
  }
  return vocab;
}

/** The model's text preprocessor, or null when its manifest declares none. */
export async function createPreprocessor(loaded: LoadedManifest): Promise<Preprocessor | null> {
  const spec = loaded.manifest.preprocess;
  // Image and audio preprocessing run per request in runtime/media/ (see media-checks.ts).
  if (spec === undefined || spec.kind !== 'text-tokens') return null;
  const details = { model: loaded.manifest.id, input: spec.input };
  const input = loaded.manifest.inputs.find((i) => i.name === spec.input);
  if (input === undefined) throw new EdgeError('EDGE_ERR_MANIFEST_INVALID', `preprocess feeds input "${spec.input}", which the manifest does not declare`, { details });
  const dtype = input.dtype;
  if (dtype !== 'int64' && dtype !== 'int32') throw new EdgeError('EDGE_ERR_MANIFEST_INVALID', `preprocess input "${spec.input}" must be int64 or int32, not ${dtype}`, { details });
  const len = input.shape[1];
  if (input.shape.length !== 2 || (typeof len === 'number' && len !== spec.maxLength)) {
    throw new EdgeError('EDGE_ERR_MANIFEST_INVALID', `preprocess input "${spec.input}" must be [batch, ${spec.maxLength}], manifest says [${input.shape.join(',')}]`, { details });
  }
  const vocab = await readVocab(loaded, spec);
  for (const [k, id] of [
    ['padId', spec.padId],
    ['unkId', spec.unkId],
  ] as const) {
    if (!Number.isInteger(id) || id < 0 || id >= vocab.length) throw new EdgeError('EDGE_ERR_MANIFEST_INVALID', `preprocess ${k} ${id} is outside the vocab (${vocab.length} tokens)`, { details });
  }
  return textTokensPreprocessor(spec, vocab, dtype);
}
