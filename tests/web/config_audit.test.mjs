// The Config and Audit pages: the rule set downloaded as YAML (and JSON),
// changed, uploaded, dry-run with its diff shown, applied and seen on the
// Rules page; an invalid YAML's error shown by the document with its line;
// the audit log filtered by actor and by kind (in the URL, across reloads),
// only matching entries, paged forwards and back. axe-core on each state.
// With SLUICE_SCREENSHOTS=DIR the states are saved there too.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {API, launch, open, signIn, api, newRule, newToken, axe, noProblems} from './harness.mjs';

const SHOTS = process.env.SLUICE_SCREENSHOTS || '';
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-web-config-'));
let browser, context, page, problems;
before(async () => {
  browser = await launch();
  ({context, page, problems} = await open(browser, {bypassCSP: true}));
  await signIn(page);
  await newRule({name: 'cfg-search', domain: 'cfg', match: {route: '/search', client_id: '*'}, limit: 10, period: '1s'});
  await newRule({name: 'cfg-login', domain: 'cfg', match: {user: '*'}, limit: 3, period: '1m'});
});
after(async () => {
  noProblems(problems);
  await browser?.close();
  fs.rmSync(TMP, {recursive: true, force: true});
});

async function shot(name) {
  if (!SHOTS) return;
  await page.waitForFunction(() => !document.getElementById('toast').classList.contains('show'));
  fs.mkdirSync(SHOTS, {recursive: true});
  await page.screenshot({path: path.join(SHOTS, `${name}.png`), fullPage: true});
}

async function noViolations(what) {
  const violations = await axe(page);
  assert.deepEqual(violations, [], `${what}:\n${violations.join('\n')}`);
}

async function download(name) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', {name}).click()]);
  return fs.readFileSync(await file.path(), 'utf8');
}

test('the config is downloaded as YAML, changed, uploaded, dry-run, applied, and shown on the Rules page', async () => {
  await page.goto(`${API}/#/config`);
  const yaml = await download('Download YAML');
  assert.match(yaml, /^rules:\n/);
  assert.match(yaml, /  - name: cfg-search\n/);
  assert.match(yaml, /client_id: "\*"/);
  const json = JSON.parse(await download('Download JSON'));
  assert.deepEqual(json.rules.map(r => r.name).sort(), (await api('GET', '/api/v1/config')).json.rules.map(r => r.name).sort());

  // cfg-search: limit and burst 10 -> 55; nothing else changes.
  const changed = yaml.replace(/(- name: cfg-search\n(?: {4}.*\n)*?) {4}burst: 10\n((?: {4}.*\n)*?) {4}limit: 10\n/,
    '$1    burst: 55\n$2    limit: 55\n');
  assert.notEqual(changed, yaml, 'the YAML was changed');
  const file = path.join(TMP, 'rules.yaml');
  fs.writeFileSync(file, changed);
  await page.getByLabel('Upload a file').setInputFiles(file);
  await page.getByText('Detected YAML').waitFor();
  assert.equal(await page.getByLabel('Document').inputValue(), changed);
  await page.getByRole('button', {name: 'Dry run'}).click();
  const updated = page.locator('.change.updated');
  await page.getByRole('heading', {name: 'Updated (1)'}).waitFor();
  assert.equal((await updated.locator('li').allTextContents()).join(), 'cfg-search');
  await page.getByRole('heading', {name: 'Created (0)'}).waitFor();
  await page.getByRole('heading', {name: 'Deleted (0)'}).waitFor();
  assert.ok((await page.locator('.change.unchanged li').allTextContents()).includes('cfg-login'));
  const before = (await api('GET', '/api/v1/rules')).json.rules.find(r => r.name === 'cfg-search');
  assert.equal(before.limit, 10, 'a dry run changes nothing');
  await noViolations('config with a dry run');
  await shot('config-dry-run-desktop');

  await page.getByRole('button', {name: 'Apply these changes'}).click();
  await page.getByText(/Applied: revision/).waitFor();
  const now = (await api('GET', '/api/v1/rules')).json.rules.find(r => r.name === 'cfg-search');
  assert.deepEqual([now.limit, now.burst, now.version], [55, 55, 2]);
  await page.goto(`${API}/#/rules`);
  const row = page.getByRole('row').filter({hasText: 'cfg-search'});
  await row.waitFor();
  assert.match(await row.textContent(), /55 \/ 1s/);
});

