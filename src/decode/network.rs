//! Layer 3: IPv4 (options, header checksum, fragments), IPv6 with extension
//! headers, and ARP.
//!
//! The IP length field decides where the payload ends. When fewer bytes were
//! captured than it announces, the payload is cut (snaplen) and reported;
//! when more were captured, the extra bytes are link-layer padding.

use etherparse::{IpNumber, Ipv4HeaderSlice, Ipv6HeaderSlice};

use crate::decode::checksum::{self, ChecksumStatus, Pseudo};
use crate::decode::link::{be16, be32, ether_type};
use crate::decode::{transport, Decoded};
use crate::dissect::{Protocol, Severity, Span};

/// Byte layout of an IPv4 header.
pub mod ipv4_field {
    use std::ops::Range;
    /// Version (high nibble) and header length in 32-bit words (low nibble).
    pub const VERSION_IHL: Range<usize> = 0..1;
    pub const VERSION_MASK: u64 = 0xF0;
    pub const IHL_MASK: u64 = 0x0F;
    /// DSCP (6 bits) and ECN (2 bits).
    pub const DSFIELD: Range<usize> = 1..2;
    pub const DSCP_MASK: u64 = 0xFC;
    pub const ECN_MASK: u64 = 0x03;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const IDENTIFICATION: Range<usize> = 4..6;
    /// Three flag bits and the 13-bit fragment offset (in 8-byte units).
    pub const FLAGS_FRAGMENT: Range<usize> = 6..8;
    pub const FLAGS_MASK: u64 = 0xE000;
    pub const RB_MASK: u64 = 0x8000;
    pub const DF_MASK: u64 = 0x4000;
    pub const MF_MASK: u64 = 0x2000;
    pub const FRAGMENT_MASK: u64 = 0x1FFF;
    pub const TTL: Range<usize> = 8..9;
    pub const PROTOCOL: Range<usize> = 9..10;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SOURCE: Range<usize> = 12..16;
    pub const DESTINATION: Range<usize> = 16..20;
    pub const MIN_LEN: usize = DESTINATION.end;
    /// Options fill the header after the fixed part, up to its length.
    pub const fn options(header_len: usize) -> Range<usize> {
        MIN_LEN..header_len
    }
}

/// Byte layout of an IPv6 header.
pub mod ipv6_field {
    use std::ops::Range;
    /// Version (4 bits), traffic class (8 bits) and flow label (20 bits).
    pub const VERSION_CLASS_FLOW: Range<usize> = 0..4;
    pub const VERSION_MASK: u64 = 0xF000_0000;
    pub const TCLASS_MASK: u64 = 0x0FF0_0000;
    pub const FLOW_MASK: u64 = 0x000F_FFFF;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: Range<usize> = 6..7;
    pub const HOP_LIMIT: Range<usize> = 7..8;
    pub const SOURCE: Range<usize> = 8..24;
    pub const DESTINATION: Range<usize> = 24..40;
    pub const LEN: usize = DESTINATION.end;
}

/// Byte layout of an ARP packet for Ethernet and IPv4 (the usual case).
pub mod arp_field {
    use std::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: Range<usize> = 4..5;
    pub const PLEN: Range<usize> = 5..6;
    pub const OPER: Range<usize> = 6..8;
    pub const ADDRESSES: usize = OPER.end;
}

/// An IPv4 header and where its payload lies.
#[derive(Clone, Debug)]
pub struct Ipv4<'a> {
    pub offset: usize,
    pub header: Ipv4HeaderSlice<'a>,
    pub checksum: ChecksumStatus,
    /// The payload's bytes in the frame, limited to what was captured.
    pub payload: Span,
    /// Fewer bytes were captured than the total length announces.
    pub payload_cut: bool,
}

impl Ipv4<'_> {
    /// Whether this packet is one piece of a fragmented datagram.
    pub fn is_fragment(&self) -> bool {
        self.header.more_fragments() || self.header.fragments_offset().value() != 0
    }
}

/// One IPv6 extension header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Ext {
    /// The IP protocol number that announced this header.
    pub kind: u8,
    /// The protocol number of the header after it.
    pub next_header: u8,
    pub span: Span,
    /// For a fragment header: identification, offset in bytes, more fragments.
    pub fragment: Option<(u32, u32, bool)>,
}

