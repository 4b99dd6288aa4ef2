// Upgrade from the in-memory state machine: its snapshots were one JSON image of every module's
// entries and the idempotency table. A node whose data directory holds such a snapshot and an empty
// state engine imports the image once, at the snapshot's index, before anything else runs; from
// then on the engine holds the state and the log replays after it as usual.
import assert from 'node:assert/strict';
import { sequence } from './idempotency.js';
import type { Mediator } from './mediator.js';
import type { Result } from './result.js';
import { orderKey } from './builtin/orders.js';
import { ModuleState, Transaction } from './store.js';
import type { JsonValue } from './schema.js';

export const IMAGE_V1_FORMAT = 1;

interface ImageV1 {
  readonly format: typeof IMAGE_V1_FORMAT;
  readonly idempotency: { readonly clock: number; readonly keys: readonly [string, number, number, Result<unknown>][] };
  readonly modules: Readonly<Record<string, readonly [string, JsonValue][]>>;
}

/** The v1 image in `data`, or null when `data` is something else (a descriptor). */
export function parseImageV1(data: Uint8Array): ImageV1 | null {
  try {
    const doc = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as Partial<ImageV1> | null;
    return doc !== null && typeof doc === 'object' && doc.format === IMAGE_V1_FORMAT ? (doc as ImageV1) : null;
  } catch {
    return null;
  }
}

/** Writes the image into the mediator's (empty) engine as the state at `index`, in one transaction. */
export function importImageV1(mediator: Mediator, image: ImageV1, index: number): void {
  assert.equal(mediator.appliedIndex, 0, 'a v1 image is imported into an empty state engine only');
  assert.ok(image.modules !== null && typeof image.modules === 'object' && Array.isArray(image.idempotency?.keys), 'v1 image is malformed');
  mediator.state.batch(index, () => {
    for (const [name, entries] of Object.entries(image.modules)) {
      const tx = new Transaction(new ModuleState(name, mediator.state));
      // The built-in orders module now keys orders by creation order (see orders.ts).
      const keyOf = name === 'orders' ? (id: string): string => orderKey(id) ?? id : (key: string): string => key;
      for (const [key, value] of entries) tx.set(keyOf(key), value);
      tx.commit();
    }
    let lastIndex = -1;
    let within = 0;
    for (const [key, at, recorded, result] of image.idempotency.keys) {
      within = recorded === lastIndex ? within + 1 : 0;
      lastIndex = recorded;
      mediator.state.writer.put('idem', sequence(recorded, within), Buffer.from(JSON.stringify([key, at, recorded, result]), 'utf8'));
    }
    mediator.state.setIdempotencyClock(image.idempotency.clock);
  });
  mediator.reload();
}
