#!/usr/bin/env python3
"""Merges the two peers' truth logs and checks a capture against the merged log.

    truth.py merge SERVER.jsonl CLIENT.jsonl > NAME.truth.jsonl
    truth.py verify CAPTURE NAME.truth.jsonl PORT [--scenario FILE] [--full FULL_CAPTURE]
        [--keylog KEYLOG]
    truth.py analysis CAPTURE

`verify` checks a WebSocket capture with three checks and exits 1 if any fails:
  1. the log is consistent: what one side sent, the other side received, in the same order;
  2. tshark's WebSocket dissector finds, per connection and direction, as many frames of each
     opcode as the log says were sent (a message sent in N frames is one text or binary frame
     and N-1 continuation frames);
  3. the TCP stream bytes, rebuilt here from the captured segments by sequence number (so
     retransmitted, duplicated and out-of-order segments are put in their place, overlapping
     bytes must agree, and a hole fails the check), equal tshark's own `follow,tcp,raw` output,
     and, split into WebSocket frames, unmasked and, with permessage-deflate, inflated, give the
     same messages (opcode, length, SHA-256, close code and reason) in the same order as the log.

The scenario (`--scenario`) adds what the capture alone cannot tell:
  - several connections (`connections`): the log lines carry `conn` (the request path), and the
    checks run per connection, matched by the path in the captured Upgrade request;
  - a `pause` step (a capture that starts mid-stream): there is no SYN and no Upgrade, so the
    deflate settings come from the scenario, and the captured messages must be the last ones of
    the log; the full capture (`--full`, started before the connection) is verified as usual and
    the mid-stream capture must be its last frames, byte for byte;
  - `capture.snaplen`: the cut capture cannot be rebuilt, so the full capture (`--full`, taken at
    the same time without a limit) is verified as usual and the cut one must hold the same
    frames, each cut to the snap length;
  - `protocol: "http"`: the HTTP checks below instead of the WebSocket ones;
  - `protocol: "delivery"`: the delivery checks below instead of the WebSocket ones;
  - connections with a `port` of their own (ws-abnormal): the capture holds every server port;
    a connection whose handshake fails (`handshake` in the scenario, `handshake` lines in the
    log) must show that failure (a status other than 101, or a Sec-WebSocket-Accept that does
    not match the key) and no WebSocket frame; a connection that a side dropped (`abort` and
    `closed` lines) must have no close frame and end with that side's RST or FIN;
  - connections through a proxy (`proxy` in a `connections` entry, ws-debug): each is two TCP
    connections, client-proxy and proxy-server. The client-proxy one must start with a `CONNECT`
    request and a 2xx answer that agree with the client's and the proxy's `tunnel` lines; the
    bytes after them (the tunnel) must equal the proxy-server connection's bytes, both ways,
    and the proxy's `relayed` counts; both are then checked as WebSocket connections;
  - `tls`: the TLS checks below instead of the WebSocket ones;
  - `expect_analysis`: tshark TCP analysis flags that must occur at least once.

For HTTP captures (`protocol: "http"`), per connection (numbered in the order of their SYNs):
the requests and responses parsed here from the rebuilt streams (Content-Length, chunked and
close-delimited bodies), and the Server-Sent Events in `text/event-stream` bodies, equal the
log of both sides; tshark's HTTP dissector sees the same request methods and URIs and response
status codes, in order.

For the delivery capture (`protocol: "delivery"`): per technique (poll, long-poll, sse,
websocket), the server produced messages 1..N and the client received exactly those, with the
same `sent` stamps; the capture has one connection per technique, in that order, whose response
bodies (JSON arrays), events (`text/event-stream`, chunked) or WebSocket text messages carry
exactly the produced messages; the requests and the messages each response carried equal both
logs; tshark sees the same requests and status codes, and one text frame per message.

For TLS captures (`tls`), the rebuilt streams must be TLS records from start to end: a
ClientHello with the scenario's SNI and ALPN offer, a ServerHello, then (TLS 1.3) only
ChangeCipherSpec and application data records, with no plaintext HTTP; tshark must see the same
handshake messages, server name and application data both ways. With `--keylog` (the client's
TLS secrets), tshark decrypts the records, and its WebSocket frame counts and its decrypted
stream (`follow,tls,raw`), split into frames, must match the log as in checks 2 and 3.

`analysis` prints how many frames tshark flags with each TCP analysis flag.
"""

import argparse
import base64
import hashlib
import json
import struct
import subprocess
import sys
import zlib
from collections import Counter

OPCODES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
CONTROL = {"close", "ping", "pong"}

# Truth log events that are messages; the other events (`handshake`, `abort`, `closed`) say what
# happened to a connection.
MESSAGE_EVENTS = ("send", "recv")

# RFC 6455, 4.2.2: Sec-WebSocket-Accept is base64(SHA-1(Sec-WebSocket-Key + this GUID)).
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# TLS record content types (RFC 8446, 5.1) and handshake message types (4).
TLS_CHANGE_CIPHER_SPEC, TLS_ALERT, TLS_HANDSHAKE, TLS_APPLICATION_DATA = 20, 21, 22, 23
TLS_CLIENT_HELLO, TLS_SERVER_HELLO = 1, 2
TLS_EXT_SERVER_NAME, TLS_EXT_ALPN, TLS_EXT_SUPPORTED_VERSIONS = 0, 16, 43
TLS_1_3 = 0x0304

# The TCP analysis flags that `analysis` counts, by tshark field name.
ANALYSIS_FLAGS = [
    "retransmission",
    "fast_retransmission",
    "spurious_retransmission",
    "out_of_order",
    "duplicate_ack",
    "lost_segment",
    "ack_lost_segment",
]


class VerifyError(Exception):
    """The capture cannot be checked at all (for example, a stream has a hole)."""


def read_lines(path):
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def merge(paths):
    """Prints both logs as one, ordered by the shared monotonic clock, without the clock."""
    lines = [line for path in paths for line in read_lines(path)]
    lines.sort(key=lambda line: int(line["t"]))
    for line in lines:
        print(json.dumps({k: v for k, v in line.items() if k != "t"}, ensure_ascii=False))


def tshark(*args):
    result = subprocess.run(
        ["tshark", *args], check=True, capture_output=True, text=True, encoding="utf-8"
    )
    return result.stdout


# --- reading capture files --------------------------------------------------------------------


def read_capture(path):
    """Returns (link type, [(original length, captured bytes)]) of a pcap or pcapng file with one
    link type."""
    with open(path, "rb") as file:
        data = file.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        return read_pcap(data, "<")
    if magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        return read_pcap(data, ">")
    if magic == b"\x0a\x0d\x0d\x0a":
        return read_pcapng(data)
    raise VerifyError(f"{path}: not a pcap or pcapng file")


def read_pcap(data, order):
    linktype = struct.unpack_from(order + "I", data, 20)[0] & 0x0FFFFFFF
    frames = []
    pos = 24
    while pos + 16 <= len(data):
        _sec, _frac, caplen, origlen = struct.unpack_from(order + "IIII", data, pos)
        pos += 16
        frames.append((origlen, data[pos : pos + caplen]))
        pos += caplen
    return linktype, frames


