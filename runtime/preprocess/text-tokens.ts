/**
 * The `text-tokens` tokenizer (see TextTokensSpec). models/spam/recipe/train.py implements the same
 * rules in Python; test/preprocess-tokens.test.ts checks both give the same ids on the eval split.
 */
import { allocate, type TensorDtype } from '../tensor.js';
import type { Preprocessor, TextTokensSpec } from './types.js';

const A = 65,
  Z = 90,
  a = 97,
  z = 122,
  D0 = 48,
  D9 = 57;

function isWordChar(c: number): boolean {
  return (c >= a && c <= z) || (c >= A && c <= Z) || (c >= D0 && c <= D9);
}

/** Splits `text` into tokens by the spec's rules (lowercasing included). */
export function splitTokens(text: string, lowercase: TextTokensSpec['lowercase'], punctuation: string): string[] {
  const out: string[] = [];
  const s = lowercase === 'ascii' ? text.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : text;
  let start = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isWordChar(c)) {
      if (start < 0) start = i;
      continue;
    }
    if (start >= 0) {
      out.push(s.slice(start, i));
      start = -1;
    }
    // Punctuation tokens are single ASCII characters; a UTF-16 surrogate never matches one.
    if (c < 128 && punctuation.includes(s[i] as string)) out.push(s[i] as string);
  }
  if (start >= 0) out.push(s.slice(start));
  return out;
}

/** A tokenizer over a loaded vocabulary. `dtype` is the model input's element type (int64 or int32). */
export function textTokensPreprocessor(spec: TextTokensSpec, vocab: readonly string[], dtype: 'int64' | 'int32'): Preprocessor {
  const index = new Map<string, number>();
  vocab.forEach((t, i) => {
    if (!index.has(t)) index.set(t, i);
  });
  const L = spec.maxLength;
  return (texts) => {
    const ids = new Int32Array(texts.length * L).fill(spec.padId);
    texts.forEach((text, row) => {
      const toks = splitTokens(text, spec.lowercase, spec.punctuation);
      const n = Math.min(L, toks.length);
      for (let j = 0; j < n; j++) ids[row * L + j] = index.get(toks[j] as string) ?? spec.unkId;
    });
    const data = allocate(dtype as TensorDtype, ids.length);
    if (data instanceof BigInt64Array) for (let i = 0; i < ids.length; i++) data[i] = BigInt(ids[i] as number);
    else (data as Int32Array).set(ids);
    return { [spec.input]: { dtype, dims: [texts.length, L], data } };
  };
}
