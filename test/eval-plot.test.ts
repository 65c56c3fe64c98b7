/**
 * `eval --plot`: the Pareto chart of a model's variants as SVG. The pure renderer on made-up
 * figures, then the CLI on the real digits model with the plan's choice for a profile ringed.
 */
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { paretoFront, renderParetoSvg, type ParetoPoint } from '../runtime/cli/plot/pareto-svg.js';
import { ROOT, runCli } from './helpers/service-process.js';
import { checkXml } from './helpers/xml-wellformed.js';

const POINTS: ParetoPoint[] = [
  { id: 'teacher-fp32', latencyMs: 2.0, quality: 0.973, bytes: 2_716_396 },
  { id: 'teacher-int8', latencyMs: 0.97, quality: 0.973, bytes: 770_227 },
  { id: 'student-int8', latencyMs: 0.24, quality: 0.967, bytes: 123_633 },
  { id: 'odd <&> "name"', latencyMs: 1.5, quality: 0.95, bytes: 500_000 },
];

t.test('the Pareto front holds the variants no other beats on both latency and quality', async (t) => {
  t.same(paretoFront(POINTS).sort(), ['student-int8', 'teacher-int8']);
  t.same(
    paretoFront([
      { id: 'a', latencyMs: 1, quality: 0.9, bytes: 1 },
      { id: 'b', latencyMs: 1, quality: 0.9, bytes: 2 },
    ]).sort(),
    ['a', 'b'],
    'ties are both on the front',
  );
});

t.test('the SVG is well-formed, names every variant (escaped), labels its axes with units and rings the plan', async (t) => {
  const svg = renderParetoSvg({ title: 'spam: variants', qualityLabel: 'accuracy on the eval set', latencyNote: 'native, 1 thread', points: POINTS, planned: { variant: 'teacher-int8', profile: 'rpi4-2gb' } });
  const { problems, elements } = checkXml(svg);
  t.same(problems, [], 'well-formed');
  t.equal(elements[0], 'svg');
  for (const id of ['teacher-fp32', 'teacher-int8', 'student-int8', 'odd &lt;&amp;&gt; &quot;name&quot;']) t.ok(svg.includes(id), `names ${id}`);
  t.match(svg, /latency at batch 1, ms/);
  t.match(svg, /accuracy on the eval set, %/);
  t.match(svg, /red ring: planned for rpi4-2gb/);
  t.equal((svg.match(/stroke="#d33"/g) ?? []).length, 1, 'one ring');
  const linear = renderParetoSvg({ title: 'x', qualityLabel: 'q', latencyNote: 'n', points: POINTS });
  t.notMatch(linear, /log scale/, '8.3x spread: linear axis');
  const wide = renderParetoSvg({ title: 'x', qualityLabel: 'q', latencyNote: 'n', points: [...POINTS, { id: 'tiny', latencyMs: 0.03, quality: 0.9, bytes: 3000 }] });
  t.match(wide, /log scale/, '67x spread: log axis');
  t.same(checkXml(wide).problems, []);
  const none = renderParetoSvg({ title: 'x', qualityLabel: 'q', latencyNote: 'n', points: POINTS, planned: { variant: null, profile: 'rpi-zero-2w' } });
  t.match(none, /no variant fits rpi-zero-2w/);
});

t.test('a point without latency is a usage error', async (t) => {
  t.throws(() => renderParetoSvg({ title: 'x', qualityLabel: 'q', latencyNote: 'n', points: [{ id: 'a', latencyMs: Number.NaN, quality: 1, bytes: 1 }] }), { code: 'EDGE_ERR_USAGE' });
  t.throws(() => renderParetoSvg({ title: 'x', qualityLabel: 'q', latencyNote: 'n', points: [] }), { code: 'EDGE_ERR_USAGE' });
});

t.test('edge-infer eval digits --plot rings the variant `plan` chooses for the profile', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-plot-'));
  const file = path.join(dir, 'digits.svg');
  const r = await runCli(['eval', 'digits', '--runs', '5', '--plot', file, '--profile', 'rpi4-2gb']);
  t.equal(r.code, 0, r.stderr);
  const svg = readFileSync(file, 'utf8');
  t.same(checkXml(svg).problems, [], 'well-formed');
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'model.json'), 'utf8')) as { variants: { id: string }[] };
  for (const v of manifest.variants) t.ok(svg.includes(`> ${v.id}<`) || svg.includes(` ${v.id}<`), `names ${v.id}`);
  const plan = await runCli(['plan', '--profile', 'rpi4-2gb', '--json']);
  const chosen = (JSON.parse(plan.stdout) as { plan: { models: { model: string; chosen: { variant: string } | null }[] } }).plan.models.find((m) => m.model === 'digits')?.chosen?.variant;
  t.ok(chosen, 'the plan chooses a digits variant');
  t.match(r.stderr, new RegExp(`planned: ${chosen}`));
  t.match(svg, new RegExp(`fill="#d33" font-weight="bold">\\d+ ${chosen}<`), 'the legend marks the planned variant');

  const missing = await runCli(['eval', 'digits', '--runs', '2', '--plot', path.join(dir, 'no', 'such', 'dir', 'x.svg')]);
  t.equal(missing.code, 64, 'an unwritable plot path is a usage error');
  t.match(missing.stderr, /EDGE_ERR_USAGE/);
  t.notMatch(missing.stderr, /\n\s+at /, 'no stack trace');
  const noRuns = await runCli(['eval', 'digits', '--runs', '0', '--plot', file]);
  t.equal(noRuns.code, 64, '--plot with --runs 0');
  const noPlot = await runCli(['eval', 'digits', '--profile', 'rpi4-2gb']);
  t.equal(noPlot.code, 64, '--profile without --plot');
});
