// The operator's Prometheus metrics: reconciles, errors, reconcile duration, queue depth, leadership,
// the last successful backup of each cluster.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface OperatorMetrics {
  readonly registry: Registry;
  readonly reconciles: Counter<'outcome'>;
  readonly errors: Counter<'code'>;
  readonly duration: Histogram<never>;
  readonly queueDepth: Gauge<never>;
  readonly isLeader: Gauge<never>;
  readonly actions: Counter<'action'>;
  readonly backupLastSuccess: Gauge<'namespace' | 'catga_cluster'>;
}

export function createMetrics(): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    reconciles: new Counter({ name: 'catga_operator_reconciles_total', help: 'Reconcile passes by outcome', labelNames: ['outcome'], registers: [registry] }),
    errors: new Counter({ name: 'catga_operator_reconcile_errors_total', help: 'Failed reconcile passes by error code', labelNames: ['code'], registers: [registry] }),
    duration: new Histogram({
      name: 'catga_operator_reconcile_duration_seconds', help: 'Duration of one reconcile pass',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
    }),
    queueDepth: new Gauge({ name: 'catga_operator_queue_depth', help: 'Keys waiting in the work queue', registers: [registry] }),
    isLeader: new Gauge({ name: 'catga_operator_leader', help: '1 while this replica holds the leader Lease', registers: [registry] }),
    actions: new Counter({ name: 'catga_operator_actions_total', help: 'Cluster changes the operator made, by action', labelNames: ['action'], registers: [registry] }),
    // The series the CatgaBackupOverdue alert reads, labelled like the nodes' series (the operator's
    // ServiceMonitor honours these labels).
    backupLastSuccess: new Gauge({
      name: 'catga_backup_last_success_timestamp_seconds', help: 'When the newest successful backup of a CatgaCluster finished (status.lastBackup.time)',
      labelNames: ['namespace', 'catga_cluster'], registers: [registry],
    }),
  };
}
