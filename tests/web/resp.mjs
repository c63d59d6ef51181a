// A tiny RESP2 client for the agent's Unix socket (SLUICE_AGENT_SOCKET):
// one connection, commands answered in order, every reply bounded in time.
// Enough for RL.CHECK (an array of integers), PING and RL.INFO.
import net from 'node:net';

const CRLF = '\r\n';

function encode(args) {
  let out = `*${args.length}${CRLF}`;
  for (const arg of args) {
    const s = String(arg);
    out += `$${Buffer.byteLength(s)}${CRLF}${s}${CRLF}`;
  }
  return out;
}

// One reply from buf at offset: [value, next offset], or null when more
// bytes are needed. An error reply is returned as an Error value.
function parse(buf, at) {
  const eol = buf.indexOf(CRLF, at);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[at]);
  const line = buf.toString('utf8', at + 1, eol);
  const next = eol + 2;
  if (type === '+') return [line, next];
  if (type === '-') return [new Error(line), next];
  if (type === ':') return [Number(line), next];
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return [null, next];
    if (buf.length < next + n + 2) return null;
    return [buf.toString('utf8', next, next + n), next + n + 2];
  }
  if (type === '*') {
    const items = [];
    let pos = next;
    for (let i = 0; i < Number(line); i++) {
      const one = parse(buf, pos);
      if (!one) return null;
      items.push(one[0]);
      pos = one[1];
    }
    return [items, pos];
  }
  throw new Error(`the agent sent a reply starting with ${JSON.stringify(type)}: RESP2 replies start with + - : $ or *`);
}

export class Resp {
  static async connect(path, timeoutMs = 5000) {
    const socket = net.createConnection(path);
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connection to the agent at ${path} within ${timeoutMs} ms`)), timeoutMs);
      socket.once('connect', () => { clearTimeout(timer); resolve(); });
      socket.once('error', e => { clearTimeout(timer); reject(e); });
    });
    return new Resp(socket, timeoutMs);
  }

  constructor(socket, timeoutMs) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    this.buf = Buffer.alloc(0);
    this.waiting = [];
    socket.on('data', data => { this.buf = Buffer.concat([this.buf, data]); this.drain(); });
    socket.on('error', e => { for (const w of this.waiting.splice(0)) w.reject(e); });
  }

  drain() {
    while (this.waiting.length) {
      const one = parse(this.buf, 0);
      if (!one) return;
      this.buf = this.buf.subarray(one[1]);
      const w = this.waiting.shift();
      clearTimeout(w.timer);
      if (one[0] instanceof Error) w.reject(one[0]); else w.resolve(one[0]);
    }
  }

  command(...args) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the agent did not answer ${args.join(' ')} within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.waiting.push({resolve, reject, timer});
      this.socket.write(encode(args));
    });
  }

  // RL.CHECK domain cost key value ... -> {allowed, limit, remaining, reset_after_ms, retry_after_ms}
  async check(domain, cost, descriptor) {
    const reply = await this.command('RL.CHECK', domain, cost, ...Object.entries(descriptor).flat());
    const [allowed, limit, remaining, resetAfterMs, retryAfterMs] = reply;
    return {allowed: allowed === 1, limit, remaining, reset_after_ms: resetAfterMs, retry_after_ms: retryAfterMs};
  }

  close() { this.socket.destroy(); }
}
