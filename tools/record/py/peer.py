#!/usr/bin/env python3
"""WebSocket peer built on the Python `websockets` library (asyncio API).

It plays one scenario (tools/record/scenarios/NAME.json) as the client or the server and writes
one JSON line per WebSocket message it sends or receives (the truth log, see ../README.md).

Usage:
    peer.py --role server --scenario FILE --host ADDR --port N --log FILE
        [--tls-cert FILE --tls-key FILE] [--keylog FILE]
    peer.py --role client --scenario FILE --host ADDR --port N --log FILE [--resume FILE]
        [--tls-ca FILE] [--keylog FILE] [--proxy-host ADDR]

With a `tls` object in the scenario the server speaks TLS with the given certificate and key,
and the client trusts the certificate authority file, sends the scenario's `server_name` as SNI
and offers its `alpn` protocols; `--keylog` writes the TLS secrets in the SSLKEYLOGFILE format.

A connection with a `proxy` goes through the HTTP forward proxy at `--proxy-host` and the entry's
proxy port: the client opens a TCP connection to the proxy, sends `CONNECT HOST:PORT HTTP/1.1`
for the server, waits for a 2xx answer, and then runs the WebSocket handshake and the conversation
over that same socket (the tunnel), which it hands to `connect(sock=...)`.

The server prints "READY" on stdout once it listens, serves exactly the scenario's connections
(one, or one per entry of `connections`), then exits. Both roles exit 0 when the scenario was
played to the end and every connection is closed. At a `pause` step of its own, a peer prints
"PAUSED" on stdout and waits until the file given with --resume exists.
"""

import argparse
import asyncio
import hashlib
import http
import json
import os
import socket
import ssl
import struct
import sys
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHeaderValue, InvalidStatus
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Close, Opcode

# How long a whole scenario may take before the peer gives up.
WATCHDOG_SECONDS = 30

# Text of a given size is this sentence repeated and cut (ASCII, so bytes equal characters).
TEXT_PATTERN = "The quick brown fox jumps over the lazy dog. "

# Before a `pause`, the peer lets the connection go idle (delayed ACKs included) this long.
PAUSE_SETTLE_SECONDS = 0.3

# Largest message accepted. The library's default, 1 MiB, is exactly the size of the largest
# scenario messages, and with permessage-deflate its check stops the inflater at that limit, which
# can leave input unread and refuse a message of exactly 1 MiB; 16 MiB leaves room.
MAX_MESSAGE_SIZE = 16 * 2**20

# With `"sequential": true`, the client waits this long after a connection before it opens the
# next, so that the last FIN and ACK of one are in the capture before the SYN of the next.
SEQUENTIAL_GAP_SECONDS = 0.05

# The close code a library reports when the connection ended without a closing handshake
# (RFC 6455, 7.1.5); it never appears on the wire.
ABNORMAL_CLOSURE = 1006

# The Sec-WebSocket-Version a server names when it refuses a client's version with
# `426 Upgrade Required` (RFC 6455, 4.4).
SERVER_VERSION = "13"

# The longest answer head a client reads from a proxy.
MAX_PROXY_HEAD = 8 * 1024

# Event names of the actions that JSON lines generated with `"pattern": "json"` describe.
JSON_EVENTS = ["join", "move", "chat", "leave"]

OPCODE_NAMES = {
    Opcode.TEXT: "text",
    Opcode.BINARY: "binary",
    Opcode.PING: "ping",
    Opcode.PONG: "pong",
    Opcode.CLOSE: "close",
}


def payload_of(spec, kind):
    """Returns the bytes that a step or a fragment part stands for."""
    if "data" in spec:
        return spec["data"].encode("utf-8")
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    if "size" in spec:
        size = spec["size"]
        if "seed" in spec:
            return pseudo_random(spec["seed"], size, kind)
        if spec.get("pattern") == "json":
            return json_lines(size)
        if kind == "text":
            repeats = size // len(TEXT_PATTERN) + 2
            return (TEXT_PATTERN * repeats)[:size].encode("ascii")
        return bytes(i % 256 for i in range(size))
    return b""


