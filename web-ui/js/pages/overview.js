// Overview: fleet allowed vs refused per second (last 15 min, refreshed
// every 5 s), the busiest rules, agents connected, health.
import {get} from '../api.js';
import {h, clear, emptyState} from '../dom.js';
import {lineChart, sparkline} from '../chart.js';
import {perSecond, percent, compact} from '../format.js';

const WINDOW_MS = 15 * 60 * 1000;
const STEP = '10s';
const BUSIEST = 8;  // rules shown as the busiest

export function usageUnavailable(e) {
  return e.status === 404
    ? 'Usage analytics are not served by this controller version.'
    : `Usage could not be read: ${e.message}`;
}

// "1,234 allowed · 56 refused" over the points (and the shadow rules'
// would-be refusals when there were any), as exact counts.
export function totals(json, where) {
  const points = json.points || [];
  const sum = key => points.reduce((a, p) => a + (p[key] || 0), 0);
  const shadow = sum('shadow_refused');
  return h('p', {class: 'totals'}, h('span', {class: 'allowed-text'}, `${sum('allowed').toLocaleString('en')} allowed`), ' · ',
    h('span', {class: 'refused-text'}, `${sum('refused').toLocaleString('en')} refused`),
    shadow ? ` · ${shadow.toLocaleString('en')} would have been refused (shadow)` : '', ` ${where}`);
}

export function rates(json) {
  const step = (json.step_ms || 1000) / 1000;
  const points = json.points || [];
  return {
    allowed: points.map(p => ({t: p.t, v: p.allowed / step})),
    refused: points.map(p => ({t: p.t, v: (p.refused + (p.shadow_refused || 0)) / step})),
  };
}

async function fleet(box) {
  const to = Date.now();
  try {
    const {json} = await get(`/api/v1/usage?from=${to - WINDOW_MS}&to=${to}&step=${STEP}`);
    const r = rates(json);
    // The last point is the current, partial step: the rate now is the
    // last complete one's.
    const done = Math.max(0, r.allowed.length - 2);
    const last = r.allowed.length ? r.allowed[done].v : 0;
    const lastRefused = r.refused.length ? r.refused[done].v : 0;
    clear(box).append(
      h('p', {class: 'big'}, h('span', {class: 'allowed-text'}, `${perSecond(last)} allowed`), ' · ',
        h('span', {class: 'refused-text'}, `${perSecond(lastRefused)} refused`)),
      totals(json, 'in the last 15 minutes'),
      r.allowed.length
        ? lineChart([{name: 'allowed per second', cls: 'allowed', values: r.allowed},
                     {name: 'refused per second', cls: 'refused', values: r.refused}],
                    {title: 'Fleet decisions per second, last 15 minutes', unit: '/s'})
        : emptyState('No decisions in the last 15 minutes. Send checks to an agent (RL.CHECK, see the README) and they appear here within seconds.'));
  } catch (e) {
    clear(box).append(emptyState(usageUnavailable(e)));
  }
}

// One request for every rule's usage (GET /api/v1/usage/rules): the
// busiest rules first, each with its totals and a series per minute.
async function busiest(box) {
  const to = Date.now();
  try {
    const {json} = await get(`/api/v1/usage/rules?from=${to - WINDOW_MS}&to=${to}&step=1m&limit=${BUSIEST}`);
    const top = (json.rules || []).map(r => {
      const refused = r.refused + (r.shadow_refused || 0);
      const spark = r.series.refused.map((v, i) => v + (r.series.shadow_refused ? r.series.shadow_refused[i] : 0));
      return {id: r.rule, name: r.name, allowed: r.allowed, refused, spark};
    }).filter(r => r.allowed + r.refused > 0);
    if (!top.length) {
      clear(box).append(emptyState('No rule has seen a check in the last 15 minutes.'));
      return;
    }
    clear(box).append(h('table', {},
      h('caption', {class: 'sr-only'}, 'Busiest rules, last 15 minutes'),
      h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Rule'), h('th', {scope: 'col', class: 'num'}, 'Checks'),
        h('th', {scope: 'col', class: 'num'}, 'Refused'), h('th', {scope: 'col'}, 'Refusals'))),
      h('tbody', {}, top.map(r => h('tr', {},
        h('td', {}, h('a', {href: `#/rules/${r.id}`}, r.name)),
        h('td', {class: 'num'}, compact(r.allowed + r.refused)),
        h('td', {class: 'num'}, percent(r.refused / (r.allowed + r.refused))),
        h('td', {}, sparkline(r.spark, `refusals of ${r.name} per minute`)))))));
  } catch (e) {
    clear(box).append(emptyState(usageUnavailable(e)));
  }
}

async function agents(box) {
  try {
    const {json} = await get('/api/v1/agents');
    const list = json.agents || [];
    const connected = list.filter(a => a.connected).length;
    clear(box).append(h('p', {class: 'big'}, `${connected} connected`),
      h('p', {class: 'muted'}, `${list.length} known. `, h('a', {href: '#/agents'}, 'See agents')));
  } catch (e) {
    clear(box).append(h('p', {class: 'muted'}, e.status === 404 ? 'The agents list is not served by this controller version.' : e.message));
  }
}

async function health(box) {
  let json;
  try {
    const response = await fetch('/readyz', {credentials: 'same-origin'});
    json = await response.json();
  } catch (e) {
    clear(box).append(h('p', {class: 'error'}, `The controller did not answer: ${e.message}`));
    return;
  }
  clear(box).append(h('p', {class: 'big'}, json.status === 'ready' ? 'Ready' : 'Not ready'),
    h('ul', {class: 'checks'}, Object.entries(json.checks || {}).map(([name, state]) =>
      h('li', {class: state === 'ok' ? 'ok' : 'bad'}, `${name.replace('_', ' ')}: ${state}`))));
}

export async function overviewPage(main) {
  document.title = 'Overview · Sluice';
  const fleetBox = h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
  const busyBox = h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
  const agentBox = h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
  const healthBox = h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
  main.append(h('h1', {}, 'Overview'),
    h('section', {class: 'card', 'aria-labelledby': 'fleet-h'}, h('h2', {id: 'fleet-h'}, 'Fleet: allowed and refused per second, last 15 minutes'), fleetBox),
    h('div', {class: 'grid3'},
      h('section', {class: 'card', 'aria-labelledby': 'agents-h'}, h('h2', {id: 'agents-h'}, 'Agents'), agentBox),
      h('section', {class: 'card', 'aria-labelledby': 'health-h'}, h('h2', {id: 'health-h'}, 'Controller and database'), healthBox)),
    h('section', {class: 'card', 'aria-labelledby': 'busy-h'}, h('h2', {id: 'busy-h'}, 'Busiest rules, last 15 minutes'), busyBox));
  await Promise.all([fleet(fleetBox), agents(agentBox), health(healthBox), busiest(busyBox)]);
  const fast = setInterval(() => { fleet(fleetBox); agents(agentBox); health(healthBox); }, 5000);
  const slow = setInterval(() => busiest(busyBox), 60000);
  return () => { clearInterval(fast); clearInterval(slow); };
}