def read_pcapng(data):
    order = "<"
    linktypes = []
    frames = []
    pos = 0
    while pos + 12 <= len(data):
        block_type = struct.unpack_from(order + "I", data, pos)[0]
        if block_type == 0x0A0D0D0A:
            order = "<" if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        length = struct.unpack_from(order + "I", data, pos + 4)[0]
        body = data[pos + 8 : pos + length - 4]
        if block_type == 1:
            linktypes.append(struct.unpack_from(order + "H", body, 0)[0])
        elif block_type == 6:
            _iface, _high, _low, caplen, origlen = struct.unpack_from(order + "IIIII", body, 0)
            frames.append((origlen, body[20 : 20 + caplen]))
        elif block_type == 3:
            origlen = struct.unpack_from(order + "I", body, 0)[0]
            frames.append((origlen, body[4 : 4 + origlen]))
        pos += length
    if len(set(linktypes)) != 1:
        raise VerifyError(f"expected one link type, found {linktypes}")
    return linktypes[0], frames


def network_layer(linktype, frame):
    """Returns (ethertype, offset of the network header) for the link types the captures use."""
    if linktype == 1:  # Ethernet
        return struct.unpack_from("!H", frame, 12)[0], 14
    if linktype == 113:  # Linux cooked v1
        return struct.unpack_from("!H", frame, 14)[0], 16
    if linktype == 276:  # Linux cooked v2
        return struct.unpack_from("!H", frame, 0)[0], 20
    raise VerifyError(f"link type {linktype} not handled")


def tcp_segments(path):
    """Yields (frame index, source, destination, seq, flags, payload) for every TCP segment,
    where source and destination are (address bytes, port)."""
    linktype, frames = read_capture(path)
    for index, (_origlen, frame) in enumerate(frames):
        ethertype, ip = network_layer(linktype, frame)
        if ethertype == 0x0800:
            ihl = (frame[ip] & 0x0F) * 4
            total = struct.unpack_from("!H", frame, ip + 2)[0]
            if frame[ip + 9] != 6:
                continue
            src, dst = frame[ip + 12 : ip + 16], frame[ip + 16 : ip + 20]
            tcp, end = ip + ihl, ip + total
        elif ethertype == 0x86DD:
            if frame[ip + 6] != 6:
                continue
            src, dst = frame[ip + 8 : ip + 24], frame[ip + 24 : ip + 40]
            tcp, end = ip + 40, ip + 40 + struct.unpack_from("!H", frame, ip + 4)[0]
        else:
            continue
        sport, dport, seq = struct.unpack_from("!HHI", frame, tcp)
        offset = (frame[tcp + 12] >> 4) * 4
        flags = frame[tcp + 13]
        if end > len(frame):
            raise VerifyError(f"frame {index + 1} is cut short; the stream cannot be rebuilt")
        yield index, (bytes(src), sport), (bytes(dst), dport), seq, flags, frame[tcp + offset : end]


# --- rebuilding TCP streams -------------------------------------------------------------------

SYN, FIN, RST = 0x02, 0x01, 0x04


class Connection:
    """One TCP connection: the segments of both directions, in capture order."""

    def __init__(self, client, server, first_frame, saw_syn):
        self.client = client
        self.server = server
        self.first_frame = first_frame
        self.saw_syn = saw_syn
        self.segments = {"c2s": [], "s2c": []}  # (frame index, seq, flags, payload)


def as_ports(port):
    """A server port or a set of them, as a set."""
    return {port} if isinstance(port, int) else set(port)


def connections_in(path, port):
    """Returns the TCP connections to or from `port` (one server port or a set of them), in the
    order of their first frame."""
    ports = as_ports(port)
    found = {}
    for index, src, dst, seq, flags, payload in tcp_segments(path):
        if dst[1] in ports:
            key, direction = (src, dst), "c2s"
        elif src[1] in ports:
            key, direction = (dst, src), "s2c"
        else:
            continue
        if key not in found:
            found[key] = Connection(key[0], key[1], index, bool(flags & SYN))
        found[key].segments[direction].append((index, seq, flags, payload))
    return sorted(found.values(), key=lambda c: c.first_frame)


def signed(delta):
    """A 32-bit sequence number difference as a signed number."""
    delta %= 1 << 32
    return delta - (1 << 32) if delta >= 1 << 31 else delta


def rebuild(segments):
    """Returns (bytes, statistics) of one direction, putting every segment at its sequence
    number. Fails on a hole or on retransmitted bytes that differ from the first copy."""
    syns = [seq for _i, seq, flags, _p in segments if flags & SYN]
    data_segments = [(i, seq, p) for i, seq, flags, p in segments if p]
    if syns:
        base = (syns[0] + 1) % (1 << 32)
    elif data_segments:
        # Mid-stream: the stream starts at the lowest sequence number seen.
        first = data_segments[0][1]
        base = min((seq for _i, seq, _p in data_segments), key=lambda seq: signed(seq - first))
    else:
        return b"", Counter()
    stats = Counter()
    placed = []
    highest = 0
    for index, seq, payload in data_segments:
        offset = signed(seq - base)
        if offset < 0:
            raise VerifyError(f"frame {index + 1}: data before the start of the stream")
        end = offset + len(payload)
        if offset > highest:
            stats["gap_before"] += 1  # tshark: "previous segment not captured"
        elif end <= highest:
            stats["old_data"] += 1  # a retransmission or a duplicate
        elif offset < highest:
            stats["partly_old"] += 1
        highest = max(highest, end)
        placed.append((offset, index, payload))
    placed.sort(key=lambda item: (item[0], item[1]))
    stream = bytearray()
    for offset, index, payload in placed:
        if offset > len(stream):
            raise VerifyError(
                f"hole of {offset - len(stream)} bytes at stream offset {len(stream)} "
                f"(before frame {index + 1})"
            )
        overlap = stream[offset : offset + len(payload)]
        if overlap != payload[: len(overlap)]:
            raise VerifyError(f"frame {index + 1}: retransmitted bytes differ from the first copy")
        stream += payload[len(overlap) :]
    return bytes(stream), stats


def follow_tcp(capture, stream_index, port, protocol="tcp", options=()):
    """Returns tshark's view of one TCP stream: (client-to-server bytes, server-to-client bytes).
    With `protocol` "tls" (and the key log in `options`), the decrypted bytes of the stream."""
    ports = as_ports(port)
    out = tshark("-r", capture, *options, "-q", "-z", f"follow,{protocol},raw,{stream_index}")
    nodes = {}
    data = {"c2s": bytearray(), "s2c": bytearray()}
    body = False
    for raw in out.splitlines():
        if raw.startswith("Node "):
            index, address = raw[len("Node ") :].split(": ", 1)
            nodes[index] = int(address.rsplit(":", 1)[1])
            body = True
            continue
        if not body or not raw.strip() or raw.startswith("="):
            continue
        node_port = nodes["1" if raw.startswith("\t") else "0"]
        direction = "s2c" if node_port in ports else "c2s"
        data[direction] += bytes.fromhex(raw.strip())
    return bytes(data["c2s"]), bytes(data["s2c"])


def rebuild_all(capture, port, problems):
    """Rebuilds every connection and checks it against tshark's follow output. Returns a list of
    (connection, c2s bytes, s2c bytes, statistics)."""
    result = []
    for stream_index, conn in enumerate(connections_in(capture, port)):
        c2s, c2s_stats = rebuild(conn.segments["c2s"])
        s2c, s2c_stats = rebuild(conn.segments["s2c"])
        tshark_c2s, tshark_s2c = follow_tcp(capture, stream_index, port)
        if (c2s, s2c) != (tshark_c2s, tshark_s2c):
            problems.append(
                f"connection {stream_index}: rebuilt stream ({len(c2s)}+{len(s2c)} bytes) differs "
                f"from tshark's follow output ({len(tshark_c2s)}+{len(tshark_s2c)} bytes)"
            )
        stats = {"c2s": c2s_stats, "s2c": s2c_stats}
        result.append((conn, c2s, s2c, stats))
    return result


