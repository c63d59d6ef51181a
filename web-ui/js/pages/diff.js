// A before/after table of changed fields (for history and audit).
import {h} from '../dom.js';

const show = v => (v === undefined || v === null ? '–' : typeof v === 'object' ? JSON.stringify(v) : String(v));

export function diffTable(before, after, keys) {
  const names = keys || [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])];
  const rows = names.map(k => {
    const a = before ? before[k] : undefined, b = after ? after[k] : undefined;
    const changed = show(a) !== show(b);
    return h('tr', {class: changed ? 'changed' : ''}, h('th', {scope: 'row'}, k),
      h('td', {class: 'mono before'}, show(a)), h('td', {class: 'mono after'}, show(b)));
  });
  return h('table', {class: 'diff'}, h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Field'),
    h('th', {scope: 'col'}, 'Before'), h('th', {scope: 'col'}, 'After'))), h('tbody', {}, rows));
}
