// The payload schema mini-language: plain-data schemas (usable from a .mjs module without a build
// step), `t.*` builders that keep TypeScript inference (`Infer<S>`), a one-time well-formedness
// check for schemas a module declares, and the validator that turns a payload into 400-ready
// issues with field paths. Validation runs once, at the edge, before anything reaches the log.
import type { Issue } from './result.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

interface Modifiers {
  /** Inside an object: the field may be absent. */
  readonly optional?: boolean;
  /** The value may be JSON `null`. */
  readonly nullable?: boolean;
}

export interface StringSchema extends Modifiers {
  readonly type: 'string';
  readonly minLength?: number;
  /** Defaults to DEFAULT_MAX_STRING_LENGTH. */
  readonly maxLength?: number;
  readonly enum?: readonly string[];
  /** A regular expression source the whole string must match. */
  readonly pattern?: string;
}

export interface NumberSchema extends Modifiers {
  readonly type: 'number' | 'integer';
  readonly min?: number;
  readonly max?: number;
}

export interface BooleanSchema extends Modifiers {
  readonly type: 'boolean';
}

export interface ArraySchema extends Modifiers {
  readonly type: 'array';
  readonly items: Schema;
  readonly minItems?: number;
  /** Defaults to DEFAULT_MAX_ITEMS. */
  readonly maxItems?: number;
}

export interface ObjectSchema extends Modifiers {
  readonly type: 'object';
  readonly fields: Readonly<Record<string, Schema>>;
  /** Fields not listed are refused unless this is true. */
  readonly additional?: boolean;
}

/** Any JSON value, bounded by its serialized size. */
export interface JsonSchema extends Modifiers {
  readonly type: 'json';
  /** Defaults to DEFAULT_MAX_JSON_BYTES. */
  readonly maxBytes?: number;
}

export type Schema = StringSchema | NumberSchema | BooleanSchema | ArraySchema | ObjectSchema | JsonSchema;

export const DEFAULT_MAX_STRING_LENGTH = 65_536;
export const DEFAULT_MAX_ITEMS = 1_000;
export const DEFAULT_MAX_JSON_BYTES = 65_536;
/** Validation stops collecting after this many issues. */
export const MAX_ISSUES = 20;
/** Nesting bound for JSON values (payload `json` fields, stored values, event data). */
export const MAX_JSON_DEPTH = 64;

/** Whether a parsed JSON value nests deeper than `max` arrays/objects. */
export function jsonDepthExceeds(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (max === 0) return true;
  for (const key in value) {
    if (jsonDepthExceeds((value as Record<string, unknown>)[key], max - 1)) return true;
  }
  return false;
}

// ---- Inference -----------------------------------------------------------------------------------

type InferBase<S> = S extends { type: 'string'; enum: readonly (infer E)[] }
  ? E
  : S extends { type: 'string' }
    ? string
    : S extends { type: 'number' | 'integer' }
      ? number
      : S extends { type: 'boolean' }
        ? boolean
        : S extends { type: 'array'; items: infer I }
          ? Infer<I>[]
          : S extends { type: 'object'; fields: infer F }
            ? InferObject<F>
            : S extends { type: 'json' }
              ? JsonValue
              : never;

// Index signatures are dropped: the contextual type `Record<string, Schema>` of a definition can
// join a schema's own fields, and would otherwise let any field name through.
type InferObject<F> = {
  [K in keyof F as string extends K ? never : F[K] extends { optional: true } ? never : K]: Infer<F[K]>;
} & {
  [K in keyof F as string extends K ? never : F[K] extends { optional: true } ? K : never]?: Infer<F[K]>;
};

/** The TypeScript type of a payload that passed `schema`. */
export type Infer<S> = S extends { nullable: true } ? InferBase<S> | null : InferBase<S>;

type Options<S> = Omit<S, 'type'>;

/** Builders: `t.object({ key: t.string({ maxLength: 256 }), n: t.optional(t.integer()) })`. */
export const t = {
  string<const O extends Options<StringSchema>>(options?: O): { type: 'string' } & O {
    return { type: 'string', ...(options as O) };
  },
  number<const O extends Options<NumberSchema>>(options?: O): { type: 'number' } & O {
    return { type: 'number', ...(options as O) };
  },
  integer<const O extends Options<NumberSchema>>(options?: O): { type: 'integer' } & O {
    return { type: 'integer', ...(options as O) };
  },
  boolean<const O extends Options<BooleanSchema>>(options?: O): { type: 'boolean' } & O {
    return { type: 'boolean', ...(options as O) };
  },
  array<const I extends Schema, const O extends Omit<Options<ArraySchema>, 'items'>>(items: I, options?: O): { type: 'array'; items: I } & O {
    return { type: 'array', items, ...(options as O) };
  },
  object<const F extends Record<string, Schema>, const O extends Omit<Options<ObjectSchema>, 'fields'>>(fields: F, options?: O): { type: 'object'; fields: F } & O {
    return { type: 'object', fields, ...(options as O) };
  },
  json<const O extends Options<JsonSchema>>(options?: O): { type: 'json' } & O {
    return { type: 'json', ...(options as O) };
  },
  optional<const S extends Schema>(schema: S): S & { optional: true } {
    return { ...schema, optional: true };
  },
  nullable<const S extends Schema>(schema: S): S & { nullable: true } {
    return { ...schema, nullable: true };
  },
};

// ---- Well-formedness (definition time) -----------------------------------------------------------

export class SchemaError extends Error {
  readonly code = 'INVALID_SCHEMA';
}

const compiledPatterns = new WeakMap<StringSchema, RegExp>();

function isCount(n: unknown): boolean {
  return n === undefined || (Number.isSafeInteger(n) && (n as number) >= 0);
}