test('an invalid YAML shows the error next to the document, with its line', async () => {
  await page.goto(`${API}/#/config`);
  await page.getByLabel('Document').fill('rules:\n  - name: broken\n    limit: 5\n   period: 1s\n');
  await page.getByText('Detected YAML').waitFor();
  await page.getByRole('button', {name: 'Dry run'}).click();
  const error = page.locator('.field[data-field="document"] .field-error');
  await error.waitFor();
  assert.match(await error.textContent(), /line 4, column \d+: .*expected/);
  assert.equal(await page.getByLabel('Document').getAttribute('aria-invalid'), 'true');
  assert.equal((await api('GET', '/api/v1/rules')).json.rules.filter(r => r.name === 'broken').length, 0);
  await noViolations('config with a YAML error');
  await shot('config-yaml-error-desktop');
});

test('the audit log filtered by actor and by kind shows only matching entries, pages, and survives a reload', async () => {
  const actor = `auditor-${Date.now()}`;
  const {token} = await newToken(actor, 'editor');
  for (let i = 0; i < 23; i++) {
    const made = await api('POST', '/api/v1/rules', {name: `${actor}-${i}`, domain: 'audit', match: {n: String(i)}, limit: 5, period: '1s'}, {token});
    assert.equal(made.status, 201, JSON.stringify(made.json));
  }
  await page.goto(`${API}/#/audit`);
  await page.getByLabel('Actor').fill(actor);
  await page.getByLabel('Resource kind').selectOption('rule');
  await page.getByLabel('Per page').selectOption('20');
  await page.getByRole('button', {name: 'Filter'}).click();
  const entries = page.locator('ol.audit > li');
  await page.waitForFunction(() => document.querySelectorAll('ol.audit > li').length === 20);
  const hash = new URLSearchParams(new URL(page.url()).hash.split('?')[1]);
  assert.deepEqual([hash.get('actor'), hash.get('kind'), hash.get('size')], [actor, 'rule', '20']);
  for (const text of await entries.locator('summary').allTextContents()) {
    assert.match(text, new RegExp(`${actor} rule\\.create rule ${actor}-\\d+`));
  }
  await noViolations('the filtered audit log');
  await shot('audit-filtered-desktop');

  await page.getByRole('link', {name: 'Next page'}).click();
  await page.waitForFunction(() => document.querySelectorAll('ol.audit > li').length === 3);
  assert.match(await entries.last().locator('summary').textContent(), new RegExp(`${actor}-22`));
  assert.equal(await page.getByRole('link', {name: 'Next page'}).count(), 0);
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('ol.audit > li').length === 3);
  assert.equal(await page.getByLabel('Actor').inputValue(), actor, 'the filter is kept in the URL');
  assert.equal(await page.getByLabel('Resource kind').inputValue(), 'rule');
  await page.getByRole('link', {name: 'Previous page'}).click();
  await page.waitForFunction(() => document.querySelectorAll('ol.audit > li').length === 20);
  assert.match(await entries.first().locator('summary').textContent(), new RegExp(`${actor}-0$`));
  await entries.first().locator('summary').click();
  await entries.first().locator('table.diff tr.changed').first().waitFor();

  // By kind: the token it was made with, by the admin; nothing else.
  const admin = (await api('GET', '/api/v1/session')).json.name;
  await page.goto(`${API}/#/audit?actor=${encodeURIComponent(admin)}&kind=token`);
  await entries.first().waitFor();
  const summaries = await entries.locator('summary').allTextContents();
  assert.ok(summaries.some(t => t.includes(`token.create token ${actor}`)), summaries.join('\n'));
  for (const text of summaries) assert.match(text, new RegExp(`${admin} token\\.\\w+ token `));
  assert.equal(await page.getByLabel('Resource kind').inputValue(), 'token');
});

test('a bad filter value shows the API\'s error', async () => {
  await page.goto(`${API}/#/audit?until=not-a-time`);
  const alert = page.getByRole('alert').filter({hasText: 'until'});
  await alert.waitFor();
  assert.match(await alert.textContent(), /RFC 3339/);
});
