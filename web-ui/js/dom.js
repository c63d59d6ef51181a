// Small DOM helpers. Text always goes in as text nodes (never innerHTML),
// so nothing from the API can become markup.

// h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child, ...)
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let uid = 0;
// A labelled form field: {label, name, input element, hint}; the error
// slot (role=alert) is filled by showFieldError().
export function field(label, input, hint) {
  const id = input.id || `f${++uid}`;
  input.id = id;
  const error = h('p', {class: 'field-error', id: `${id}-error`, hidden: true});
  const hintEl = hint ? h('p', {class: 'hint', id: `${id}-hint`}, hint) : null;
  const described = [hintEl ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(' ');
  input.setAttribute('aria-describedby', described);
  return h('div', {class: 'field', dataset: {field: input.name || ''}},
    h('label', {for: id}, label), input, hintEl, error);
}

export function showFieldError(form, name, message) {
  const wrap = form.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
  if (!wrap) return false;
  const error = wrap.querySelector('.field-error');
  error.textContent = message;
  error.hidden = false;
  const input = wrap.querySelector('input, select, textarea');
  if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
  return true;
}

export function clearFieldErrors(form) {
  for (const error of form.querySelectorAll('.field-error')) { error.hidden = true; error.textContent = ''; }
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
}

export function toast(message) {
  const el = document.getElementById('toast');
  el.textContent = message;
  el.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove('show'), 4000);
}

// A modal confirmation built on <dialog>; resolves true or false.
export function confirmDialog(title, text, okLabel = 'Confirm') {
  return new Promise(resolve => {
    const ok = h('button', {type: 'button', class: 'danger'}, okLabel);
    const cancel = h('button', {type: 'button'}, 'Cancel');
    const dialog = h('dialog', {'aria-labelledby': 'dlg-title'},
      h('h2', {id: 'dlg-title'}, title), h('p', {}, text),
      h('div', {class: 'actions'}, cancel, ok));
    const done = value => { dialog.close(); dialog.remove(); resolve(value); };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    dialog.addEventListener('cancel', e => { e.preventDefault(); done(false); });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

export function emptyState(text, action) {
  return h('div', {class: 'empty'}, h('p', {}, text), action || null);
}