def pseudo_random(seed, size, kind):
    """Incompressible payload: SHA-256 of "SEED:0", "SEED:1", ... concatenated and cut to `size`
    bytes; as text, the lowercase hex digits of those bytes, cut to `size` characters."""
    blocks = []
    produced = 0
    counter = 0
    while produced < size:
        block = hashlib.sha256(f"{seed}:{counter}".encode("ascii")).digest()
        if kind == "text":
            block = block.hex().encode("ascii")
        blocks.append(block)
        produced += len(block)
        counter += 1
    return b"".join(blocks)[:size]


def json_lines(size):
    """Compressible text that looks like a log of JSON records: one line per record N = 0, 1, ...,
    `{"seq":N,"user":"user-(N % 7)","event":E,"value":(N * 7919) % 10000}` and a line feed, with E
    cycling through JSON_EVENTS, joined and cut to `size` bytes."""
    lines = []
    produced = 0
    number = 0
    while produced < size:
        event = JSON_EVENTS[number % len(JSON_EVENTS)]
        line = (
            f'{{"seq":{number},"user":"user-{number % 7}","event":"{event}",'
            f'"value":{(number * 7919) % 10000}}}\n'
        )
        lines.append(line)
        produced += len(line)
        number += 1
    return "".join(lines)[:size].encode("ascii")


def is_data_part(part):
    """Whether a part of a `fragments` step is a fragment (not a ping or a pause between two)."""
    return "ping" not in part and "sleep" not in part


def expected_message(step):
    """The message a data step delivers to the other side: its type and its whole payload."""
    if step["send"] == "fragments":
        parts = [p for p in step["parts"] if is_data_part(p)]
        return step["type"], b"".join(payload_of(p, step["type"]) for p in parts)
    return step["send"], payload_of(step, step["send"])


class Inbox:
    """Received events that the scenario waits on, taken by kind in arrival order."""

    def __init__(self):
        self.events = []
        self.waiters = []

    def push(self, kind, **fields):
        self.events.append(dict(kind=kind, **fields))
        self.wake()

    def wake(self):
        for waiter in list(self.waiters):
            kind, future = waiter
            if future.done():
                self.waiters.remove(waiter)
                continue
            for event in self.events:
                if event["kind"] == kind:
                    self.events.remove(event)
                    self.waiters.remove(waiter)
                    future.set_result(event)
                    break

    async def next(self, kind):
        future = asyncio.get_running_loop().create_future()
        self.waiters.append((kind, future))
        self.wake()
        return await future


class TruthFile:
    """The truth log file of this process, shared by its connections."""

    def __init__(self, side, path, tag_connections):
        self.side = side
        self.file = open(path, "w", encoding="utf-8")
        # With several connections, each line names its connection by request path (`conn`).
        self.tag_connections = tag_connections

    def event(self, event, conn, **fields):
        """Writes a line that is not a message (a failed handshake, an abort, a connection closed
        without a closing handshake; see ../README.md), for the connection with path `conn`."""
        line = {"side": self.side, "event": event, **fields, "t": str(time.monotonic_ns())}
        if self.tag_connections:
            line["conn"] = conn
        self.file.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.file.flush()

    def close(self):
        self.file.close()


