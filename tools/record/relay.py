#!/usr/bin/env python3
"""An impairing Ethernet relay: a user-space bridge between two interfaces that drops, delays,
duplicates and reorders TCP segments, with decisions drawn from a fixed seed.

    relay.py --west IFACE --east IFACE --seed N [--drop P] [--duplicate P] [--reorder P]
             [--reorder-ms MS] [--delay P] [--delay-ms MS] [--latency-ms MS] [--log FILE]

It reads every Ethernet frame that arrives on one interface (raw `AF_PACKET` sockets) and writes
it, unchanged, to the other one, so the two hosts on either side see each other as on one link
with their own MAC addresses. Only TCP segments that carry data are impaired; SYNs, pure ACKs,
FINs without data, ARP and neighbour discovery always pass (after the fixed latency).

What happens to a data segment is decided by a random generator seeded with the seed, the
direction, the segment's sequence number relative to the connection's initial one, its length
and how often the relay has seen that same segment before. So the same segment of the same
conversation gets the same fate in every recording, whatever the timing, and a retransmission
gets a fresh draw. A segment is never dropped more than twice.

- drop: the segment is not forwarded;
- duplicate: it is forwarded twice, the copy 1 ms after the original;
- reorder: it is held back until the next frame in the same direction has been forwarded, then
  forwarded right after it (or forwarded after `--reorder-ms` if no frame comes);
- delay: it is forwarded `--delay-ms` later than it would be, and later frames overtake it.

Every frame also waits `--latency-ms` (a fixed one-way delay), so that the round-trip time is
not zero and an analyser can tell a reordered segment from a retransmission.

The relay prints READY once both sockets listen, writes one JSON line per impairment to `--log`,
and on SIGINT or SIGTERM forwards what it still holds, prints a JSON summary and exits.
"""

import argparse
import heapq
import json
import random
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
SO_RCVBUFFORCE = 33
SO_SNDBUFFORCE = 32
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
IPPROTO_TCP = 6
TCP_SYN = 0x02

# Largest frame read at once; the links have a 1500-byte MTU and offloads are off.
MAX_FRAME = 65536
# A segment is never dropped again after this many drops, so a connection always progresses.
MAX_DROPS_PER_SEGMENT = 2
# The duplicate copy follows the original after this many seconds.
DUPLICATE_GAP = 0.001


def open_port(name):
    """Opens a raw socket that receives every frame arriving on interface `name` (not the ones
    this process sends) and sends frames out of it."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
    sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 8 << 20)
    # Binding with a protocol starts reception on this interface only.
    sock.bind((name, ETH_P_ALL))
    sock.setblocking(False)
    return sock


def tcp_segment(frame):
    """Returns (flow, seq, flags, payload length) for a TCP segment in an Ethernet frame, where
    flow is (source address, source port, destination address, destination port), or None."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype == ETHERTYPE_IPV4 and len(frame) >= 34:
        ihl = (frame[14] & 0x0F) * 4
        total = struct.unpack_from("!H", frame, 16)[0]
        if frame[23] != IPPROTO_TCP or ihl < 20:
            return None
        src, dst = frame[26:30], frame[30:34]
        tcp = 14 + ihl
        ip_payload = total - ihl
    elif ethertype == ETHERTYPE_IPV6 and len(frame) >= 54:
        if frame[20] != IPPROTO_TCP:
            return None
        src, dst = frame[22:38], frame[38:54]
        tcp = 54
        ip_payload = struct.unpack_from("!H", frame, 18)[0]
    else:
        return None
    if len(frame) < tcp + 20:
        return None
    sport, dport, seq = struct.unpack_from("!HHI", frame, tcp)
    offset = (frame[tcp + 12] >> 4) * 4
    flags = frame[tcp + 13]
    return (bytes(src), sport, bytes(dst), dport), seq, flags, max(0, ip_payload - offset)


