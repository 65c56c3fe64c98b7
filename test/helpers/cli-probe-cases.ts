/**
 * Generated probes for every `edge-infer` command (issue 13). Each command has a good command line
 * built from the fixtures, and pools of values for its arguments, each value tagged good or bad for
 * that argument. A probe is the good line with one or two seeded mutations: a value swapped for one
 * from the pool, a required flag dropped, an unknown flag, a stray positional, a flag without its
 * value, --json, or a closed stdout. A probe is `bad` when any mutation is, and must then fail with
 * a code. Fixed probes add signals mid-work and the defects issue 13 was filed for.
 */
import path from 'node:path';
import { mulberry32 } from './prng.js';
import type { Fixtures, Probe } from './cli-probe.js';

interface Value {
  v: string;
  bad: boolean;
}
interface Slot {
  pool: Value[];
  good?: string;
  required?: boolean;
}
interface Spec {
  name: string;
  positional?: Slot;
  flags: Record<string, Slot>;
  mayWrite?: string[];
  /** Sent to every probe of the command (run: it serves until stopped). */
  signal?: Probe['signal'];
  /** Share of the fast suite's probes (cost: run and bench are slow). */
  weight: number;
}

const good = (...vs: string[]): Value[] => vs.map((v) => ({ v, bad: false }));
const bad = (...vs: string[]): Value[] => vs.map((v) => ({ v, bad: true }));
const BAD_NUMBERS = bad('-1', 'NaN', 'abc', '', '1e309', 'Infinity');

