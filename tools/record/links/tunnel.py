#!/usr/bin/env python3
"""One end of a minimal IP-in-UDP tunnel, built on a TUN device, for kernels without ipip/sit.

The recording machine's kernel has no `ipip`, `sit`, `ip6tnl` or GRE support, but it has TUN
devices. A TUN device is a point-to-point interface without a link-layer header: the kernel
hands each IP packet routed into it to the process that holds the device, and takes IP packets
from it. A capture on it therefore has the link type RAW (101): every frame starts with the IPv4
or IPv6 header.

This helper creates the TUN device, then copies packets both ways between it and a UDP socket
bound to `--local`: each packet read from the device goes, unchanged, as one UDP datagram to
`--remote`; each datagram received from `--remote` is written to the device. Two instances, one
per namespace, make a tunnel between them (the outer UDP datagrams cross the veth pair).

Usage (as root, inside the namespace):
    tunnel.py --dev tun0 --local 10.88.0.1 --remote 10.88.0.2 [--port 7888]

It prints "READY" once the device exists (addresses and `ip link set up` are left to the
caller), and runs until SIGINT or SIGTERM. The device disappears when the process ends.
"""

import argparse
import fcntl
import os
import select
import signal
import socket
import struct
import sys

# From linux/if_tun.h.
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

# Largest IP packet copied in either direction (above any MTU used here).
MAX_PACKET = 65535


def open_tun(name):
    """Creates the TUN device `name` (no packet-information prefix) and returns its descriptor."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    ifreq = struct.pack("16sH", name.encode("ascii"), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifreq)
    return fd


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", required=True)
    parser.add_argument("--local", required=True, help="outer address of this end")
    parser.add_argument("--remote", required=True, help="outer address of the other end")
    parser.add_argument("--port", type=int, default=7888, help="outer UDP port, both ends")
    args = parser.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))

    tun = open_tun(args.dev)
    family = socket.AF_INET6 if ":" in args.local else socket.AF_INET
    outer = socket.socket(family, socket.SOCK_DGRAM)
    outer.bind((args.local, args.port))
    remote = (args.remote, args.port)
    print("READY", flush=True)

    while not stop:
        try:
            readable, _, _ = select.select([tun, outer], [], [], 0.5)
        except InterruptedError:
            continue
        if tun in readable:
            outer.sendto(os.read(tun, MAX_PACKET), remote)
        if outer in readable:
            packet, sender = outer.recvfrom(MAX_PACKET)
            if sender[:2] == remote:
                try:
                    os.write(tun, packet)
                except OSError as error:
                    # The device refuses packets while it is down (EIO); they are dropped, as
                    # on a real interface.
                    print(f"tunnel: dropped a packet: {error}", file=sys.stderr)
            else:
                print(f"tunnel: ignored a datagram from {sender}", file=sys.stderr)
    outer.close()
    os.close(tun)


if __name__ == "__main__":
    main()
