// `catga sim`: runs seeded simulations of the Raft core and reports every seed that broke an
// invariant with a replayable trace. The last line printed is always `N seeds, V violations`.
import { FlagError, intFlag, readFlags } from '../common/flags.js';
import { memoryStore, simulatedDiskStore } from './durable.js';
import { DRIVER_FAULT_NAMES, runSeed, type SeedResult, type SimFaults } from './simulator.js';

export const DEFAULT_SEEDS = 200;
export const DEFAULT_STEPS = 4000;
export const DEFAULT_DISK_EVERY = 10;
/** Events a violation report shows. */
export const REPORT_EVENTS = 150;
const MAX_SEEDS = 10_000_000;
const MAX_STEPS = 1_000_000;
const FAULT_NAMES = ['grantVoteWithoutLogCheck', 'commitPreviousTermByCount', 'ignoreIncarnations', ...DRIVER_FAULT_NAMES] as const;

export const USAGE = `usage: catga sim [--seeds N] [--nodes 3|5] [--steps K] [--seed S] [--trace] [--disk-every D] [--fault NAME]...
  --seeds N   number of seeds to run, S .. S+N-1 (default ${DEFAULT_SEEDS}; 1 when --seed is given alone)
  --nodes     initial voters, 3 or 5 (default 3)
  --steps K   tick budget per seed (default ${DEFAULT_STEPS})
  --seed S    first seed (default 1)
  --trace     print every event as it happens (use with --seed S to replay one seed)
  --disk-every D  seeds divisible by D run on the real storage code over a crashing in-memory
              disk (default ${DEFAULT_DISK_EVERY}; 0 never, 1 always)
  --fault     test only: run the core or the driver with a deliberate bug (${FAULT_NAMES.join(', ')})`;

export interface SimCliOptions {
  readonly seeds: number;
  readonly firstSeed: number;
  readonly nodes: number;
  readonly steps: number;
  readonly trace: boolean;
  readonly diskEvery: number;
  readonly faults: SimFaults | null;
}

/** Whether `seed` runs on the real storage code (a function of the seed, so a replay does too). */
export function usesDisk(o: SimCliOptions, seed: number): boolean {
  return o.diskEvery > 0 && seed % o.diskEvery === 0;
}

/** Reads the arguments after `sim`; FlagError (code USAGE) on bad ones. */
export function parseSimArgs(argv: readonly string[]): SimCliOptions {
  const f = readFlags(argv, {
    seeds: { type: 'string' }, seed: { type: 'string' }, nodes: { type: 'string' }, steps: { type: 'string' },
    trace: { type: 'boolean' }, 'disk-every': { type: 'string' }, fault: { type: 'string', multiple: true },
  });
  const nodes = intFlag('nodes', f.nodes, 3, 5, 3);
  if (nodes !== 3 && nodes !== 5) throw new FlagError('--nodes must be 3 or 5');
  const faults: Record<string, boolean> = {};
  for (const name of f.fault ?? []) {
    if (!FAULT_NAMES.includes(name as (typeof FAULT_NAMES)[number])) throw new FlagError(`--fault must be one of ${FAULT_NAMES.join(', ')}`);
    faults[name] = true;
  }
  const firstSeed = f.seed === undefined ? null : intFlag('seed', f.seed, 0, 0xffffffff, 1);
  return {
    seeds: intFlag('seeds', f.seeds, 1, MAX_SEEDS, firstSeed === null ? DEFAULT_SEEDS : 1),
    firstSeed: firstSeed ?? 1,
    nodes,
    steps: intFlag('steps', f.steps, 1, MAX_STEPS, DEFAULT_STEPS),
    trace: f.trace === true,
    diskEvery: intFlag('disk-every', f['disk-every'], 0, MAX_SEEDS, DEFAULT_DISK_EVERY),
    faults: Object.keys(faults).length === 0 ? null : (faults as SimFaults),
  };
}

export function replayCommand(o: SimCliOptions, seed: number): string {
  const faults = o.faults === null ? '' : Object.keys(o.faults).map((f) => ` --fault ${f}`).join('');
  const disk = o.diskEvery === DEFAULT_DISK_EVERY ? '' : ` --disk-every ${o.diskEvery}`;
  return `catga sim --seed ${seed} --nodes ${o.nodes} --steps ${o.steps}${disk}${faults} --trace`;
}

export function describeViolation(o: SimCliOptions, r: SeedResult): string[] {
  const v = r.violation;
  if (v === null) return [];
  return [
    `seed ${r.seed}${usesDisk(o, r.seed) ? ' (storage on simulated disk)' : ''}: VIOLATION ${v.invariant} at ${v.node}: ${v.detail}`,
    `  last ${r.recent.length} events (trace ${r.fingerprint}):`,
    ...r.recent.map((line) => `    ${line}`),
    `  replay: ${replayCommand(o, r.seed)}`,
  ];
}

/** Runs `catga sim` with the arguments after `sim`; 0 when no seed broke an invariant, 1 otherwise, 2 on bad usage. */
export async function runSimCli(argv: string[], print: (line: string) => void = (line) => console.log(line)): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    print(USAGE);
    return 0;
  }
  let o: SimCliOptions;
  try {
    o = parseSimArgs(argv);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    console.error(`catga sim: ${err.message}\n${USAGE}`);
    return 2;
  }
  const started = performance.now();
  let violations = 0;
  let ticks = 0;
  let commits = 0;
  for (let k = 0; k < o.seeds; k++) {
    const seed = o.firstSeed + k;
    const result = await runSeed({
      seed,
      nodes: o.nodes,
      steps: o.steps,
      traceCapacity: REPORT_EVENTS,
      traceSink: o.trace ? print : null,
      faults: o.faults,
      store: usesDisk(o, seed) ? simulatedDiskStore : memoryStore,
    });
    ticks += result.stats.ticks;
    commits += result.stats.maxCommit;
    if (result.violation !== null) {
      violations++;
      for (const line of describeViolation(o, result)) print(line);
    } else if (o.trace) {
      print(`seed ${seed}: ok (trace ${result.fingerprint})`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  print(
    `sim: ${o.nodes} nodes, ${o.steps} steps max: ${ticks} ticks, ${commits} entries committed, ` +
      `${seconds.toFixed(1)} s, ${(o.seeds / seconds).toFixed(1)} seeds/s`,
  );
  print(`${o.seeds} seeds, ${violations} violations`);
  return violations === 0 ? 0 : 1;
}
