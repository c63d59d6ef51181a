// How long the dashboard takes to become usable with many rules: the
// rules list, a rule's page and the overview, each timed from navigation
// until its content is on screen (median of RUNS loads), in Debian's
// Chromium. Run on demand against a real stack:
//   /usr/bin/python3 tests/examples/run_with_stack.py --agent build/agent/sluice-agent \
//     --controller build/controller/sluice-controller -- \
//     node tests/bench/dashboard_load.mjs [RULES] [RUNS]
// (needs `npm ci --prefix tests/web`).
import {API, launch, open, signIn, api} from '../web/harness.mjs';

const RULES = Number(process.argv[2] || 1000);
const RUNS = Number(process.argv[3] || 5);

const rules = [];
for (let i = 0; i < RULES; i++) {
  rules.push({name: `bench-${String(i).padStart(5, '0')}`, domain: `d${i % 20}`,
    match: {route: `/r${i}`, client_id: '*'}, limit: 10 + i, period: '1s'});
}
const put = await api('PUT', '/api/v1/config', {rules});
if (put.status !== 200) throw new Error(`config: ${put.status} ${JSON.stringify(put.json)}`);
const some = (await api('GET', '/api/v1/rules')).json.rules[Math.floor(RULES / 2)];

const browser = await launch();
const {page} = await open(browser);
await signIn(page);
const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
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
const results = {
  rules: await time('#/rules', () => page.getByRole('link', {name: 'bench-00000', exact: true}).waitFor()),
  rule: await time(`#/rules/${some.id}`, async () => {
    await page.getByRole('heading', {name: 'Version history'}).waitFor();
    await page.waitForFunction(() => !document.querySelector('main').textContent.includes('Loading…'));
  }),
  overview: await time('#/', async () => {
    await page.getByRole('heading', {name: /Busiest rules/}).waitFor();
    await page.waitForFunction(() => !document.querySelector('main').textContent.includes('Loading…'));
  }),
};
for (const [name, xs] of Object.entries(results)) {
  console.log(`${name} page with ${RULES} rules: median ${median(xs)} ms (runs: ${xs.join(', ')} ms)`);
}
await browser.close();
