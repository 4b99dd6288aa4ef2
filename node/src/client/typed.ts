// End-to-end types for the client, with no code generation: `createClient<typeof modules>()` reads
// each command's and query's payload type from its schema and its result type from its handler,
// so a wrong type name or payload field is a compile error. Types only; at run time the typed
// client is the plain CatgaClient.
import type { ModuleDefinition } from '../catga/api.js';
import type { Result } from '../catga/result.js';
import type { Infer } from '../catga/schema.js';
import { CatgaClient, type CatgaClientOptions, type QueryOptions, type SendOptions } from './catga-client.js';
import type { ClientResponse } from './requests.js';

/** What a typed client is built from: one module definition, or a list of them (`as const` not needed). */
export type AppModules = ModuleDefinition | readonly ModuleDefinition[];

type ModuleOf<App> = App extends readonly (infer M)[] ? M : App;
type Intersect<U> = (U extends unknown ? (section: U) => void : never) extends (section: infer I) => void ? I : never;
type Section<App, K extends 'commands' | 'queries'> = Intersect<ModuleOf<App> extends infer M ? (M extends { readonly [P in K]: infer D } ? D : never) : never>;

export type CommandName<App> = keyof Section<App, 'commands'> & string;
export type QueryName<App> = keyof Section<App, 'queries'> & string;
// Read from the definitions' own `schema` and `handle` (inferring through CommandDefinition<S>
// would widen S to its Schema constraint and let any field through).
type PayloadOf<D> = D extends { readonly schema: infer S } ? Infer<S> : never;
type ResultOf<D> = D extends { handle(...args: never[]): infer Out } ? (Awaited<Out> extends Result<infer R> ? R : never) : never;
export type CommandPayload<App, K extends CommandName<App>> = PayloadOf<Section<App, 'commands'>[K]>;
export type CommandResult<App, K extends CommandName<App>> = ResultOf<Section<App, 'commands'>[K]>;
export type QueryPayload<App, K extends QueryName<App>> = PayloadOf<Section<App, 'queries'>[K]>;
export type QueryResult<App, K extends QueryName<App>> = ResultOf<Section<App, 'queries'>[K]>;

// One overload per command and per query: each call is checked against one concrete payload
// type, so fields a schema does not have are refused too (a payload type that still depends on a
// type parameter would skip that check).
type SendOverloads<App> = Intersect<{
  [K in CommandName<App>]: (type: K, payload: CommandPayload<App, K>, options?: SendOptions) => Promise<ClientResponse<CommandResult<App, K>>>;
}[CommandName<App>]>;
type QueryOverloads<App> = Intersect<{
  [K in QueryName<App>]: (type: K, payload: QueryPayload<App, K>, options?: QueryOptions) => Promise<ClientResponse<QueryResult<App, K>>>;
}[QueryName<App>]>;

/** The client with `send` and `query` typed by the application's modules. */
export interface TypedClient<App extends AppModules> extends Omit<CatgaClient, 'send' | 'query'> {
  readonly send: SendOverloads<App>;
  readonly query: QueryOverloads<App>;
}

/** A client typed by `App` (e.g. `typeof modules`, the application's module list). */
export function createClient<App extends AppModules>(options: CatgaClientOptions): TypedClient<App> {
  // The overloads are a narrowing of CatgaClient's `send(type: string, payload: unknown)`.
  return new CatgaClient(options) as unknown as TypedClient<App>;
}
