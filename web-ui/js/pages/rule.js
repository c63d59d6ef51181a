// One rule: its settings, allowed/refused over a chosen range, the top
// clients (each with "make an override"), and its version history with a
// diff and "restore this version".
import {api, get, versionOf} from '../api.js';
import {h, clear, toast, confirmDialog, emptyState} from '../dom.js';
import {lineChart} from '../chart.js';
import {compact, localTime, ago, matchText} from '../format.js';
import {deleteRule} from './rules.js';
import {rates, totals, usageUnavailable} from './overview.js';
import {diffTable} from './diff.js';

const RANGES = [['15m', 15 * 60e3], ['1h', 3600e3], ['24h', 86400e3], ['7d', 7 * 86400e3]];
const SETTINGS = ['name', 'domain', 'match', 'limit', 'period', 'burst', 'mode', 'failure_mode', 'enabled'];

async function chart(box, rule, from, to) {
  try {
    const {json} = await get(`/api/v1/usage?rule=${rule.id}&from=${from}&to=${to}`);
    const r = rates(json);
    const total = (json.points || []).reduce((a, p) => a + p.allowed + p.refused + (p.shadow_refused || 0), 0);
    if (!total) { clear(box).append(emptyState('No checks matched this rule in this range. Checks through any agent show here within seconds.')); return; }
    clear(box).append(totals(json, 'in this range'),
      lineChart([{name: 'allowed per second', cls: 'allowed', values: r.allowed},
                 {name: 'refused per second', cls: 'refused', values: r.refused}],
                {title: `${rule.name}: allowed and refused per second`, unit: '/s'}));
  } catch (e) { clear(box).append(emptyState(usageUnavailable(e))); }
}

async function topClients(box, rule, from, to, by, editor) {
  try {
    const {json} = await get(`/api/v1/usage/top?rule=${rule.id}&from=${from}&to=${to}&by=${by}&limit=10`);
    const clients = json.clients || [];
    if (!clients.length) { clear(box).append(emptyState(`No clients ${by} in this range.`)); return; }
    // A viewer's table holds nothing focusable: the region takes the focus
    // so a keyboard can scroll it sideways on a phone.
    clear(box).append(h('div', {class: 'table-wrap', tabindex: editor ? null : 0, role: editor ? null : 'region',
      'aria-label': editor ? null : `Top clients by ${by}`}, h('table', {},
      h('caption', {}, `Top clients by ${by}`, json.error_bound ? ` (each count within ±${compact(json.error_bound)})` : ''),
      h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Client'), h('th', {scope: 'col', class: 'num'}, by === 'allowed' ? 'Allowed' : 'Allowed (at least)'),
        h('th', {scope: 'col', class: 'num'}, by === 'refused' ? 'Refused' : 'Refused (at least)'), editor ? h('th', {scope: 'col'}, h('span', {class: 'sr-only'}, 'Actions')) : null)),
      h('tbody', {}, clients.map(c => h('tr', {},
        h('td', {class: 'mono'}, matchText(c.values)), h('td', {class: 'num'}, compact(c.allowed)),
        h('td', {class: 'num'}, compact(c.refused)),
        editor ? h('td', {}, h('a', {class: 'button small', href: `#/rules/new?from=${rule.id}&values=${encodeURIComponent(JSON.stringify(c.values))}`,
          'aria-label': `Make an override for this client (${matchText(c.values)})`}, 'Make an override for this client')) : null))))));
  } catch (e) { clear(box).append(emptyState(usageUnavailable(e))); }
}

function history(box, rule, versions, editor, reload) {
  clear(box);
  if (!versions.length) { box.append(emptyState('No history.')); return; }
  const list = h('ol', {class: 'history', reversed: true});
  [...versions].reverse().forEach((v, i, all) => {
    const before = all[i + 1] ? all[i + 1].rule : null;
    const current = v.version === rule.version;
    const restore = editor && !current && v.rule && v.action !== 'delete'
      ? h('button', {type: 'button', class: 'small', onclick: async () => {
          if (!await confirmDialog(`Restore version ${v.version}?`, `The rule's settings become those of version ${v.version}; this makes a new version.`, 'Restore')) return;
          const body = {...v.rule}; delete body.id; delete body.version;
          try {
            await api('PUT', `/api/v1/rules/${rule.id}`, body, {'If-Match': `"${rule.version}"`});
            toast(`Restored version ${v.version}.`); reload();
          } catch (e) { toast(e.status === 412 ? 'The rule changed meanwhile; reloaded. Try again.' : e.message); reload(); }
        }}, 'Restore this version') : null;
    list.append(h('li', {},
      h('details', {open: i === 0},
        h('summary', {}, h('strong', {}, `Version ${v.version}`), ` ${v.action} by ${v.actor} · `,
          h('time', {datetime: v.at, title: localTime(v.at)}, ago(v.at)), current ? ' (current)' : ''),
        diffTable(before, v.rule, SETTINGS), restore)));
  });
  box.append(list);
}

