/**
 * Child process for test/swap-leak.test.ts and bench: runs load/unload cycles and variant swaps
 * through the real native engine and prints one JSON line of figures. Runs under plain node (no tap
 * import hooks in every worker thread). Args: <cycles> <swaps>.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createEngine } from '../../runtime/backend/select-engine.js';
import type { SessionSpec } from '../../runtime/backend/types.js';
import { ROOT } from './service-process.js';

export interface SwapFigures {
  cycles: number;
  swaps: number;
  rssBeforeMB: number;
  rssAfterMB: number;
  rssEvery50MB: number[];
  variants: Record<string, number>;
  unloadedRefusedWith: string | null;
}

const DIGITS = path.join(ROOT, 'models', 'digits');
const VARIANTS = ['student-fp32', 'student-int8', 'teacher-fp32', 'teacher-int8', 'student-mixed', 'teacher-pruned50'];
const session: SessionSpec = { intraOpThreads: 1, graphOptimization: 'all', memArena: true, memPattern: true };

async function main(cycles: number, swaps: number): Promise<SwapFigures> {
  const sample = (JSON.parse(readFileSync(path.join(DIGITS, 'eval', 'eval.json'), 'utf8')) as { inputs: number[][] }).inputs[0] as number[];
  const input = () => ({ input: { dtype: 'float32' as const, dims: [1, 64], data: new Float32Array(sample) } });
  const rssMB = (): number => process.memoryUsage().rss / 1024 / 1024;
  const argmax = (a: Float32Array): number => a.reduce((best, v, i) => (v > (a[best] as number) ? i : best), 0);
  const engine = createEngine('native');
  const files = VARIANTS.map((v) => ({ v, bytes: new Uint8Array(readFileSync(path.join(DIGITS, `${v}.onnx`))) }));
  const expected: Record<string, number> = {};

  const cycle = async (i: number): Promise<void> => {
    const f = files[i % files.length] as { v: string; bytes: Uint8Array };
    const key = `digits@${f.v}#${i}`;
    await engine.load({ key, file: path.join(DIGITS, `${f.v}.onnx`), bytes: f.bytes, session, warmup: input() });
    const out = await engine.run(key, input());
    const label = argmax(out.outputs['logits']?.data as Float32Array);
    expected[f.v] ??= label;
    if (expected[f.v] !== label) throw new Error(`${f.v} answered ${label}, earlier ${String(expected[f.v])}`);
    await engine.unload(key);
  };
  // A swap loads the new variant and runs it before the old one is unloaded (as a re-plan does).
  let live: string | undefined;
  const swap = async (i: number): Promise<void> => {
    const f = files[i % files.length] as { v: string; bytes: Uint8Array };
    const key = `swap@${f.v}#${i}`;
    await engine.load({ key, file: path.join(DIGITS, `${f.v}.onnx`), bytes: f.bytes, session });
    await engine.run(key, input());
    if (live !== undefined) await engine.unload(live);
    live = key;
  };

  for (let i = 0; i < 12; i++) await cycle(i);
  for (let i = 0; i < 12; i++) await swap(i);
  const rssBeforeMB = rssMB();
  const rssEvery50MB: number[] = [];
  for (let i = 0; i < cycles; i++) {
    await cycle(i);
    if (i % 50 === 49) rssEvery50MB.push(rssMB());
  }
  for (let i = 0; i < swaps; i++) {
    await swap(i);
    if (i % 50 === 49) rssEvery50MB.push(rssMB());
  }
  const rssAfterMB = rssMB();
  let unloadedRefusedWith: string | null = null;
  try {
    await engine.run('digits@student-fp32#0', input());
  } catch (e) {
    unloadedRefusedWith = (e as { code?: string }).code ?? 'uncoded';
  }
  await engine.close();
  return { cycles, swaps, rssBeforeMB, rssAfterMB, rssEvery50MB, variants: expected, unloadedRefusedWith };
}

const [cycles, swaps] = process.argv.slice(2).map(Number);
main(cycles ?? 100, swaps ?? 100).then(
  (f) => {
    process.stdout.write(JSON.stringify(f) + '\n');
  },
  (e: unknown) => {
    process.stderr.write(String(e instanceof Error ? e.stack : e) + '\n');
    process.exit(1);
  },
);
