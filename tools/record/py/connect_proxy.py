#!/usr/bin/env python3
"""A small HTTP forward proxy that only tunnels: `CONNECT host:port`, then raw bytes both ways.

Usage:
    connect_proxy.py --scenario FILE --host ADDR --port N --log FILE

It serves the scenario's connections that go through a proxy (a `connections` entry with
`"proxy": {...}`), in the scenario's order, then exits. For each one it reads the request head
(RFC 9110, 9.3.6): the request line must be `CONNECT host:port HTTP/1.1`, and nothing may follow
the head before the answer. It opens a TCP connection to `host:port`, answers
`HTTP/1.1 200 Connection established` with an empty header section, and from then on copies
bytes unchanged in both directions without reading them. When one side ends its half of the
connection (FIN), the proxy ends the same half towards the other side; when both halves have
ended, it closes both connections. A request that is not a CONNECT is answered
`405 Method Not Allowed`, a target that cannot be reached `502 Bad Gateway`, and either fails
the run.

It writes JSON lines to the log (see ../README.md, "Proxy lines"), with a `CLOCK_MONOTONIC`
timestamp `t` so that `truth.py merge` can put them among the peers' lines:
  - `tunnel`, just after the 200 went out: the request's method and target, the status;
  - `relayed`, when both halves have ended: how many tunnelled bytes went each way.

Python standard library only. It prints "READY" on stdout once it listens, and exits non-zero on
any surprise or after 30 s.
"""

import argparse
import asyncio
import json
import sys
import time

# How long the whole scenario may take before the proxy gives up.
WATCHDOG_SECONDS = 30

# The longest request head it reads (also the stream reader's buffer limit).
MAX_HEAD_BYTES = 64 * 1024

# How much one read copies at most.
CHUNK_BYTES = 64 * 1024

ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"


class ScenarioError(Exception):
    """The client did not do what the scenario says, or the target could not be reached."""


class Log:
    """The proxy's JSON lines file."""

    def __init__(self, path):
        self.file = open(path, "w", encoding="utf-8")

    def write(self, event, conn, **fields):
        line = {"side": "proxy", "event": event, **fields, "conn": conn, "t": str(time.monotonic_ns())}
        self.file.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.file.flush()

    def close(self):
        self.file.close()


async def read_head(reader):
    """Reads the request head up to its blank line; returns its lines."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise ScenarioError("request head too long") from None
    except asyncio.IncompleteReadError:
        raise ScenarioError("connection closed inside the request head") from None
    return head[:-4].decode("latin-1").split("\r\n")


async def refuse(writer, status, reason):
    writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    writer.close()


async def pump(reader, writer):
    """Copies bytes from `reader` to `writer` until end of stream, then ends `writer`'s half of
    the connection; returns how many bytes were copied."""
    copied = 0
    while True:
        data = await reader.read(CHUNK_BYTES)
        if not data:
            break
        writer.write(data)
        await writer.drain()
        copied += len(data)
    if writer.can_write_eof():
        writer.write_eof()
    return copied


async def tunnel(client_reader, client_writer, conn, log):
    lines = await read_head(client_reader)
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[0] != "CONNECT" or parts[2] != "HTTP/1.1":
        await refuse(client_writer, 405, "Method Not Allowed")
        raise ScenarioError(f"not a CONNECT request: {lines[0]!r}")
    target = parts[1]
    host, _, port = target.rpartition(":")
    try:
        server_reader, server_writer = await asyncio.open_connection(host.strip("[]"), int(port))
    except OSError as error:
        await refuse(client_writer, 502, "Bad Gateway")
        raise ScenarioError(f"cannot reach {target}: {error}") from None
    client_writer.write(ESTABLISHED)
    await client_writer.drain()
    log.write("tunnel", conn, method="CONNECT", target=target, status=200)
    c2s, s2c = await asyncio.gather(
        pump(client_reader, server_writer),
        pump(server_reader, client_writer),
    )
    log.write("relayed", conn, c2s_bytes=c2s, s2c_bytes=s2c)
    server_writer.close()
    client_writer.close()
    await asyncio.gather(server_writer.wait_closed(), client_writer.wait_closed(), return_exceptions=True)


async def run(args, scenario):
    # The connections this proxy carries, in the order the client opens them.
    paths = [c["path"] for c in scenario.get("connections", []) if "proxy" in c]
    if not paths:
        raise ScenarioError("the scenario has no connection through a proxy")
    log = Log(args.log)
    pending = list(paths)
    finished = 0
    done = asyncio.get_running_loop().create_future()

    async def serve_one(reader, writer):
        nonlocal finished
        try:
            if not pending:
                raise ScenarioError("more connections than the scenario has")
            await tunnel(reader, writer, pending.pop(0), log)
        except Exception as error:  # Reported by the main task below.
            if not done.done():
                done.set_exception(error)
            return
        finished += 1
        if finished == len(paths) and not done.done():
            done.set_result(None)

    server = await asyncio.start_server(serve_one, args.host, args.port, limit=MAX_HEAD_BYTES)
    async with server:
        print("READY", flush=True)
        await done
    log.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    with open(args.scenario, encoding="utf-8") as file:
        scenario = json.load(file)
    try:
        await asyncio.wait_for(run(args, scenario), WATCHDOG_SECONDS)
    except TimeoutError:
        raise ScenarioError(f"scenario did not finish within {WATCHDOG_SECONDS} s") from None


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as error:
        print(f"connect_proxy.py: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
