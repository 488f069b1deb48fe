#!/usr/bin/env python3
"""Builds one big classic pcap file from recorded captures by time-shifted copies of their TCP
connections.

The inputs (pcap or pcapng, Ethernet link type) are cut into TCP connections. The output is made
of rounds: each round uses every recorded connection once, in a shuffled order, and gives each
use (an "instance") a start time and a client address of its own. Start times follow a Poisson
process (exponential gaps, mean 1/RATE seconds) that runs on across rounds, and the frames of all
instances are merged in time order, so that connections overlap as on a busy server. Within an
instance every frame keeps its time relative to the connection's first frame.

In every frame of an instance, the client's IPv4 or IPv6 address (source or destination) is
replaced by the instance's address, and the IPv4 header checksum and the TCP checksum (with its
pseudo-header, over IPv4 and IPv6) are computed anew; nothing else changes: MAC addresses, ports,
sequence numbers, TCP options and payloads are byte for byte those of the recording. Instance j
(0, 1, 2, ... in order of start) gets the client address 10.(64 + q / 256).(q % 256).(1 + j % 254)
with q = j / 254 (IPv4), or fd77::c:0:(j / 65536):(j % 65536) (IPv6); the server keeps its
address, so it serves thousands of clients.

Instances are added until the output reaches the wanted size (--size, default 1G) or frame count
(--frames): the last instance added crosses the target, and every instance is written whole, so
the file ends with complete connections and is at most one connection larger than the target.
With --exact, connections keep starting until writing stops at exactly the target (the frame
count, or the last whole frame under the size), so the connections open at that point (a few
hundred at the default rate) end cut off, as in a capture that was stopped on a busy server.

The output is deterministic: the same inputs (in the same order) and options give the same file.

Usage:
    multiply.py --out FILE [--size SIZE | --frames N] [--exact] [--rate R] [--seed S] INPUT...

SIZE takes the suffixes K, M and G (powers of 1024). Standard library only.
"""

import argparse
import heapq
import os
import random
import struct
import sys
import time

LINKTYPE_ETHERNET = 1
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
VLAN_ETHERTYPES = (0x8100, 0x88A8)
IPPROTO_TCP = 6
TCP_SYN = 0x02
TCP_ACK = 0x10

# Classic pcap: file header and per-record header.
PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAP_FILE_HEADER_LEN = 24
PCAP_RECORD_HEADER_LEN = 16
OUTPUT_SNAPLEN = 262144

# pcapng block types and option codes.
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_IDB = 0x00000001
PCAPNG_OPB = 0x00000002
PCAPNG_SPB = 0x00000003
PCAPNG_EPB = 0x00000006
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D
PCAPNG_OPT_END = 0
PCAPNG_IF_TSRESOL = 9
PCAPNG_IF_TSOFFSET = 14

# Address blocks of the instances' clients.
IPV4_CLIENT_FIRST_OCTETS = (10, 64)
IPV4_CLIENT_INSTANCES = 64 * 256 * 254
IPV6_CLIENT_PREFIX = bytes.fromhex("fd77 0000 0000 0000 000c 0000")

# Bytes written between two progress lines.
PROGRESS_EVERY = 64 * 2**20


class InputError(Exception):
    """An input file this script cannot use."""


