// Every page at 1280×800 and 390×844: it renders, axe-core finds no serious
// or critical violation, nothing overflows sideways, nothing is requested
// from another origin. With SLUICE_SCREENSHOTS=DIR each page is also saved
// there (docs/screenshots/ is made this way).
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
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
});
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
