// Command-line flags for every catga verb, through node:util parseArgs: strict (an unknown flag, a
// missing value or a stray argument is an error naming it), plus integers checked against bounds.
import { parseArgs } from 'node:util';

/** A flag the verb does not know, a missing or malformed value: the verb prints its usage. */
export class FlagError extends Error {
  readonly code = 'USAGE';
}

export type FlagSpec = Readonly<Record<string, { readonly type: 'string' | 'boolean'; readonly multiple?: boolean }>>;
type Values<S extends FlagSpec> = {
  [K in keyof S]?: S[K]['type'] extends 'boolean' ? (S[K]['multiple'] extends true ? boolean[] : boolean) : S[K]['multiple'] extends true ? string[] : string;
};

/** The flags of `argv` per `spec` (no positional arguments); FlagError on anything else. */
export function readFlags<S extends FlagSpec>(argv: readonly string[], spec: S): Values<S> {
  try {
    return parseArgs({ args: [...argv], options: spec, strict: true, allowPositionals: false }).values as Values<S>;
  } catch (err) {
    throw new FlagError((err as Error).message);
  }
}

/** `value` as an integer in [min, max], or `fallback` when the flag was not given. */
export function intFlag(name: string, value: string | undefined, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new FlagError(`--${name} needs an integer from ${min} to ${max}, got "${value}"`);
  return n;
}
