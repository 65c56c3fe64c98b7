/**
 * The device side of signed model updates (issue 15 OTA): receive, stage, verify, preflight, swap,
 * watch health, commit or roll back. States after Mender (install / commit / rollback), the health
 * window after balena, the failure policy after Greengrass ROLLBACK.
 *
 * Steps, each reported on `<prefix>/deploy/state` (retained JSON `{bundleId, model, step, ok, code?,
 * message?, missing?, at}`):
 *   receiving (missing chunk indexes) -> staged -> preflight -> swapping -> health -> committed
 *   or refused (signature / bundle / preflight, nothing changed) or rolled-back (health failed).
 *
 * Power-cut contract: the served model changes only through `active.json` (deploy-store.ts), one
 * atomic rename. Before it changes, `breadcrumb.json` records the entry to restore. On start,
 * `recoverDeploy` finishes what a crash interrupted: a breadcrumb at `staged`/`preflight` is dropped
 * (the old model never stopped serving); one at `swapping` (active.json may or may not hold the new
 * bundle, the health window never ended) restores the previous entry: the old model. Every recovery
 * action is idempotent, so a crash during recovery is recovered the same way next start.
 *
 * Messages are handled one at a time (a promise chain); a failure becomes a `refused` /
 * `rolled-back` state and a log line, never an exception out of the service loop.
 */
import type { KeyObject } from 'node:crypto';
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EdgeError, asEdgeError } from '../errors.js';
import type { Logger } from '../log.js';
import { checkManifest } from '../repository/manifest.js';
import { blobBytes, bundleIdOf, decodeChunk, verifyBundleManifest, type BundleManifest } from './bundle.js';
import { atomicWrite, deployDir, fsyncDir, readActive, removeDir, storeDir, writeActive, type ActiveEntry } from './deploy-store.js';

export type DeployStep = 'receiving' | 'staged' | 'preflight' | 'swapping' | 'swapped' | 'health' | 'committed' | 'refused' | 'rolled-back' | 'aborted';

export interface DeployState {
  bundleId: string;
  model: string;
  step: DeployStep;
  ok: boolean;
  code?: string;
  message?: string;
  missing?: number[];
  at: string;
}

/** What the service does for a deploy. Each throws EdgeError (or returns one) for a failure. */
export interface DeployHost {
  /** Loads every variant of the staged model folder and runs its eval samples; throws EDGE_ERR_DEPLOY_PREFLIGHT. */
  preflight(modelDir: string): Promise<void>;
  /** Re-reads manifests (with the overlay) and swaps the runtime. */
  apply(): Promise<void>;
  /** At the end of the health window: null when `model` is served from `modelDir` and healthy, else the reason. */
  health(model: string, modelDir: string): EdgeError | null;
}

export interface DeployDeviceOptions {
  stateDir: string;
  trusted: readonly KeyObject[];
  host: DeployHost;
  publish: (s: DeployState) => void;
  /** Health window, seconds. */
  healthWindowS: number;
  /** Largest bundle accepted, bytes. */
  maxBundleBytes: number;
  log: Logger;
  /** Test hook ($EDGE_INFER_DEPLOY_HOLD): stop forever after reporting this step (a test then SIGKILLs). */
  holdAt?: string;
}

interface Breadcrumb {
  bundleId: string;
  model: string;
  step: 'staged' | 'preflight' | 'swapping';
  /** The overlay entry to restore (null: the bundled model). */
  previous: ActiveEntry | null;
}

interface Header {
  bundleId: string;
  manifestText: string;
  signature: string;
  total: number;
  chunkBytes: number;
}

const BREADCRUMB = 'breadcrumb.json';
const now = (): string => new Date().toISOString();

async function readBreadcrumb(stateDir: string): Promise<Breadcrumb | null> {
  try {
    return JSON.parse(await readFile(path.join(deployDir(stateDir), BREADCRUMB), 'utf8')) as Breadcrumb;
  } catch {
    return null;
  }
}
async function writeBreadcrumb(stateDir: string, b: Breadcrumb): Promise<void> {
  await atomicWrite(path.join(deployDir(stateDir), BREADCRUMB), JSON.stringify(b) + '\n');
}
async function dropBreadcrumb(stateDir: string): Promise<void> {
  await rm(path.join(deployDir(stateDir), BREADCRUMB), { force: true });
  await fsyncDir(deployDir(stateDir)).catch(() => undefined);
}

