//! Layer 3 fields: IPv4, IPv6 with extension headers, and ARP.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::decode::link::{be16, be32, ether_type};
use crate::decode::network::{arp_field, ip_protocol_name, ipv4_field, ipv6_field};
use crate::decode::{Arp, ChecksumStatus, Ipv4, Ipv6};
use crate::dissect::build::{bits, bytes_field, field, format_mac, mac_field, span_at, uint, with};
use crate::dissect::{keys, Field, FieldValue, Layer, Protocol, Span};

fn protocol_field(key: &'static str, label: &'static str, value: u8, span: Span) -> Field {
    let name = ip_protocol_name(value).unwrap_or("Unknown");
    field(
        key,
        label,
        FieldValue::UInt(u64::from(value)),
        format!("{name} ({value})"),
        span,
        "Which protocol the payload belongs to (6 is TCP, 17 is UDP).",
    )
}

/// The checksum field and its verdict, as Wireshark pairs them.
pub(crate) fn checksum_fields(
    key: &'static str,
    status_key: &'static str,
    value: u16,
    status: ChecksumStatus,
    span: Span,
    explain: &'static str,
) -> [Field; 2] {
    [
        field(
            key,
            "Checksum",
            FieldValue::UInt(u64::from(value)),
            format!("0x{value:04x} [{}]", status.describe()),
            span,
            explain,
        ),
        field(
            status_key,
            "Checksum status",
            FieldValue::UInt(status.tshark_status()),
            status.describe(),
            span,
            "Whether the checksum matches the bytes (0 bad, 1 good, 2 not checked).",
        ),
    ]
}

