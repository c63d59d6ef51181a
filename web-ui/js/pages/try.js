// Try a descriptor: a domain and key/value pairs -> the rules that apply
// (POST /api/v1/explain), the bucket each would use, the most restrictive.
import {api} from '../api.js';
import {h, append, clear, field, showFieldError, clearFieldErrors, emptyState} from '../dom.js';
import {compact, matchText} from '../format.js';

let rowId = 0;
function pairRow(list, key = '', value = '') {
  const n = ++rowId;
  const k = h('input', {name: `key${n}`, value: key, autocomplete: 'off', class: 'pair-key'});
  const v = h('input', {name: `value${n}`, value, autocomplete: 'off', class: 'pair-value'});
  const row = h('div', {class: 'row pair'}, field('Key', k), field('Value', v),
    h('button', {type: 'button', class: 'small', 'aria-label': `Remove pair ${n}`, onclick: () => row.remove()}, 'Remove'));
  list.append(row);
  return k;
}

export async function tryPage(main, {params}) {
  document.title = 'Try a descriptor · Sluice';
  const domain = h('input', {name: 'domain', value: params.get('domain') || '', required: true, autocomplete: 'off'});
  const pairs = h('div', {class: 'pairs'});
  pairRow(pairs, 'route', '/search');
  pairRow(pairs, 'client_id', '42');
  const result = h('div', {'aria-live': 'polite'});
  const form = h('form', {class: 'card form', novalidate: true},
    h('p', {}, 'Which rules would apply to a check with this domain and descriptor, which bucket each would use, and which is the most restrictive. Nothing is counted.'),
    field('Domain', domain), pairs,
    h('div', {class: 'actions'}, h('button', {type: 'button', onclick: () => pairRow(pairs).focus()}, 'Add a pair'),
      h('button', {type: 'submit', class: 'primary'}, 'Try it')));
  form.addEventListener('submit', async e => {
    e.preventDefault(); clearFieldErrors(form); clear(result);
    const descriptor = {};
    for (const row of pairs.querySelectorAll('.pair')) {
      const key = row.querySelector('.pair-key').value.trim();
      if (key) descriptor[key] = row.querySelector('.pair-value').value;
    }
    try {
      const {json} = await api('POST', '/api/v1/explain', {domain: domain.value.trim(), descriptor});
      if (!json.rules.length) {
        result.append(emptyState('No rule applies: a check like this is always allowed. Create a rule for this domain and keys to limit it.',
          h('a', {href: '#/rules/new', class: 'button'}, 'New rule')));
        return;
      }
      append(result, [h('h2', {}, `${json.rules.length} rule${json.rules.length > 1 ? 's' : ''} apply`),
        h('div', {class: 'table-wrap'}, h('table', {}, h('caption', {class: 'sr-only'}, 'Rules that apply'),
          h('thead', {}, h('tr', {}, ['Rule', 'Limit', 'Mode', 'Bucket', ''].map(t => h('th', {scope: 'col'}, t || h('span', {class: 'sr-only'}, 'Most restrictive'))))),
          h('tbody', {}, json.rules.map(({rule, bucket}) => h('tr', {},
            h('td', {}, h('a', {href: `#/rules/${rule.id}`}, rule.name)),
            h('td', {class: 'num'}, `${compact(rule.limit)} / ${rule.period}, burst ${compact(rule.burst)}`),
            h('td', {}, h('span', {class: `pill ${rule.mode}`}, rule.mode)),
            h('td', {class: 'mono'}, Object.keys(bucket).length ? matchText(bucket) : 'one shared bucket'),
            h('td', {}, rule.id === json.most_restrictive ? h('strong', {}, 'most restrictive') : ''))))))]);
    } catch (err) {
      const name = (err.field || '').startsWith('descriptor') ? null : err.field;
      if (!(name && showFieldError(form, name, err.message))) result.append(h('p', {class: 'error', role: 'alert'}, err.message));
    }
  });
  main.append(h('h1', {}, 'Try a descriptor'), form, result);
  domain.focus();
}
