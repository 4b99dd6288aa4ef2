// The application's Catga module: orders placed through the express routes, and a reactor that
// charges each order's payment once, at the payment provider, then marks the order paid (a saga of
// two commands: checkout.place → event checkout.placed → reactor → checkout.markPaid).
import { command, defineModule, fail, ok, query, t } from 'catga';

export const MAX_QUANTITY = 100;
const UNIT_PRICE_CENTS = 1_250;

export interface Order {
  readonly id: string;
  readonly item: string;
  readonly quantity: number;
  readonly status: 'placed' | 'paid';
  readonly placedAt: number;
  readonly payment: string | null;
}

const orderId = t.string({ minLength: 1, maxLength: 64 });

/** `paymentUrl`: where the reactor charges orders (a POST with an Idempotency-Key per order). */
export function checkoutModule(paymentUrl: string) {
  return defineModule({
    name: 'checkout',
    commands: {
      'checkout.place': command({
        schema: t.object({ item: t.string({ minLength: 1, maxLength: 64 }), quantity: t.integer({ min: 1, max: MAX_QUANTITY }) }),
        handle(ctx, { item, quantity }) {
          const order: Order = { id: `chk-${ctx.index}-${ctx.position}`, item, quantity, status: 'placed', placedAt: ctx.ts, payment: null };
          ctx.store.set(order.id, { ...order });
          ctx.emit('checkout.placed', { id: order.id, amountCents: quantity * UNIT_PRICE_CENTS });
          return ok(order);
        },
      }),
      'checkout.markPaid': command({
        schema: t.object({ id: orderId, payment: t.string({ minLength: 1, maxLength: 128 }) }),
        handle(ctx, { id, payment }) {
          const order = ctx.store.get(id) as Order | undefined;
          if (order === undefined) return fail('NOT_FOUND', `no order ${id}`);
          if (order.status === 'paid') return ok(order);
          const paid: Order = { ...order, status: 'paid', payment };
          ctx.store.set(id, { ...paid });
          ctx.emit('checkout.paid', { id, payment });
          return ok(paid);
        },
      }),
    },
    queries: {
      'checkout.get': query({
        schema: t.object({ id: orderId }),
        handle(ctx, { id }) {
          const order = ctx.store.get(id);
          return order === undefined ? fail('NOT_FOUND', `no order ${id}`) : ok(order);
        },
      }),
    },
    reactors: {
      'charge-payment': {
        events: ['checkout.placed'],
        async handle(event, ctx) {
          const { id, amountCents } = event.data as { id: string; amountCents: number };
          // The same key for every try, on every leader: the provider charges each order once.
          const res = await fetch(paymentUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': ctx.idempotencyKey },
            body: JSON.stringify({ orderId: id, amountCents }),
            signal: ctx.signal,
          });
          if (!res.ok) throw new Error(`the payment provider answered ${res.status}`);
          const { paymentId } = (await res.json()) as { paymentId: string };
          const marked = await ctx.send('checkout.markPaid', { id, payment: paymentId });
          if (!marked.ok) throw new Error(`checkout.markPaid: ${marked.code} ${marked.message}`);
        },
      },
    },
  });
}