pub(crate) fn ipv4(ip: &Ipv4<'_>) -> Layer {
    let offset = ip.offset;
    let header = &ip.header;
    let bytes = header.slice();
    let header_len = bytes.len();
    let at = |range| span_at(offset, range);
    let first = u64::from(bytes.first().copied().unwrap_or(0));
    let ds = u64::from(bytes.get(1).copied().unwrap_or(0));
    let flags_frag = u64::from(be16(bytes, ipv4_field::FLAGS_FRAGMENT));
    let id = header.identification();
    let ttl = header.ttl();
    let protocol = header.protocol().0;
    let src = Ipv4Addr::from(header.source());
    let dst = Ipv4Addr::from(header.destination());
    let flag_names: Vec<&str> = [
        (ipv4_field::RB_MASK, "Reserved"),
        (ipv4_field::DF_MASK, "Don't fragment"),
        (ipv4_field::MF_MASK, "More fragments"),
    ]
    .into_iter()
    .filter(|(mask, _)| flags_frag & mask != 0)
    .map(|(_, name)| name)
    .collect();
    let flags_value = (flags_frag & ipv4_field::FLAGS_MASK) >> 8;
    let frag_offset = (flags_frag & ipv4_field::FRAGMENT_MASK) * 8;
    let mut fields = vec![
        bits(keys::ip::VERSION, "Version", first, ipv4_field::VERSION_MASK, at(ipv4_field::VERSION_IHL), "4 for IPv4: tells the receiver how to read the rest."),
        Field {
            value: FieldValue::UInt(header_len as u64),
            display: format!("{header_len} bytes ({})", header.ihl()),
            ..bits(keys::ip::HDR_LEN, "Header length", first, ipv4_field::IHL_MASK, at(ipv4_field::VERSION_IHL), "Header size in 4-byte words: 5 words (20 bytes) without options.")
        },
        with(
            field(keys::ip::DSFIELD, "Differentiated services", FieldValue::UInt(ds), format!("0x{ds:02x}"), at(ipv4_field::DSFIELD), "Marks for quality of service and congestion."),
            vec![
                bits(keys::ip::DSFIELD_DSCP, "DSCP", ds, ipv4_field::DSCP_MASK, at(ipv4_field::DSFIELD), "Traffic class routers may prioritise (0 is best effort)."),
                bits(keys::ip::DSFIELD_ECN, "ECN", ds, ipv4_field::ECN_MASK, at(ipv4_field::DSFIELD), "Explicit congestion notification: routers can mark instead of drop."),
            ],
        ),
        uint(keys::ip::LEN, "Total length", u64::from(header.total_len()), at(ipv4_field::TOTAL_LEN), "Size of the whole packet, header and payload, in bytes."),
        field(keys::ip::ID, "Identification", FieldValue::UInt(u64::from(id)), format!("0x{id:04x} ({id})"), at(ipv4_field::IDENTIFICATION), "Numbers the packet so its fragments can be put back together."),
        with(
            Field {
                mask: Some(ipv4_field::FLAGS_MASK),
                ..field(
                    keys::ip::FLAGS,
                    "Flags",
                    FieldValue::UInt(flags_value),
                    if flag_names.is_empty() { format!("0x{flags_value:02x}") } else { format!("0x{flags_value:02x}, {}", flag_names.join(", ")) },
                    at(ipv4_field::FLAGS_FRAGMENT),
                    "Three bits that control fragmentation.",
                )
            },
            vec![
                bits(keys::ip::FLAGS_RB, "Reserved bit", flags_frag, ipv4_field::RB_MASK, at(ipv4_field::FLAGS_FRAGMENT), "Must be zero."),
                bits(keys::ip::FLAGS_DF, "Don't fragment", flags_frag, ipv4_field::DF_MASK, at(ipv4_field::FLAGS_FRAGMENT), "Routers must not split this packet; if it is too big they drop it and say so (path MTU discovery)."),
                bits(keys::ip::FLAGS_MF, "More fragments", flags_frag, ipv4_field::MF_MASK, at(ipv4_field::FLAGS_FRAGMENT), "Set on every fragment except the last."),
            ],
        ),
        Field {
            display: format!("{} ({frag_offset} bytes)", frag_offset / 8),
            ..bits(keys::ip::FRAG_OFFSET, "Fragment offset", flags_frag, ipv4_field::FRAGMENT_MASK, at(ipv4_field::FLAGS_FRAGMENT), "Where this fragment's data goes in the original packet, counted in 8-byte units.")
        },
        uint(keys::ip::TTL, "Time to live", u64::from(ttl), at(ipv4_field::TTL), "Each router lowers it by one and drops the packet at zero, so lost packets cannot loop forever."),
        protocol_field(keys::ip::PROTO, "Protocol", protocol, at(ipv4_field::PROTOCOL)),
    ];
    fields.extend(checksum_fields(
        keys::ip::CHECKSUM,
        keys::ip::CHECKSUM_STATUS,
        header.header_checksum(),
        ip.checksum,
        at(ipv4_field::CHECKSUM),
        "Protects the header (not the payload) against corruption; every router recomputes it because TTL changes.",
    ));
    fields.push(field(
        keys::ip::SRC,
        "Source address",
        FieldValue::Ipv4(src),
        src.to_string(),
        at(ipv4_field::SOURCE),
        "The host that sent the packet.",
    ));
    fields.push(field(
        keys::ip::DST,
        "Destination address",
        FieldValue::Ipv4(dst),
        dst.to_string(),
        at(ipv4_field::DESTINATION),
        "The host the packet is for; routers forward by this address.",
    ));
    if header_len > ipv4_field::MIN_LEN {
        let options = header.options();
        fields.push(bytes_field(
            keys::ip::OPTIONS,
            "Options",
            options,
            at(ipv4_field::options(header_len)),
            "Rarely used extras such as record-route; they make the header longer.",
        ));
    }
    let proto_name = ip_protocol_name(protocol).unwrap_or("an unknown protocol");
    let did = if ip.is_fragment() {
        format!(
            "Carried one fragment ({} bytes at offset {frag_offset}) of a packet from {src} to {dst}; the receiver reassembles it before handing it to {proto_name}.",
            ip.payload.len()
        )
    } else {
        format!(
            "Carried the packet from {src} to {dst} (TTL {ttl}) and handed {} bytes to {proto_name}.",
            usize::from(header.total_len()).saturating_sub(header_len)
        )
    };
    Layer {
        protocol: Protocol::Ipv4,
        source: 0,
        span: Span::at(offset, header_len),
        payload: Some(ip.payload),
        summary: format!("Internet Protocol Version 4, Src: {src}, Dst: {dst}"),
        did,
        fields,
    }
}

/// The filter name of an IPv6 extension header by its protocol number.
fn ext_key(kind: u8) -> &'static str {
    match kind {
        0 => keys::ipv6::HOPOPTS,
        43 => keys::ipv6::ROUTING,
        44 => keys::ipv6::FRAGMENT,
        60 => keys::ipv6::DSTOPTS,
        _ => keys::ipv6::AUTH,
    }
}

