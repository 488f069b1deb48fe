#!/usr/bin/env node
// WebSocket peer built on the Node `ws` library.
//
// It plays one scenario (tools/record/scenarios/NAME.json) as the client or the server and writes
// one JSON line per WebSocket message it sends or receives (the truth log, see ../README.md).
//
// Usage:
//   node peer.js --role server --scenario FILE --host ADDR --port N --log FILE
//   node peer.js --role client --scenario FILE --host ADDR --port N --log FILE [--resume FILE]
//
// The server prints "READY" on stdout once it listens, serves exactly the scenario's connections
// (one, or one per entry of `connections`), then exits. Both roles exit 0 when the scenario was
// played to the end and every connection is closed. At a `pause` step of its own, a peer prints
// "PAUSED" on stdout and waits until the file given with --resume exists.

'use strict';

const crypto = require('crypto');
const fs = require('fs');
const WebSocket = require('ws');
const { WebSocketServer, Sender } = WebSocket;

// How long a whole scenario may take before the peer gives up.
const WATCHDOG_MS = 30000;

// Text of a given size is this sentence repeated and cut (ASCII, so bytes equal characters).
const TEXT_PATTERN = 'The quick brown fox jumps over the lazy dog. ';

// Before a `pause`, the peer lets the connection go idle (delayed ACKs included) this long.
const PAUSE_SETTLE_MS = 300;

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

// The message a data step delivers to the other side: its type and its whole payload.
function expectedMessage(step) {
  if (step.send === 'fragments') {
    const parts = step.parts.filter((part) => part.ping === undefined);
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
  ws.on('close', () => inbox.push({ kind: 'closed' }));
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

async function perform(ws, inbox, step) {
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
    case 'fragments': {
      const dataParts = step.parts.filter((part) => part.ping === undefined);
      let sent = 0;
      for (const part of step.parts) {
        if (part.ping !== undefined) {
          await pingAndWait(ws, inbox, Buffer.from(part.ping, 'utf8'));
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
    default:
      fail(`unknown step ${JSON.stringify(step)}`);
  }
}

async function expect(inbox, step) {
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
    case 'close':
      await inbox.next('closed');
      break;
    default:
      fail(`unknown step ${JSON.stringify(step)}`);
  }
}

async function play(ws, inbox, steps) {
  for (const step of steps) {
    if (step.from === side) await perform(ws, inbox, step);
    else await expect(inbox, step);
  }
  check(ws.readyState === WebSocket.CLOSED, 'scenario ended without closing the connection');
}

function deflateOption() {
  // `threshold: 0` compresses every message; the default would leave short ones uncompressed.
  if (!scenario.deflate) return false;
  if (!scenario.deflate_no_context_takeover) return { threshold: 0 };
  return { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true };
}

// The scenario's connections as [request path, steps]: the `connections` list, or the one
// connection given by `path` and `steps`.
function connections() {
  if (scenario.connections !== undefined) return scenario.connections.map((c) => [c.path, c.steps]);
  return [[scenario.path || '/', scenario.steps]];
}

async function main() {
  setTimeout(() => fail('scenario timed out'), WATCHDOG_MS).unref();
  const port = Number(args.port);
  if (side === 'server') {
    const server = new WebSocketServer({
      host: args.host,
      port,
      perMessageDeflate: deflateOption(),
    });
    server.on('listening', () => process.stdout.write('READY\n'));
    const plan = new Map(connections());
    const games = [];
    await new Promise((resolve) => {
      server.on('connection', (socket, request) => {
        // The listeners go on inside the event handler, before any frame of the peer is read.
        const inbox = new Inbox();
        watch(socket, inbox, request.url);
        const steps = plan.get(request.url);
        check(steps !== undefined, `unexpected connection to ${request.url}`);
        plan.delete(request.url);
        games.push(play(socket, inbox, steps));
        if (plan.size === 0) resolve();
      });
    });
    await Promise.all(games);
    await new Promise((resolve) => server.close(resolve));
  } else {
    const host = args.host.includes(':') ? `[${args.host}]` : args.host;
    const one = async ([path, steps]) => {
      const ws = new WebSocket(`ws://${host}:${port}${path}`, { perMessageDeflate: deflateOption() });
      const inbox = new Inbox();
      await new Promise((resolve, reject) => {
        ws.once('open', () => {
          watch(ws, inbox, path);
          resolve();
        });
        ws.once('error', reject);
      });
      await play(ws, inbox, steps);
    };
    await Promise.all(connections().map(one));
  }
  fs.closeSync(logFile);
  process.exit(0);
}

main().catch((err) => fail(err.stack || String(err)));