def parse_size(text):
    """'1G' -> 1073741824; suffixes K, M, G, T are powers of 1024."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    factor = 1
    if text and text[-1] in units:
        factor = units[text[-1]]
        text = text[:-1]
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("the size must be positive")
    return int(value * factor)


def positive_int(text):
    value = int(text.replace("_", ""))
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


# --- reading ------------------------------------------------------------------------------------


def read_pcap(data, path):
    """Frames of a classic pcap file: a list of (timestamp in ns, bytes, original length), and the
    link type."""
    magic_le = struct.unpack_from("<I", data, 0)[0]
    for endian in "<>":
        magic = struct.unpack_from(endian + "I", data, 0)[0]
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            break
    else:
        raise InputError(f"{path}: not a pcap file (magic {magic_le:#010x})")
    scale = 1000 if magic == PCAP_MAGIC_US else 1
    _, _, _, _, _, network = struct.unpack_from(endian + "HHiIII", data, 4)
    linktype = network & 0xFFFF
    record = struct.Struct(endian + "IIII")
    frames = []
    offset = PCAP_FILE_HEADER_LEN
    while offset + PCAP_RECORD_HEADER_LEN <= len(data):
        seconds, fraction, caplen, origlen = record.unpack_from(data, offset)
        offset += PCAP_RECORD_HEADER_LEN
        if offset + caplen > len(data):
            raise InputError(f"{path}: the last record is cut off")
        frames.append((seconds * 1_000_000_000 + fraction * scale, data[offset : offset + caplen], origlen))
        offset += caplen
    return frames, linktype


def tsresol_to_ns(value):
    """A function from ticks to nanoseconds for an if_tsresol option byte: a tick is 10^-v
    seconds, or 2^-v seconds when the high bit is set. Integer arithmetic, so it is exact."""
    exponent = value & 0x7F
    if value & 0x80:
        return lambda ticks: ticks * 1_000_000_000 >> exponent
    if exponent <= 9:
        factor = 10 ** (9 - exponent)
        return lambda ticks: ticks * factor
    divisor = 10 ** (exponent - 9)
    return lambda ticks: ticks // divisor


# The default resolution of a pcapng interface: microseconds.
PCAPNG_DEFAULT_TSRESOL = 6


def read_pcapng(data, path):
    """Frames of a pcapng file (EPB, SPB and the obsolete OPB of every section); every interface
    must have the same link type. SPBs carry no timestamp: they get the previous frame's."""
    frames = []
    linktypes = set()
    interfaces = []
    endian = "<"
    offset = 0
    last_ts = 0
    while offset + 12 <= len(data):
        block_type = struct.unpack_from("<I", data, offset)[0]
        if block_type == PCAPNG_SHB:
            order = data[offset + 8 : offset + 12]
            if struct.unpack("<I", order)[0] == PCAPNG_BYTE_ORDER_MAGIC:
                endian = "<"
            elif struct.unpack(">I", order)[0] == PCAPNG_BYTE_ORDER_MAGIC:
                endian = ">"
            else:
                raise InputError(f"{path}: bad byte-order magic at offset {offset}")
            interfaces = []
        else:
            block_type = struct.unpack_from(endian + "I", data, offset)[0]
        length = struct.unpack_from(endian + "I", data, offset + 4)[0]
        if length < 12 or length % 4 or offset + length > len(data):
            raise InputError(f"{path}: bad block length {length} at offset {offset}")
        body = data[offset + 8 : offset + length - 4]
        if block_type == PCAPNG_IDB:
            linktype, _, snaplen = struct.unpack_from(endian + "HHI", body, 0)
            tick, ts_offset = tsresol_to_ns(PCAPNG_DEFAULT_TSRESOL), 0
            position = 8
            while position + 4 <= len(body):
                code, size = struct.unpack_from(endian + "HH", body, position)
                value = body[position + 4 : position + 4 + size]
                if code == PCAPNG_OPT_END:
                    break
                if code == PCAPNG_IF_TSRESOL and size >= 1:
                    tick = tsresol_to_ns(value[0])
                elif code == PCAPNG_IF_TSOFFSET and size == 8:
                    ts_offset = struct.unpack(endian + "q", value)[0] * 1_000_000_000
                position += 4 + (size + 3) // 4 * 4
            interfaces.append((linktype, snaplen, tick, ts_offset))
        elif block_type in (PCAPNG_EPB, PCAPNG_OPB):
            if block_type == PCAPNG_EPB:
                iface, ts_high, ts_low, caplen, origlen = struct.unpack_from(endian + "IIIII", body, 0)
            else:
                iface, _, ts_high, ts_low, caplen, origlen = struct.unpack_from(endian + "HHIIII", body, 0)
            if iface >= len(interfaces):
                raise InputError(f"{path}: packet of undeclared interface {iface}")
            linktype, _, tick, ts_offset = interfaces[iface]
            linktypes.add(linktype)
            last_ts = ts_offset + tick((ts_high << 32) | ts_low)
            frames.append((last_ts, body[20 : 20 + caplen], origlen))
        elif block_type == PCAPNG_SPB:
            if not interfaces:
                raise InputError(f"{path}: simple packet block before any interface")
            linktype, snaplen, _, _ = interfaces[0]
            linktypes.add(linktype)
            origlen = struct.unpack_from(endian + "I", body, 0)[0]
            caplen = min(origlen, snaplen) if snaplen else origlen
            frames.append((last_ts, body[4 : 4 + caplen], origlen))
        offset += length
    if len(linktypes) > 1:
        raise InputError(f"{path}: interfaces of several link types {sorted(linktypes)}")
    return frames, linktypes.pop() if linktypes else LINKTYPE_ETHERNET