export function commandSpecs(f: Fixtures): Spec[] {
  const fx = (n: string): string => path.join(f.fx, n);
  const badJsonFiles = bad(...['notjson.json', 'null.json', 'empty.json', 'wrongtypes.json', 'truncated.json', 'deep.json', 'binary.json', 'missing.json', 'adir', 'model.onnx'].map(fx), '/dev/null');
  const badOnnx = bad(...['truncated.onnx', 'notonnx.onnx', 'empty.onnx', 'missing.onnx', 'adir', 'sample.json'].map(fx), '/dev/null');
  const badOut = bad('nodir/out.onnx', fx('adir'), fx('model.onnx'), '', ...(f.ro ? [path.join(f.ro, 'out.onnx')] : []), ...(f.full ? [path.join(f.full, 'out.onnx')] : []));
  const profiles: Value[] = [...good('rpi4-2gb', 'generic-x64', fx('profile-good.json')), ...bad('no-such-board', fx('profile-wrongtypes.json'), fx('profile-truncated.json'), fx('null.json'), fx('adir'), fx('missing.json'), '')];
  const models: Value[] = [...good(fx('models')), ...bad(fx('models-broken'), fx('missing-dir'), fx('sample.json'))];
  const backends: Value[] = [...good('auto', 'native'), ...bad('gpu', '', 'NATIVE')];
  const configs: Value[] = [...good(fx('config-good.json')), ...bad(fx('config-wrongtypes.json'), fx('null.json'), fx('notjson.json'), fx('missing.json'), fx('adir'), fx('profile-good.json'))];
  const ids: Value[] = [...good('digits'), ...bad('digitz', '', '../../etc/passwd', 'x'.repeat(300), 'dig its')];
  return [
    { name: 'inspect', weight: 3, positional: { good: fx('model.onnx'), pool: badOnnx }, flags: {} },
    {
      name: 'quantize',
      weight: 4,
      mayWrite: ['out.onnx'],
      positional: { good: fx('model.onnx'), pool: badOnnx },
      flags: {
        to: { good: 'int8', required: true, pool: [...good('int4', 'mixed'), ...bad('int3', '', 'INT8')] },
        output: { good: 'out.onnx', required: true, pool: badOut },
        'block-size': { pool: [...good('16', '64'), ...bad('3', '0', ...BAD_NUMBERS.map((x) => x.v))] },
        'accuracy-level': { pool: [...good('0', '4'), ...bad('7', '-1', 'abc')] },
        'max-drop': { pool: [...good('1%', '0.01'), ...bad('abc', '200%', '-1', '')] },
        eval: { pool: [...good(fx('eval.json')), ...bad(fx('eval-bad.json'), fx('missing.json'), fx('notjson.json'))] },
      },
    },
    {
      name: 'prune',
      weight: 3,
      mayWrite: ['out.onnx'],
      positional: { good: fx('model.onnx'), pool: badOnnx },
      flags: { sparsity: { good: '0.5', required: true, pool: [...good('0', '0.25'), ...bad('1', '1.5', ...BAD_NUMBERS.map((x) => x.v))] }, output: { good: 'out.onnx', required: true, pool: badOut }, eval: { pool: [...good(fx('eval.json')), ...bad(fx('eval-bad.json'), fx('missing.json'))] } },
    },
    {
      name: 'infer',
      weight: 4,
      positional: { good: 'digits', pool: ids },
      flags: {
        input: { good: fx('sample.json'), required: true, pool: [...badJsonFiles, ...bad(fx('huge.json'))] },
        models: { good: fx('models'), pool: models },
        profile: { good: 'generic-x64', pool: profiles },
        backend: { pool: backends },
        'budget-mb': { pool: [...good('256'), ...BAD_NUMBERS] },
        variant: { pool: [...good('student-fp32'), ...bad('nope', '')] },
        config: { pool: configs },
      },
    },
    {
      name: 'plan',
      weight: 3,
      flags: { profile: { good: 'rpi4-2gb', pool: profiles }, models: { good: fx('models'), pool: models }, 'budget-mb': { pool: [...good('512'), ...bad('0.0001'), ...BAD_NUMBERS] }, backend: { pool: [...good('wasm'), ...backends] }, config: { pool: configs }, calibration: { pool: badJsonFiles } },
    },
    { name: 'detect', weight: 2, flags: { root: { pool: [...good('/', path.join(f.fx, '..', '..')), ...bad(fx('missing-dir'), fx('sample.json'), '')] }, profiles: { pool: [...bad(fx('adir'), fx('missing-dir'), fx('sample.json'))] } } },
    { name: 'validate', weight: 3, positional: { good: fx('profile-good.json'), pool: [...badJsonFiles, ...bad(fx('profile-wrongtypes.json'), fx('config-wrongtypes.json'), fx('models-broken'), fx('huge.json'))] }, flags: {} },
    {
      name: 'eval',
      weight: 2,
      positional: { good: 'digits', pool: ids },
      flags: {
        models: { good: fx('models'), pool: models },
        runs: { good: '2', pool: [...good('0', '1'), ...BAD_NUMBERS] },
        batch: { pool: [...good('4'), ...bad('0'), ...BAD_NUMBERS] },
        threads: { pool: [...good('1'), ...bad('0'), ...BAD_NUMBERS] },
        variant: { pool: [...good('teacher-fp32'), ...bad('nope', '')] },
        backend: { pool: backends },
        eval: { pool: bad(fx('eval.json')) },
      },
    },
    {
      name: 'request',
      weight: 3,
      positional: { good: 'digits', pool: bad('', 'x'.repeat(300), 'a/b', '#', '+') },
      flags: { input: { good: fx('sample.json'), required: true, pool: badJsonFiles }, broker: { good: 'mqtt://127.0.0.1:1', pool: bad('http://x', 'notaurl', '', 'mqtt://') }, 'timeout-ms': { good: '500', pool: BAD_NUMBERS }, mqtt: { pool: [...good('4'), ...bad('6', '')] }, 'device-id': { pool: bad('a/b', '#', '') } },
    },
    { name: 'bench', weight: 1, mayWrite: ['state/', 'home/state/'], flags: { profile: { good: 'generic-x64', pool: profiles }, models: { good: fx('models'), pool: models }, runs: { good: '2', pool: BAD_NUMBERS }, calibrate: { pool: [] }, 'state-dir': { pool: good('state') } } },
    {
      name: 'run',
      weight: 1,
      mayWrite: ['state/', 'home/state/'],
      signal: { name: 'SIGTERM', afterMs: 2500 },
      flags: {
        config: { good: fx('config-good.json'), pool: configs },
        'state-dir': { good: 'state', pool: [] },
        broker: { pool: bad('http://x', 'notaurl', '') },
        'device-id': { pool: bad('a/b', '#', '', 'x'.repeat(300)) },
        profile: { pool: profiles.filter((p) => p.v !== 'rpi4-2gb') },
        // A refused manifest does not stop the service (the other models keep running): not bad for run.
        models: { pool: [...good(fx('models-broken')), ...bad(fx('missing-dir'), fx('sample.json'))] },
        'log-level': { pool: [...good('error', 'warn'), ...bad('loud', '')] },
      },
    },
  ];
}

type Mutation = 'value' | 'drop-required' | 'unknown-flag' | 'stray-positional' | 'no-value' | 'json' | 'closed-pipe';
const MUTATIONS: Mutation[] = ['value', 'value', 'value', 'value', 'drop-required', 'unknown-flag', 'stray-positional', 'no-value', 'json', 'closed-pipe'];

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)] as T;
}

