// Command-line flags for every catga verb, through node:util parseArgs: strict (an unknown flag, a
// missing value or a stray argument is an error naming it), plus integers checked against bounds.
import { parseArgs } from 'node:util';

/** A flag the verb does not know, a missing or malformed value: the verb prints its usage. */
export class FlagError extends Error {
  readonly code = 'USAGE';
}

export type FlagSpec = Readonly<Record<string, { readonly type: 'string' | 'boolean'; readonly multiple?: boolean; readonly short?: string }>>;
type Option = FlagSpec[string];
/** A flag's value: a switch's boolean, a string, or either for a spec built at run time (its type not a literal). */
type Single<O extends Option> = O['type'] extends 'boolean' ? boolean : O['type'] extends 'string' ? string : string | boolean;
type Values<S extends FlagSpec> = { [K in keyof S]?: S[K]['multiple'] extends true ? Single<S[K]>[] : Single<S[K]> };

/** `allowNegative`: every switch `--x` also has `--no-x` (false). */
export interface FlagOptions {
  readonly allowNegative?: boolean;
}

/** Flags read per a spec, and the arguments that are not flags. */
export interface FlagsAndArguments<S extends FlagSpec> {
  readonly values: Values<S>;
  readonly positionals: string[];
}

/** The flags of `argv` per `spec` (no positional arguments); FlagError on anything else. */
export function readFlags<S extends FlagSpec>(argv: readonly string[], spec: S, options: FlagOptions = {}): Values<S> {
  return parseFlags(argv, spec, false, options).values;
}

/** The flags of `argv` per `spec` and the arguments that are not flags; FlagError on an unknown flag or a missing value. */
export function readFlagsAndArguments<S extends FlagSpec>(argv: readonly string[], spec: S): FlagsAndArguments<S> {
  return parseFlags(argv, spec, true, {});
}

function parseFlags<S extends FlagSpec>(argv: readonly string[], spec: S, allowPositionals: boolean, options: FlagOptions): FlagsAndArguments<S> {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: spec, strict: true, allowPositionals, allowNegative: options.allowNegative === true });
    return { values: values as Values<S>, positionals };
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

/**
 * `parse(argv)`, or null once a FlagError from it is printed to stderr as `catga <verb>: <message>`
 * followed by `usage` (the verb then exits 2).
 */
export function parseOrExplain<T>(verb: string, usage: string, argv: readonly string[], parse: (argv: readonly string[]) => T): T | null {
  try {
    return parse(argv);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    process.stderr.write(`catga ${verb}: ${err.message}\n${usage}\n`);
    return null;
  }
}