def read_capture(path):
    with open(path, "rb") as file:
        data = file.read()
    if len(data) < PCAP_FILE_HEADER_LEN:
        raise InputError(f"{path}: too short for a capture file")
    if struct.unpack_from("<I", data, 0)[0] == PCAPNG_SHB:
        frames, linktype = read_pcapng(data, path)
    else:
        frames, linktype = read_pcap(data, path)
    if linktype != LINKTYPE_ETHERNET:
        raise InputError(f"{path}: link type {linktype}, only Ethernet ({LINKTYPE_ETHERNET}) is supported")
    return frames


# --- checksums ----------------------------------------------------------------------------------


def residue(data):
    """The one's complement sum of `data` as 16-bit big-endian words, as a residue modulo 0xFFFF
    (since 0x10000 = 1 modulo 0xFFFF, the sum of the words and the number the bytes spell are the
    same modulo 0xFFFF; an odd length is padded with a zero byte)."""
    if len(data) % 2:
        data = data + b"\0"
    return int.from_bytes(data, "big") % 0xFFFF


def checksum_from_residue(value):
    """The Internet checksum for a sum with this residue: the complement of the folded sum. The
    folded sum of a non-zero sum is in 1..0xFFFF, so residue 0 stands for 0xFFFF (checksum 0)."""
    return (0xFFFF - value % 0xFFFF) % 0xFFFF


# --- connections --------------------------------------------------------------------------------


class Frame:
    """One recorded frame and what rewriting it per instance needs."""

    __slots__ = ("ts", "data", "origlen", "parsed", "addr_at", "ip_sum_at", "ip_partial", "tcp_sum_at", "tcp_partial")

    def __init__(self, ts, data, origlen):
        self.ts = ts
        self.data = data
        self.origlen = origlen
        # What parse_tcp found, until prepare() has used it.
        self.parsed = None
        # Where the client's address is in the frame, where the IPv4 header checksum (None for
        # IPv6) and the TCP checksum are, and the residues of the checksummed bytes without the
        # client's address and with the checksum fields at zero.
        self.addr_at = None
        self.ip_sum_at = None
        self.ip_partial = 0
        self.tcp_sum_at = None
        self.tcp_partial = 0


class Connection:
    def __init__(self, source, key):
        self.source = source
        self.key = key
        self.version = key[0]
        self.frames = []
        self.client = None  # (address, port), known from the SYN or guessed
        self.bytes = 0

    def record_size(self):
        return self.bytes + PCAP_RECORD_HEADER_LEN * len(self.frames)


