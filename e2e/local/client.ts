// Owns the workload: clients that issue kv.put, kv.cas and linearizable kv.get against random
// member nodes and record every operation in the History with its outcome as the client learned
// it (applied / not applied / unknown). Loops are bounded by a deadline and an operation cap.
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { History } from './history.js';
import { HttpError, httpCall, type Endpoint, type HttpResponse } from './http.js';

export interface WorkloadOptions {
  /** Hard cap on the run; `stop()` normally ends it sooner. */
  readonly maxDurationMs: number;
  readonly clients: number;
  /** Shared keys every client reads and writes (the linearizability check is per key). */
  readonly keys: number;
  readonly requestTimeoutMs: number;
  /** Pause between two operations of one client. */
  readonly thinkMs: number;
  readonly maxOpsPerClient: number;
  readonly random: () => number;
  /** Optional trace of every exchange (one line each) kept with a failed run's files. */
  readonly trace?: Writable;
  /** Nodes the clients send to; called per operation so it follows kills and membership. */
  readonly targets: () => readonly Endpoint[];
}

export const MAX_SOCKETS_PER_NODE = 16;

type Outcome =
  | { readonly kind: 'ok'; readonly response: HttpResponse }
  | { readonly kind: 'mismatch' }
  | { readonly kind: 'failed'; readonly reason: string }
  | { readonly kind: 'unknown'; readonly reason: string };

/** Maps one HTTP exchange to what the client can conclude about its effect. */
export function classify(result: HttpResponse | HttpError): Outcome {
  if (result instanceof HttpError) return { kind: result.neverSent ? 'failed' : 'unknown', reason: result.code };
  const body = result.body as { ok?: boolean; error?: { code?: string } } | null;
  if (result.status === 200 && body?.ok === true) return { kind: 'ok', response: result };
  if (result.status === 409 && body?.error?.code === 'CAS_MISMATCH') return { kind: 'mismatch' };
  const reason = `${result.status} ${body?.error?.code ?? '?'}`;
  // 503 may come after the entry was proposed (deadline passed while committing): unknown. Other
  // 4xx are refusals before anything reached the log. Other 5xx: unknown.
  if (result.status >= 400 && result.status < 500) return { kind: 'failed', reason };
  return { kind: 'unknown', reason };
}

export class Workload {
  private readonly agents = new Map<string, Agent>();
  /** The value each key was last seen holding by any client: cas uses it as `expected`. */
  private readonly lastSeen = new Map<string, string | null>();
  private uniqueSeq = 0;

  constructor(private readonly history: History, private readonly options: WorkloadOptions) {}

  private deadline = 0;

  /** Runs the clients until `stop()`, the time cap or the operation cap. */
  async run(): Promise<void> {
    this.deadline = Date.now() + this.options.maxDurationMs;
    try {
      await Promise.all(Array.from({ length: this.options.clients }, () => this.client()));
    } finally {
      for (const agent of this.agents.values()) agent.destroy();
    }
  }

  private agentFor(node: Endpoint): Agent {
    let agent = this.agents.get(node.url);
    if (agent === undefined) {
      const options = { keepAlive: true, maxSockets: MAX_SOCKETS_PER_NODE };
      agent = node.tls ? new HttpsAgent({ ...options, ca: node.tls.ca, servername: node.tls.servername }) : new Agent(options);
      this.agents.set(node.url, agent);
    }
    return agent;
  }

  /** Clients finish their operation in flight and stop. */
  stop(): void {
    this.deadline = 0;
  }

  private async client(): Promise<void> {
    const { random, thinkMs } = this.options;
    let clientId = this.history.newClientId();
    for (let n = 0; n < this.options.maxOpsPerClient && Date.now() < this.deadline; n++) {
      const targets = this.options.targets();
      const node = targets[Math.floor(random() * targets.length)];
      if (node === undefined) break;
      const roll = random();
      const unknown = roll < 0.4 ? await this.get(clientId, node)
        : roll < 0.7 ? await this.put(clientId, node, this.sharedKey(), false)
        : roll < 0.9 ? await this.cas(clientId, node)
        : await this.put(clientId, node, `u${this.uniqueSeq++}`, true);
      if (unknown) clientId = this.history.newClientId();
      await sleep(thinkMs * (0.5 + random()));
    }
  }

