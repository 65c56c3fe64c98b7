/**
 * The facts a transport needs to decode a model's requests (transport/types.ts ModelFacts), one
 * object per model, for ModelRuntime (issue 16): built on first ask, kept until `changed()` (a
 * variant changed), which drops them all and tells every watcher.
 */
import type { LoadedManifest } from '../repository/types.js';
import type { Preprocessor } from '../preprocess/types.js';
import type { ModelFacts } from '../transport/types.js';
import { requestInputs } from './stream-runner.js';

export class FactsBook {
  readonly #facts = new Map<string, ModelFacts>();
  readonly #watchers = new Set<() => void>();

  /** `manifest` undefined: the model is unknown (nothing kept). */
  get(model: string, manifest: LoadedManifest['manifest'] | undefined, preprocess: Preprocessor | undefined): ModelFacts | undefined {
    let f = this.#facts.get(model);
    if (f !== undefined || manifest === undefined) return f;
    // The manifest's inputs less those the runtime feeds (stream state, audio rate).
    f = { specs: requestInputs(manifest), preprocess, labels: manifest.labels };
    this.#facts.set(model, f);
    return f;
  }

  watch(onChange: () => void): () => void {
    this.#watchers.add(onChange);
    return () => {
      this.#watchers.delete(onChange);
    };
  }

  changed(): void {
    this.#facts.clear();
    for (const w of this.#watchers) w();
  }
}
