// The benchmark's load generator: its HTTP/1.1 answer parser on split, chunked and malformed
// input, and whole runs against a local node:http server that answers, fails and hangs up.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { AnswerParser, MAX_RESPONSE_HEAD_BYTES, runLoad } from '../../../src/bench/load.js';

const ok = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}';

test('parses an answer whole, split at every byte, and chunked', () => {
  const whole = new AnswerParser().push(Buffer.from(ok));
  assert.deepStrictEqual(whole && { status: whole.status, body: whole.body.toString(), close: whole.close }, { status: 200, body: '{"ok":true}', close: false });

  const bytes = Buffer.from(ok);
  const p = new AnswerParser();
  for (let i = 0; i < bytes.length - 1; i++) assert.equal(p.push(bytes.subarray(i, i + 1)), null, `byte ${i}`);
  assert.equal(p.push(bytes.subarray(bytes.length - 1))?.body.toString(), '{"ok":true}');
  assert.equal(p.push(Buffer.from(ok))?.status, 200, 'the parser is ready for the next answer');

  const chunked = 'HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n';
  const q = new AnswerParser();
  assert.equal(q.push(Buffer.from(chunked.slice(0, 70))), null);
  const a = q.push(Buffer.from(chunked.slice(70)));
  assert.deepStrictEqual(a && { status: a.status, body: a.body.toString(), close: a.close }, { status: 503, body: '{"a":1}', close: true });
});

test('refuses what it does not understand', () => {
  assert.throws(() => new AnswerParser().push(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n')), /not an HTTP\/1.1 answer/);
  assert.throws(() => new AnswerParser().push(Buffer.from('HTTP/1.1 200 OK\r\n\r\n')), /neither Content-Length nor chunked/);
  assert.throws(() => new AnswerParser().push(Buffer.alloc(MAX_RESPONSE_HEAD_BYTES + 1, 'a')), /head over/);
  assert.throws(() => new AnswerParser().push(Buffer.from(`${ok}HTTP/1.1`)), /bytes after the answer/);
  assert.throws(() => new AnswerParser().push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')), /bad chunk size/);
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

test('a run counts answers, errors and hang-ups, and sends each request its own body and headers', async () => {
  const seen: string[] = [];
  let n = 0;
  const { server, url } = await serve((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push(`${req.url} ${req.headers['x-token']} ${body}`);
      n++;
      if (n % 10 === 0) res.writeHead(409).end('{"ok":false}');
      else if (n % 7 === 0) res.setHeader('connection', 'close').end('{"ok":true}');
      else res.end('{"ok":true}');
    });
  });
  const r = await runLoad({ urls: [url], path: '/p?q=1', body: (i) => `{"n":${i},"é":1}`, headers: { 'x-token': 't' } }, 4, 0.5);
  server.close();
  assert.ok(r.requests > 50, `${r.requests} answers`);
  assert.equal(r.errors, Math.floor(n / 10));
  assert.equal(r.firstError, '409 {"ok":false}');
  assert.equal(r.requests + r.errors, n);
  assert.ok(seen.every((s) => /^\/p\?q=1 t \{"n":\d+,"é":1\}$/.test(s)), seen.find((s) => !/^\/p\?q=1 t /.test(s)));
  assert.ok(r.p50ms > 0 && r.p99ms >= r.p50ms);
});

test('a server that vanishes counts as errors, not as a hang', async () => {
  const { server, url } = await serve((req) => req.socket.destroy());
  const r = await runLoad({ urls: [url], path: '/', body: () => '{}' }, 2, 0.3);
  server.close();
  assert.equal(r.requests, 0);
  assert.ok(r.errors > 0);
  assert.match(r.firstError ?? '', /closed by the server|ECONNRESET/);
});
