// Crash-point injection for tests (CATGA_OPERATOR_CRASH_AT): the process exits at the named
// point, right after the step is done and before anything else is recorded, so a test can prove
// that a restarted operator resumes correctly from what it observes.
import type { Logger } from './log.js';

export const CRASH_POINTS = ['after-member-add', 'after-member-remove'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];
/** Exit code of an injected crash, distinct from errors. */
export const CRASH_EXIT_CODE = 86;

export function parseCrashPoint(raw: string | undefined): CrashPoint | null {
  if (raw === undefined || raw === '') return null;
  if ((CRASH_POINTS as readonly string[]).includes(raw)) return raw as CrashPoint;
  throw Object.assign(new Error(`CATGA_OPERATOR_CRASH_AT: expected one of ${CRASH_POINTS.join(', ')}, got "${raw}"`), { code: 'CONFIG_INVALID' });
}

export type CrashHook = (point: CrashPoint) => void;

export function crashHook(configured: CrashPoint | null, log: Logger, exit: (code: number) => never = process.exit): CrashHook {
  return (point) => {
    if (point !== configured) return;
    log.warn('injected crash', { crashPoint: point });
    exit(CRASH_EXIT_CODE);
  };
}
