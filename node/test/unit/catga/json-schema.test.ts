// Payload schemas in their standard form (JSON Schema 2020-12) and the OpenAPI document of a set of
// modules; a query's declared consistency is checked when the module is defined.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtinModules, command, defineModule, DefinitionError, Mediator, ok, openApiDocument, query, silentLogger, t, toJsonSchema } from '../../../src/catga/index.js';

test('every t.* form maps to JSON Schema, with the validator\'s default limits written out', () => {
  const schema = t.object({
    sku: t.string({ minLength: 1, maxLength: 32, pattern: '[A-Z]+-\\d+' }),
    size: t.optional(t.string({ enum: ['s', 'm'] })),
    colour: t.nullable(t.string({ enum: ['red'] })),
    quantity: t.integer({ min: 1, max: 99 }),
    price: t.nullable(t.number({ min: 0 })),
    gift: t.optional(t.boolean()),
    tags: t.array(t.string(), { minItems: 1 }),
    meta: t.json({ maxBytes: 512 }),
    extra: t.object({}, { additional: true }),
  });
  assert.deepEqual(toJsonSchema(schema), {
    type: 'object',
    properties: {
      sku: { type: 'string', minLength: 1, maxLength: 32, pattern: '^(?:[A-Z]+-\\d+)$' },
      size: { type: 'string', maxLength: 65_536, enum: ['s', 'm'] },
      colour: { type: ['string', 'null'], maxLength: 65_536, enum: ['red', null] },
      quantity: { type: 'integer', minimum: 1, maximum: 99 },
      price: { type: ['number', 'null'], minimum: 0 },
      gift: { type: 'boolean' },
      tags: { type: 'array', items: { type: 'string', maxLength: 65_536 }, minItems: 1, maxItems: 1_000 },
      meta: { description: 'any JSON value', 'x-catga-maxBytes': 512 },
      extra: { type: 'object', properties: {}, required: [], additionalProperties: true },
    },
    required: ['sku', 'colour', 'quantity', 'price', 'tags', 'meta', 'extra'],
    additionalProperties: false,
  });
});

const shop = defineModule({
  name: 'shop',
  commands: { 'shop.buy': command({ schema: t.object({ sku: t.string() }), handle: (_ctx, p) => ok(p.sku) }) },
  queries: {
    'shop.stock': query({ consistency: 'linearizable', schema: t.object({ sku: t.string() }), handle: () => ok(1) }),
    'shop.price': query({ schema: t.object({}), handle: () => ok(2) }),
  },
  events: { 'shop.bought': () => {}, '*': () => {} },
});

test('the OpenAPI document has one operation per command, query and handled event, with the payload schemas', () => {
  const mediator = new Mediator({ modules: [...builtinModules, shop], logger: silentLogger });
  const doc = openApiDocument(mediator.registry, { title: 't', version: '1' }) as { openapi: string; paths: Record<string, { post: { requestBody: { content: { 'application/json': { schema: unknown } } }; parameters?: Array<{ name: string; schema: { default?: string } }>; tags: string[] } }> };
  assert.equal(doc.openapi, '3.1.0');
  const expected = [...mediator.registry.commands.keys()].map((type) => `/v1/commands/${type}`)
    .concat([...mediator.registry.queries.keys()].map((type) => `/v1/queries/${type}`), ['/v1/events/shop.bought']);
  assert.deepEqual(Object.keys(doc.paths).sort(), expected.sort());
  const buy = doc.paths['/v1/commands/shop.buy']!.post;
  assert.deepEqual(buy.requestBody.content['application/json'].schema, toJsonSchema(t.object({ sku: t.string() })));
  assert.deepEqual(buy.tags, ['shop']);
  const consistencyOf = (type: string) => doc.paths[`/v1/queries/${type}`]!.post.parameters?.find((p) => p.name === 'consistency')?.schema.default;
  assert.equal(consistencyOf('shop.stock'), 'linearizable');
  assert.equal(consistencyOf('shop.price'), 'local');
});

test('consistency is declared by queries only, as one of local, leader, linearizable', () => {
  const bad = (definition: object) => assert.throws(() => defineModule({ name: 'bad', ...definition }), (e: unknown) => e instanceof DefinitionError && /consistency is declared by queries only/.test(e.message));
  bad({ queries: { 'bad.q': { consistency: 'strong', schema: t.object({}), handle: () => ok(1) } } });
  bad({ commands: { 'bad.c': { consistency: 'leader', schema: t.object({}), handle: () => ok(1) } } });
});
