//! Layer 2 fields: Ethernet II, VLAN tags, Linux cooked headers, BSD loopback.

use etherparse::Ethernet2HeaderSlice;

use crate::decode::link::{
    be16, be32, eth_field, ether_type, null_field, sll2_field, sll_field, vlan_field,
};
use crate::decode::{Decoded, Vlan};
use crate::dissect::build::{bits, bytes_field, field, format_mac, mac_field, span_at, uint, with};
use crate::dissect::{keys, Field, FieldValue, Layer, Protocol, Span};

/// An EtherType shown with its name, as Wireshark does.
fn ether_type_field(key: &'static str, value: u16, span: Span) -> Field {
    let display = match ether_type::name(value) {
        Some(name) => format!("{name} (0x{value:04x})"),
        None => format!("Unknown (0x{value:04x})"),
    };
    field(
        key,
        "Type",
        FieldValue::UInt(u64::from(value)),
        display,
        span,
        "Says which protocol the payload belongs to, so the receiver knows who gets it.",
    )
}

fn ether_type_label(value: u16) -> String {
    ether_type::name(value).map_or_else(|| format!("0x{value:04x}"), str::to_string)
}

/// The two address bits Ethernet keeps in the first byte of every MAC address.
fn address_bits(lg: &'static str, ig: &'static str, first: u8, start: usize) -> Vec<Field> {
    let raw = u64::from(first);
    vec![
        bits(
            lg,
            "Locally administered",
            raw,
            0x02,
            Span::at(start, 1),
            "Set when the address was assigned by software, not burnt in by the maker.",
        ),
        bits(
            ig,
            "Group address",
            raw,
            0x01,
            Span::at(start, 1),
            "Set for multicast and broadcast addresses, clear for one single card.",
        ),
    ]
}

pub(crate) fn ethernet(header: &Ethernet2HeaderSlice<'_>, decoded: &Decoded<'_>) -> Layer {
    let dst = header.destination();
    let src = header.source();
    let kind = header.ether_type().0;
    let mut fields = vec![
        with(
            mac_field(
                keys::eth::DST,
                "Destination",
                dst,
                span_at(0, eth_field::DESTINATION),
                "The card this frame is for; every card on the link reads this first.",
            ),
            address_bits(keys::eth::DST_LG, keys::eth::DST_IG, dst[0], 0),
        ),
        with(
            mac_field(
                keys::eth::SRC,
                "Source",
                src,
                span_at(0, eth_field::SOURCE),
                "The card that sent this frame.",
            ),
            address_bits(
                keys::eth::SRC_LG,
                keys::eth::SRC_IG,
                src[0],
                eth_field::SOURCE.start,
            ),
        ),
        ether_type_field(keys::eth::TYPE, kind, span_at(0, eth_field::ETHERTYPE)),
    ];
    let mut span = Span::new(0, eth_field::LEN);
    let mut payload_end = decoded.data.len();
    if let Some(trailer) = decoded.trailer {
        let bytes = decoded.data.get(trailer.start..trailer.end).unwrap_or(&[]);
        let padding = bytes.iter().all(|&b| b == 0) || trailer.end <= eth_field::MIN_FRAME_LEN;
        fields.push(bytes_field(
            if padding {
                keys::eth::PADDING
            } else {
                keys::eth::TRAILER
            },
            if padding { "Padding" } else { "Trailer" },
            bytes,
            trailer,
            "Bytes after the packet: Ethernet pads frames shorter than 60 bytes.",
        ));
        payload_end = trailer.start;
        span = Span::new(0, decoded.data.len());
    }
    let loopback = src == [0; 6] && dst == [0; 6];
    let did = if loopback {
        format!(
            "Wrapped the packet in an Ethernet frame with all-zero addresses (the loopback interface needs no real ones) and marked the payload as {}.",
            ether_type_label(kind)
        )
    } else {
        format!(
            "Delivered the frame on the local link from {} to {} and marked the payload as {}.",
            format_mac(src),
            format_mac(dst),
            ether_type_label(kind)
        )
    };
    Layer {
        protocol: Protocol::Ethernet,
        source: 0,
        span,
        payload: Some(Span::new(eth_field::LEN.min(payload_end), payload_end)),
        summary: format!(
            "Ethernet II, Src: {}, Dst: {}",
            format_mac(src),
            format_mac(dst)
        ),
        did,
        fields,
    }
}