def parse_tcp(data):
    """Locates IP and TCP in an Ethernet frame: (version, ip offset, tcp offset, tcp length, source
    address, destination address, source port, destination port, flags), or None for anything
    that is not a whole, unfragmented TCP segment over IPv4 or IPv6."""
    offset = 12
    if len(data) < 14:
        return None
    ethertype = int.from_bytes(data[12:14], "big")
    while ethertype in VLAN_ETHERTYPES and len(data) >= offset + 6:
        offset += 4
        ethertype = int.from_bytes(data[offset : offset + 2], "big")
    ip = offset + 2
    if ethertype == ETHERTYPE_IPV4:
        if len(data) < ip + 20 or data[ip] >> 4 != 4:
            return None
        header_len = (data[ip] & 0x0F) * 4
        total_len = int.from_bytes(data[ip + 2 : ip + 4], "big")
        fragment = int.from_bytes(data[ip + 6 : ip + 8], "big") & 0x3FFF
        if data[ip + 9] != IPPROTO_TCP or fragment or header_len < 20 or total_len > len(data) - ip:
            return None
        src, dst = data[ip + 12 : ip + 16], data[ip + 16 : ip + 20]
        tcp = ip + header_len
        tcp_len = total_len - header_len
        version = 4
    elif ethertype == ETHERTYPE_IPV6:
        if len(data) < ip + 40 or data[ip] >> 4 != 6 or data[ip + 6] != IPPROTO_TCP:
            return None
        payload_len = int.from_bytes(data[ip + 4 : ip + 6], "big")
        if payload_len > len(data) - ip - 40:
            return None
        src, dst = data[ip + 8 : ip + 24], data[ip + 24 : ip + 40]
        tcp = ip + 40
        tcp_len = payload_len
        version = 6
    else:
        return None
    if tcp_len < 20:
        return None
    sport = int.from_bytes(data[tcp : tcp + 2], "big")
    dport = int.from_bytes(data[tcp + 2 : tcp + 4], "big")
    flags = data[tcp + 13]
    return version, ip, tcp, tcp_len, src, dst, sport, dport, flags


def load_connections(paths, log):
    """Cuts the inputs into TCP connections, in order of their first frame in each input."""
    connections = []
    stats = {"frames": 0, "other": 0, "bad_tcp_checksums": 0, "bad_ip_checksums": 0}
    for source, path in enumerate(paths):
        frames = read_capture(path)
        open_by_key = {}
        count = 0
        for ts, data, origlen in frames:
            stats["frames"] += 1
            parsed = parse_tcp(data)
            if parsed is None or len(data) != origlen:
                stats["other"] += 1
                continue
            version, ip, tcp, tcp_len, src, dst, sport, dport, flags = parsed
            a, b = (src, sport), (dst, dport)
            key = (version,) + ((a, b) if a < b else (b, a))
            syn_only = flags & (TCP_SYN | TCP_ACK) == TCP_SYN
            connection = open_by_key.get(key)
            # A SYN on a 4-tuple that already carried a connection starts a new one (port reuse).
            if connection is None or (syn_only and connection.client is not None and len(connection.frames) > 1):
                connection = Connection(source, key)
                open_by_key[key] = connection
                connections.append(connection)
                count += 1
            if syn_only and connection.client is None:
                connection.client = a
            frame = Frame(ts, data, origlen)
            connection.frames.append(frame)
            connection.bytes += len(data)
            # The rewrite is prepared once the client is known, after the whole input is read.
            frame.parsed = (ip, tcp, tcp_len, src, dst, sport)
        log(f"{path}: {len(frames)} frames, {count} TCP connections")
    for connection in connections:
        if connection.client is None:
            # No SYN in the capture: the client is taken to be the end with the higher port.
            (_, a, b) = connection.key
            connection.client = a if a[1] > b[1] else b
        prepare(connection, stats)
    return connections, stats


