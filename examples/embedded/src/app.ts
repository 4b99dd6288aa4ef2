// The application's HTTP routes: plain express, calling the embedded node's mediator. A Catga
// refusal keeps the status and error code it would have on Catga's own API.
import express from 'express';
import type { CatgaNode, Reply } from 'catga';

function respond(res: express.Response, reply: Reply, okStatus: number): void {
  if (reply.ok) res.status(okStatus).json(reply.value);
  else res.status(reply.status).json({ error: { code: reply.code, message: reply.message } });
}

export function createApp(node: CatgaNode): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '16kb' }));
  app.post('/orders', async (req, res) => {
    const idempotencyKey = req.get('idempotency-key');
    respond(res, await node.send('checkout.place', req.body, idempotencyKey === undefined ? {} : { idempotencyKey }), 201);
  });
  app.get('/orders/:id', async (req, res) => {
    respond(res, await node.query('checkout.get', { id: req.params.id }, { consistency: 'leader' }), 200);
  });
  // Where this instance stands, e.g. for a load balancer that prefers the leader.
  app.get('/cluster', (_req, res) => {
    const { id, role, leader, term } = node.cluster();
    res.json({ id, role, leader, term });
  });
  return app;
}
