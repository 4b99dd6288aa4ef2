// Configuration parsing: defaults, flags over environment, and refusals that name the variable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlagError } from '../../../src/common/flags.js';
import { ConfigError, configFromSettings, loadConfig, SPECS, type Spec } from '../../../src/runtime/config.js';

/** The least a node needs besides its id: a credential (here the admin token) and a cluster secret. */
const CREDS = { CATGA_ADMIN_TOKEN: 'admin-token-123', CATGA_CLUSTER_SECRET: 'cluster-secret-0123456789' };

test('defaults give a lone node on the standard ports', () => {
  const c = loadConfig([], { ...CREDS, CATGA_NODE_ID: 'solo' });
  assert.equal(c.nodeId, 'solo');
  assert.equal(c.httpPort, 8080);
  assert.equal(c.peerPort, 7080);
  assert.equal(c.bootstrapExpect, 1);
  assert.deepEqual(c.staticPeers, {});
  assert.equal(c.unsafeLocalLinearizable, false);
  assert.equal(c.autoJoin, true);
  assert.equal(loadConfig([], { ...CREDS, CATGA_NODE_ID: 'solo', CATGA_AUTO_JOIN: 'false' }).autoJoin, false);
});

test('flags win over environment, in both --flag value and --flag=value forms', () => {
  const c = loadConfig(['--http-port', '9001', '--peer-port=9002'], { ...CREDS, CATGA_NODE_ID: 'a', CATGA_HTTP_PORT: '1234' });
  assert.equal(c.httpPort, 9001);
  assert.equal(c.peerPort, 9002);
});

test('static peers must include this node and set the bootstrap size', () => {
  const c = loadConfig([], { ...CREDS, CATGA_NODE_ID: 'n2', CATGA_PEERS: 'n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003' });
  assert.equal(c.bootstrapExpect, 3);
  assert.equal(c.advertisePeer, '127.0.0.1:7002');
  assert.throws(() => loadConfig([], { ...CREDS, CATGA_NODE_ID: 'n9', CATGA_PEERS: 'n1=127.0.0.1:7001' }), /CATGA_PEERS.*own id "n9"/);
});

test('DNS membership derives the advertised peer address from the pod name', () => {
  const c = loadConfig([], { ...CREDS, CATGA_NODE_ID: 'db-2', CATGA_DNS_NAME: 'db-hl.ns.svc.cluster.local', CATGA_BOOTSTRAP_EXPECT: '3' });
  assert.equal(c.advertisePeer, 'db-2.db-hl.ns.svc.cluster.local:7080');
  assert.throws(() => loadConfig([], { ...CREDS, CATGA_NODE_ID: 'db', CATGA_DNS_NAME: 'x' }), /CATGA_NODE_ID.*-<ordinal>/);
});

test('bad values stop the start with a message naming the variable and what it expects', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ CATGA_HTTP_PORT: 'eighty' }, /CATGA_HTTP_PORT \(--http-port\): expected an integer from 1 to 65535, got "eighty"/],
    [{ CATGA_HTTP_PORT: '70000' }, /CATGA_HTTP_PORT/],
    [{ CATGA_BOOTSTRAP_EXPECT: '0' }, /CATGA_BOOTSTRAP_EXPECT/],
    [{ CATGA_CLUSTER_SECRET: 'short' }, /CATGA_CLUSTER_SECRET.*16 characters/],
    [{ CATGA_LOG_LEVEL: 'loud' }, /CATGA_LOG_LEVEL/],
    [{ CATGA_PEERS: 'n1=nowhere' }, /CATGA_PEERS.*id=host:port/],
    [{ CATGA_PEERS: 'n1=127.0.0.1:7001,n1=127.0.0.1:7002' }, /CATGA_PEERS.*n1 is listed twice/],
    [{ CATGA_PEERS: `n1=127.0.0.1:7001,${'x'.repeat(64)}=127.0.0.1:7002` }, /CATGA_PEERS.*plain id/],
    [{ CATGA_PEERS: 'n1=127.0.0.1:99999' }, /CATGA_PEERS.*not host:port/],
    [{ CATGA_HEARTBEAT_TICKS: '10', CATGA_ELECTION_TICKS: '10' }, /CATGA_HEARTBEAT_TICKS.*below/],
    [{ CATGA_UNSAFE_LOCAL_LINEARIZABLE: 'maybe' }, /CATGA_UNSAFE_LOCAL_LINEARIZABLE.*true\/false/],
    [{ CATGA_NODE_ID: 'bad id!' }, /CATGA_NODE_ID/],
    [{ CATGA_BODY_TIMEOUT_MS: '1000', CATGA_HEADERS_TIMEOUT_MS: '2000' }, /CATGA_BODY_TIMEOUT_MS.*above CATGA_HEADERS_TIMEOUT_MS/],
    [{ CATGA_MAX_CONNECTIONS: '3' }, /CATGA_MAX_CONNECTIONS/],
  ];
  for (const [env, re] of cases) {
    assert.throws(() => loadConfig([], { ...CREDS, CATGA_NODE_ID: 'n1', ...env }), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(env));
  }
});

