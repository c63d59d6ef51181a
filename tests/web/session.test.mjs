// Sign-in and sign-out, the cookie's properties, sessions ended by
// revocation, a viewer without edit controls, and a page on another origin
// that cannot change anything with the cookie; the same over HTTPS, where
// the cookie is also Secure.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {API, ADMIN, ORIGIN, launch, open, signIn, api, newToken, newRule, noProblems} from './harness.mjs';
import {startTlsController, httpsRequest} from './tls.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a wrong token is refused next to the field; the right one signs in and out', async () => {
  const {context, page, problems} = await open(browser);
  await page.goto(`${API}/`);
  await page.getByLabel('API token').fill('not-a-token');
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.getByText('This token is unknown or revoked.').waitFor();
  assert.equal(await page.getByLabel('API token').getAttribute('aria-invalid'), 'true');

  await signIn(page);
  await page.getByRole('heading', {name: 'Overview'}).waitFor();
  const cookies = await context.cookies();
  const session = cookies.find(c => c.name === 'sluice_session');
  assert.ok(session, JSON.stringify(cookies));
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie), '', 'no script can read the session');
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0, 'nothing kept in storage');

  await page.getByRole('button', {name: 'Sign out'}).click();
  await page.getByLabel('API token').waitFor();
  const reused = await fetch(`${API}/api/v1/session`, {headers: {Cookie: `sluice_session=${session.value}`}});
  assert.equal(reused.status, 401, 'the signed-out session no longer works');
  noProblems(problems);
  await context.close();
});

test('revoking the token ends its dashboard session', async () => {
  const token = await newToken('web-revoked', 'editor');
  const {context, page, problems} = await open(browser);
  await signIn(page, token.token);
  assert.equal((await api('DELETE', `/api/v1/tokens/${token.id}`)).status, 204);
  // The next request ends it: going to another page, or the Overview's own
  // refresh (every 5 s), whichever comes first, so no link is clicked here.
  await page.goto(`${API}/#/rules`);
  await page.getByLabel('API token').waitFor();
  await page.getByText('Your session has ended').waitFor();
  noProblems(problems);
  await context.close();
});

test('a viewer sees no edit controls, and the API refuses edits anyway', async () => {
  const rule = await newRule({name: 'web-viewer-sees', match: {route: '/viewer'}});
  const token = await newToken('web-viewer', 'viewer');
  const {context, page, problems} = await open(browser);
  await signIn(page, token.token);
  await page.getByRole('link', {name: 'Rules'}).click();
  await page.getByRole('link', {name: rule.name}).waitFor();
  assert.equal(await page.getByRole('link', {name: 'New rule'}).count(), 0);
  assert.equal(await page.getByRole('button', {name: /Delete/}).count(), 0);
  assert.equal(await page.getByRole('link', {name: /^Edit/}).count(), 0);
  assert.equal(await page.getByRole('button', {name: /switch to/}).count(), 0);
  assert.equal(await page.getByRole('link', {name: 'Tokens and keys'}).count(), 0);
  await page.getByRole('link', {name: rule.name}).click();
  await page.getByRole('heading', {name: 'Version history'}).waitFor();
  assert.equal(await page.getByRole('button', {name: 'Restore this version'}).count(), 0);
  // The cookie itself cannot edit: the API says 403.
  const status = await page.evaluate(async id => (await fetch(`/api/v1/rules/${id}`, {
    method: 'DELETE', headers: {'X-Sluice-CSRF': '1'}})).status, rule.id);
  assert.equal(status, 403);
  noProblems(problems);
  await context.close();
});

test('a page on another origin cannot change anything with the cookie', async () => {
  // Another origin on the same host (another port): same-site for
  // SameSite's purposes, so the browser does send the cookie; the
  // controller must refuse it for want of X-Sluice-CSRF and by Origin.
  const evil = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.end(`<!doctype html><title>evil</title>
<form id="f" method="POST" action="${API}/api/v1/rules" enctype="text/plain">
<input name='{"name":"evil","domain":"x","match":{},"limit":1,"period":"1s","pad":"' value='"}'></form>
<script>
fetch(${JSON.stringify(API)} + '/api/v1/tokens', {method: 'POST', credentials: 'include', mode: 'no-cors',
  headers: {'Content-Type': 'text/plain'}, body: '{"name":"evil","role":"admin"}'})
  .finally(() => document.getElementById('f').submit());
</script>`);
  });
  await new Promise(resolve => evil.listen(0, '127.0.0.1', resolve));
  const evilUrl = `http://127.0.0.1:${evil.address().port}/`;
  const {context, page} = await open(browser);
  await signIn(page);
  const attack = await context.newPage();
  const answers = [];
  attack.on('response', r => { if (r.url().startsWith(ORIGIN + '/api/')) answers.push(r.status()); });
  await attack.goto(evilUrl);
  await attack.waitForURL(`${API}/api/v1/rules`);
  assert.match(await attack.content(), /csrf/);
  assert.ok(answers.length >= 1 && answers.every(s => s === 403), `answers: ${answers}`);
  const rules = (await api('GET', '/api/v1/rules')).json.rules;
  assert.equal(rules.filter(r => r.name === 'evil').length, 0);
  const tokens = (await api('GET', '/api/v1/tokens')).json.tokens;
  assert.equal(tokens.filter(t => t.name === 'evil').length, 0);
  await context.close();
  await new Promise(resolve => evil.close(resolve));
});

test('over HTTPS the cookie is Secure, HttpOnly and SameSite=Strict, and the dashboard works', async () => {
  const rule = await newRule({name: 'web-over-https', match: {route: '/https'}});
  const tls = await startTlsController({token: ADMIN});
  try {
    const signedIn = await httpsRequest(`${tls.url}/api/v1/session`, {method: 'POST', ca: tls.ca,
      headers: {'Content-Type': 'application/json', 'X-Sluice-CSRF': '1', Origin: tls.url}, body: JSON.stringify({token: ADMIN})});
    assert.equal(signedIn.status, 204, signedIn.body);
    const attributes = String(signedIn.headers['set-cookie']).split(';').map(a => a.trim());
    for (const a of ['Secure', 'HttpOnly', 'SameSite=Strict']) assert.ok(attributes.includes(a), `${a} in ${attributes.join('; ')}`);

    const {context, page, problems} = await open(browser, {origin: tls.url, ignoreHTTPSErrors: true});
    await signIn(page, ADMIN, tls.url);
    const session = (await context.cookies()).find(c => c.name === 'sluice_session');
    assert.ok(session, 'the session cookie is set over HTTPS');
    assert.deepEqual([session.secure, session.httpOnly, session.sameSite], [true, true, 'Strict']);
    await page.getByRole('link', {name: 'Rules'}).click();
    await page.getByRole('link', {name: rule.name, exact: true}).click();
    await page.getByRole('heading', {name: 'Version history'}).waitFor();
    await page.getByRole('button', {name: 'Sign out'}).click();
    await page.getByLabel('API token').waitFor();
    assert.equal((await context.cookies()).filter(c => c.name === 'sluice_session' && c.value).length, 0, 'signing out clears the cookie');
    noProblems(problems);
    await context.close();
  } finally {
    await tls.stop();
  }
});