# --- WebSocket --------------------------------------------------------------------------------


def summary(line):
    """The fields both ends and the capture must agree on."""
    return (line["opcode"], line["length"], line["sha256"], line["close_code"], line["close_reason"])


def request_path(stream):
    """The target of the request line a stream starts with."""
    return stream.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[1]


def split_http(stream):
    end = stream.find(b"\r\n\r\n")
    if end < 0:
        raise VerifyError("no end of HTTP header in stream")
    return stream[: end + 4].decode("latin-1"), stream[end + 4 :]


def unmask(payload, key):
    """XORs the payload with the 4-byte masking key repeated."""
    if not payload:
        return b""
    mask = (key * (len(payload) // 4 + 1))[: len(payload)]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")
    return value.to_bytes(len(payload), "big")


def parse_frames(data):
    """Yields (fin, rsv1, opcode, payload) for each complete frame, payload unmasked."""
    pos = 0
    while pos + 2 <= len(data):
        b0, b1 = data[pos], data[pos + 1]
        pos += 2
        length = b1 & 0x7F
        if length == 126:
            length = int.from_bytes(data[pos : pos + 2], "big")
            pos += 2
        elif length == 127:
            length = int.from_bytes(data[pos : pos + 8], "big")
            pos += 8
        key = None
        if b1 & 0x80:
            key = data[pos : pos + 4]
            pos += 4
        payload = data[pos : pos + length]
        if len(payload) < length:
            raise VerifyError("stream ends inside a frame")
        pos += length
        if key is not None:
            payload = unmask(payload, key)
        yield bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F, payload


def stream_messages(data, inflate_takeover):
    """Groups frames into messages like the truth log does; `inflate_takeover` is None without
    permessage-deflate, else whether the inflater keeps its window between messages."""
    messages = []
    inflater = zlib.decompressobj(-15)
    current = None
    for fin, rsv1, opcode, payload in parse_frames(data):
        name = OPCODES.get(opcode, str(opcode))
        if name in CONTROL:
            code = reason = None
            if name == "close" and len(payload) >= 2:
                code = int.from_bytes(payload[:2], "big")
                reason = payload[2:].decode("utf-8")
            messages.append((name, len(payload), hashlib.sha256(payload).hexdigest(), code, reason))
            continue
        if name != "continuation":
            current = [name, rsv1, []]
        if current is None:
            raise VerifyError("continuation frame without a message to continue")
        current[2].append(payload)
        if not fin:
            continue
        name, compressed, parts = current
        current = None
        payload = b"".join(parts)
        if compressed:
            if inflate_takeover is None:
                raise VerifyError("RSV1 set without permessage-deflate")
            if not inflate_takeover:
                inflater = zlib.decompressobj(-15)
            payload = inflater.decompress(payload + b"\x00\x00\xff\xff")
        messages.append((name, len(payload), hashlib.sha256(payload).hexdigest(), None, None))
    return messages


def deflate_settings(response):
    """Reads the permessage-deflate parameters the server accepted: per direction, whether the
    compression context is kept between messages, or None when deflate is off."""
    for header in response.split("\r\n"):
        name, _, value = header.partition(":")
        if name.strip().lower() == "sec-websocket-extensions" and "permessage-deflate" in value:
            return (
                "client_no_context_takeover" not in value,
                "server_no_context_takeover" not in value,
            )
    return None, None


def scenario_deflate(scenario):
    """The deflate settings as `deflate_settings` returns them, from the scenario alone."""
    if not scenario.get("deflate"):
        return None, None
    takeover = not scenario.get("deflate_no_context_takeover", False)
    return takeover, takeover


def is_midstream(scenario):
    steps = [step for _path, steps in scenario_connections(scenario) for step in steps]
    return any(step.get("send") == "pause" for step in steps)


def scenario_connections(scenario):
    if "connections" in scenario:
        return [(c["path"], c.get("steps", [])) for c in scenario["connections"]]
    return [(scenario.get("path", "/"), scenario.get("steps", []))]


def scenario_ports(scenario, port):
    """The server ports of the capture: `port`, those of connections that name their own, and
    those of the proxy."""
    own = {c["port"] for c in scenario.get("connections", []) if "port" in c}
    return {port} | own | proxy_ports(scenario)


def proxy_ports(scenario):
    """The ports of the forward proxy that connections with a `proxy` go through."""
    return {c["proxy"]["port"] for c in scenario.get("connections", []) if "proxy" in c}


def split_connect(c2s, s2c, label, problems):
    """Splits the start of a client-proxy connection: the CONNECT request and the proxy's
    answer. Returns (target, status, tunnelled c2s bytes, tunnelled s2c bytes)."""
    request, c2s = split_http(c2s)
    response, s2c = split_http(s2c)
    parts = request.split("\r\n", 1)[0].split(" ")
    if len(parts) != 3 or parts[0] != "CONNECT" or parts[2] != "HTTP/1.1":
        problems.append(f"{label}the connection to the proxy starts with {parts}, not CONNECT")
    target = parts[1] if len(parts) > 1 else ""
    status = int(response.split(" ", 2)[1])
    if not 200 <= status < 300:
        problems.append(f"{label}the proxy answered CONNECT with {status}")
    return target, status, c2s, s2c


def check_tunnels(tunnels, legs, truth, problems):
    """For each client-proxy connection, by path: the log's `tunnel` lines (client and proxy)
    name the captured target and status; the tunnelled bytes are exactly the proxy-server
    connection's bytes, both ways; the proxy's `relayed` line counts them."""
    for path, (target, status, c2s, s2c) in tunnels.items():
        label = f"{path} "
        lines = [l for l in truth if l.get("conn") == path]
        for side in ("client", "proxy"):
            got = [(l.get("target"), l.get("status")) for l in lines if l["event"] == "tunnel" and l["side"] == side]
            if got != [(target, status)]:
                problems.append(f"{label}{side}: captured CONNECT {target} answered {status}, the log has {got}")
        relayed = [(l["c2s_bytes"], l["s2c_bytes"]) for l in lines if l["event"] == "relayed"]
        if relayed != [(len(c2s), len(s2c))]:
            problems.append(f"{label}tunnel of {len(c2s)}+{len(s2c)} bytes, the proxy relayed {relayed}")
        others = legs.get(path, [])
        if others != [(c2s, s2c)]:
            problems.append(
                f"{label}the tunnelled bytes are not those of exactly one proxy-server connection "
                f"({len(others)} connection(s) with this path)"
            )


def without_pause(scenario):
    """The scenario as seen by a capture that runs from the start: without its pause steps."""
    plain = dict(scenario)
    if "connections" in plain:
        plain["connections"] = [
            dict(c, steps=[s for s in c.get("steps", []) if s.get("send") != "pause"])
            for c in plain["connections"]
        ]
    else:
        plain["steps"] = [s for s in plain.get("steps", []) if s.get("send") != "pause"]
    return plain


def check_log(truth, label, problems):
    """Check 1: every message sent by one side was received by the other, in order."""
    for direction in ("c2s", "s2c"):
        sent = [summary(l) for l in truth if l["dir"] == direction and l["event"] == "send"]
        received = [summary(l) for l in truth if l["dir"] == direction and l["event"] == "recv"]
        if sent != received:
            problems.append(f"{label}{direction}: sent and received messages differ in the truth log")


def tshark_opcodes(capture, port, midstream, options=()):
    """Returns {(client port, server port): {direction: Counter of opcode names}} from tshark's
    dissector; `port` is the server port or a set of them, `options` more tshark options (a key
    log)."""
    ports = as_ports(port)
    args = ["-r", capture, "-o", "tcp.reassemble_out_of_order:TRUE", *options]
    if midstream:
        # Without the Upgrade, tshark must be told that the port carries WebSocket.
        args += [arg for p in sorted(ports) for arg in ("-d", f"tcp.port=={p},websocket")]
    out = tshark(
        *args, "-Y", "websocket", "-T", "fields", "-E", "aggregator=;",
        "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "websocket.opcode",
    )
    seen = {}
    for row in out.splitlines():
        srcport, dstport, opcodes = row.split("\t")
        if int(srcport) in ports:
            key, direction = (int(dstport), int(srcport)), "s2c"
        else:
            key, direction = (int(srcport), int(dstport)), "c2s"
        counts = seen.setdefault(key, {"c2s": Counter(), "s2c": Counter()})
        for opcode in opcodes.split(";"):
            counts[direction][OPCODES.get(int(opcode), opcode)] += 1
    return seen


def expected_opcodes(sent_lines):
    expected = Counter()
    for line in sent_lines:
        frames = line["frames"] or 1
        expected[line["opcode"]] += 1
        if frames > 1:
            expected["continuation"] += frames - 1
    return expected


def tail_of(log_messages, found, kind):
    """With a mid-stream capture, the log's last messages of this kind that the stream holds."""
    want = [m for m in log_messages if (m[0] in CONTROL) == (kind == "control")]
    got = [m for m in found if (m[0] in CONTROL) == (kind == "control")]
    return want[len(want) - len(got) :] if len(got) <= len(want) else want, got


def compare_messages(lines, found, seen, label, midstream, problems, tshark_blind=False):
    """Checks 2 and 3 for one connection: the messages `found` in its stream and the frames
    tshark has `seen`, per direction, against the log's `send` lines. Returns (messages, frames)
    counted. With `tshark_blind` (a CONNECT tunnel, which tshark 4.0 does not dissect), check 2
    is left out: the tunnelled bytes are compared with the proxy-server connection instead."""
    messages = frames = 0
    for direction in ("c2s", "s2c"):
        sent_lines = [l for l in lines if l["dir"] == direction and l["event"] == "send"]
        sent = [summary(l) for l in sent_lines]
        messages += len(found[direction])
        frames += sum(seen[direction].values())
        # Control frames may sit between the fragments of a message, so the log (which
        # writes a message when its last frame goes) and the stream are compared per kind.
        for kind in ("data", "control"):
            if midstream:
                want, got = tail_of(sent, found[direction], kind)
            else:
                keep = (lambda m: m[0] in CONTROL) if kind == "control" else (lambda m: m[0] not in CONTROL)
                want = [m for m in sent if keep(m)]
                got = [m for m in found[direction] if keep(m)]
            if want != got:
                problems.append(f"{label}{direction}: {kind} messages in the TCP stream differ from the log")
                for i, (w, g) in enumerate(zip(want, got)):
                    if w != g:
                        problems.append(f"  first difference at #{i}: log {w[:2]}, stream {g[:2]}")
                        break
                if len(want) != len(got):
                    problems.append(f"  log has {len(want)}, stream has {len(got)}")
        if midstream:
            # The frames tshark counts are those of the messages the capture holds.
            count = len(found[direction])
            expected = expected_opcodes(sent_lines[len(sent_lines) - count :])
        else:
            expected = expected_opcodes(sent_lines)
        if seen[direction] != expected and not tshark_blind:
            problems.append(
                f"{label}{direction}: tshark frames per opcode {dict(seen[direction])}, "
                f"truth log says {dict(expected)}"
            )
    return messages, frames


def header_fields(head):
    """The header fields of an HTTP head, names in lower case (the last of repeated fields)."""
    fields = {}
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name:
            fields[name.strip().lower()] = value.strip()
    return fields


def handshake_outcome(request, response):
    """What the captured Upgrade says: (result, status, Sec-WebSocket-Accept), the result being
    "accepted" (101 with the right accept), "wrong-accept" (101 with another) or "refused"."""
    status = int(response.split(" ", 2)[1])
    accept = header_fields(response).get("sec-websocket-accept")
    if status != 101:
        return "refused", status, accept
    key = header_fields(request).get("sec-websocket-key", "")
    right = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode("ascii")).digest()).decode("ascii")
    return ("accepted" if accept == right else "wrong-accept"), status, accept


