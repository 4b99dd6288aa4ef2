// The modules every node loads before any user module (docs/api.md#built-in-modules).
import type { ModuleDefinition } from '../api.js';
import { kvModule } from './kv.js';
import { ordersModule } from './orders.js';

export const builtinModules: readonly ModuleDefinition[] = Object.freeze([kvModule, ordersModule]);
