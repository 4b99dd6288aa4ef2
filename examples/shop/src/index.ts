// The shop application: its modules, as one list. `catga dev --handlers src/index.ts` and the
// container (CATGA_HANDLERS) load this file; clients type themselves by it:
// `createClient<typeof shop>({ endpoints })`.
import orders from './orders.ts';
import payments from './payments.ts';

const shop = [orders, payments];
export default shop;