  private sharedKey(): string {
    return `k${Math.floor(this.options.random() * this.options.keys)}`;
  }

  private async send(node: Endpoint, path: string, payload: unknown): Promise<HttpResponse | HttpError> {
    const body = JSON.stringify(payload);
    const started = this.history.now();
    let result: HttpResponse | HttpError;
    try {
      result = await httpCall(`${node.url}${path}`, {
        method: 'POST',
        body,
        timeoutMs: this.options.requestTimeoutMs,
        agent: this.agentFor(node),
      });
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      result = err;
    }
    const answer = result instanceof HttpError ? result.code : `${result.status} ${result.raw}`;
    this.options.trace?.write(`${started} ${this.history.now()} ${node.id} ${path} ${body} -> ${answer}\n`);
    return result;
  }

  /** Returns true when the outcome is unknown (the caller must take a new client id). */
  private async put(client: number, node: Endpoint, key: string, unique: boolean): Promise<boolean> {
    const value = `${client}.${this.history.now()}`;
    const call = this.history.now();
    const outcome = classify(await this.send(node, '/v1/commands/kv.put', { key, value }));
    const end = this.history.now();
    if (outcome.kind === 'ok') {
      this.history.add({ client, op: 'put', key, value, ok: true, call, return: end });
      this.history.addAcked({ key, value, index: (outcome.response.body as { index: number }).index });
      if (!unique) this.lastSeen.set(key, value);
      return false;
    }
    if (outcome.kind === 'unknown') {
      this.history.add({ client, op: 'put', key, value, ok: null, call, return: null }, outcome.reason);
      return true;
    }
    this.history.addFailure(outcome.kind === 'failed' ? outcome.reason : 'put answered CAS_MISMATCH');
    return false;
  }

  private async cas(client: number, node: Endpoint): Promise<boolean> {
    const key = this.sharedKey();
    const expected = this.lastSeen.get(key) ?? null;
    const value = `${client}.${this.history.now()}`;
    const call = this.history.now();
    const outcome = classify(await this.send(node, '/v1/commands/kv.cas', { key, expected, value }));
    const end = this.history.now();
    switch (outcome.kind) {
      case 'ok':
        this.history.add({ client, op: 'cas', key, value, expected, ok: true, call, return: end });
        this.history.addAcked({ key, value, index: (outcome.response.body as { index: number }).index });
        this.lastSeen.set(key, value);
        return false;
      case 'mismatch':
        this.history.add({ client, op: 'cas', key, value, expected, ok: false, call, return: end });
        return false;
      case 'unknown':
        this.history.add({ client, op: 'cas', key, value, expected, ok: null, call, return: null }, outcome.reason);
        return true;
      case 'failed':
        this.history.addFailure(outcome.reason);
        return false;
    }
  }

  /** A failed read observed nothing: it is recorded as failed (dropped by the checker), never unknown. */
  private async get(client: number, node: Endpoint): Promise<boolean> {
    const key = this.sharedKey();
    const call = this.history.now();
    const outcome = classify(await this.send(node, '/v1/queries/kv.get?consistency=linearizable', { key }));
    const end = this.history.now();
    if (outcome.kind === 'ok') {
      const result = readValue(outcome.response.body);
      this.history.add({ client, op: 'get', key, ok: true, result, call, return: end });
      this.lastSeen.set(key, result);
    } else {
      this.history.add({ client, op: 'get', key, ok: false, call, return: end }, outcome.kind === 'mismatch' ? 'get answered CAS_MISMATCH' : outcome.reason);
    }
    return false;
  }
}

/** kv.get answers `{value: string}` or null for an absent key. */
export function readValue(body: unknown): string | null {
  const value = (body as { value?: { value?: unknown } | null } | null)?.value;
  if (value === null || value === undefined) return null;
  if (typeof value.value !== 'string') {
    throw Object.assign(new Error(`kv.get answered an unexpected shape: ${JSON.stringify(body)}`), { code: 'BAD_KV_GET' });
  }
  return value.value;
}