def check_handshake(outcome, events, label, problems):
    """The log's `handshake` lines of one connection agree with the captured handshake: none
    when it succeeded, else one per side with the same result and status (and accept value)."""
    result, status, accept = outcome
    lines = [l for l in events if l["event"] == "handshake"]
    if result == "accepted":
        if lines:
            problems.append(f"{label}the handshake succeeded, the log says {lines}")
        return
    for side in ("client", "server"):
        mine = [l for l in lines if l["side"] == side]
        want = {"result": result, "status": status}
        if result == "wrong-accept":
            want["accept"] = accept
        got = [{k: l.get(k) for k in want} for l in mine]
        if got != [want]:
            problems.append(f"{label}{side}: captured handshake {want}, the log has {got}")


def check_subprotocol(request, response, scenario, label, problems):
    """The request offers exactly the scenario's `subprotocols` and the 101 selects the first;
    without them, neither carries Sec-WebSocket-Protocol."""
    offered = scenario.get("subprotocols") or []
    header = header_fields(request).get("sec-websocket-protocol")
    got = [p.strip() for p in header.split(",")] if header is not None else []
    if got != offered:
        problems.append(f"{label}the request offers subprotocols {got}, the scenario {offered}")
    selected = header_fields(response).get("sec-websocket-protocol")
    want = offered[0] if offered else None
    if selected != want:
        problems.append(f"{label}the 101 selects subprotocol {selected!r}, expected {want!r}")


def check_ending(conn, found, events, label, problems):
    """A connection has a closing handshake (a close frame each way), or it was dropped: then the
    log has one `abort` line (who, and how) and a `closed` line with 1006 from the other side, the
    stream has no close frame, and the TCP connection ends with the dropping side's RST or FIN."""
    aborts = [l for l in events if l["event"] == "abort"]
    closed = [l for l in events if l["event"] == "closed"]
    closes = [d for d in ("c2s", "s2c") for m in found[d] if m[0] == "close"]
    if not aborts:
        if closed:
            problems.append(f"{label}the log has {closed} without an abort")
        if sorted(closes) != ["c2s", "s2c"]:
            problems.append(f"{label}no closing handshake (close frames {closes}) and no abort in the log")
        return
    if len(aborts) != 1:
        problems.append(f"{label}{len(aborts)} abort lines")
        return
    abort = aborts[0]
    other = "server" if abort["side"] == "client" else "client"
    if [(l["side"], l["close_code"]) for l in closed] != [(other, 1006)]:
        problems.append(f"{label}after the {abort['side']}'s abort, expected a 1006 from the {other}, log has {closed}")
    if closes:
        problems.append(f"{label}close frames in a connection that was dropped: {closes}")
    mine = "c2s" if abort["side"] == "client" else "s2c"
    theirs = "s2c" if mine == "c2s" else "c2s"
    resets = [i for i, _seq, flags, _p in conn.segments[mine] if flags & RST]
    fins = {d: [i for i, _seq, flags, _p in conn.segments[d] if flags & FIN] for d in (mine, theirs)}
    if abort["how"] == "rst":
        if not resets:
            problems.append(f"{label}the {abort['side']} aborted with a RST, none in the capture")
        if fins[mine]:
            problems.append(f"{label}the {abort['side']} aborted with a RST, but sent a FIN")
    else:
        if resets or not fins[mine]:
            problems.append(f"{label}the {abort['side']} aborted with a FIN, capture has FIN {fins[mine]} RST {resets}")
        elif fins[theirs] and min(fins[theirs]) < min(fins[mine]):
            problems.append(f"{label}the {other} sent the first FIN, not the aborting {abort['side']}")


