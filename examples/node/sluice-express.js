'use strict';
// Express middleware that rate-limits every request with a Sluice agent.
//
//   const { sluiceRateLimit } = require('./sluice-express');
//   app.use(sluiceRateLimit({ socketPath: '/run/sluice/agent.sock',
//                             routes: [['/users/*', '/users']] }));
//
// Each request is checked with `RL.CHECK <domain> <cost> <key> <value> ...`
// (ioredis, over the agent's Unix socket) against a descriptor built from
// it:
//   clientIdKey  the X-Client-Id header (clientIdHeader), or
//                anonymousClientId when absent (left out when that is empty)
//   routeKey     the path mapped by `routes` ([pattern, route] pairs, first
//                match; a pattern ending in '*' is a prefix), else the path
//   methodKey    the HTTP method
// (an empty key name leaves that key out), or by `descriptor(req)` when
// given. Refused: 429 with the IETF httpapi draft's RateLimit-Policy and
// RateLimit fields and Retry-After. Admitted: next(), with RateLimit-Policy
// and RateLimit already set on the response when a rule matched.
//
// When the agent cannot answer within timeoutMs (no socket, a timeout, a
// reply that is not five integers, an -ERR), failOpen decides: true calls
// next() without RateLimit fields, false answers 503 with Retry-After: 1.
// Every outcome is counted in middleware.counters (allowed, refused,
// failedOpen, failedClosed); middleware.close() closes the connection and
// middleware.ready() waits for it.
const Redis = require('ioredis');

function ceilSeconds(ms) {
  return ms <= 0 ? 0 : Math.ceil(ms / 1000);
}

// A Structured Field string: printable ASCII, '"' and '\' escaped.
function quoted(name) {
  let out = '"';
  for (const c of name) {
    if (c === '"' || c === '\\') out += '\\' + c;
    else if (c >= ' ' && c <= '~') out += c;
    else out += '_';
  }
  return out + '"';
}

// The header fields of an RL.CHECK reply [allowed, limit, remaining,
// reset_after_ms, retry_after_ms] as [name, value] pairs: none when no rule
// matched; Retry-After (at least 1) only on a refusal that can pass later
// (retry_after_ms -1 means never).
function rateLimitHeaders(reply, policyName, windowSeconds) {
  const [allowed, limit, remaining, resetMs, retryMs] = reply;
  if (limit < 0) return [];
  const name = quoted(policyName);
  let policy = `${name};q=${limit}`;
  if (windowSeconds > 0) policy += `;w=${windowSeconds}`;
  const headers = [
    ['RateLimit-Policy', policy],
    ['RateLimit', `${name};r=${Math.max(remaining, 0)};t=${ceilSeconds(resetMs)}`],
  ];
  if (allowed !== 1 && retryMs >= 0) {
    headers.push(['Retry-After', String(Math.max(1, ceilSeconds(retryMs)))]);
  }
  return headers;
}

function routeFor(routes, path) {
  for (const [pattern, route] of routes) {
    if (pattern.endsWith('*')) {
      if (path.startsWith(pattern.slice(0, -1))) return route;
    } else if (path === pattern) {
      return route;
    }
  }
  return path;
}

const DEFAULTS = {
  domain: 'http',
  cost: 1,
  clientIdHeader: 'X-Client-Id',
  clientIdKey: 'client_id',
  anonymousClientId: 'anonymous',
  routeKey: 'route',
  routes: [],
  methodKey: 'method',
  descriptor: null,
  policyName: null,
  windowSeconds: 0,
  failOpen: true,
  timeoutMs: 50,
  connectTimeoutMs: 100,
};

function sluiceRateLimit(options) {
  const opts = { ...DEFAULTS, ...options };
  if (!opts.socketPath) throw new Error('sluiceRateLimit: socketPath is required');
  const policyName = opts.policyName || opts.domain;
  const counters = { allowed: 0, refused: 0, failedOpen: 0, failedClosed: 0 };
  const redis = new Redis({
    path: opts.socketPath,
    commandTimeout: opts.timeoutMs,
    connectTimeout: opts.connectTimeoutMs,
    maxRetriesPerRequest: 0,
    // The agent answers RL.* and a few others; INFO (ioredis' ready check)
    // is not one of them.
    enableReadyCheck: false,
  });
  // Connection errors are outcomes (counted per request), not crashes.
  redis.on('error', () => {});

  function descriptorFor(req) {
    if (opts.descriptor) return opts.descriptor(req);
    const pairs = [];
    if (opts.clientIdKey) {
      const id = req.get(opts.clientIdHeader) || opts.anonymousClientId;
      if (id) pairs.push([opts.clientIdKey, id]);
    }
    if (opts.routeKey) pairs.push([opts.routeKey, routeFor(opts.routes, req.path)]);
    if (opts.methodKey) pairs.push([opts.methodKey, req.method]);
    return pairs;
  }

  async function check(pairs) {
    try {
      const reply = await redis.call('RL.CHECK', opts.domain, String(opts.cost),
                                     ...pairs.flat());
      if (Array.isArray(reply) && reply.length === 5 &&
          reply.every(Number.isInteger)) {
        return reply;
      }
    } catch (e) {
      // Unreachable, timed out or -ERR: the failure policy decides.
    }
    return null;
  }

  async function middleware(req, res, next) {
    const pairs = descriptorFor(req);
    if (pairs.length === 0) return next();
    const reply = await check(pairs);
    if (reply === null) {
      if (opts.failOpen) {
        counters.failedOpen++;
        return next();
      }
      counters.failedClosed++;
      res.set('Retry-After', '1');
      return res.status(503).json({ error: 'rate limiter unavailable' });
    }
    for (const [name, value] of rateLimitHeaders(reply, policyName, opts.windowSeconds)) {
      res.set(name, value);
    }
    if (reply[0] !== 1) {
      counters.refused++;
      return res.status(429).json({ error: 'too many requests', retry_after_ms: reply[4] });
    }
    counters.allowed++;
    return next();
  }
  middleware.counters = counters;
  middleware.redis = redis;
  middleware.descriptorFor = descriptorFor;
  middleware.close = () => redis.disconnect();
  // Resolves true once connected to the agent, false after timeoutMs (a
  // service may wait for it before listening: until then checks that find
  // no connection within timeoutMs are decided by failOpen).
  middleware.ready = (timeoutMs = 5000) => new Promise((resolve) => {
    if (redis.status === 'ready') return resolve(true);
    const timer = setTimeout(() => resolve(false), timeoutMs);
    redis.once('ready', () => { clearTimeout(timer); resolve(true); });
  });
  return middleware;
}

module.exports = { sluiceRateLimit, rateLimitHeaders, routeFor, ceilSeconds };
