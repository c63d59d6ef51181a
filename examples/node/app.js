'use strict';
// A small Express service behind the Sluice middleware (sluice-express.js).
//
//   node examples/node/app.js --agent var/agent.sock [--listen 127.0.0.1:8092]
//        [--fail-closed] [--window SECONDS]
//
// Routes: GET /hello, GET /items/:id (one route, "/items"). Requests are
// checked in domain "http" with client_id (X-Client-Id), route and method.
const express = require('express');
const { sluiceRateLimit } = require('./sluice-express');

function makeApp({ socketPath, failOpen = true, windowSeconds = 0, domain = 'http', timeoutMs = 50 }) {
  const limiter = sluiceRateLimit({
    socketPath, failOpen, windowSeconds, domain, timeoutMs, routes: [['/items/*', '/items']],
  });
  const app = express();
  app.use(limiter);
  app.get('/hello', (req, res) => res.type('text').send('hello\n'));
  app.get('/items/:id', (req, res) => res.type('text').send(`item ${req.params.id}\n`));
  return { app, limiter };
}

function main(argv) {
  const args = { listen: '127.0.0.1:8092', failOpen: true, window: 0 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--agent') args.agent = argv[++i];
    else if (argv[i] === '--listen') args.listen = argv[++i];
    else if (argv[i] === '--window') args.window = Number(argv[++i]);
    else if (argv[i] === '--fail-closed') args.failOpen = false;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!args.agent) throw new Error('--agent SOCKET is required');
  const { app, limiter } = makeApp({ socketPath: args.agent, failOpen: args.failOpen,
                                     windowSeconds: args.window });
  const at = args.listen.lastIndexOf(':');
  const host = args.listen.slice(0, at);
  const port = Number(args.listen.slice(at + 1));
  limiter.ready(5000).then((connected) => {
    if (!connected) console.error(`agent ${args.agent} not reachable yet: requests are ${args.failOpen ? 'admitted' : 'refused'} until it is`);
    app.listen(port, host, () => console.log(`listening on http://${args.listen}`));
  });
}

if (require.main === module) main(process.argv.slice(2));

module.exports = { makeApp };