def prepare(connection, stats):
    """Fills in each frame's rewrite offsets and checksum residues, and counts the recorded frames
    whose checksums were already wrong (they are written with correct ones)."""
    client_addr, client_port = connection.client
    v4 = connection.version == 4
    addr_len = 4 if v4 else 16
    for frame in connection.frames:
        ip, tcp, tcp_len, src, dst, sport = frame.parsed
        frame.parsed = None
        data = frame.data
        client_is_src = src == client_addr and sport == client_port
        server_addr = dst if client_is_src else src
        if v4:
            src_at, dst_at = ip + 12, ip + 16
        else:
            src_at, dst_at = ip + 8, ip + 24
        addr_at = src_at if client_is_src else dst_at
        frame.addr_at = addr_at
        # The TCP checksum covers the pseudo-header (both addresses, protocol, TCP length) and
        # the segment; the client address is added per instance.
        segment = bytearray(data[tcp : tcp + tcp_len])
        recorded_tcp = int.from_bytes(segment[16:18], "big")
        segment[16:18] = b"\0\0"
        partial = residue(server_addr) + IPPROTO_TCP + tcp_len + residue(bytes(segment))
        frame.tcp_sum_at = tcp + 16
        frame.tcp_partial = partial % 0xFFFF
        if checksum_from_residue(frame.tcp_partial + residue(client_addr)) != recorded_tcp % 0xFFFF:
            stats["bad_tcp_checksums"] += 1
        if v4:
            header_len = (data[ip] & 0x0F) * 4
            header = bytearray(data[ip : ip + header_len])
            recorded_ip = int.from_bytes(header[10:12], "big")
            header[10:12] = b"\0\0"
            at = addr_at - ip
            header[at : at + addr_len] = bytes(addr_len)
            frame.ip_sum_at = ip + 10
            frame.ip_partial = residue(bytes(header))
            if checksum_from_residue(frame.ip_partial + residue(client_addr)) != recorded_ip % 0xFFFF:
                stats["bad_ip_checksums"] += 1


# --- instances ----------------------------------------------------------------------------------


