// The bench's CPU figures: the /proc stat line is read past the command name whatever it holds,
// and a busy process's time grows by about what it ran.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuPerOperation, processesCpuMs, statCpuMs } from '../../../src/bench/process-cpu.js';

test('reads utime and stime past a command name with spaces and parentheses', () => {
  const line = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 11 0 9000 1000000 5000 18446744073709551615';
  assert.equal(statCpuMs(line), (1234 + 567) * 10);
  assert.throws(() => statCpuMs('4242 (node) S 1'), /not a \/proc stat line/);
});

test('a busy process shows the CPU it used, as the process itself counts it, and a missing one is unknown', async () => {
  let usedUs = 0;
  const { cpuUsPerOp } = await cpuPerOperation([process.pid], async () => {
    const start = process.cpuUsage();
    // Spin until the process has used 300 ms of CPU, however busy the machine is.
    do {
      const d = process.cpuUsage(start);
      usedUs = d.user + d.system;
    } while (usedUs < 300_000);
    return { requests: 10 };
  });
  // Ticks are 10 ms: the two counts agree within a few of them.
  assert.ok(cpuUsPerOp !== null && Math.abs(cpuUsPerOp * 10 - usedUs) <= 40_000, `cpu per op ${cpuUsPerOp}, used ${usedUs} us`);
  assert.equal(processesCpuMs([process.pid, 2 ** 30]), null);
});
