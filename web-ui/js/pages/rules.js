// Rules: the list with search, filters (domain, mode, enabled) and sorting,
// PAGE rows at a time (search, filters and sorting apply to every rule, the
// pages to what they leave); one-click enforce/shadow and enable/disable;
// delete with confirmation.
import {api, get} from '../api.js';
import {h, clear, field, toast, confirmDialog, emptyState} from '../dom.js';
import {compact, matchText} from '../format.js';

const PAGE = 100;  // rows rendered at once: 1,000 rows take a second to build

const COLUMNS = [
  ['name', 'Name'], ['domain', 'Domain'], ['match', 'Match'], ['limit', 'Limit'],
  ['mode', 'Mode'], ['enabled', 'Enabled'],
];

// PUT a changed copy of a rule, conditional on its version.
export async function saveRule(rule, changes) {
  const body = {...rule, ...changes};
  delete body.id; delete body.version;
  return api('PUT', `/api/v1/rules/${rule.id}`, body, {'If-Match': `"${rule.version}"`});
}

export async function deleteRule(rule) {
  const ok = await confirmDialog(`Delete rule “${rule.name}”?`,
    'Agents stop applying it within a second. Its history stays in the audit log.', 'Delete');
  if (!ok) return false;
  await api('DELETE', `/api/v1/rules/${rule.id}`, undefined, {'If-Match': `"${rule.version}"`});
  toast(`Deleted ${rule.name}.`);
  return true;
}