pub(crate) fn ipv6(ip: &Ipv6<'_>, data: &[u8]) -> Layer {
    let offset = ip.offset;
    let header = &ip.header;
    let bytes = header.slice();
    let at = |range| span_at(offset, range);
    let word = u64::from(be32(bytes, ipv6_field::VERSION_CLASS_FLOW));
    let tclass = (word & ipv6_field::TCLASS_MASK) >> 20;
    let src = Ipv6Addr::from(header.source());
    let dst = Ipv6Addr::from(header.destination());
    let next = header.next_header().0;
    let mut fields = vec![
        bits(
            keys::ipv6::VERSION,
            "Version",
            word,
            ipv6_field::VERSION_MASK,
            at(ipv6_field::VERSION_CLASS_FLOW),
            "6 for IPv6.",
        ),
        with(
            Field {
                display: format!("0x{tclass:02x}"),
                ..bits(
                    keys::ipv6::TCLASS,
                    "Traffic class",
                    word,
                    ipv6_field::TCLASS_MASK,
                    at(ipv6_field::VERSION_CLASS_FLOW),
                    "Marks for quality of service and congestion, like IPv4's DS field.",
                )
            },
            vec![
                bits(
                    keys::ipv6::TCLASS_DSCP,
                    "DSCP",
                    word,
                    0x0FC0_0000,
                    at(ipv6_field::VERSION_CLASS_FLOW),
                    "Traffic class routers may prioritise.",
                ),
                bits(
                    keys::ipv6::TCLASS_ECN,
                    "ECN",
                    word,
                    0x0030_0000,
                    at(ipv6_field::VERSION_CLASS_FLOW),
                    "Explicit congestion notification.",
                ),
            ],
        ),
        Field {
            display: format!("0x{:05x}", word & ipv6_field::FLOW_MASK),
            ..bits(
                keys::ipv6::FLOW,
                "Flow label",
                word,
                ipv6_field::FLOW_MASK,
                at(ipv6_field::VERSION_CLASS_FLOW),
                "Lets routers keep the packets of one flow on one path.",
            )
        },
        uint(
            keys::ipv6::PLEN,
            "Payload length",
            u64::from(header.payload_length()),
            at(ipv6_field::PAYLOAD_LEN),
            "Bytes after this 40-byte header, extension headers included.",
        ),
        protocol_field(
            keys::ipv6::NXT,
            "Next header",
            next,
            at(ipv6_field::NEXT_HEADER),
        ),
        uint(
            keys::ipv6::HLIM,
            "Hop limit",
            u64::from(header.hop_limit()),
            at(ipv6_field::HOP_LIMIT),
            "Lowered by one at each router; the packet is dropped at zero (IPv4's TTL).",
        ),
        field(
            keys::ipv6::SRC,
            "Source address",
            FieldValue::Ipv6(src),
            src.to_string(),
            at(ipv6_field::SOURCE),
            "The host that sent the packet.",
        ),
        field(
            keys::ipv6::DST,
            "Destination address",
            FieldValue::Ipv6(dst),
            dst.to_string(),
            at(ipv6_field::DESTINATION),
            "The host the packet is for.",
        ),
    ];
    for ext in &ip.exts {
        let ext_bytes = data.get(ext.span.start..ext.span.end).unwrap_or(&[]);
        let mut children = vec![protocol_field(
            keys::ipv6::EXT_NXT,
            "Next header",
            ext.next_header,
            Span::at(ext.span.start, 1),
        )];
        if let Some((id, frag_offset, more)) = ext.fragment {
            children.push(uint(
                keys::ipv6::FRAGMENT_OFFSET,
                "Offset",
                u64::from(frag_offset),
                Span::at(ext.span.start + 2, 2),
                "Where this fragment's data goes, in bytes.",
            ));
            children.push(field(
                keys::ipv6::FRAGMENT_MORE,
                "More fragments",
                FieldValue::Bool(more),
                if more { "Yes" } else { "No" }.to_string(),
                Span::at(ext.span.start + 2, 2),
                "Set on every fragment except the last.",
            ));
            children.push(field(
                keys::ipv6::FRAGMENT_ID,
                "Identification",
                FieldValue::UInt(u64::from(id)),
                format!("0x{id:08x}"),
                Span::at(ext.span.start + 4, 4),
                "Numbers the packet so its fragments can be matched.",
            ));
        }
        fields.push(with(
            bytes_field(
                ext_key(ext.kind),
                "Extension header",
                ext_bytes,
                ext.span,
                "An optional header between IPv6 and the transport layer.",
            ),
            children,
        ));
    }
    let upper = ip_protocol_name(ip.upper).unwrap_or("an unknown protocol");
    Layer {
        protocol: Protocol::Ipv6,
        source: 0,
        span: Span::new(offset, ip.payload.start),
        payload: Some(ip.payload),
        summary: format!("Internet Protocol Version 6, Src: {src}, Dst: {dst}"),
        did: format!(
            "Carried the packet from {src} to {dst} (hop limit {}) and handed {} bytes to {upper}.",
            header.hop_limit(),
            ip.payload.len()
        ),
        fields,
    }
}

