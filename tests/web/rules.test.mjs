// Editing through the dashboard: a rule created with a mistake shows the
// error by its field; one click switches mode; a stale edit takes the 412
// path without losing what was typed; the audit log shows each change; an
// old version is restored; the config is dry-run then applied.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {API, launch, open, signIn, api, newRule, noProblems} from './harness.mjs';

let browser, context, page, problems;
before(async () => {
  browser = await launch();
  ({context, page, problems} = await open(browser));
  await signIn(page);
});
after(async () => { noProblems(problems); await browser?.close(); });

test('a mistake is shown next to its field, then fixed', async () => {
  await page.goto(`${API}/#/rules/new`);
  await page.getByLabel('Name', {exact: true}).fill('web-search');
  await page.getByLabel('Domain').fill('web');
  await page.getByLabel('Match').fill('route=/search\nclient_id=*');
  await page.getByLabel('Limit').fill('100');
  await page.getByLabel('Period').fill('5 parsecs');
  await page.getByRole('button', {name: 'Create rule'}).click();
  const periodError = page.locator('.field[data-field="period"] .field-error');
  await periodError.waitFor();
  assert.match(await periodError.textContent(), /period/);
  assert.equal(await page.getByLabel('Period').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.getByLabel('Name', {exact: true}).inputValue(), 'web-search', 'what was typed is kept');
  await page.getByLabel('Period').fill('1m');
  await page.getByRole('button', {name: 'Create rule'}).click();
  await page.getByRole('heading', {name: 'web-search'}).waitFor();
  const rules = (await api('GET', '/api/v1/rules')).json.rules;
  const made = rules.find(r => r.name === 'web-search');
  assert.deepEqual([made.period, made.limit, made.match], ['1m', 100, {client_id: '*', route: '/search'}]);
});

test('enforce/shadow in one click', async () => {
  const rule = await newRule({name: 'web-toggle', match: {route: '/toggle'}});
  await page.goto(`${API}/#/rules`);
  await page.getByRole('button', {name: 'web-toggle: mode enforce, switch to shadow'}).click();
  await page.getByRole('button', {name: 'web-toggle: mode shadow, switch to enforce'}).waitFor();
  assert.equal((await api('GET', `/api/v1/rules/${rule.id}`)).json.mode, 'shadow');
  await page.getByRole('button', {name: 'web-toggle: enabled, disable it'}).click();
  await page.getByRole('button', {name: 'web-toggle: disabled, enable it'}).waitFor();
  assert.equal((await api('GET', `/api/v1/rules/${rule.id}`)).json.enabled, false);
});

test('a stale edit gets the 412 path and keeps what was typed', async () => {
  const rule = await newRule({name: 'web-stale', match: {route: '/stale'}, limit: 10});
  await page.goto(`${API}/#/rules/${rule.id}/edit`);
  await page.getByLabel('Limit').fill('77');
  // Someone else saves meanwhile.
  const theirs = {...rule, limit: 55};
  delete theirs.id; delete theirs.version;
  assert.equal((await api('PUT', `/api/v1/rules/${rule.id}`, theirs)).status, 200);
  await page.getByRole('button', {name: 'Save'}).click();
  await page.getByText('Someone else changed this rule').waitFor();
  assert.equal(await page.getByLabel('Limit').inputValue(), '77', 'the typed value is still there');
  assert.equal((await api('GET', `/api/v1/rules/${rule.id}`)).json.limit, 55, 'nothing was overwritten silently');
  await page.getByRole('button', {name: 'Save mine over it'}).click();
  await page.getByRole('heading', {name: 'web-stale'}).waitFor();
  const now = (await api('GET', `/api/v1/rules/${rule.id}`)).json;
  assert.equal(now.limit, 77);
  assert.equal(now.version, 3);
});

test('an old version is restored from the history', async () => {
  const rule = await newRule({name: 'web-restore', match: {route: '/restore'}, limit: 5});
  const changed = {...rule, limit: 500};
  delete changed.id; delete changed.version;
  assert.equal((await api('PUT', `/api/v1/rules/${rule.id}`, changed)).status, 200);
  await page.goto(`${API}/#/rules/${rule.id}`);
  await page.getByRole('heading', {name: 'Version history'}).waitFor();
  await page.getByText('Version 1', {exact: true}).click();
  await page.getByRole('button', {name: 'Restore this version'}).click();
  await page.getByRole('dialog').getByRole('button', {name: 'Restore'}).click();
  await page.getByText('Restored version 1.').waitFor();
  await page.waitForFunction(async id => (await (await fetch(`/api/v1/rules/${id}`)).json()).limit === 5, rule.id);
  const history = (await api('GET', `/api/v1/rules/${rule.id}/history`)).json.versions;
  assert.equal(history.length, 3);
});

test('the audit log shows each change with its diff', async () => {
  await page.goto(`${API}/#/audit?resource=web-stale`);
  const entries = page.locator('ol.audit > li');
  await entries.first().waitFor();
  const text = await page.locator('ol.audit').textContent();
  assert.match(text, /create/);
  assert.match(text, /update/);
  assert.ok(await entries.count() >= 3, `entries: ${await entries.count()}`);
  await entries.last().locator('summary').click();
  await entries.last().locator('table.diff tr.changed').first().waitFor();
});

