/**
 * One model slot's per-request and per-transition steps, split out of model-runtime.ts (which owns
 * the slots and decides when these run; see its class contract):
 * - `serveSlot`: a request waits (bounded in number by `queueLimit` and in time by `loadWaitMs`)
 *   while the model (re)loads, then goes through the poison journal into the slot's queue; the
 *   result gets its top classes. Rejects with EDGE_ERR_SHUTTING_DOWN, EDGE_ERR_OVERLOADED,
 *   EDGE_ERR_MODEL_UNAVAILABLE, EDGE_ERR_POISON_REQUEST or the queue's and engine's codes.
 * - `settleSlot`: brings a slot to a planned variant (null: unavailable); false when the load was
 *   refused (the variant is excluded: plan again).
 * - `closeSlot`: drains (unless handed over to a reload's runtime), unloads, ends `unavailable`.
 */
import { EdgeError, type ErrorCode } from '../errors.js';
import type { InferResult } from '../result.js';
import type { NamedTensors } from '../tensor.js';
import { firstInputRows, type Slot } from './model-slot.js';
import { journaled, type PoisonJournal } from './poison-journal.js';
import { loadIntoSlot, release, type SlotLoadContext } from './slot-load.js';
import { addTop } from './slot-report.js';

export interface ServeOptions {
  closing: () => boolean;
  loadWaitMs: number;
  poison: PoisonJournal | undefined;
}

export async function serveSlot(slot: Slot, inputs: NamedTensors, o: ServeOptions): Promise<InferResult> {
  const model = slot.loaded.manifest.id;
  if (o.closing()) throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the service is stopping');
  if (!slot.life.serving && !slot.life.idle) {
    // (Re)loading: wait for it, bounded in number and time (issue 12 item 15).
    if (slot.waiting >= slot.settings.queueLimit) throw new EdgeError('EDGE_ERR_OVERLOADED', `model "${model}" is ${slot.life.state} and ${slot.waiting} requests already wait for it`, { details: { model, state: slot.life.state } });
    slot.waiting += 1;
    try {
      await slot.life.whenServing(o.loadWaitMs);
    } finally {
      slot.waiting -= 1;
    }
    if (o.closing()) throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the service is stopping');
  }
  if (!slot.life.serving || !slot.queue || !slot.variant) {
    throw new EdgeError('EDGE_ERR_MODEL_UNAVAILABLE', `model "${model}" is ${slot.life.state}${slot.error ? `: ${slot.error.message}` : ''}`, { details: { model, state: slot.life.state } });
  }
  const queue = slot.queue;
  // Poison requests (issue 12): refused once they were running at `crashesToPoison` deaths.
  const r = await journaled(o.poison, model, slot.variant.id, inputs, slot.settings.maxBatch, () => queue.submit(inputs, firstInputRows(inputs)));
  return addTop(slot.loaded.manifest, r);
}

export async function settleSlot(ctx: SlotLoadContext, slot: Slot, variant: string | null, memoryMB: number, planError?: { code: ErrorCode; message: string }): Promise<boolean> {
  if (variant === null) {
    await release(ctx, slot);
    if (slot.life.state !== 'unavailable' && slot.life.serving) slot.life.to('unloading');
    slot.life.to('unavailable');
    slot.error = planError ?? { code: 'EDGE_ERR_NO_VARIANT_FITS', message: 'no variant fits' };
    return true;
  }
  if (slot.variant?.id === variant && slot.life.serving) return true;
  const v = slot.loaded.manifest.variants.find((x) => x.id === variant);
  if (!v) return true;
  if (slot.life.state !== 'loading' && slot.life.state !== 'restarting') slot.life.to('loading');
  const err = await loadIntoSlot(ctx, slot, v, memoryMB);
  if (err) slot.error = { code: err.code, message: err.message };
  return err === null;
}

export async function closeSlot(ctx: SlotLoadContext, slot: Slot, drainTimeoutMs: number): Promise<void> {
  // A session handed over to a reload's new runtime is its business now.
  if (slot.queue && !slot.handedOver) await slot.queue.drain(drainTimeoutMs);
  await release(ctx, slot);
  if (slot.life.state !== 'unavailable') {
    if (slot.life.state !== 'unloading') slot.life.to('unloading');
    slot.life.to('unavailable');
  }
}
