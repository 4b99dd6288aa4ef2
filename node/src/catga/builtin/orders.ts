// The example domain of the Catga samples (docs/api.md#built-in-modules): orders.create → orders.created,
// queries orders.get and orders.list. Order ids derive from the entry (`ord-<index>-<position>`),
// so every node assigns the same id without coordination. Orders are stored under a key that sorts
// in creation order (`o/<index, 16 digits>/<position, 6 digits>`), so a page of orders.list is one
// bounded scan of the store.
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

const ORDER_KEY_PREFIX = 'o/';
const ORDER_ID = /^ord-(\d{1,16})-(\d{1,6})$/;

/** The store key of order `ord-<index>-<position>`, or null for a string that is no order id. */
export function orderKey(id: string): string | null {
  const match = ORDER_ID.exec(id);
  if (match === null) return null;
  return `${ORDER_KEY_PREFIX}${(match[1] as string).padStart(16, '0')}/${(match[2] as string).padStart(6, '0')}`;
}

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
        ctx.store.set(orderKey(order.id) as string, { ...order });
        ctx.emit('orders.created', { id: order.id, productId: order.productId, quantity: order.quantity, createdAt: order.createdAt });
        return ok(order);
      },
    }),
  },
  queries: {
    'orders.get': query({
      schema: t.object({ id: t.string({ minLength: 1, maxLength: 64 }) }),
      handle(ctx, payload) {
        const key = orderKey(payload.id);
        const order = key === null ? undefined : ctx.store.get(key);
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
        const after = payload.after === undefined ? undefined : orderKey(payload.after);
        if (after === null) return fail(ErrorCodes.INVALID_PAYLOAD, `after: ${JSON.stringify(payload.after)} is not an order id`, [{ path: 'payload.after', message: 'must be an order id' }]);
        const rows = ctx.store.scan(ORDER_KEY_PREFIX, { after, limit });
        const orders = rows.map(([, order]) => order);
        // A full page has a next one if one more row follows it.
        const last = rows[rows.length - 1];
        const more = rows.length === limit && last !== undefined && ctx.store.scan(ORDER_KEY_PREFIX, { after: last[0], limit: 1 }).length > 0;
        return ok({ orders, next: more ? (last[1] as { id: string }).id : null });
      },
    }),
  },
});
