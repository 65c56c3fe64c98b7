/**
 * Calibration files in the state directory: `<stateDir>/calibration-<profileId>-<backend>.json`.
 * Errors: readCalibration -> EDGE_ERR_CALIBRATION_INVALID (unreadable, not JSON, invalid) or null
 * when the file does not exist; writeCalibration -> EDGE_ERR_CALIBRATION_INVALID when the document
 * is invalid or an entry was measured on another backend; fs errors from mkdir/write propagate.
 * Writes are atomic (temp file + rename), so a crash never leaves half a file.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BackendKind } from '../config/types.js';
import { EdgeError } from '../errors.js';
import { parseCalibration } from '../planner/calibration.js';
import type { Calibration } from '../planner/types.js';

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function calibrationPath(stateDir: string, profileId: string, backend: BackendKind): string {
  if (!SAFE_ID.test(profileId)) {
    throw new EdgeError('EDGE_ERR_CALIBRATION_INVALID', `profile id "${profileId}" cannot name a calibration file`, { details: { profile: profileId } });
  }
  return path.join(stateDir, `calibration-${profileId}-${backend}.json`);
}

export async function readCalibration(stateDir: string, profileId: string, backend: BackendKind): Promise<Calibration | null> {
  const file = calibrationPath(stateDir, profileId, backend);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new EdgeError('EDGE_ERR_CALIBRATION_INVALID', `cannot read ${file}`, { details: { file }, cause: e });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new EdgeError('EDGE_ERR_CALIBRATION_INVALID', `${file} is not JSON`, { details: { file }, cause: e });
  }
  const cal = parseCalibration(doc, file);
  if (cal.profile !== profileId) {
    throw new EdgeError('EDGE_ERR_CALIBRATION_INVALID', `${file} holds figures for profile ${cal.profile}, not ${profileId}`, { details: { file, profile: cal.profile } });
  }
  return cal;
}

/** Writes `cal` for its profile and `backend`; returns the file path. */
export async function writeCalibration(stateDir: string, cal: Calibration, backend: BackendKind): Promise<string> {
  const file = calibrationPath(stateDir, cal.profile, backend);
  const checked = parseCalibration(cal, file);
  const other = checked.entries.find((e) => e.backend !== backend);
  if (other) {
    throw new EdgeError('EDGE_ERR_CALIBRATION_INVALID', `entry ${other.model}/${other.variant} was measured on ${other.backend}, not ${backend}`, { details: { file } });
  }
  await mkdir(stateDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(checked, null, 2) + '\n');
  await rename(tmp, file);
  return file;
}