class Relay:
    def __init__(self, args):
        self.args = args
        self.ports = {"c2s": open_port(args.west), "s2c": open_port(args.east)}
        # Frames are read on the port of their direction and written to the other one.
        self.out = {"c2s": self.ports["s2c"], "s2c": self.ports["c2s"]}
        self.queue = []  # (due time, order, direction, frame): frames waiting to leave
        self.order = 0
        self.held = {"c2s": None, "s2c": None}  # a reordered frame: (deadline, frame)
        self.isn = {}  # flow -> initial sequence number, from the SYN
        self.seen = {}  # (direction, relative seq, length) -> times seen
        self.drops = {}  # same key -> times dropped
        self.counts = {
            direction: {"frames": 0, "data_segments": 0, "drop": 0, "duplicate": 0, "reorder": 0, "delay": 0}
            for direction in ("c2s", "s2c")
        }
        self.log = open(args.log, "w", encoding="utf-8") if args.log else None
        self.start = time.monotonic()
        self.running = True

    def schedule(self, due, direction, frame):
        self.order += 1
        heapq.heappush(self.queue, (due, self.order, direction, frame))

    def note(self, direction, action, seq, length):
        self.counts[direction][action] += 1
        if self.log:
            line = {
                "t_ms": round((time.monotonic() - self.start) * 1000, 3),
                "dir": direction,
                "action": action,
                "seq": seq,
                "len": length,
            }
            self.log.write(json.dumps(line) + "\n")

    def fate(self, direction, flow, seq, length):
        """Decides what happens to one data segment; returns (action name or None, sequence
        number relative to the connection's initial one)."""
        isn = self.isn.get(flow)
        relative = (seq - isn - 1) % (1 << 32) if isn is not None else seq
        key = (direction, relative, length)
        seen = self.seen.get(key, 0)
        self.seen[key] = seen + 1
        rng = random.Random(f"{self.args.seed}/{direction}/{relative}/{length}/{seen}")
        draws = [rng.random() for _ in range(4)]
        if draws[0] < self.args.drop and self.drops.get(key, 0) < MAX_DROPS_PER_SEGMENT:
            self.drops[key] = self.drops.get(key, 0) + 1
            return "drop", relative
        if draws[1] < self.args.duplicate:
            return "duplicate", relative
        if draws[2] < self.args.reorder:
            return "reorder", relative
        if draws[3] < self.args.delay:
            return "delay", relative
        return None, relative

    def arrive(self, direction, frame, now):
        self.counts[direction]["frames"] += 1
        latency = self.args.latency_ms / 1000
        segment = tcp_segment(frame)
        action = None
        if segment is not None:
            flow, seq, flags, length = segment
            if flags & TCP_SYN:
                self.isn[flow] = seq
            elif length > 0:
                self.counts[direction]["data_segments"] += 1
                action, relative = self.fate(direction, flow, seq, length)
                if action:
                    self.note(direction, action, relative, length)
        held = self.held[direction]
        if action == "drop":
            return
        if action == "reorder" and held is None:
            self.held[direction] = (now + self.args.reorder_ms / 1000, frame)
            return
        if action == "delay":
            self.schedule(now + latency + self.args.delay_ms / 1000, direction, frame)
        else:
            self.schedule(now + latency, direction, frame)
        if action == "duplicate":
            self.schedule(now + latency + DUPLICATE_GAP, direction, frame)
        if held is not None:
            # The held frame leaves right after the frame that overtook it.
            self.held[direction] = None
            self.schedule(now + latency, direction, held[1])

    def release_held(self, now, everything=False):
        latency = self.args.latency_ms / 1000
        for direction, held in self.held.items():
            if held is not None and (everything or held[0] <= now):
                self.held[direction] = None
                self.schedule(max(now, held[0]) + latency, direction, held[1])

    def send_due(self, now, everything=False):
        while self.queue and (everything or self.queue[0][0] <= now):
            _due, _order, direction, frame = heapq.heappop(self.queue)
            try:
                self.out[direction].send(frame)
            except OSError as error:
                print(f"relay: send failed ({direction}): {error}", file=sys.stderr)

    def timeout(self, now):
        deadlines = [held[0] for held in self.held.values() if held is not None]
        if self.queue:
            deadlines.append(self.queue[0][0])
        if not deadlines:
            return 0.5
        return max(0.0, min(deadlines) - now)

    def run(self):
        print("READY", flush=True)
        by_socket = {sock: direction for direction, sock in self.ports.items()}
        while self.running:
            try:
                readable, _, _ = select.select(list(by_socket), [], [], self.timeout(time.monotonic()))
            except InterruptedError:
                continue
            now = time.monotonic()
            for sock in readable:
                while True:
                    try:
                        frame = sock.recv(MAX_FRAME)
                    except BlockingIOError:
                        break
                    self.arrive(by_socket[sock], frame, now)
            now = time.monotonic()
            self.release_held(now)
            self.send_due(now)
        self.release_held(time.monotonic(), everything=True)
        self.send_due(time.monotonic(), everything=True)
        if self.log:
            self.log.close()
        print(json.dumps(self.counts), flush=True)

    def stop(self, *_):
        self.running = False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--west", required=True, help="interface towards the client")
    parser.add_argument("--east", required=True, help="interface towards the server")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--drop", type=float, default=0.0)
    parser.add_argument("--duplicate", type=float, default=0.0)
    parser.add_argument("--reorder", type=float, default=0.0)
    parser.add_argument("--reorder-ms", type=float, default=10.0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--delay-ms", type=float, default=15.0)
    parser.add_argument("--latency-ms", type=float, default=2.0)
    parser.add_argument("--log")
    args = parser.parse_args()
    relay = Relay(args)
    signal.signal(signal.SIGINT, relay.stop)
    signal.signal(signal.SIGTERM, relay.stop)
    relay.run()


if __name__ == "__main__":
    main()