pub(crate) fn vlan(tag: &Vlan<'_>) -> Layer {
    let offset = tag.offset;
    let tci = u64::from(be16(tag.header.slice(), vlan_field::TCI));
    let inner = tag.header.ether_type().0;
    let id = tci & vlan_field::VID_MASK;
    let tci_span = span_at(offset, vlan_field::TCI);
    // Wireshark files a provider (802.1ad) tag under its own protocol name.
    let service = tag.tpid == ether_type::VLAN_STAG;
    let (k_priority, k_dei, k_id) = if service {
        (
            keys::vlan::AD_PRIORITY,
            keys::vlan::AD_DEI,
            keys::vlan::AD_ID,
        )
    } else {
        (keys::vlan::PRIORITY, keys::vlan::DEI, keys::vlan::ID)
    };
    let fields = vec![
        bits(
            k_priority,
            "Priority",
            tci,
            vlan_field::PCP_MASK,
            tci_span,
            "Priority code point (0-7): which frames switches should send first.",
        ),
        bits(
            k_dei,
            "Drop eligible",
            tci,
            vlan_field::DEI_MASK,
            tci_span,
            "Set when this frame may be dropped first under congestion.",
        ),
        bits(
            k_id,
            "VLAN ID",
            tci,
            vlan_field::VID_MASK,
            tci_span,
            "Which virtual LAN the frame belongs to.",
        ),
        ether_type_field(
            keys::vlan::ETYPE,
            inner,
            span_at(offset, vlan_field::ETHERTYPE),
        ),
    ];
    let kind = if tag.tpid == ether_type::VLAN_CTAG {
        "802.1Q"
    } else {
        "802.1ad"
    };
    Layer {
        protocol: Protocol::Vlan,
        source: 0,
        span: Span::at(offset, vlan_field::LEN),
        payload: None,
        summary: format!("{kind} Virtual LAN, ID: {id}"),
        did: format!(
            "Tagged the frame as belonging to virtual LAN {id}, so switches keep it apart from other VLANs on the same cable."
        ),
        fields,
    }
}

/// The packet type of a Linux cooked header.
fn pkttype_name(value: u16) -> &'static str {
    match value {
        0 => "Unicast to us",
        1 => "Broadcast",
        2 => "Multicast",
        3 => "Unicast to another host",
        4 => "Sent by us",
        _ => "Unknown",
    }
}

fn sll_address(
    key_eth: &'static str,
    key_other: &'static str,
    bytes: &[u8],
    halen: usize,
    range: std::ops::Range<usize>,
) -> Field {
    let address = bytes.get(range.clone()).unwrap_or(&[]);
    let used = address.get(..halen.min(address.len())).unwrap_or(&[]);
    match <[u8; 6]>::try_from(used) {
        Ok(mac) if halen == 6 => mac_field(
            key_eth,
            "Source",
            mac,
            Span::at(range.start, 6),
            "The link-layer address of the sender, as the kernel recorded it.",
        ),
        _ => bytes_field(
            key_other,
            "Source",
            used,
            Span::at(range.start, used.len()),
            "The link-layer address of the sender, as the kernel recorded it.",
        ),
    }
}

pub(crate) fn sll(bytes: &[u8]) -> Layer {
    let pkttype = be16(bytes, sll_field::PKTTYPE);
    let halen = usize::from(be16(bytes, sll_field::HALEN));
    let protocol = be16(bytes, sll_field::PROTOCOL);
    let fields = vec![
        field(
            keys::sll::PKTTYPE,
            "Packet type",
            FieldValue::UInt(u64::from(pkttype)),
            format!("{} ({pkttype})", pkttype_name(pkttype)),
            span_at(0, sll_field::PKTTYPE),
            "Whether the packet came in to this host or went out from it.",
        ),
        uint(
            keys::sll::HATYPE,
            "Link-layer address type",
            u64::from(be16(bytes, sll_field::HATYPE)),
            span_at(0, sll_field::HATYPE),
            "The kind of interface (1 is Ethernet, 772 is loopback).",
        ),
        uint(
            keys::sll::HALEN,
            "Link-layer address length",
            halen as u64,
            span_at(0, sll_field::HALEN),
            "How many bytes of the address field are used.",
        ),
        sll_address(
            keys::sll::SRC_ETH,
            keys::sll::SRC_OTHER,
            bytes,
            halen,
            sll_field::ADDRESS,
        ),
        ether_type_field(keys::sll::ETYPE, protocol, span_at(0, sll_field::PROTOCOL)),
    ];
    Layer {
        protocol: Protocol::LinuxSll,
        source: 0,
        span: Span::new(0, sll_field::LEN),
        payload: None,
        summary: format!("Linux cooked capture v1, {}", pkttype_name(pkttype)),
        did: format!(
            "The kernel replaced the real link header with this summary (capture on \"any\"): {}, payload {}.",
            pkttype_name(pkttype).to_lowercase(),
            ether_type_label(protocol)
        ),
        fields,
    }
}

