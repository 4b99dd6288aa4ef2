// The Catga TypeScript client (`catga/client`): the client (catga-client.ts), typed by the
// application's modules when made with `createClient` (typed.ts), and its wire types.
export {
  CatgaClient,
  DEFAULT_TIMEOUT_MS,
  type BatchCommand,
  type BatchItem,
  type CallOptions,
  type CatgaClientOptions,
  type Consistency,
  type QueryOptions,
  type SendOptions,
} from './catga-client.js';
export type { ClientResponse, WireError } from './requests.js';
export { Subscription, type ClientEvent, type SubscribeOptions } from './subscription.js';
export type { ClusterMemberView, ClusterView } from '../server/api.js';

export {
  createClient,
  type AppModules,
  type CommandName,
  type CommandPayload,
  type CommandResult,
  type QueryName,
  type QueryPayload,
  type QueryResult,
  type TypedClient,
} from './typed.js';
