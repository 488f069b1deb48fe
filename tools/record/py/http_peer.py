#!/usr/bin/env python3
"""Plain HTTP/1.1 peer built on Python's standard library, for the `http-mixed` capture.

The server is `http.server` with a handler of its own; the client uses `http.client`, and a raw
socket for the pipelined pair. Both play one fixed plan of five connections, one after the other
(the scenario file only names the capture, the port and the roles):

  1. GET /index.html, answered with a Content-Length body;
  2. GET /pipe/1 and GET /pipe/2 written together before any answer comes (pipelining); the
     second request asks the server to close the connection;
  3. POST /upload with a chunked request body, then GET /chunked (a chunked response, its chunks
     written 50 ms apart), then GET /missing (404), on one keep-alive connection;
  4. GET /poll, a long-polling request the server answers after one second;
  5. GET /events, a Server-Sent Events stream (`text/event-stream`) of five events 150 ms apart,
     with multi-line data, ids, event names, a comment and a retry field, whose body ends when
     the server closes the connection.

Usage:
    http_peer.py --role server --scenario FILE --host ADDR --port N --log FILE
    http_peer.py --role client --scenario FILE --host ADDR --port N --log FILE

The server prints "READY" once it listens, serves the five connections, then exits. Each side
writes one JSON line per request, response and server-sent event it sends or receives (format in
../README.md, "HTTP truth log").
"""

import argparse
import hashlib
import http.client
import http.server
import json
import socket
import socketserver
import sys
import threading
import time

CONNECTIONS = 5
LONG_POLL_SECONDS = 1.0
SSE_GAP_SECONDS = 0.15
CHUNK_GAP_SECONDS = 0.05
WATCHDOG_SECONDS = 30

INDEX_HTML = (
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>osiscope</title></head>\n"
    "<body>\n<h1>Layers</h1>\n<p>An HTTP response travels in TCP segments, inside IP packets, "
    "inside Ethernet frames.</p>\n<ul>\n"
    + "".join(f"<li>Item {i}: the body has a Content-Length header.</li>\n" for i in range(1, 11))
    + "</ul>\n</body>\n</html>\n"
).encode("utf-8")

PIPELINED = {
    "/pipe/1": b"first pipelined response\n",
    "/pipe/2": b"second pipelined response, then the server closes\n",
}

# The request body of the POST, sent as one chunk per part, 50 ms apart.
UPLOAD_PARTS = [
    b"name=osiscope&lesson=http\n",
    bytes(range(256)) * 8,
    b"the last chunk of the upload\n",
]

# The chunked response: one chunk per part, 50 ms apart.
CHUNKED_PARTS = [
    b"".join(f"line {i:04} of the chunked response\n".encode("ascii") for i in range(start, end))
    for start, end in ((0, 3), (3, 63), (63, 64), (64, 200))
]

# The Server-Sent Events: (comment line or None, fields in the order written).
SSE_EVENTS = [
    (None, [("id", "1"), ("event", "greeting"), ("data", "hello")]),
    (None, [("id", "2"), ("data", "line one"), ("data", "line two")]),
    ("heartbeat comment", [("event", "tick"), ("data", '{"n":3}')]),
    (None, [("retry", "5000"), ("id", "4"), ("event", "update"), ("data", "multi"), ("data", "line"), ("data", "event")]),
    (None, [("id", "5"), ("event", "bye"), ("data", "done")]),
]


class TruthLog:
    """Writes truth lines; thread-safe, because the server serves each connection in a thread."""

    def __init__(self, side, path):
        self.side = side
        self.file = open(path, "w", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, event, conn, kind, **fields):
        line = {"side": self.side, "event": event, "conn": conn, "kind": kind, **fields}
        line["t"] = str(time.monotonic_ns())
        with self.lock:
            self.file.write(json.dumps(line, ensure_ascii=False) + "\n")
            self.file.flush()

    def request(self, event, conn, method, path, framing, body):
        self.write(event, conn, "request", method=method, path=path, framing=framing,
                   length=len(body), sha256=hashlib.sha256(body).hexdigest())

    def response(self, event, conn, method, path, status, framing, content_type, body):
        self.write(event, conn, "response", method=method, path=path, status=status,
                   framing=framing, content_type=content_type, length=len(body),
                   sha256=hashlib.sha256(body).hexdigest())

    def sse(self, event, conn, sse_id, sse_event, sse_data, sse_retry):
        self.write(event, conn, "sse", sse_id=sse_id, sse_event=sse_event, sse_data=sse_data,
                   sse_retry=sse_retry)


