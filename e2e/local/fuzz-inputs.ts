// Owns the seeded generator of bad inputs for the fuzz test: HTTP requests (random and mutated
// bodies, hostile headers, unknown paths and methods, oversize and deeply nested payloads),
// WebSocket frames and raw peer-port bytes. Each HTTP case says whether it may be valid by
// accident (a mutation that still parses), in which case a 2xx success is acceptable too.

export interface HttpCase {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
  /** True when the input may be valid (then 200 with ok:true is acceptable). */
  readonly mayBeValid: boolean;
}

export const MAX_BODY_BYTES = 1 << 20;
const KV_VALID = '{"key":"fz","value":"v"}';
const TEXT_ALPHABET = 'abcXYZ09 _-./%:{}[]",\\\u00e9\u4e2d';

export class FuzzRandom {
  constructor(private readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  text(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += TEXT_ALPHABET[this.int(TEXT_ALPHABET.length)];
    return s;
  }
  /** A random JSON value whose objects never carry a `key` field (so never a valid kv payload). */
  json(depth = 0): unknown {
    const kind = depth > 3 ? this.int(4) : this.int(6);
    switch (kind) {
      case 0: return null;
      case 1: return this.chance(0.5) ? this.int(1e9) - 5e8 : this.next() * 1e300;
      case 2: return this.text(this.int(20));
      case 3: return this.chance(0.5);
      case 4: return Array.from({ length: this.int(4) }, () => this.json(depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let i = this.int(4); i > 0; i--) o[this.pick(['a', 'value', 'expected', 'Key', 'kEy', '__proto__', 'constructor'])] = this.json(depth + 1);
        return o;
      }
    }
  }
}

function mutate(r: FuzzRandom, input: Buffer): Buffer {
  const out = Buffer.from(input);
  const edits = 1 + r.int(4);
  const bytes = [...out];
  for (let i = 0; i < edits; i++) {
    const at = r.int(bytes.length + 1);
    const op = r.int(3);
    if (op === 0 && bytes.length > 0) bytes.splice(Math.min(at, bytes.length - 1), 1);
    else if (op === 1) bytes.splice(at, 0, r.int(256));
    else if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)] = r.int(256);
  }
  return Buffer.from(bytes);
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const CT = { 'content-type': 'application/json' };

