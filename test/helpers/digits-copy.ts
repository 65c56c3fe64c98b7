/**
 * A private copy of models/digits in a temp models folder with only its two fp32 variants
 * (teacher-fp32, student-fp32: complete entries whose files exist), so these tests do not depend
 * on other variants being added to the shared checkout meanwhile.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './service-process.js';

export interface DigitsManifest {
  inputs: { name: string; dtype: string; shape: (string | number)[] }[];
  outputs: { name: string; dtype: string; shape: (string | number)[] }[];
  reference?: string;
  variants: { id: string; file: string; sha256?: string; bytes?: number }[];
  [k: string]: unknown;
}

const STABLE = ['teacher-fp32', 'student-fp32'];
export const DIGITS_DIR = path.join(ROOT, 'models', 'digits');

export function readDigitsManifest(): DigitsManifest {
  const m = JSON.parse(readFileSync(path.join(DIGITS_DIR, 'model.json'), 'utf8')) as DigitsManifest;
  m.variants = m.variants.filter((v) => STABLE.includes(v.id) && typeof v.sha256 === 'string' && existsSync(path.join(DIGITS_DIR, v.file)));
  if (m.reference !== undefined && !m.variants.some((v) => v.id === m.reference)) delete m.reference;
  delete m['$schema'];
  return m;
}

/** Writes <modelsDir>/<id>/ with the fp32 digits variants and its eval set; `mutate` may edit the manifest first (only files of variants left in it that exist in models/digits are copied). Returns the model folder. */
export function copyDigits(modelsDir: string, id = 'digits', mutate?: (m: DigitsManifest) => void): string {
  const m = readDigitsManifest();
  m['id'] = id;
  mutate?.(m);
  const dir = path.join(modelsDir, id);
  mkdirSync(dir, { recursive: true });
  for (const v of m.variants) {
    const src = path.join(DIGITS_DIR, v.file);
    if (!v.file.includes('/') && existsSync(src)) copyFileSync(src, path.join(dir, v.file));
  }
  cpSync(path.join(DIGITS_DIR, 'eval'), path.join(dir, 'eval'), { recursive: true });
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(m, null, 2));
  return dir;
}

/**
 * Service-config `models` settings that serve only `keep` of the bundled models (every other
 * folder under models/ disabled), so a test's start time and model count do not grow with the zoo.
 */
export function onlyBundled(...keep: string[]): Record<string, { enabled: false }> {
  const out: Record<string, { enabled: false }> = {};
  for (const d of readdirSync(path.join(ROOT, 'models'), { withFileTypes: true })) {
    if (d.isDirectory() && !keep.includes(d.name) && existsSync(path.join(ROOT, 'models', d.name, 'model.json'))) out[d.name] = { enabled: false };
  }
  return out;
}
