/**
 * What a deploy asks of the running service (issue 15 OTA, fleet/deploy-device.ts's DeployHost):
 * - preflight: every variant of the staged model loads in this service's engine, and (when the
 *   manifest has an eval set and one float32 input) its top-1 accuracy on the first
 *   `preflightSamples` eval rows is at least the manifest's accuracy minus `preflightTolerance`;
 *   the smallest variant's file fits the memory budget. Sessions are unloaded afterwards.
 * - health: at the end of the window, the model is served from the deployed folder, `ready` in the current runtime, answered at most
 *   `healthMaxErrors` requests with an error and, when `healthMaxP95Ms` is set, its p95 latency is
 *   within it. The runtime was rebuilt by the swap, so its counters cover the window only.
 * Errors: preflight throws EDGE_ERR_DEPLOY_PREFLIGHT (details: variant, reason); health returns
 * EDGE_ERR_DEPLOY_HEALTH.
 */
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { InferenceEngine } from '../backend/types.js';
import type { ServiceConfig } from '../config/service-config.js';
import { EdgeError, asEdgeError } from '../errors.js';
import { publicKeyFromPem } from '../fleet/bundle.js';
import type { DeployHost } from '../fleet/deploy-device.js';
import { readEvalSet } from '../optimize/eval-set.js';
import { loadManifest, MANIFEST_FILE } from '../repository/manifest.js';
import type { ModelRuntime } from './model-runtime.js';

export interface DeployHostOptions {
  engine: InferenceEngine;
  deploy: ServiceConfig['deploy'];
  budgetMB: () => number;
  runtime: () => ModelRuntime;
  apply: () => Promise<void>;
}

function fail(message: string, details: Record<string, unknown>): EdgeError {
  return new EdgeError('EDGE_ERR_DEPLOY_PREFLIGHT', message, { details });
}

function argmax(a: ArrayLike<number | bigint>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (Number(a[i]) > Number(a[best])) best = i;
  return best;
}

export function createDeployHost(o: DeployHostOptions): DeployHost {
  let seq = 0;
  return {
    apply: o.apply,
    async preflight(modelDir) {
      const { manifest: m } = await loadManifest(path.join(modelDir, MANIFEST_FILE));
      const smallest = Math.min(...m.variants.map((v) => v.bytes));
      if (smallest / 1048576 > o.budgetMB()) throw fail(`the smallest variant (${(smallest / 1048576).toFixed(1)} MB) does not fit the ${o.budgetMB()} MB budget`, { budgetMB: o.budgetMB() });
      const input = m.inputs.length === 1 && m.inputs[0]?.dtype === 'float32' ? m.inputs[0] : null;
      const evalSet = m.eval !== undefined && input !== null && o.deploy.preflightSamples > 0 ? await readEvalSet(path.join(modelDir, m.eval.file)) : null;
      for (const v of m.variants) {
        const key = `deploy-preflight-${++seq}-${v.id}`;
        try {
          await o.engine.load({ key, file: path.join(modelDir, v.file), bytes: await readFile(path.join(modelDir, v.file)), session: { intraOpThreads: 1, graphOptimization: 'all', memArena: false, memPattern: true } });
        } catch (e) {
          throw fail(`variant ${v.id} does not load: ${asEdgeError(e).message}`, { variant: v.id });
        }
        try {
          if (evalSet === null || input === null) continue;
          const n = Math.min(o.deploy.preflightSamples, evalSet.inputs.length);
          let right = 0;
          for (let i = 0; i < n; i++) {
            const row = evalSet.inputs[i]!;
            const r = await o.engine.run(key, { [input.name]: { dtype: 'float32', dims: [1, row.length], data: Float32Array.from(row) } });
            const out = r.outputs[m.outputs[0]?.name ?? ''] ?? Object.values(r.outputs)[0];
            if (out !== undefined && argmax(out.data) === evalSet.labels[i]) right++;
          }
          const acc = n > 0 ? right / n : 1;
          const floor = v.quality.accuracy - o.deploy.preflightTolerance;
          if (acc < floor) throw fail(`variant ${v.id}: ${right}/${n} eval samples right (${acc.toFixed(3)}), below the manifest's ${v.quality.accuracy.toFixed(3)} - ${o.deploy.preflightTolerance}`, { variant: v.id, accuracy: acc, floor });
        } catch (e) {
          if (e instanceof EdgeError && e.code === 'EDGE_ERR_DEPLOY_PREFLIGHT') throw e;
          throw fail(`variant ${v.id} does not run its eval samples: ${asEdgeError(e).message}`, { variant: v.id });
        } finally {
          await o.engine.unload(key).catch(() => undefined);
        }
      }
    },
    health(model, modelDir) {
      const t = o
        .runtime()
        .telemetry()
        .find((x) => x.model === model);
      const bad = (why: string): EdgeError => new EdgeError('EDGE_ERR_DEPLOY_HEALTH', `${model}: ${why}`, { details: { model } });
      // A reload that failed (logged) leaves the previous files serving: that is no success.
      if (o.runtime().manifest(model)?.dir !== path.resolve(modelDir)) return bad('the swap did not take: the previous model is still served (see reload.failed in the log)');
      if (t === undefined) return bad('not served after the swap');
      if (t.state !== 'ready') return bad(`state "${t.state}" after the swap`);
      if (t.errors > o.deploy.healthMaxErrors) return bad(`${t.errors} error answers in the health window (at most ${o.deploy.healthMaxErrors})`);
      const p95 = t.latencyMs.p95;
      if (o.deploy.healthMaxP95Ms !== undefined && p95 !== null && p95 > o.deploy.healthMaxP95Ms) return bad(`p95 latency ${p95} ms over deploy.healthMaxP95Ms ${o.deploy.healthMaxP95Ms}`);
      return null;
    },
  };
}

/** deploy.trustedKeys: PEM text, or a path to a PEM file. Throws EDGE_ERR_DEPLOY_KEY (exit 78) naming the entry. */
export async function readTrustedKeys(entries: readonly string[]): Promise<KeyObject[]> {
  const keys: KeyObject[] = [];
  for (const [i, e] of entries.entries()) {
    let pem = e;
    if (!e.includes('-----BEGIN')) {
      try {
        pem = await readFile(e, 'utf8');
      } catch (err) {
        throw new EdgeError('EDGE_ERR_DEPLOY_KEY', `deploy.trustedKeys[${i}]: cannot read ${e}`, { cause: err, details: { file: e } });
      }
    }
    keys.push(publicKeyFromPem(pem, `deploy.trustedKeys[${i}]`));
  }
  return keys;
}
