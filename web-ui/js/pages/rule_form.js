// Create or edit a rule. Each error appears next to the field the API
// names; a 412 (someone changed the rule meanwhile) keeps what was typed
// and offers to load their version or save over it.
import {api, get, versionOf} from '../api.js';
import {h, field, showFieldError, clearFieldErrors, toast} from '../dom.js';

const FIELD_OF = name => (name.startsWith('match') ? 'match' : name);

function matchToText(match) { return Object.entries(match || {}).map(([k, v]) => `${k}=${v}`).join('\n'); }

// "route=/search\nclient_id=*" -> {route: "/search", client_id: "*"}; throws
// with a message for a line without '='.
function textToMatch(text) {
  const match = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`line ${i + 1} “${line}” is not key=value (for example route=/search, or client_id=* for one bucket per client)`);
    match[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return match;
}

export function overrideFrom(rule, values) {
  const match = {...rule.match, ...values};
  const suffix = Object.values(values).join('-').replace(/[^A-Za-z0-9_.-]/g, '_');
  // A burst equal to the limit is the default: left empty, it follows the
  // override's own limit instead of keeping the rule's.
  const burst = rule.burst === rule.limit ? '' : rule.burst;
  return {...rule, id: undefined, version: undefined, name: `${rule.name}-${suffix}`.slice(0, 128), match, burst};
}

export async function ruleFormPage(main, {id, params}) {
  let rule = {name: '', domain: '', match: {}, limit: 100, period: '1s', burst: '', mode: 'enforce', failure_mode: 'local', enabled: true};
  let version = null;
  if (id) {
    const got = await get(`/api/v1/rules/${id}`);
    rule = got.json; version = versionOf(got.etag) ?? rule.version;
  } else if (params.get('from')) {
    const base = (await get(`/api/v1/rules/${Number(params.get('from'))}`)).json;
    let values = {};
    try { values = JSON.parse(params.get('values') || '{}'); } catch (e) { values = {}; }
    rule = overrideFrom(base, values);
  }
  document.title = `${id ? `Edit ${rule.name}` : 'New rule'} · Sluice`;
  const inputs = {
    name: h('input', {name: 'name', required: true, value: rule.name, autocomplete: 'off'}),
    domain: h('input', {name: 'domain', required: true, value: rule.domain, autocomplete: 'off'}),
    match: h('textarea', {name: 'match', rows: 3, spellcheck: 'false'}),
    limit: h('input', {name: 'limit', type: 'number', min: 1, required: true, value: rule.limit}),
    period: h('input', {name: 'period', required: true, value: rule.period, list: 'periods'}),
    burst: h('input', {name: 'burst', type: 'number', min: 1, value: rule.burst ?? ''}),
    mode: h('select', {name: 'mode'}, ['enforce', 'shadow'].map(m => h('option', {value: m, selected: rule.mode === m}, m))),
    failure_mode: h('select', {name: 'failure_mode'}, ['local', 'open', 'closed'].map(m => h('option', {value: m, selected: rule.failure_mode === m}, m))),
    enabled: h('input', {name: 'enabled', type: 'checkbox', checked: rule.enabled}),
  };
  inputs.match.value = matchToText(rule.match);
  const banner = h('div', {class: 'banner', role: 'alert', hidden: true});
  const form = h('form', {class: 'card form', novalidate: true},
    h('h1', {}, id ? `Edit ${rule.name}` : 'New rule'), banner,
    field('Name', inputs.name, 'Unique; letters, digits, - _ .'),
    field('Domain', inputs.domain, 'The domain the application checks, e.g. api'),
    field('Match', inputs.match, 'One key=value per line; * means one bucket per value (e.g. client_id=*)'),
    h('div', {class: 'row'}, field('Limit', inputs.limit, 'Checks allowed per period'),
      field('Period', inputs.period, '500ms, 1s, 1m, 1h or 1d'), field('Burst', inputs.burst, 'Empty: the limit')),
    h('datalist', {id: 'periods'}, ['1s', '1m', '1h', '1d'].map(p => h('option', {value: p}))),
    h('div', {class: 'row'}, field('Mode', inputs.mode, 'shadow counts refusals without refusing'),
      field('Failure mode', inputs.failure_mode, 'When the controller is unreachable')),
    h('div', {class: 'field check', dataset: {field: 'enabled'}}, inputs.enabled, h('label', {for: 'f-enabled'}, 'Enabled'),
      h('p', {class: 'field-error', id: 'f-enabled-error', hidden: true})),
    h('div', {class: 'actions'}, h('a', {href: id ? `#/rules/${id}` : '#/rules', class: 'button'}, 'Cancel'),
      h('button', {type: 'submit', class: 'primary'}, id ? 'Save' : 'Create rule')));
  inputs.enabled.id = 'f-enabled';

  const collect = () => {
    const body = {name: inputs.name.value.trim(), domain: inputs.domain.value.trim(),
      match: textToMatch(inputs.match.value), limit: Number(inputs.limit.value), period: inputs.period.value.trim(),
      mode: inputs.mode.value, failure_mode: inputs.failure_mode.value, enabled: inputs.enabled.checked};
    if (inputs.burst.value.trim() !== '') body.burst = Number(inputs.burst.value);
    if (inputs.limit.value.trim() === '') body.limit = inputs.limit.value;
    return body;
  };
  const fill = r => {
    inputs.name.value = r.name; inputs.domain.value = r.domain; inputs.match.value = matchToText(r.match);
    inputs.limit.value = r.limit; inputs.period.value = r.period; inputs.burst.value = r.burst ?? '';
    inputs.mode.value = r.mode; inputs.failure_mode.value = r.failure_mode; inputs.enabled.checked = r.enabled;
  };

  const submit = async force => {
    clearFieldErrors(form);
    banner.hidden = true;
    let body;
    try { body = collect(); } catch (e) { showFieldError(form, 'match', e.message); return; }
    try {
      const headers = id ? {'If-Match': `"${version}"`} : {};
      const {json} = await api(id ? 'PUT' : 'POST', id ? `/api/v1/rules/${id}` : '/api/v1/rules', body, headers);
      toast(`${json.name} saved (version ${json.version}).`);
      location.hash = `#/rules/${json.id}`;
    } catch (e) {
      if (e.status === 412) return stale(body);
      if (e.field && showFieldError(form, FIELD_OF(e.field), e.message)) return;
      banner.textContent = e.message; banner.hidden = false;
    }
  };

  async function stale(mine) {
    const theirs = await get(`/api/v1/rules/${id}`);
    const current = theirs.json;
    banner.replaceChildren(
      h('p', {}, h('strong', {}, 'Someone else changed this rule while you were editing it'),
        ` (it is now version ${current.version}). What you typed is still in the form.`),
      h('div', {class: 'actions'},
        h('button', {type: 'button', onclick: () => {
          fill(current); version = current.version;
          banner.replaceChildren(h('p', {}, `Loaded version ${current.version}. Your edits were:`),
            h('pre', {class: 'mono'}, JSON.stringify(mine, null, 2)));
        }}, 'Load their version'),
        h('button', {type: 'button', class: 'primary', onclick: () => { version = current.version; submit(true); }}, 'Save mine over it')));
    banner.hidden = false;
    banner.querySelector('button').focus();
  }

  form.addEventListener('submit', e => { e.preventDefault(); submit(false); });
  main.append(form);
  inputs.name.focus();
}
