/**
 * Preprocessing declared in a model manifest (`"preprocess"` in model.json): what the runtime does to
 * a raw request (text) before inference, so clients need not know the model's tokenizer.
 */
import type { NamedTensors } from '../tensor.js';

/**
 * Word tokenizer (models/spam): optional ASCII lowercasing (A-Z -> a-z, nothing else), then tokens are
 * maximal runs of ASCII letters and digits, plus every character listed in `punctuation` as a token of
 * its own; everything else separates tokens. Tokens map to their index in `vocab` (a text file, one
 * token per line, LF), unknown ones to `unkId`; the first `maxLength` tokens are kept and the rest of the row is
 * `padId`. The result feeds model input `input` as [batch, maxLength] (int64 or int32 per the manifest).
 */
export interface TextTokensSpec {
  kind: 'text-tokens';
  /** Text file with one token per line (LF), line index (from 0) = id; path relative to the model folder. */
  vocab: string;
  lowercase: 'ascii' | 'none';
  /** Characters that are single-character tokens (e.g. "!$%"). */
  punctuation: string;
  maxLength: number;
  /** Model input the ids feed. */
  input: string;
  padId: number;
  unkId: number;
}

export type PreprocessSpec = TextTokensSpec;

/**
 * Texts -> the model's input tensors (one row per text). Pure and synchronous; throws nothing for any
 * string (empty text gives a row of padId).
 */
export type Preprocessor = (texts: readonly string[]) => NamedTensors;
