//! Layer 4 (and ICMP): TCP with its options, UDP, ICMP and ICMPv6.
//!
//! Headers are validated by etherparse; TCP options are walked here because
//! every option's byte range matters to the views. Checksums are verified
//! only when the whole segment was captured.

use etherparse::{Icmpv4Slice, Icmpv6Slice, TcpHeaderSlice, UdpHeaderSlice};

use crate::decode::checksum::{self, ChecksumStatus, Pseudo};
use crate::decode::{DecodeProblem, Decoded};
use crate::dissect::{Protocol, Severity, Span};

/// IP protocol numbers decoded at this layer.
pub mod ip_proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
}

/// Byte layout of a TCP header.
pub mod tcp_field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    /// Data offset (high 4 bits, in 32-bit words), 3 reserved bits and 9 flags.
    pub const OFFSET_FLAGS: Range<usize> = 12..14;
    pub const HDR_LEN_MASK: u64 = 0xF000;
    pub const FLAGS_MASK: u64 = 0x0FFF;
    pub const RES_MASK: u64 = 0x0E00;
    pub const AE_MASK: u64 = 0x0100;
    pub const CWR_MASK: u64 = 0x0080;
    pub const ECE_MASK: u64 = 0x0040;
    pub const URG_MASK: u64 = 0x0020;
    pub const ACK_MASK: u64 = 0x0010;
    pub const PSH_MASK: u64 = 0x0008;
    pub const RST_MASK: u64 = 0x0004;
    pub const SYN_MASK: u64 = 0x0002;
    pub const FIN_MASK: u64 = 0x0001;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
    pub const MIN_LEN: usize = URGENT.end;
    /// Options fill the header after the fixed part.
    pub const fn options(header_len: usize) -> Range<usize> {
        MIN_LEN..header_len
    }
}

/// Byte layout of a UDP header.
pub mod udp_field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
    pub const LEN: usize = CHECKSUM.end;
}

/// Byte layout of the common part of ICMP and ICMPv6 headers.
pub mod icmp_field {
    use std::ops::Range;
    pub const TYPE: Range<usize> = 0..1;
    pub const CODE: Range<usize> = 1..2;
    pub const CHECKSUM: Range<usize> = 2..4;
    /// Echo request and reply: identifier and sequence number.
    pub const IDENT: Range<usize> = 4..6;
    pub const SEQ: Range<usize> = 6..8;
}

/// TCP option kinds (IANA).
pub mod option_kind {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMP: u8 = 8;
}

/// One TCP option with the bytes it occupies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpOption {
    EndOfList {
        span: Span,
    },
    Nop {
        span: Span,
    },
    Mss {
        span: Span,
        value: u16,
    },
    WindowScale {
        span: Span,
        shift: u8,
    },
    SackPermitted {
        span: Span,
    },
    /// SACK blocks as (left edge, right edge) raw sequence numbers.
    Sack {
        span: Span,
        blocks: Vec<(u32, u32)>,
    },
    Timestamp {
        span: Span,
        tsval: u32,
        tsecr: u32,
    },
    Other {
        span: Span,
        kind: u8,
    },
    /// An option whose length is impossible or runs past the header.
    Malformed {
        span: Span,
        kind: u8,
    },
}

impl TcpOption {
    pub fn span(&self) -> Span {
        match self {
            TcpOption::EndOfList { span }
            | TcpOption::Nop { span }
            | TcpOption::Mss { span, .. }
            | TcpOption::WindowScale { span, .. }
            | TcpOption::SackPermitted { span }
            | TcpOption::Sack { span, .. }
            | TcpOption::Timestamp { span, .. }
            | TcpOption::Other { span, .. }
            | TcpOption::Malformed { span, .. } => *span,
        }
    }
}

/// A header's options, in order: held inline up to four (NOP, NOP and
/// timestamps is the common case), so most segments allocate nothing.
pub type TcpOptions = smallvec::SmallVec<[TcpOption; 4]>;

