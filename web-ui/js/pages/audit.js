// Audit: the change log filtered by actor, kind of resource, target and
// time range (all applied by the API, in SQL), a page at a time, each
// entry's before/after as a diff. The filters and the page live in the URL
// hash, so a filtered view can be shared or reloaded.
import {get} from '../api.js';
import {h, clear, field, emptyState} from '../dom.js';
import {ago, localTime} from '../format.js';
import {diffTable} from './diff.js';

const KINDS = [['', 'Any'], ['rule', 'Rules'], ['token', 'Tokens'], ['agent_key', 'Agent keys']];
const SIZES = ['20', '50', '100'];

// The view's state from the hash; `resource` is an older link's name for
// a kind or a target.
function stateOf(params) {
  const s = {actor: params.get('actor') || '', kind: params.get('kind') || '', target: params.get('target') || '',
    from: params.get('from') || '', until: params.get('until') || '', size: params.get('size') || '50',
    after: params.get('after') || '', back: params.get('back') || ''};
  const resource = params.get('resource');
  if (resource && !s.target && !s.kind) {
    if (KINDS.some(([k]) => k && k === resource)) s.kind = resource; else s.target = resource;
  }
  if (!SIZES.includes(s.size)) s.size = '50';
  return s;
}

function hashOf(s) {
  const q = new URLSearchParams();
  for (const k of ['actor', 'kind', 'target', 'from', 'until', 'size', 'after', 'back']) if (s[k] && !(k === 'size' && s[k] === '50')) q.set(k, s[k]);
  return `#/audit?${q}`;
}

function apiQuery(s) {
  const q = new URLSearchParams({limit: s.size});
  for (const k of ['actor', 'kind', 'target']) if (s[k]) q.set(k, s[k]);
  const iso = v => { const d = new Date(v); return isNaN(d) ? v : d.toISOString(); };
  if (s.after) q.set('since', s.after);
  else if (s.from) q.set('since', iso(s.from));
  if (s.until) q.set('until', iso(s.until));
  return q;
}

function filterForm(s) {
  const input = (name, attrs = {}) => h('input', {name, value: s[name], autocomplete: 'off', ...attrs});
  const select = (name, options) => h('select', {name}, options.map(([v, label]) => h('option', {value: v, selected: v === s[name]}, label)));
  const form = h('form', {class: 'filters', role: 'search', 'aria-label': 'Filter the audit log'},
    field('Actor', input('actor', {placeholder: 'token name'})),
    field('Resource kind', select('kind', KINDS)),
    field('Target', input('target', {placeholder: 'name or id'})),
    field('From', input('from', {type: 'datetime-local'})),
    field('Until', input('until', {type: 'datetime-local'})),
    field('Per page', select('size', SIZES.map(n => [n, n]))),
    h('button', {type: 'submit'}, 'Filter'),
    h('a', {href: '#/audit', class: 'button'}, 'Clear'));
  form.addEventListener('submit', e => {
    e.preventDefault();
    const data = new FormData(form);
    location.hash = hashOf({...Object.fromEntries(data), after: '', back: ''});
  });
  return form;
}

function entryItem(e) {
  const target = e.target || {};
  return h('li', {}, h('details', {},
    h('summary', {}, h('time', {datetime: e.at, title: ago(e.at)}, localTime(e.at)), ' · ',
      h('strong', {}, e.actor), ` ${e.action} ${target.kind || ''} `,
      h('span', {class: 'mono'}, target.name || String(target.id ?? ''))),
    diffTable(e.before, e.after)));
}

function pager(s, next) {
  const nav = h('nav', {class: 'pager', 'aria-label': 'Audit pages'});
  const stack = s.back ? s.back.split(',') : [];
  if (s.after) {
    const prev = stack.slice(0, -1), cursor = stack[stack.length - 1];
    nav.append(h('a', {class: 'button', href: hashOf({...s, after: cursor === '0' ? '' : cursor, back: prev.join(',')})}, 'Previous page'));
  }
  if (next) nav.append(h('a', {class: 'button', href: hashOf({...s, after: next, back: [...stack, s.after || '0'].join(',')})}, 'Next page'));
  return nav;
}

export async function auditPage(main, {params}) {
  document.title = 'Audit · Sluice';
  const s = stateOf(params);
  const box = h('div', {'aria-live': 'polite'});
  main.append(h('h1', {}, 'Audit'), filterForm(s), box);
  let json;
  try {
    ({json} = await get(`/api/v1/audit?${apiQuery(s)}`));
  } catch (err) {
    if (err.status !== 400) throw err;
    box.append(h('p', {class: 'error', role: 'alert'}, `${err.field ? err.field + ': ' : ''}${err.message}`));
    return;
  }
  const entries = json.entries || [];
  const filtered = ['actor', 'kind', 'target', 'from', 'until'].some(k => s[k]);
  clear(box);
  if (!entries.length) {
    box.append(emptyState(filtered || s.after ? 'No change matches these filters.' : 'No changes yet. Every change to rules, tokens and agent keys is written here.'));
  } else {
    box.append(h('p', {class: 'muted'}, `${entries.length} ${entries.length === 1 ? 'entry' : 'entries'} on this page, oldest first.`),
      h('ol', {class: 'audit'}, entries.map(entryItem)));
  }
  box.append(pager(s, json.next));
}
