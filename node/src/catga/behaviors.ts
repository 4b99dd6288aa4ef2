// Ready-made pipeline behaviours users can add node-wide (`MediatorOptions.behaviors`) or to a
// module (`behaviors`): logging, and authorization by token scope (validation, query timeouts,
// HANDLER_ERROR logging and the metrics hooks are built into the mediator itself).
import type { Behavior, CallerScope, Logger } from './api.js';
import { ErrorCodes, fail, type Result } from './result.js';

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

/**
 * Authorization by token scope: a call passes only if the caller's token holds `scope` for its
 * type, else 403 FORBIDDEN, on the node that received it. The application's own calls (an embedded
 * node's send and query) always pass.
 */
export function requireScope(scope: CallerScope): Behavior {
  return {
    name: `require-${scope}`,
    edge: (call) => (call.caller.allows(scope, call.type) ? null : fail(ErrorCodes.FORBIDDEN, `${call.type} needs a token with the ${scope} scope`)),
  };
}
