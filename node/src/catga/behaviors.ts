// Ready-made pipeline behaviours users can add to `MediatorOptions.behaviors` (validation, query
// timeouts, HANDLER_ERROR logging and the metrics hooks are built into the mediator itself).
import type { Behavior, Logger } from './api.js';
import type { Result } from './result.js';

function outcomeFields(result: Result<unknown>): Record<string, unknown> {
  return result.ok ? { outcome: 'ok' } : { outcome: 'failed', code: result.code };
}

/**
 * Logs every command (with its entry index, on every node) and every query with its outcome.
 * Verbose: meant for development and debugging. Logging is a side effect only, so the command
 * path stays deterministic.
 */
export function loggingBehavior(logger: Logger): Behavior {
  return {
    name: 'logging',
    command(call, next) {
      const result = next();
      logger.info('command applied', { type: call.type, index: call.ctx.index, position: call.ctx.position, ...outcomeFields(result) });
      return result;
    },
    async query(call, next) {
      const result = await next();
      logger.info('query served', { type: call.type, ...outcomeFields(result) });
      return result;
    },
  };
}