export async function rulePage(main, {id, can}) {
  const editor = can('editor');
  // The history is asked for with the rule, not after it.
  const histAsked = get(`/api/v1/rules/${id}/history`).catch(e => e);
  const got = await get(`/api/v1/rules/${id}`);
  const rule = got.json;
  rule.version = versionOf(got.etag) ?? rule.version;
  document.title = `${rule.name} · Sluice`;
  const chartBox = h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
  const refusedBox = h('div', {}), allowedBox = h('div', {}), historyBox = h('div', {});
  const from = h('input', {type: 'datetime-local', name: 'from'});
  const to = h('input', {type: 'datetime-local', name: 'to'});
  let range = RANGES[0][1];
  const load = () => {
    let t1 = Date.now(), t0 = t1 - range;
    if (range === 0) { t0 = new Date(from.value).getTime(); t1 = new Date(to.value).getTime(); if (!(t0 < t1)) { toast('Choose a start before the end.'); return; } }
    chart(chartBox, rule, t0, t1);
    topClients(refusedBox, rule, t0, t1, 'refused', editor);
    topClients(allowedBox, rule, t0, t1, 'allowed', editor);
  };
  const rangeButtons = h('div', {class: 'segmented', role: 'group', 'aria-label': 'Time range'},
    RANGES.map(([label, ms]) => h('button', {type: 'button', 'aria-pressed': String(ms === range), onclick: e => {
      range = ms; for (const b of rangeButtons.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === e.currentTarget)); load();
    }}, label)));
  const custom = h('form', {class: 'range', onsubmit: e => { e.preventDefault(); range = 0; load(); }},
    h('label', {for: 'range-from'}, 'From'), from, h('label', {for: 'range-to'}, 'To'), to, h('button', {type: 'submit'}, 'Show range'));
  from.id = 'range-from'; to.id = 'range-to';
  const reload = () => { location.hash = `#/rules/${id}?r=${Date.now()}`; };

  main.append(
    h('div', {class: 'title-row'}, h('h1', {}, rule.name),
      editor ? h('div', {class: 'actions'}, h('a', {href: `#/rules/${id}/edit`, class: 'button primary'}, 'Edit'),
        h('button', {type: 'button', class: 'danger', onclick: async () => {
          try { if (await deleteRule(rule)) location.hash = '#/rules'; } catch (e) { toast(e.message); }
        }}, 'Delete')) : null),
    h('dl', {class: 'facts'},
      h('dt', {}, 'Domain'), h('dd', {}, rule.domain), h('dt', {}, 'Match'), h('dd', {class: 'mono'}, matchText(rule.match)),
      h('dt', {}, 'Limit'), h('dd', {}, `${compact(rule.limit)} per ${rule.period}, burst ${compact(rule.burst)}`),
      h('dt', {}, 'Mode'), h('dd', {}, rule.mode), h('dt', {}, 'Failure mode'), h('dd', {}, rule.failure_mode),
      h('dt', {}, 'Enabled'), h('dd', {}, rule.enabled ? 'yes' : 'no'), h('dt', {}, 'Version'), h('dd', {}, String(rule.version))),
    h('section', {class: 'card', 'aria-labelledby': 'usage-h'}, h('div', {class: 'title-row'}, h('h2', {id: 'usage-h'}, 'Allowed and refused'), rangeButtons), custom, chartBox),
    h('div', {class: 'grid2'}, h('section', {class: 'card'}, refusedBox), h('section', {class: 'card'}, allowedBox)),
    h('section', {class: 'card', 'aria-labelledby': 'history-h'}, h('h2', {id: 'history-h'}, 'Version history'), historyBox));
  load();
  const hist = await histAsked;
  if (hist instanceof Error) throw hist;
  history(historyBox, rule, hist.json.versions || [], editor, reload);
  const timer = setInterval(() => { if (range && range <= 3600e3) load(); }, 10000);
  return () => clearInterval(timer);
}