test('every int setting is read from --flag value and --flag=value', () => {
  const env = { ...CREDS, CATGA_NODE_ID: 'n1' };
  for (const [key, s] of Object.entries(SPECS) as [string, Spec][]) {
    if (s.type !== 'int') continue;
    const value = s.def + 1; // within the limits and away from the default, for every int setting
    for (const argv of [[`--${s.flag}`, String(value)], [`--${s.flag}=${value}`]]) {
      assert.equal(loadConfig(argv, env)[key as keyof ReturnType<typeof loadConfig>], value, argv.join(' '));
    }
  }
});

test('every bool setting is a switch: --flag is true and --no-flag false, over its variable', () => {
  for (const [key, s] of Object.entries(SPECS) as [string, Spec][]) {
    if (s.type !== 'bool') continue;
    const field = key as keyof ReturnType<typeof loadConfig>;
    assert.equal(loadConfig([`--${s.flag}`], { ...CREDS, CATGA_NODE_ID: 'n1', [s.env]: 'false' })[field], true, s.flag);
    assert.equal(loadConfig([`--no-${s.flag}`], { ...CREDS, CATGA_NODE_ID: 'n1', [s.env]: 'true' })[field], false, s.flag);
    assert.equal(loadConfig([`--${s.flag}`, `--no-${s.flag}`], { ...CREDS, CATGA_NODE_ID: 'n1' })[field], false, `${s.flag}: the last one wins`);
  }
  // --open-access is the credential the node would otherwise refuse to start without.
  assert.equal(loadConfig(['--open-access'], { CATGA_NODE_ID: 'n1' }).openAccess, true);
});

test('text settings by flag, a value starting with a dash only as --flag=value, the last of a repeated flag', () => {
  const c = loadConfig(
    ['--node-id', 'n2', '--peers=n1=127.0.0.1:7001,n2=127.0.0.1:7002', '--cluster-id=-blue', '--handlers', 'a.js,b.js', '--data-dir=/tmp/one', '--data-dir=/tmp/two'],
    CREDS,
  );
  assert.equal(c.nodeId, 'n2');
  assert.deepEqual(c.staticPeers, { n1: '127.0.0.1:7001', n2: '127.0.0.1:7002' });
  assert.equal(c.advertisePeer, '127.0.0.1:7002');
  assert.equal(c.clusterId, '-blue');
  assert.deepEqual(c.handlers, ['a.js', 'b.js']);
  assert.equal(c.dataDir, '/tmp/two');
  assert.equal(loadConfig(['--api-tokens=app-token-1'], { CATGA_NODE_ID: 'n1' }).apiTokens[0]?.token, 'app-token-1');
});

test('flags it refuses are a FlagError naming the flag: unknown, no value, a switch given a value, stray', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--no-such-flag'], /Unknown option '--no-such-flag'/],
    [['--no-http-port'], /Unknown option '--no-http-port'/],
    [['-x'], /Unknown option '-x'/],
    [['--http-port'], /'--http-port <value>' argument missing/],
    [['--http-port', '--tick-ms', '20'], /'--http-port' argument is ambiguous/],
    [['--builtins=true'], /'--builtins' does not take an argument/],
    [['--builtins=false'], /'--builtins' does not take an argument/],
    [['--no-builtins=false'], /'--builtins' does not take an argument/],
    [['--open-access', 'true'], /Unexpected argument 'true'/],
    [['stray'], /Unexpected argument 'stray'/],
  ];
  for (const [argv, re] of cases) {
    assert.throws(() => loadConfig(argv, { ...CREDS, CATGA_NODE_ID: 'n1' }), (e: unknown) => e instanceof FlagError && re.test(e.message), argv.join(' '));
  }
  for (const s of Object.values(SPECS) as Spec[]) {
    if (s.type === 'bool') assert.throws(() => loadConfig([`--${s.flag}=true`], CREDS), FlagError, s.flag);
    else assert.throws(() => loadConfig([`--${s.flag}`], CREDS), FlagError, s.flag);
  }
});