class TruthLog:
    """Writes the truth lines of one connection and tracks fragmented messages in both
    directions; received messages also go to the connection's inbox."""

    def __init__(self, truth_file, connection):
        self.truth_file = truth_file
        self.side = truth_file.side
        self.file = truth_file.file
        self.connection = connection
        self.inbox = Inbox()
        # A data message being sent or received in several frames: [opcode name, parts].
        self.partial = {"send": None, "recv": None}

    def write(self, event, opcode, payload, frames, close_code=None, close_reason=None):
        towards_server = (self.side == "client") == (event == "send")
        line = {
            "side": self.side,
            "event": event,
            "dir": "c2s" if towards_server else "s2c",
            "opcode": opcode,
            "length": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
            "close_code": close_code,
            "close_reason": close_reason,
            "frames": frames,
            # CLOCK_MONOTONIC, shared with the Node peer, so the logs merge in time order.
            "t": str(time.monotonic_ns()),
        }
        if self.truth_file.tag_connections:
            # The handshake request is known before the first frame goes either way.
            line["conn"] = self.connection.request.path
        self.file.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.file.flush()

    def event(self, event, **fields):
        """Writes a line that is not a message for this connection."""
        self.truth_file.event(event, self.connection.request.path, **fields)

    def frame(self, event, frame):
        """Logs one frame that the protocol sends or received (payload already uncompressed)."""
        data = bytes(frame.data)
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            if frame.opcode is not Opcode.CONT:
                self.partial[event] = [OPCODE_NAMES[frame.opcode], []]
            opcode, parts = self.partial[event]
            parts.append(data)
            if frame.fin:
                self.partial[event] = None
                payload = b"".join(parts)
                self.write(event, opcode, payload, len(parts))
                if event == "recv":
                    self.inbox.push("message", type=opcode, data=payload)
            return
        if frame.opcode is Opcode.CLOSE:
            code, reason = None, None
            if data:
                close = Close.parse(data)
                code, reason = int(close.code), close.reason
            self.write(event, "close", data, 1, code, reason)
            return
        opcode = OPCODE_NAMES[frame.opcode]
        self.write(event, opcode, data, 1)
        if event == "recv":
            self.inbox.push(opcode, data=data)


def watch(protocol, truth):
    """Wraps the protocol's frame entry and exit points.

    Every frame goes through `send_frame` (including the automatic pong and the echoed close) and
    every parsed frame through `recv_frame`. The received frame is logged before the library
    reacts to it, so the log keeps the causal order.
    """
    send_frame = protocol.send_frame
    recv_frame = protocol.recv_frame

    def logged_send_frame(frame):
        truth.frame("send", frame)
        send_frame(frame)

    def logged_recv_frame(frame):
        truth.frame("recv", frame)
        recv_frame(frame)

    protocol.send_frame = logged_send_frame
    protocol.recv_frame = logged_recv_frame


# The truth log file of this process; each connection attaches its own TruthLog to it as soon as
# the connection exists, before any frame is parsed.
TRUTH = None


