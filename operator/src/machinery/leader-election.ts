// Leader election on a coordination.k8s.io Lease: one operator replica reconciles at a time.
// Acquire when the lease is free or expired, renew every retry period, and report loss when a
// renewal does not succeed within the renew deadline (the caller then exits: a new process
// starts from a clean state). Writes use the lease's resourceVersion, so two replicas can never
// both win.
import assert from 'node:assert/strict';
import type { V1Lease } from '@kubernetes/client-node';
import { V1MicroTime } from '@kubernetes/client-node';
import type { Logger } from './log.js';
import type { Timers } from './workqueue.js';
import { realTimers } from './workqueue.js';

export interface LeaseStore {
  /** The lease, or null when it does not exist. */
  read(): Promise<V1Lease | null>;
  /** Creates it; rejects when it already exists. */
  create(lease: V1Lease): Promise<V1Lease>;
  /** Replaces it; rejects on a resourceVersion conflict. */
  replace(lease: V1Lease): Promise<V1Lease>;
}

export interface LeaderElectionOptions {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly now?: () => number;
  readonly timers?: Timers;
}

export class LeaderElector {
  private leading = false;
  private lastRenewMs = 0;
  private timer: unknown = null;
  private stopped = false;
  private readonly now: () => number;
  private readonly timers: Timers;

  constructor(
    private readonly store: LeaseStore,
    private readonly options: LeaderElectionOptions,
    private readonly log: Logger,
    private readonly onStartedLeading: () => void,
    private readonly onStoppedLeading: () => void,
  ) {
    assert.ok(options.retryPeriodMs < options.renewDeadlineMs && options.renewDeadlineMs < options.leaseDurationMs,
      'leader election needs retryPeriod < renewDeadline < leaseDuration');
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? realTimers;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.schedule(0);
  }

  /** Stops campaigning; a leader gives the lease up so a successor need not wait for expiry. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.store.read();
      if (lease?.spec?.holderIdentity === this.options.identity) {
        await this.store.replace({ ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } });
      }
    } catch (err) {
      this.log.warn('could not release the lease', { error: (err as Error).message });
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      void this.tick();
    }, ms);
  }

  /** One acquire-or-renew attempt; never throws. */
  async tick(): Promise<void> {
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (err) {
      this.log.debug('lease attempt failed', { error: (err as Error).message });
    }
    if (this.stopped) return;
    const nowMs = this.now();
    if (ok) {
      this.lastRenewMs = nowMs;
      if (!this.leading) {
        this.leading = true;
        this.log.info('became leader', { lease: `${this.options.namespace}/${this.options.name}`, identity: this.options.identity });
        this.onStartedLeading();
      }
    } else if (this.leading && nowMs - this.lastRenewMs > this.options.renewDeadlineMs) {
      this.leading = false;
      this.log.error('lost the lease', { identity: this.options.identity });
      this.onStoppedLeading();
      return;
    }
    this.schedule(this.options.retryPeriodMs);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const nowMs = this.now();
    const me = this.options.identity;
    const durationSeconds = Math.ceil(this.options.leaseDurationMs / 1000);
    const lease = await this.store.read();
    if (lease === null) {
      await this.store.create({
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
        metadata: { name: this.options.name, namespace: this.options.namespace },
        spec: { holderIdentity: me, leaseDurationSeconds: durationSeconds, acquireTime: new V1MicroTime(nowMs), renewTime: new V1MicroTime(nowMs), leaseTransitions: 0 },
      });
      return true;
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    if (holder !== me && holder !== '') {
      const renewMs = spec.renewTime === undefined ? 0 : new Date(spec.renewTime).getTime();
      const expiresMs = renewMs + (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (nowMs < expiresMs) return false;
    }
    const acquired = holder !== me;
    await this.store.replace({
      ...lease,
      spec: {
        ...spec,
        holderIdentity: me,
        leaseDurationSeconds: durationSeconds,
        renewTime: new V1MicroTime(nowMs),
        acquireTime: acquired ? new V1MicroTime(nowMs) : spec.acquireTime,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (acquired ? 1 : 0),
      },
    });
    return true;
  }
}
