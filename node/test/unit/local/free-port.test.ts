// freePort (local/local-cluster.ts): ports a local member keeps across restarts lie below the
// kernel's range of source ports, so no outgoing connection can hold one while the member is down.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { freePort } from '../../../src/local/local-cluster.js';

test('free ports are below the ephemeral range, distinct even when asked for at once, and free', async () => {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  const ports = await Promise.all(Array.from({ length: 200 }, () => freePort()));
  assert.equal(new Set(ports).size, ports.length, 'no port handed out twice');
  for (const port of ports) assert.ok(port < low, `port ${port} is in the kernel's source port range (from ${low})`);
  await new Promise<void>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(ports[0], '127.0.0.1', () => s.close(() => resolve()));
  });
});
