// Structured logs: one JSON object per line on stdout, with time, level, node id and current term,
// so that the lines of every node of a cluster can be merged and filtered by machine.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export function createLogger(
  node: string,
  level: LogLevel,
  term: () => number,
  write: (line: string) => void = (line) => process.stdout.write(line),
): Logger {
  const min = RANK[level];
  const emit = (lvl: LogLevel, event: string, fields?: Record<string, unknown>): void => {
    if (RANK[lvl] < min) return;
    const record: Record<string, unknown> = { ts: new Date().toISOString(), level: lvl, node, term: term(), event };
    if (fields) {
      for (const [k, v] of Object.entries(fields)) record[k] = v instanceof Error ? { message: v.message, code: (v as { code?: unknown }).code } : v;
    }
    write(JSON.stringify(record) + '\n');
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
  };
}
