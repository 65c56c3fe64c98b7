/**
 * mulberry32: a small seeded PRNG (2^32 states) for tests, fuzzers and benchmarks, so a failure can
 * be reproduced from its seed. `mulberry32` gives [0, 1); `signedUniform` gives [-1, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function signedUniform(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() * 2 - 1;
}
