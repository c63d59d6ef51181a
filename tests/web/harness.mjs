// What every dashboard test shares: Debian's Chromium through
// playwright-core (never a downloaded browser), the stack that
// tests/examples/run_with_stack.py started (SLUICE_API, SLUICE_TOKEN), the
// REST API with a bearer token, sign-in, and the guards every page is held
// to: nothing requested from another origin, no console error (a CSP
// violation is one).
import {createRequire} from 'node:module';
import assert from 'node:assert/strict';
import fs from 'node:fs';

const require = createRequire(import.meta.url);
let chromium;
try {
  ({chromium} = require('playwright-core'));
} catch (e) {
  throw new Error('playwright-core is not installed: run `npm ci --prefix tests/web` (deploy/test.sh does)');
}
export const AXE_PATH = require.resolve('axe-core/axe.min.js');

export const API = process.env.SLUICE_API;
export const ADMIN = process.env.SLUICE_TOKEN;
if (!API || !ADMIN) throw new Error('SLUICE_API and SLUICE_TOKEN are not set: run through tests/examples/run_with_stack.py (ctest does)');
export const ORIGIN = new URL(API).origin;
export const DESKTOP = {width: 1280, height: 800};
export const PHONE = {width: 390, height: 844};
const CHROMIUM = process.env.SLUICE_CHROMIUM || '/usr/bin/chromium';

export async function launch() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install chromium (deploy/lib.sh installs it)`);
  const args = process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [];
  return chromium.launch({executablePath: CHROMIUM, args, headless: true});
}

// A page with the guards on; `problems` collects what they catch. `origin`
// is the only one the page may ask (another controller's, e.g. over HTTPS,
// whose self-signed certificate ignoreHTTPSErrors accepts in this context).
export async function open(browser, {viewport = DESKTOP, bypassCSP = false, origin = ORIGIN, ignoreHTTPSErrors = false} = {}) {
  const context = await browser.newContext({viewport, bypassCSP, ignoreHTTPSErrors});
  const page = await context.newPage();
  const problems = [];
  page.on('request', request => {
    const url = request.url();
    if (url.startsWith('data:') || url.startsWith('blob:')) return;
    if (new URL(url).origin !== origin) problems.push(`request to another origin: ${url}`);
  });
  page.on('console', msg => { if (msg.type() === 'error' && !/status of 4\d\d/.test(msg.text())) problems.push(`console: ${msg.text()}`); });
  page.on('pageerror', error => problems.push(`page error: ${error.message}`));
  return {context, page, problems};
}

export async function signIn(page, token = ADMIN, base = API) {
  await page.goto(`${base}/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.getByRole('button', {name: 'Sign out'}).waitFor();
}

// The REST API with a bearer token.
export async function api(method, path, body, {token = ADMIN, headers = {}} = {}) {
  const response = await fetch(`${API}${path}`, {
    method, headers: {Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {status: response.status, json: text ? JSON.parse(text) : null, headers: response.headers};
}

export async function newToken(name, role) {
  const created = await api('POST', '/api/v1/tokens', {name, role});
  assert.equal(created.status, 201, JSON.stringify(created.json));
  return created.json;
}

export async function newRule(fields) {
  const rule = {domain: 'web', match: {route: '/x'}, limit: 10, period: '1s', ...fields};
  const created = await api('POST', '/api/v1/rules', rule);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  return created.json;
}

export function noProblems(problems) {
  assert.deepEqual(problems, [], problems.join('\n'));
}

// axe-core in the page (the context must bypass the CSP to inject it):
// the serious and critical violations.
export async function axe(page) {
  await page.addScriptTag({path: AXE_PATH});
  const results = await page.evaluate(async () => await window.axe.run(document, {resultTypes: ['violations']}));
  return results.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map(n => n.target.join(' ')).join(', ')}`);
}
