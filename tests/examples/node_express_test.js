'use strict';
// The Express example (examples/node) against a real agent and controller:
// run by run_with_stack.py (SLUICE_AGENT_SOCKET, SLUICE_API, SLUICE_TOKEN)
// with node's test runner. The example listens on a free loopback port in
// this process; requests go to it over real HTTP (fetch).
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');

const exampleDir = path.join(__dirname, '..', '..', 'examples', 'node');
let makeApp;
let expressMiddleware;
try {
  ({ makeApp } = require(path.join(exampleDir, 'app.js')));
  expressMiddleware = require(path.join(exampleDir, 'sluice-express.js'));
} catch (e) {
  throw new Error(`cannot load the example (${e.message}): run ` +
                  '`npm ci --prefix examples/node` first (deploy/test.sh does)');
}

const SOCKET = process.env.SLUICE_AGENT_SOCKET;
const API = process.env.SLUICE_API;
const TOKEN = process.env.SLUICE_TOKEN;

async function eventually(what, timeoutMs, condition) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await condition()) return;
    } catch (e) {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what}: not true after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// The example on a free port, connected to the agent unless the socket is
// missing; returns { base, limiter, close }. A timeout of seconds, not the
// example's 50 ms: a loaded test machine must not turn checks into
// failures (the failure test uses a missing socket, which fails at once).
async function serve(options) {
  const { app, limiter } = makeApp({ timeoutMs: 5000, ...options });
  if (options.socketPath === SOCKET) assert.ok(await limiter.ready(5000), 'not connected to the agent');
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    limiter,
    close: async () => {
      limiter.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

function get(base, route, clientId) {
  return fetch(base + route, { headers: { 'X-Client-Id': clientId } });
}

test.before(async () => {
  assert.ok(SOCKET, 'run me with tests/examples/run_with_stack.py');
  const created = await fetch(`${API}/api/v1/rules`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'express-per-client', domain: 'express',
                           match: { client_id: '*' }, limit: 5, period: '1h' }),
  });
  assert.strictEqual(created.status, 201, await created.text());
  const probe = await serve({ socketPath: SOCKET, domain: 'express' });
  try {
    await eventually('the rule reaches the agent', 10000, async () => {
      const reply = await probe.limiter.redis.call('RL.CHECK', 'express', '0', 'client_id', 'probe');
      return reply[1] === 5;
    });
  } finally {
    await probe.close();
  }
});

test('admits the limit, then 429 with RateLimit-Policy, RateLimit and Retry-After', async () => {
  const s = await serve({ socketPath: SOCKET, domain: 'express', windowSeconds: 3600 });
  try {
    const statuses = [];
    for (let i = 0; i < 8; i++) {
      const r = await get(s.base, '/hello', 'alice');
      const body = await r.text();
      statuses.push(r.status);
      assert.strictEqual(r.headers.get('ratelimit-policy'), '"express";q=5;w=3600');
      if (r.status === 200) {
        assert.strictEqual(body, 'hello\n');
        assert.match(r.headers.get('ratelimit'), new RegExp(`^"express";r=${4 - i};t=\\d+$`));
        assert.strictEqual(r.headers.get('retry-after'), null);
      } else {
        assert.match(r.headers.get('ratelimit'), /^"express";r=0;t=\d+$/);
        assert.ok(Number(r.headers.get('retry-after')) >= 1, r.headers.get('retry-after'));
        assert.strictEqual(JSON.parse(body).error, 'too many requests');
      }
    }
    assert.deepStrictEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    assert.strictEqual(s.limiter.counters.allowed, 5);
    assert.strictEqual(s.limiter.counters.refused, 3);
    // Another client has its own bucket.
    assert.strictEqual((await get(s.base, '/items/9', 'bob')).status, 200);
  } finally {
    await s.close();
  }
});

test('no rule matched: no RateLimit fields', async () => {
  const s = await serve({ socketPath: SOCKET, domain: 'express-unruled' });
  try {
    const r = await get(s.base, '/hello', 'carol');
    assert.strictEqual(r.status, 200);
    assert.strictEqual(r.headers.get('ratelimit-policy'), null);
  } finally {
    await s.close();
  }
});

test('agent unreachable: fails open or closed, as configured, and counts it', async () => {
  const missing = path.join(path.dirname(SOCKET), 'missing.sock');
  for (const [failOpen, expected] of [[true, 200], [false, 503]]) {
    const s = await serve({ socketPath: missing, domain: 'express', failOpen });
    try {
      const r = await get(s.base, '/hello', 'dan');
      assert.strictEqual(r.status, expected);
      assert.strictEqual(r.headers.get('ratelimit-policy'), null);
      if (failOpen) assert.strictEqual(s.limiter.counters.failedOpen, 1);
      else {
        assert.strictEqual(s.limiter.counters.failedClosed, 1);
        assert.strictEqual(r.headers.get('retry-after'), '1');
      }
    } finally {
      await s.close();
    }
  }
});

test('descriptor and headers are built as documented', () => {
  const { routeFor, rateLimitHeaders } = expressMiddleware;
  assert.strictEqual(routeFor([['/items/*', '/items']], '/items/3'), '/items');
  assert.strictEqual(routeFor([['/items/*', '/items']], '/hello'), '/hello');
  assert.deepStrictEqual(rateLimitHeaders([0, 5, 0, 60000, 12001], 'a', 0), [
    ['RateLimit-Policy', '"a";q=5'],
    ['RateLimit', '"a";r=0;t=60'],
    ['Retry-After', '13'],
  ]);
  assert.deepStrictEqual(rateLimitHeaders([1, -1, -1, 0, 0], 'a', 0), []);
  assert.deepStrictEqual(rateLimitHeaders([0, 5, 5, 0, -1], 'a', 0).length, 2);
});