class WatchedClientConnection(ClientConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.truth = TruthLog(TRUTH, self)
        watch(self.protocol, self.truth)


class WatchedServerConnection(ServerConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.truth = TruthLog(TRUTH, self)
        watch(self.protocol, self.truth)


class ScenarioError(Exception):
    """The other side did not do what the scenario says."""


def check(condition, message):
    if not condition:
        raise ScenarioError(message)


async def ping_and_wait(ws, payload):
    pong = await ws.ping(payload)
    await pong
    # The pong was also put in the inbox when it was received; it answers this ping.
    await ws.truth.inbox.next("pong")


async def pause(resume_file):
    """Lets the connection go idle, says so, and waits until the recorder says to go on."""
    await asyncio.sleep(PAUSE_SETTLE_SECONDS)
    print("PAUSED", flush=True)
    if resume_file is None:
        raise ScenarioError("a pause step needs --resume FILE")
    while not os.path.exists(resume_file):
        await asyncio.sleep(0.05)


async def abort(ws, how):
    """Drops the TCP connection without a closing handshake: the socket is closed at once, which
    sends a FIN (`how` "fin"), or closed with SO_LINGER set to zero, which makes the kernel send
    a RST instead (`how` "rst")."""
    check(how in ("fin", "rst"), f"unknown abort kind {how!r}")
    ws.truth.event("abort", how=how)
    if how == "rst":
        sock = ws.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.transport.abort()
    await ws.wait_closed()


async def perform(ws, step, resume_file):
    kind = step["send"]
    if kind == "pause":
        await pause(resume_file)
    elif kind == "sleep":
        await asyncio.sleep(step["ms"] / 1000)
    elif kind == "text":
        await ws.send(payload_of(step, "text").decode("utf-8"))
    elif kind == "binary":
        await ws.send(payload_of(step, "binary"))
    elif kind == "ping":
        await ping_and_wait(ws, payload_of(step, "binary"))
    elif kind == "pong":
        # An unsolicited pong (RFC 6455, 5.5.3): a heartbeat that expects no answer.
        await ws.pong(payload_of(step, "binary"))
    elif kind == "fragments":

        async def fragments():
            for part in step["parts"]:
                if "ping" in part:
                    await ping_and_wait(ws, part["ping"].encode("utf-8"))
                    continue
                if "sleep" in part:
                    await asyncio.sleep(part["sleep"] / 1000)
                    continue
                data = payload_of(part, step["type"])
                yield data.decode("utf-8") if step["type"] == "text" else data

        await ws.send(fragments())
    elif kind == "close":
        await ws.close(step["code"], step.get("reason", ""))
        await ws.wait_closed()
    elif kind == "abort":
        await abort(ws, step.get("how", "fin"))
    else:
        raise ScenarioError(f"unknown step {step!r}")


async def expect(ws, inbox, step):
    kind = step["send"]
    if kind in ("pause", "sleep"):
        # Only the side that performs them waits.
        return
    if kind in ("text", "binary", "fragments"):
        want_type, want_payload = expected_message(step)
        got = await inbox.next("message")
        check(got["type"] == want_type, f"expected a {want_type} message, got {got['type']}")
        check(got["data"] == want_payload, f"payload of {want_type} message differs from scenario")
    elif kind == "ping":
        got = await inbox.next("ping")
        check(got["data"] == payload_of(step, "binary"), "ping payload differs from scenario")
    elif kind == "pong":
        got = await inbox.next("pong")
        check(got["data"] == payload_of(step, "binary"), "pong payload differs from scenario")
    elif kind == "close":
        await ws.wait_closed()
    elif kind == "abort":
        # The other side drops the connection: the library reports the abnormal closure.
        await ws.wait_closed()
        ws.truth.event("closed", close_code=ws.close_code)
        check(ws.close_code == ABNORMAL_CLOSURE, f"closed with {ws.close_code}, expected 1006")
    else:
        raise ScenarioError(f"unknown step {step!r}")


async def drain(ws):
    """Consumes the library's message queue; the truth log reads messages from the frames."""
    try:
        async for _ in ws:
            pass
    except ConnectionClosed:
        pass


async def play(ws, steps, side, resume_file):
    inbox = ws.truth.inbox
    drainer = asyncio.create_task(drain(ws))
    for step in steps:
        if step["from"] == side:
            await perform(ws, step, resume_file)
        else:
            await expect(ws, inbox, step)
    await drainer
    check(ws.close_code is not None, "scenario ended without closing the connection")


def connections(scenario):
    """The scenario's connections: the `connections` list, or the one connection given by `path`
    and `steps`. Each is a dict with `path`, `steps`, `port` (None: the scenario's port),
    `handshake` (None: the handshake succeeds; else the failure the scenario expects), `version`
    (the Sec-WebSocket-Version the client offers) and `proxy` (None: direct; else the `port` of
    the forward proxy to tunnel through)."""
    entries = scenario.get("connections") or [
        {"path": scenario.get("path", "/"), "steps": scenario["steps"]}
    ]
    return [
        {
            "path": c["path"],
            "steps": c.get("steps", []),
            "port": c.get("port"),
            "handshake": c.get("handshake"),
            "version": c.get("version", 13),
            "proxy": c.get("proxy"),
        }
        for c in entries
    ]


def expected_subprotocol(scenario):
    """The subprotocol both sides must agree on: the first one the scenario lists, or None."""
    return (scenario.get("subprotocols") or [None])[0]


def tunnel(path, proxy_host, proxy_port, target):
    """Opens a TCP connection to the proxy and asks it for a tunnel to `target` (`HOST:PORT`)
    with `CONNECT`; returns the connected socket once a 2xx answer head has been read, and logs a
    `tunnel` line. The socket is blocking here, as `connect(sock=...)` takes it over."""
    sock = socket.create_connection((proxy_host, proxy_port), timeout=WATCHDOG_SECONDS)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode("ascii"))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)  # One byte at a time: nothing after the head may be taken away.
        if not chunk:
            raise ScenarioError("the proxy closed the connection inside its answer")
        head += chunk
        if len(head) > MAX_PROXY_HEAD:
            raise ScenarioError("proxy answer head too long")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ScenarioError(f"the proxy answered {status_line!r}")
    status = int(parts[1])
    TRUTH.event("tunnel", path, target=target, status=status)
    check(200 <= status < 300, f"the proxy refused the tunnel with {status}")
    sock.settimeout(None)
    return sock


