// The replicated record of reactor progress: the module `catga-reactors` every node loads, whose command
// `catga.reactor.done` (sent by the leader's reactor runner only, never by clients) records that a
// reactor finished an event, or gave up on it (a dead letter), and whose queries show each
// reactor's checkpoint and its dead letters. Through the log, a new leader resumes a reactor
// after the last event the old one finished. Checkpoints only move forward: a late `done` from a
// deposed leader changes nothing.
import { command, defineModule, query, type ModuleDefinition } from './api.js';
import { compareEventIds, formatEventId, type EventId } from './reactor-schedule.js';
import { ErrorCodes, fail, ok } from './result.js';
import { t, type JsonValue } from './schema.js';
import type { ReadStore } from './store.js';

export const REACTOR_MODULE = 'catga-reactors';
export const REACTOR_DONE_COMMAND = 'catga.reactor.done';
export const REACTOR_PROGRESS_QUERY = 'catga.reactors.progress';
export const REACTOR_DEAD_LETTERS_QUERY = 'catga.reactors.deadLetters';
/** Dead letters kept per reactor; beyond it the oldest goes. */
export const MAX_DEAD_LETTERS_PER_REACTOR = 10_000;
/** Longest error message a dead letter keeps. */
export const MAX_DEAD_LETTER_ERROR_LENGTH = 1_000;
export const DEAD_LETTERS_MAX_LIMIT = 1_000;
const REACTOR_NAME_MAX_LENGTH = 128;

export interface ReactorCheckpoint {
  readonly reactor: string;
  /** The last event finished (handled or dead-lettered); index 0: none yet. */
  readonly index: number;
  readonly position: number;
  readonly deadLetters: number;
}

export interface DeadLetter {
  readonly reactor: string;
  readonly eventId: string;
  readonly type: string;
  readonly error: string;
  readonly attempts: number;
  /** The entry timestamp of the `done` that recorded it. */
  readonly at: number;
}

const progressKey = (reactor: string): string => `r/${reactor}`;
const deadLetterPrefix = (reactor: string): string => `d/${reactor}/`;
const deadLetterKey = (reactor: string, id: EventId): string => `${deadLetterPrefix(reactor)}${String(id.index).padStart(16, '0')}/${String(id.position).padStart(6, '0')}`;

/** A reactor's replicated checkpoint as this node's applied state holds it. */
export function readCheckpoint(store: ReadStore, reactor: string): ReactorCheckpoint {
  const held = store.get(progressKey(reactor)) as ReactorCheckpoint | undefined;
  return held ?? { reactor, index: 0, position: 0, deadLetters: 0 };
}

const reactorName = t.string({ minLength: 1, maxLength: REACTOR_NAME_MAX_LENGTH });

export const reactorProgressModule: ModuleDefinition = defineModule({
  name: REACTOR_MODULE,
  commands: {
    [REACTOR_DONE_COMMAND]: command({
      schema: t.object({
        reactor: reactorName,
        index: t.integer({ min: 1 }),
        position: t.integer({ min: 0 }),
        deadLetter: t.optional(t.object({
          type: t.string({ minLength: 1, maxLength: 128 }),
          error: t.string({ maxLength: MAX_DEAD_LETTER_ERROR_LENGTH }),
          attempts: t.integer({ min: 1 }),
        })),
      }),
      handle(ctx, { reactor, index, position, deadLetter }) {
        const id = { index, position };
        const current = readCheckpoint(ctx.store, reactor);
        if (compareEventIds(id, current) <= 0) return ok({ advanced: false, checkpoint: formatEventId(current) });
        let deadLetters = current.deadLetters;
        if (deadLetter !== undefined) {
          const letter: DeadLetter = { reactor, eventId: formatEventId(id), type: deadLetter.type, error: deadLetter.error, attempts: deadLetter.attempts, at: ctx.ts };
          ctx.store.set(deadLetterKey(reactor, id), letter as unknown as JsonValue);
          deadLetters++;
          if (deadLetters > MAX_DEAD_LETTERS_PER_REACTOR) {
            const [oldest] = ctx.store.scan(deadLetterPrefix(reactor), { limit: 1 });
            if (oldest !== undefined) ctx.store.delete(oldest[0]);
            deadLetters--;
          }
        }
        const next: ReactorCheckpoint = { reactor, index, position, deadLetters };
        ctx.store.set(progressKey(reactor), next as unknown as JsonValue);
        return ok({ advanced: true, checkpoint: formatEventId(id) });
      },
    }),
  },
  queries: {
    [REACTOR_PROGRESS_QUERY]: query({
      schema: t.object({}),
      handle: (ctx) => ok(ctx.store.scan('r/', { limit: DEAD_LETTERS_MAX_LIMIT }).map(([, value]) => {
        const c = value as unknown as ReactorCheckpoint;
        return { reactor: c.reactor, checkpoint: formatEventId(c), deadLetters: c.deadLetters };
      })),
    }),
    [REACTOR_DEAD_LETTERS_QUERY]: query({
      // Oldest first; pass the previous page's `next` as `after`.
      schema: t.object({
        reactor: reactorName,
        after: t.optional(t.string({ maxLength: 64 })),
        limit: t.optional(t.integer({ min: 1, max: DEAD_LETTERS_MAX_LIMIT })),
      }),
      handle(ctx, { reactor, after, limit = 100 }) {
        const from = after === undefined ? undefined : parseEventIdOrNull(after);
        if (from === null) return fail(ErrorCodes.INVALID_PAYLOAD, `after: ${JSON.stringify(after)} is not an event id (<index>.<position>)`, [{ path: 'payload.after', message: 'must be an event id' }]);
        const rows = ctx.store.scan(deadLetterPrefix(reactor), { after: from === undefined ? undefined : deadLetterKey(reactor, from), limit });
        const letters = rows.map(([, letter]) => letter as unknown as DeadLetter);
        return ok({ deadLetters: letters, next: rows.length === limit ? (letters[letters.length - 1] as DeadLetter).eventId : null });
      },
    }),
  },
});

function parseEventIdOrNull(text: string): EventId | null {
  const match = /^(\d{1,16})\.(\d{1,6})$/.exec(text);
  return match === null ? null : { index: Number(match[1]), position: Number(match[2]) };
}
