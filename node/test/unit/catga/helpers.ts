// Test helpers for the mediator: a Mediator with the built-ins, and a tiny "log" that encodes,
// numbers and applies entries the way the runtime does.
import assert from 'node:assert/strict';
import { builtinModules, Mediator, silentLogger, type AppliedEntry, type CommandInput, type MediatorOptions, type ModuleDefinition } from '../../../src/catga/index.js';
import type { Entry } from '../../../src/raft/types.js';
import { TABLES } from '../../../src/state/engine.js';
import { decodeChunk, readChunk, withMetaRows, type Cursor } from '../../../src/state/snapshot-stream.js';

export function newMediator(extra: readonly ModuleDefinition[] = [], options: Partial<MediatorOptions> = {}): Mediator {
  return new Mediator({ modules: [...builtinModules, ...extra], logger: silentLogger, ...options });
}

export function entry(index: number, data: Uint8Array, term = 1): Entry {
  return { index, term, type: 'normal', data };
}

/** Proposes and applies entries on one mediator, numbering them from its applied index. */
export class TestLog {
  readonly entries: Entry[] = [];
  /** What applying each entry gave, by position (entry index - 1). */
  readonly results: AppliedEntry[] = [];
  constructor(
    readonly mediator: Mediator,
    public now = 1_700_000_000_000,
  ) {}

  commands(commands: readonly CommandInput[], ts = this.now): AppliedEntry {
    const data = this.mediator.prepareCommands(commands, ts);
    assert.ok(data.ok, `prepare failed: ${JSON.stringify(data)}`);
    return this.append(data.value);
  }

  send(type: string, payload: unknown, idempotencyKey?: string, ts = this.now): AppliedEntry {
    return this.commands([{ type, payload, idempotencyKey }], ts);
  }

  publish(type: string, data: unknown, ts = this.now): AppliedEntry {
    const bytes = this.mediator.preparePublish(type, data, ts);
    assert.ok(bytes.ok);
    return this.append(bytes.value);
  }

  append(data: Uint8Array): AppliedEntry {
    const e = entry(this.mediator.appliedIndex + 1, data);
    this.entries.push(e);
    const applied = this.mediator.apply(e);
    this.results.push(applied);
    return applied;
  }
}

/** The single command result of an applied entry. */
export function only(applied: AppliedEntry): AppliedEntry['results'][number] {
  assert.equal(applied.results.length, 1);
  return applied.results[0] as AppliedEntry['results'][number];
}

/** Every row the mediator's engine holds, as text: equal dumps are equal replicated states. */
export function dumpState(mediator: Mediator): string[] {
  const out: string[] = [];
  for (const table of TABLES) {
    for (const { key, value } of mediator.state.engine.range(table, { prefix: new Uint8Array(0), limit: Number.MAX_SAFE_INTEGER })) {
      out.push(`${table} ${Buffer.from(key).toString('hex')} ${Buffer.from(value).toString('hex')}`);
    }
  }
  return out;
}

/** Moves `from`'s state into `to` the way a snapshot travels: pinned view, chunks, stage, swap, reload. */
export async function transferState(from: Mediator, to: Mediator, chunkBytes = 256): Promise<number> {
  const view = withMetaRows(from.state.engine.pin(), from.eventRowsForSnapshot());
  const stage = to.state.engine.stage();
  let cursor: Cursor | null = null;
  let chunks = 0;
  do {
    const { chunk, next } = readChunk(view, cursor, chunkBytes);
    const records = decodeChunk(chunk);
    for (const table of TABLES) stage.put(table, records.filter((r) => r.table === table));
    cursor = next;
    chunks++;
  } while (cursor !== null);
  view.close();
  await stage.swap();
  to.reload();
  return chunks;
}