pub(crate) fn arp(arp: &Arp<'_>) -> Layer {
    let offset = arp.offset;
    let bytes = arp.bytes;
    let at = |range| span_at(offset, range);
    let htype = be16(bytes, arp_field::HTYPE);
    let ptype = be16(bytes, arp_field::PTYPE);
    let hlen = usize::from(bytes.get(arp_field::HLEN.start).copied().unwrap_or(0));
    let plen = usize::from(bytes.get(arp_field::PLEN.start).copied().unwrap_or(0));
    let oper = be16(bytes, arp_field::OPER);
    let op_name = match oper {
        1 => "request",
        2 => "reply",
        3 => "reverse request",
        4 => "reverse reply",
        _ => "unknown",
    };
    let sha = arp_field::ADDRESSES;
    let spa = sha + hlen;
    let tha = spa + plen;
    let tpa = tha + hlen;
    let mut fields = vec![
        uint(
            keys::arp::HW_TYPE,
            "Hardware type",
            u64::from(htype),
            at(arp_field::HTYPE),
            "The link type being resolved (1 is Ethernet).",
        ),
        field(
            keys::arp::PROTO_TYPE,
            "Protocol type",
            FieldValue::UInt(u64::from(ptype)),
            format!(
                "{} (0x{ptype:04x})",
                ether_type::name(ptype).unwrap_or("Unknown")
            ),
            at(arp_field::PTYPE),
            "The network protocol whose address is looked up (IPv4).",
        ),
        uint(
            keys::arp::HW_SIZE,
            "Hardware size",
            hlen as u64,
            at(arp_field::HLEN),
            "Bytes in a hardware address (6 for Ethernet).",
        ),
        uint(
            keys::arp::PROTO_SIZE,
            "Protocol size",
            plen as u64,
            at(arp_field::PLEN),
            "Bytes in a protocol address (4 for IPv4).",
        ),
        field(
            keys::arp::OPCODE,
            "Opcode",
            FieldValue::UInt(u64::from(oper)),
            format!("{op_name} ({oper})"),
            at(arp_field::OPER),
            "1 asks \"who has this IP address?\", 2 answers \"it is at this MAC address\".",
        ),
    ];
    let ethernet_ipv4 = hlen == 6 && plen == 4;
    let mac = |start: usize| {
        bytes
            .get(start..start + 6)
            .and_then(|b| <[u8; 6]>::try_from(b).ok())
            .unwrap_or([0; 6])
    };
    let ipv4 = |start: usize| {
        bytes
            .get(start..start + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(Ipv4Addr::UNSPECIFIED, Ipv4Addr::from)
    };
    let summary = if ethernet_ipv4 {
        let (s_mac, s_ip, t_ip) = (mac(sha), ipv4(spa), ipv4(tpa));
        fields.push(mac_field(
            keys::arp::SRC_HW_MAC,
            "Sender MAC address",
            s_mac,
            Span::at(offset + sha, 6),
            "The asker's (or answerer's) hardware address.",
        ));
        fields.push(field(
            keys::arp::SRC_PROTO_IPV4,
            "Sender IP address",
            FieldValue::Ipv4(s_ip),
            s_ip.to_string(),
            Span::at(offset + spa, 4),
            "The sender's IP address.",
        ));
        fields.push(mac_field(
            keys::arp::DST_HW_MAC,
            "Target MAC address",
            mac(tha),
            Span::at(offset + tha, 6),
            "In a request, unknown (zero): that is what is being asked.",
        ));
        fields.push(field(
            keys::arp::DST_PROTO_IPV4,
            "Target IP address",
            FieldValue::Ipv4(t_ip),
            t_ip.to_string(),
            Span::at(offset + tpa, 4),
            "The IP address being looked up.",
        ));
        if oper == 1 {
            format!("Who has {t_ip}? Tell {s_ip}")
        } else {
            format!("{s_ip} is at {}", format_mac(s_mac))
        }
    } else {
        let part = |start: usize, len: usize| bytes.get(start..start + len).unwrap_or(&[]);
        fields.push(bytes_field(
            keys::arp::SRC_HW,
            "Sender hardware address",
            part(sha, hlen),
            Span::at(offset + sha, hlen),
            "The sender's hardware address.",
        ));
        fields.push(bytes_field(
            keys::arp::SRC_PROTO,
            "Sender protocol address",
            part(spa, plen),
            Span::at(offset + spa, plen),
            "The sender's protocol address.",
        ));
        fields.push(bytes_field(
            keys::arp::DST_HW,
            "Target hardware address",
            part(tha, hlen),
            Span::at(offset + tha, hlen),
            "The target's hardware address.",
        ));
        fields.push(bytes_field(
            keys::arp::DST_PROTO,
            "Target protocol address",
            part(tpa, plen),
            Span::at(offset + tpa, plen),
            "The target's protocol address.",
        ));
        format!("ARP {op_name}")
    };
    Layer {
        protocol: Protocol::Arp,
        source: 0,
        span: Span::at(offset, bytes.len()),
        payload: None,
        did: format!("An ARP {op_name}: {summary}. ARP maps IP addresses to MAC addresses on the local link."),
        summary: format!("Address Resolution Protocol ({op_name}): {summary}"),
        fields,
    }
}
