#!/usr/bin/env node
// WebSocket peer built on the Node `ws` library.
//
// It plays one scenario (tools/record/scenarios/NAME.json) as the client or the server and writes
// one JSON line per WebSocket message it sends or receives (the truth log, see ../README.md).
//
// Usage:
//   node peer.js --role server --scenario FILE --host ADDR --port N --log FILE
//   node peer.js --role client --scenario FILE --host ADDR --port N --log FILE
//
// The server prints "READY" on stdout once it listens, serves exactly one connection, then exits.
// Both roles exit 0 when the scenario was played to the end and the connection is closed.

'use strict';

const crypto = require('crypto');
const fs = require('fs');
const WebSocket = require('ws');
const { WebSocketServer, Sender } = WebSocket;

// How long a whole scenario may take before the peer gives up.
const WATCHDOG_MS = 30000;

// Text of a given size is this sentence repeated and cut (ASCII, so bytes equal characters).
const TEXT_PATTERN = 'The quick brown fox jumps over the lazy dog. ';

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

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

// Writes one truth line. `t` is CLOCK_MONOTONIC in nanoseconds, shared with the Python peer, so
// the two logs can be merged in time order; the merge drops it.
function logMessage(event, opcode, payload, frames, closeCode, closeReason) {
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
let pendingFragments = null;
const originalSend = Sender.prototype.send;
Sender.prototype.send = function send(data, options, cb) {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  if (pendingFragments === null) {
    pendingFragments = { opcode: options.binary ? 'binary' : 'text', parts: [] };
  }
  pendingFragments.parts.push(bytes);
  if (options.fin) {
    const { opcode, parts } = pendingFragments;
    pendingFragments = null;
    logMessage('send', opcode, Buffer.concat(parts), parts.length);
  }
  return originalSend.call(this, data, options, cb);
};
for (const opcode of ['ping', 'pong']) {
  const original = Sender.prototype[opcode];
  Sender.prototype[opcode] = function control(data, mask, cb) {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    logMessage('send', opcode, bytes, 1);
    return original.call(this, data, mask, cb);
  };
}
const originalClose = Sender.prototype.close;
Sender.prototype.close = function close(code, data, mask, cb) {
  const reason = data === undefined ? '' : Buffer.from(data).toString('utf8');
  const body = closeBody(code, reason);
  logMessage('send', 'close', body, 1, code === undefined ? null : code, code === undefined ? null : reason);
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
function watch(ws, inbox) {
  const receiver = ws._receiver;
  receiver.prependListener('message', (data, isBinary) => {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data);
    logMessage('recv', isBinary ? 'binary' : 'text', bytes, null);
    inbox.push({ kind: 'message', type: isBinary ? 'binary' : 'text', data: bytes });
  });
  for (const kind of ['ping', 'pong']) {
    receiver.prependListener(kind, (data) => {
      logMessage('recv', kind, Buffer.from(data), 1);
      inbox.push({ kind, data: Buffer.from(data) });
    });
  }
  receiver.prependListener('conclude', (code, reason) => {
    const hasCode = code !== 1005;
    const text = Buffer.from(reason).toString('utf8');
    const body = hasCode ? closeBody(code, text) : Buffer.alloc(0);
    logMessage('recv', 'close', body, 1, hasCode ? code : null, hasCode ? text : null);
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

async function perform(ws, inbox, step) {
  switch (step.send) {
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

async function play(ws, inbox) {
  for (const step of scenario.steps) {
    if (step.from === side) await perform(ws, inbox, step);
    else await expect(inbox, step);
  }
  check(ws.readyState === WebSocket.CLOSED, 'scenario ended without closing the connection');
}

function deflateOption() {
  // `threshold: 0` compresses every message; the default would leave short ones uncompressed.
  return scenario.deflate ? { threshold: 0 } : false;
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
    // The listeners go on inside the event handler, before any frame of the peer is read.
    const inbox = new Inbox();
    const ws = await new Promise((resolve) => {
      server.once('connection', (socket) => {
        watch(socket, inbox);
        resolve(socket);
      });
    });
    await play(ws, inbox);
    await new Promise((resolve) => server.close(resolve));
  } else {
    const host = args.host.includes(':') ? `[${args.host}]` : args.host;
    const url = `ws://${host}:${port}${scenario.path || '/'}`;
    const ws = new WebSocket(url, { perMessageDeflate: deflateOption() });
    const inbox = new Inbox();
    await new Promise((resolve, reject) => {
      ws.once('open', () => {
        watch(ws, inbox);
        resolve();
      });
      ws.once('error', reject);
    });
    await play(ws, inbox);
  }
  fs.closeSync(logFile);
  process.exit(0);
}

main().catch((err) => fail(err.stack || String(err)));