/** Throws SchemaError naming the path of the first malformed part of `schema`. */
export function checkSchema(schema: Schema, path = 'payload'): void {
  const bad = (what: string): never => {
    throw new SchemaError(`schema at ${path}: ${what}`);
  };
  if (schema === null || typeof schema !== 'object') bad('must be an object');
  switch (schema.type) {
    case 'string':
      if (!isCount(schema.minLength) || !isCount(schema.maxLength)) bad('minLength/maxLength must be non-negative integers');
      if (schema.enum !== undefined && (!Array.isArray(schema.enum) || schema.enum.some((e) => typeof e !== 'string'))) bad('enum must be an array of strings');
      if (schema.pattern !== undefined) {
        try {
          compiledPatterns.set(schema, new RegExp(`^(?:${schema.pattern})$`, 'u'));
        } catch {
          bad(`pattern ${JSON.stringify(schema.pattern)} is not a valid regular expression`);
        }
      }
      return;
    case 'number':
    case 'integer':
      if ((schema.min !== undefined && !Number.isFinite(schema.min)) || (schema.max !== undefined && !Number.isFinite(schema.max))) bad('min/max must be finite numbers');
      return;
    case 'boolean':
      return;
    case 'json':
      if (!isCount(schema.maxBytes)) bad('maxBytes must be a non-negative integer');
      return;
    case 'array':
      if (!isCount(schema.minItems) || !isCount(schema.maxItems)) bad('minItems/maxItems must be non-negative integers');
      checkSchema(schema.items, `${path}[]`);
      return;
    case 'object':
      if (schema.fields === null || typeof schema.fields !== 'object') bad('fields must be an object');
      for (const [name, field] of Object.entries(schema.fields)) checkSchema(field, `${path}.${name}`);
      return;
    default:
      bad(`unknown type ${JSON.stringify((schema as { type: unknown }).type)}`);
  }
}

// ---- Validation (the edge) -----------------------------------------------------------------------

/** Validates `value` against a checked schema; returns the issues found (empty when valid). */
export function validate(schema: Schema, value: unknown, path = 'payload'): Issue[] {
  const issues: Issue[] = [];
  visit(schema, value, path, issues);
  return issues;
}

function report(issues: Issue[], path: string, message: string): void {
  if (issues.length < MAX_ISSUES) issues.push({ path, message });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function visit(schema: Schema, value: unknown, path: string, issues: Issue[]): void {
  if (issues.length >= MAX_ISSUES) return;
  if (value === null) {
    if (schema.nullable !== true && schema.type !== 'json') report(issues, path, `must be ${schema.type}, got null`);
    return;
  }
  switch (schema.type) {
    case 'string': {
      if (typeof value !== 'string') return report(issues, path, `must be a string, got ${describe(value)}`);
      const max = schema.maxLength ?? DEFAULT_MAX_STRING_LENGTH;
      if (value.length > max) return report(issues, path, `must be at most ${max} characters long`);
      if (schema.minLength !== undefined && value.length < schema.minLength) return report(issues, path, `must be at least ${schema.minLength} characters long`);
      if (schema.enum !== undefined && !schema.enum.includes(value)) return report(issues, path, `must be one of ${schema.enum.join(', ')}`);
      const pattern = schema.pattern === undefined ? undefined : compiledPatterns.get(schema);
      if (pattern !== undefined && !pattern.test(value)) report(issues, path, `must match ${schema.pattern}`);
      return;
    }
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return report(issues, path, `must be a ${schema.type}, got ${describe(value)}`);
      if (schema.type === 'integer' && !Number.isSafeInteger(value)) return report(issues, path, 'must be an integer');
      if (schema.min !== undefined && value < schema.min) return report(issues, path, `must be ≥ ${schema.min}`);
      if (schema.max !== undefined && value > schema.max) report(issues, path, `must be ≤ ${schema.max}`);
      return;
    }
    case 'boolean':
      if (typeof value !== 'boolean') report(issues, path, `must be a boolean, got ${describe(value)}`);
      return;
    case 'json': {
      const max = schema.maxBytes ?? DEFAULT_MAX_JSON_BYTES;
      let text: string | undefined;
      try {
        text = JSON.stringify(value);
      } catch {
        text = undefined;
      }
      if (text === undefined) return report(issues, path, 'must be a JSON value');
      if (jsonDepthExceeds(value)) return report(issues, path, `must not nest deeper than ${MAX_JSON_DEPTH} levels`);
      if (Buffer.byteLength(text) > max) report(issues, path, `must be at most ${max} bytes as JSON`);
      return;
    }
    case 'array': {
      if (!Array.isArray(value)) return report(issues, path, `must be an array, got ${describe(value)}`);
      const max = schema.maxItems ?? DEFAULT_MAX_ITEMS;
      if (value.length > max) return report(issues, path, `must have at most ${max} items`);
      if (schema.minItems !== undefined && value.length < schema.minItems) return report(issues, path, `must have at least ${schema.minItems} items`);
      for (let i = 0; i < value.length; i++) visit(schema.items, value[i], `${path}[${i}]`, issues);
      return;
    }
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return report(issues, path, `must be an object, got ${describe(value)}`);
      const record = value as Record<string, unknown>;
      for (const name in schema.fields) {
        const field = schema.fields[name] as Schema;
        const fieldValue = Object.hasOwn(record, name) ? record[name] : undefined;
        if (fieldValue === undefined) {
          if (field.optional !== true) report(issues, `${path}.${name}`, 'is required');
          continue;
        }
        visit(field, fieldValue, `${path}.${name}`, issues);
      }
      if (schema.additional !== true) {
        for (const name in record) {
          if (!Object.hasOwn(schema.fields, name)) report(issues, `${path}.${name}`, 'is not a known field');
        }
      }
      return;
    }
  }
}
