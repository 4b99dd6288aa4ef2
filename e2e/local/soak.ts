// `make soak`: the mixed nemesis (kills, pauses, partitions, loss, one at a time at random) in
// rounds of CATGA_SOAK_ROUND_SECONDS (default 120) on a fresh 5-node cluster each, until
// CATGA_SOAK_SECONDS (default 1800) of traffic have run; every round is checked like a CI
// scenario (rounds keep each Porcupine check tractable). Exits 1 at the first failed round.
import { runScenario } from './scenario.js';
import { formatTable, runPassed, type ScenarioResult } from './report.js';
import { MIXED } from './nemesis.js';

const TOTAL_SECONDS = Number(process.env['CATGA_SOAK_SECONDS'] ?? 1800);
const ROUND_SECONDS = Number(process.env['CATGA_SOAK_ROUND_SECONDS'] ?? 120);
const SEED = Number(process.env['CATGA_E2E_SEED'] ?? Date.now() % 1_000_000);

async function main(): Promise<number> {
  const results: ScenarioResult[] = [];
  for (let done = 0, round = 0; done < TOTAL_SECONDS; done += ROUND_SECONDS, round++) {
    const seconds = Math.min(ROUND_SECONDS, TOTAL_SECONDS - done);
    const result = await runScenario({ ...MIXED, name: `mixed round ${round}` }, SEED + round, seconds);
    results.push(result);
    console.log(formatTable(results));
    if (!runPassed(result)) {
      console.error(`round ${round} (seed ${SEED + round}) failed: ${result.details.join('; ')}; files in ${result.runDir}`);
      return 1;
    }
  }
  console.log(`soak passed: ${results.length} rounds, ${TOTAL_SECONDS} s of traffic, seed ${SEED}`);
  return 0;
}

process.exitCode = await main();
