// The `catga` package's main export: the mediator API for handler authors (catga/), and a node
// embedded in the application's process (runtime/embedded.ts), which sits above the mediator.
export * from './catga/index.js';
export { startNode, type CatgaNode, type EmbeddedNodeOptions, type QueryOptions, type Reply, type SendOptions } from './runtime/embedded.js';
export type { ClusterAspect, ClusterChange, ClusterListener, ClusterState } from './runtime/cluster-watch.js';
export type { NodeSettings } from './runtime/config.js';
