#!/usr/bin/env node
// The server of the `poll-vs-ws` capture: one Node `http` server that delivers the same stream
// of messages four ways, with the `ws` library attached to the same server for WebSocket.
//
// Usage:
//   node delivery.js --role server --scenario FILE --host ADDR --port N --log FILE
//
// The scenario's `delivery` object gives `messages` (how many), `interval_ms` (the pace) and
// `first_ms` (when the first message is produced). Each technique has a producer of its own,
// started by that technique's first request (or, for WebSocket, its connection), which creates
// message k = 1, 2, ... `first_ms + (k - 1) * interval_ms` milliseconds later:
//
//   {"seq":k,"sent":S,"text":"message k of N"}
//
// where S is the server's wall clock at that moment in milliseconds since the Unix epoch, with
// microseconds as three decimals. The four techniques, on one port:
//
//   GET /poll?after=N       short polling: answered at once with a JSON array of the messages
//                           whose seq is above N (`[]` when there is none); keep-alive
//   GET /long-poll?after=N  long polling: held until such a message exists, then answered alike
//   GET /events             Server-Sent Events: `text/event-stream`, one event (`id: k`, `data:`
//                           the message) per message as it is produced; the body (chunked, as
//                           Node frames a body of unknown length) ends after the last one
//   GET /ws (Upgrade)       WebSocket (`ws`, no compression): one text message per message as it
//                           is produced, then a close with 1000 `done`
//
// The server prints "READY" on stdout once it listens, and exits 0 once four connections (one
// per technique, as the client of tools/record/py/delivery.py opens them) have closed. It writes
// one JSON line per message produced and per HTTP request and response (../README.md,
// "Delivery truth log").

'use strict';

const fs = require('fs');
const http = require('http');
const { performance } = require('perf_hooks');
const { WebSocketServer } = require('ws');

// How long the whole plan may take before the server gives up.
const WATCHDOG_MS = 50000;

// One connection per technique.
const CONNECTIONS = 4;

function parseArgs(argv) {
  const args = {};
  for (let i = 2; i < argv.length; i += 2) {
    args[argv[i].replace(/^--/, '')] = argv[i + 1];
  }
  for (const key of ['role', 'scenario', 'host', 'port', 'log']) {
    if (args[key] === undefined) throw new Error(`missing --${key}`);
  }
  if (args.role !== 'server') throw new Error('delivery.js only plays the server');
  return args;
}

const args = parseArgs(process.argv);
const scenario = JSON.parse(fs.readFileSync(args.scenario, 'utf8'));
const plan = scenario.delivery;
const logFile = fs.openSync(args.log, 'w');

// The wall clock in microseconds since the Unix epoch, read from the high-resolution timer
// anchored at the process start (Date.now() only has milliseconds).
function wallMicros() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

// Writes one truth line; `t` is CLOCK_MONOTONIC in nanoseconds for the merge, which drops it.
function log(event, fields) {
  const line = { side: 'server', event, ...fields, t: process.hrtime.bigint().toString() };
  fs.writeSync(logFile, JSON.stringify(line) + '\n');
}

// The messages of one technique, produced at the plan's pace once started.
class Producer {
  constructor(technique) {
    this.technique = technique;
    this.messages = [];
    this.listeners = [];
    this.started = false;
  }

  start() {
    if (this.started) return;
    this.started = true;
    const origin = performance.now();
    const next = (seq) => {
      const due = origin + plan.first_ms + (seq - 1) * plan.interval_ms;
      setTimeout(() => {
        this.produce(seq);
        if (seq < plan.messages) next(seq + 1);
      }, Math.max(0, due - performance.now()));
    };
    next(1);
  }

  // Stamps the message and hands it to the techniques waiting for it before the truth line is
  // written, so that writing the log never delays a message on its way out.
  produce(seq) {
    const sent = wallMicros() / 1000;
    const json = JSON.stringify({ seq, sent, text: `message ${seq} of ${plan.messages}` });
    const message = { seq, sent, json };
    this.messages.push(message);
    for (const listener of [...this.listeners]) listener(message);
    log('produce', { technique: this.technique, seq, sent });
  }

  after(seq) {
    return this.messages.filter((message) => message.seq > seq);
  }

  get done() {
    return this.messages.length === plan.messages;
  }
}

const producers = {
  poll: new Producer('poll'),
  'long-poll': new Producer('long-poll'),
  sse: new Producer('sse'),
  websocket: new Producer('websocket'),
};

function answerJson(req, res, technique, messages) {
  const body = Buffer.from(`[${messages.map((m) => m.json).join(',')}]`, 'utf8');
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Content-Length': body.length,
    'Cache-Control': 'no-store',
  });
  res.end(body);
  log('response', { technique, path: req.url, status: 200, seqs: messages.map((m) => m.seq) });
}

function servePoll(req, res, after) {
  const producer = producers.poll;
  producer.start();
  answerJson(req, res, 'poll', producer.after(after));
}

function serveLongPoll(req, res, after) {
  const producer = producers['long-poll'];
  producer.start();
  const ready = producer.after(after);
  if (ready.length > 0) {
    answerJson(req, res, 'long-poll', ready);
    return;
  }
  const listener = () => {
    producer.listeners.splice(producer.listeners.indexOf(listener), 1);
    answerJson(req, res, 'long-poll', producer.after(after));
  };
  producer.listeners.push(listener);
}

function serveEvents(req, res) {
  const producer = producers.sse;
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  res.flushHeaders();
  const listener = (message) => {
    res.write(`id: ${message.seq}\ndata: ${message.json}\n\n`);
    if (producer.done) {
      producer.listeners.splice(producer.listeners.indexOf(listener), 1);
      log('response', {
        technique: 'sse',
        path: req.url,
        status: 200,
        seqs: producer.messages.map((m) => m.seq),
      });
      res.end();
    }
  };
  producer.listeners.push(listener);
  producer.start();
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://server');
  const after = Number(url.searchParams.get('after') || '0');
  const technique = { '/poll': 'poll', '/long-poll': 'long-poll', '/events': 'sse' }[url.pathname];
  if (technique === undefined || req.method !== 'GET') {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
    fail(`unexpected request ${req.method} ${req.url}`);
    return;
  }
  log('request', { technique, path: req.url });
  if (technique === 'poll') servePoll(req, res, after);
  else if (technique === 'long-poll') serveLongPoll(req, res, after);
  else serveEvents(req, res);
});

const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false });
wss.on('connection', (ws) => {
  const producer = producers.websocket;
  const listener = (message) => {
    ws.send(message.json);
    if (producer.done) {
      producer.listeners.splice(producer.listeners.indexOf(listener), 1);
      ws.close(1000, 'done');
    }
  };
  producer.listeners.push(listener);
  producer.start();
});

function fail(why) {
  process.stderr.write(`delivery.js: ${why}\n`);
  process.exit(1);
}

let closed = 0;
server.on('connection', (socket) => {
  socket.setNoDelay(true);
  socket.on('close', () => {
    closed += 1;
    if (closed === CONNECTIONS) {
      const unfinished = Object.values(producers).filter((p) => !p.done);
      if (unfinished.length > 0) fail(`unfinished: ${unfinished.map((p) => p.technique)}`);
      server.close();
      fs.closeSync(logFile);
      process.exit(0);
    }
  });
});

setTimeout(() => fail(`the plan did not finish within ${WATCHDOG_MS} ms`), WATCHDOG_MS).unref();
server.listen(Number(args.port), args.host, () => {
  process.stdout.write('READY\n');
});