export async function rulesPage(main, {can, params}) {
  document.title = 'Rules · Sluice';
  const editor = can('editor');
  const state = {q: params.get('q') || '', domain: '', mode: '', enabled: '', sort: 'name', dir: 1, page: 0};
  let rules = (await get('/api/v1/rules')).json.rules || [];
  // What search and sorting compare, computed once per rule (and again
  // when the rule changes).
  const keys = new WeakMap();
  const keyOf = r => {
    let k = keys.get(r);
    if (!k || k.version !== r.version) {
      const match = matchText(r.match);
      k = {version: r.version, match, text: `${r.name} ${r.domain} ${match}`.toLowerCase()};
      keys.set(r, k);
    }
    return k;
  };
  const domains = [...new Set(rules.map(r => r.domain))].sort();

  const search = h('input', {type: 'search', name: 'q', value: state.q, placeholder: 'name, domain or match'});
  const domain = h('select', {name: 'domain'}, h('option', {value: ''}, 'All'), domains.map(d => h('option', {value: d}, d)));
  const mode = h('select', {name: 'mode'}, h('option', {value: ''}, 'All'), h('option', {value: 'enforce'}, 'enforce'), h('option', {value: 'shadow'}, 'shadow'));
  const enabled = h('select', {name: 'enabled'}, h('option', {value: ''}, 'All'), h('option', {value: 'true'}, 'enabled'), h('option', {value: 'false'}, 'disabled'));
  const filters = h('form', {class: 'filters', role: 'search', onsubmit: e => e.preventDefault()},
    field('Search', search), field('Domain', domain), field('Mode', mode), field('Enabled', enabled));
  const table = h('div', {class: 'table-wrap'});
  const count = h('p', {class: 'muted', 'aria-live': 'polite'});

  const shown = () => {
    const q = state.q.toLowerCase();
    return rules.filter(r => (!q || keyOf(r).text.includes(q)) &&
      (!state.domain || r.domain === state.domain) && (!state.mode || r.mode === state.mode) &&
      (!state.enabled || String(r.enabled) === state.enabled))
      .sort((a, b) => {
        const key = state.sort;
        const va = key === 'match' ? keyOf(a).match : a[key], vb = key === 'match' ? keyOf(b).match : b[key];
        return (va < vb ? -1 : va > vb ? 1 : 0) * state.dir;
      });
  };

  const act = async (rule, changes, verb) => {
    try {
      const {json} = await saveRule(rule, changes);
      Object.assign(rule, json);
      toast(`${rule.name}: ${verb}.`);
    } catch (e) {
      toast(e.status === 412 ? `${rule.name} was changed by someone else; the list is reloaded.` : `${rule.name}: ${e.message}`);
      rules = (await get('/api/v1/rules')).json.rules || [];
    }
    render();
  };

  const header = ([key, label]) => {
    const sorted = state.sort === key;
    return h('th', {scope: 'col', 'aria-sort': sorted ? (state.dir > 0 ? 'ascending' : 'descending') : null},
      h('button', {type: 'button', class: 'sort', onclick: () => { state.dir = sorted ? -state.dir : 1; state.sort = key; state.page = 0; render(); }},
        label, sorted ? (state.dir > 0 ? ' ▲' : ' ▼') : ''));
  };

  const row = rule => h('tr', {},
    h('td', {}, h('a', {href: `#/rules/${rule.id}`}, rule.name)),
    h('td', {}, rule.domain), h('td', {class: 'mono'}, matchText(rule.match)),
    h('td', {class: 'num'}, `${compact(rule.limit)} / ${rule.period}`),
    h('td', {}, editor
      ? h('button', {type: 'button', class: `pill ${rule.mode}`, 'aria-label': `${rule.name}: mode ${rule.mode}, switch to ${rule.mode === 'enforce' ? 'shadow' : 'enforce'}`,
          onclick: () => act(rule, {mode: rule.mode === 'enforce' ? 'shadow' : 'enforce'}, `now ${rule.mode === 'enforce' ? 'shadow' : 'enforce'}`)}, rule.mode)
      : h('span', {class: `pill ${rule.mode}`}, rule.mode)),
    h('td', {}, editor
      ? h('button', {type: 'button', class: `pill ${rule.enabled ? 'on' : 'off'}`, 'aria-label': `${rule.name}: ${rule.enabled ? 'enabled, disable it' : 'disabled, enable it'}`,
          onclick: () => act(rule, {enabled: !rule.enabled}, rule.enabled ? 'disabled' : 'enabled')}, rule.enabled ? 'enabled' : 'disabled')
      : h('span', {class: `pill ${rule.enabled ? 'on' : 'off'}`}, rule.enabled ? 'enabled' : 'disabled')),
    editor ? h('td', {class: 'actions'},
      h('a', {href: `#/rules/${rule.id}/edit`, class: 'button small', 'aria-label': `Edit ${rule.name}`}, 'Edit'),
      h('button', {type: 'button', class: 'small danger', 'aria-label': `Delete ${rule.name}`, onclick: async () => {
        try { if (await deleteRule(rule)) { rules = rules.filter(r => r !== rule); render(); } }
        catch (e) { toast(e.message); rules = (await get('/api/v1/rules')).json.rules || []; render(); }
      }}, 'Delete')) : null);

  const pager = (pages) => {
    const go = n => () => { state.page = n; render(); table.querySelector('table')?.scrollIntoView({block: 'start'}); };
    return h('nav', {class: 'pager', 'aria-label': 'Rule pages'},
      h('button', {type: 'button', disabled: state.page === 0, onclick: go(state.page - 1)}, 'Previous page'),
      h('span', {class: 'muted'}, `Page ${state.page + 1} of ${pages}`),
      h('button', {type: 'button', disabled: state.page >= pages - 1, onclick: go(state.page + 1)}, 'Next page'));
  };

  function render() {
    const list = shown();
    const pages = Math.max(1, Math.ceil(list.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const first = state.page * PAGE;
    count.textContent = list.length > PAGE
      ? `${list.length} of ${rules.length} rules; showing ${first + 1}–${Math.min(first + PAGE, list.length)}`
      : `${list.length} of ${rules.length} rules`;
    clear(table);
    if (!rules.length) {
      table.append(emptyState('No rules yet. A rule says how many checks a domain and match may pass per period.',
        editor ? h('a', {href: '#/rules/new', class: 'button primary'}, 'Create the first rule') : null));
      return;
    }
    if (!list.length) { table.append(emptyState('No rule matches these filters. Clear the search or choose “All”.')); return; }
    table.append(h('table', {},
      h('caption', {class: 'sr-only'}, 'Rules'),
      h('thead', {}, h('tr', {}, COLUMNS.map(header), editor ? h('th', {scope: 'col'}, h('span', {class: 'sr-only'}, 'Actions')) : null)),
      h('tbody', {}, list.slice(first, first + PAGE).map(row))));
    if (pages > 1) table.append(pager(pages));
  }

  for (const [el, key] of [[search, 'q'], [domain, 'domain'], [mode, 'mode'], [enabled, 'enabled']]) {
    el.addEventListener('input', () => { state[key] = el.value; state.page = 0; render(); });
  }
  main.append(h('div', {class: 'title-row'}, h('h1', {}, 'Rules'),
    editor ? h('a', {href: '#/rules/new', class: 'button primary'}, 'New rule') : null), filters, count, table);
  render();
}