/// An IPv6 header, its extension headers and where the payload lies.
#[derive(Clone, Debug)]
pub struct Ipv6<'a> {
    pub offset: usize,
    pub header: Ipv6HeaderSlice<'a>,
    pub exts: Vec<Ipv6Ext>,
    /// The upper-layer protocol after the extension headers.
    pub upper: u8,
    pub payload: Span,
    pub payload_cut: bool,
}

/// An ARP packet.
#[derive(Clone, Debug)]
pub struct Arp<'a> {
    pub offset: usize,
    /// The whole packet, sized by its own address lengths.
    pub bytes: &'a [u8],
}

/// The network-layer header of a frame.
#[derive(Clone, Debug)]
pub enum Net<'a> {
    Ipv4(Ipv4<'a>),
    Ipv6(Ipv6<'a>),
    Arp(Arp<'a>),
}

impl Net<'_> {
    pub fn protocol(&self) -> Protocol {
        match self {
            Net::Ipv4(_) => Protocol::Ipv4,
            Net::Ipv6(_) => Protocol::Ipv6,
            Net::Arp(_) => Protocol::Arp,
        }
    }
}

/// Decodes the network layer starting at `offset` and, below it, the transport layer.
pub fn decode(decoded: &mut Decoded<'_>, ether_type: u16, offset: usize, orig_len: usize) {
    let data = decoded.data;
    let rest = data.get(offset..).unwrap_or(&[]);
    match ether_type {
        ether_type::IPV4 => decode_ipv4(decoded, offset, orig_len),
        ether_type::IPV6 => decode_ipv6(decoded, offset, orig_len),
        ether_type::ARP => match etherparse::ArpPacketSlice::from_slice(rest) {
            Ok(arp) => {
                let len = arp.slice().len();
                decoded.net = Some(Net::Arp(Arp {
                    offset,
                    bytes: arp.slice(),
                }));
                set_trailer(decoded, offset.saturating_add(len));
            }
            Err(err) => malformed(decoded, Protocol::Arp, offset, &err.to_string()),
        },
        _ => {
            if !rest.is_empty() {
                decoded.rest = Some(Span::new(offset, data.len()));
            }
        }
    }
}

/// Records bytes after the network packet as a link-layer trailer (padding).
fn set_trailer(decoded: &mut Decoded<'_>, end: usize) {
    if end < decoded.data.len() {
        decoded.trailer = Some(Span::new(end, decoded.data.len()));
    }
}

fn malformed(decoded: &mut Decoded<'_>, protocol: Protocol, offset: usize, why: &str) {
    let end = decoded.data.len();
    decoded.problem(
        protocol,
        Severity::Error,
        "_ws.malformed",
        format!("malformed {} header: {why}", protocol.name()),
        Some(Span::new(offset, end)),
    );
    if offset < end {
        decoded.rest = Some(Span::new(offset, end));
    }
}

/// Works out where an IP payload ends from the length field, the captured
/// bytes and the wire length, reporting cuts. Returns the end and whether it
/// was cut.
fn payload_end(
    decoded: &mut Decoded<'_>,
    protocol: Protocol,
    start: usize,
    announced_end: usize,
    orig_len: usize,
    len_field: Span,
) -> (usize, bool) {
    let captured = decoded.data.len();
    if announced_end <= captured {
        return (announced_end, false);
    }
    let missing = announced_end.saturating_sub(captured);
    if orig_len >= announced_end {
        decoded.problem(
            protocol,
            Severity::Note,
            "_ws.snaplen_cut",
            format!("{missing} bytes of this packet were not captured (snapshot length)"),
            Some(Span::new(start, captured)),
        );
    } else {
        decoded.problem(
            protocol,
            Severity::Error,
            "ip.len.beyond_frame",
            format!(
                "the length field announces {missing} more bytes than the frame had on the wire"
            ),
            Some(len_field),
        );
    }
    (captured, true)
}

fn decode_ipv4(decoded: &mut Decoded<'_>, offset: usize, orig_len: usize) {
    let data = decoded.data;
    let rest = data.get(offset..).unwrap_or(&[]);
    let header = match Ipv4HeaderSlice::from_slice(rest) {
        Ok(header) => header,
        Err(err) => return malformed(decoded, Protocol::Ipv4, offset, &err.to_string()),
    };
    let header_len = header.slice().len();
    let checksum = checksum::verify(header.slice(), header.header_checksum());
    if let ChecksumStatus::Bad { expected } = checksum {
        decoded.problem(
            Protocol::Ipv4,
            Severity::Error,
            "ip.checksum.bad",
            format!(
                "header checksum 0x{:04x} is incorrect, should be 0x{expected:04x}",
                header.header_checksum()
            ),
            Some(Span::new(
                offset.saturating_add(ipv4_field::CHECKSUM.start),
                offset.saturating_add(ipv4_field::CHECKSUM.end),
            )),
        );
    }
    let total_len = usize::from(header.total_len());
    let len_span = Span::new(
        offset.saturating_add(ipv4_field::TOTAL_LEN.start),
        offset.saturating_add(ipv4_field::TOTAL_LEN.end),
    );
    let announced_end = if total_len == 0 {
        // Segmentation offload hands the capture super-packets with a zero length.
        decoded.problem(
            Protocol::Ipv4,
            Severity::Note,
            "ip.len.zero",
            "total length is 0: a packet built by segmentation offload; the captured length is used".to_string(),
            Some(len_span),
        );
        data.len()
    } else if total_len < header_len {
        decoded.problem(
            Protocol::Ipv4,
            Severity::Error,
            "ip.len.too_small",
            format!("total length {total_len} is smaller than the header length {header_len}"),
            Some(len_span),
        );
        offset.saturating_add(header_len)
    } else {
        offset.saturating_add(total_len)
    };
    let start = offset.saturating_add(header_len);
    let (end, cut) = payload_end(
        decoded,
        Protocol::Ipv4,
        offset,
        announced_end,
        orig_len,
        len_span,
    );
    set_trailer(decoded, end);
    let ip = Ipv4 {
        offset,
        header,
        checksum,
        payload: Span::new(start, end),
        payload_cut: cut,
    };
    let fragment = ip.is_fragment();
    let protocol = header.protocol().0;
    let payload = ip.payload;
    decoded.net = Some(Net::Ipv4(ip));
    if fragment {
        decoded.problem(
            Protocol::Ipv4,
            Severity::Note,
            "ip.fragment",
            format!(
                "fragment of datagram 0x{:04x} at offset {} bytes{}",
                header.identification(),
                u32::from(header.fragments_offset().value()) * 8,
                if header.more_fragments() {
                    ", more fragments follow"
                } else {
                    ", the last one"
                }
            ),
            None,
        );
        if !payload.is_empty() {
            decoded.rest = Some(payload);
        }
        return;
    }
    let pseudo = Pseudo::V4 {
        src: header.source(),
        dst: header.destination(),
    };
    transport::decode(decoded, 0, protocol, pseudo, payload, cut);
}

fn decode_ipv6(decoded: &mut Decoded<'_>, offset: usize, orig_len: usize) {
    let data = decoded.data;
    let rest = data.get(offset..).unwrap_or(&[]);
    let header = match Ipv6HeaderSlice::from_slice(rest) {
        Ok(header) => header,
        Err(err) => return malformed(decoded, Protocol::Ipv6, offset, &err.to_string()),
    };
    let start = offset.saturating_add(ipv6_field::LEN);
    let len_span = Span::new(
        offset.saturating_add(ipv6_field::PAYLOAD_LEN.start),
        offset.saturating_add(ipv6_field::PAYLOAD_LEN.end),
    );
    let payload_len = usize::from(header.payload_length());
    let announced_end = if payload_len == 0 && data.len() > start {
        decoded.problem(
            Protocol::Ipv6,
            Severity::Note,
            "ipv6.plen.zero",
            "payload length is 0 (a jumbogram or offload super-packet); the captured length is used".to_string(),
            Some(len_span),
        );
        data.len()
    } else {
        start.saturating_add(payload_len)
    };
    let (end, cut) = payload_end(
        decoded,
        Protocol::Ipv6,
        offset,
        announced_end,
        orig_len,
        len_span,
    );
    set_trailer(decoded, end);
    let body = data.get(start..end).unwrap_or(&[]);
    // Extension headers are walked here rather than with etherparse's
    // extension iterator, which reads past the buffer when a second
    // Hop-by-Hop header follows the first (found by fuzzing).
    let walk = walk_ipv6_extensions(header.next_header().0, body, start);
    let (exts, upper, cursor, fragmented, ext_err) =
        (walk.exts, walk.upper, walk.end, walk.fragmented, walk.error);
    let payload = Span::new(cursor, end);
    let ip = Ipv6 {
        offset,
        header,
        exts,
        upper,
        payload,
        payload_cut: cut,
    };
    decoded.net = Some(Net::Ipv6(ip));
    if let Some(err) = ext_err {
        return malformed(decoded, Protocol::Ipv6, cursor, &err);
    }
    if fragmented {
        decoded.problem(
            Protocol::Ipv6,
            Severity::Note,
            "ipv6.fragment",
            "fragment of a larger IPv6 packet; reassembly of IPv6 fragments is not supported"
                .to_string(),
            None,
        );
        if !payload.is_empty() {
            decoded.rest = Some(payload);
        }
        return;
    }
    let pseudo = Pseudo::V6 {
        src: header.source(),
        dst: header.destination(),
    };
    transport::decode(decoded, 0, upper, pseudo, payload, cut);
}

/// IPv6 extension headers walked from the bytes after the fixed header.
struct ExtWalk {
    exts: Vec<Ipv6Ext>,
    /// The protocol after the last extension header.
    upper: u8,
    /// Where that protocol's bytes start.
    end: usize,
    fragmented: bool,
    error: Option<String>,
}

/// The most extension headers read before giving up (RFC 8200 expects few).
const MAX_IPV6_EXTENSIONS: usize = 16;

/// Walks IPv6 extension headers in `body` (which starts at `start` in the
/// frame), beginning with protocol number `first`.
fn walk_ipv6_extensions(first: u8, body: &[u8], start: usize) -> ExtWalk {
    let mut walk = ExtWalk {
        exts: Vec::new(),
        upper: first,
        end: start,
        fragmented: false,
        error: None,
    };
    let mut at = 0usize;
    let mut kind = first;
    while walk.exts.len() < MAX_IPV6_EXTENSIONS {
        let rest = body.get(at..).unwrap_or(&[]);
        let len = match kind {
            // Hop-by-Hop, Routing, Destination Options: length in 8-byte units, plus one.
            0 | 43 | 60 => rest
                .get(1)
                .map(|&units| (usize::from(units).saturating_add(1)).saturating_mul(8)),
            // Fragment: always 8 bytes.
            44 => Some(8),
            // Authentication Header: length in 4-byte units, plus two.
            51 => rest
                .get(1)
                .map(|&units| (usize::from(units).saturating_add(2)).saturating_mul(4)),
            _ => break,
        };
        if kind == 0 && !walk.exts.is_empty() {
            walk.error =
                Some("a Hop-by-Hop Options header must come first (RFC 8200 §4.1)".to_string());
            break;
        }
        let Some(bytes) = len.and_then(|len| rest.get(..len)) else {
            walk.error = Some(format!(
                "extension header of type {kind} needs {} bytes, only {} left",
                len.unwrap_or(2),
                rest.len()
            ));
            break;
        };
        let next = bytes.first().copied().unwrap_or(59);
        let fragment = (kind == 44).then(|| {
            let word = be16(bytes, 2..4);
            // The offset is in 8-byte units above the three flag bits.
            let offset = u32::from(word & 0xFFF8);
            let more = word & 1 == 1;
            (be32(bytes, 4..8), offset, more)
        });
        if let Some((_, offset, more)) = fragment {
            walk.fragmented |= more || offset != 0;
        }
        walk.exts.push(Ipv6Ext {
            kind,
            next_header: next,
            span: Span::at(start.saturating_add(at), bytes.len()),
            fragment,
        });
        at = at.saturating_add(bytes.len());
        kind = next;
    }
    walk.upper = kind;
    walk.end = start.saturating_add(at);
    walk
}

/// A name for well-known IP protocol numbers.
pub fn ip_protocol_name(value: u8) -> Option<&'static str> {
    IpNumber(value).keyword_str()
}