async function restore(stateDir: string, model: string, previous: ActiveEntry | null): Promise<void> {
  const active = await readActive(stateDir);
  if (previous === null) delete active.models[model];
  else active.models[model] = previous;
  await writeActive(stateDir, active);
}

/**
 * Run before the manifests are read at start: finishes or undoes an interrupted deploy (see the
 * module contract) and returns the state to report, or null when nothing was interrupted.
 */
export async function recoverDeploy(stateDir: string, log: Logger): Promise<DeployState | null> {
  const store = path.join(deployDir(stateDir), 'store');
  for (const d of await readdir(store).catch(() => [] as string[])) if (d.endsWith('.tmp')) await removeDir(path.join(store, d));
  const b = await readBreadcrumb(stateDir);
  if (b === null) return null;
  const code = 'EDGE_ERR_DEPLOY_INTERRUPTED';
  let step: DeployStep;
  if (b.step === 'swapping') {
    await restore(stateDir, b.model, b.previous);
    step = 'rolled-back';
  } else {
    step = 'aborted';
  }
  const active = await readActive(stateDir);
  const used = new Set(Object.values(active.models).flatMap((e) => [e.current, e.previous ?? '']));
  if (!used.has(b.bundleId)) await removeDir(storeDir(stateDir, b.bundleId));
  await dropBreadcrumb(stateDir);
  const message = `deploy ${b.bundleId} of ${b.model} was interrupted at "${b.step}": ${step === 'rolled-back' ? 'restored the previous model' : 'the old model kept serving'}`;
  log.warn('deploy.recovered', { code, bundleId: b.bundleId, model: b.model, interruptedAt: b.step, outcome: step, message });
  return { bundleId: b.bundleId, model: b.model, step, ok: false, code, message, at: now() };
}

export class DeployDevice {
  readonly #o: DeployDeviceOptions;
  #chain: Promise<void> = Promise.resolve();
  readonly #headers = new Map<string, Header & { manifest: BundleManifest; have: Set<number> }>();

  constructor(o: DeployDeviceOptions) {
    this.#o = o;
  }

  /** One message from `<prefix>/deploy/<kind>`; handled in arrival order. */
  handle(kind: string, payload: Buffer): void {
    this.#chain = this.#chain
      .then(() => this.#handle(kind, payload))
      .catch((e: unknown) => {
        const err = asEdgeError(e);
        this.#o.log.error('deploy.failed', { code: err.code, message: err.message });
      });
  }

  /** Resolves when every message received so far has been handled (tests, shutdown). */
  idle(): Promise<void> {
    return this.#chain;
  }

  #report(s: Omit<DeployState, 'at'>): void {
    const state: DeployState = { ...s, at: now() };
    this.#o.publish(state);
    const { missing, ...rest } = state;
    this.#o.log[s.ok ? 'info' : 'warn']('deploy.step', { ...rest, ...(missing !== undefined ? { missing: missing.length } : {}) });
  }

  async #hold(step: string): Promise<void> {
    if (this.#o.holdAt !== step) return;
    this.#o.log.warn('deploy.held', { step, note: 'EDGE_INFER_DEPLOY_HOLD is a test hook' });
    await new Promise(() => undefined);
  }

