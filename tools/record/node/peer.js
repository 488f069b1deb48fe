#!/usr/bin/env node
// WebSocket peer built on the Node `ws` library.
//
// It plays one scenario (tools/record/scenarios/NAME.json) as the client or the server and writes
// one JSON line per WebSocket message it sends or receives (the truth log, see ../README.md).
//
// Usage:
//   node peer.js --role server --scenario FILE --host ADDR --port N --log FILE
//       [--tls-cert FILE --tls-key FILE] [--keylog FILE]
//   node peer.js --role client --scenario FILE --host ADDR --port N --log FILE [--resume FILE]
//       [--tls-ca FILE] [--keylog FILE] [--proxy-host ADDR]
//
// With a `tls` object in the scenario the server speaks TLS (an `https` server) with the given
// certificate and key, and the client trusts the certificate authority file, sends the
// scenario's `server_name` as SNI and offers its `alpn` protocols; `--keylog` writes the TLS
// secrets in the SSLKEYLOGFILE format.
//
// A connection with a `proxy` goes through the HTTP forward proxy at `--proxy-host` and the
// entry's proxy port: the client opens a TCP connection to the proxy, sends
// `CONNECT HOST:PORT HTTP/1.1` for the server, waits for a 2xx answer, and then runs the
// WebSocket handshake and the conversation over that same socket (the tunnel), which it hands
// to `ws` through the `createConnection` option.
//
// The server prints "READY" on stdout once it listens, serves exactly the scenario's connections
// (one, or one per entry of `connections`), then exits. Both roles exit 0 when the scenario was
// played to the end and every connection is closed. At a `pause` step of its own, a peer prints
// "PAUSED" on stdout and waits until the file given with --resume exists.

'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const net = require('net');
const https = require('https');
const WebSocket = require('ws');
const { WebSocketServer, Sender } = WebSocket;

// How long a whole scenario may take before the peer gives up.
const WATCHDOG_MS = 30000;

// Text of a given size is this sentence repeated and cut (ASCII, so bytes equal characters).
const TEXT_PATTERN = 'The quick brown fox jumps over the lazy dog. ';

// Before a `pause`, the peer lets the connection go idle (delayed ACKs included) this long.
const PAUSE_SETTLE_MS = 300;

// With `"sequential": true`, the client waits this long after a connection before it opens the
// next, so that the last FIN and ACK of one are in the capture before the SYN of the next.
const SEQUENTIAL_GAP_MS = 50;

// The close code a library reports when the connection ended without a closing handshake
// (RFC 6455, 7.1.5); it never appears on the wire.
const ABNORMAL_CLOSURE = 1006;

// The Sec-WebSocket-Version a server names when it refuses a client's version with
// `426 Upgrade Required` (RFC 6455, 4.4).
const SERVER_VERSION = '13';

// The longest answer head a client reads from a proxy.
const MAX_PROXY_HEAD = 8 * 1024;

// Event names of the actions that JSON lines generated with `"pattern": "json"` describe.
const JSON_EVENTS = ['join', 'move', 'chat', 'leave'];

function parseArgs(argv) {
  const args = {};
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    args[key] = argv[i + 1];
  }
  for (const key of ['role', 'scenario', 'host', 'port', 'log']) {
    if (args[key] === undefined) throw new Error(`missing --${key}`);
  }
  return args;
}

// Returns the bytes that a step or a fragment part stands for, as the library will send them.
function payloadOf(spec, type) {
  if (spec.data !== undefined) return Buffer.from(spec.data, 'utf8');
  if (spec.hex !== undefined) return Buffer.from(spec.hex, 'hex');
  if (spec.size !== undefined) {
    if (spec.seed !== undefined) return pseudoRandom(spec.seed, spec.size, type);
    if (spec.pattern === 'json') return jsonLines(spec.size);
    if (type === 'text') {
      const repeats = Math.ceil(spec.size / TEXT_PATTERN.length) + 1;
      return Buffer.from(TEXT_PATTERN.repeat(repeats).slice(0, spec.size), 'ascii');
    }
    const bytes = Buffer.alloc(spec.size);
    for (let i = 0; i < spec.size; i++) bytes[i] = i % 256;
    return bytes;
  }
  return Buffer.alloc(0);
}

