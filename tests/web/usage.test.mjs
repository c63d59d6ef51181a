// Usage through the dashboard, from checks sent to the real agent over RESP:
// the Agents page, the Overview's and a rule's allowed and refused counts,
// the rule's top clients by refused and by allowed, and "make an override
// for this client", which the agent then follows within a bound.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {API, launch, open, signIn, api, newRule, noProblems, axe} from './harness.mjs';
import {Resp} from './resp.mjs';

const SOCKET = process.env.SLUICE_AGENT_SOCKET;
if (!SOCKET) throw new Error('SLUICE_AGENT_SOCKET is not set: run through tests/examples/run_with_stack.py (ctest does)');

// Per client: the cost of each check and how many checks, against a rule of
// 20 per hour (no refill during the test). What the agent answered is the
// truth the pages are held to; decided against the whole budget, the token
// counts come out distinct (clients of equal weight, if the agent's leases
// make any, may be listed in either order).
const PLAN = {acme: [1, 30], bolt: [1, 15], crux: [3, 12], dyne: [7, 5], echo: [1, 19]};
const LIMIT = 20;
const OVERRIDE_LIMIT = 50;
const APPLY_BOUND_MS = 2000;  // a saved override reaches the agent's decisions within this

let browser, context, page, problems, agent, rule;
const sent = {checks: {allowed: 0, refused: 0}, clients: {}};

// Polls fn() until it returns something truthy; fails with `what` at the deadline.
async function until(what, timeoutMs, fn, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    if (Date.now() >= deadline) throw new Error(`${what}: not true after ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise(resolve => setTimeout(resolve, intervalMs));
  }
}

before(async () => {
  browser = await launch();
  // The context bypasses the CSP so that axe can be injected (the session
  // and rules tests run under the CSP).
  ({context, page, problems} = await open(browser, {bypassCSP: true}));
  await signIn(page);
  agent = await Resp.connect(SOCKET);
  rule = await newRule({name: 'web-usage', domain: 'usage', match: {client_id: '*'}, limit: LIMIT, period: '1h'});
  // Cost 0 takes nothing and counts nowhere: it only shows the rule arrived.
  await until('the agent has the rule', 5000, async () => (await agent.check('usage', 0, {client_id: 'probe'})).limit === LIMIT, 20);
  // A client's use is listed once its minute has ended, and spent tokens
  // travel up to ~6 s after the check: start early enough in a minute that
  // all of it lands in one.
  const second = (Date.now() % 60000) / 1000;
  if (second > 50) await new Promise(resolve => setTimeout(resolve, (60 - second) * 1000 + 100));
  for (const [client, [cost, n]] of Object.entries(PLAN)) {
    const one = sent.clients[client] = {allowed: 0, refused: 0};
    for (let i = 0; i < n; i++) {
      const reply = await agent.check('usage', cost, {client_id: client});
      assert.equal(reply.limit, LIMIT);
      if (reply.allowed) { one.allowed += cost; sent.checks.allowed++; } else { one.refused += cost; sent.checks.refused++; }
    }
  }
  assert.ok(sent.checks.allowed > 0 && sent.checks.refused > 0, JSON.stringify(sent));
});

after(async () => {
  agent?.close();
  await browser?.close();
  noProblems(problems);
});

// The heaviest clients by `by`, as [client, allowed, refused] tokens, as
// the agent's replies said.
function expectedTop(by) {
  return Object.entries(sent.clients).filter(([, c]) => c[by] > 0)
    .sort(([, a], [, b]) => b[by] - a[by])
    .map(([client, c]) => [`client_id=${client}`, c.allowed, c.refused]);
}

// A listing against the truth: the same clients, heaviest first (clients
// of equal weight in either order), each ranked count exact (at most 256
// clients: no error), the other count a lower bound of the truth.
function sameTop(listed, want, by) {
  const ranked = by === 'allowed' ? 1 : 2, other = 3 - ranked;
  return listed.length === want.length && listed.every((row, i) => {
    const truth = want.find(w => w[0] === row[0]);
    return truth && Number(row[ranked]) === truth[ranked] && truth[ranked] === want[i][ranked] &&
      Number(row[other]) >= 0 && Number(row[other]) <= truth[other];
  });
}

async function tableRows(caption) {
  const table = page.getByRole('table', {name: caption});
  await table.waitFor();
  return table.locator('tbody tr').evaluateAll(rows => rows.map(r => [...r.querySelectorAll('td')].slice(0, 3).map(td => td.textContent)));
}

test("the rule's page shows the allowed and refused checks", async () => {
  const want = `${sent.checks.allowed} allowed · ${sent.checks.refused} refused in this range`;
  // Counts reach the controller within seconds; the page reloads them every 10 s.
  const t0 = Date.now();
  await until('the counts are stored', 10000, async () => {
    const now = Date.now();
    const points = (await api('GET', `/api/v1/usage?rule=${rule.id}&from=${now - 900e3}&to=${now}`)).json.points;
    return points.reduce((a, p) => a + p.allowed + p.refused, 0) === sent.checks.allowed + sent.checks.refused;
  }, 200);
  console.log(`the counts were stored ${Date.now() - t0} ms after the last check's reply`);
  await page.goto(`${API}/#/rules/${rule.id}`);
  await page.getByText(want).waitFor({timeout: 5000});
  await page.getByRole('img', {name: 'web-usage: allowed and refused per second'}).waitFor();
});

