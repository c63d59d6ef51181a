// Audit: the change log, filtered by actor, resource and time, a page at a
// time, each entry's before/after as a diff. The API pages by entry id or
// time (since=); actor and resource are filtered on the page in hand.
import {get} from '../api.js';
import {h, clear, field, emptyState} from '../dom.js';
import {ago, localTime} from '../format.js';
import {diffTable} from './diff.js';

const PAGE = 50;

export async function auditPage(main, {params}) {
  document.title = 'Audit · Sluice';
  const since = params.get('since') || '';
  const actor = h('input', {name: 'actor', value: params.get('actor') || '', autocomplete: 'off'});
  const resource = h('input', {name: 'resource', value: params.get('resource') || '', autocomplete: 'off', placeholder: 'rule, token, agent_key or a name'});
  const from = h('input', {name: 'from', type: 'datetime-local', value: params.get('from') || ''});
  const go = (extra = {}) => {
    const q = new URLSearchParams({actor: actor.value, resource: resource.value, from: from.value, ...extra});
    for (const [k, v] of [...q]) if (!v) q.delete(k);
    location.hash = `#/audit?${q}`;
  };
  const filters = h('form', {class: 'filters', role: 'search'}, field('Actor', actor), field('Resource', resource),
    field('From', from), h('button', {type: 'submit'}, 'Filter'));
  filters.addEventListener('submit', e => { e.preventDefault(); go(); });
  const box = h('div', {});
  main.append(h('h1', {}, 'Audit'), filters, box);

  let sinceParam = since;
  if (!sinceParam && from.value) sinceParam = new Date(from.value).toISOString();
  const q = new URLSearchParams({limit: String(PAGE)});
  if (sinceParam) q.set('since', sinceParam);
  const {json} = await get(`/api/v1/audit?${q}`);
  const a = actor.value.toLowerCase(), r = resource.value.toLowerCase();
  const entries = (json.entries || []).filter(e => (!a || (e.actor || '').toLowerCase().includes(a)) &&
    (!r || `${e.target?.kind} ${e.target?.name} ${e.target?.id}`.toLowerCase().includes(r)));
  clear(box);
  if (!entries.length) box.append(emptyState(json.entries?.length ? 'No entry on this page matches; try the next page or clear the filters.' : 'No changes yet. Every change to rules, tokens and agent keys is written here.'));
  else box.append(h('ol', {class: 'audit'}, entries.map(e => h('li', {},
    h('details', {}, h('summary', {}, h('time', {datetime: e.at, title: ago(e.at)}, localTime(e.at)), ' · ',
      h('strong', {}, e.actor), ` ${e.action} ${e.target?.kind || ''} `, h('span', {class: 'mono'}, e.target?.name || String(e.target?.id ?? ''))),
      diffTable(e.before, e.after))))));
  const nav = h('nav', {class: 'pager', 'aria-label': 'Audit pages'});
  if (since) nav.append(h('a', {href: '#/audit', class: 'button'}, 'First page'));
  if (json.next) nav.append(h('button', {type: 'button', onclick: () => go({since: json.next})}, 'Next page'));
  box.append(nav);
}
