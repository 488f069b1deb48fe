#!/usr/bin/env python3
"""VLAN tagging of one interface with two small BPF programs, for kernels without 802.1Q support.

The recording machine's kernel is built without `CONFIG_VLAN_8021Q`, so `ip link add ... type
vlan` fails with "Unknown device type". This helper gives an interface the same behaviour as a
stack of VLAN sub-interfaces would: every frame it sends gets the given tags, and every frame it
receives has its tags removed before the IP stack sees it. The work is done by the kernel's own
VLAN helpers (`bpf_skb_vlan_push`, `bpf_skb_vlan_pop`), called from two programs attached with
tcx (the BPF hook of the traffic-control layer, Linux 6.6 or later):

- egress: for each tag, innermost first, compute the PCP from the frame's socket priority with
  the tag's `egress-qos-map` (as `ip link` defines it: listed priorities map to the given PCP,
  all others to 0) and push the tag;
- ingress: pop as many tags as were configured.

A packet capture on the interface sees the tags on both directions: outgoing frames are
captured after the egress program, incoming frames before the ingress program.

Usage (as root, inside the interface's network namespace):
    tagger.py --dev eth0 --tag 'id 100 egress-qos-map 5:5'
    tagger.py --dev eth0 --tag 'protocol 802.1ad id 200' --tag 'id 300'

Tags are listed outer first, as on the wire; each is written like the arguments of
`ip link add ... type vlan`: `[protocol 802.1Q|802.1ad] id VID [egress-qos-map PRIO:PCP ...]`.
The helper prints "READY" once both programs are attached and keeps them attached until it
gets SIGINT or SIGTERM (or dies): the attachments are BPF links owned by this process.
"""

import argparse
import ctypes
import os
import platform
import signal
import socket
import struct
import sys

# bpf(2) system call numbers per machine.
BPF_SYSCALL = {"x86_64": 321, "aarch64": 280}

# bpf(2) commands, program type, attach types and helpers (include/uapi/linux/bpf.h).
BPF_PROG_LOAD = 5
BPF_LINK_CREATE = 28
BPF_PROG_TYPE_SCHED_CLS = 3
BPF_TCX_INGRESS = 46
BPF_TCX_EGRESS = 47
HELPER_SKB_VLAN_PUSH = 18
HELPER_SKB_VLAN_POP = 19
# Offset of `priority` in `struct __sk_buff`, after eight 32-bit fields (len ... vlan_proto).
SKB_PRIORITY_OFFSET = 32
# Program verdict: let the frame continue (TCX_PASS, the same value as TC_ACT_OK).
TCX_PASS = 0

# Size of the `union bpf_attr` buffer handed to the kernel; unused bytes stay zero.
ATTR_SIZE = 128
VERIFIER_LOG_SIZE = 1 << 16

# BPF instruction opcodes used below (class | operation | source).
MOV64_REG = 0xBF  # dst = src
MOV64_IMM = 0xB7  # dst = imm
LDX_MEM_W = 0x61  # dst = *(u32 *)(src + off)
JNE_IMM = 0x55  # if dst != imm: pc += off
LSH64_IMM = 0x67  # dst <<= imm
OR64_IMM = 0x47  # dst |= imm
CALL = 0x85  # call helper imm
EXIT = 0x95  # return r0

# Tag protocol identifiers, as the 16-bit big-endian value the helper expects in a register.
PROTOCOLS = {"802.1q": 0x8100, "802.1ad": 0x88A8}


def insn(code, dst=0, src=0, off=0, imm=0):
    """Encodes one 8-byte BPF instruction (little-endian machine)."""
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def be16_register_value(value):
    """The number whose in-register bytes are `value` in network order (a `__be16` argument)."""
    return int.from_bytes(value.to_bytes(2, "big"), sys.byteorder)


class Tag:
    """One VLAN tag: protocol, VLAN id and the priority-to-PCP map for outgoing frames."""

    def __init__(self, text):
        words = text.split()
        self.protocol = "802.1q"
        self.vid = None
        self.qos_map = {}
        i = 0
        while i < len(words):
            word = words[i]
            if word == "protocol" and i + 1 < len(words):
                self.protocol = words[i + 1].lower()
                if self.protocol not in PROTOCOLS:
                    raise ValueError(f"unknown protocol {words[i + 1]!r}")
                i += 2
            elif word == "id" and i + 1 < len(words):
                self.vid = int(words[i + 1])
                if not 1 <= self.vid <= 4094:
                    raise ValueError(f"VLAN id {self.vid} is not in 1..4094")
                i += 2
            elif word == "egress-qos-map":
                i += 1
                while i < len(words) and ":" in words[i]:
                    prio, pcp = (int(part) for part in words[i].split(":"))
                    if not 0 <= pcp <= 7:
                        raise ValueError(f"PCP {pcp} is not in 0..7")
                    self.qos_map[prio] = pcp
                    i += 1
            else:
                raise ValueError(f"cannot read tag {text!r} at {word!r}")
        if self.vid is None:
            raise ValueError(f"tag {text!r} has no id")

    def __str__(self):
        mapping = " ".join(f"{prio}:{pcp}" for prio, pcp in sorted(self.qos_map.items()))
        return f"{self.protocol} id {self.vid} egress-qos-map [{mapping}]"