/// A TCP header, its options and where its payload lies.
#[derive(Clone, Debug)]
pub struct Tcp<'a> {
    /// The data source the header was read from (0 is the frame).
    pub source: usize,
    pub offset: usize,
    pub header: TcpHeaderSlice<'a>,
    pub options: TcpOptions,
    pub checksum: ChecksumStatus,
    pub payload: Span,
    /// Fewer payload bytes were captured than the IP length announces.
    pub payload_cut: bool,
}

impl Tcp<'_> {
    /// The raw 12-bit flags field (reserved bits, AE, CWR ... FIN).
    pub fn flags(&self) -> u16 {
        let bytes = self.header.slice();
        let raw = crate::decode::link::be16(bytes, tcp_field::OFFSET_FLAGS);
        raw & 0x0FFF
    }

    /// Payload bytes on the wire, including those not captured.
    pub fn payload_len(&self, ip_payload_len: usize) -> usize {
        ip_payload_len.saturating_sub(self.header.slice().len())
    }
}

/// A UDP header and its payload.
#[derive(Clone, Debug)]
pub struct Udp<'a> {
    pub source: usize,
    pub offset: usize,
    pub header: UdpHeaderSlice<'a>,
    pub checksum: ChecksumStatus,
    pub payload: Span,
}

/// An ICMP or ICMPv6 message.
#[derive(Clone, Debug)]
pub struct Icmp<'a> {
    pub source: usize,
    pub offset: usize,
    pub v6: bool,
    /// The whole message, header and body.
    pub bytes: &'a [u8],
    pub checksum: ChecksumStatus,
    /// For error messages (unreachable, time exceeded, ...): the start of the
    /// datagram that caused the error, decoded. Offsets in it count from
    /// [`ICMP_ERROR_HEADER_LEN`] bytes into the message.
    pub original: Option<Box<Decoded<'a>>>,
}

/// Error messages carry the original datagram after this many bytes.
pub const ICMP_ERROR_HEADER_LEN: usize = 8;

/// Whether an ICMP type carries the start of the datagram that caused it.
pub fn is_icmp_error(v6: bool, kind: u8) -> bool {
    if v6 {
        matches!(kind, 1..=4)
    } else {
        matches!(kind, 3 | 4 | 5 | 11 | 12)
    }
}

/// Decodes the datagram quoted in an ICMP error. Its problems are dropped:
/// the quote is cut short on purpose.
fn decode_original(quoted: &[u8]) -> Option<Box<Decoded<'_>>> {
    let mut decoded = crate::decode::decode_quoted(quoted);
    decoded.problems.clear();
    decoded.net.as_ref()?;
    Some(Box::new(decoded))
}

/// The transport-layer header of a frame.
#[derive(Clone, Debug)]
pub enum Transport<'a> {
    Tcp(Tcp<'a>),
    Udp(Udp<'a>),
    Icmp(Icmp<'a>),
}

impl Transport<'_> {
    pub fn protocol(&self) -> Protocol {
        match self {
            Transport::Tcp(_) => Protocol::Tcp,
            Transport::Udp(_) => Protocol::Udp,
            Transport::Icmp(icmp) if icmp.v6 => Protocol::Icmpv6,
            Transport::Icmp(_) => Protocol::Icmp,
        }
    }
}

/// What decoding an IP payload produced.
#[derive(Debug, Default)]
pub struct TransportResult<'a> {
    pub transport: Option<Transport<'a>>,
    /// Bytes after the transport header that no decoder here claims.
    pub rest: Option<Span>,
    pub problems: Vec<DecodeProblem>,
}

/// Decodes the IP payload at `payload` in the frame and stores the result in `decoded`.
pub fn decode(
    decoded: &mut Decoded<'_>,
    source: usize,
    protocol: u8,
    pseudo: Pseudo,
    payload: Span,
    cut: bool,
) {
    let result = decode_inner(
        decoded.data,
        source,
        protocol,
        pseudo,
        payload,
        cut,
        Depth {
            quotes: !decoded.quoted && !decoded.headers_only,
            options: !decoded.headers_only,
            checksums: !decoded.unchecked,
        },
    );
    decoded.transport = result.transport;
    if result.rest.is_some() {
        decoded.rest = result.rest;
    }
    decoded.problems.extend(result.problems);
}

