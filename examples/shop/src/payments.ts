// The shop's payments: one charge per order, refused above a per-charge limit and when the order
// was charged already (so a retried checkout never charges twice), and the charge of an order.
import { command, defineModule, fail, ok, query, t } from 'catga';

/** The largest single charge the shop accepts (100 000.00). */
export const MAX_CHARGE_CENTS = 10_000_000;

export const PaymentCodes = {
  ALREADY_CHARGED: 'ALREADY_CHARGED',
  OVER_LIMIT: 'OVER_LIMIT',
} as const;

export type Payment = {
  readonly id: string;
  readonly orderId: string;
  readonly amountCents: number;
  readonly chargedAt: number;
};

export default defineModule({
  name: 'payments',
  commands: {
    'payments.charge': command({
      schema: t.object({
        orderId: t.string({ minLength: 1, maxLength: 64 }),
        amountCents: t.integer({ min: 1 }),
        card: t.string({ pattern: '[0-9]{12,19}' }),
      }),
      handle(ctx, { orderId, amountCents }) {
        if (amountCents > MAX_CHARGE_CENTS) return fail(PaymentCodes.OVER_LIMIT, `a charge is at most ${MAX_CHARGE_CENTS} cents, got ${amountCents}`);
        const previous = ctx.store.get(orderId) as Payment | undefined;
        if (previous !== undefined) return fail(PaymentCodes.ALREADY_CHARGED, `order ${orderId} was charged by ${previous.id}`);
        // The card number is checked by the schema and never stored.
        const payment: Payment = { id: `pay-${ctx.index}-${ctx.position}`, orderId, amountCents, chargedAt: ctx.ts };
        ctx.store.set(orderId, payment);
        ctx.emit('payments.charged', { id: payment.id, orderId, amountCents });
        return ok(payment);
      },
    }),
  },
  queries: {
    'payments.forOrder': query({
      consistency: 'linearizable',
      schema: t.object({ orderId: t.string({ minLength: 1, maxLength: 64 }) }),
      handle(ctx, { orderId }) {
        const payment = ctx.store.get(orderId) as Payment | undefined;
        return payment === undefined ? fail('NOT_FOUND', `order ${orderId} has no payment`) : ok(payment);
      },
    }),
  },
});
