// An example user handler module for Catga: named counters.
//
// Load it with CATGA_HANDLERS=examples/handlers/counter.mjs (comma-separate several modules).
// It default-exports a function that receives the mediator's API, so it imports nothing and runs
// as-is, without a build step, whether the node runs from node/dist or from a container image.
// Command handlers must be deterministic: use ctx.ts (the entry's timestamp), never Date.now().
//
//   POST /v1/commands/counter.add   {"name": "visits", "by": 1}    → {"name","value","updatedAt"}
//   POST /v1/commands/counter.reset {"name": "visits"}             → {"name","value":0}
//   POST /v1/queries/counter.get    {"name": "visits"}             → {"name","value"}
//   event counter.changed {"name","value"}; counter.overflow refusal → HTTP 409

/** @param {import('catga').CatgaApi} catga */
export default function counterModule({ defineModule, command, query, t, ok, fail }) {
  const MAX_VALUE = 1_000_000_000;
  const name = t.string({ minLength: 1, maxLength: 64, pattern: '[a-z0-9_-]+' });

  return defineModule({
    name: 'counter',
    commands: {
      'counter.add': command({
        schema: t.object({ name, by: t.optional(t.integer({ min: -1000, max: 1000 })) }),
        handle(ctx, { name, by = 1 }) {
          const current = ctx.store.get(name);
          const value = (current === undefined ? 0 : current.value) + by;
          if (Math.abs(value) > MAX_VALUE) return fail('COUNTER_OVERFLOW', `counter ${name} would pass ±${MAX_VALUE}`);
          ctx.store.set(name, { value, updatedAt: ctx.ts });
          ctx.emit('counter.changed', { name, value });
          return ok({ name, value, updatedAt: ctx.ts });
        },
      }),
      'counter.reset': command({
        schema: t.object({ name }),
        handle(ctx, { name }) {
          if (ctx.store.delete(name)) ctx.emit('counter.changed', { name, value: 0 });
          return ok({ name, value: 0 });
        },
      }),
    },
    queries: {
      'counter.get': query({
        schema: t.object({ name }),
        handle(ctx, { name }) {
          const current = ctx.store.get(name);
          return ok({ name, value: current === undefined ? 0 : current.value });
        },
      }),
    },
    events: {
      // Event handlers run on every node after apply (at least once: also on log replay).
      'orders.created': (event, ctx) => {
        ctx.log.info('counter module saw an order', { index: event.index, id: event.data.id });
      },
    },
  });
}
