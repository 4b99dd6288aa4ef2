// The mediator's public surface: the API for handler authors, and the state machine, codec and
// event ring the node runtime and HTTP server drive. The package's main export (../index.ts) adds
// the embedded node on top.
export {
  APPLICATION_CALLER,
  catgaApi,
  command,
  CONSISTENCIES,
  defineModule,
  DefinitionError,
  MAX_EVENTS_PER_COMMAND,
  MAX_MODULE_VERSION,
  MODULE_NAME_PATTERN,
  query,
  TYPE_NAME_PATTERN,
  type Behavior,
  type Caller,
  type CallerScope,
  type EdgeCall,
  type CatgaApi,
  type CommandCall,
  type CommandContext,
  type CommandDefinition,
  type Consistency,
  type EventContext,
  type EventHandler,
  type Logger,
  type ModuleDefinition,
  type QueryCall,
  type QueryContext,
  type QueryDefinition,
  type ReactorContext,
  type ReactorDefinition,
} from './api.js';
export { ErrorCodes, fail, httpStatusFor, ok, type Failure, type Issue, type Ok, type Result } from './result.js';
export { checkSchema, SchemaError, t, validate, type Infer, type JsonValue, type Schema } from './schema.js';
export { MAX_SCAN_LIMIT, MAX_STORE_KEY_BYTES, type ReadStore, type ScanOptions, type Store } from './store.js';
export { decodeEntry, encodeCommandEntry, encodeEventEntry, stampEntry, type CommandRequest, type DecodedEntry } from './entry.js';
export { EventLog, type CatgaEvent, type EventListener, type EventLogOptions, type Follower, type WireEvent } from './events.js';
export { IdempotencyTable, MAX_IDEMPOTENCY_KEY_LENGTH, type IdempotencyOptions } from './idempotency.js';
export type { CommandOutcome, EventHandlerOutcome, MediatorObserver, QueryOutcome } from './observer.js';
export {
  DEFAULT_MAX_BATCH_COMMANDS,
  DEFAULT_MAX_ENTRY_BYTES,
  DEFAULT_QUERY_TIMEOUT_MS,
  Mediator,
  silentLogger,
  type AppliedEntry,
  type CommandInput,
  type CommandResult,
  type MediatorOptions,
  type StateDigest,
} from './mediator.js';
export { loggingBehavior, requireScope } from './behaviors.js';
export { toJsonSchema, type JsonSchemaDocument } from './json-schema.js';
export { openApiDocument, OPENAPI_VERSION, type OpenApiInfo } from './openapi.js';
export { LoadError, loadHandlerModules, parseHandlerPaths } from './loader.js';
export { builtinModules } from './builtin/index.js';
export { jsonEqual, KvCodes, kvModule } from './builtin/kv.js';
export { OrderCodes, ordersModule, type Order } from './builtin/orders.js';
// Reactors' replicated progress and module versions.
export { REACTOR_DEAD_LETTERS_QUERY, REACTOR_PROGRESS_QUERY, type DeadLetter, type ReactorCheckpoint } from './reactor-progress.js';
export { ModuleVersionError, VERSIONS_QUERY, type VersionMap } from './module-versions.js';