/// Decodes the IP payload found at `payload` inside `bytes` (a frame or a
/// reassembled datagram, numbered `source`).
pub fn decode_in(
    bytes: &[u8],
    source: usize,
    protocol: u8,
    pseudo: Pseudo,
    payload: Span,
    cut: bool,
) -> TransportResult<'_> {
    decode_inner(bytes, source, protocol, pseudo, payload, cut, Depth::FULL)
}

/// How deep [`decode_inner`] goes below the transport headers.
#[derive(Clone, Copy)]
struct Depth {
    /// ICMP errors' quoted datagrams are decoded.
    quotes: bool,
    /// TCP options are parsed.
    options: bool,
    /// Transport checksums are verified.
    checksums: bool,
}

impl Depth {
    /// Everything decoded.
    const FULL: Depth = Depth {
        quotes: true,
        options: true,
        checksums: true,
    };
}

/// Like [`decode_in`], as deep as `depth` says.
fn decode_inner(
    bytes: &[u8],
    source: usize,
    protocol: u8,
    pseudo: Pseudo,
    payload: Span,
    cut: bool,
    depth: Depth,
) -> TransportResult<'_> {
    let Depth {
        quotes,
        options: parse_tcp_options,
        checksums,
    } = depth;
    // Without verification a checksum is left unverified, as when cut.
    let unverified = cut || !checksums;
    let mut result = TransportResult::default();
    let body = bytes.get(payload.start..payload.end).unwrap_or(&[]);
    let offset = payload.start;
    let malformed = |result: &mut TransportResult<'_>, proto: Protocol, why: String| {
        result.problems.push(DecodeProblem {
            protocol: proto,
            severity: Severity::Error,
            key: "_ws.malformed",
            message: format!("malformed {} header: {why}", proto.name()),
            span: Some(payload),
        });
        if !payload.is_empty() {
            result.rest = Some(payload);
        }
    };
    match protocol {
        ip_proto::TCP => match TcpHeaderSlice::from_slice(body) {
            Ok(header) => {
                let header_len = header.slice().len();
                let options = if parse_tcp_options {
                    parse_options(header.slice(), offset)
                } else {
                    TcpOptions::new()
                };
                for option in &options {
                    if let TcpOption::Malformed { span, kind } = option {
                        result.problems.push(DecodeProblem {
                            protocol: Protocol::Tcp,
                            severity: Severity::Error,
                            key: "tcp.option.malformed",
                            message: format!("option of kind {kind} has an impossible length"),
                            span: Some(*span),
                        });
                    }
                }
                let status = if unverified {
                    ChecksumStatus::Unverified
                } else {
                    checksum::verify_transport(pseudo, ip_proto::TCP, body, header.checksum())
                };
                push_checksum_problem(
                    &mut result,
                    Protocol::Tcp,
                    "tcp.checksum.bad",
                    status,
                    offset.saturating_add(tcp_field::CHECKSUM.start),
                );
                result.transport = Some(Transport::Tcp(Tcp {
                    source,
                    offset,
                    header,
                    options,
                    checksum: status,
                    payload: Span::new(offset.saturating_add(header_len), payload.end),
                    payload_cut: cut,
                }));
            }
            Err(err) => malformed(&mut result, Protocol::Tcp, err.to_string()),
        },
        ip_proto::UDP => match UdpHeaderSlice::from_slice(body) {
            Ok(header) => {
                let status = if header.checksum() == 0 && matches!(pseudo, Pseudo::V4 { .. }) {
                    ChecksumStatus::Absent
                } else if unverified {
                    ChecksumStatus::Unverified
                } else {
                    checksum::verify_transport(pseudo, ip_proto::UDP, body, header.checksum())
                };
                push_checksum_problem(
                    &mut result,
                    Protocol::Udp,
                    "udp.checksum.bad",
                    status,
                    offset.saturating_add(udp_field::CHECKSUM.start),
                );
                let length = usize::from(header.length());
                if length < udp_field::LEN || (!cut && length != body.len()) {
                    result.problems.push(DecodeProblem {
                        protocol: Protocol::Udp,
                        severity: Severity::Warning,
                        key: "udp.length.bad",
                        message: format!(
                            "length field says {length} bytes, the IP payload has {}",
                            body.len()
                        ),
                        span: Some(Span::new(
                            offset.saturating_add(udp_field::LENGTH.start),
                            offset.saturating_add(udp_field::LENGTH.end),
                        )),
                    });
                }
                result.transport = Some(Transport::Udp(Udp {
                    source,
                    offset,
                    header,
                    checksum: status,
                    payload: Span::new(offset.saturating_add(udp_field::LEN), payload.end),
                }));
            }
            Err(err) => malformed(&mut result, Protocol::Udp, err.to_string()),
        },
        ip_proto::ICMP | ip_proto::ICMPV6 => {
            let v6 = protocol == ip_proto::ICMPV6;
            let proto = if v6 { Protocol::Icmpv6 } else { Protocol::Icmp };
            let ok = if v6 {
                Icmpv6Slice::from_slice(body)
                    .map(|s| s.checksum())
                    .map_err(|e| e.to_string())
            } else {
                Icmpv4Slice::from_slice(body)
                    .map(|s| s.checksum())
                    .map_err(|e| e.to_string())
            };
            match ok {
                Ok(field) => {
                    let status = match (unverified, v6) {
                        (true, _) => ChecksumStatus::Unverified,
                        (false, false) => checksum::verify(body, field),
                        (false, true) => {
                            checksum::verify_transport(pseudo, ip_proto::ICMPV6, body, field)
                        }
                    };
                    let key = if v6 {
                        "icmpv6.checksum.bad"
                    } else {
                        "icmp.checksum.bad"
                    };
                    push_checksum_problem(
                        &mut result,
                        proto,
                        key,
                        status,
                        offset.saturating_add(icmp_field::CHECKSUM.start),
                    );
                    let kind = body.first().copied().unwrap_or(0);
                    let original = if quotes && is_icmp_error(v6, kind) {
                        body.get(ICMP_ERROR_HEADER_LEN..).and_then(decode_original)
                    } else {
                        None
                    };
                    result.transport = Some(Transport::Icmp(Icmp {
                        source,
                        offset,
                        v6,
                        bytes: body,
                        checksum: status,
                        original,
                    }));
                }
                Err(err) => malformed(&mut result, proto, err),
            }
        }
        _ => {
            if !payload.is_empty() {
                result.rest = Some(payload);
            }
        }
    }
    result
}

