// The metrics the HTTP server records, as an interface: the node's registry (runtime/metrics.ts)
// provides them, and the server needs nothing else of it.
import type { Counter, Gauge, Histogram } from 'prom-client';

/** Bounded label values for client-chosen type names (runtime/type-labels.ts). */
export interface TypeLabelSource {
  command(type: string): string;
  query(type: string): string;
}

export interface ServerMetrics {
  readonly typeLabels: TypeLabelSource;
  readonly commandDuration: Histogram<'type' | 'outcome'>;
  readonly queryDuration: Histogram<'type' | 'consistency'>;
  readonly wsClients: Gauge;
  readonly eventFeeds: Gauge;
  readonly httpConnections: Gauge;
  readonly httpConnectionsClosed: Counter<'reason'>;
  readonly wsSlowClosed: Counter;
}
