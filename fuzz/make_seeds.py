#!/usr/bin/env python3
"""Rebuilds the committed seed corpus under fuzz/seeds/<target>/ from captures/.

Run from anywhere: python3 fuzz/make_seeds.py. It needs tshark (for the
WebSocket streams); everything else is read with the small pcap/pcapng reader
below. Seeds are named by the SHA-1 of their content, so rerunning is stable.
"""

import hashlib
import os
import re
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAPTURES = os.path.join(ROOT, "captures")
SEEDS = os.path.join(ROOT, "fuzz", "seeds")

# The extension values of the websocket_messages target, by index.
EXTENSIONS = [
    None,
    "permessage-deflate",
    "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
    "permessage-deflate; client_max_window_bits=8; server_max_window_bits=8",
    "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
    "x-webkit-deflate-frame",
    "permessage-deflate, x-custom-extension",
    "permessage-deflate; server_no_context_takeover",
]


def read_capture(path):
    """Yields (link_type, frame bytes, original length, timestamp in ns) for every packet."""
    data = open(path, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        yield from read_pcap(data, "<")
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        yield from read_pcap(data, ">")
    elif magic == b"\x0a\x0d\x0d\x0a":
        yield from read_pcapng(data)


def read_pcap(data, order):
    magic = struct.unpack(order + "I", data[:4])[0]
    unit = 1 if magic == 0xA1B23C4D else 1000
    link_type = struct.unpack(order + "I", data[20:24])[0] & 0x0FFFFFFF
    pos = 24
    while pos + 16 <= len(data):
        secs, frac, cap_len, orig_len = struct.unpack(order + "IIII", data[pos : pos + 16])
        pos += 16
        yield link_type, data[pos : pos + cap_len], orig_len, secs * 10**9 + frac * unit
        pos += cap_len


def read_pcapng(data):
    pos = 0
    order = "<"
    interfaces = []
    while pos + 12 <= len(data):
        block_type = struct.unpack(order + "I", data[pos : pos + 4])[0]
        if block_type == 0x0A0D0D0A:
            order = "<" if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            interfaces = []
        block_len = struct.unpack(order + "I", data[pos + 4 : pos + 8])[0]
        if block_len < 12:
            return
        body = data[pos + 8 : pos + block_len - 4]
        if block_type == 1:
            interfaces.append(struct.unpack(order + "H", body[:2])[0])
        elif block_type == 6:
            iface, ts_high, ts_low, cap_len, orig_len = struct.unpack(order + "IIIII", body[:20])
            # Microseconds, the default resolution; close enough for seeds.
            ts = ((ts_high << 32) | ts_low) * 1000
            yield interfaces[iface], body[20 : 20 + cap_len], orig_len, ts
        elif block_type == 3:
            orig_len = struct.unpack(order + "I", body[:4])[0]
            yield interfaces[0], body[4 : 4 + orig_len], orig_len, 0
        pos += block_len


def write_seed(target, content):
    folder = os.path.join(SEEDS, target)
    os.makedirs(folder, exist_ok=True)
    name = hashlib.sha1(content).hexdigest()[:16]
    with open(os.path.join(folder, name), "wb") as out:
        out.write(content)


def captures(ext=None):
    for name in sorted(os.listdir(CAPTURES)):
        if name.endswith((".pcap", ".pcapng")) and (ext is None or name.endswith(ext)):
            yield os.path.join(CAPTURES, name)


def frame_seeds():
    """A few distinct frames of every capture, with the 2-byte link type prefix."""
    seen = set()
    for path in captures():
        taken = 0
        by_len = {}
        for link_type, frame, _, _ in read_capture(path):
            if len(frame) > 1600 or frame in seen:
                continue
            # Keep frames of different lengths: they tend to be different protocols.
            by_len.setdefault(len(frame), (link_type, frame))
        for _, (link_type, frame) in sorted(by_len.items())[:: max(1, len(by_len) // 3)]:
            if taken == 3:
                break
            seen.add(frame)
            write_seed("frame", struct.pack(">H", link_type) + frame)
            taken += 1
    # Each link type with an empty frame, and a truncated Ethernet frame cut by a snap length.
    for link_type in (0, 1, 12, 101, 108, 113, 228, 229, 276):
        write_seed("frame", struct.pack(">H", link_type))
    write_seed("frame", struct.pack(">H", 0x8001) + bytes.fromhex("ffffffffffff0011223344550800450000"))


def pcap_file_seeds():
    for path in captures():
        data = open(path, "rb").read()
        if len(data) >= 10_000:
            continue
        write_seed("pcap_file", data)
        for cut in (len(data) // 2, len(data) - 7, 40, 30):
            write_seed("pcap_file", data[:cut])
    # An empty file, and a header that announces a huge record.
    write_seed("pcap_file", b"")
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    write_seed("pcap_file", header + struct.pack("<IIII", 0, 0, 0xFFFFFF, 0xFFFFFF) + b"\0" * 16)


def follow_streams(path):
    """Yields (client bytes, server bytes) of every TCP stream of a capture."""
    out = subprocess.run(
        ["tshark", "-r", path, "-T", "fields", "-e", "tcp.stream"],
        capture_output=True, text=True, check=True,
    ).stdout
    for stream in sorted({int(s) for s in out.split() if s.strip()}):
        text = subprocess.run(
            ["tshark", "-r", path, "-q", "-z", f"follow,tcp,raw,{stream}"],
            capture_output=True, text=True, check=True,
        ).stdout
        client, server = bytearray(), bytearray()
        for line in text.splitlines():
            if not re.fullmatch(r"\t?[0-9a-f]+", line):
                continue
            (server if line.startswith("\t") else client).extend(bytes.fromhex(line.strip()))
        yield bytes(client), bytes(server)


def after_handshake(data):
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None, data
    return data[:end].decode("latin-1"), data[end + 4 :]


def frame_headers(stream, limit):
    """The first `limit` frames' headers of a WebSocket stream, each with 8 payload bytes."""
    pos = 0
    while pos + 2 <= len(stream) and limit > 0:
        b1 = stream[pos + 1]
        len7 = b1 & 0x7F
        ext = {126: 2, 127: 8}.get(len7, 0)
        header_len = 2 + ext + (4 if b1 & 0x80 else 0)
        if pos + header_len > len(stream):
            return
        payload_len = int.from_bytes(stream[pos + 2 : pos + 2 + ext], "big") if ext else len7
        yield stream[pos : pos + header_len + min(8, payload_len)]
        pos += header_len + payload_len
        limit -= 1


def websocket_seeds():
    seen = set()
    for path in captures():
        if not os.path.basename(path).startswith(("ws-", "http-")):
            continue
        for client, server in follow_streams(path):
            request, client_ws = after_handshake(client)
            response, server_ws = after_handshake(server)
            if not response or " 101 " not in response.split("\r\n")[0]:
                continue
            extension = None
            for line in response.split("\r\n"):
                name, _, value = line.partition(":")
                if name.strip().lower() == "sec-websocket-extensions":
                    extension = value.strip()
            index = 1 if extension and "permessage-deflate" in extension else 0
            if extension in EXTENSIONS:
                index = EXTENSIONS.index(extension)
            for sender, stream in ((0, client_ws), (1, server_ws)):
                stream = stream[:8192]
                if not stream or stream in seen:
                    continue
                seen.add(stream)
                settings = sender | (index << 1)
                # Whole stream at once, then the same in small chunks with one hole.
                write_seed("websocket_messages", bytes([settings, 0, 0]) + stream)
                write_seed("websocket_messages", bytes([settings | 0x10, 7, 1, 1, 3]) + stream)
                for header in frame_headers(stream, 6):
                    write_seed("websocket_frame", header)


def defrag_seeds():
    # Limits byte 0x7f: 7 datagrams, 16 MiB, 512 fragments, 65535; timeout 30 s.
    limits = bytes([0x7F, 30])

    def frag(key, mf, offset_units, len8, frame_offset=34, tick=0, literal=b""):
        head = key | (4 if mf else 0) | (8 if literal else 0) | (tick << 4)
        length = len(literal) if literal else len8
        return bytes([head]) + struct.pack(">H", offset_units) + bytes([length, frame_offset]) + literal

    # The UDP datagram of net-udp-icmp.pcapng: 1480 + 1480 + 48 bytes.
    write_seed("defrag", limits + frag(0, 1, 0, 185) + frag(0, 1, 185, 185) + frag(0, 0, 370, 6))
    # Out of order, with a duplicate and a conflicting literal overlap.
    write_seed("defrag", limits + frag(1, 0, 2, 2) + frag(1, 1, 0, 2) + frag(1, 1, 0, 2)
               + frag(1, 1, 1, 0, literal=b"conflict") + frag(1, 1, 1, 1))
    # Two interleaved datagrams, one never completed and timed out.
    write_seed("defrag", limits + frag(2, 1, 0, 4) + frag(3, 1, 0, 4) + frag(2, 0, 4, 1)
               + frag(0, 0, 0, 1, tick=15) + frag(0, 0, 0, 1, tick=15))
    # Small limits: 1 datagram, 256 bytes, 1 fragment; unaligned and huge offsets.
    write_seed("defrag", bytes([0x01, 1]) + frag(0, 1, 0, 16) + frag(1, 1, 0, 1)
               + frag(0, 1, 0x8003, 1) + frag(0, 0, 0xFFFF, 1) + frag(0, 0, 0x1FFF, 2))


def reassembly_seeds():
    def seg(flags, delta, length, literal=b""):
        if literal:
            flags |= 0x10
            length = len(literal)
        return bytes([flags]) + struct.pack(">h", delta) + bytes([length]) + literal

    def ack(delta):
        return bytes([0x08]) + struct.pack(">h", delta)

    consistent = bytes([0x1F]) + struct.pack(">I", 0xFFFFFF00)  # wraps past 2^32
    # SYN, in order, out of order, a retransmission, the hole filled, FIN.
    write_seed("reassembly", consistent + seg(1, 0, 0) + seg(0, 1, 4) + seg(0, 33, 4)
               + seg(0, 1, 4) + seg(0, 17, 4) + seg(2, 49, 2) + ack(60))
    # Mid-stream pickup with tiny limits: a hole declared by an ack, then finish.
    write_seed("reassembly", bytes([0x10]) + struct.pack(">I", 1000) + seg(0, 0, 2)
               + seg(0, 100, 8) + seg(0, 200, 8) + seg(0, 300, 8) + ack(150) + seg(4, 400, 1))
    # Literal data: conflicting overlap, keep-alive, data after the FIN.
    write_seed("reassembly", bytes([0x0F]) + struct.pack(">I", 7) + seg(1, 0, 0)
               + seg(0, 1, 0, b"hello") + seg(0, 3, 0, b"LLO w") + seg(0, 5, 0, b"x")
               + seg(2, 8, 0, b"orld") + seg(0, 12, 0, b"late"))


HTTP_METHODS = ["GET", "HEAD", "CONNECT", "POST", "OPTIONS"]


def http_seeds():
    """Both directions of the HTTP connections, whole and cut into pieces with a gap."""
    seen = set()
    for path in captures():
        if not os.path.basename(path).startswith(("http-", "ws-basic.", "ws-deflate.")):
            continue
        for client, server in follow_streams(path):
            methods = [m.split(b" ", 1)[0].decode("latin-1") for m in re.findall(rb"(?:^|\r\n\r\n)([A-Z]+ )", client)]
            indices = [HTTP_METHODS.index(m) for m in methods if m in HTTP_METHODS][:15]
            for settings, prefix, stream in (
                (0, b"", client),
                (1 | (len(indices) << 4), bytes(indices), server),
            ):
                stream = stream[:4096]
                if not stream or stream in seen:
                    continue
                seen.add(stream)
                write_seed("http", bytes([settings]) + prefix + b"\0" + stream)
                if len(seen) % 3 == 0:
                    cuts = bytes([0x10, 0x05, 0x3F, 0x83, 0x20])
                    write_seed("http", bytes([settings | 2]) + prefix + bytes([len(cuts)]) + cuts + stream)


def pipeline_seeds():
    """The first frames of each capture as one input, timestamps kept to the millisecond."""
    for path in captures():
        packets = list(read_capture(path))
        if not packets or len({p[0] for p in packets}) != 1:
            continue
        out = bytearray(struct.pack(">H", packets[0][0]))
        last = packets[0][3]
        for _, frame, orig_len, ts in packets[:48]:
            if len(out) + len(frame) > 12_000:
                break
            header = len(frame) | (0x8000 if orig_len > len(frame) else 0)
            tick = min(254, max(0, (ts - last) // 1_000_000))
            last = ts
            out += struct.pack(">HB", header, tick) + frame
        write_seed("pipeline", bytes(out))


def main():
    if not os.path.isdir(CAPTURES):
        sys.exit(f"no captures folder at {CAPTURES}")
    frame_seeds()
    pcap_file_seeds()
    websocket_seeds()
    defrag_seeds()
    reassembly_seeds()
    http_seeds()
    pipeline_seeds()
    # A few hand-made headers: 16- and 64-bit lengths, masked, reserved opcode, broken rules.
    for header in ("8105", "818537fa213d", "827e0100", "827f0000000000010000", "897e007e",
                   "0a00", "8b00", "827f8000000000000000", "817e0005", "c1ff0000000000000001aabbccdd"):
        write_seed("websocket_frame", bytes.fromhex(header))


if __name__ == "__main__":
    main()
