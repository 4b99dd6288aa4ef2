// The example domain of the Catga samples (CONTRACT.md §3): orders.create → orders.created,
// queries orders.get and orders.list. Order ids derive from the entry (`ord-<index>-<position>`),
// so every node assigns the same id without coordination.
import { command, defineModule, query } from '../api.js';
import { ErrorCodes, fail, ok } from '../result.js';
import { t } from '../schema.js';

export const ORDERS_MAX_PRODUCT_ID_LENGTH = 128;
export const ORDERS_MAX_QUANTITY = 10_000;
/** Bound on orders held; orders.create beyond it fails with ORDERS_FULL. */
export const ORDERS_MAX = 1_000_000;
export const ORDERS_LIST_DEFAULT_LIMIT = 100;
export const ORDERS_LIST_MAX_LIMIT = 1_000;

export const OrderCodes = { ORDERS_FULL: 'ORDERS_FULL' } as const;

export interface Order {
  readonly id: string;
  readonly productId: string;
  readonly quantity: number;
  readonly status: 'created';
  /** Timestamp of the entry that created the order. */
  readonly createdAt: number;
  readonly index: number;
}

export const ordersModule = defineModule({
  name: 'orders',
  commands: {
    'orders.create': command({
      schema: t.object({
        productId: t.string({ minLength: 1, maxLength: ORDERS_MAX_PRODUCT_ID_LENGTH }),
        quantity: t.integer({ min: 1, max: ORDERS_MAX_QUANTITY }),
      }),
      handle(ctx, payload) {
        if (ctx.store.size >= ORDERS_MAX) return fail(OrderCodes.ORDERS_FULL, `the store holds its limit of ${ORDERS_MAX} orders`);
        const order: Order = { id: `ord-${ctx.index}-${ctx.position}`, productId: payload.productId, quantity: payload.quantity, status: 'created', createdAt: ctx.ts, index: ctx.index };
        ctx.store.set(order.id, { ...order });
        ctx.emit('orders.created', { id: order.id, productId: order.productId, quantity: order.quantity, createdAt: order.createdAt });
        return ok(order);
      },
    }),
  },
  queries: {
    'orders.get': query({
      schema: t.object({ id: t.string({ minLength: 1, maxLength: 64 }) }),
      handle(ctx, payload) {
        const order = ctx.store.get(payload.id);
        return order === undefined ? fail(ErrorCodes.NOT_FOUND, `no order ${JSON.stringify(payload.id)}`) : ok(order);
      },
    }),
    'orders.list': query({
      // Pages in creation order: pass the previous page's `next` as `after`.
      schema: t.object({
        after: t.optional(t.string({ maxLength: 64 })),
        limit: t.optional(t.integer({ min: 1, max: ORDERS_LIST_MAX_LIMIT })),
      }),
      handle(ctx, payload) {
        const limit = payload.limit ?? ORDERS_LIST_DEFAULT_LIMIT;
        const orders = [];
        let skipping = payload.after !== undefined;
        let next: string | null = null;
        for (const [id, order] of ctx.store.entries()) {
          if (skipping) {
            skipping = id !== payload.after;
            continue;
          }
          if (orders.length === limit) {
            next = (orders[orders.length - 1] as { id: string }).id;
            break;
          }
          orders.push(order);
        }
        return ok({ orders, next });
      },
    }),
  },
});
