import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkSchema, SchemaError, t, validate, type Infer } from '../../../src/catga/index.js';
import { MAX_ISSUES } from '../../../src/catga/schema.js';

const order = t.object({
  productId: t.string({ minLength: 1, maxLength: 8 }),
  quantity: t.integer({ min: 1, max: 10 }),
  color: t.optional(t.string({ enum: ['red', 'blue'] })),
  tags: t.optional(t.array(t.string({ maxLength: 3 }), { maxItems: 2 })),
  meta: t.optional(t.object({ gift: t.boolean(), note: t.nullable(t.string()) })),
  extra: t.optional(t.json({ maxBytes: 16 })),
  price: t.optional(t.number({ min: 0 })),
  sku: t.optional(t.string({ pattern: '[A-Z]{3}-[0-9]+' })),
});
checkSchema(order);

test('a valid payload has no issues, and the inferred type matches', () => {
  const payload: Infer<typeof order> = { productId: 'p1', quantity: 3, color: 'red', meta: { gift: true, note: null }, sku: 'ABC-12' };
  assert.deepEqual(validate(order, payload), []);
});

test('issues carry field paths through objects and arrays', () => {
  const issues = validate(order, {
    productId: '',
    quantity: 2.5,
    color: 'green',
    tags: ['ok', 'toolong'],
    meta: { gift: 'yes', note: 3 },
    extra: { big: 'xxxxxxxxxxxxxxxxxxxxx' },
    price: -1,
    sku: 'abc-1',
    unknown: 1,
  });
  const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
  assert.deepEqual(Object.keys(byPath).sort(), [
    'payload.color',
    'payload.extra',
    'payload.meta.gift',
    'payload.meta.note',
    'payload.price',
    'payload.productId',
    'payload.quantity',
    'payload.sku',
    'payload.tags[1]',
    'payload.unknown',
  ]);
  assert.match(byPath['payload.quantity'] as string, /integer/);
  assert.match(byPath['payload.color'] as string, /one of red, blue/);
  assert.match(byPath['payload.unknown'] as string, /not a known field/);
});

test('required fields, nulls and wrong container types are reported', () => {
  assert.deepEqual(validate(order, { quantity: null }), [
    { path: 'payload.productId', message: 'is required' },
    { path: 'payload.quantity', message: 'must be integer, got null' },
  ]);
  assert.deepEqual(validate(order, [1]), [{ path: 'payload', message: 'must be an object, got an array' }]);
  assert.deepEqual(validate(t.array(t.integer(), { maxItems: 1 }), [1, 2], 'x'), [{ path: 'x', message: 'must have at most 1 items' }]);
});

test('json fields are bounded in depth as well as size', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 70; i++) deep = [deep];
  const issues = validate(t.json({ maxBytes: 10_000 }), deep, 'v');
  assert.equal(issues.length, 1);
  assert.match((issues[0] as { message: string }).message, /deeper/);
});

test('issues stop at MAX_ISSUES', () => {
  const schema = t.array(t.string(), { maxItems: 100 });
  assert.equal(validate(schema, new Array(50).fill(1)).length, MAX_ISSUES);
});

test('malformed schemas are refused with their path', () => {
  assert.throws(() => checkSchema(t.object({ a: t.array({ type: 'strnig' } as never) })), (e: unknown) => e instanceof SchemaError && /payload\.a\[\]/.test(e.message));
  assert.throws(() => checkSchema(t.string({ pattern: '(' })), SchemaError);
  assert.throws(() => checkSchema(t.string({ maxLength: -1 })), SchemaError);
});
