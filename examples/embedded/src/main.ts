// Starts the application: a Catga node in this process (settings from CATGA_* variables, as
// `catga node` reads them) and the express routes on PORT (default 3000).
import { startNode } from 'catga';
import { createApp } from './app.ts';
import { checkoutModule } from './checkout.ts';

const node = await startNode({
  settings: {},
  env: process.env,
  modules: [checkoutModule(process.env['CHECKOUT_PAYMENT_URL'] ?? 'http://127.0.0.1:9090/payments')],
});
node.onClusterChange(({ state, changed }) => console.log(JSON.stringify({ message: 'cluster changed', changed, role: state.role, leader: state.leader, term: state.term })));
const server = createApp(node).listen(Number(process.env['PORT'] ?? 3000));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close();
    void node.close();
  });
}