test('a value a setting refuses is a ConfigError naming the flag and the variable, given by flag too', () => {
  assert.throws(() => loadConfig(['--http-port=eighty'], { ...CREDS, CATGA_NODE_ID: 'n1' }), (e: unknown) => e instanceof ConfigError && /CATGA_HTTP_PORT \(--http-port\): expected an integer from 1 to 65535, got "eighty"/.test(e.message));
  assert.throws(() => loadConfig(['--log-level', 'loud'], { ...CREDS, CATGA_NODE_ID: 'n1' }), (e: unknown) => e instanceof ConfigError && /CATGA_LOG_LEVEL/.test(e.message));
});

test('an application\'s settings object: bools as booleans or the text of their variable, unknown names refused', () => {
  const base = { nodeId: 'n1', adminToken: 'admin-token-123' };
  assert.equal(configFromSettings({ ...base, builtins: false }).builtins, false);
  assert.equal(configFromSettings({ ...base, builtins: 'false' }).builtins, false);
  assert.equal(configFromSettings({ ...base, autoJoin: false }, { CATGA_AUTO_JOIN: 'true' }).autoJoin, false);
  assert.equal(configFromSettings({ ...base, openAccess: true }, {}).openAccess, true);
  assert.equal(configFromSettings({ ...base, clusterId: '-blue', httpPort: 9001, handlers: ['a.js', 'b.js'] }).clusterId, '-blue');
  assert.deepEqual(configFromSettings({ ...base, staticPeers: { n1: '127.0.0.1:7001' }, clusterSecret: CREDS.CATGA_CLUSTER_SECRET }).staticPeers, { n1: '127.0.0.1:7001' });
  assert.throws(() => configFromSettings({ ...base, builtins: 'off' }), /CATGA_BUILTINS \(--builtins\): expected true\/false, got "off"/);
  assert.throws(() => configFromSettings({ ...base, nodeID: 'x' } as never), /unknown setting "nodeID"/);
});

test('no open access unless asked for: a node without any token refuses to start, naming the choices', () => {
  const secret = { CATGA_CLUSTER_SECRET: CREDS.CATGA_CLUSTER_SECRET };
  assert.throws(
    () => loadConfig([], { ...secret, CATGA_NODE_ID: 'n1' }),
    (e: unknown) => e instanceof ConfigError && /no credentials: set CATGA_API_TOKENS.*or CATGA_ADMIN_TOKEN.*CATGA_OPEN_ACCESS/.test(e.message),
  );
  const open = loadConfig([], { ...secret, CATGA_NODE_ID: 'n1', CATGA_OPEN_ACCESS: 'true' });
  assert.equal(open.openAccess, true);
  assert.deepEqual(open.apiTokens, []);
  const tokens = loadConfig([], { ...secret, CATGA_NODE_ID: 'n1', CATGA_API_TOKENS: 'app-token-1, reader-token:queries+events/orders.*' });
  assert.equal(tokens.openAccess, false);
  assert.deepEqual(tokens.apiTokens.map((t) => [t.token, [...t.rules]]), [
    ['app-token-1', [['commands', null], ['queries', null], ['events', null]]],
    ['reader-token', [['queries', null], ['events', ['orders.*']]]],
  ]);
});

