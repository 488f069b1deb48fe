#!/usr/bin/env python3
"""Small TCP and UDP endpoints (standard library sockets) that make the traffic of the link and
network layer captures.

Usage:
    peers.py tcp-server --bind ADDR --port N
    peers.py tcp-client --to ADDR --port N [--priority P] LINE...
    peers.py udp-server --bind ADDR --port N --count K
    peers.py udp-client --to ADDR --port N --sizes 0,1,100
    peers.py udp-closed --to ADDR --port N

- `tcp-server` accepts one connection, echoes every byte it receives, and closes its side when
  the client has closed its own.
- `tcp-client` sends each LINE followed by a newline, waits until the echo of that line is back
  and checks it, then closes its side (the first FIN) and waits for the server's FIN.
  `--priority` sets SO_PRIORITY on the socket (the socket priority that a VLAN egress map turns
  into a PCP).
- `udp-server` echoes `--count` datagrams, each to its sender, then exits.
- `udp-client` sends one datagram per size and waits for its echo, which must be identical.
- `udp-closed` sends one datagram to a port where nobody listens and expects the ICMP (or
  ICMPv6) port unreachable error, which a connected UDP socket reports as ECONNREFUSED.

Payloads of N bytes are the ASCII sentence "The quick brown fox jumps over the lazy dog. "
repeated and cut to N bytes. Servers print "READY" on stdout once they listen. Every endpoint
exits non-zero on any surprise or after a timeout.
"""

import argparse
import socket
import sys

TEXT_PATTERN = b"The quick brown fox jumps over the lazy dog. "

# How long any single wait may take.
TIMEOUT_SECONDS = 10

# Receive buffer: larger than any datagram the captures send.
MAX_DATAGRAM = 65535


def payload(size):
    """The first `size` bytes of the repeated sentence."""
    repeats = size // len(TEXT_PATTERN) + 1
    return (TEXT_PATTERN * repeats)[:size]


def family_of(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def ready():
    print("READY", flush=True)


def tcp_server(args):
    with socket.socket(family_of(args.bind), socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((args.bind, args.port))
        listener.listen(1)
        listener.settimeout(TIMEOUT_SECONDS)
        ready()
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(TIMEOUT_SECONDS)
            while True:
                data = connection.recv(4096)
                if not data:
                    break
                connection.sendall(data)


def tcp_client(args):
    with socket.socket(family_of(args.to), socket.SOCK_STREAM) as sock:
        if args.priority is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_PRIORITY, args.priority)
        sock.settimeout(TIMEOUT_SECONDS)
        sock.connect((args.to, args.port))
        for line in args.lines:
            data = line.encode("utf-8") + b"\n"
            sock.sendall(data)
            echo = b""
            while len(echo) < len(data):
                chunk = sock.recv(4096)
                if not chunk:
                    sys.exit(f"tcp-client: connection closed before the echo of {line!r}")
                echo += chunk
            if echo != data:
                sys.exit(f"tcp-client: sent {data!r}, echo {echo!r}")
        sock.shutdown(socket.SHUT_WR)
        if sock.recv(4096):
            sys.exit("tcp-client: unexpected data after the echoes")


def udp_server(args):
    with socket.socket(family_of(args.bind), socket.SOCK_DGRAM) as sock:
        sock.bind((args.bind, args.port))
        sock.settimeout(TIMEOUT_SECONDS)
        ready()
        for _ in range(args.count):
            data, sender = sock.recvfrom(MAX_DATAGRAM)
            sock.sendto(data, sender)


def udp_client(args):
    with socket.socket(family_of(args.to), socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT_SECONDS)
        sock.connect((args.to, args.port))
        for size in (int(text) for text in args.sizes.split(",")):
            data = payload(size)
            sock.send(data)
            echo = sock.recv(MAX_DATAGRAM)
            if echo != data:
                sys.exit(f"udp-client: sent {len(data)} bytes, echo of {len(echo)} bytes differs")


def udp_closed(args):
    with socket.socket(family_of(args.to), socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT_SECONDS)
        sock.connect((args.to, args.port))
        sock.send(b"anyone there?")
        try:
            sock.recv(MAX_DATAGRAM)
        except ConnectionRefusedError:
            return
        sys.exit(f"udp-closed: an answer came from port {args.port}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    command = commands.add_parser("tcp-server")
    command.add_argument("--bind", required=True)
    command.add_argument("--port", type=int, required=True)
    command.set_defaults(run=tcp_server)

    command = commands.add_parser("tcp-client")
    command.add_argument("--to", required=True)
    command.add_argument("--port", type=int, required=True)
    command.add_argument("--priority", type=int)
    command.add_argument("lines", nargs="+")
    command.set_defaults(run=tcp_client)

    command = commands.add_parser("udp-server")
    command.add_argument("--bind", required=True)
    command.add_argument("--port", type=int, required=True)
    command.add_argument("--count", type=int, required=True)
    command.set_defaults(run=udp_server)

    command = commands.add_parser("udp-client")
    command.add_argument("--to", required=True)
    command.add_argument("--port", type=int, required=True)
    command.add_argument("--sizes", required=True)
    command.set_defaults(run=udp_client)

    command = commands.add_parser("udp-closed")
    command.add_argument("--to", required=True)
    command.add_argument("--port", type=int, required=True)
    command.set_defaults(run=udp_closed)

    args = parser.parse_args()
    try:
        args.run(args)
    except (OSError, socket.timeout) as error:
        sys.exit(f"{args.command}: {error}")


if __name__ == "__main__":
    main()
