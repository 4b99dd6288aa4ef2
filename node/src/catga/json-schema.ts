// The standard form of a payload schema: `t.*` schemas as JSON Schema (draft 2020-12, the dialect
// of OpenAPI 3.1), for the OpenAPI document and any tool that speaks JSON Schema. The validator
// (schema.ts) stays the one that runs on requests; this is the same contract written for others.
// Defaults the validator applies (maximum string length and item count) are written out, so the
// document states every limit a request meets. What JSON Schema cannot say (a `json` field's
// serialized size) goes into an `x-catga-maxBytes` annotation.
import { DEFAULT_MAX_ITEMS, DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_STRING_LENGTH, type Schema } from './schema.js';

export type JsonSchemaDocument = { readonly [keyword: string]: unknown };

/** `schema` (checked by checkSchema) as a JSON Schema object. */
export function toJsonSchema(schema: Schema): JsonSchemaDocument {
  const nullable = schema.nullable === true;
  switch (schema.type) {
    case 'string': {
      const enumValues = schema.enum === undefined ? {} : { enum: nullable ? [...schema.enum, null] : [...schema.enum] };
      return {
        type: typeOf('string', nullable),
        ...(schema.minLength === undefined ? {} : { minLength: schema.minLength }),
        maxLength: schema.maxLength ?? DEFAULT_MAX_STRING_LENGTH,
        ...(schema.pattern === undefined ? {} : { pattern: `^(?:${schema.pattern})$` }),
        ...enumValues,
      };
    }
    case 'number':
    case 'integer':
      return {
        type: typeOf(schema.type, nullable),
        ...(schema.min === undefined ? {} : { minimum: schema.min }),
        ...(schema.max === undefined ? {} : { maximum: schema.max }),
      };
    case 'boolean':
      return { type: typeOf('boolean', nullable) };
    case 'json':
      // Any JSON value, null included.
      return { description: 'any JSON value', 'x-catga-maxBytes': schema.maxBytes ?? DEFAULT_MAX_JSON_BYTES };
    case 'array':
      return {
        type: typeOf('array', nullable),
        items: toJsonSchema(schema.items),
        ...(schema.minItems === undefined ? {} : { minItems: schema.minItems }),
        maxItems: schema.maxItems ?? DEFAULT_MAX_ITEMS,
      };
    case 'object': {
      const properties: Record<string, JsonSchemaDocument> = {};
      const required: string[] = [];
      for (const [name, field] of Object.entries(schema.fields)) {
        properties[name] = toJsonSchema(field);
        if (field.optional !== true) required.push(name);
      }
      return { type: typeOf('object', nullable), properties, required, additionalProperties: schema.additional === true };
    }
  }
}

function typeOf(type: string, nullable: boolean): string | readonly string[] {
  return nullable ? [type, 'null'] : type;
}
