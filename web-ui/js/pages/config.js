// Config: the whole rule set as one document. Download it; upload or paste
// one, see the dry run's diff, then apply (conditional on the revision the
// dry run saw).
import {api, get} from '../api.js';
import {h, append, clear, field, toast, showFieldError, clearFieldErrors} from '../dom.js';

export async function configPage(main, {can}) {
  document.title = 'Config · Sluice';
  const editor = can('editor');
  const current = await get('/api/v1/config');
  const text = JSON.stringify(current.json, null, 2);
  const blob = new Blob([text + '\n'], {type: 'application/json'});
  const download = h('a', {href: URL.createObjectURL(blob), download: 'sluice-rules.json', class: 'button'}, 'Download JSON');
  main.append(h('h1', {}, 'Config'),
    h('section', {class: 'card'}, h('h2', {}, 'Current rule set'),
      h('p', {}, `${(current.json.rules || []).length} rules, revision ${(current.etag || '').replace(/"/g, '')}. `), download));
  if (!editor) return () => URL.revokeObjectURL(download.href);

  const area = h('textarea', {name: 'document', rows: 14, spellcheck: 'false', class: 'mono'});
  const file = h('input', {type: 'file', name: 'file', accept: '.json,application/json'});
  const result = h('div', {'aria-live': 'polite'});
  const form = h('form', {class: 'card form', novalidate: true}, h('h2', {}, 'Replace the rule set'),
    field('Upload a file', file), field('Document', area, 'JSON: {"rules": [...]}, as downloaded above'),
    h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Dry run')), result);
  file.addEventListener('change', async () => { if (file.files[0]) area.value = await file.files[0].text(); });
  form.addEventListener('submit', async e => {
    e.preventDefault(); clearFieldErrors(form); clear(result);
    try {
      const dry = await api('PUT', '/api/v1/config?dry_run=true', area.value, {'If-Match': current.etag});
      const d = dry.json;
      const list = (label, names, cls) => names.length ? h('div', {class: cls}, h('h3', {}, `${label} (${names.length})`), h('ul', {}, names.map(n => h('li', {class: 'mono'}, n)))) : null;
      const changes = d.created.length + d.updated.length + d.deleted.length;
      append(result, [h('h3', {}, 'What would change'),
        changes ? [list('Created', d.created, 'created'), list('Updated', d.updated, 'updated'), list('Deleted', d.deleted, 'deleted')] : h('p', {}, 'Nothing would change.'),
        h('p', {class: 'muted'}, `${d.unchanged.length} unchanged.`),
        changes ? h('button', {type: 'button', class: 'primary', onclick: async () => {
          try {
            const applied = await api('PUT', '/api/v1/config', area.value, {'If-Match': current.etag});
            toast(`Applied: revision ${applied.json.revision}.`); location.hash = `#/config?r=${Date.now()}`;
          } catch (err) { clear(result).append(h('p', {class: 'error', role: 'alert'}, err.status === 412 ? 'The rule set changed since the dry run; reload the page and try again.' : err.message)); }
        }}, 'Apply these changes') : null]);
    } catch (err) {
      const all = err.errors.length ? err.errors : [{field: err.field, message: err.message}];
      showFieldError(form, 'document', all.map(x => (x.field ? `${x.field}: ` : '') + x.message).join('\n'));
    }
  });
  main.append(form);
  return () => URL.revokeObjectURL(download.href);
}