  #incoming(id: string): string {
    return path.join(deployDir(this.#o.stateDir), 'incoming', id);
  }

  async #handle(kind: string, payload: Buffer): Promise<void> {
    if (kind === 'chunk') return this.#chunk(payload);
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    } catch {
      this.#o.log.warn('deploy.bad_message', { code: 'EDGE_ERR_BUNDLE_INVALID', kind, message: 'not JSON' });
      return;
    }
    if (kind === 'begin') return this.#begin(doc);
    if (kind === 'end') return this.#end(String(doc['bundleId'] ?? ''));
  }

  async #begin(doc: Record<string, unknown>): Promise<void> {
    const manifestText = typeof doc['manifest'] === 'string' ? doc['manifest'] : '';
    const id = bundleIdOf(manifestText);
    let model = '?';
    try {
      const m = /"model":"([^"]{1,64})"/.exec(manifestText);
      if (m?.[1] !== undefined) model = m[1];
      const manifest = verifyBundleManifest(manifestText, typeof doc['signature'] === 'string' ? doc['signature'] : '', this.#o.trusted);
      model = manifest.model;
      const total = Number(doc['total']);
      const chunkBytes = Number(doc['chunkBytes']);
      const bytes = blobBytes(manifest);
      if (bytes > this.#o.maxBundleBytes) throw new EdgeError('EDGE_ERR_BUNDLE_INVALID', `the bundle is ${bytes} bytes; this device takes at most ${this.#o.maxBundleBytes} (deploy.maxBundleMB)`);
      if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1 || !Number.isSafeInteger(total) || total !== Math.max(1, Math.ceil(bytes / chunkBytes))) throw new EdgeError('EDGE_ERR_BUNDLE_INVALID', 'total and chunkBytes do not match the bundle size');
      const active = await readActive(this.#o.stateDir);
      if (active.models[model]?.current === id) {
        this.#report({ bundleId: id, model, step: 'committed', ok: true, message: 'already serving this bundle' });
        return;
      }
      const dir = this.#incoming(id);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'header.json'), JSON.stringify({ bundleId: id, manifestText, signature: doc['signature'], total, chunkBytes }));
      const have = new Set<number>();
      for (const f of await readdir(dir)) {
        const m = /^chunk-(\d+)$/.exec(f);
        if (m) have.add(Number(m[1]));
      }
      this.#headers.set(id, { bundleId: id, manifestText, signature: String(doc['signature']), total, chunkBytes, manifest, have });
      this.#report({ bundleId: id, model, step: 'receiving', ok: true, missing: this.#missing(id) });
    } catch (e) {
      const err = asEdgeError(e);
      this.#report({ bundleId: id, model, step: 'refused', ok: false, code: err.code, message: err.message });
    }
  }

  #missing(id: string): number[] {
    const h = this.#headers.get(id);
    if (!h) return [];
    const out: number[] = [];
    for (let i = 0; i < h.total; i++) if (!h.have.has(i)) out.push(i);
    return out;
  }

  async #chunk(payload: Buffer): Promise<void> {
    let c;
    try {
      c = decodeChunk(payload);
    } catch (e) {
      this.#o.log.warn('deploy.bad_chunk', { code: asEdgeError(e).code, message: asEdgeError(e).message });
      return;
    }
    const h = this.#headers.get(c.header.bundleId);
    if (!h || c.header.index < 0 || c.header.index >= h.total || h.have.has(c.header.index)) return;
    const expected = c.header.index === h.total - 1 ? blobBytes(h.manifest) - h.chunkBytes * (h.total - 1) : h.chunkBytes;
    if (c.data.length !== expected) {
      this.#o.log.warn('deploy.bad_chunk', { code: 'EDGE_ERR_BUNDLE_INVALID', message: `chunk ${c.header.index} has ${c.data.length} bytes, expected ${expected}` });
      return;
    }
    const file = path.join(this.#incoming(h.bundleId), `chunk-${c.header.index}`);
    await writeFile(`${file}.tmp`, c.data);
    await rename(`${file}.tmp`, file);
    h.have.add(c.header.index);
  }

  async #end(id: string): Promise<void> {
    const h = this.#headers.get(id);
    if (!h) return;
    const missing = this.#missing(id);
    if (missing.length > 0) {
      this.#report({ bundleId: id, model: h.manifest.model, step: 'receiving', ok: true, missing });
      return;
    }
    await this.#install(h);
  }

  /** Writes the blob's files into store/<id>.tmp, checking each size and sha256, then renames it. */
  async #stage(h: Header & { manifest: BundleManifest }): Promise<string> {
    const final = storeDir(this.#o.stateDir, h.bundleId);
    const tmp = `${final}.tmp`;
    await removeDir(tmp);
    await mkdir(tmp, { recursive: true });
    const files = h.manifest.files;
    let fi = 0;
    let left = files[0]?.bytes ?? 0;
    let hash = createHash('sha256');
    let fh = await open(path.join(tmp, files[0]!.path), 'w');
    const closeFile = async (): Promise<void> => {
      const f = files[fi]!;
      await fh.sync();
      await fh.close();
      if (hash.digest('hex') !== f.sha256) throw new EdgeError('EDGE_ERR_BUNDLE_INVALID', `${f.path}: sha256 differs from the signed manifest`, { details: { file: f.path } });
    };
    const nextFile = async (): Promise<void> => {
      fi++;
      const f = files[fi];
      if (!f) return;
      left = f.bytes;
      hash = createHash('sha256');
      await mkdir(path.dirname(path.join(tmp, f.path)), { recursive: true });
      fh = await open(path.join(tmp, f.path), 'w');
    };
    while (left === 0 && fi < files.length) {
      await closeFile();
      await nextFile();
    }
    for (let i = 0; i < h.total; i++) {
      let data = await readFile(path.join(this.#incoming(h.bundleId), `chunk-${i}`));
      while (data.length > 0 && fi < files.length) {
        const part = data.subarray(0, Math.min(left, data.length));
        hash.update(part);
        await fh.write(part);
        left -= part.length;
        data = data.subarray(part.length);
        while (left === 0 && fi < files.length) {
          await closeFile();
          await nextFile();
        }
      }
    }
    if (fi < files.length) throw new EdgeError('EDGE_ERR_BUNDLE_INVALID', 'the bundle ended before its last file');
    // The model manifest inside must be valid, name the bundle's model and match the files' hashes.
    const doc = JSON.parse(await readFile(path.join(tmp, 'model.json'), 'utf8')) as unknown;
    const mm = checkManifest(doc, `bundle ${h.bundleId}/model.json`);
    if (mm.id !== h.manifest.model) throw new EdgeError('EDGE_ERR_BUNDLE_INVALID', `model.json says "${mm.id}", the bundle "${h.manifest.model}"`);
    for (const v of mm.variants) {
      const f = files.find((x) => x.path === v.file);
      if (!f || f.sha256 !== v.sha256) throw new EdgeError('EDGE_ERR_BUNDLE_INVALID', `variant ${v.id}: ${v.file} is not in the bundle with the manifest's sha256`);
    }
    await fsyncDir(tmp);
    await removeDir(final);
    await rename(tmp, final);
    await fsyncDir(path.dirname(final));
    return final;
  }

  async #install(h: Header & { manifest: BundleManifest }): Promise<void> {
    const sd = this.#o.stateDir;
    const id = h.bundleId;
    const model = h.manifest.model;
    let dir: string;
    try {
      dir = await this.#stage(h);
    } catch (e) {
      await removeDir(`${storeDir(sd, id)}.tmp`);
      const err = asEdgeError(e);
      this.#report({ bundleId: id, model, step: 'refused', ok: false, code: err.code === 'EDGE_ERR_INTERNAL' ? 'EDGE_ERR_BUNDLE_INVALID' : err.code, message: err.message });
      await this.#forget(id);
      return;
    }
    await writeBreadcrumb(sd, { bundleId: id, model, step: 'staged', previous: null });
    this.#report({ bundleId: id, model, step: 'staged', ok: true });
    await this.#hold('staged');
    this.#report({ bundleId: id, model, step: 'preflight', ok: true });
    try {
      await this.#o.host.preflight(dir);
    } catch (e) {
      const err = asEdgeError(e);
      await dropBreadcrumb(sd);
      await removeDir(dir);
      await this.#forget(id);
      this.#report({ bundleId: id, model, step: 'refused', ok: false, code: err.code, message: err.message });
      return;
    }
    const active = await readActive(sd);
    const previous = active.models[model] ?? null;
    await writeBreadcrumb(sd, { bundleId: id, model, step: 'swapping', previous });
    this.#report({ bundleId: id, model, step: 'swapping', ok: true });
    await this.#hold('swapping');
    active.models[model] = { current: id, previous: previous?.current ?? null };
    await writeActive(sd, active);
    this.#report({ bundleId: id, model, step: 'swapped', ok: true });
    await this.#hold('swapped');
    await this.#o.host.apply();
    this.#report({ bundleId: id, model, step: 'health', ok: true, message: `watching ${this.#o.healthWindowS} s` });
    await this.#hold('health');
    await new Promise((r) => setTimeout(r, this.#o.healthWindowS * 1000));
    const bad = this.#o.host.health(model, dir);
    if (bad !== null) {
      await restore(sd, model, previous);
      await this.#o.host.apply();
      await dropBreadcrumb(sd);
      await removeDir(dir);
      await this.#forget(id);
      this.#report({ bundleId: id, model, step: 'rolled-back', ok: false, code: bad.code, message: bad.message });
      return;
    }
    await dropBreadcrumb(sd);
    await this.#forget(id);
    await this.#prune();
    this.#report({ bundleId: id, model, step: 'committed', ok: true });
  }

  async #forget(id: string): Promise<void> {
    this.#headers.delete(id);
    await removeDir(this.#incoming(id));
  }

  /** Removes stored bundles no model serves or keeps for rollback. */
  async #prune(): Promise<void> {
    const active = await readActive(this.#o.stateDir);
    const keep = new Set(Object.values(active.models).flatMap((e) => [e.current, e.previous ?? '']));
    const store = path.join(deployDir(this.#o.stateDir), 'store');
    for (const d of await readdir(store).catch(() => [] as string[])) if (!keep.has(d)) await removeDir(path.join(store, d));
  }
}
