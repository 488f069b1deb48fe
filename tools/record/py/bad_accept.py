#!/usr/bin/env python3
"""A deliberately broken WebSocket server: it answers the Upgrade with `101 Switching Protocols`
but a wrong `Sec-WebSocket-Accept`, which a client must refuse (RFC 6455, section 4.1: the client
fails the WebSocket connection).

Usage:
    bad_accept.py --scenario FILE --host ADDR --port N --log FILE

It serves the scenario's connections whose `port` is N (a `connections` entry with
`"handshake": {"result": "wrong-accept"}`), one after the other, then exits. For each one it reads
the request head, answers with the accept value computed without the protocol's GUID, that is
base64(SHA-1(Sec-WebSocket-Key)) instead of base64(SHA-1(Sec-WebSocket-Key + GUID)), writes one
truth line (see ../README.md), and waits until the client closes the connection before it
closes its own side. It never sends or reads a WebSocket frame. Python standard library only.

It prints "READY" on stdout once it listens, and exits non-zero on any surprise or after 30 s.
"""

import argparse
import base64
import hashlib
import json
import socket
import sys
import time

# How long the whole scenario may take before the server gives up.
WATCHDOG_SECONDS = 30

# The longest request head it reads.
MAX_HEAD_BYTES = 64 * 1024


class ScenarioError(Exception):
    """The client did not do what the scenario says."""


def wrong_accept(key):
    """The Sec-WebSocket-Accept of `key` with the GUID forgotten: a plausible bug."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii")).digest()).decode("ascii")


def read_head(conn, deadline):
    """Reads up to the blank line that ends the request head; returns the head as text."""
    data = b""
    while b"\r\n\r\n" not in data:
        conn.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = conn.recv(4096)
        if not chunk:
            raise ScenarioError("connection closed inside the request head")
        data += chunk
        if len(data) > MAX_HEAD_BYTES:
            raise ScenarioError("request head too long")
    head, _, rest = data.partition(b"\r\n\r\n")
    if rest:
        raise ScenarioError("data after the request head, before the response")
    return head.decode("latin-1")


def serve_one(conn, expected, log, tag, deadline):
    head = read_head(conn, deadline)
    lines = head.split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if method != "GET" or path not in expected:
        raise ScenarioError(f"unexpected request {lines[0]!r}")
    expected.remove(path)
    accept = wrong_accept(headers["sec-websocket-key"])
    line = {
        "side": "server",
        "event": "handshake",
        "result": "wrong-accept",
        "status": 101,
        "accept": accept,
        "t": str(time.monotonic_ns()),
    }
    if tag:
        line["conn"] = path
    log.write(json.dumps(line) + "\n")
    log.flush()
    conn.sendall(
        (
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n"
            "\r\n"
        ).encode("ascii")
    )
    # The client must fail the connection without sending a frame: wait for its FIN.
    while True:
        conn.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = conn.recv(4096)
        if not chunk:
            return
        raise ScenarioError(f"{path}: the client sent {len(chunk)} bytes after a wrong accept")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    with open(args.scenario, encoding="utf-8") as file:
        scenario = json.load(file)
    expected = [c["path"] for c in scenario.get("connections", []) if c.get("port") == args.port]
    if not expected:
        raise ScenarioError(f"no connection of the scenario uses port {args.port}")
    deadline = time.monotonic() + WATCHDOG_SECONDS
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    with open(args.log, "w", encoding="utf-8") as log, socket.create_server(
        (args.host, args.port), family=family
    ) as server:
        print("READY", flush=True)
        tag = "connections" in scenario
        while expected:
            server.settimeout(max(0.1, deadline - time.monotonic()))
            conn, _address = server.accept()
            with conn:
                serve_one(conn, expected, log, tag, deadline)


if __name__ == "__main__":
    try:
        main()
    except Exception as error:
        print(f"bad_accept.py: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
