// Compile-time test of the typed client (not run: it is checked by `tsc -p node`, part of every
// build). Each `@ts-expect-error` line must fail to compile; if one starts compiling, the
// directive itself becomes an error and the build fails.
import { command, defineModule, fail, ok, query, t } from '../../src/catga/index.js';
import type { ClientResponse, TypedClient } from '../../src/client/index.js';

const catalog = defineModule({
  name: 'catalog',
  commands: {
    'catalog.add': command({
      schema: t.object({ sku: t.string(), priceCents: t.integer({ min: 0 }), note: t.optional(t.string()) }),
      handle: (_ctx, p) => (p.priceCents > 0 ? ok({ sku: p.sku, added: true as const }) : fail('FREE', 'no free items')),
    }),
  },
  queries: { 'catalog.get': query({ consistency: 'linearizable', schema: t.object({ sku: t.string() }), handle: (_ctx, p) => ok({ sku: p.sku, priceCents: 1 }) }) },
});
const cart = defineModule({
  name: 'cart',
  commands: { 'cart.add': command({ schema: t.object({ cartId: t.string(), quantity: t.integer() }), handle: () => ok(1) }) },
});
const modules = [catalog, cart];

declare const client: TypedClient<typeof modules>;
declare const single: TypedClient<typeof catalog>;

export async function typedCalls(): Promise<void> {
  const added: ClientResponse<{ sku: string; added: true }> = await client.send('catalog.add', { sku: 'a', priceCents: 5 });
  if (added.ok) added.value.added satisfies true;
  await client.send('catalog.add', { sku: 'a', priceCents: 5, note: 'optional fields may be left out or given' });
  const count: ClientResponse<number> = await client.send('cart.add', { cartId: 'c', quantity: 2 }, { idempotencyKey: 'k' });
  const read = await client.query('catalog.get', { sku: 'a' }, { consistency: 'local' });
  if (read.ok) read.value.priceCents satisfies number;
  await single.send('catalog.add', { sku: 'b', priceCents: 1 });
  void count;

  // @ts-expect-error an unknown command name
  await client.send('catalog.ad', { sku: 'a', priceCents: 5 });
  // @ts-expect-error a command name used as a query
  await client.query('catalog.add', { sku: 'a' });
  // @ts-expect-error a payload field of the wrong type
  await client.send('catalog.add', { sku: 'a', priceCents: '5' });
  // @ts-expect-error a required payload field missing
  await client.send('cart.add', { cartId: 'c' });
  // @ts-expect-error a payload field the schema does not have
  await client.send('cart.add', { cartId: 'c', quantity: 1, colour: 'red' });
  // @ts-expect-error another module's command on a client typed by one module
  await single.send('cart.add', { cartId: 'c', quantity: 1 });
  const wrong = await client.query('catalog.get', { sku: 'a' });
  // @ts-expect-error the result type comes from the handler
  if (wrong.ok) wrong.value.priceCents satisfies string;
}