def verify_websocket(capture, truth, port, scenario, problems):
    """Checks 1 to 3 for every connection of a WebSocket capture; returns a description."""
    midstream = is_midstream(scenario)
    tagged = "connections" in scenario
    paths = [path for path, _steps in scenario_connections(scenario)]
    ports = scenario_ports(scenario, port)
    proxies = proxy_ports(scenario)
    rebuilt = rebuild_all(capture, ports, problems)
    # A connection through the proxy is two TCP connections.
    expected = len(paths) + sum(1 for c in scenario.get("connections", []) if "proxy" in c)
    if len(rebuilt) != expected:
        problems.append(f"{len(rebuilt)} TCP connections in the capture, scenario has {expected}")
    opcodes = tshark_opcodes(capture, ports, midstream)
    messages = frames = failed = 0
    # Per path: the CONNECT and the tunnelled bytes of the client-proxy connection, and the bytes
    # of the direct connections (among them the proxy-server one).
    tunnels = {}
    legs = {}
    for conn, c2s, s2c, _stats in rebuilt:
        outcome = None
        tunnel = None
        if conn.server[1] in proxies:
            tunnel = split_connect(c2s, s2c, f"port {conn.client[1]} ", problems)
            c2s, s2c = tunnel[2], tunnel[3]
        if midstream:
            if conn.saw_syn or c2s.startswith(b"GET "):
                problems.append("mid-stream capture holds the start of the connection")
            path = paths[0]
            client_takeover, server_takeover = scenario_deflate(scenario)
        else:
            if tunnel is None:
                legs.setdefault(request_path(c2s), []).append((c2s, s2c))
            request, c2s = split_http(c2s)
            response, s2c = split_http(s2c)
            path = request.split(" ")[1]
            if tunnel is not None:
                tunnels[path] = tunnel
            client_takeover, server_takeover = deflate_settings(response)
            outcome = handshake_outcome(request, response)
        conn_lines = [l for l in truth if not tagged or l.get("conn") == path]
        lines = [l for l in conn_lines if l["event"] in MESSAGE_EVENTS]
        events = [l for l in conn_lines if l["event"] not in MESSAGE_EVENTS]
        label = f"{path} " if tagged else ""
        seen = opcodes.get((conn.client[1], conn.server[1]), {"c2s": Counter(), "s2c": Counter()})
        if outcome is not None:
            check_handshake(outcome, events, label, problems)
            if outcome[0] == "accepted":
                check_subprotocol(request, response, scenario, label, problems)
        if outcome is not None and outcome[0] != "accepted":
            # No WebSocket on this connection: the client sends nothing after its request, the
            # server nothing after its response but the body of a refusal.
            failed += 1
            body = int(header_fields(response).get("content-length", "0")) if outcome[0] == "refused" else 0
            if c2s or len(s2c) != body:
                problems.append(f"{label}{len(c2s)}+{len(s2c)} bytes after a failed handshake, expected 0+{body}")
            if lines or any(seen[d] for d in seen):
                problems.append(f"{label}WebSocket messages on a connection whose handshake failed")
            continue
        check_log(lines, label, problems)
        found = {
            "c2s": stream_messages(c2s, client_takeover),
            "s2c": stream_messages(s2c, server_takeover),
        }
        # tshark 4.0 shows the bytes after a CONNECT's 2xx as plain TCP payload. If it ever
        # decodes them, its frames must match the log like any other connection's.
        blind = tunnel is not None and not any(seen[d] for d in seen)
        counted = compare_messages(lines, found, seen, label, midstream, problems, blind)
        messages += counted[0]
        frames += counted[1]
        if not midstream:
            check_ending(conn, found, events, label, problems)
    check_tunnels(tunnels, legs, truth, problems)
    if len(tunnels) != len([c for c in scenario.get("connections", []) if "proxy" in c]):
        problems.append(f"{len(tunnels)} CONNECT tunnels in the capture")
    sent = sum(1 for line in truth if line["event"] == "send")
    failures = f", {failed} failed handshake(s)" if failed else ""
    failures += f", {len(tunnels)} through a CONNECT tunnel" if tunnels else ""
    return (
        f"{len(rebuilt)} connection(s){failures}, {sent} messages sent, {frames} WebSocket frames "
        f"in tshark, {messages} messages in the stream"
    )


# --- TLS --------------------------------------------------------------------------------------


def tls_records(stream):
    """Splits one direction of a TLS connection into records: [(content type, version, body)]."""
    records = []
    pos = 0
    while pos < len(stream):
        if pos + 5 > len(stream):
            raise VerifyError(f"stream ends inside a TLS record header at offset {pos}")
        content_type = stream[pos]
        version, length = struct.unpack_from("!HH", stream, pos + 1)
        body = stream[pos + 5 : pos + 5 + length]
        if len(body) < length:
            raise VerifyError(f"stream ends inside a TLS record at offset {pos}")
        records.append((content_type, version, body))
        pos += 5 + length
    return records


def tls_hello(records, want_type):
    """Parses the first handshake message of a direction, a ClientHello or a ServerHello: returns
    {extension type: extension data}."""
    if not records or records[0][0] != TLS_HANDSHAKE:
        raise VerifyError("the first TLS record is not a handshake record")
    body = records[0][2]
    if body[0] != want_type:
        raise VerifyError(f"handshake message type {body[0]}, expected {want_type}")
    length = int.from_bytes(body[1:4], "big")
    hello = body[4 : 4 + length]
    pos = 2 + 32  # legacy_version, random
    pos += 1 + hello[pos]  # legacy_session_id
    if want_type == TLS_CLIENT_HELLO:
        pos += 2 + int.from_bytes(hello[pos : pos + 2], "big")  # cipher_suites
        pos += 1 + hello[pos]  # legacy_compression_methods
    else:
        pos += 2 + 1  # cipher_suite, legacy_compression_method
    end = pos + 2 + int.from_bytes(hello[pos : pos + 2], "big")
    pos += 2
    extensions = {}
    while pos + 4 <= end:
        kind, size = struct.unpack_from("!HH", hello, pos)
        extensions[kind] = hello[pos + 4 : pos + 4 + size]
        pos += 4 + size
    return extensions


def server_names(data):
    """The host names of a server_name extension (RFC 6066, 3)."""
    names = []
    pos = 2
    while pos + 3 <= len(data):
        kind, size = data[pos], int.from_bytes(data[pos + 1 : pos + 3], "big")
        if kind == 0:
            names.append(data[pos + 3 : pos + 3 + size].decode("ascii"))
        pos += 3 + size
    return names