def sse_wire(comment, fields):
    """The bytes of one event on the wire."""
    lines = [f": {comment}"] if comment else []
    lines += [f"{name}: {value}" for name, value in fields]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def sse_summary(fields):
    """An event as the truth log writes it: id, event name, data lines joined by LF, retry."""
    values = dict(fields)
    data = "\n".join(value for name, value in fields if name == "data")
    retry = int(values["retry"]) if "retry" in values else None
    return values.get("id"), values.get("event"), data, retry


# --- server -----------------------------------------------------------------------------------


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, truth):
        self.truth = truth
        self.numbers = {}
        self.finished = 0
        self.done = threading.Event()
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, Handler)

    def server_bind(self):
        # HTTPServer would look the address up in DNS, which the namespaces do not have.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address):
        # Connections are numbered in the order they are accepted, which is the order of the
        # client's SYNs: the client opens them one after the other.
        self.numbers[client_address] = len(self.numbers) + 1
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        # Called in the connection's thread once it is done and its socket closed.
        super().shutdown_request(request)
        self.finished += 1
        if self.finished == CONNECTIONS:
            self.done.set()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "osiscope-record/1.0"

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    @property
    def conn(self):
        return self.server.numbers[self.client_address]

    def read_body(self):
        """Reads the request body (http.server leaves that to the handler); returns (framing,
        body)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return "chunked", bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()
        if "Content-Length" in self.headers:
            return "content-length", self.rfile.read(int(self.headers["Content-Length"]))
        return "none", b""

    def answer(self, status, content_type, body, close=False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.server.truth.response("send", self.conn, self.command, self.path, status,
                                   "content-length", content_type, body)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.handle_request()

    def do_POST(self):
        self.handle_request()

    def handle_request(self):
        framing, body = self.read_body()
        truth = self.server.truth
        truth.request("recv", self.conn, self.command, self.path, framing, body)
        close = self.headers.get("Connection", "").lower() == "close"
        if self.command == "POST" and self.path == "/upload":
            reply = json.dumps({"received": len(body), "sha256": hashlib.sha256(body).hexdigest()})
            self.answer(201, "application/json", reply.encode("ascii"), close)
        elif self.path == "/index.html":
            self.answer(200, "text/html; charset=utf-8", INDEX_HTML, close)
        elif self.path in PIPELINED:
            self.answer(200, "text/plain; charset=utf-8", PIPELINED[self.path], close)
        elif self.path == "/chunked":
            self.send_chunked(close)
        elif self.path == "/poll":
            time.sleep(LONG_POLL_SECONDS)
            reply = b'{"event":"long-poll answered","waited_ms":1000}'
            self.answer(200, "application/json", reply, close)
        elif self.path == "/events":
            self.send_events()
        else:
            self.answer(404, "text/plain; charset=utf-8", f"Not Found: {self.path}\n".encode(), close)

    def send_chunked(self, close):
        content_type = "text/plain; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        for part in CHUNKED_PARTS:
            self.wfile.write(f"{len(part):x}\r\n".encode("ascii") + part + b"\r\n")
            time.sleep(CHUNK_GAP_SECONDS)
        self.server.truth.response("send", self.conn, self.command, self.path, 200, "chunked",
                                   content_type, b"".join(CHUNKED_PARTS))
        self.wfile.write(b"0\r\n\r\n")

    def send_events(self):
        """An event stream without Content-Length or chunking: the body ends with the connection."""
        content_type = "text/event-stream"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        body = bytearray()
        for comment, fields in SSE_EVENTS:
            wire = sse_wire(comment, fields)
            self.server.truth.sse("send", self.conn, *sse_summary(fields))
            self.wfile.write(wire)
            body += wire
            time.sleep(SSE_GAP_SECONDS)
        self.server.truth.response("send", self.conn, self.command, self.path, 200, "close",
                                   content_type, bytes(body))


def run_server(args, truth):
    server = Server((args.host, args.port), truth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print("READY", flush=True)
    if not server.done.wait(WATCHDOG_SECONDS):
        raise TimeoutError(f"the plan did not finish within {WATCHDOG_SECONDS} s")
    server.shutdown()
    server.server_close()


# --- client -----------------------------------------------------------------------------------


class SharedReader:
    """Lets several HTTPResponse objects read one after the other from one socket: each asks the
    socket for a file and gets the same buffered reader, which they may not close."""

    class Unclosable:
        def __init__(self, reader):
            self.reader = reader

        def __getattr__(self, name):
            return getattr(self.reader, name)

        def close(self):
            pass

    def __init__(self, sock):
        self.reader = self.Unclosable(sock.makefile("rb"))

    def makefile(self, *_args, **_kwargs):
        return self.reader

    def close(self):
        self.reader.reader.close()


def framing_of(response):
    if "chunked" in (response.getheader("Transfer-Encoding") or "").lower():
        return "chunked"
    if response.getheader("Content-Length") is not None:
        return "content-length"
    return "close"


class Client:
    def __init__(self, args, truth):
        self.host = args.host
        self.port = args.port
        self.truth = truth
        self.conn = 0
        self.headers = {"User-Agent": "osiscope-record (Python http.client)"}

    def connect(self):
        self.conn += 1
        return http.client.HTTPConnection(self.host, self.port, timeout=10)

    def exchange(self, connection, method, path, body=None, framing="none", logged_body=b"", headers=None):
        self.truth.request("send", self.conn, method, path, framing, logged_body)
        connection.request(method, path, body=body, headers={**self.headers, **(headers or {})})
        response = connection.getresponse()
        data = response.read()
        self.truth.response("recv", self.conn, method, path, response.status, framing_of(response),
                            response.getheader("Content-Type"), data)
        return response

    def run(self):
        # 1: one request, a Content-Length answer.
        connection = self.connect()
        self.exchange(connection, "GET", "/index.html")
        connection.close()

        # 2: two pipelined requests in one write, then both answers from one buffered reader.
        self.conn += 1
        host = f"[{self.host}]" if ":" in self.host else self.host
        with socket.create_connection((self.host, self.port), timeout=10) as sock:
            head = f"Host: {host}:{self.port}\r\nUser-Agent: {self.headers['User-Agent']}\r\n"
            paths = list(PIPELINED)
            for path in paths:
                self.truth.request("send", self.conn, "GET", path, "none", b"")
            sock.sendall(
                f"GET {paths[0]} HTTP/1.1\r\n{head}\r\n"
                f"GET {paths[1]} HTTP/1.1\r\n{head}Connection: close\r\n\r\n".encode("ascii")
            )
            reader = SharedReader(sock)
            for path in paths:
                response = http.client.HTTPResponse(reader, method="GET")
                response.begin()
                data = response.read()
                self.truth.response("recv", self.conn, "GET", path, response.status,
                                    framing_of(response), response.getheader("Content-Type"), data)
            # The socket closes (and sends its FIN) only when its file is closed too.
            reader.close()

        # 3: a chunked upload, a chunked answer and a 404 on one keep-alive connection.
        connection = self.connect()

        def upload():
            for part in UPLOAD_PARTS:
                yield part
                time.sleep(CHUNK_GAP_SECONDS)

        self.exchange(connection, "POST", "/upload", body=upload(), framing="chunked",
                      logged_body=b"".join(UPLOAD_PARTS),
                      headers={"Content-Type": "application/octet-stream"})
        self.exchange(connection, "GET", "/chunked")
        self.exchange(connection, "GET", "/missing")
        connection.close()

        # 4: long polling: the answer comes after about a second.
        connection = self.connect()
        self.exchange(connection, "GET", "/poll", headers={"Accept": "application/json"})
        connection.close()

        # 5: Server-Sent Events, logged one by one as they arrive.
        connection = self.connect()
        self.truth.request("send", self.conn, "GET", "/events", "none", b"")
        connection.request("GET", "/events", headers={**self.headers, "Accept": "text/event-stream"})
        response = connection.getresponse()
        body = bytearray()
        fields = []
        while True:
            line = response.readline()
            if not line:
                break
            body += line
            text = line.decode("utf-8").rstrip("\n").rstrip("\r")
            if text == "":
                if fields:
                    self.truth.sse("recv", self.conn, *sse_summary(fields))
                fields = []
            elif not text.startswith(":"):
                name, _, value = text.partition(":")
                fields.append((name, value[1:] if value.startswith(" ") else value))
        self.truth.response("recv", self.conn, "GET", "/events", response.status,
                            framing_of(response), response.getheader("Content-Type"), bytes(body))
        connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["client", "server"], required=True)
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--resume", help="accepted for the recorder's sake; the plan has no pause")
    args = parser.parse_args()
    truth = TruthLog(args.role, args.log)
    if args.role == "server":
        run_server(args, truth)
    else:
        Client(args, truth).run()
    truth.file.close()


if __name__ == "__main__":
    try:
        main()
    except Exception as error:
        print(f"http_peer.py: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
