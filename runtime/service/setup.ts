/**
 * What every command that plans or runs needs, resolved once: the device profile (given or
 * detected), the manifests (bad ones reported, not fatal), the backend and the memory budget.
 *
 * Errors: EDGE_ERR_PROFILE_NOT_FOUND / EDGE_ERR_PROFILE_INVALID (exit 78), EDGE_ERR_MODELS_DIR,
 * EDGE_ERR_BACKEND_UNAVAILABLE, EDGE_ERR_USAGE (bad --budget-mb).
 */
import path from 'node:path';
import type { BackendKind, BackendPref, DeviceProfile } from '../config/types.js';
import { detectProfile, readHostFacts, type DetectionResult } from '../config/detect.js';
import { listProfiles, loadProfile } from '../config/profile.js';
import { EdgeError, asEdgeError } from '../errors.js';
import { resolveBackend } from '../backend/select-engine.js';
import { defaultBackendCaps } from '../planner/backend-caps.js';
import type { BackendCaps } from '../planner/types.js';
import { loadManifest, loadManifests, MANIFEST_FILE } from '../repository/manifest.js';
import type { LoadedManifest } from '../repository/types.js';
import { effectiveBudgetMB, type EffectiveBudget } from '../budget/budget.js';
import { cgroupMemoryLimitMB, memAvailableMB, processRssMB } from '../budget/probes.js';

export interface SetupOptions {
  packageRoot: string;
  /** Profile id or file; undefined = detect from the host. */
  profile?: string | undefined;
  /** Default <packageRoot>/models. */
  modelsDir?: string | undefined;
  /**
   * Deployed models (issue 15 OTA, fleet/deploy-store.ts): model id -> folder holding its model.json.
   * Each replaces the models folder's model of that id (or adds it); a bad one is reported and the
   * bundled model, if any, serves instead.
   */
  overlay?: ReadonlyMap<string, string>;
  /** Overrides the computed budget (a ceiling for `plan` experiments). */
  budgetMB?: number | undefined;
  /** Overrides the profile's backend preference. */
  backend?: BackendPref | undefined;
  /** Root for /proc and /sys reads (tests). Default "/". */
  fsRoot?: string;
  /**
   * Resolve "auto" for the profile's board ('profile': what `plan --profile rpi-zero-2w` shows from
   * any host) or for this host ('host', default: what can actually run here).
   */
  backendFor?: 'host' | 'profile';
}

const NODE_ARCH: Record<DeviceProfile['cpu']['arch'], string> = { arm64: 'arm64', armv7: 'arm', x64: 'x64' };

export interface Setup {
  profile: DeviceProfile;
  /** "given: rpi4-2gb" or "detected: ...". */
  profileSource: string;
  detection: DetectionResult | null;
  modelsDir: string;
  manifests: LoadedManifest[];
  manifestErrors: EdgeError[];
  backend: BackendKind;
  caps: BackendCaps;
  budget: EffectiveBudget;
}

export function profilesDir(packageRoot: string): string {
  return path.join(packageRoot, 'device-profiles');
}

export function parseBudgetFlag(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new EdgeError('EDGE_ERR_USAGE', `--budget-mb must be a positive number (got "${v}")`);
  return n;
}

export function parseBackendFlag(v: string | undefined): BackendPref | undefined {
  if (v === undefined) return undefined;
  if (v !== 'auto' && v !== 'native' && v !== 'wasm') throw new EdgeError('EDGE_ERR_USAGE', `--backend must be auto, native or wasm (got "${v}")`);
  return v;
}

export async function resolveSetup(o: SetupOptions): Promise<Setup> {
  const fsRoot = o.fsRoot ?? '/';
  let profile: DeviceProfile;
  let profileSource: string;
  let detection: DetectionResult | null = null;
  if (o.profile !== undefined) {
    profile = await loadProfile(o.profile, profilesDir(o.packageRoot));
    profileSource = `given: ${o.profile}`;
  } else {
    detection = detectProfile(await readHostFacts(fsRoot), await listProfiles(profilesDir(o.packageRoot)));
    profile = detection.profile;
    profileSource = detection.derived ? 'derived from this host (no profile matched)' : `detected: ${profile.id}`;
  }
  const modelsDir = path.resolve(o.modelsDir ?? path.join(o.packageRoot, 'models'));
  const { loaded, errors } = await loadManifests(modelsDir);
  for (const [id, dir] of o.overlay ?? []) {
    try {
      const one = await loadManifest(path.join(dir, MANIFEST_FILE));
      if (one.manifest.id !== id) throw new EdgeError('EDGE_ERR_MANIFEST_INVALID', `deployed model ${dir} says id "${one.manifest.id}", expected "${id}"`);
      const at = loaded.findIndex((m) => m.manifest.id === id);
      if (at >= 0) loaded[at] = one;
      else loaded.push(one);
    } catch (e) {
      errors.push(asEdgeError(e));
    }
  }
  loaded.sort((a, b) => (a.manifest.id < b.manifest.id ? -1 : a.manifest.id > b.manifest.id ? 1 : 0));
  const pref = o.backend ?? profile.inference.backend;
  const backend = o.backendFor === 'profile' ? resolveBackend(pref, { platform: 'linux', arch: NODE_ARCH[profile.cpu.arch] }) : resolveBackend(pref);
  const computed = effectiveBudgetMB({ profileBudgetMB: profile.memory.budgetMB, reserveMB: profile.memory.reserveMB, cgroupLimitMB: await cgroupMemoryLimitMB(fsRoot), memAvailableMB: await memAvailableMB(fsRoot), processRssMB: processRssMB() });
  const budget: EffectiveBudget = o.budgetMB === undefined || o.budgetMB >= computed.budgetMB ? computed : { budgetMB: o.budgetMB, limitedBy: 'profile', detail: `--budget-mb ${o.budgetMB} (the host allows ${computed.budgetMB} MB: ${computed.detail})` };
  return { profile, profileSource, detection, modelsDir, manifests: loaded, manifestErrors: errors, backend, caps: defaultBackendCaps(backend), budget };
}