// Incompressible payload: SHA-256 of "SEED:0", "SEED:1", ... concatenated and cut to `size`
// bytes; as text, the lowercase hex digits of those bytes, cut to `size` characters.
function pseudoRandom(seed, size, type) {
  const blocks = [];
  let produced = 0;
  for (let counter = 0; produced < size; counter++) {
    const digest = crypto.createHash('sha256').update(`${seed}:${counter}`, 'ascii').digest();
    const block = type === 'text' ? Buffer.from(digest.toString('hex'), 'ascii') : digest;
    blocks.push(block);
    produced += block.length;
  }
  return Buffer.concat(blocks).subarray(0, size);
}

// Compressible text that looks like a log of JSON records: one line per record N = 0, 1, ...,
// `{"seq":N,"user":"user-(N % 7)","event":E,"value":(N * 7919) % 10000}` and a line feed, with E
// cycling through JSON_EVENTS, joined and cut to `size` bytes.
function jsonLines(size) {
  const lines = [];
  let produced = 0;
  for (let n = 0; produced < size; n++) {
    const event = JSON_EVENTS[n % JSON_EVENTS.length];
    const line = `{"seq":${n},"user":"user-${n % 7}","event":"${event}","value":${(n * 7919) % 10000}}\n`;
    lines.push(line);
    produced += line.length;
  }
  return Buffer.from(lines.join('').slice(0, size), 'ascii');
}

// Whether a part of a `fragments` step is a fragment (not a ping or a pause between two).
function isDataPart(part) {
  return part.ping === undefined && part.sleep === undefined;
}

// The message a data step delivers to the other side: its type and its whole payload.
function expectedMessage(step) {
  if (step.send === 'fragments') {
    const parts = step.parts.filter(isDataPart);
    return { type: step.type, payload: Buffer.concat(parts.map((p) => payloadOf(p, step.type))) };
  }
  return { type: step.send, payload: payloadOf(step, step.send) };
}

const args = parseArgs(process.argv);
const scenario = JSON.parse(fs.readFileSync(args.scenario, 'utf8'));
const side = args.role;
const logFile = fs.openSync(args.log, 'w');
// With several connections, each truth line names its connection by request path (`conn`).
const tagConnections = scenario.connections !== undefined;

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

// Writes one truth line. `t` is CLOCK_MONOTONIC in nanoseconds, shared with the Python peer, so
// the two logs can be merged in time order; the merge drops it.
function logMessage(conn, event, opcode, payload, frames, closeCode, closeReason) {
  const towardsServer = (side === 'client') === (event === 'send');
  const line = {
    side,
    event,
    dir: towardsServer ? 'c2s' : 's2c',
    opcode,
    length: payload.length,
    sha256: sha256(payload),
    close_code: closeCode === undefined ? null : closeCode,
    close_reason: closeReason === undefined ? null : closeReason,
    frames,
    t: process.hrtime.bigint().toString(),
  };
  if (tagConnections) line.conn = conn;
  fs.writeSync(logFile, JSON.stringify(line) + '\n');
}

// Writes a line that is not a message (a failed handshake, an abort, a connection closed without a
// closing handshake; see ../README.md) for the connection with request path `conn`.
function logEvent(conn, event, fields) {
  const line = { side, event, ...fields, t: process.hrtime.bigint().toString() };
  if (tagConnections) line.conn = conn;
  fs.writeSync(logFile, JSON.stringify(line) + '\n');
}

function closeBody(code, reason) {
  if (code === undefined) return Buffer.alloc(0);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  return Buffer.concat([head, Buffer.from(reason || '', 'utf8')]);
}