test('the Overview shows the fleet and the rule with non-zero allowed and refused', async () => {
  await page.goto(`${API}/#/`);
  await page.getByText(`${sent.checks.allowed} allowed · ${sent.checks.refused} refused in the last 15 minutes`).waitFor({timeout: 10000});
  const row = page.getByRole('row').filter({has: page.getByRole('link', {name: 'web-usage'})});
  const cells = await row.locator('td').allTextContents();
  const checks = sent.checks.allowed + sent.checks.refused;
  assert.equal(cells[1], String(checks));
  assert.equal(cells[2], `${(100 * sent.checks.refused / checks).toFixed(0)}%`);
});

test("the rule's top clients, heaviest first, by refused and by allowed", async () => {
  const want = {refused: expectedTop('refused'), allowed: expectedTop('allowed')};
  // A minute's clients are listed once it has ended (up to ~62 s).
  let listed;
  await until('the controller lists the top clients', 90000, async () => {
    const now = Date.now();
    const top = async by => (await api('GET', `/api/v1/usage/top?rule=${rule.id}&from=${now - 900e3}&to=${now}&by=${by}&limit=10`)).json.clients
      .map(c => [`client_id=${c.values.client_id}`, c.allowed, c.refused]);
    listed = {refused: await top('refused'), allowed: await top('allowed')};
    return sameTop(listed.refused, want.refused, 'refused') && sameTop(listed.allowed, want.allowed, 'allowed');
  }, 500).catch(e => { throw new Error(`${e.message}; listed ${JSON.stringify(listed)}, want ${JSON.stringify(want)}`); });
  await page.goto(`${API}/#/rules/${rule.id}`);
  for (const by of ['refused', 'allowed']) {
    const rows = await tableRows(`Top clients by ${by}`);
    assert.ok(sameTop(rows, want[by], by), `by ${by}: the page shows ${JSON.stringify(rows)}, the agent said ${JSON.stringify(want[by])}`);
    assert.deepEqual(rows, listed[by].map(r => r.map(String)), `by ${by}: the page shows what the API lists`);
  }
  const headers = await page.getByRole('table', {name: 'Top clients by refused'}).getByRole('columnheader').allTextContents();
  assert.deepEqual(headers.slice(0, 3), ['Client', 'Allowed (at least)', 'Refused']);
  // With clients listed, each row's override link is in the page: axe again.
  const violations = await axe(page);
  assert.deepEqual(violations, [], violations.join('\n'));
});

test('the Agents page lists the agent, connected, with its rules version and buckets', async () => {
  const revision = Number((await api('GET', '/api/v1/config')).headers.get('etag').replace(/\D/g, ''));
  const listed = await until('the agent reports the current rules version', 10000, async () => {
    const agents = (await api('GET', '/api/v1/agents')).json.agents;
    return agents.length === 1 && agents[0].rules_version === revision && agents[0].buckets >= Object.keys(PLAN).length && agents[0];
  }, 200);
  assert.equal(listed.connected, true);
  await page.goto(`${API}/#/agents`);
  const row = page.getByRole('row').filter({hasText: listed.id});
  await row.waitFor();
  const cells = await row.locator('td').allTextContents();
  assert.equal(cells[0], listed.id);
  assert.equal(cells[1], 'connected');
  assert.equal(cells[4], String(revision), 'the rules version');
  assert.ok(Number(cells[5]) >= Object.keys(PLAN).length, `buckets: ${cells[5]}`);
});

test('an override made from a top client applies at the agent within the bound', async () => {
  const client = expectedTop('refused')[0][0].split('=')[1];
  await page.goto(`${API}/#/rules/${rule.id}`);
  await page.getByRole('table', {name: 'Top clients by refused'})
    .getByRole('link', {name: `Make an override for this client (client_id=${client})`}).click();
  await page.getByRole('heading', {name: 'New rule'}).waitFor();
  assert.equal(await page.getByLabel('Match').inputValue(), `client_id=${client}`);
  assert.equal(await page.getByLabel('Domain').inputValue(), 'usage');
  assert.equal(await page.getByLabel('Name', {exact: true}).inputValue(), `web-usage-${client}`);
  assert.equal(await page.getByLabel('Limit').inputValue(), String(LIMIT));
  assert.equal(await page.getByLabel('Burst').inputValue(), '', "the burst follows the override's limit");
  await page.getByLabel('Limit').fill(String(OVERRIDE_LIMIT));
  const saved = page.waitForResponse(r => r.url() === `${API}/api/v1/rules` && r.request().method() === 'POST');
  await page.getByRole('button', {name: 'Create rule'}).click();
  assert.equal((await saved).status(), 201);
  const savedAt = Date.now();
  const reply = await until(`a check for ${client} follows the override`, APPLY_BOUND_MS, async () => {
    const r = await agent.check('usage', 1, {client_id: client});
    return r.allowed && r.limit === OVERRIDE_LIMIT && r;
  }, 10);
  const took = Date.now() - savedAt;
  console.log(`the override applied at the agent ${took} ms after the save returned`);
  assert.equal(reply.remaining, OVERRIDE_LIMIT - 1, 'a fresh bucket of the override: its burst is its limit');
  await page.getByRole('heading', {name: `web-usage-${client}`}).waitFor();
  const made = (await api('GET', '/api/v1/rules')).json.rules.find(r => r.name === `web-usage-${client}`);
  assert.deepEqual([made.match, made.limit, made.burst, made.period], [{client_id: client}, OVERRIDE_LIMIT, OVERRIDE_LIMIT, '1h']);
  const other = await agent.check('usage', 0, {client_id: 'acme'});
  assert.equal(other.limit, LIMIT, 'every other client keeps the rule');
});