def extensions(scenario, role):
    """The permessage-deflate settings: the library's defaults ("deflate"), those defaults with
    no context takeover in both directions, or no compression."""
    if not scenario.get("deflate"):
        return {"compression": None}
    if not scenario.get("deflate_no_context_takeover"):
        return {"compression": "deflate"}
    options = {"server_no_context_takeover": True, "client_no_context_takeover": True}
    if role == "server":
        # The same window sizes and memory level as the library's "deflate" default.
        factory = ServerPerMessageDeflateFactory(
            server_max_window_bits=12,
            client_max_window_bits=12,
            compress_settings={"memLevel": 5},
            **options,
        )
    else:
        factory = ClientPerMessageDeflateFactory(compress_settings={"memLevel": 5}, **options)
    return {"compression": None, "extensions": [factory]}


def server_tls(args, scenario):
    """The server's TLS context, or None without TLS."""
    if "tls" not in scenario:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    context.set_alpn_protocols(scenario["tls"].get("alpn", ["http/1.1"]))
    if args.keylog:
        context.keylog_filename = args.keylog
    return context


def client_tls(args, scenario):
    """The client's TLS options for `connect`: a context that trusts only the recorder's
    certificate, the name to send as SNI and check the certificate against, and the ALPN offer."""
    if "tls" not in scenario:
        return {}
    context = ssl.create_default_context(cafile=args.tls_ca)
    context.set_alpn_protocols(scenario["tls"].get("alpn", ["http/1.1"]))
    if args.keylog:
        context.keylog_filename = args.keylog
    return {"ssl": context, "server_hostname": scenario["tls"]["server_name"]}


async def run_server(args, scenario):
    # This server plays the connections to its port; a connection to another port is served by
    # another program (py/bad_accept.py).
    plan = {c["path"]: c for c in connections(scenario) if c["port"] in (None, args.port)}
    remaining = len(plan)
    done = asyncio.get_running_loop().create_future()

    def finished():
        nonlocal remaining
        remaining -= 1
        if remaining == 0 and not done.done():
            done.set_result(None)

    async def finish_when_closed(connection):
        await connection.wait_closed()
        finished()

    async def process_request(connection, request):
        """Refuses the Upgrade of a connection whose scenario says so, with its status code."""
        entry = plan.get(request.path)
        if entry is None or entry["handshake"] is None:
            return None
        del plan[request.path]
        handshake = entry["handshake"]
        if handshake.get("result") != "refused":
            raise ScenarioError(f"{request.path}: this server can only refuse a handshake")
        status = handshake["status"]
        TRUTH.event("handshake", request.path, result="refused", status=status)
        # The scenario is done with this connection once the server has closed it.
        asyncio.get_running_loop().create_task(finish_when_closed(connection))
        response = connection.respond(status, f"{http.HTTPStatus(status).phrase}\n")
        if status == 426:
            # A 426 names the version this server speaks (RFC 6455, 4.4).
            response.headers["Sec-WebSocket-Version"] = SERVER_VERSION
        return response

    async def handler(ws):
        try:
            entry = plan.pop(ws.request.path, None)
            check(entry is not None, f"unexpected connection to {ws.request.path}")
            want = expected_subprotocol(scenario)
            check(ws.subprotocol == want, f"subprotocol {ws.subprotocol!r} accepted, expected {want!r}")
            await play(ws, entry["steps"], "server", args.resume)
        except Exception as error:  # Reported by the main task below.
            if not done.done():
                done.set_exception(error)
        else:
            finished()

    async with serve(
        handler,
        args.host,
        args.port,
        ping_interval=None,
        max_size=MAX_MESSAGE_SIZE,
        create_connection=WatchedServerConnection,
        process_request=process_request,
        subprotocols=scenario.get("subprotocols"),
        ssl=server_tls(args, scenario),
        **extensions(scenario, "server"),
    ):
        print("READY", flush=True)
        await done