test('a config is dry-run, its diff shown, then applied', async () => {
  const current = (await api('GET', '/api/v1/config')).json;
  const next = {rules: [...current.rules.filter(r => r.name !== 'web-toggle'),
    {name: 'web-from-config', domain: 'web', match: {route: '/cfg'}, limit: 3, period: '1s'}]};
  await page.goto(`${API}/#/config`);
  await page.getByLabel('Document').fill(JSON.stringify(next));
  await page.getByRole('button', {name: 'Dry run'}).click();
  await page.getByRole('heading', {name: 'Created (1)'}).waitFor();
  await page.getByRole('heading', {name: 'Deleted (1)'}).waitFor();
  assert.equal((await api('GET', '/api/v1/rules')).json.rules.filter(r => r.name === 'web-from-config').length, 0, 'a dry run changes nothing');
  await page.getByRole('button', {name: 'Apply these changes'}).click();
  await page.getByText(/Applied: revision/).waitFor();
  const names = (await api('GET', '/api/v1/rules')).json.rules.map(r => r.name);
  assert.ok(names.includes('web-from-config'));
  assert.ok(!names.includes('web-toggle'));
});

test('trying a descriptor shows the rules that apply and the most restrictive', async () => {
  const wide = await newRule({name: 'try-per-client', domain: 'trydomain', match: {client_id: '*'}, limit: 100, period: '1s', burst: 100});
  const tight = await newRule({name: 'try-route', domain: 'trydomain', match: {route: '/search'}, limit: 5, period: '1s'});
  await newRule({name: 'try-other-route', domain: 'trydomain', match: {route: '/other'}, limit: 1, period: '1s'});
  await page.goto(`${API}/#/try`);
  await page.getByLabel('Domain').fill('trydomain');
  await page.getByRole('button', {name: 'Try it'}).click();
  await page.getByRole('heading', {name: '2 rules apply'}).waitFor();
  const rows = page.locator('table tbody tr');
  const text = await page.locator('table').textContent();
  assert.match(text, /try-per-client/);
  assert.match(text, /client_id=42/);
  assert.doesNotMatch(text, /try-other-route/);
  const strict = await rows.filter({hasText: 'most restrictive'}).textContent();
  assert.match(strict, /try-route/);
  assert.ok(wide.id && tight.id);
});

test('an admin creates a token, sees its secret once, and revokes it after confirming', async () => {
  const name = `web-token-${Date.now()}`;
  await page.goto(`${API}/#/tokens`);
  const tokens = page.locator('section', {has: page.getByRole('heading', {name: 'API tokens'})});
  await tokens.getByLabel('Name', {exact: true}).fill(name);
  await tokens.getByLabel('Role').selectOption('editor');
  await page.getByRole('button', {name: 'Create token'}).click();
  const secret = page.getByLabel(`Token “${name}”`);
  await secret.waitFor();
  const value = await secret.inputValue();
  const who = await api('GET', '/api/v1/session', undefined, {token: value});
  assert.deepEqual(who.json, {name, role: 'editor'}, 'the secret shown is the token');
  await page.getByRole('button', {name: 'Copy'}).waitFor();
  await page.goto(`${API}/#/audit`);
  await page.goto(`${API}/#/tokens`);
  await page.getByRole('button', {name: `Revoke ${name}`}).waitFor();
  assert.equal(await page.getByLabel(`Token “${name}”`).count(), 0, 'the secret is not shown again');
  await page.getByRole('button', {name: `Revoke ${name}`}).click();
  await page.getByRole('dialog').getByRole('button', {name: 'Cancel'}).click();
  assert.equal((await api('GET', '/api/v1/session', undefined, {token: value})).status, 200, 'cancel keeps it');
  await page.getByRole('button', {name: `Revoke ${name}`}).click();
  await page.getByRole('dialog').getByRole('button', {name: 'Revoke'}).click();
  await page.getByText(`Revoked ${name}.`).waitFor();
  assert.equal((await api('GET', '/api/v1/session', undefined, {token: value})).status, 401);
});

test('the rules list shows 100 rules a page; search, filters and sorting cover every page', async () => {
  for (let i = 0; i < 130; i++) {
    await newRule({name: `paged-${String(i).padStart(3, '0')}`, domain: 'paged', match: {route: `/p${i}`}});
  }
  const body = page.locator('table tbody');
  const names = async () => (await body.locator('tr td:first-child').allTextContents());
  await page.goto(`${API}/#/rules`);
  await page.getByLabel('Domain').selectOption('paged');
  await page.getByText('130 of', {exact: false}).waitFor();
  assert.match(await page.getByText(/130 of \d+ rules/).textContent(), /showing 1–100/);
  let shown = await names();
  assert.equal(shown.length, 100);
  assert.deepEqual([shown[0], shown[99]], ['paged-000', 'paged-099']);
  await page.getByRole('button', {name: 'Next page'}).click();
  await page.getByText('Page 2 of 2').waitFor();
  shown = await names();
  assert.deepEqual([shown.length, shown[0], shown[29]], [30, 'paged-100', 'paged-129']);
  assert.ok(await page.getByRole('button', {name: 'Next page'}).isDisabled());
  // A search finds rules on any page, and starts again at the first page.
  await page.getByLabel('Search').fill('paged-12');
  await page.getByText(/^10 of \d+ rules$/).waitFor();
  assert.deepEqual(await names(), Array.from({length: 10}, (_, i) => `paged-12${i}`));
  assert.equal(await page.getByRole('button', {name: 'Next page'}).count(), 0, 'one page needs no pager');
  // Sorting applies to the whole list, not to the page in hand.
  await page.getByLabel('Search').fill('');
  await page.getByRole('button', {name: /^Name/}).click();
  await page.getByRole('columnheader', {name: /Name/}).and(page.locator('[aria-sort=descending]')).waitFor();
  shown = await names();
  assert.deepEqual([shown.length, shown[0], shown[99]], [100, 'paged-129', 'paged-030']);
  await page.getByRole('button', {name: 'Next page'}).click();
  await page.getByText('Page 2 of 2').waitFor();
  assert.equal((await names()).at(-1), 'paged-000');
});