// Every frame `ws` sends goes through its Sender, including the pongs it answers pings with and
// the close frame it echoes, so wrapping the Sender methods logs exactly what goes on the wire.
// Each connection's Sender is mapped to its request path and its message being sent in fragments.
const senders = new WeakMap();
function senderState(sender) {
  let state = senders.get(sender);
  if (state === undefined) {
    state = { conn: null, pendingFragments: null };
    senders.set(sender, state);
  }
  return state;
}
const originalSend = Sender.prototype.send;
Sender.prototype.send = function send(data, options, cb) {
  const state = senderState(this);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  if (state.pendingFragments === null) {
    state.pendingFragments = { opcode: options.binary ? 'binary' : 'text', parts: [] };
  }
  state.pendingFragments.parts.push(bytes);
  if (options.fin) {
    const { opcode, parts } = state.pendingFragments;
    state.pendingFragments = null;
    logMessage(state.conn, 'send', opcode, Buffer.concat(parts), parts.length);
  }
  return originalSend.call(this, data, options, cb);
};
for (const opcode of ['ping', 'pong']) {
  const original = Sender.prototype[opcode];
  Sender.prototype[opcode] = function control(data, mask, cb) {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    logMessage(senderState(this).conn, 'send', opcode, bytes, 1);
    return original.call(this, data, mask, cb);
  };
}
const originalClose = Sender.prototype.close;
Sender.prototype.close = function close(code, data, mask, cb) {
  const reason = data === undefined ? '' : Buffer.from(data).toString('utf8');
  const body = closeBody(code, reason);
  const conn = senderState(this).conn;
  logMessage(conn, 'send', 'close', body, 1, code === undefined ? null : code, code === undefined ? null : reason);
  return originalClose.call(this, code, data, mask, cb);
};

// Queue of received events that the scenario waits on, in arrival order.
class Inbox {
  constructor() {
    this.events = [];
    this.waiters = [];
  }

  push(event) {
    this.events.push(event);
    this.wake();
  }

