import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { calibrationPath, readCalibration, writeCalibration } from '../../../runtime/budget/calibration-file.js';
import type { Calibration } from '../../../runtime/planner/types.js';

const cal: Calibration = { profile: 'rpi4-2gb', measuredAt: '2026-01-01T00:00:00.000Z', entries: [{ model: 'digits', variant: 'int8', backend: 'native', threads: 3, loadMs: 12.5, latencyP50Ms: 0.1, latencyP95Ms: 0.2, rssMB: 7.5 }] };

async function stateDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'edge-cal-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

t.test('writes and reads back a calibration per profile and backend', async (t) => {
  const dir = await stateDir(t);
  const file = await writeCalibration(path.join(dir, 'state'), cal, 'native');
  t.equal(file, path.join(dir, 'state', 'calibration-rpi4-2gb-native.json'));
  t.same(await readCalibration(path.join(dir, 'state'), 'rpi4-2gb', 'native'), cal);
  t.equal(await readCalibration(path.join(dir, 'state'), 'rpi4-2gb', 'wasm'), null, 'other backend: no calibration yet');
  t.same(await readdir(path.join(dir, 'state')), ['calibration-rpi4-2gb-native.json'], 'no temp file left');
});

t.test('a corrupt calibration file is EDGE_ERR_CALIBRATION_INVALID', async (t) => {
  const dir = await stateDir(t);
  const file = calibrationPath(dir, 'rpi4-2gb', 'native');
  await writeFile(file, '{"profile": ');
  await t.rejects(readCalibration(dir, 'rpi4-2gb', 'native'), { code: 'EDGE_ERR_CALIBRATION_INVALID' });
  await writeFile(file, JSON.stringify({ ...cal, entries: [{ ...cal.entries[0], rssMB: 'lots' }] }));
  await t.rejects(readCalibration(dir, 'rpi4-2gb', 'native'), { code: 'EDGE_ERR_CALIBRATION_INVALID' });
  await writeFile(file, JSON.stringify({ ...cal, profile: 'rpi5-8gb' }));
  await t.rejects(readCalibration(dir, 'rpi4-2gb', 'native'), { code: 'EDGE_ERR_CALIBRATION_INVALID' });
});

t.test('refuses to write entries measured on another backend, or a profile id that is not a file name', async (t) => {
  const dir = await stateDir(t);
  await t.rejects(writeCalibration(dir, cal, 'wasm'), { code: 'EDGE_ERR_CALIBRATION_INVALID' });
  t.throws(() => calibrationPath(dir, '../etc', 'native'), { code: 'EDGE_ERR_CALIBRATION_INVALID' });
  t.same(await readdir(dir), []);
  t.equal(typeof (await readFile(await writeCalibration(dir, cal, 'native'), 'utf8')), 'string');
});
