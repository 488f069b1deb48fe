//! Layers 2 to 4: turns a captured frame into borrowed views of its headers.
//!
//! [`decode_frame`] walks the frame with an explicit cursor, one header at a
//! time, using etherparse's header slices to validate each one. It is total:
//! whatever decodes is kept, and the first thing that does not becomes a
//! [`DecodeProblem`] with its layer and byte range. Nothing here allocates on
//! the common path or copies packet bytes; the dissection builder turns these
//! views into the owned model.
//!
//! Byte offsets are absolute within the data source being decoded (the frame,
//! or a reassembled IPv4 datagram for transport headers).

#![deny(clippy::arithmetic_side_effects)]

pub mod checksum;
pub mod defrag;
pub mod link;
pub mod network;
pub mod transport;

use crate::dissect::{Protocol, Severity, Span};
use crate::source::RawFrame;

pub use checksum::ChecksumStatus;
pub use link::{Link, Vlan};
pub use network::{Arp, Ipv4, Ipv6, Ipv6Ext, Net};
pub use transport::{Icmp, Tcp, TcpOption, Transport, Udp};

/// Something that stopped or troubled decoding, located in the frame.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodeProblem {
    /// The protocol whose header had the problem.
    pub protocol: Protocol,
    pub severity: Severity,
    /// A stable key naming the kind of problem.
    pub key: &'static str,
    pub message: String,
    pub span: Option<Span>,
}

/// A frame's headers from layer 2 to layer 4, as borrowed views.
#[derive(Clone, Debug)]
pub struct Decoded<'a> {
    /// The captured bytes.
    pub data: &'a [u8],
    pub link: Link<'a>,
    /// VLAN tags, outermost first.
    pub vlans: Vec<Vlan<'a>>,
    pub net: Option<Net<'a>>,
    pub transport: Option<Transport<'a>>,
    /// Link-layer padding or trailer after the network packet (Ethernet minimum size).
    pub trailer: Option<Span>,
    /// Captured bytes left after the highest decoded header, if any.
    pub rest: Option<Span>,
    /// The IPv4 datagram this fragment completed, reassembled (data source 1).
    pub reassembled: Option<ReassembledIp<'a>>,
    pub problems: Vec<DecodeProblem>,
    /// These bytes are a datagram quoted inside an ICMP error: quotes in
    /// them are not decoded again, so nesting cannot recurse.
    pub quoted: bool,
    /// Only the headers were decoded ([`decode_headers`]): TCP options,
    /// transport checksums and ICMP errors' quoted datagrams were not.
    pub headers_only: bool,
    /// Transport checksums were not verified ([`decode_unchecked`]).
    pub unchecked: bool,
}

/// An IPv4 datagram rebuilt from fragments; its transport header is decoded
/// from these bytes, which are data source 1 of the frame's dissection.
#[derive(Clone, Debug)]
pub struct ReassembledIp<'a> {
    pub bytes: &'a [u8],
    /// The frames whose fragments made it, ascending.
    pub frames: Vec<u64>,
}

impl<'a> Decoded<'a> {
    fn new(data: &'a [u8], link: Link<'a>) -> Decoded<'a> {
        Decoded {
            data,
            link,
            vlans: Vec::new(),
            net: None,
            transport: None,
            trailer: None,
            rest: None,
            reassembled: None,
            problems: Vec::new(),
            quoted: false,
            headers_only: false,
            unchecked: false,
        }
    }

    /// The source and destination of the IPv4 or IPv6 packet, if the frame has one.
    pub fn ip_addresses(&self) -> Option<(std::net::IpAddr, std::net::IpAddr)> {
        match &self.net {
            Some(Net::Ipv4(ip)) => Some((
                ip.header.source_addr().into(),
                ip.header.destination_addr().into(),
            )),
            Some(Net::Ipv6(ip)) => Some((
                ip.header.source_addr().into(),
                ip.header.destination_addr().into(),
            )),
            _ => None,
        }
    }

    pub(crate) fn problem(
        &mut self,
        protocol: Protocol,
        severity: Severity,
        key: &'static str,
        message: String,
        span: Option<Span>,
    ) {
        self.problems.push(DecodeProblem {
            protocol,
            severity,
            key,
            message,
            span,
        });
    }
}

impl<'a> Decoded<'a> {
    /// Decodes the transport header of a datagram this frame completed from
    /// its reassembled payload `bytes` (data source 1).
    pub fn attach_reassembled(&mut self, bytes: &'a [u8], frames: Vec<u64>) {
        let Some(Net::Ipv4(ip)) = &self.net else {
            return;
        };
        let pseudo = checksum::Pseudo::V4 {
            src: ip.header.source(),
            dst: ip.header.destination(),
        };
        let protocol = ip.header.protocol().0;
        let result =
            transport::decode_in(bytes, 1, protocol, pseudo, Span::new(0, bytes.len()), false);
        self.transport = result.transport;
        // Problems found in source 1 carry no frame span.
        self.problems
            .extend(result.problems.into_iter().map(|problem| DecodeProblem {
                span: None,
                ..problem
            }));
        self.rest = None;
        self.reassembled = Some(ReassembledIp { bytes, frames });
    }
}

