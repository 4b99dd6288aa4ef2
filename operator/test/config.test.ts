// Operator configuration: defaults, derived lease timings, refusal of bad values by name, and of
// any command-line argument (the process exits 2 with the reason).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { loadConfig, refuseArguments } from '../src/machinery/config.js';
import { OPERATOR_MAIN } from './support.js';

test('defaults and derived lease timings', () => {
  const c = loadConfig({ CATGA_OPERATOR_NAMESPACE: 'ops', CATGA_OPERATOR_IDENTITY: 'me' });
  assert.equal(c.identity, 'me');
  assert.equal(c.leaseNamespace, 'ops');
  assert.equal(c.httpPort, 8081);
  assert.equal(c.leaseDurationMs, 15_000);
  assert.ok(c.retryPeriodMs < c.renewDeadlineMs && c.renewDeadlineMs < c.leaseDurationMs);
  assert.equal(c.peerAddressMode, 'dns');
  assert.equal(c.crashAt, null);
});

test('crash points and modes are parsed; bad values are refused naming the variable', () => {
  assert.equal(loadConfig({ CATGA_OPERATOR_CRASH_AT: 'after-member-remove' }).crashAt, 'after-member-remove');
  assert.equal(loadConfig({ CATGA_OPERATOR_PEER_ADDRESS: 'pod-ip' }).peerAddressMode, 'pod-ip');
  assert.throws(() => loadConfig({ CATGA_OPERATOR_CRASH_AT: 'somewhere' }), /CATGA_OPERATOR_CRASH_AT/);
  assert.throws(() => loadConfig({ CATGA_OPERATOR_WORKERS: '0' }), /CATGA_OPERATOR_WORKERS/);
  assert.throws(() => loadConfig({ CATGA_OPERATOR_PEER_ADDRESS: 'x' }), { code: 'CONFIG_INVALID' });
  assert.throws(() => loadConfig({ CATGA_OPERATOR_LOG_LEVEL: 'loud' }), /CATGA_OPERATOR_LOG_LEVEL/);
});

test('command-line arguments are refused by name, and the process exits 2 before connecting', () => {
  refuseArguments([]);
  assert.throws(() => refuseArguments(['--workers=4', 'x']), { code: 'CONFIG_INVALID', message: /unexpected argument "--workers=4".*CATGA_OPERATOR_/ });
  const run = spawnSync(process.execPath, [OPERATOR_MAIN, '--kubeconfig', 'k'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /^catga-operator: unexpected argument "--kubeconfig": catga-operator takes no arguments/);
});
