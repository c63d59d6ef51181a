// Config: the whole rule set as one document. Download it as YAML or JSON;
// upload or paste one (either format, detected), see the dry run's diff,
// then apply (conditional on the revision the dry run saw).
import {api, get} from '../api.js';
import {h, append, clear, field, toast, showFieldError, clearFieldErrors} from '../dom.js';

const YAML = 'application/yaml';

// JSON when it parses as JSON or looks like it ({ or [ first: its own
// parser's error is the clearer one); YAML otherwise.
export function detectFormat(text) {
  try { JSON.parse(text); return 'json'; } catch (e) { /* not JSON */ }
  return /^\s*[{[]/.test(text) ? 'json' : 'yaml';
}

function downloadLink(label, text, type, name) {
  const href = URL.createObjectURL(new Blob([text], {type}));
  return h('a', {href, download: name, class: 'button'}, label);
}

// Puts the caret at the start of `line` (1-based) in the text area.
function selectLine(area, line) {
  const lines = area.value.split('\n');
  const start = lines.slice(0, Math.max(0, line - 1)).reduce((n, l) => n + l.length + 1, 0);
  area.setSelectionRange(start, start + (lines[line - 1] || '').length);
}

function problemText(err) {
  if (err.errors.length) return err.errors.map(x => (x.field ? `${x.field}: ` : '') + x.message).join('\n');
  return (err.field ? `${err.field}: ` : '') + err.message;
}

function diffSection(d) {
  const list = (label, names, cls) => h('div', {class: `change ${cls}`},
    h('h3', {}, `${label} (${names.length})`),
    names.length ? h('ul', {}, names.map(n => h('li', {class: 'mono'}, n))) : h('p', {class: 'muted'}, 'None.'));
  const changes = d.created.length + d.updated.length + d.deleted.length;
  return [h('h3', {}, 'What would change'),
    changes ? null : h('p', {}, 'Nothing would change.'),
    h('div', {class: 'changes'}, list('Created', d.created, 'created'), list('Updated', d.updated, 'updated'),
      list('Deleted', d.deleted, 'deleted'), list('Unchanged', d.unchanged, 'unchanged'))];
}

function replaceForm(current) {
  const area = h('textarea', {name: 'document', rows: 16, spellcheck: 'false', class: 'mono'});
  const file = h('input', {type: 'file', name: 'file', accept: '.yaml,.yml,.json,application/json,application/yaml'});
  const detected = h('span', {}, 'YAML or JSON');
  const result = h('div', {'aria-live': 'polite'});
  const form = h('form', {class: 'card form', novalidate: true}, h('h2', {}, 'Replace the rule set'),
    field('Upload a file', file), field('Document', area, [detected, ': {rules: [...]}, as downloaded above']),
    h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Dry run')), result);
  const format = () => detectFormat(area.value);
  const showFormat = () => { detected.textContent = area.value.trim() ? `Detected ${format().toUpperCase()}` : 'YAML or JSON'; };
  area.addEventListener('input', showFormat);
  file.addEventListener('change', async () => {
    if (file.files[0]) { area.value = await file.files[0].text(); showFormat(); }
  });
  const send = path => api('PUT', path, area.value,
    {'If-Match': current.etag, 'Content-Type': format() === 'yaml' ? YAML : 'application/json'});
  const apply = async () => {
    try {
      const applied = await send('/api/v1/config');
      toast(`Applied: revision ${applied.json.revision}.`); location.hash = `#/config?r=${Date.now()}`;
    } catch (err) {
      clear(result).append(h('p', {class: 'error', role: 'alert'}, err.status === 412
        ? 'The rule set changed since the dry run; reload the page and try again.' : problemText(err)));
    }
  };
  form.addEventListener('submit', async e => {
    e.preventDefault(); clearFieldErrors(form); clear(result);
    try {
      const d = (await send('/api/v1/config?dry_run=true')).json;
      const changes = d.created.length + d.updated.length + d.deleted.length;
      append(result, [diffSection(d),
        changes ? h('button', {type: 'button', class: 'primary', onclick: apply}, 'Apply these changes') : null]);
    } catch (err) {
      showFieldError(form, 'document', problemText(err));
      if (err.line) selectLine(area, err.line);
    }
  });
  return form;
}

export async function configPage(main, {can}) {
  document.title = 'Config · Sluice';
  const [current, yaml] = await Promise.all([get('/api/v1/config'), api('GET', '/api/v1/config', undefined, {Accept: YAML})]);
  const links = [downloadLink('Download YAML', yaml.text, YAML, 'sluice-rules.yaml'),
    downloadLink('Download JSON', JSON.stringify(current.json, null, 2) + '\n', 'application/json', 'sluice-rules.json')];
  main.append(h('h1', {}, 'Config'),
    h('section', {class: 'card'}, h('h2', {}, 'Current rule set'),
      h('p', {}, `${(current.json.rules || []).length} rules, revision ${(current.etag || '').replace(/"/g, '')}. `,
        'The same document the rules-as-code files use: commit it, edit it, apply it again.'),
      h('div', {class: 'actions'}, links)));
  const revoke = () => links.forEach(a => URL.revokeObjectURL(a.href));
  if (!can('editor')) return revoke;
  main.append(replaceForm(current));
  return revoke;
}