/** One bad HTTP request; the case kinds rotate with the seed. */
export function httpCase(r: FuzzRandom): HttpCase {
  const route = r.pick(['/v1/commands/kv.put', '/v1/commands/kv.cas', '/v1/queries/kv.get', '/v1/commands/orders.create']);
  switch (r.int(16)) {
    case 0: return { name: 'random bytes body', method: 'POST', path: route, headers: CT, body: r.bytes(r.int(512)), mayBeValid: false };
    case 1: {
      const prefix = Buffer.from(KV_VALID).subarray(0, r.int(KV_VALID.length));
      return { name: 'truncated JSON', method: 'POST', path: route, headers: CT, body: prefix, mayBeValid: false };
    }
    case 2: return { name: 'mutated JSON', method: 'POST', path: route, headers: CT, body: mutate(r, Buffer.from(KV_VALID)), mayBeValid: true };
    case 3: return { name: 'wrong-shape JSON', method: 'POST', path: route, headers: CT, body: json(r.json()), mayBeValid: false };
    case 4: return {
      name: 'invalid key', method: 'POST', path: '/v1/commands/kv.put', headers: CT,
      body: json({ key: r.pick(['', 'k'.repeat(257), 7, null, ['a'], { a: 1 }]), value: 'v' }), mayBeValid: false,
    };
    case 5: return {
      name: 'value over the kv limit', method: 'POST', path: '/v1/commands/kv.put', headers: CT,
      body: json({ key: 'fz', value: 'x'.repeat(70_000) }), mayBeValid: false,
    };
    case 6: {
      const depth = 150_000;
      return {
        name: 'deeply nested value', method: 'POST', path: '/v1/commands/kv.put', headers: CT,
        body: Buffer.from(`{"key":"fz","value":${'['.repeat(depth)}${']'.repeat(depth)}}`), mayBeValid: false,
      };
    }
    case 7: return { name: 'body over the size limit', method: 'POST', path: route, headers: CT, body: Buffer.alloc(MAX_BODY_BYTES + 1 + r.int(1000), 0x20), mayBeValid: false };
    case 8: {
      const type = encodeURIComponent(r.text(1 + r.int(30))).replace(/^kv/, 'xkv');
      return { name: 'unknown command type', method: 'POST', path: `/v1/${r.pick(['commands', 'queries'])}/${type}x`, headers: CT, body: r.chance(0.5) ? Buffer.from('{') : Buffer.from('{}'), mayBeValid: false };
    }
    case 9: return { name: 'unknown path', method: r.pick(['GET', 'POST', 'PUT']), path: `/x${encodeURIComponent(r.text(r.int(40)))}`, headers: {}, mayBeValid: false };
    case 10: return { name: 'wrong method', method: r.pick(['PUT', 'DELETE', 'PATCH', 'GET']), path: route, headers: CT, body: Buffer.from(KV_VALID), mayBeValid: false };
    case 11: return {
      name: 'bad consistency', method: 'POST', path: `/v1/queries/kv.get?consistency=${encodeURIComponent(r.text(1 + r.int(12)))}x`,
      headers: CT, body: Buffer.from('{"key":"fz"}'), mayBeValid: false,
    };
    case 12: return {
      name: 'bad Idempotency-Key', method: 'POST', path: '/v1/commands/kv.put',
      headers: { ...CT, 'idempotency-key': r.chance(0.5) ? 'k'.repeat(4096 + r.int(4096)) : '' }, body: Buffer.from(KV_VALID), mayBeValid: true,
    };
    case 13: return {
      name: 'admin without a valid token', method: r.pick(['POST', 'DELETE']),
      path: r.pick(['/v1/cluster/members', '/v1/cluster/members/cg-0', '/v1/cluster/transfer-leadership']),
      headers: { ...CT, ...(r.chance(0.5) ? { authorization: `Bearer ${r.text(12).replace(/[^\x21-\x7e]/g, 'q')}` } : {}) },
      body: json({ id: 'cg-9', address: 'nowhere:1', voter: true }), mayBeValid: false,
    };
    case 14: return { name: 'bad batch', method: 'POST', path: '/v1/commands', headers: CT, body: json(r.chance(0.5) ? { commands: r.json() } : r.json()), mayBeValid: false };
    default: return {
      name: 'garbage content-type', method: 'POST', path: route,
      headers: { 'content-type': r.pick(['text/plain', 'application/json; charset=bogus', 'multipart/form-data; boundary=x', '']) },
      body: r.chance(0.5) ? r.bytes(64) : Buffer.from(KV_VALID), mayBeValid: true,
    };
  }
}

/** Query strings a WebSocket subscription must refuse at the handshake. */
export const BAD_SUBSCRIPTIONS: readonly string[] = ['from=-1', 'from=abc', 'from=1.5', 'types=', 'types=,,', `from=${'9'.repeat(40)}`];

/** A frame a subscriber sends (subscribers only listen: every frame must be harmless). */
export function wsFrame(r: FuzzRandom): { data: Buffer; binary: boolean } {
  switch (r.int(4)) {
    case 0: return { data: Buffer.from(r.text(r.int(200))), binary: false };
    case 1: return { data: r.bytes(r.int(200)), binary: true };
    case 2: return { data: r.bytes(2048 + r.int(4096)), binary: r.chance(0.5) }; // over the server's maxPayload
    default: return { data: Buffer.from([0xc3, 0x28, 0xff, 0xfe]), binary: false }; // invalid UTF-8 text
  }
}

/** Raw bytes for the peer port: random, or a frame header announcing a huge length. */
export function peerBytes(r: FuzzRandom): Buffer {
  if (r.chance(0.3)) {
    const header = Buffer.alloc(8);
    header.writeUInt32BE(0xffffffff - r.int(1000), 0);
    header.writeUInt32BE(r.int(0xffffffff), 4);
    return Buffer.concat([header, r.bytes(r.int(64))]);
  }
  return r.bytes(1 + r.int(4096));
}