def alpn_protocols(data):
    """The protocol names of an ALPN extension (RFC 7301, 3.1)."""
    names = []
    pos = 2
    while pos < len(data):
        size = data[pos]
        names.append(data[pos + 1 : pos + 1 + size].decode("ascii"))
        pos += 1 + size
    return names


def check_tls_streams(c2s, s2c, tls, problems):
    """The two directions of one connection are TLS from start to end: a ClientHello with the
    scenario's SNI and ALPN offer, a ServerHello, and (TLS 1.3) then only ChangeCipherSpec and
    application data records. Returns a description."""
    client = tls_records(c2s)
    server = tls_records(s2c)
    hello = tls_hello(client, TLS_CLIENT_HELLO)
    names = server_names(hello.get(TLS_EXT_SERVER_NAME, b""))
    if names != [tls["server_name"]]:
        problems.append(f"ClientHello server names {names}, expected {[tls['server_name']]}")
    offer = alpn_protocols(hello.get(TLS_EXT_ALPN, b""))
    if offer != tls.get("alpn", ["http/1.1"]):
        problems.append(f"ClientHello ALPN offer {offer}, expected {tls.get('alpn')}")
    answer = tls_hello(server, TLS_SERVER_HELLO)
    version = int.from_bytes(answer.get(TLS_EXT_SUPPORTED_VERSIONS, b""), "big")
    if version != TLS_1_3:
        problems.append(f"ServerHello selects version {version:#06x}, expected TLS 1.3")
    counts = {}
    for direction, records in (("c2s", client), ("s2c", server)):
        later = Counter(content_type for content_type, _v, _b in records[1:])
        if set(later) - {TLS_CHANGE_CIPHER_SPEC, TLS_APPLICATION_DATA}:
            problems.append(f"{direction}: record types {dict(later)} after the hello")
        if not later[TLS_APPLICATION_DATA]:
            problems.append(f"{direction}: no application data record")
        counts[direction] = later[TLS_APPLICATION_DATA]
    for direction, data in (("c2s", c2s), ("s2c", s2c)):
        if b"HTTP/1.1" in data or b"websocket" in data.lower():
            problems.append(f"{direction}: plaintext HTTP in the TLS stream")
    return (
        f"TLS 1.3, SNI {names}, ALPN offer {offer}, application data records "
        f"{counts['c2s']} client, {counts['s2c']} server"
    )


def check_tls_tshark(capture, port, tls, problems):
    """tshark's TLS dissector (without keys) sees the ClientHello with the server name, the
    ServerHello and application data records both ways."""
    out = tshark(
        "-r", capture, "-Y", "tls", "-T", "fields", "-E", "aggregator=;", "-e", "tcp.srcport",
        "-e", "tls.handshake.type", "-e", "tls.handshake.extensions_server_name",
        "-e", "tls.record.content_type", "-e", "tls.record.opaque_type",
    )
    handshakes = set()
    sni = set()
    data = Counter()
    for row in out.splitlines():
        srcport, types, name, content, opaque = row.split("\t")
        direction = "s2c" if int(srcport) == port else "c2s"
        handshakes |= {(direction, t) for t in types.split(";") if t}
        sni |= {n for n in name.split(";") if n}
        # TLS 1.3 hides the real type of an encrypted record; tshark shows the outer one,
        # always application data, as `tls.record.opaque_type`.
        data[direction] += (content.split(";") + opaque.split(";")).count(str(TLS_APPLICATION_DATA))
    if not {("c2s", str(TLS_CLIENT_HELLO)), ("s2c", str(TLS_SERVER_HELLO))} <= handshakes:
        problems.append(f"tshark's TLS handshake messages {sorted(handshakes)}")
    if sni != {tls["server_name"]}:
        problems.append(f"tshark's server names {sni}")
    if not (data["c2s"] and data["s2c"]):
        problems.append(f"tshark's application data records {dict(data)}")


def verify_tls(capture, truth, port, scenario, keylog, problems):
    """The TLS checks; with the key log, also checks 2 and 3 on the decrypted stream."""
    tls = scenario["tls"]
    rebuilt = rebuild_all(capture, port, problems)
    if len(rebuilt) != 1:
        problems.append(f"{len(rebuilt)} TCP connections in the capture, expected 1")
    lines = [l for l in truth if l["event"] in MESSAGE_EVENTS]
    check_log(lines, "", problems)
    notes = []
    for conn, c2s, s2c, _stats in rebuilt:
        notes.append(check_tls_streams(c2s, s2c, tls, problems))
    check_tls_tshark(capture, port, tls, problems)
    if keylog is None:
        notes.append("not decrypted (no key log)")
        return "; ".join(notes)
    options = ("-o", f"tls.keylog_file:{keylog}")
    opcodes = tshark_opcodes(capture, port, False, options)
    messages = frames = 0
    for index, (conn, _c2s, _s2c, _stats) in enumerate(rebuilt):
        c2s, s2c = follow_tcp(capture, index, port, "tls", options)
        request, c2s = split_http(c2s)
        response, s2c = split_http(s2c)
        outcome = handshake_outcome(request, response)
        if outcome[0] != "accepted":
            problems.append(f"decrypted handshake: {outcome}")
        found = {
            "c2s": stream_messages(c2s, deflate_settings(response)[0]),
            "s2c": stream_messages(s2c, deflate_settings(response)[1]),
        }
        seen = opcodes.get((conn.client[1], conn.server[1]), {"c2s": Counter(), "s2c": Counter()})
        counted = compare_messages(lines, found, seen, "decrypted ", False, problems)
        messages += counted[0]
        frames += counted[1]
        check_ending(conn, found, [], "decrypted ", problems)
    notes.append(
        f"decrypted with the key log: {frames} WebSocket frames in tshark, {messages} messages in "
        f"tshark's TLS stream"
    )
    return "; ".join(notes)


# --- HTTP -------------------------------------------------------------------------------------


def parse_head(data, pos):
    """Parses a request or response head at `pos`; returns (start line, headers, body start)."""
    end = data.find(b"\r\n\r\n", pos)
    if end < 0:
        raise VerifyError(f"no end of HTTP header at stream offset {pos}")
    lines = data[pos:end].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, end + 4


def parse_body(data, pos, headers, until_close):
    """Returns (framing, body, next position) of a message body starting at `pos`."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            line_end = data.find(b"\r\n", pos)
            if line_end < 0:
                raise VerifyError("stream ends inside a chunk size line")
            size = int(data[pos:line_end].split(b";")[0], 16)
            pos = line_end + 2
            if size == 0:
                # Trailer fields, if any, end with an empty line.
                trailer_end = data.find(b"\r\n", pos)
                while trailer_end != pos:
                    pos = trailer_end + 2
                    trailer_end = data.find(b"\r\n", pos)
                return "chunked", bytes(body), pos + 2
            body += data[pos : pos + size]
            if data[pos + size : pos + size + 2] != b"\r\n":
                raise VerifyError("chunk not followed by CRLF")
            pos += size + 2
    if "content-length" in headers:
        length = int(headers["content-length"])
        if pos + length > len(data):
            raise VerifyError("stream ends inside a body")
        return "content-length", data[pos : pos + length], pos + length
    if until_close:
        return "close", data[pos:], len(data)
    return "none", b"", pos


def http_messages(c2s, s2c):
    """Returns (requests, responses) of one connection as dicts like the truth log's lines."""
    requests = []
    pos = 0
    while pos < len(c2s):
        start, headers, pos = parse_head(c2s, pos)
        method, path, _version = start.split(" ", 2)
        framing, body, pos = parse_body(c2s, pos, headers, until_close=False)
        requests.append({"method": method, "path": path, "framing": framing, "body": body})
    responses = []
    pos = 0
    for request in requests:
        if pos >= len(s2c):
            break
        start, headers, pos = parse_head(s2c, pos)
        _version, status, _reason = start.split(" ", 2)
        no_body = request["method"] == "HEAD" or status in ("204", "304")
        if no_body:
            framing, body = "none", b""
        else:
            framing, body, pos = parse_body(s2c, pos, headers, until_close=True)
        responses.append({
            "method": request["method"],
            "path": request["path"],
            "status": int(status),
            "framing": framing,
            "content_type": headers.get("content-type"),
            "body": body,
        })
    if pos != len(s2c):
        raise VerifyError(f"{len(s2c) - pos} bytes after the last response")
    return requests, responses