/// Decodes one frame's link, network and transport headers.
pub fn decode_frame<'a>(frame: &RawFrame<'a>) -> Decoded<'a> {
    decode_with(frame, false, false, false)
}

/// Decodes a frame as [`decode_frame`] does but leaves transport checksums
/// unverified: for the passes that build no model, where a bad checksum
/// would be found and never shown (it changes nothing else: reassembly and
/// the decoders above take the segment either way). Summing every payload
/// byte is a few percent of such a pass.
pub fn decode_unchecked<'a>(frame: &RawFrame<'a>) -> Decoded<'a> {
    decode_with(frame, false, false, true)
}

/// Decodes a frame's headers only, to learn its addresses and protocols at
/// the least cost: no TCP options, no transport checksums, no quoted
/// datagrams (see [`Decoded::headers_only`]).
pub fn decode_headers<'a>(frame: &RawFrame<'a>) -> Decoded<'a> {
    decode_with(frame, false, true, true)
}

/// Decodes the start of a datagram quoted in an ICMP error (raw IP bytes).
pub(crate) fn decode_quoted(data: &[u8]) -> Decoded<'_> {
    let frame = RawFrame {
        number: crate::dissect::FrameNumber(0),
        ts: crate::dissect::Timestamp::default(),
        orig_len: usize::MAX,
        link_type: crate::source::link_type::RAW,
        data,
    };
    decode_with(&frame, true, false, false)
}

fn decode_with<'a>(
    frame: &RawFrame<'a>,
    quoted: bool,
    headers_only: bool,
    unchecked: bool,
) -> Decoded<'a> {
    let data = frame.data;
    let (link, next) = link::decode(frame.link_type, data);
    let mut decoded = Decoded::new(data, link);
    decoded.quoted = quoted;
    decoded.headers_only = headers_only;
    decoded.unchecked = unchecked;
    if !quoted && frame.orig_len < data.len() {
        // A capture file can claim anything; the bytes captured are what is decoded.
        decoded.problem(
            Protocol::Physical,
            Severity::Warning,
            crate::dissect::keys::frame::CAP_LEN_TOO_LONG,
            format!(
                "{} bytes were captured of a frame said to be {} bytes on the wire; the captured bytes are decoded",
                data.len(),
                frame.orig_len
            ),
            None,
        );
    }
    let Some((mut ether_type, mut offset)) = next else {
        if let Link::Truncated { needed, .. } = decoded.link {
            decoded.problem(
                decoded.link.protocol(),
                Severity::Error,
                "_ws.malformed",
                format!(
                    "link header needs {needed} bytes, only {} captured",
                    data.len()
                ),
                Some(Span::new(0, data.len())),
            );
        } else if data.is_empty() {
            decoded.rest = None;
        } else {
            decoded.rest = Some(Span::new(decoded.link.header_len(), data.len()));
        }
        return decoded;
    };
    // VLAN tags (802.1Q, 802.1ad, and the old 0x9100 QinQ) stack before the payload type.
    while link::is_vlan(ether_type) {
        match link::decode_vlan(data, offset, ether_type) {
            Ok(vlan) => {
                ether_type = vlan.header.ether_type().0;
                // A decoded tag lies inside `data`, so the offset stays within its length.
                offset = offset.saturating_add(link::vlan_field::LEN);
                decoded.vlans.push(vlan);
            }
            Err(needed) => {
                decoded.problem(
                    Protocol::Vlan,
                    Severity::Error,
                    "_ws.malformed",
                    format!(
                        "VLAN tag needs {needed} bytes, only {} left",
                        data.len().saturating_sub(offset)
                    ),
                    Some(Span::new(offset, data.len())),
                );
                return decoded;
            }
        }
    }
    network::decode(&mut decoded, ether_type, offset, frame.orig_len);
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{FrameNumber, Timestamp};

    fn raw(data: &[u8], orig_len: usize) -> RawFrame<'_> {
        RawFrame {
            number: FrameNumber(1),
            ts: Timestamp { secs: 0, nanos: 0 },
            orig_len,
            link_type: 1,
            data,
        }
    }

    #[test]
    fn more_bytes_captured_than_on_the_wire_is_a_problem_and_the_bytes_still_decode() {
        // Ethernet II: destination, source, then EtherType 0x88b5 (local experimental).
        let frame = [
            0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5, 0xde, 0xad,
        ];
        let decoded = decode_frame(&raw(&frame, 4));
        let keys: Vec<&str> = decoded.problems.iter().map(|p| p.key).collect();
        assert_eq!(keys, [crate::dissect::keys::frame::CAP_LEN_TOO_LONG]);
        assert!(matches!(decoded.link, Link::Ethernet(_)));
        let honest = decode_frame(&raw(&frame, frame.len()));
        assert!(honest.problems.is_empty());
    }
}
