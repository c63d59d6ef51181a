// A second sluice-controller serving HTTPS, on the database of the stack
// that tests/examples/run_with_stack.py started (SLUICE_CONTROLLER_BIN,
// SLUICE_STACK_DB), with a throwaway self-signed certificate made by
// openssl. Every wait is bounded; stop() ends the process by its PID and
// removes the certificate.
import {execFileSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

async function freePort() {
  const server = net.createServer();
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  const {port} = server.address();
  await new Promise(resolve => server.close(resolve));
  return port;
}

// An HTTPS request that trusts only `ca`: {status, headers, body}.
export function httpsRequest(url, {method = 'GET', headers = {}, body, ca}) {
  return new Promise((resolve, reject) => {
    const request = https.request(url, {method, headers, ca, timeout: 5000}, response => {
      let text = '';
      response.on('data', chunk => { text += chunk; });
      response.on('end', () => resolve({status: response.statusCode, headers: response.headers, body: text}));
    });
    request.on('timeout', () => request.destroy(new Error(`${method} ${url}: no answer within 5 s`)));
    request.on('error', reject);
    request.end(body);
  });
}

export async function startTlsController({token}) {
  const bin = process.env.SLUICE_CONTROLLER_BIN, db = process.env.SLUICE_STACK_DB;
  if (!bin || !db) throw new Error('SLUICE_CONTROLLER_BIN and SLUICE_STACK_DB are not set: run through tests/examples/run_with_stack.py (ctest does)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-web-tls-'));
  const cert = path.join(dir, 'tls.crt'), key = path.join(dir, 'tls.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert], {stdio: 'ignore', timeout: 30000});
  const ca = fs.readFileSync(cert);
  const httpPort = await freePort(), agentsPort = await freePort();
  let log = '';
  const child = spawn(bin, ['--db', db, '--http', `127.0.0.1:${httpPort}`, '--agents', `tcp://127.0.0.1:${agentsPort}`,
    '--tls-cert', cert, '--tls-key', key], {env: {...process.env, SLUICE_ADMIN_TOKEN: token}, stdio: ['ignore', 'pipe', 'pipe']});
  child.stdout.on('data', d => { log += d; });
  child.stderr.on('data', d => { log += d; });
  const exited = new Promise(resolve => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => process.kill(child.pid, 'SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, {recursive: true, force: true});
  };
  const url = `https://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    if (child.exitCode !== null) { await stop(); throw new Error(`the HTTPS controller exited with ${child.exitCode}:\n${log}`); }
    try { if ((await httpsRequest(`${url}/readyz`, {ca})).status === 200) break; } catch (e) { /* not listening yet */ }
    if (Date.now() > deadline) { await stop(); throw new Error(`the HTTPS controller was not ready at ${url}/readyz within 30 s:\n${log}`); }
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  return {url, ca, stop, log: () => log};
}
