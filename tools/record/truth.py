#!/usr/bin/env python3
"""Merges the two peers' truth logs and checks a capture against the merged log.

    truth.py merge SERVER.jsonl CLIENT.jsonl > NAME.truth.jsonl
    truth.py verify CAPTURE NAME.truth.jsonl PORT

`verify` makes three checks and exits 1 if any fails:
  1. the log is consistent: what one side sent, the other side received, in the same order;
  2. tshark's WebSocket dissector finds, per direction, as many frames of each opcode as the log
     says were sent (a message sent in N frames is one text or binary frame and N-1
     continuation frames);
  3. the TCP stream bytes (from `tshark -z follow,tcp,raw`), split into WebSocket frames here,
     unmasked and, with permessage-deflate, inflated, give the same messages (opcode, length,
     SHA-256, close code and reason) in the same order as the log.
"""

import hashlib
import json
import subprocess
import sys
import zlib
from collections import Counter

KEYS = ["side", "event", "dir", "opcode", "length", "sha256", "close_code", "close_reason", "frames"]
OPCODES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
CONTROL = {"close", "ping", "pong"}


def read_lines(path):
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def merge(paths):
    """Prints both logs as one, ordered by the shared monotonic clock, without the clock."""
    lines = [line for path in paths for line in read_lines(path)]
    lines.sort(key=lambda line: int(line["t"]))
    for line in lines:
        print(json.dumps({key: line[key] for key in KEYS}, ensure_ascii=False))


def summary(line):
    """The fields both ends and the capture must agree on."""
    return (line["opcode"], line["length"], line["sha256"], line["close_code"], line["close_reason"])


def tshark(*args):
    result = subprocess.run(
        ["tshark", *args], check=True, capture_output=True, text=True, encoding="utf-8"
    )
    return result.stdout


def check_log(truth, problems):
    """Check 1: every message sent by one side was received by the other, in order."""
    for direction in ("c2s", "s2c"):
        sent = [summary(l) for l in truth if l["dir"] == direction and l["event"] == "send"]
        received = [summary(l) for l in truth if l["dir"] == direction and l["event"] == "recv"]
        if sent != received:
            problems.append(f"{direction}: sent and received messages differ in the truth log")


def check_tshark_opcodes(capture, truth, port, problems):
    """Check 2: per direction, tshark's count of WebSocket frames per opcode matches the log."""
    out = tshark(
        "-r", capture, "-Y", "websocket", "-T", "fields", "-E", "aggregator=;",
        "-e", "frame.number", "-e", "tcp.srcport", "-e", "websocket.opcode",
        "-e", "websocket.payload_length",
    )
    seen = {"c2s": Counter(), "s2c": Counter()}
    rows = 0
    for row in out.splitlines():
        _number, srcport, opcodes, _lengths = row.split("\t")
        direction = "s2c" if int(srcport) == port else "c2s"
        for opcode in opcodes.split(";"):
            seen[direction][OPCODES.get(int(opcode), opcode)] += 1
            rows += 1
    expected = {"c2s": Counter(), "s2c": Counter()}
    for line in truth:
        if line["event"] != "send":
            continue
        frames = line["frames"] or 1
        expected[line["dir"]][line["opcode"]] += 1
        if frames > 1:
            expected[line["dir"]]["continuation"] += frames - 1
    for direction in ("c2s", "s2c"):
        if seen[direction] != expected[direction]:
            problems.append(
                f"{direction}: tshark frames per opcode {dict(seen[direction])}, "
                f"truth log says {dict(expected[direction])}"
            )
    return rows


def stream_bytes(capture, port):
    """Returns the client-to-server and server-to-client bytes of the first TCP stream."""
    out = tshark("-r", capture, "-q", "-z", "follow,tcp,raw,0")
    nodes = {}
    data = {"c2s": bytearray(), "s2c": bytearray()}
    body = False
    for raw in out.splitlines():
        if raw.startswith("Node "):
            index, address = raw[len("Node "):].split(": ", 1)
            nodes[index] = int(address.rsplit(":", 1)[1])
            body = True
            continue
        if not body or not raw.strip() or raw.startswith("="):
            continue
        from_node1 = raw.startswith("\t")
        node_port = nodes["1" if from_node1 else "0"]
        direction = "s2c" if node_port == port else "c2s"
        data[direction] += bytes.fromhex(raw.strip())
    return bytes(data["c2s"]), bytes(data["s2c"])


def split_http(stream):
    end = stream.find(b"\r\n\r\n")
    if end < 0:
        raise ValueError("no end of HTTP header in stream")
    return stream[: end + 4].decode("latin-1"), stream[end + 4 :]


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
            raise ValueError("stream ends inside a frame")
        pos += length
        if key is not None:
            payload = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
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
        current[2].append(payload)
        if not fin:
            continue
        name, compressed, parts = current
        payload = b"".join(parts)
        if compressed:
            if inflate_takeover is None:
                raise ValueError("RSV1 set without permessage-deflate")
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


def check_stream(capture, truth, port, problems):
    """Check 3: the messages in the TCP stream equal the messages the log says were sent."""
    c2s, s2c = stream_bytes(capture, port)
    _request, c2s = split_http(c2s)
    response, s2c = split_http(s2c)
    client_takeover, server_takeover = deflate_settings(response)
    found = {"c2s": stream_messages(c2s, client_takeover), "s2c": stream_messages(s2c, server_takeover)}
    for direction in ("c2s", "s2c"):
        sent = [summary(l) for l in truth if l["dir"] == direction and l["event"] == "send"]
        # Control frames may sit between the fragments of a message, so the log (which writes a
        # message when its last frame goes) and the stream are compared per kind.
        for kind in ("data", "control"):
            keep = (lambda m: m[0] in CONTROL) if kind == "control" else (lambda m: m[0] not in CONTROL)
            want = [m for m in sent if keep(m)]
            got = [m for m in found[direction] if keep(m)]
            if want != got:
                problems.append(f"{direction}: {kind} messages in the TCP stream differ from the log")
                for i, (w, g) in enumerate(zip(want, got)):
                    if w != g:
                        problems.append(f"  first difference at #{i}: log {w[:2]}, stream {g[:2]}")
                        break
                if len(want) != len(got):
                    problems.append(f"  log has {len(want)}, stream has {len(got)}")
    return sum(len(m) for m in found.values())


def verify(capture, truth_path, port):
    truth = read_lines(truth_path)
    problems = []
    check_log(truth, problems)
    frames = check_tshark_opcodes(capture, truth, port, problems)
    messages = check_stream(capture, truth, port, problems)
    sent = sum(1 for line in truth if line["event"] == "send")
    if problems:
        print(f"verify {capture}: FAILED", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        sys.exit(1)
    print(
        f"verify {capture}: ok ({sent} messages sent, {frames} WebSocket frames in tshark, "
        f"{messages} messages in the stream)",
        file=sys.stderr,
    )


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "merge":
        merge(args)
    elif command == "verify":
        verify(args[0], args[1], int(args[2]))
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
