/**
 * Regenerates the README's variant charts: `npm run plots` runs `edge-infer eval <model> --plot
 * docs/plots/<model>.svg --profile <profile>` for every model under models/ (native backend,
 * 1 thread, 200 runs at batch 1). Latencies are this machine's; the ringed variant is the plan
 * for the profile (default rpi4-2gb; `--profile <id>` to change it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const at = args.indexOf('--profile');
const profile = at >= 0 ? (args[at + 1] ?? 'rpi4-2gb') : 'rpi4-2gb';
const out = path.join(ROOT, 'docs', 'plots');
mkdirSync(out, { recursive: true });
const models = readdirSync(path.join(ROOT, 'models'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(ROOT, 'models', d.name, 'model.json')))
  .map((d) => d.name)
  .sort();
for (const model of models) {
  const file = path.join(out, `${model}.svg`);
  process.stderr.write(`plots: ${model} -> ${path.relative(ROOT, file)}\n`);
  execFileSync(process.execPath, [path.join(ROOT, 'bin', 'edge-infer.js'), 'eval', model, '--backend', 'native', '--runs', '200', '--plot', file, '--profile', profile], { stdio: ['ignore', 'ignore', 'inherit'] });
}