  wake() {
    for (const waiter of [...this.waiters]) {
      const index = this.events.findIndex((e) => e.kind === waiter.kind);
      if (index >= 0) {
        const [event] = this.events.splice(index, 1);
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  }

  next(kind) {
    return new Promise((resolve) => {
      this.waiters.push({ kind, resolve });
      this.wake();
    });
  }
}

// Listens to the socket's frame receiver. `prependListener` puts the log line before the reaction
// of `ws` itself (the automatic pong, the echoed close), so the log keeps the causal order.
// `conn` is the connection's request path; the Sender (`ws._sender`, a private field) learns it
// here, before the connection sends anything.
function watch(ws, inbox, conn) {
  senderState(ws._sender).conn = conn;
  const receiver = ws._receiver;
  receiver.prependListener('message', (data, isBinary) => {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data);
    logMessage(conn, 'recv', isBinary ? 'binary' : 'text', bytes, null);
    inbox.push({ kind: 'message', type: isBinary ? 'binary' : 'text', data: bytes });
  });
  for (const kind of ['ping', 'pong']) {
    receiver.prependListener(kind, (data) => {
      logMessage(conn, 'recv', kind, Buffer.from(data), 1);
      inbox.push({ kind, data: Buffer.from(data) });
    });
  }
  receiver.prependListener('conclude', (code, reason) => {
    const hasCode = code !== 1005;
    const text = Buffer.from(reason).toString('utf8');
    const body = hasCode ? closeBody(code, text) : Buffer.alloc(0);
    logMessage(conn, 'recv', 'close', body, 1, hasCode ? code : null, hasCode ? text : null);
  });
  ws.on('close', (code) => inbox.push({ kind: 'closed', code }));
  ws.on('error', (err) => fail(`websocket error: ${err.message}`));
}

function fail(message) {
  process.stderr.write(`peer.js (${side}): ${message}\n`);
  process.exit(1);
}

function check(condition, message) {
  if (!condition) fail(message);
}

async function pingAndWait(ws, inbox, payload) {
  ws.ping(payload);
  const pong = await inbox.next('pong');
  check(pong.data.equals(payload), 'pong payload differs from ping payload');
}

// Lets the connection go idle, says so, and waits until the recorder says to go on.
async function pause() {
  await new Promise((resolve) => setTimeout(resolve, PAUSE_SETTLE_MS));
  process.stdout.write('PAUSED\n');
  check(args.resume !== undefined, 'a pause step needs --resume FILE');
  while (!fs.existsSync(args.resume)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Drops the TCP connection without a closing handshake: `terminate()` destroys the socket, which
// sends a FIN (`how` "fin"); `resetAndDestroy()` on the socket (`ws._socket`, a private field)
// makes the kernel send a RST instead (`how` "rst").
async function abort(ws, inbox, conn, how) {
  check(how === 'fin' || how === 'rst', `unknown abort kind ${how}`);
  logEvent(conn, 'abort', { how });
  if (how === 'rst') ws._socket.resetAndDestroy();
  else ws.terminate();
  await inbox.next('closed');
}

async function perform(ws, inbox, step, conn) {
  switch (step.send) {
    case 'pause':
      await pause();
      break;
    case 'sleep':
      await new Promise((resolve) => setTimeout(resolve, step.ms));
      break;
    case 'text':
      ws.send(payloadOf(step, 'text').toString('utf8'));
      break;
    case 'binary':
      ws.send(payloadOf(step, 'binary'), { binary: true });
      break;
    case 'ping':
      await pingAndWait(ws, inbox, payloadOf(step, 'binary'));
      break;
    case 'pong':
      // An unsolicited pong (RFC 6455, 5.5.3): a heartbeat that expects no answer.
      ws.pong(payloadOf(step, 'binary'));
      break;
    case 'fragments': {
      const dataParts = step.parts.filter(isDataPart);
      let sent = 0;
      for (const part of step.parts) {
        if (part.ping !== undefined) {
          await pingAndWait(ws, inbox, Buffer.from(part.ping, 'utf8'));
          continue;
        }
        if (part.sleep !== undefined) {
          await new Promise((resolve) => setTimeout(resolve, part.sleep));
          continue;
        }
        sent += 1;
        const bytes = payloadOf(part, step.type);
        const data = step.type === 'text' ? bytes.toString('utf8') : bytes;
        ws.send(data, { binary: step.type === 'binary', fin: sent === dataParts.length });
      }
      break;
    }
    case 'close':
      ws.close(step.code, step.reason);
      await inbox.next('closed');
      break;
    case 'abort':
      await abort(ws, inbox, conn, step.how || 'fin');
      break;
    default:
      fail(`unknown step ${JSON.stringify(step)}`);
  }
}

async function expect(inbox, step, conn) {
  switch (step.send) {
    case 'pause':
    case 'sleep':
      // Only the side that performs them waits.
      break;
    case 'text':
    case 'binary':
    case 'fragments': {
      const want = expectedMessage(step);
      const got = await inbox.next('message');
      check(got.type === want.type, `expected a ${want.type} message, got ${got.type}`);
      check(got.data.equals(want.payload), `payload of ${want.type} message differs from scenario`);
      break;
    }
    case 'ping': {
      const got = await inbox.next('ping');
      check(got.data.equals(payloadOf(step, 'binary')), 'ping payload differs from scenario');
      break;
    }
    case 'pong': {
      const got = await inbox.next('pong');
      check(got.data.equals(payloadOf(step, 'binary')), 'pong payload differs from scenario');
      break;
    }
    case 'close':
      await inbox.next('closed');
      break;
    case 'abort': {
      // The other side drops the connection: the library reports the abnormal closure.
      const { code } = await inbox.next('closed');
      logEvent(conn, 'closed', { close_code: code });
      check(code === ABNORMAL_CLOSURE, `closed with ${code}, expected 1006`);
      break;
    }
    default:
      fail(`unknown step ${JSON.stringify(step)}`);
  }
}

async function play(ws, inbox, steps, conn) {
  for (const step of steps) {
    if (step.from === side) await perform(ws, inbox, step, conn);
    else await expect(inbox, step, conn);
  }
  check(ws.readyState === WebSocket.CLOSED, 'scenario ended without closing the connection');
}

function deflateOption() {
  // `threshold: 0` compresses every message; the default would leave short ones uncompressed.
  if (!scenario.deflate) return false;
  if (!scenario.deflate_no_context_takeover) return { threshold: 0 };
  return { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true };
}

// The scenario's connections: the `connections` list, or the one connection given by `path` and
// `steps`. Each is { path, steps, port (null: the scenario's port), handshake (null: the handshake
// succeeds; else the failure the scenario expects), version (the Sec-WebSocket-Version the client
// offers), proxy (null: direct; else { port } of the forward proxy to tunnel through) }.
function connections() {
  const entries = scenario.connections || [{ path: scenario.path || '/', steps: scenario.steps }];
  return entries.map((c) => ({
    path: c.path,
    steps: c.steps || [],
    port: c.port === undefined ? null : c.port,
    handshake: c.handshake === undefined ? null : c.handshake,
    version: c.version === undefined ? 13 : c.version,
    proxy: c.proxy === undefined ? null : c.proxy,
  }));
}

// The subprotocols the client offers and the server accepts (`subprotocols` in the scenario).
function subprotocols() {
  return scenario.subprotocols || [];
}

// The subprotocol both sides must agree on: the first one offered, or '' without any.
function expectedSubprotocol() {
  return subprotocols().length > 0 ? subprotocols()[0] : '';
}

// Opens a TCP connection to the proxy and asks it for a tunnel to `target` (`HOST:PORT`) with
// `CONNECT`; resolves to the socket once a 2xx answer head has been read, and logs a `tunnel` line.
function tunnel(conn, proxyHost, proxyPort, target) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxyPort, proxyHost);
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_PROXY_HEAD) reject(new Error('proxy answer head too long'));
        return;
      }
      socket.removeListener('data', onData);
      socket.removeListener('error', reject);
      socket.pause();
      const status = /^HTTP\/1\.[01] (\d{3}) /.exec(head.subarray(0, end).toString('latin1'));
      if (status === null) {
        reject(new Error('the proxy answered with something other than HTTP'));
        return;
      }
      logEvent(conn, 'tunnel', { target, status: Number(status[1]) });
      if (!status[1].startsWith('2')) {
        reject(new Error(`the proxy refused the tunnel with ${status[1]}`));
        return;
      }
      if (end + 4 !== head.length) {
        reject(new Error('bytes from the server before the client spoke'));
        return;
      }
      resolve(socket);
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.once('connect', () => {
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    });
  });
}

