// Agents: every agent the controller knows, connected or not.
import {get} from '../api.js';
import {h, emptyState} from '../dom.js';
import {compact, ago, localTime} from '../format.js';

export async function agentsPage(main) {
  document.title = 'Agents · Sluice';
  main.append(h('h1', {}, 'Agents'));
  let agents;
  try { agents = (await get('/api/v1/agents')).json.agents || []; } catch (e) {
    main.append(emptyState(e.status === 404 ? 'This controller version does not list agents.' : e.message));
    return;
  }
  if (!agents.length) {
    main.append(emptyState('No agent has connected yet. Start sluice-agent with --controller pointing at this controller’s agent endpoint.'));
    return;
  }
  main.append(h('div', {class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Agents (scrolls sideways)'}, h('table', {},
    h('caption', {class: 'sr-only'}, 'Agents'),
    h('thead', {}, h('tr', {}, ['Agent', 'State', 'Last seen', 'Version', 'Rules version', 'Buckets', 'Leases'].map(t => h('th', {scope: 'col'}, t)))),
    h('tbody', {}, agents.map(a => h('tr', {},
      h('td', {class: 'mono'}, a.id), h('td', {}, h('span', {class: `pill ${a.connected ? 'on' : 'off'}`}, a.connected ? 'connected' : 'gone')),
      h('td', {}, h('time', {title: localTime(a.last_seen)}, ago(a.last_seen))), h('td', {}, a.version || '–'),
      h('td', {class: 'num'}, String(a.rules_version ?? '–')), h('td', {class: 'num'}, compact(a.buckets)),
      h('td', {class: 'num'}, compact(a.leases))))))));
}
