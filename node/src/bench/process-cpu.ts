// The CPU time the measured servers spend, read from /proc: a row's throughput says how fast a
// system went on this machine, its CPU per operation says what each operation cost, which is what
// sets the rate once the cores are busy (on two cores, Catga's nodes and etcd's members both keep
// them 85-90% busy at 64 connections). User and system time of each process, all its threads;
// the load generator's own is left out. Null where /proc is not there.
import { readFileSync } from 'node:fs';

/** Linux reports process times in USER_HZ ticks, 100 per second on every architecture it runs on. */
const TICKS_PER_SECOND = 100;

/** User + system milliseconds of one `/proc/<pid>/stat` line (fields counted after the command name, which may hold spaces and parentheses). */
export function statCpuMs(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is the state (field 3 of proc(5)); utime and stime are fields 14 and 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isSafeInteger(utime) || !Number.isSafeInteger(stime)) throw new Error(`not a /proc stat line: ${stat.slice(0, 80)}`);
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

/** Milliseconds of CPU the processes have used so far, summed; null when one cannot be read. */
export function processesCpuMs(pids: readonly number[]): number | null {
  let total = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return null;
    }
    total += statCpuMs(stat);
  }
  return total;
}

/** A run's result and the CPU microseconds the measured processes spent per operation during it (null: unknown). */
export interface CpuMeasured<T> {
  readonly result: T;
  readonly cpuUsPerOp: number | null;
}

/** Runs `work` and answers with its result and the CPU `pids` spent per operation during it. */
export async function cpuPerOperation<T extends { readonly requests: number }>(pids: readonly number[], work: () => Promise<T>): Promise<CpuMeasured<T>> {
  const before = processesCpuMs(pids);
  const result = await work();
  const after = processesCpuMs(pids);
  const cpuUsPerOp = before === null || after === null || result.requests === 0 ? null : ((after - before) * 1000) / result.requests;
  return { result, cpuUsPerOp };
}