async def run_client(args, scenario):
    host = f"[{args.host}]" if ":" in args.host else args.host
    tls = client_tls(args, scenario)
    scheme = "wss" if tls else "ws"

    async def one(entry):
        path, handshake = entry["path"], entry["handshake"]
        authority = f"{host}:{entry['port'] or args.port}"
        uri = f"{scheme}://{authority}{path}"
        check(entry["version"] == 13, f"{path}: websockets always offers Sec-WebSocket-Version 13")
        through = {}
        if entry["proxy"] is not None:
            check(args.proxy_host is not None, f"{path}: a connection through a proxy needs --proxy-host")
            check(not tls, f"{path}: TLS through a proxy is not supported")
            sock = await asyncio.to_thread(tunnel, path, args.proxy_host, entry["proxy"]["port"], authority)
            through = {"sock": sock}
        try:
            async with connect(
                uri,
                ping_interval=None,
                max_size=MAX_MESSAGE_SIZE,
                create_connection=WatchedClientConnection,
                subprotocols=scenario.get("subprotocols"),
                **through,
                **tls,
                **extensions(scenario, "client"),
            ) as ws:
                check(handshake is None, f"{path}: handshake succeeded, the scenario expects {handshake}")
                want = expected_subprotocol(scenario)
                check(ws.subprotocol == want, f"{path}: subprotocol {ws.subprotocol!r}, expected {want!r}")
                await play(ws, entry["steps"], "client", args.resume)
        except InvalidStatus as error:
            # The server answered the Upgrade with another status than 101.
            status = error.response.status_code
            TRUTH.event("handshake", path, result="refused", status=status)
            check(
                handshake == {"result": "refused", "status": status},
                f"{path}: handshake refused with {status}, the scenario expects {handshake}",
            )
        except InvalidHeaderValue as error:
            # A 101 answer whose Sec-WebSocket-Accept is not the one the key asks for.
            if error.name != "Sec-WebSocket-Accept":
                raise
            TRUTH.event("handshake", path, result="wrong-accept", status=101, accept=error.value)
            check(
                handshake == {"result": "wrong-accept"},
                f"{path}: wrong Sec-WebSocket-Accept, the scenario expects {handshake}",
            )

    if scenario.get("sequential"):
        for number, entry in enumerate(connections(scenario)):
            if number:
                await asyncio.sleep(SEQUENTIAL_GAP_SECONDS)
            await one(entry)
    else:
        await asyncio.gather(*(one(entry) for entry in connections(scenario)))


async def main():
    global TRUTH
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["client", "server"], required=True)
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--resume", help="file whose existence ends a pause step")
    parser.add_argument("--tls-cert", help="server: certificate chain file (PEM), with TLS")
    parser.add_argument("--tls-key", help="server: private key file (PEM), with TLS")
    parser.add_argument("--tls-ca", help="client: the certificate to trust (PEM), with TLS")
    parser.add_argument("--keylog", help="file for the TLS secrets (SSLKEYLOGFILE format)")
    parser.add_argument("--proxy-host", help="client: address of the HTTP proxy for `proxy` connections")
    args = parser.parse_args()
    with open(args.scenario, encoding="utf-8") as file:
        scenario = json.load(file)
    TRUTH = TruthFile(args.role, args.log, "connections" in scenario)
    run = run_server if args.role == "server" else run_client
    try:
        await asyncio.wait_for(run(args, scenario), WATCHDOG_SECONDS)
    except TimeoutError:
        raise ScenarioError(f"scenario did not finish within {WATCHDOG_SECONDS} s") from None
    TRUTH.file.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as error:
        print(f"peer.py: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
