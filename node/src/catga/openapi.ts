// The OpenAPI 3.1 document of the running modules (GET /v1/openapi.json): one operation per
// command (POST /v1/commands/{type}) and per query (POST /v1/queries/{type}, with the query's
// declared consistency as the default of `?consistency=`), and one per event type a module
// handles (POST /v1/events/{type}). Payloads are the modules' schemas as JSON Schema; results are
// not declared by handlers, so a success body's `value` is any JSON. Built once from the registry.
import type { Registry } from './registry.js';
import { CONSISTENCIES } from './api.js';
import { toJsonSchema, type JsonSchemaDocument } from './json-schema.js';

export const OPENAPI_VERSION = '3.1.0';

export interface OpenApiInfo {
  readonly title: string;
  readonly version: string;
}

type Operation = Record<string, unknown>;

const ERROR_RESPONSES: Readonly<Record<string, string>> = {
  '400': 'invalid payload (INVALID_PAYLOAD, with the issues in the message)',
  '401': 'no or unknown bearer token',
  '403': 'the token may not use this type',
  '404': 'unknown type, or NOT_FOUND from the handler',
  '409': 'the handler refused: its error code',
  '413': 'body or entry too large',
  '429': 'overloaded',
  '503': 'no leader or quorum within the deadline (Retry-After)',
};

const successBody: JsonSchemaDocument = {
  type: 'object',
  properties: { ok: { const: true }, value: { description: 'the handler\'s result' }, index: { type: 'integer', description: 'the Raft log index' } },
  required: ['ok', 'value', 'index'],
};

const errorBody: JsonSchemaDocument = {
  type: 'object',
  properties: {
    ok: { const: false },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] },
  },
  required: ['ok', 'error'],
};

function operation(summary: string, operationId: string, tag: string, body: JsonSchemaDocument, extra: Operation = {}): Operation {
  const responses: Record<string, unknown> = { '200': { description: 'done', content: { 'application/json': { schema: { $ref: '#/components/schemas/Success' } } } } };
  for (const [status, description] of Object.entries(ERROR_RESPONSES)) {
    responses[status] = { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  }
  return { summary, operationId, tags: [tag], requestBody: { required: true, content: { 'application/json': { schema: body } } }, responses, ...extra };
}

/** The document for the modules of `registry`. */
export function openApiDocument(registry: Registry, info: OpenApiInfo): JsonSchemaDocument {
  const paths: Record<string, Record<string, Operation>> = {};
  for (const [type, bound] of registry.commands) {
    paths[`/v1/commands/${type}`] = {
      post: operation(`command ${type}`, `command:${type}`, bound.module, toJsonSchema(bound.definition.schema), {
        parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', minLength: 1 }, description: 'a retried command with the same key applies once' }],
      }),
    };
  }
  for (const [type, bound] of registry.queries) {
    const consistency = bound.definition.consistency ?? 'local';
    paths[`/v1/queries/${type}`] = {
      post: operation(`query ${type}`, `query:${type}`, bound.module, toJsonSchema(bound.definition.schema), {
        parameters: [{ name: 'consistency', in: 'query', required: false, schema: { type: 'string', enum: [...CONSISTENCIES], default: consistency } }],
      }),
    };
  }
  for (const [type, handlers] of registry.eventHandlers) {
    if (type === '*') continue;
    const modules = [...new Set(handlers.map((handler) => handler.module))];
    paths[`/v1/events/${type}`] = {
      post: operation(`publish event ${type} (handled by ${modules.join(', ')})`, `event:${type}`, modules[0] as string, { description: 'the event data: any JSON value' }),
    };
  }
  return {
    openapi: OPENAPI_VERSION,
    info,
    paths,
    components: { schemas: { Success: successBody, Error: errorBody } },
  };
}