/** One probe of `spec`, from `rnd`. */
function generate(spec: Spec, rnd: () => number): Probe {
  let positional: Value | undefined = spec.positional?.good === undefined ? undefined : { v: spec.positional.good, bad: false };
  const flags = new Map<string, Value>();
  for (const [name, slot] of Object.entries(spec.flags)) if (slot.good !== undefined) flags.set(name, { v: slot.good, bad: false });
  const tail: Value[] = [];
  let closeStdout = false;
  const count = rnd() < 0.7 ? 1 : 2;
  for (let i = 0; i < count; i++) {
    const m = pick(rnd, MUTATIONS);
    if (m === 'value') {
      const slots = Object.entries(spec.flags).filter(([, s]) => s.pool.length > 0);
      const usePositional = spec.positional !== undefined && spec.positional.pool.length > 0 && (slots.length === 0 || rnd() < 0.3);
      if (usePositional && spec.positional) positional = pick(rnd, spec.positional.pool);
      else if (slots.length > 0) {
        const [name, slot] = pick(rnd, slots);
        flags.set(name, pick(rnd, slot.pool));
      }
    } else if (m === 'drop-required') {
      const req = Object.entries(spec.flags).filter(([n, s]) => s.required === true && flags.has(n));
      if (req.length > 0) flags.delete(pick(rnd, req)[0]);
    } else if (m === 'unknown-flag') tail.push({ v: pick(rnd, ['--frobnicate', '--inptu', '-z', '--json=yes']), bad: true });
    else if (m === 'stray-positional') tail.push({ v: 'typo', bad: true });
    else if (m === 'no-value') {
      const withValue = [...flags.keys()];
      if (withValue.length > 0) {
        const name = pick(rnd, withValue);
        flags.delete(name);
        tail.push({ v: `--${name}`, bad: true });
      }
    } else if (m === 'json') tail.push({ v: '--json', bad: false });
    else closeStdout = true;
  }
  const args = [spec.name];
  if (positional !== undefined) args.push(positional.v);
  for (const [name, value] of flags) {
    if (name === 'calibrate') args.push('--calibrate');
    else args.push(`--${name}`, value.v);
  }
  args.push(...tail.map((t) => t.v));
  const missingRequired = Object.entries(spec.flags).some(([n, s]) => s.required === true && !flags.has(n));
  const isBad = missingRequired || positional?.bad === true || [...flags.values(), ...tail].some((x) => x.bad);
  return {
    name: args.map((a) => (a === '' ? "''" : a.length > 60 ? `${a.slice(0, 20)}...(${a.length})` : a)).join(' ') + (closeStdout ? ' | (closed)' : ''),
    args,
    bad: isBad,
    closeStdout,
    ...(spec.mayWrite ? { mayWrite: spec.mayWrite } : {}),
    // A command line that must be refused gets no signal: it has to end by itself (or hang: a violation).
    ...(spec.signal && !isBad ? { signal: spec.signal } : {}),
  };
}

/** `count` probes from `seed`, spread over the commands by weight (deterministic). */
export function generatedProbes(f: Fixtures, seed: number, count: number): Probe[] {
  const rnd = mulberry32(seed);
  const specs = commandSpecs(f);
  const weighted = specs.flatMap((s) => new Array<Spec>(s.weight).fill(s));
  const out: Probe[] = [];
  const seen = new Set<string>();
  for (let tries = 0; out.length < count && tries < count * 20; tries++) {
    const p = generate(pick(rnd, weighted), rnd);
    if (seen.has(p.name)) continue;
    seen.add(p.name);
    out.push(p);
  }
  return out;
}

/** Signals mid-work, closed pipes and the defects, always run. */
export function fixedProbes(f: Fixtures): Probe[] {
  const fx = (n: string): string => path.join(f.fx, n);
  return [
    { name: 'quantize -o <its input>', args: ['quantize', fx('model.onnx'), '--to', 'int8', '-o', fx('model.onnx')], bad: true },
    { name: 'quantize -o nodir/x.onnx', args: ['quantize', fx('model.onnx'), '--to', 'int8', '-o', 'nodir/x.onnx'], bad: true },
    { name: 'infer | (closed)', args: ['infer', 'digits', '--input', fx('sample.json'), '--models', fx('models')], bad: false, closeStdout: true },
    { name: 'validate null.json', args: ['validate', fx('null.json')], bad: true },
    { name: 'plan typo', args: ['plan', 'typo'], bad: true },
    { name: 'detect --root missing', args: ['detect', '--root', fx('missing-dir')], bad: true },
    { name: 'inspect missing (hint)', args: ['inspect', fx('missing.onnx')], bad: true },
    { name: 'run --log-level error (SIGTERM)', args: ['run', '--config', fx('config-good.json'), '--state-dir', 'state', '--log-level', 'error'], bad: false, mayWrite: ['state/'], signal: { name: 'SIGTERM', afterMs: 2500 } },
    { name: 'eval digits, SIGINT mid-run', args: ['eval', 'digits', '--models', fx('models'), '--runs', '100000'], bad: false, signal: { name: 'SIGINT', afterMs: 2500 } },
    { name: 'quantize mixed --eval, SIGTERM mid-run', args: ['quantize', fx('model.onnx'), '--to', 'mixed', '--eval', fx('eval.json'), '-o', 'out.onnx'], bad: false, mayWrite: ['out.onnx'], signal: { name: 'SIGTERM', afterMs: 1200 } },
  ];
}