def sse_events(body):
    """Parses a text/event-stream body into events as the truth log writes them."""
    events = []
    fields = {}
    data_lines = []
    for line in body.decode("utf-8").replace("\r\n", "\n").split("\n"):
        if line == "":
            if data_lines or fields:
                events.append({
                    "sse_id": fields.get("id"),
                    "sse_event": fields.get("event"),
                    "sse_data": "\n".join(data_lines),
                    "sse_retry": int(fields["retry"]) if "retry" in fields else None,
                })
            fields, data_lines = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data_lines.append(value)
        else:
            fields[name] = value
    return events


REQUEST_KEYS = ["method", "path", "framing", "length", "sha256"]
RESPONSE_KEYS = ["method", "path", "status", "framing", "content_type", "length", "sha256"]
SSE_KEYS = ["sse_id", "sse_event", "sse_data", "sse_retry"]


def project(item, keys):
    if "body" in item:
        item = dict(item, length=len(item["body"]), sha256=hashlib.sha256(item["body"]).hexdigest())
    return tuple(item.get(key) for key in keys)


def verify_http(capture, truth, port, problems):
    rebuilt = rebuild_all(capture, port, problems)
    all_requests = []
    all_responses = []
    events = 0
    for number, (_conn, c2s, s2c, _stats) in enumerate(rebuilt, start=1):
        requests, responses = http_messages(c2s, s2c)
        all_requests += requests
        all_responses += responses
        lines = [l for l in truth if l["conn"] == number]
        found_events = []
        for response in responses:
            if (response["content_type"] or "").startswith("text/event-stream"):
                found_events += sse_events(response["body"])
        events += len(found_events)
        for kind, found, keys in (
            ("request", requests, REQUEST_KEYS),
            ("response", responses, RESPONSE_KEYS),
            ("sse", found_events, SSE_KEYS),
        ):
            got = [project(item, keys) for item in found]
            for side in ("client", "server"):
                want = [project(l, keys) for l in lines if l["kind"] == kind and l["side"] == side]
                if want != got:
                    problems.append(f"connection {number}: {kind}s of the {side} log differ from the capture")
                    problems.append(f"  log {want}")
                    problems.append(f"  capture {got}")
    connections = {line["conn"] for line in truth}
    if len(connections) != len(rebuilt):
        problems.append(f"{len(rebuilt)} connections in the capture, {len(connections)} in the log")
    # tshark's HTTP dissector must see the same requests and response codes, in order.
    # Pipelined requests can share a frame; their fields then come joined by the aggregator.
    out = tshark(
        "-r", capture, "-Y", "http.request", "-T", "fields", "-E", "aggregator=;",
        "-e", "http.request.method", "-e", "http.request.uri",
    )
    tshark_requests = []
    for row in out.splitlines():
        methods, uris = row.split("\t")
        tshark_requests += list(zip(methods.split(";"), uris.split(";")))
    if tshark_requests != [(r["method"], r["path"]) for r in all_requests]:
        problems.append(f"tshark's requests {tshark_requests} differ")
    out = tshark("-r", capture, "-Y", "http.response", "-T", "fields", "-E", "aggregator=;", "-e", "http.response.code")
    tshark_codes = [int(code) for code in out.replace(";", " ").split()]
    if tshark_codes != [r["status"] for r in all_responses]:
        problems.append(f"tshark's response codes {tshark_codes} differ")
    return (
        f"{len(rebuilt)} connections, {len(all_requests)} requests, {len(all_responses)} responses, "
        f"{events} server-sent events"
    )


# --- delivery (poll-vs-ws) ---------------------------------------------------------------------

TECHNIQUES = ["poll", "long-poll", "sse", "websocket"]
TECHNIQUE_PATHS = {"/poll": "poll", "/long-poll": "long-poll", "/events": "sse", "/ws": "websocket"}


def stamps(items):
    """(seq, sent) of each message object."""
    return [(item["seq"], item["sent"]) for item in items]


