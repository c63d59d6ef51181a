// Tokens and agent keys (admin): create (the secret shown once, with a copy
// button), revoke with confirmation.
import {api, get} from '../api.js';
import {h, append, clear, field, toast, confirmDialog, emptyState, showFieldError, clearFieldErrors} from '../dom.js';
import {ago, localTime} from '../format.js';

function secretBox(label, secret) {
  const out = h('input', {readonly: true, value: secret, class: 'mono', 'aria-label': label});
  return h('div', {class: 'banner ok', role: 'status'},
    h('p', {}, h('strong', {}, `${label}: copy it now. `), 'It is shown only once.'),
    h('div', {class: 'row'}, out, h('button', {type: 'button', onclick: async () => {
      try { await navigator.clipboard.writeText(secret); toast('Copied.'); } catch (e) { out.select(); toast('Press Ctrl+C to copy.'); }
    }}, 'Copy')));
}

async function tokensSection(box) {
  const tokens = (await get('/api/v1/tokens')).json.tokens || [];
  const name = h('input', {name: 'name', required: true, autocomplete: 'off'});
  const role = h('select', {name: 'role'}, ['viewer', 'editor', 'admin'].map(r => h('option', {value: r}, r)));
  const shown = h('div', {});
  const form = h('form', {class: 'row form', novalidate: true}, field('Name', name), field('Role', role),
    h('button', {type: 'submit', class: 'primary'}, 'Create token'));
  form.addEventListener('submit', async e => {
    e.preventDefault(); clearFieldErrors(form);
    try {
      const {json} = await api('POST', '/api/v1/tokens', {name: name.value.trim(), role: role.value});
      await tokensSection(box);
      box.prepend(secretBox(`Token “${json.name}”`, json.token));
    } catch (err) { if (!showFieldError(form, err.field || 'name', err.message)) toast(err.message); }
  });
  const live = tokens.filter(t => !t.revoked_at);
  append(clear(box), [shown, h('h2', {}, 'API tokens'), form,
    live.length ? h('div', {class: 'table-wrap'}, h('table', {}, h('caption', {class: 'sr-only'}, 'API tokens'),
      h('thead', {}, h('tr', {}, ['Name', 'Role', 'Created', 'Created by', ''].map(t => h('th', {scope: 'col'}, t || h('span', {class: 'sr-only'}, 'Actions'))))),
      h('tbody', {}, live.map(t => h('tr', {}, h('td', {}, t.name), h('td', {}, t.role),
        h('td', {}, h('time', {title: localTime(t.created_at)}, ago(t.created_at))), h('td', {}, t.created_by || '–'),
        h('td', {}, h('button', {type: 'button', class: 'small danger', 'aria-label': `Revoke ${t.name}`, onclick: async () => {
          if (!await confirmDialog(`Revoke “${t.name}”?`, 'Everything using this token, and every dashboard session signed in with it, stops working at once.', 'Revoke')) return;
          try { await api('DELETE', `/api/v1/tokens/${t.id}`); toast(`Revoked ${t.name}.`); await tokensSection(box); } catch (err) { toast(err.message); }
        }}, 'Revoke'))))))) : emptyState('No valid token.'),
    tokens.length > live.length ? h('p', {class: 'muted'}, `${tokens.length - live.length} revoked tokens are kept for the audit log.`) : null]);
}

async function keysSection(box) {
  let keys;
  try { keys = (await get('/api/v1/agent-keys')).json; } catch (e) { clear(box).append(h('p', {class: 'error'}, e.message)); return; }
  const list = keys.agent_keys || [];
  const name = h('input', {name: 'name', required: true, autocomplete: 'off'});
  const key = h('input', {name: 'public_key', autocomplete: 'off', class: 'mono'});
  const form = h('form', {class: 'row form', novalidate: true}, field('Name', name), field('Public key', key, 'The agent’s CurveZMQ public key, 40 Z85 characters (sluice-agent keygen makes a pair)'),
    h('button', {type: 'submit', class: 'primary'}, 'Add agent key'));
  form.addEventListener('submit', async e => {
    e.preventDefault(); clearFieldErrors(form);
    const body = {name: name.value.trim(), public_key: key.value.trim()};
    try {
      const {json} = await api('POST', '/api/v1/agent-keys', body);
      await keysSection(box);
      toast(`Added ${json.name}.`);
    } catch (err) { if (!showFieldError(form, err.field || 'name', err.message)) toast(err.message); }
  });
  clear(box).append(h('h2', {}, 'Agent keys'), form,
    list.length ? h('div', {class: 'table-wrap'}, h('table', {}, h('caption', {class: 'sr-only'}, 'Agent keys'),
      h('thead', {}, h('tr', {}, ['Name', 'Public key', 'Created', ''].map(t => h('th', {scope: 'col'}, t || h('span', {class: 'sr-only'}, 'Actions'))))),
      h('tbody', {}, list.filter(k => !k.revoked_at).map(k => h('tr', {}, h('td', {}, k.name), h('td', {class: 'mono'}, k.public_key),
        h('td', {}, h('time', {title: localTime(k.created_at)}, ago(k.created_at))),
        h('td', {}, h('button', {type: 'button', class: 'small danger', 'aria-label': `Revoke ${k.name}`, onclick: async () => {
          if (!await confirmDialog(`Revoke agent key “${k.name}”?`, 'The agent using it is cut off at once.', 'Revoke')) return;
          try { await api('DELETE', `/api/v1/agent-keys/${k.id}`); toast(`Revoked ${k.name}.`); await keysSection(box); } catch (err) { toast(err.message); }
        }}, 'Revoke'))))))) : emptyState('No agent key. Without keys, only agents on loopback can connect; add one per agent host.'));
}

export async function tokensPage(main, {can}) {
  document.title = 'Tokens and agent keys · Sluice';
  main.append(h('h1', {}, 'Tokens and agent keys'));
  if (!can('admin')) { main.append(emptyState('Only an admin manages tokens and agent keys.')); return; }
  const tokens = h('section', {class: 'card'}), keys = h('section', {class: 'card'});
  main.append(tokens, keys);
  await Promise.all([tokensSection(tokens), keysSection(keys)]);
}
