// How long each dashboard page takes to become usable in a large
// installation: RULES rules and DAYS days of per-minute usage for every one
// of them in PostgreSQL (written straight into usage_minute and usage_hour,
// plus a week of heaviest clients for the rule whose page is timed). Each
// page is timed from navigation until its content is on screen, RUNS
// times, in Debian's Chromium; a table of medians is printed at the end,
// with the machine's load average. Run on demand against a real stack
// (needs `npm ci --prefix tests/web` and psql):
//   /usr/bin/python3 tests/examples/run_with_stack.py --timeout 1200 \
//     --agent build/rel/agent/sluice-agent \
//     --controller build/rel/controller/sluice-controller -- \
//     node tests/bench/dashboard_load.mjs [RULES] [RUNS] [DAYS]
import {execFileSync} from 'node:child_process';
import os from 'node:os';
import {API, launch, open, signIn, api} from '../web/harness.mjs';

const RULES = Number(process.argv[2] || 1000);
const RUNS = Number(process.argv[3] || 5);
const DAYS = Number(process.argv[4] || 7);
const DB = process.env.SLUICE_DB;
if (!DB) throw new Error('SLUICE_DB is not set: run through tests/examples/run_with_stack.py, which sets it');

const psql = sql => execFileSync('psql', [DB, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', sql], {encoding: 'utf8'});

const rules = [];
for (let i = 0; i < RULES; i++) {
  rules.push({name: `bench-${String(i).padStart(5, '0')}`, domain: `d${i % 20}`,
    match: {route: `/r${i}`, client_id: '*'}, limit: 10 + i, period: '1s', mode: i % 7 ? 'enforce' : 'shadow'});
}
const put = await api('PUT', '/api/v1/config', {rules});
if (put.status !== 200) throw new Error(`config: ${put.status} ${JSON.stringify(put.json)}`);
const some = (await api('GET', '/api/v1/rules')).json.rules[Math.floor(RULES / 2)];

// Usage: every rule, every minute of the last DAYS days (some refusals),
// written minute by minute as the agents' reports arrive (so a window of
// minutes is a few pages of the table), the hours summed from the minutes,
// and the heaviest clients of `some` per minute (6 hours) and per hour.
const now = Math.floor(Date.now() / 60000) * 60000;
const minutes = DAYS * 1440;
const seeded = Date.now();
psql(`INSERT INTO usage_minute (rule_id, t_ms, allowed, refused, shadow_refused)
  SELECT r.id, ${now} - m * 60000, 50 + (r.id * 7919 + m * 104729) % 1000,
    CASE WHEN r.mode = 'shadow' THEN 0 ELSE (r.id * 31 + m * 17) % 40 END,
    CASE WHEN r.mode = 'shadow' THEN (r.id * 31 + m * 17) % 40 ELSE 0 END
  FROM generate_series(${minutes - 1}, 0, -1) AS m CROSS JOIN rules r`);
psql(`INSERT INTO usage_hour (rule_id, t_ms, allowed, refused, shadow_refused)
  SELECT rule_id, t_ms / 3600000 * 3600000, sum(allowed), sum(refused), sum(shadow_refused)
  FROM usage_minute GROUP BY 1, 2`);
const summary = `jsonb_build_object('capacity', 256, 'floor', 0, 'total', 5000, 'entries',
  (SELECT jsonb_agg(jsonb_build_array(jsonb_build_array(c::text)::text, 1000 - c * 10, 0, c)) FROM generate_series(1, 50) AS c))`;
for (const by of ['refused', 'allowed']) {
  psql(`INSERT INTO usage_top_minute (rule_id, t_ms, by, summary)
    SELECT ${some.id}, ${now} - m * 60000, '${by}', ${summary} FROM generate_series(0, 359) AS m`);
  psql(`INSERT INTO usage_top_hour (rule_id, t_ms, by, summary)
    SELECT ${some.id}, ${Math.floor(now / 3600000) * 3600000} - h * 3600000, '${by}', ${summary}
    FROM generate_series(0, ${DAYS * 24 - 1}) AS h`);
}
psql('ANALYZE');
const rows = psql('SELECT count(*) FROM usage_minute').trim();
console.log(`seeded ${rows} usage_minute rows (${RULES} rules, ${DAYS} days) in ${((Date.now() - seeded) / 1000).toFixed(0)} s`);

const browser = await launch();
const {page} = await open(browser);
await signIn(page);
const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const settled = () => page.waitForFunction(() => {
  const main = document.querySelector('main');
  return main.querySelector('h1') && !main.textContent.includes('Loading…');
});
async function time(hash, ready) {
  const samples = [];
  for (let i = 0; i < RUNS; i++) {
    await page.goto('about:blank');
    const t0 = Date.now();
    await page.goto(`${API}/${hash}`);
    await ready();
    samples.push(Date.now() - t0);
  }
  return samples;
}
const main = page.locator('main');
const PAGES = [
  ['overview', '#/', async () => { await main.getByRole('heading', {name: /Busiest rules/}).waitFor(); await main.locator('table').first().waitFor(); await settled(); }],
  ['rules list', '#/rules', () => main.getByRole('link', {name: 'bench-00000', exact: true}).waitFor()],
  ['rule page', `#/rules/${some.id}`, async () => {
    await main.getByRole('heading', {name: 'Version history'}).waitFor();
    await main.locator('svg').first().waitFor();
    await main.getByRole('table', {name: /Top clients by refused/}).waitFor();
    await settled();
  }],
  ['edit rule', `#/rules/${some.id}/edit`, () => page.waitForFunction(name => document.querySelector('main input[name=name]')?.value === name, some.name)],
  ['new rule', '#/rules/new', () => main.locator('input[name=name]').waitFor()],
  ['try', '#/try', () => main.getByRole('button', {name: 'Try it'}).waitFor()],
  ['agents', '#/agents', () => main.locator('table, .empty').first().waitFor()],
  ['tokens', '#/tokens', async () => { await main.getByRole('heading', {name: 'API tokens', exact: true}).waitFor(); await main.getByRole('heading', {name: 'Agent keys', exact: true}).waitFor(); }],
  ['audit', '#/audit', () => main.locator('ol.audit, .empty').first().waitFor()],
  ['config', '#/config', () => main.getByRole('link', {name: 'Download JSON'}).waitFor()],
];
const results = [];
for (const [name, hash, ready] of PAGES) {
  results.push([name, await time(hash, ready)]);
  console.log(`${name}: ${results.at(-1)[1].join(', ')} ms`);
}
await browser.close();

console.log(`\nDashboard pages with ${RULES} rules and ${DAYS} days of per-minute usage (${RUNS} loads each; load average ${os.loadavg().map(x => x.toFixed(2)).join(' ')})`);
console.log(`${'page'.padEnd(12)} ${'median ms'.padStart(9)}  runs (ms)`);
for (const [name, xs] of results) console.log(`${name.padEnd(12)} ${String(median(xs)).padStart(9)}  ${xs.join(', ')}`);