function sameHandshake(got, want) {
  return want !== null && JSON.stringify(got) === JSON.stringify(want);
}

// The TLS secrets of a TLS socket, appended to --keylog in the SSLKEYLOGFILE format.
function logKeys(line) {
  fs.appendFileSync(args.keylog, line);
}

async function runServer(port) {
  // This server plays the connections to its port; a connection to another port is served by
  // another program (py/bad_accept.py).
  const plan = new Map(
    connections()
      .filter((c) => c.port === null || c.port === port)
      .map((c) => [c.path, c]),
  );
  let remaining = plan.size;
  let allDone;
  const done = new Promise((resolve) => {
    allDone = resolve;
  });
  const finished = () => {
    remaining -= 1;
    if (remaining === 0) allDone();
  };
  // Refuses the Upgrade of a connection whose scenario says so, with its status code; `ws`
  // writes the response, ends the socket and destroys it.
  const verifyClient = (info, cb) => {
    const entry = plan.get(info.req.url);
    if (entry === undefined || entry.handshake === null) {
      cb(true);
      return;
    }
    plan.delete(info.req.url);
    check(entry.handshake.result === 'refused', `${entry.path}: this server can only refuse a handshake`);
    const status = entry.handshake.status;
    logEvent(entry.path, 'handshake', { result: 'refused', status });
    info.req.socket.once('close', finished);
    // A 426 names the version this server speaks (RFC 6455, 4.4).
    const headers = status === 426 ? { 'Sec-WebSocket-Version': SERVER_VERSION } : undefined;
    cb(false, status, undefined, headers);
  };
  // Accepts the first offered subprotocol the scenario lists; none without `subprotocols`.
  const handleProtocols = (offered) => subprotocols().find((p) => offered.has(p)) || false;
  let web = null;
  let server;
  if (scenario.tls) {
    web = https.createServer({
      cert: fs.readFileSync(args['tls-cert']),
      key: fs.readFileSync(args['tls-key']),
      ALPNProtocols: scenario.tls.alpn || ['http/1.1'],
    });
    if (args.keylog !== undefined) web.on('keylog', logKeys);
    server = new WebSocketServer({ server: web, perMessageDeflate: deflateOption(), verifyClient, handleProtocols });
    web.listen(port, args.host, () => process.stdout.write('READY\n'));
  } else {
    server = new WebSocketServer({
      host: args.host,
      port,
      perMessageDeflate: deflateOption(),
      verifyClient,
      handleProtocols,
    });
    server.on('listening', () => process.stdout.write('READY\n'));
  }
  const games = [];
  server.on('connection', (socket, request) => {
    // The listeners go on inside the event handler, before any frame of the peer is read.
    const inbox = new Inbox();
    watch(socket, inbox, request.url);
    const entry = plan.get(request.url);
    check(entry !== undefined, `unexpected connection to ${request.url}`);
    check(socket.protocol === expectedSubprotocol(), `subprotocol '${socket.protocol}' accepted`);
    plan.delete(request.url);
    games.push(play(socket, inbox, entry.steps, entry.path).then(finished));
  });
  await done;
  await Promise.all(games);
  await new Promise((resolve) => server.close(resolve));
  if (web !== null) await new Promise((resolve) => web.close(resolve));
}

