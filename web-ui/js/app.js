// The dashboard's shell: who is signed in, the navigation (by role), and
// the router (#/path), which hands each page the <main> element to fill.
import {api, get, whenSignedOut} from './api.js';
import {h, clear, toast} from './dom.js';
import {signInPage} from './pages/signin.js';
import {overviewPage} from './pages/overview.js';
import {rulesPage} from './pages/rules.js';
import {ruleFormPage} from './pages/rule_form.js';
import {rulePage} from './pages/rule.js';
import {tryPage} from './pages/try.js';

import {agentsPage} from './pages/agents.js';
import {tokensPage} from './pages/tokens.js';
import {auditPage} from './pages/audit.js';
import {configPage} from './pages/config.js';

const ROLES = {viewer: 1, editor: 2, admin: 3};
export const session = {name: '', role: ''};
export const can = role => (ROLES[session.role] || 0) >= ROLES[role];

const NAV = [
  ['#/', 'Overview', 'viewer'], ['#/rules', 'Rules', 'viewer'], ['#/try', 'Try a descriptor', 'viewer'],
  ['#/agents', 'Agents', 'viewer'], ['#/tokens', 'Tokens and keys', 'admin'],
  ['#/audit', 'Audit', 'viewer'], ['#/config', 'Config', 'viewer'],
];

const ROUTES = [
  [/^\/$/, overviewPage], [/^\/rules$/, rulesPage], [/^\/rules\/new$/, ruleFormPage],
  [/^\/rules\/(\d+)\/edit$/, ruleFormPage], [/^\/rules\/(\d+)$/, rulePage],
  [/^\/try$/, tryPage], [/^\/agents$/, agentsPage], [/^\/tokens$/, tokensPage],
  [/^\/audit$/, auditPage], [/^\/config$/, configPage],
];

let stopPage = null;  // a page's cleanup (timers)
let generation = 0;   // which route() is current

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query] = raw.split('?');
  return {path, params: new URLSearchParams(query || '')};
}

function renderNav(path) {
  const nav = clear(document.getElementById('nav'));
  const list = h('ul', {});
  for (const [href, label, role] of NAV) {
    if (!can(role)) continue;
    const target = href.slice(1);
    const current = target === '/' ? path === '/' : path.startsWith(target);
    list.append(h('li', {}, h('a', {href, 'aria-current': current ? 'page' : null}, label)));
  }
  nav.append(list);
  document.getElementById('who').textContent = `${session.name} (${session.role})`;
}

async function route() {
  const current = ++generation;
  if (stopPage) { stopPage(); stopPage = null; }
  // Each page fills a container of its own: a page still loading when the
  // next route starts writes into a detached node, never into the new page.
  const root = clear(document.getElementById('main'));
  const main = h('div', {class: 'view'});
  root.append(main);
  const {path, params} = parseHash();
  if (!session.role) {
    document.getElementById('top').hidden = true;
    document.title = 'Sign in · Sluice';
    signInPage(main, start);
    return;
  }
  document.getElementById('top').hidden = false;
  renderNav(path);
  for (const [pattern, page] of ROUTES) {
    const m = path.match(pattern);
    if (!m) continue;
    let stop = null;
    try {
      stop = (await page(main, {id: m[1] ? Number(m[1]) : null, params, session, can})) || null;
    } catch (e) {
      main.append(h('p', {class: 'error', role: 'alert'}, `Could not load this page: ${e.message}`));
    }
    if (current !== generation) { if (stop) stop(); return; }
    stopPage = stop;
    if (!main.contains(document.activeElement)) root.focus({preventScroll: true});
    return;
  }
  main.append(h('h1', {}, 'Not found'), h('p', {}, 'No page here. ', h('a', {href: '#/'}, 'Go to the overview')));
}

async function start() {
  try {
    const {json} = await get('/api/v1/session');
    session.name = json.name;
    session.role = json.role;
  } catch (e) {
    session.name = session.role = '';
  }
  await route();
}

whenSignedOut(() => {
  if (!session.role) return;
  session.name = session.role = '';
  toast('Your session has ended; sign in again.');
  route();
});

document.getElementById('signout').addEventListener('click', async () => {
  try { await api('DELETE', '/api/v1/session'); } catch (e) { /* ended already */ }
  session.name = session.role = '';
  location.hash = '#/';
  route();
});
window.addEventListener('hashchange', route);
start();