pub(crate) fn sll2(bytes: &[u8]) -> Layer {
    let protocol = be16(bytes, sll2_field::PROTOCOL);
    let pkttype = u16::from(bytes.get(sll2_field::PKTTYPE.start).copied().unwrap_or(0));
    let halen = usize::from(bytes.get(sll2_field::HALEN.start).copied().unwrap_or(0));
    let ifindex = be32(bytes, sll2_field::IFINDEX);
    let fields = vec![
        ether_type_field(keys::sll::ETYPE, protocol, span_at(0, sll2_field::PROTOCOL)),
        uint(
            keys::sll::RESERVED,
            "Reserved",
            u64::from(be16(bytes, sll2_field::RESERVED)),
            span_at(0, sll2_field::RESERVED),
            "Unused; always zero.",
        ),
        uint(
            keys::sll::IFINDEX,
            "Interface index",
            u64::from(ifindex),
            span_at(0, sll2_field::IFINDEX),
            "The kernel's number for the interface the packet used (see `ip link`).",
        ),
        uint(
            keys::sll::HATYPE,
            "Link-layer address type",
            u64::from(be16(bytes, sll2_field::HATYPE)),
            span_at(0, sll2_field::HATYPE),
            "The kind of interface (1 is Ethernet, 772 is loopback).",
        ),
        field(
            keys::sll::PKTTYPE,
            "Packet type",
            FieldValue::UInt(u64::from(pkttype)),
            format!("{} ({pkttype})", pkttype_name(pkttype)),
            span_at(0, sll2_field::PKTTYPE),
            "Whether the packet came in to this host or went out from it.",
        ),
        uint(
            keys::sll::HALEN,
            "Link-layer address length",
            halen as u64,
            span_at(0, sll2_field::HALEN),
            "How many bytes of the address field are used.",
        ),
        sll_address(
            keys::sll::SRC_ETH,
            keys::sll::SRC_OTHER,
            bytes,
            halen,
            sll2_field::ADDRESS,
        ),
    ];
    Layer {
        protocol: Protocol::LinuxSll2,
        source: 0,
        span: Span::new(0, sll2_field::LEN),
        payload: None,
        summary: format!("Linux cooked capture v2, interface {ifindex}, {}", pkttype_name(pkttype)),
        did: format!(
            "The kernel replaced the real link header with this summary (capture on \"any\"): interface {ifindex}, {}, payload {}.",
            pkttype_name(pkttype).to_lowercase(),
            ether_type_label(protocol)
        ),
        fields,
    }
}

pub(crate) fn null(family: u32, big_endian: bool) -> Layer {
    let name = match family {
        2 => "IP",
        10 | 24 | 28 | 30 => "IPv6",
        _ => "Unknown",
    };
    let order = if big_endian {
        "big-endian"
    } else {
        "little-endian"
    };
    Layer {
        protocol: Protocol::Null,
        source: 0,
        span: Span::new(0, null_field::LEN),
        payload: None,
        summary: format!("Null/Loopback, family {name} ({family})"),
        did: format!("Loopback needs no addresses: this 4-byte header ({order}) only says the payload is {name}."),
        fields: vec![field(
            keys::null::FAMILY,
            "Family",
            FieldValue::UInt(u64::from(family)),
            format!("{name} ({family})"),
            span_at(0, null_field::FAMILY),
            "The address family of the payload, in the capturing host's byte order.",
        )],
    }
}