fn push_checksum_problem(
    result: &mut TransportResult<'_>,
    protocol: Protocol,
    key: &'static str,
    status: ChecksumStatus,
    field_start: usize,
) {
    if let ChecksumStatus::Bad { expected } = status {
        result.problems.push(DecodeProblem {
            protocol,
            severity: Severity::Error,
            key,
            message: format!("checksum is incorrect, should be 0x{expected:04x}"),
            span: Some(Span::at(field_start, 2)),
        });
    }
}

/// Walks the options of a TCP header whose bytes are `header`, located at
/// `offset` in its data source.
pub fn parse_options(header: &[u8], offset: usize) -> TcpOptions {
    let options = header.get(tcp_field::MIN_LEN..).unwrap_or(&[]);
    let base = offset.saturating_add(tcp_field::MIN_LEN);
    let mut out = TcpOptions::new();
    let mut i = 0;
    while let Some(&kind) = options.get(i) {
        let start = base.saturating_add(i);
        match kind {
            option_kind::EOL => {
                // Everything after the end of the list is padding.
                out.push(TcpOption::EndOfList {
                    span: Span::new(start, base.saturating_add(options.len())),
                });
                break;
            }
            option_kind::NOP => {
                out.push(TcpOption::Nop {
                    span: Span::at(start, 1),
                });
                i = i.saturating_add(1);
                continue;
            }
            _ => {}
        }
        let len = options
            .get(i.saturating_add(1))
            .map_or(0, |&len| usize::from(len));
        let Some(body) = options.get(i..i.saturating_add(len)).filter(|_| len >= 2) else {
            out.push(TcpOption::Malformed {
                span: Span::new(start, base.saturating_add(options.len())),
                kind,
            });
            break;
        };
        let span = Span::at(start, len);
        let be16 = |range| crate::decode::link::be16(body, range);
        let be32 = |range| crate::decode::link::be32(body, range);
        let sack = body.get(2..).unwrap_or(&[]).chunks_exact(8);
        let option = match (kind, len) {
            (option_kind::MSS, 4) => TcpOption::Mss {
                span,
                value: be16(2..4),
            },
            (option_kind::WINDOW_SCALE, 3) => TcpOption::WindowScale {
                span,
                shift: body.get(2).copied().unwrap_or(0),
            },
            (option_kind::SACK_PERMITTED, 2) => TcpOption::SackPermitted { span },
            (option_kind::SACK, _) if sack.len() > 0 && sack.remainder().is_empty() => {
                TcpOption::Sack {
                    span,
                    blocks: sack
                        .map(|block| {
                            (
                                crate::decode::link::be32(block, 0..4),
                                crate::decode::link::be32(block, 4..8),
                            )
                        })
                        .collect(),
                }
            }
            (option_kind::TIMESTAMP, 10) => TcpOption::Timestamp {
                span,
                tsval: be32(2..6),
                tsecr: be32(6..10),
            },
            (
                option_kind::MSS
                | option_kind::WINDOW_SCALE
                | option_kind::SACK_PERMITTED
                | option_kind::SACK
                | option_kind::TIMESTAMP,
                _,
            ) => TcpOption::Malformed { span, kind },
            _ => TcpOption::Other { span, kind },
        };
        out.push(option);
        i = i.saturating_add(len);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // A SYN from port 40000 to 8080, data offset 10 words (40 bytes):
    // MSS 65495, SACK permitted, timestamps, NOP, window scale 7.
    static SYN: [u8; 40] = [
        0x9c, 0x40, 0x1f, 0x90, // ports
        0x00, 0x00, 0x00, 0x01, // seq
        0x00, 0x00, 0x00, 0x00, // ack
        0xa0, 0x02, // data offset 10, SYN
        0xff, 0xd7, // window 65495
        0x00, 0x00, 0x00, 0x00, // checksum, urgent
        0x02, 0x04, 0xff, 0xd7, // MSS
        0x04, 0x02, // SACK permitted
        0x08, 0x0a, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, // timestamps
        0x01, // NOP
        0x03, 0x03, 0x07, // window scale 7
    ];

    fn v4() -> Pseudo {
        Pseudo::V4 {
            src: [10, 0, 0, 1],
            dst: [10, 0, 0, 2],
        }
    }

    #[test]
    fn tcp_options_have_values_and_spans() {
        let options = parse_options(&SYN, 100);
        assert_eq!(
            options.to_vec(),
            vec![
                TcpOption::Mss {
                    span: Span::new(120, 124),
                    value: 65495
                },
                TcpOption::SackPermitted {
                    span: Span::new(124, 126)
                },
                TcpOption::Timestamp {
                    span: Span::new(126, 136),
                    tsval: 16,
                    tsecr: 0
                },
                TcpOption::Nop {
                    span: Span::new(136, 137)
                },
                TcpOption::WindowScale {
                    span: Span::new(137, 140),
                    shift: 7
                },
            ]
        );
    }

    #[test]
    fn tcp_option_with_impossible_length_is_malformed() {
        let mut header = SYN;
        header[21] = 40; // MSS claims 40 bytes
        let options = parse_options(&header, 0);
        assert!(matches!(options[0], TcpOption::Malformed { kind: 2, .. }));
        header[21] = 1; // shorter than kind + length
        assert!(matches!(
            parse_options(&header, 0)[0],
            TcpOption::Malformed { .. }
        ));
    }

    #[test]
    fn tcp_header_decodes_with_flags_and_payload() {
        let result = decode_in(&SYN, 0, ip_proto::TCP, v4(), Span::new(0, 40), false);
        let Some(Transport::Tcp(tcp)) = result.transport else {
            panic!("no TCP")
        };
        assert_eq!(tcp.flags(), 0x002);
        assert_eq!(tcp.header.source_port(), 40000);
        assert!(tcp.payload.is_empty());
        // The checksum field is zero here: it is reported as bad.
        assert!(matches!(tcp.checksum, ChecksumStatus::Bad { .. }));
    }

    #[test]
    fn truncated_tcp_header_is_malformed_for_every_length() {
        for len in 0..SYN.len() {
            let result = decode_in(
                &SYN[..len],
                0,
                ip_proto::TCP,
                v4(),
                Span::new(0, len),
                false,
            );
            assert!(result.transport.is_none(), "len {len}");
            assert_eq!(result.problems.len(), 1);
            assert_eq!(result.problems[0].key, "_ws.malformed");
        }
    }

    #[test]
    fn tcp_data_offset_below_five_is_malformed() {
        let mut header = SYN;
        header[12] = 0x40;
        let result = decode_in(&header, 0, ip_proto::TCP, v4(), Span::new(0, 40), false);
        assert!(result.transport.is_none());
        assert!(result.problems[0].message.contains("TCP"));
    }

    #[test]
    fn udp_zero_checksum_over_ipv4_is_absent() {
        // Ports 53 -> 5353, length 9, checksum 0, one byte of payload.
        let udp = [0, 53, 0x14, 0xe9, 0, 9, 0, 0, 0xaa];
        let result = decode_in(&udp, 0, ip_proto::UDP, v4(), Span::new(0, 9), false);
        let Some(Transport::Udp(udp)) = result.transport else {
            panic!("no UDP")
        };
        assert_eq!(udp.checksum, ChecksumStatus::Absent);
        assert_eq!(udp.payload, Span::new(8, 9));
        assert!(result.problems.is_empty());
    }

    #[test]
    fn udp_length_mismatch_is_reported() {
        let udp = [0, 53, 0x14, 0xe9, 0, 20, 0, 0, 0xaa];
        let result = decode_in(&udp, 0, ip_proto::UDP, v4(), Span::new(0, 9), false);
        assert_eq!(result.problems[0].key, "udp.length.bad");
    }

    #[test]
    fn icmp_echo_checksum_verified() {
        // Echo request, id 1, seq 1, checksum computed over the message.
        let mut icmp = [8u8, 0, 0, 0, 0, 1, 0, 1, b'h', b'i'];
        let sum = !icmp
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .fold(0u32, |acc, w| {
                let s = acc + w;
                (s & 0xffff) + (s >> 16)
            }) as u16;
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        let result = decode_in(&icmp, 0, ip_proto::ICMP, v4(), Span::new(0, 10), false);
        let Some(Transport::Icmp(message)) = result.transport else {
            panic!("no ICMP")
        };
        assert_eq!(message.checksum, ChecksumStatus::Good);
        assert_eq!(
            decode_in(&icmp[..3], 0, ip_proto::ICMP, v4(), Span::new(0, 3), false)
                .problems
                .len(),
            1
        );
    }

    #[test]
    fn unknown_protocol_leaves_rest() {
        let result = decode_in(&[1, 2, 3], 0, 250, v4(), Span::new(0, 3), false);
        assert!(result.transport.is_none());
        assert_eq!(result.rest, Some(Span::new(0, 3)));
    }
}
