import t from 'tap';
import { parseCalibration } from '../../../runtime/planner/calibration.js';

const entry = { model: 'digits', variant: 'fp32', backend: 'native', threads: 1, loadMs: 10, latencyP50Ms: 0.2, latencyP95Ms: 0.3, rssMB: 9 };
const doc = { profile: 'generic-x64', measuredAt: '2026-01-01T00:00:00Z', entries: [entry] };

t.test('accepts a well-formed calibration and does not modify the input', async (t) => {
  const input = structuredClone(doc);
  t.same(parseCalibration(input, 'c.json'), doc);
  t.same(input, doc);
});

const bad: [string, unknown][] = [
  ['an unknown key', { ...doc, extra: 1 }],
  ['an unknown backend', { ...doc, entries: [{ ...entry, backend: 'gpu' }] }],
  ['a negative latency', { ...doc, entries: [{ ...entry, latencyP50Ms: -1 }] }],
  ['a missing rssMB', { ...doc, entries: [{ ...entry, rssMB: undefined }] }],
  ['p95 below p50', { ...doc, entries: [{ ...entry, latencyP95Ms: 0.1 }] }],
  ['the same variant twice', { ...doc, entries: [entry, entry] }],
  ['not an object', [1, 2]],
];
for (const [what, value] of bad) {
  t.test(`refuses a calibration with ${what}`, async (t) => {
    t.throws(() => parseCalibration(JSON.parse(JSON.stringify(value)), 'c.json'), { code: 'EDGE_ERR_CALIBRATION_INVALID' });
  });
}
