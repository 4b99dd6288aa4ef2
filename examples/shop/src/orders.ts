// The shop's orders: placing an order (its lines and total), marking it paid, cancelling it, and
// reading it back. Order ids come from the Raft entry (`ord-<index>-<position>`), so every node
// assigns the same id; handlers use ctx.ts, never the wall clock, so every node applies alike.
import { command, defineModule, fail, ok, query, t, type ReadStore } from 'catga';

export const MAX_LINES = 50;
export const MAX_QUANTITY = 1_000;
export const MAX_PRICE_CENTS = 1_000_000;

export const OrderCodes = {
  /** The order is paid or cancelled: it cannot change any more. */
  ORDER_CLOSED: 'ORDER_CLOSED',
  /** A payment must cover the order's total exactly. */
  WRONG_AMOUNT: 'WRONG_AMOUNT',
} as const;

export type OrderLine = {
  readonly sku: string;
  readonly quantity: number;
  readonly priceCents: number;
};

export type Order = {
  readonly id: string;
  readonly customer: string;
  readonly lines: OrderLine[];
  readonly totalCents: number;
  readonly status: 'placed' | 'paid' | 'cancelled';
  readonly placedAt: number;
  readonly paymentId: string | null;
};

const orderId = t.string({ minLength: 1, maxLength: 64, pattern: 'ord-[0-9]+-[0-9]+' });

function load(store: ReadStore, id: string): Order | undefined {
  return store.get(id) as Order | undefined;
}

export default defineModule({
  name: 'orders',
  commands: {
    'orders.place': command({
      schema: t.object({
        customer: t.string({ minLength: 1, maxLength: 128 }),
        lines: t.array(
          t.object({
            sku: t.string({ minLength: 1, maxLength: 64 }),
            quantity: t.integer({ min: 1, max: MAX_QUANTITY }),
            priceCents: t.integer({ min: 0, max: MAX_PRICE_CENTS }),
          }),
          { minItems: 1, maxItems: MAX_LINES },
        ),
      }),
      handle(ctx, { customer, lines }) {
        const totalCents = lines.reduce((sum, line) => sum + line.quantity * line.priceCents, 0);
        const order: Order = { id: `ord-${ctx.index}-${ctx.position}`, customer, lines, totalCents, status: 'placed', placedAt: ctx.ts, paymentId: null };
        ctx.store.set(order.id, order);
        ctx.emit('orders.placed', { id: order.id, customer, totalCents });
        return ok(order);
      },
    }),
    'orders.markPaid': command({
      schema: t.object({ orderId, paymentId: t.string({ minLength: 1, maxLength: 64 }), amountCents: t.integer({ min: 0 }) }),
      handle(ctx, { orderId, paymentId, amountCents }) {
        const order = load(ctx.store, orderId);
        if (order === undefined) return fail('NOT_FOUND', `no order ${orderId}`);
        if (order.status !== 'placed') return fail(OrderCodes.ORDER_CLOSED, `order ${orderId} is ${order.status}`);
        if (amountCents !== order.totalCents) return fail(OrderCodes.WRONG_AMOUNT, `order ${orderId} totals ${order.totalCents} cents, the payment is ${amountCents}`);
        const paid: Order = { ...order, status: 'paid', paymentId };
        ctx.store.set(orderId, paid);
        ctx.emit('orders.paid', { id: orderId, paymentId });
        return ok(paid);
      },
    }),
    'orders.cancel': command({
      schema: t.object({ orderId }),
      handle(ctx, { orderId }) {
        const order = load(ctx.store, orderId);
        if (order === undefined) return fail('NOT_FOUND', `no order ${orderId}`);
        if (order.status !== 'placed') return fail(OrderCodes.ORDER_CLOSED, `order ${orderId} is ${order.status}`);
        const cancelled: Order = { ...order, status: 'cancelled' };
        ctx.store.set(orderId, cancelled);
        ctx.emit('orders.cancelled', { id: orderId });
        return ok(cancelled);
      },
    }),
  },
  queries: {
    // Read after write from any node: a linearizable read unless the caller asks for less.
    'orders.get': query({
      consistency: 'linearizable',
      schema: t.object({ orderId }),
      handle(ctx, { orderId }) {
        const order = load(ctx.store, orderId);
        return order === undefined ? fail('NOT_FOUND', `no order ${orderId}`) : ok(order);
      },
    }),
  },
});
