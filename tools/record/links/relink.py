#!/usr/bin/env python3
"""Rewrites the link-layer header of a classic pcap file from Ethernet to a BSD loopback header.

Linux captures its loopback interface with an Ethernet header (both MAC addresses zero), so the
BSD loopback link types cannot be captured here. This tool turns such a real capture into one:
for each record, the 14-byte Ethernet header is replaced by a 4-byte address family taken from
the EtherType, and the record's captured and original lengths shrink by 10 bytes. Timestamps
and the IP packets are kept byte for byte.

    relink.py null IN.pcap OUT.pcap   # link type 0 (NULL): family in the file's byte order
    relink.py loop IN.pcap OUT.pcap   # link type 108 (LOOP): family big-endian

| EtherType     | `null` (as macOS writes it) | `loop` (as OpenBSD writes it) |
|---------------|-----------------------------|-------------------------------|
| 0x0800 (IPv4) | 2 (AF_INET)                 | 2 (AF_INET)                   |
| 0x86DD (IPv6) | 30 (AF_INET6 on macOS)      | 24 (AF_INET6 on OpenBSD)      |

The file's byte order is the input's (a capture written on a little-endian machine stays
little-endian, so `null` families are little-endian there, as on an x86 or ARM Mac).
Any other EtherType, a frame shorter than 14 bytes or an input link type other than Ethernet
(1) is an error.
"""

import struct
import sys

ETHERNET_LINKTYPE = 1
ETHERNET_HEADER_LEN = 14
ETHERTYPE_OFFSET = 12
FAMILY_LEN = 4

LINKTYPES = {"null": 0, "loop": 108}
FAMILIES = {
    "null": {0x0800: 2, 0x86DD: 30},
    "loop": {0x0800: 2, 0x86DD: 24},
}

# Classic pcap magic numbers (microsecond and nanosecond timestamps), as read little-endian.
MAGICS = {0xA1B2C3D4, 0xA1B23C4D}
GLOBAL_HEADER_LEN = 24
RECORD_HEADER_LEN = 16


def byte_order(header):
    """'<' or '>' for the file's byte order, from its magic number."""
    for order in "<>":
        if struct.unpack(order + "I", header[:4])[0] in MAGICS:
            return order
    raise ValueError("not a classic pcap file (unknown magic number)")


def relink(kind, data):
    """Returns the rewritten file as bytes, and the number of records."""
    if len(data) < GLOBAL_HEADER_LEN:
        raise ValueError("file shorter than the pcap global header")
    order = byte_order(data)
    magic, major, minor, zone, sigfigs, snaplen, linktype = struct.unpack(
        order + "IHHiIII", data[:GLOBAL_HEADER_LEN]
    )
    if linktype & 0xFFFF != ETHERNET_LINKTYPE:
        raise ValueError(f"input link type is {linktype}, not Ethernet (1)")
    family_format = order + "I" if kind == "null" else ">I"
    out = [struct.pack(order + "IHHiIII", magic, major, minor, zone, sigfigs, snaplen, LINKTYPES[kind])]

    offset = GLOBAL_HEADER_LEN
    count = 0
    while offset < len(data):
        if offset + RECORD_HEADER_LEN > len(data):
            raise ValueError(f"record {count + 1}: truncated record header")
        seconds, fraction, incl_len, orig_len = struct.unpack(
            order + "IIII", data[offset : offset + RECORD_HEADER_LEN]
        )
        frame = data[offset + RECORD_HEADER_LEN : offset + RECORD_HEADER_LEN + incl_len]
        if len(frame) != incl_len:
            raise ValueError(f"record {count + 1}: truncated frame")
        if incl_len < ETHERNET_HEADER_LEN or orig_len < incl_len:
            raise ValueError(f"record {count + 1}: lengths {incl_len}/{orig_len} do not fit")
        ethertype = struct.unpack(">H", frame[ETHERTYPE_OFFSET:ETHERNET_HEADER_LEN])[0]
        family = FAMILIES[kind].get(ethertype)
        if family is None:
            raise ValueError(f"record {count + 1}: EtherType 0x{ethertype:04x} has no family")
        shrink = ETHERNET_HEADER_LEN - FAMILY_LEN
        out.append(struct.pack(order + "IIII", seconds, fraction, incl_len - shrink, orig_len - shrink))
        out.append(struct.pack(family_format, family))
        out.append(frame[ETHERNET_HEADER_LEN:])
        offset += RECORD_HEADER_LEN + incl_len
        count += 1
    return b"".join(out), count


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in LINKTYPES:
        sys.exit("usage: relink.py null|loop IN.pcap OUT.pcap")
    kind, source, target = sys.argv[1:]
    with open(source, "rb") as file:
        data = file.read()
    try:
        result, count = relink(kind, data)
    except ValueError as error:
        sys.exit(f"relink.py: {source}: {error}")
    with open(target, "wb") as file:
        file.write(result)
    print(f"relink.py: {count} records, link type {LINKTYPES[kind]}, written to {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
