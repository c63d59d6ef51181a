// Every page at 1280×800 and 390×844: it renders, axe-core finds no serious
// or critical violation, nothing overflows sideways, nothing is requested
// from another origin. With SLUICE_SCREENSHOTS=DIR each page is also saved
// there (docs/screenshots/ is made this way), after a minute of skewed
// traffic through the agent, so the charts and top clients show something.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {execFileSync} from 'node:child_process';
import {Resp} from './resp.mjs';
import {API, DESKTOP, PHONE, launch, open, signIn, api, newRule, axe, noProblems} from './harness.mjs';

const SHOTS = process.env.SLUICE_SCREENSHOTS || '';
let browser, rule;
before(async () => {
  browser = await launch();
  rule = await newRule({name: 'pages-per-client', domain: 'api', match: {route: '/search', client_id: '*'}, limit: 100, period: '1s', burst: 200});
  const changed = {...rule, limit: 120};
  delete changed.id; delete changed.version;
  await api('PUT', `/api/v1/rules/${rule.id}`, changed);
  await newRule({name: 'pages-login', domain: 'login', match: {user: '*'}, limit: 3, period: '1m', mode: 'shadow'});
  if (SHOTS) await traffic();
});

// About 70 s of checks, client i sending 1/(i+1) of the heaviest one's
// 200 a second (above the rule's 120), until a minute with them has ended
// and its top clients are listed (bounded: it throws past 150 s).
async function traffic() {
  const agent = await Resp.connect(process.env.SLUICE_AGENT_SOCKET);
  const start = Date.now();
  for (let tick = 0; ; tick++) {
    for (let i = 0; i < 12; i++) {
      for (let n = 0; n < Math.round(20 / (i + 1)); n++) {
        await agent.check('api', 1, {route: '/search', client_id: `customer-${1000 + i * 37}`});
      }
      if (tick % 20 === 0) await agent.check('login', 1, {user: `user-${i}`});
    }
    const wait = start + (tick + 1) * 100 - Date.now();
    if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait));
    if (tick % 50 === 0 && Date.now() - start > 65000) {
      const to = new Date().toISOString();
      const from = new Date(start).toISOString();
      const top = await api('GET', `/api/v1/usage/top?rule=${rule.id}&by=refused&limit=10&from=${from}&to=${to}`);
      if (top.status === 200 && (top.json.clients || []).length > 0) break;
    }
    if (Date.now() - start > 150000) throw new Error('no top clients listed after 150 s of traffic');
  }
  agent.close();
}
after(async () => { await browser?.close(); });

const PAGES = () => [
  ['signin', null, 'Sign in to Sluice'],
  ['overview', '#/', 'Overview'],
  ['rules', '#/rules', 'Rules'],
  ['rule', `#/rules/${rule.id}`, 'pages-per-client'],
  ['rule-edit', `#/rules/${rule.id}/edit`, 'Edit pages-per-client'],
  ['rule-new', '#/rules/new', 'New rule'],
  ['try', '#/try?domain=api', 'Try a descriptor'],
  ['agents', '#/agents', 'Agents'],
  ['tokens', '#/tokens', 'Tokens and agent keys'],
  ['audit', '#/audit', 'Audit'],
  ['config', '#/config', 'Config'],
];

for (const [label, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
  test(`every page at ${viewport.width}×${viewport.height}`, async () => {
    const {context, page, problems} = await open(browser, {viewport, bypassCSP: true});
    for (const [name, hash, heading] of PAGES()) {
      if (name === 'signin') await page.goto(`${API}/`);
      else {
        if (!(await page.getByRole('button', {name: 'Sign out'}).isVisible())) await signIn(page);
        await page.goto(`${API}/${hash}`);
      }
      await page.getByRole('heading', {name: heading, exact: true}).first().waitFor();
      await page.waitForLoadState('networkidle');
      if (SHOTS) {
        fs.mkdirSync(SHOTS, {recursive: true});
        await page.screenshot({path: path.join(SHOTS, `${name}-${label}.png`), fullPage: true});
      }
      const violations = await axe(page);
      assert.deepEqual(violations, [], `${name} at ${label}:\n${violations.join('\n')}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${name} at ${label} is ${overflow}px wider than the window`);
    }
    noProblems(problems);
    await context.close();
  });
}

test('the keyboard alone signs in and reaches a rule', async () => {
  const {context, page, problems} = await open(browser);
  await page.goto(`${API}/`);
  await page.getByLabel('API token').waitFor();
  await page.keyboard.type(process.env.SLUICE_TOKEN);  // the field has focus
  await page.keyboard.press('Enter');
  await page.getByRole('heading', {name: 'Overview'}).waitFor();
  await page.goto(`${API}/#/rules`);
  await page.getByLabel('Search').focus();
  await page.keyboard.type('pages-per');
  await page.keyboard.press('Tab');
  const link = page.getByRole('link', {name: 'pages-per-client', exact: true});
  await link.focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', {name: 'Version history'}).waitFor();
  noProblems(problems);
  await context.close();
});

test('static files: content types, ETag revalidation, gzip, security headers', async () => {
  const first = await fetch(`${API}/js/app.js`, {headers: {'Accept-Encoding': 'gzip'}});
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(first.headers.get('content-encoding'), 'gzip');
  assert.match(first.headers.get('content-security-policy'), /script-src 'self'/);
  assert.equal(first.headers.get('x-content-type-options'), 'nosniff');
  const body = await first.text();  // fetch inflates it
  assert.match(body, /import/);
  const again = await fetch(`${API}/js/app.js`, {headers: {'If-None-Match': first.headers.get('etag')}});
  assert.equal(again.status, 304);
  const css = await fetch(`${API}/css/app.css`);
  assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
});

test('the overview reads the busiest rules in one request', async () => {
  // Checks counted this minute and the one before, written where the
  // controller keeps them (the stack's database).
  // A rule of its own: no other check counts for it.
  const busy = await newRule({name: 'pages-busiest', domain: 'busy', match: {client_id: '*'}, limit: 100, period: '1s'});
  const minute = Math.floor(Date.now() / 60000) * 60000;
  const rows = [[busy.id, minute - 60000, 40, 10], [busy.id, minute, 50, 0]];
  const values = rows.map(([id, t, a, r]) => `(${id}, ${t}, ${a}, ${r}, 0)`).join(', ');
  execFileSync('psql', [process.env.SLUICE_DB, '-v', 'ON_ERROR_STOP=1', '-qc',
    `INSERT INTO usage_minute (rule_id, t_ms, allowed, refused, shadow_refused) VALUES ${values}`]);
  const {context, page, problems} = await open(browser);
  await signIn(page);
  const usage = [];
  page.on('request', request => { if (request.url().includes('/api/v1/usage')) usage.push(new URL(request.url()).pathname + new URL(request.url()).search); });
  await page.goto(`${API}/#/?r=1`);
  const busiest = page.getByRole('table', {name: 'Busiest rules, last 15 minutes'});
  await busiest.waitFor();
  const row = busiest.getByRole('row', {name: /pages-busiest/});
  assert.match(await row.textContent(), /100.*10(\.0)?\s*%/);
  await row.getByRole('img', {name: 'refusals of pages-busiest per minute'}).waitFor();
  assert.equal(usage.filter(u => u.startsWith('/api/v1/usage/rules?')).length, 1, usage.join('\n'));
  assert.deepEqual(usage.filter(u => /[?&]rule=/.test(u)), [], 'no request per rule');
  noProblems(problems);
  await context.close();
});
