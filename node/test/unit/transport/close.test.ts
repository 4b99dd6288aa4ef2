// close() cancels every timer and socket: a process that used transports exits by itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const EXIT_DEADLINE_MS = 10_000;

test('after close() the process exits on its own, with nothing left running', async () => {
  const script = fileURLToPath(new URL('./fixtures/close-exits.js', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const started = Date.now();
  const killer = setTimeout(() => child.kill('SIGKILL'), EXIT_DEADLINE_MS);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  clearTimeout(killer);
  assert.equal(signal, null, `the child had to be killed: it did not exit by itself. Output: ${output}`);
  assert.equal(code, 0, output);
  assert.match(output, /closed; pending request ended with PEER_LOST/);
  assert.ok(Date.now() - started < 5000, `exited in ${Date.now() - started} ms`);
});
