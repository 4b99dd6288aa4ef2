// Readiness and liveness probing of one run of a pod's process, with the probe's thresholds:
// ready after successThreshold consecutive successes, unready after failureThreshold failures,
// unhealthy (to be restarted) after livenessProbe.failureThreshold failures. Only httpGet probes
// are run; a container without a readiness probe is ready while it runs.
import type { V1Container, V1Probe } from '@kubernetes/client-node';
import { runHttpGet } from './probes.js';

export interface ProberTimings {
  /** Period of readiness probes (faster than the probe's periodSeconds, for quick tests). */
  readinessPeriodMs: number;
  /** Timeout of each readiness probe request. */
  readinessTimeoutMs: number;
  /** Period of liveness probes; undefined: the probe's own periodSeconds. */
  livenessPeriodMs: number | undefined;
}

export interface ProbeResult {
  ready: boolean;
  /** The liveness probe failed failureThreshold times in a row: restart the process. */
  unhealthy: boolean;
}

const DEFAULT_PERIOD_SECONDS = 10;
const DEFAULT_TIMEOUT_SECONDS = 1;
const DEFAULT_FAILURE_THRESHOLD = 3;

class ProbeTrack {
  successes = 0;
  failures = 0;
  nextAtMs: number;

  constructor(
    readonly probe: V1Probe,
    startedAtMs: number,
    readonly periodMs: number,
    readonly timeoutMs: number,
  ) {
    this.nextAtMs = startedAtMs + (probe.initialDelaySeconds ?? 0) * 1000;
  }

  record(success: boolean, nowMs: number): void {
    this.nextAtMs = nowMs + this.periodMs;
    this.successes = success ? this.successes + 1 : 0;
    this.failures = success ? 0 : this.failures + 1;
  }
}

export class ContainerProber {
  private ready = false;
  private readonly readiness: ProbeTrack | undefined;
  private readonly liveness: ProbeTrack | undefined;

  constructor(
    private readonly container: V1Container,
    private readonly podIP: string,
    startedAtMs: number,
    timings: ProberTimings,
  ) {
    const { readinessProbe, livenessProbe } = container;
    if (readinessProbe?.httpGet) this.readiness = new ProbeTrack(readinessProbe, startedAtMs, timings.readinessPeriodMs, timings.readinessTimeoutMs);
    if (livenessProbe?.httpGet) {
      const period = timings.livenessPeriodMs ?? (livenessProbe.periodSeconds ?? DEFAULT_PERIOD_SECONDS) * 1000;
      this.liveness = new ProbeTrack(livenessProbe, startedAtMs, period, (livenessProbe.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000);
    }
  }

  /** Runs the probes that are due at nowMs. */
  async tick(nowMs: number): Promise<ProbeResult> {
    const [readyProbe, liveProbe] = await Promise.all([this.run(this.readiness, nowMs), this.run(this.liveness, nowMs)]);
    if (this.readiness === undefined) {
      this.ready = true;
    } else if (readyProbe !== undefined) {
      const { successThreshold = 1, failureThreshold = DEFAULT_FAILURE_THRESHOLD } = this.readiness.probe;
      if (this.readiness.successes >= successThreshold) this.ready = true;
      if (this.readiness.failures >= failureThreshold) this.ready = false;
    }
    const unhealthy = liveProbe === false && this.liveness!.failures >= (this.liveness!.probe.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD);
    return { ready: this.ready, unhealthy };
  }

  /** undefined when the probe is absent or not due. */
  private async run(track: ProbeTrack | undefined, nowMs: number): Promise<boolean | undefined> {
    if (track === undefined || nowMs < track.nextAtMs) return undefined;
    const success = await runHttpGet(track.probe.httpGet!, this.container, this.podIP, track.timeoutMs);
    track.record(success, Date.now());
    return success;
  }
}