def verify_delivery(capture, truth, port, scenario, problems):
    """Checks the capture of the four delivery techniques against both sides' logs."""
    count = scenario["delivery"]["messages"]
    produced = {t: [] for t in TECHNIQUES}
    received = {t: [] for t in TECHNIQUES}
    for line in truth:
        if line["event"] == "produce":
            produced[line["technique"]].append(line)
        elif line["event"] == "recv":
            received[line["technique"]].append(line)
    # 1. Both logs: every technique produced and received seq 1..N once, with the same stamps,
    # never received before it was sent.
    for technique in TECHNIQUES:
        made = stamps(produced[technique])
        got = stamps(received[technique])
        if [seq for seq, _sent in made] != list(range(1, count + 1)):
            problems.append(f"{technique}: the server produced seqs {[s for s, _ in made]}")
        if got != made:
            problems.append(f"{technique}: the client received {got}, the server produced {made}")
        for line in received[technique]:
            if line["recv"] < line["sent"]:
                problems.append(f"{technique}: seq {line['seq']} received before it was sent")
    for side in ("client", "server"):
        for kind in ("request", "response"):
            lines = [l for l in truth if l["side"] == side and l["event"] == kind]
            if not lines:
                problems.append(f"no {kind} lines from the {side}")
    # 2. The capture: one connection per technique, in order, each carrying exactly the
    # produced messages.
    rebuilt = rebuild_all(capture, port, problems)
    found_techniques = []
    all_requests = []
    all_responses = []
    websocket_texts = 0
    for number, (_conn, c2s, s2c, _stats) in enumerate(rebuilt, start=1):
        start, headers, _body = parse_head(c2s, 0)
        path = start.split(" ")[1].split("?")[0]
        technique = TECHNIQUE_PATHS.get(path)
        found_techniques.append(technique)
        label = f"connection {number} ({technique})"
        if technique == "websocket":
            if headers.get("upgrade", "").lower() != "websocket":
                problems.append(f"{label}: GET /ws without Upgrade: websocket")
            request, c2s_frames = split_http(c2s)
            response, s2c_frames = split_http(s2c)
            if not response.startswith("HTTP/1.1 101 "):
                problems.append(f"{label}: the Upgrade was not answered with 101")
            all_requests.append(("GET", request.split(" ")[1]))
            all_responses.append(101)
            texts = []
            closes = 0
            for _fin, _rsv1, opcode, payload in parse_frames(s2c_frames):
                if opcode == 1:
                    texts.append(json.loads(payload))
                elif opcode == 8:
                    closes += 1
            websocket_texts += len(texts)
            client_closes = sum(1 for f in parse_frames(c2s_frames) if f[2] == 8)
            if closes != 1 or client_closes != 1:
                problems.append(f"{label}: {closes} close frames from the server, {client_closes} from the client")
            found = stamps(texts)
        elif technique is None:
            problems.append(f"{label}: unexpected first request {start!r}")
            continue
        else:
            requests, responses = http_messages(c2s, s2c)
            all_requests += [(r["method"], r["path"]) for r in requests]
            all_responses += [r["status"] for r in responses]
            for side in ("client", "server"):
                paths = [l["path"] for l in truth
                         if l["side"] == side and l["event"] == "request" and l["technique"] == technique]
                if paths != [r["path"] for r in requests]:
                    problems.append(f"{label}: the {side}'s requests {paths} differ from the capture's")
            found = []
            carried = []
            for response in responses:
                if technique == "sse":
                    if response["content_type"] != "text/event-stream" or response["framing"] != "chunked":
                        problems.append(f"{label}: {response['content_type']}, {response['framing']}")
                    items = [json.loads(event["sse_data"]) for event in sse_events(response["body"])]
                else:
                    items = json.loads(response["body"])
                found += stamps(items)
                carried.append((response["path"], [item["seq"] for item in items]))
            for side in ("client", "server"):
                logged = [(l["path"], l["seqs"]) for l in truth
                          if l["side"] == side and l["event"] == "response" and l["technique"] == technique]
                if carried != logged:
                    problems.append(f"{label}: responses carried {carried}, the {side} logged {logged}")
        if found != stamps(produced[technique]):
            problems.append(f"{label}: the capture carries {found}, the server produced {stamps(produced[technique])}")
    if found_techniques != TECHNIQUES:
        problems.append(f"connections in the capture: {found_techniques}, expected {TECHNIQUES}")
    # 3. tshark: the same requests and status codes in order, and one WebSocket text frame
    # from the server per message.
    out = tshark("-r", capture, "-Y", "http.request", "-T", "fields",
                 "-e", "http.request.method", "-e", "http.request.uri")
    tshark_requests = [tuple(row.split("\t")) for row in out.splitlines()]
    if tshark_requests != all_requests:
        problems.append(f"tshark's requests {tshark_requests} differ from {all_requests}")
    out = tshark("-r", capture, "-Y", "http.response", "-T", "fields", "-e", "http.response.code")
    tshark_codes = [int(code) for code in out.split()]
    if tshark_codes != all_responses:
        problems.append(f"tshark's response codes {tshark_codes} differ from {all_responses}")
    out = tshark("-r", capture, "-Y", f"websocket.opcode == 1 && tcp.srcport == {port}",
                 "-T", "fields", "-e", "frame.number")
    if len(out.split()) != count or websocket_texts != count:
        problems.append(f"tshark finds {len(out.split())} server text frames, the stream {websocket_texts}")
    return (
        f"{len(rebuilt)} connections, {len(all_requests)} requests, "
        f"{count} messages per technique in both logs and in the capture"
    )


# --- frame-by-frame comparisons with a full capture -------------------------------------------


def check_cut(capture, full, snaplen, problems):
    """The cut capture holds the full capture's frames, each cut to `snaplen` bytes."""
    _lt, cut_frames = read_capture(capture)
    _lt, full_frames = read_capture(full)
    if len(cut_frames) != len(full_frames):
        problems.append(f"{len(cut_frames)} frames, the full capture has {len(full_frames)}")
    cut = 0
    for number, ((c_len, c_data), (f_len, f_data)) in enumerate(zip(cut_frames, full_frames), start=1):
        if c_len != f_len or c_data != f_data[:snaplen]:
            problems.append(f"frame {number} is not the full capture's frame {number} cut to {snaplen} bytes")
            break
        cut += len(c_data) < c_len
    return f"{cut} of {len(cut_frames)} frames cut to {snaplen} bytes"


def check_tail(capture, full, problems):
    """The mid-stream capture's frames are the last frames of the full capture."""
    _lt, part = read_capture(capture)
    _lt, whole = read_capture(full)
    if not part or whole[len(whole) - len(part) :] != part:
        problems.append("the mid-stream capture is not the tail of the full capture")
    return f"the last {len(part)} of the full capture's {len(whole)} frames"


# --- analysis ---------------------------------------------------------------------------------


def analysis(capture):
    """Counts the frames tshark flags with each TCP analysis flag."""
    out = tshark(
        "-r", capture, "-Y", "tcp.analysis.flags", "-T", "fields",
        *[arg for flag in ANALYSIS_FLAGS for arg in ("-e", f"tcp.analysis.{flag}")],
    )
    counts = Counter()
    for row in out.splitlines():
        for flag, value in zip(ANALYSIS_FLAGS, row.split("\t")):
            if value:
                counts[flag] += 1
    return {flag: counts[flag] for flag in ANALYSIS_FLAGS}


def verify(capture, truth_path, port, scenario, full, keylog=None):
    truth = read_lines(truth_path)
    problems = []
    notes = []
    try:
        if scenario.get("protocol") == "http":
            notes.append(verify_http(capture, truth, port, problems))
        elif scenario.get("protocol") == "delivery":
            notes.append(verify_delivery(capture, truth, port, scenario, problems))
        elif "tls" in scenario:
            notes.append(verify_tls(capture, truth, port, scenario, keylog, problems))
        elif scenario.get("capture", {}).get("snaplen"):
            if full is None:
                raise VerifyError("a capture with a snap length needs --full")
            notes.append("full capture: " + verify_websocket(full, truth, port, scenario, problems))
            notes.append(check_cut(capture, full, scenario["capture"]["snaplen"], problems))
        else:
            notes.append(verify_websocket(capture, truth, port, scenario, problems))
            if is_midstream(scenario):
                if full is None:
                    raise VerifyError("a mid-stream capture needs --full")
                notes.append("full capture: " + verify_websocket(full, truth, port, without_pause(scenario), problems))
                notes.append(check_tail(capture, full, problems))
    except VerifyError as error:
        problems.append(str(error))
    counts = analysis(capture)
    missing = [flag for flag in scenario.get("expect_analysis", []) if not counts.get(flag)]
    if missing:
        problems.append(f"expected TCP analysis flags not found: {', '.join(missing)}")
    if problems:
        print(f"verify {capture}: FAILED", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        sys.exit(1)
    flags = ", ".join(f"{flag} {count}" for flag, count in counts.items() if count)
    print(f"verify {capture}: ok ({'; '.join(notes)}; tshark analysis: {flags or 'none'})", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    merge_args = sub.add_parser("merge")
    merge_args.add_argument("logs", nargs="+")
    verify_args = sub.add_parser("verify")
    verify_args.add_argument("capture")
    verify_args.add_argument("truth")
    verify_args.add_argument("port", type=int)
    verify_args.add_argument("--scenario")
    verify_args.add_argument("--full")
    verify_args.add_argument("--keylog", help="TLS secrets (SSLKEYLOGFILE format) to decrypt with")
    analysis_args = sub.add_parser("analysis")
    analysis_args.add_argument("capture")
    args = parser.parse_args()
    if args.command == "merge":
        merge(args.logs)
    elif args.command == "verify":
        scenario = {}
        if args.scenario:
            with open(args.scenario, encoding="utf-8") as file:
                scenario = json.load(file)
        verify(args.capture, args.truth, args.port, scenario, args.full, args.keylog)
    else:
        print(json.dumps(analysis(args.capture)))


if __name__ == "__main__":
    main()
