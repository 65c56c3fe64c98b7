/**
 * Faults and leaks (issue 6): load/unload and variant swaps through the real native engine (one
 * worker thread per model, terminated on unload), 200 in all by default. The engine runs in a child
 * process under plain node (tap's import hooks would load into every worker thread); its RSS
 * (worker threads included) after the run may exceed RSS after a warm-up by at most RSS_BOUND_MB.
 * Longer: SWAP_CYCLES=1000 npx tap dist/test/swap-leak.test.js
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SwapFigures } from './helpers/swap-leak-child.js';

// npm test runs 40 (test time budget); CI runs 200 (.ci/run).
const CYCLES = Number(process.env['SWAP_CYCLES'] ?? 25);
const RSS_BOUND_MB = 20;
const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'helpers', 'swap-leak-child.js');

function runChild(cycles: number, swaps: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env['NODE_OPTIONS'];
    const child = spawn(process.execPath, [CHILD, String(cycles), String(swaps)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.once('exit', (code) => resolve({ code, out, err }));
  });
}

t.test(`${CYCLES} load/unload cycles and ${CYCLES} variant swaps keep RSS growth within ${RSS_BOUND_MB} MB`, { timeout: 600_000 }, async (t) => {
  const r = await runChild(CYCLES, CYCLES);
  t.equal(r.code, 0, `the child ran every cycle ${r.err.slice(-2000)}`);
  const f = JSON.parse(r.out.trim().split('\n').at(-1) ?? '{}') as SwapFigures;
  const growth = f.rssAfterMB - f.rssBeforeMB;
  t.comment(`RSS ${f.rssBeforeMB.toFixed(1)} MB after warm-up -> ${f.rssAfterMB.toFixed(1)} MB after ${f.cycles} load/unload + ${f.swaps} swaps (growth ${growth.toFixed(1)} MB; every 50: ${f.rssEvery50MB.map((m) => m.toFixed(1)).join(', ')})`);
  t.equal(Object.keys(f.variants).length, 6, 'every variant loaded and answered the same label every time');
  t.equal(f.unloadedRefusedWith, 'EDGE_ERR_MODEL_UNAVAILABLE', 'an unloaded model is gone');
  t.ok(growth <= RSS_BOUND_MB, `RSS growth ${growth.toFixed(1)} MB is within ${RSS_BOUND_MB} MB`);
});