async function runClient(port) {
  const host = args.host.includes(':') ? `[${args.host}]` : args.host;
  const tls = {};
  if (scenario.tls) {
    tls.ca = fs.readFileSync(args['tls-ca']);
    tls.servername = scenario.tls.server_name;
    tls.ALPNProtocols = scenario.tls.alpn || ['http/1.1'];
  }
  const scheme = scenario.tls ? 'wss' : 'ws';
  const one = async ({ path, steps, port: own, handshake, version, proxy }) => {
    const authority = `${host}:${own === null ? port : own}`;
    const url = `${scheme}://${authority}${path}`;
    const options = { perMessageDeflate: deflateOption(), protocolVersion: version, ...tls };
    if (proxy !== null) {
      check(args['proxy-host'] !== undefined, `${path}: a connection through a proxy needs --proxy-host`);
      check(!scenario.tls, `${path}: TLS through a proxy is not supported`);
      const socket = await tunnel(path, args['proxy-host'], proxy.port, authority);
      // The tunnel was paused after the proxy's answer; `ws` reads it from here on.
      options.createConnection = () => socket.resume();
    }
    const ws = new WebSocket(url, subprotocols(), options);
    if (scenario.tls && args.keylog !== undefined) {
      ws._req.on('socket', (socket) => socket.on('keylog', logKeys));
    }
    const inbox = new Inbox();
    // The 101 response, which `ws` shows before it checks Sec-WebSocket-Accept.
    let upgrade = null;
    ws.once('upgrade', (response) => {
      upgrade = response;
    });
    const opened = await new Promise((resolve) => {
      ws.once('open', () => {
        watch(ws, inbox, path);
        check(ws.protocol === expectedSubprotocol(), `subprotocol '${ws.protocol}' selected`);
        resolve(true);
      });
      ws.once('error', (err) => {
        // A failed handshake is an error before 'open'; the scenario says whether it is expected.
        const refused = /^Unexpected server response: (\d+)$/.exec(err.message);
        if (refused !== null) {
          const got = { result: 'refused', status: Number(refused[1]) };
          logEvent(path, 'handshake', got);
          check(sameHandshake(got, handshake), `${path}: handshake refused with ${got.status}`);
        } else if (err.message === 'Invalid Sec-WebSocket-Accept header') {
          const accept = upgrade.headers['sec-websocket-accept'];
          logEvent(path, 'handshake', { result: 'wrong-accept', status: upgrade.statusCode, accept });
          check(sameHandshake({ result: 'wrong-accept' }, handshake), `${path}: wrong Sec-WebSocket-Accept`);
        } else {
          fail(`websocket error: ${err.message}`);
        }
        resolve(false);
      });
    });
    if (!opened) return;
    check(handshake === null, `${path}: handshake succeeded, the scenario expects ${JSON.stringify(handshake)}`);
    await play(ws, inbox, steps, path);
  };
  if (scenario.sequential) {
    for (const [number, entry] of connections().entries()) {
      if (number > 0) await new Promise((resolve) => setTimeout(resolve, SEQUENTIAL_GAP_MS));
      await one(entry);
    }
  } else {
    await Promise.all(connections().map(one));
  }
}

async function main() {
  setTimeout(() => fail('scenario timed out'), WATCHDOG_MS).unref();
  const port = Number(args.port);
  if (side === 'server') await runServer(port);
  else await runClient(port);
  fs.closeSync(logFile);
  process.exit(0);
}

main().catch((err) => fail(err.stack || String(err)));