test('bad token entries are refused without echoing the token', () => {
  const cases: Array<[string, RegExp]> = [
    ['short', /entry 1: a token is at least 8/],
    ['good-token-1,tok:commands', /entry 2: a token is at least 8/],
    ['good-token-1:writes', /unknown scope "writes"/],
    ['good-token-1:admin/kv.*', /admin scope has no types/],
    ['good-token-1:commands/kv put', /"kv put" is not a type/],
  ];
  for (const [tokens, re] of cases) {
    assert.throws(() => loadConfig([], { ...CREDS, CATGA_NODE_ID: 'n1', CATGA_API_TOKENS: tokens }), (e: unknown) => {
      const message = (e as Error).message;
      return e instanceof ConfigError && /CATGA_API_TOKENS/.test(message) && re.test(message) && !message.includes('good-token-1');
    }, tokens);
  }
});

test('a node with peers needs a cluster secret (there is no default one); a lone node gets a random one', () => {
  const peers = { CATGA_PEERS: 'n1=127.0.0.1:7001,n2=127.0.0.1:7002' };
  assert.throws(() => loadConfig([], { CATGA_ADMIN_TOKEN: 'admin-token-123', CATGA_NODE_ID: 'n1', ...peers }), /CATGA_CLUSTER_SECRET.*required when the node has peers/);
  assert.throws(() => loadConfig([], { CATGA_ADMIN_TOKEN: 'admin-token-123', CATGA_NODE_ID: 'db-0', CATGA_DNS_NAME: 'db-hl.ns.svc.cluster.local' }), /CATGA_CLUSTER_SECRET/);
  const a = loadConfig([], { CATGA_ADMIN_TOKEN: 'admin-token-123', CATGA_NODE_ID: 'solo' });
  const b = loadConfig([], { CATGA_ADMIN_TOKEN: 'admin-token-123', CATGA_NODE_ID: 'solo' });
  assert.notEqual(a.clusterSecret, b.clusterSecret);
  assert.ok(a.clusterSecret.length >= 16);
});

test('TLS: all three files or none; an unreadable file names its variable', () => {
  assert.equal(loadConfig([], { ...CREDS, CATGA_NODE_ID: 'n1' }).tls, null);
  assert.throws(() => loadConfig([], { ...CREDS, CATGA_NODE_ID: 'n1', CATGA_TLS_CERT_FILE: '/x.crt' }), /TLS needs all of CATGA_TLS_CERT_FILE.*CATGA_TLS_KEY_FILE.*CATGA_TLS_CA_FILE/);
  assert.throws(
    () => loadConfig([], { ...CREDS, CATGA_NODE_ID: 'n1', CATGA_TLS_CERT_FILE: '/nonexistent/a.crt', CATGA_TLS_KEY_FILE: '/nonexistent/a.key', CATGA_TLS_CA_FILE: '/nonexistent/ca.pem' }),
    /CATGA_TLS_CERT_FILE \(--tls-cert-file\): cannot read "\/nonexistent\/a.crt"/,
  );
});

test('the built-in modules are on by default; CATGA_BUILTINS=false or --no-builtins turns them off', () => {
  const env = { ...CREDS, CATGA_NODE_ID: 'solo' };
  assert.equal(loadConfig([], env).builtins, true);
  assert.equal(loadConfig([], { ...env, CATGA_BUILTINS: 'false' }).builtins, false);
  assert.equal(loadConfig(['--no-builtins'], env).builtins, false);
  assert.equal(loadConfig(['--builtins'], { ...env, CATGA_BUILTINS: 'false' }).builtins, true);
  assert.throws(() => loadConfig([], { ...env, CATGA_BUILTINS: 'off' }), /CATGA_BUILTINS \(--builtins\): expected true\/false, got "off"/);
});

test('TLS reload interval: 10 s by default, 100 ms to 1 h', () => {
  assert.equal(loadConfig([], { ...CREDS, CATGA_NODE_ID: 'n1' }).tlsReloadMs, 10_000);
  assert.equal(loadConfig([], { ...CREDS, CATGA_NODE_ID: 'n1', CATGA_TLS_RELOAD_MS: '100' }).tlsReloadMs, 100);
  assert.throws(() => loadConfig([], { ...CREDS, CATGA_NODE_ID: 'n1', CATGA_TLS_RELOAD_MS: '99' }), /CATGA_TLS_RELOAD_MS/);
  assert.throws(() => loadConfig([], { ...CREDS, CATGA_NODE_ID: 'n1', CATGA_TLS_RELOAD_MS: '3600001' }), /CATGA_TLS_RELOAD_MS/);
});
