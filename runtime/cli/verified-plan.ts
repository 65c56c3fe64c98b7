/**
 * The plan `edge-infer plan` prints, with the files of the variants it names verified (issue 12
 * item 3): a chosen variant whose file is missing, truncated, tampered or escapes its folder is
 * excluded with the refusal's code (shown as its reason) and the model is planned again, as
 * `edge-infer run` does at load, so plan and run agree.
 */
import { asEdgeError } from '../errors.js';
import { planModels } from '../planner/plan.js';
import type { Exclusion, Plan, PlanInput } from '../planner/types.js';
import type { LoadedManifest } from '../repository/types.js';
import type { VerifiedFiles } from '../repository/verified-files.js';

/** Plans, verifies each chosen variant's file, excludes refusals and re-plans until every choice verifies. */
export async function verifiedPlan(input: PlanInput, manifests: readonly LoadedManifest[], files: VerifiedFiles): Promise<Plan> {
  const exclusions: Exclusion[] = [...(input.exclusions ?? [])];
  // Each pass excludes at least one variant, so passes are bounded by the number of variants.
  for (;;) {
    const plan = planModels({ ...input, exclusions });
    let refused = false;
    for (const mp of plan.models) {
      const loaded = manifests.find((m) => m.manifest.id === mp.model);
      const variant = loaded?.manifest.variants.find((v) => v.id === mp.chosen?.variant);
      if (loaded === undefined || variant === undefined) continue;
      try {
        await files.verify(loaded, variant);
      } catch (e) {
        const err = asEdgeError(e);
        exclusions.push({ model: mp.model, variant: variant.id, code: err.code, detail: err.message });
        refused = true;
      }
    }
    if (!refused) {
      await files.save();
      return plan;
    }
  }
}
