// Sign-in: an API token exchanged for the session cookie.
import {api} from '../api.js';
import {h, field, showFieldError, clearFieldErrors} from '../dom.js';

export function signInPage(main, onSignedIn) {
  const input = h('input', {type: 'password', name: 'token', autocomplete: 'current-password', required: true, spellcheck: 'false'});
  const form = h('form', {class: 'card narrow', novalidate: true},
    h('h1', {}, 'Sign in to Sluice'),
    h('p', {}, 'Paste an API token. An admin creates tokens on the Tokens page; the first admin token is printed once when the controller first starts (or set with SLUICE_ADMIN_TOKEN).'),
    field('API token', input),
    h('button', {type: 'submit', class: 'primary'}, 'Sign in'));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    clearFieldErrors(form);
    if (!input.value.trim()) { showFieldError(form, 'token', 'Paste an API token.'); return; }
    try {
      await api('POST', '/api/v1/session', {token: input.value.trim()});
      input.value = '';
      onSignedIn();
    } catch (err) {
      showFieldError(form, 'token', err.status === 401 ? 'This token is unknown or revoked.' : err.message);
    }
  });
  main.append(form);
  input.focus();
}
