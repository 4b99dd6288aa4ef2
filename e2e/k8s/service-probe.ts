// Runs inside a pod of the cluster under test (the catga/node image, this file from a ConfigMap)
// and checks what only the cluster's own network can show: every peer name resolves through the
// cluster DNS, and commands, linearizable reads and event subscriptions work through the client
// Service `X` and the leader Service `X-leader`. Prints one JSON line; exits 1 on the first failure.
// With NODE_EXTRA_CA_CERTS (the cluster's CA: fetch and WebSocket trust it) it speaks https and
// wss, and the Services' names are checked against the nodes' certificates; without it, http and ws.
//   node service-probe.mjs <cluster> <namespace> <replicas> [writes]
// Standalone on purpose (no imports outside Node.js): it is shipped into the pod as its source.
import { lookup } from 'node:dns/promises';

const [name, namespace, replicasArg, writesArg] = process.argv.slice(2);
if (name === undefined || namespace === undefined || replicasArg === undefined) {
  console.error('usage: service-probe <cluster> <namespace> <replicas> [writes]');
  process.exit(2);
}
const replicas = Number(replicasArg);
const writes = Number(writesArg ?? '50');
const domain = `${namespace}.svc.cluster.local`;
const tls = process.env['NODE_EXTRA_CA_CERTS'] !== undefined;
const client = `${tls ? 'https' : 'http'}://${name}.${domain}:8080`;
const leader = `${tls ? 'https' : 'http'}://${name}-leader.${domain}:8080`;
const REQUEST_TIMEOUT_MS = 10_000;
const EVENT_TIMEOUT_MS = 15_000;
/** A Service whose endpoints just changed may refuse a connection or two; the probe retries. */
const ATTEMPTS = 5;

interface Reply { ok: boolean; value?: unknown; index?: number; error?: { code: string; message: string } }

function fail(step: string, detail: string): never {
  console.log(JSON.stringify({ ok: false, step, detail }));
  process.exit(1);
}

async function post(url: string, body: unknown): Promise<Reply> {
  let last = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const reply = (await res.json()) as Reply;
      if (res.status < 500) return reply;
      last = `${res.status} ${JSON.stringify(reply.error)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
  }
  fail(`POST ${url}`, last);
}

const peers: Record<string, string> = {};
for (let i = 0; i < replicas; i++) {
  const host = `${name}-${i}.${name}-hl.${domain}`;
  try {
    peers[host] = (await lookup(host, { family: 4 })).address;
  } catch (error) {
    fail('dns', `${host}: ${(error as Error).message}`);
  }
}

// Subscribed before the event is published, through the client Service.
const subscription = new WebSocket(`${client.replace(/^http/, 'ws')}/v1/events?types=e2e.probe`);
const probeId = `probe-${Date.now()}`;
const eventSeen = new Promise<number>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no e2e.probe event within ${EVENT_TIMEOUT_MS} ms`)), EVENT_TIMEOUT_MS);
  subscription.addEventListener('message', (message) => {
    const event = JSON.parse(String(message.data)) as { index: number; type: string; data: { id?: string } };
    if (event.type === 'e2e.probe' && event.data.id === probeId) {
      clearTimeout(timer);
      resolve(event.index);
    }
  });
  subscription.addEventListener('error', () => reject(new Error('the WebSocket failed')));
});
await new Promise<void>((resolve, reject) => {
  subscription.addEventListener('open', () => resolve());
  subscription.addEventListener('error', (event) => {
    const cause = (event as ErrorEvent).error as Error | undefined;
    reject(new Error(`the WebSocket did not open: ${cause?.message ?? (event as ErrorEvent).message}`));
  });
}).catch((error: Error) => fail('subscribe', error.message));

for (let i = 0; i < writes; i++) {
  const reply = await post(`${client}/v1/commands/kv.put`, { key: `probe-${i}`, value: String(i) });
  if (!reply.ok) fail('write through the client Service', JSON.stringify(reply.error));
}
for (const [label, base] of [['leader', leader], ['client', client]] as const) {
  for (let i = 0; i < writes; i++) {
    const reply = await post(`${base}/v1/queries/kv.get?consistency=linearizable`, { key: `probe-${i}` });
    const stored = reply.value as { value?: unknown } | null | undefined;
    if (!reply.ok || stored?.value !== String(i)) fail(`linearizable read through the ${label} Service`, `probe-${i}: ${JSON.stringify(reply)}`);
  }
}
const published = await post(`${client}/v1/events/e2e.probe`, { id: probeId });
if (!published.ok) fail('publish an event', JSON.stringify(published.error));
const eventIndex = await eventSeen.catch((error: Error) => fail('event subscription', error.message));
subscription.close();
console.log(JSON.stringify({ ok: true, tls, peers, writes, eventIndex }));