def client_address(version, number):
    """The client address of instance `number` (see the module documentation)."""
    if version == 4:
        if number >= IPV4_CLIENT_INSTANCES:
            raise OverflowError("more instances than IPv4 client addresses")
        block = number // 254
        return bytes([IPV4_CLIENT_FIRST_OCTETS[0], IPV4_CLIENT_FIRST_OCTETS[1] + block // 256, block % 256, 1 + number % 254])
    if number >= 2**32:
        raise OverflowError("more instances than IPv6 client addresses")
    return IPV6_CLIENT_PREFIX + number.to_bytes(4, "big")


def plan_instances(connections, target, by_frames, rate, seed):
    """Yields the instances (start offset in ns, connection) in order of start, until their frames
    (by_frames) or their bytes in the output reach `target`; without end if `target` is None."""
    rng = random.Random(seed)
    mean_gap_ns = 1e9 / rate
    start = 0.0
    total = PCAP_FILE_HEADER_LEN if not by_frames else 0
    while True:
        order = list(connections)
        rng.shuffle(order)
        for connection in order:
            if target is not None and total >= target:
                return
            yield int(start), connection
            total += len(connection.frames) if by_frames else connection.record_size()
            start += rng.expovariate(1.0) * mean_gap_ns


def write_output(path, connections, args, log):
    """Merges the instances' frames in time order into a classic pcap file."""
    by_frames = args.frames is not None
    target = args.frames if by_frames else args.size
    base = min(c.frames[0].ts for c in connections)
    record = struct.Struct("<IIII")
    pack_checksum = struct.Struct(">H").pack_into
    # With --exact, connections keep starting until the writer stops, as on a server that stays
    # busy while the capture is stopped.
    planned = None if args.exact else target
    instances = plan_instances(connections, planned, by_frames, args.rate, args.seed)
    heap = []
    next_instance = next(instances, None)
    number = 0
    frames_written = 0
    bytes_written = PCAP_FILE_HEADER_LEN
    next_progress = PROGRESS_EVERY
    # Per instance: (connection, start, client address, its residue).
    live = {}
    started = time.monotonic()
    last_ts = 0
    with open(path, "wb", buffering=8 * 2**20) as out:
        out.write(struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, OUTPUT_SNAPLEN, LINKTYPE_ETHERNET))
        while heap or next_instance is not None:
            if next_instance is not None and (not heap or base + next_instance[0] <= heap[0][0]):
                offset, connection = next_instance
                address = client_address(connection.version, number)
                live[number] = (connection, base + offset - connection.frames[0].ts, address, residue(address))
                heapq.heappush(heap, (base + offset, number, 0))
                number += 1
                next_instance = next(instances, None)
                continue
            ts, instance, index = heapq.heappop(heap)
            connection, shift, address, address_residue = live[instance]
            frame = connection.frames[index]
            data = bytearray(frame.data)
            data[frame.addr_at : frame.addr_at + len(address)] = address
            pack_checksum(data, frame.tcp_sum_at, checksum_from_residue(frame.tcp_partial + address_residue))
            if frame.ip_sum_at is not None:
                pack_checksum(data, frame.ip_sum_at, checksum_from_residue(frame.ip_partial + address_residue))
            size = PCAP_RECORD_HEADER_LEN + len(data)
            if args.exact and (
                (by_frames and frames_written >= target) or (not by_frames and bytes_written + size > target)
            ):
                break
            micros = ts // 1000
            out.write(record.pack(micros // 1_000_000, micros % 1_000_000, len(data), frame.origlen))
            out.write(data)
            frames_written += 1
            bytes_written += size
            last_ts = ts
            if index + 1 < len(connection.frames):
                following = connection.frames[index + 1]
                heapq.heappush(heap, (following.ts + shift, instance, index + 1))
            else:
                del live[instance]
            if bytes_written >= next_progress:
                next_progress += PROGRESS_EVERY
                log(
                    f"  {bytes_written / 2**20:,.0f} MiB, {frames_written:,} frames, "
                    f"{number:,} connections, {time.monotonic() - started:.0f} s"
                )
    return {
        "frames": frames_written,
        "bytes": bytes_written,
        "connections": number,
        "cut": len(live),
        "span_s": (last_ts - base) / 1e9,
    }


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="recorded pcap or pcapng files")
    parser.add_argument("--out", required=True, help="the classic pcap file to write")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--size", type=parse_size, help="target file size, e.g. 1G (default)")
    target.add_argument("--frames", type=positive_int, help="target frame count, e.g. 1000000")
    parser.add_argument("--exact", action="store_true", help="stop at exactly the target, cutting the open connections")
    parser.add_argument("--rate", type=float, default=40.0, help="new connections per second (default 40)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the order and start times (default 1)")
    args = parser.parse_args()
    if args.size is None and args.frames is None:
        args.size = parse_size("1G")
    if args.rate <= 0:
        parser.error("--rate must be positive")

    def log(message):
        print(message, file=sys.stderr, flush=True)

    try:
        connections, stats = load_connections(args.inputs, log)
    except (InputError, OSError, struct.error) as error:
        sys.exit(f"multiply.py: {error}")
    if not connections:
        sys.exit("multiply.py: no TCP connection in the inputs")
    frames = sum(len(c.frames) for c in connections)
    size = sum(c.record_size() for c in connections)
    log(
        f"{len(connections)} connections, {frames:,} frames, {size / 2**20:,.1f} MiB per round; "
        f"{stats['other']} frames not used (not TCP over IPv4/IPv6, or cut by the snap length)"
    )
    if stats["bad_tcp_checksums"] or stats["bad_ip_checksums"]:
        log(
            f"warning: {stats['bad_tcp_checksums']} TCP and {stats['bad_ip_checksums']} IPv4 header "
            "checksums were wrong in the recordings; they are written correct"
        )
    result = write_output(args.out, connections, args, log)
    log(
        f"wrote {args.out}: {result['frames']:,} frames, {result['bytes']:,} bytes, "
        f"{result['connections']:,} connections ({result['connections'] / len(connections):.1f} rounds), "
        f"{result['span_s']:.1f} s of traffic"
        + (f", {result['cut']} connections cut off at the end" if result["cut"] else "")
    )
    if os.path.getsize(args.out) != result["bytes"]:
        sys.exit("multiply.py: the file size differs from what was written")


if __name__ == "__main__":
    main()