def egress_program(tags):
    """Pushes the tags, innermost first, each with the PCP its map gives the socket priority."""
    code = [
        insn(MOV64_REG, dst=6, src=1),  # r6 = skb (r1 is clobbered by calls)
        insn(LDX_MEM_W, dst=7, src=6, off=SKB_PRIORITY_OFFSET),  # r7 = skb->priority
    ]
    for tag in reversed(tags):
        code.append(insn(MOV64_IMM, dst=3, imm=0))  # r3 = PCP 0 unless the map says otherwise
        for prio, pcp in sorted(tag.qos_map.items()):
            code.append(insn(JNE_IMM, dst=7, off=1, imm=prio))  # if priority != prio: skip
            code.append(insn(MOV64_IMM, dst=3, imm=pcp))  # r3 = pcp
        code += [
            insn(LSH64_IMM, dst=3, imm=13),  # the PCP is the top 3 bits of the TCI
            insn(OR64_IMM, dst=3, imm=tag.vid),  # DEI 0, then the 12-bit VLAN id
            insn(MOV64_REG, dst=1, src=6),  # r1 = skb
            insn(MOV64_IMM, dst=2, imm=be16_register_value(PROTOCOLS[tag.protocol])),
            insn(CALL, imm=HELPER_SKB_VLAN_PUSH),  # bpf_skb_vlan_push(skb, proto, tci)
        ]
    code += [insn(MOV64_IMM, dst=0, imm=TCX_PASS), insn(EXIT)]
    return b"".join(code)


def ingress_program(count):
    """Pops `count` tags (a pop without a tag does nothing)."""
    code = [insn(MOV64_REG, dst=6, src=1)]
    for _ in range(count):
        code += [insn(MOV64_REG, dst=1, src=6), insn(CALL, imm=HELPER_SKB_VLAN_POP)]
    code += [insn(MOV64_IMM, dst=0, imm=TCX_PASS), insn(EXIT)]
    return b"".join(code)


class Bpf:
    """The few bpf(2) commands this helper needs, through libc's syscall()."""

    def __init__(self):
        machine = platform.machine()
        if machine not in BPF_SYSCALL:
            raise OSError(f"no bpf(2) system call number known for {machine}")
        self.number = BPF_SYSCALL[machine]
        self.libc = ctypes.CDLL(None, use_errno=True)
        # Buffers whose addresses were given to the kernel must outlive the call.
        self.keep = []

    def call(self, command, attr):
        buffer = ctypes.create_string_buffer(attr, ATTR_SIZE)
        result = self.libc.syscall(self.number, command, buffer, ATTR_SIZE)
        if result < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno))
        return result

    def load(self, name, program):
        """Loads a SCHED_CLS program and returns its file descriptor."""
        insns = ctypes.create_string_buffer(program, len(program))
        license_text = ctypes.create_string_buffer(b"Dual MIT/GPL")
        log = ctypes.create_string_buffer(VERIFIER_LOG_SIZE)
        self.keep += [insns, license_text, log]
        attr = struct.pack(
            "<IIQQIIQII16s",
            BPF_PROG_TYPE_SCHED_CLS,
            len(program) // 8,
            ctypes.addressof(insns),
            ctypes.addressof(license_text),
            1,  # verifier log level: errors only
            VERIFIER_LOG_SIZE,
            ctypes.addressof(log),
            0,  # kern_version
            0,  # prog_flags
            name.encode("ascii"),
        )
        try:
            return self.call(BPF_PROG_LOAD, attr)
        except OSError as error:
            raise OSError(f"loading {name}: {error}\n{log.value.decode(errors='replace')}") from error

    def attach(self, program_fd, ifindex, attach_type):
        """Attaches a program to an interface with tcx and returns the link's descriptor."""
        return self.call(BPF_LINK_CREATE, struct.pack("<IIII", program_fd, ifindex, attach_type, 0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", required=True, help="interface to tag, in this namespace")
    parser.add_argument("--tag", action="append", required=True, help="one tag, outer first")
    args = parser.parse_args()
    try:
        tags = [Tag(text) for text in args.tag]
    except ValueError as error:
        parser.error(str(error))
    ifindex = socket.if_nametoindex(args.dev)

    bpf = Bpf()
    egress = bpf.load("vlan_push", egress_program(tags))
    ingress = bpf.load("vlan_pop", ingress_program(len(tags)))
    links = [bpf.attach(egress, ifindex, BPF_TCX_EGRESS), bpf.attach(ingress, ifindex, BPF_TCX_INGRESS)]
    print(f"{args.dev}: " + ", then ".join(str(tag) for tag in tags), file=sys.stderr)
    print("READY", flush=True)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT, signal.SIGTERM])
    signal.sigwait([signal.SIGINT, signal.SIGTERM])
    for fd in links + [egress, ingress]:
        os.close(fd)


if __name__ == "__main__":
    main()
