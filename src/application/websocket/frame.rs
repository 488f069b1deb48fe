//! The WebSocket frame header (RFC 6455 §5.2): parsing, encoding and the byte layout of its fields.
//!
//! ```text
//!  byte 0          byte 1          bytes 2..      then           then
//! +-+-+-+-+-------+-+-------------+--------------+--------------+-------------
//! |F|R|R|R| opcode|M| payload len | extended len | masking key  | payload ...
//! |I|S|S|S|  (4)  |A|     (7)     | 0, 2 or 8 B  |  0 or 4 B    |
//! |N|V|V|V|       |S|             | (126 -> 16b, |              |
//! | |1|2|3|       |K|             |  127 -> 64b) |              |
//! ```
//!
//! [`field`] is the single source of offsets: the parser, the encoder and the views that highlight
//! each field all read it.
//! [`FrameHeader::parse_lax`] describes any header, however broken; [`FrameHeader::parse`] also
//! rejects headers that break a rule which needs nothing but the header itself.

use std::fmt;
use std::ops::Range;

use thiserror::Error;

use crate::application::websocket::opcode::OpCode;

/// How the payload length is encoded (§5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LengthFormat {
    /// The 7-bit field holds the length itself (0-125).
    U7,
    /// The 7-bit field is 126 and a 16-bit big-endian length follows.
    U16,
    /// The 7-bit field is 127 and a 64-bit big-endian length follows.
    U64,
}

/// Named byte ranges and bit masks of the header, relative to the first byte of the frame.
pub mod field {
    use std::ops::Range;

    use super::LengthFormat;

    /// A byte range relative to the start of the frame.
    pub type Field = Range<usize>;

    /// Byte 0: FIN, RSV1-3 and the opcode.
    pub const FLAGS_OPCODE: Field = 0..1;
    /// Byte 1: MASK and the 7-bit payload length.
    pub const MASK_LEN: Field = 1..2;
    /// Where the extended payload length starts, when there is one.
    pub const EXTENDED_LEN_START: usize = 2;

    /// Byte 0: the FIN bit (final fragment).
    pub const FIN: u8 = 0x80;
    /// Byte 0: RSV1 (permessage-deflate's "compressed" bit when negotiated).
    pub const RSV1: u8 = 0x40;
    /// Byte 0: RSV2.
    pub const RSV2: u8 = 0x20;
    /// Byte 0: RSV3.
    pub const RSV3: u8 = 0x10;
    /// Byte 0: all three reserved bits.
    pub const RSV: u8 = RSV1 | RSV2 | RSV3;
    /// Byte 0: the opcode.
    pub const OPCODE: u8 = 0x0F;
    /// Byte 1: the MASK bit.
    pub const MASK: u8 = 0x80;
    /// Byte 1: the 7-bit payload length.
    pub const LEN7: u8 = 0x7F;

    /// The 7-bit length value that announces a 16-bit extended length.
    pub const LEN7_U16: u8 = 126;
    /// The 7-bit length value that announces a 64-bit extended length.
    pub const LEN7_U64: u8 = 127;
    /// The largest length the 7-bit field holds by itself.
    pub const LEN7_MAX: u64 = 125;
    /// The length of the masking key.
    pub const MASKING_KEY_LEN: usize = 4;
    /// The shortest header: two bytes.
    pub const MIN_HEADER_LEN: usize = 2;
    /// The longest header: two bytes, a 64-bit length and a masking key.
    pub const MAX_HEADER_LEN: usize = 14;

    /// The bytes of the extended payload length (empty for [`LengthFormat::U7`]).
    pub const fn extended_len(format: LengthFormat) -> Field {
        EXTENDED_LEN_START..EXTENDED_LEN_START.saturating_add(format.extended_len())
    }

    /// The bytes of the masking key (empty when the frame is not masked).
    pub const fn masking_key(format: LengthFormat, masked: bool) -> Field {
        let start = extended_len(format).end;
        if masked {
            start..start.saturating_add(MASKING_KEY_LEN)
        } else {
            start..start
        }
    }

    /// The length of the whole header, which is where the payload starts.
    pub const fn header_len(format: LengthFormat, masked: bool) -> usize {
        masking_key(format, masked).end
    }
}

/// The byte layout of one parsed header, relative to the start of its frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Byte 0 (FIN, RSV1-3, opcode; bits in [`field`]).
    pub flags_opcode: Range<usize>,
    /// Byte 1 (MASK, 7-bit length; bits in [`field`]).
    pub mask_len: Range<usize>,
    /// The extended payload length, when the 7-bit field is 126 or 127.
    pub extended_len: Option<Range<usize>>,
    /// The masking key, when the MASK bit is set.
    pub masking_key: Option<Range<usize>>,
    /// The length of the header; the payload starts here.
    pub header_len: usize,
}

/// A header rule that can be checked from the header alone.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The opcode is one that RFC 6455 leaves unassigned (§5.2).
    #[error("reserved opcode 0x{opcode:X} (RFC 6455 §5.2)")]
    ReservedOpcode {
        /// The four-bit opcode value.
        opcode: u8,
    },
    /// A control frame announced more than 125 payload bytes (§5.5).
    #[error("control frame payload of {payload_len} bytes exceeds 125 (RFC 6455 §5.5)")]
    ControlFrameTooLong {
        /// The announced payload length.
        payload_len: u64,
    },
    /// A control frame had FIN clear; control frames must not be fragmented (§5.5).
    #[error("control frame with FIN clear: control frames must not be fragmented (RFC 6455 §5.5)")]
    FragmentedControlFrame {
        /// The four-bit opcode value.
        opcode: u8,
    },
    /// The length used a longer form than needed; §5.2 demands the minimal number of bytes.
    #[error("payload length {payload_len} encoded in the {format} form instead of the shortest (RFC 6455 §5.2)")]
    NonMinimalLength {
        /// The announced payload length.
        payload_len: u64,
        /// The form that was used.
        format: LengthFormat,
    },
    /// The most significant bit of a 64-bit length was set; §5.2 requires it to be 0.
    #[error(
        "64-bit payload length {payload_len} has its most significant bit set (RFC 6455 §5.2)"
    )]
    Length64MsbSet {
        /// The announced length, most significant bit included.
        payload_len: u64,
    },
}

/// A decoded frame header.
///
/// The fields describe the wire as it is: lengths are never truncated and reserved values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1 (used by permessage-deflate to mark a compressed message).
    pub rsv1: bool,
    /// RSV2.
    pub rsv2: bool,
    /// RSV3.
    pub rsv3: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present exactly when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length, as announced (the full 64 bits for the 64-bit form).
    pub payload_len: u64,
    /// Which length encoding was used.
    pub length_format: LengthFormat,
}

impl LengthFormat {
    /// The number of extended length bytes after byte 1: 0, 2 or 8.
    pub const fn extended_len(self) -> usize {
        match self {
            LengthFormat::U7 => 0,
            LengthFormat::U16 => 2,
            LengthFormat::U64 => 8,
        }
    }

    /// The shortest form that holds `payload_len`, which §5.2 requires.
    pub const fn minimal_for(payload_len: u64) -> LengthFormat {
        if payload_len <= field::LEN7_MAX {
            LengthFormat::U7
        } else if payload_len <= u16::MAX as u64 {
            LengthFormat::U16
        } else {
            LengthFormat::U64
        }
    }
}

impl fmt::Display for LengthFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LengthFormat::U7 => f.write_str("7-bit"),
            LengthFormat::U16 => f.write_str("16-bit"),
            LengthFormat::U64 => f.write_str("64-bit"),
        }
    }
}

impl FrameError {
    /// The name of the broken rule, as used for problem keys.
    pub const fn rule(&self) -> &'static str {
        match self {
            FrameError::ReservedOpcode { .. } => "ReservedOpcode",
            FrameError::ControlFrameTooLong { .. } => "ControlFrameTooLong",
            FrameError::FragmentedControlFrame { .. } => "FragmentedControlFrame",
            FrameError::NonMinimalLength { .. } => "NonMinimalLength",
            FrameError::Length64MsbSet { .. } => "Length64MsbSet",
        }
    }

    /// The RFC section that states the rule.
    pub const fn section(&self) -> &'static str {
        match self {
            FrameError::ReservedOpcode { .. }
            | FrameError::NonMinimalLength { .. }
            | FrameError::Length64MsbSet { .. } => "RFC 6455 §5.2",
            FrameError::ControlFrameTooLong { .. } | FrameError::FragmentedControlFrame { .. } => {
                "RFC 6455 §5.5"
            }
        }
    }
}

impl FrameHeader {
    /// A final, unmasked-or-masked header with no reserved bits and the shortest length form.
    pub const fn new(opcode: OpCode, mask: Option<[u8; 4]>, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask,
            payload_len,
            length_format: LengthFormat::minimal_for(payload_len),
        }
    }

    /// Parses a header and rejects it when it breaks a rule that the header alone shows.
    ///
    /// Returns `Ok(None)` when `buf` is too short to hold the whole header, and
    /// `Ok(Some((header, header_len)))` otherwise; the payload starts at `header_len`.
    /// The first broken rule, in the order of [`FrameHeader::violations`], is the error.
    /// Rules that depend on the sender or on negotiated extensions are checked elsewhere.
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, FrameError> {
        match FrameHeader::parse_lax(buf) {
            None => Ok(None),
            Some((header, header_len)) => match header.violations().into_iter().next() {
                Some(violation) => Err(violation),
                None => Ok(Some((header, header_len))),
            },
        }
    }

    /// Parses any header, however broken, so that it can be described.
    ///
    /// Returns `None` when `buf` is too short to hold the whole header.
    pub fn parse_lax(buf: &[u8]) -> Option<(FrameHeader, usize)> {
        let byte0 = *buf.get(field::FLAGS_OPCODE.start)?;
        let byte1 = *buf.get(field::MASK_LEN.start)?;
        let len7 = byte1 & field::LEN7;
        let length_format = match len7 {
            field::LEN7_U16 => LengthFormat::U16,
            field::LEN7_U64 => LengthFormat::U64,
            _ => LengthFormat::U7,
        };
        let masked = byte1 & field::MASK != 0;
        let header_len = field::header_len(length_format, masked);
        if buf.len() < header_len {
            return None;
        }
        let extended = buf.get(field::extended_len(length_format))?;
        let payload_len = match length_format {
            LengthFormat::U7 => u64::from(len7),
            LengthFormat::U16 => u64::from(u16::from_be_bytes(extended.try_into().ok()?)),
            LengthFormat::U64 => u64::from_be_bytes(extended.try_into().ok()?),
        };
        let mask = if masked {
            let key = buf.get(field::masking_key(length_format, true))?;
            Some(<[u8; 4]>::try_from(key).ok()?)
        } else {
            None
        };
        let header = FrameHeader {
            fin: byte0 & field::FIN != 0,
            rsv1: byte0 & field::RSV1 != 0,
            rsv2: byte0 & field::RSV2 != 0,
            rsv3: byte0 & field::RSV3 != 0,
            opcode: OpCode::from_nibble(byte0),
            mask,
            payload_len,
            length_format,
        };
        Some((header, header_len))
    }

    /// The rules of §5.2 and §5.5 that this header breaks, in a fixed order.
    pub fn violations(&self) -> Vec<FrameError> {
        let mut found = Vec::new();
        let opcode = self.opcode.value();
        if self.opcode.is_reserved() {
            found.push(FrameError::ReservedOpcode { opcode });
        }
        if self.opcode.is_control() {
            if !self.fin {
                found.push(FrameError::FragmentedControlFrame { opcode });
            }
            if self.payload_len > field::LEN7_MAX {
                found.push(FrameError::ControlFrameTooLong {
                    payload_len: self.payload_len,
                });
            }
        }
        if self.length_msb_set() {
            found.push(FrameError::Length64MsbSet {
                payload_len: self.payload_len,
            });
        }
        if self.non_minimal_length() {
            found.push(FrameError::NonMinimalLength {
                payload_len: self.payload_len,
                format: self.length_format,
            });
        }
        found
    }

    /// True when the 16- or 64-bit form holds a value that a shorter form could hold (§5.2).
    pub const fn non_minimal_length(&self) -> bool {
        match self.length_format {
            LengthFormat::U7 => false,
            LengthFormat::U16 => self.payload_len <= field::LEN7_MAX,
            LengthFormat::U64 => self.payload_len <= u16::MAX as u64,
        }
    }

    /// True when the 64-bit length has its most significant bit set (§5.2 says it must be 0).
    pub const fn length_msb_set(&self) -> bool {
        matches!(self.length_format, LengthFormat::U64) && self.payload_len >> 63 != 0
    }

    /// The three reserved bits as they sit in byte 0 (mask [`field::RSV`]).
    pub const fn rsv_bits(&self) -> u8 {
        let mut bits = 0;
        if self.rsv1 {
            bits |= field::RSV1;
        }
        if self.rsv2 {
            bits |= field::RSV2;
        }
        if self.rsv3 {
            bits |= field::RSV3;
        }
        bits
    }

    /// The length of the encoded header.
    pub const fn header_len(&self) -> usize {
        field::header_len(self.length_format, self.mask.is_some())
    }

    /// Where each header field lies, relative to the start of the frame.
    pub fn layout(&self) -> Layout {
        let masked = self.mask.is_some();
        let extended_len = field::extended_len(self.length_format);
        let masking_key = field::masking_key(self.length_format, masked);
        Layout {
            flags_opcode: field::FLAGS_OPCODE,
            mask_len: field::MASK_LEN,
            extended_len: (!extended_len.is_empty()).then_some(extended_len),
            masking_key: masked.then_some(masking_key),
            header_len: self.header_len(),
        }
    }

    /// The payload's byte range relative to the start of the frame, computed without overflow.
    ///
    /// Returns `None` when the announced length does not fit in 64-bit offsets.
    pub fn payload_range_in_frame(&self) -> Option<Range<u64>> {
        let start = u64::try_from(self.header_len()).ok()?;
        let end = start.checked_add(self.payload_len)?;
        Some(start..end)
    }

    /// Encodes the header.
    ///
    /// The length uses `length_format`, or the shortest form that holds `payload_len` when
    /// `length_format` is too small for it, so the output always parses back to the same length.
    pub fn encode(&self) -> Vec<u8> {
        let format = self
            .length_format
            .max(LengthFormat::minimal_for(self.payload_len));
        let mut out = Vec::with_capacity(field::MAX_HEADER_LEN);
        let byte0 = self.rsv_bits()
            | if self.fin { field::FIN } else { 0 }
            | (self.opcode.value() & field::OPCODE);
        out.push(byte0);
        let mask_bit = if self.mask.is_some() { field::MASK } else { 0 };
        match format {
            LengthFormat::U7 => {
                let len7 = u8::try_from(self.payload_len).unwrap_or(field::LEN7_U64) & field::LEN7;
                out.push(mask_bit | len7);
            }
            LengthFormat::U16 => {
                out.push(mask_bit | field::LEN7_U16);
                let len16 = u16::try_from(self.payload_len).unwrap_or(u16::MAX);
                out.extend_from_slice(&len16.to_be_bytes());
            }
            LengthFormat::U64 => {
                out.push(mask_bit | field::LEN7_U64);
                out.extend_from_slice(&self.payload_len.to_be_bytes());
            }
        }
        if let Some(key) = self.mask {
            out.extend_from_slice(&key);
        }
        out
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::application::websocket::opcode::{Control, Data};

    /// RFC 6455 §5.7: a single-frame unmasked text message "Hello".
    const UNMASKED_HELLO: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    /// RFC 6455 §5.7: a single-frame masked text message "Hello".
    const MASKED_HELLO: [u8; 11] = [
        0x81, 0x85, // FIN + text; MASK + length 5
        0x37, 0xfa, 0x21, 0x3d, // masking key
        0x7f, 0x9f, 0x4d, 0x51, 0x58, // masked "Hello"
    ];

    #[test]
    fn rfc_unmasked_hello_header() {
        let (header, header_len) = FrameHeader::parse(&UNMASKED_HELLO).unwrap().unwrap();
        assert_eq!(header_len, 2);
        assert!(header.fin);
        assert_eq!(header.opcode, OpCode::Data(Data::Text));
        assert_eq!(header.mask, None);
        assert_eq!(header.payload_len, 5);
        assert_eq!(header.length_format, LengthFormat::U7);
        assert_eq!(header.rsv_bits(), 0);
    }

    #[test]
    fn rfc_masked_hello_header() {
        let (header, header_len) = FrameHeader::parse(&MASKED_HELLO).unwrap().unwrap();
        assert_eq!(header_len, 6);
        assert_eq!(header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(header.payload_len, 5);
        let layout = header.layout();
        assert_eq!(layout.extended_len, None);
        assert_eq!(layout.masking_key, Some(2..6));
        assert_eq!(layout.header_len, 6);
    }

    #[test]
    fn rfc_fragmented_hello_headers() {
        // "Hel": FIN clear, text.
        let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
        let (header, _) = FrameHeader::parse(&first).unwrap().unwrap();
        assert!(!header.fin);
        assert_eq!(header.opcode, OpCode::Data(Data::Text));
        // "lo": FIN set, continuation.
        let second = [0x80, 0x02, 0x6c, 0x6f];
        let (header, _) = FrameHeader::parse(&second).unwrap().unwrap();
        assert!(header.fin);
        assert_eq!(header.opcode, OpCode::Data(Data::Continue));
    }

    #[test]
    fn rfc_ping_and_pong_headers() {
        // Unmasked ping with "Hello".
        let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let (header, _) = FrameHeader::parse(&ping).unwrap().unwrap();
        assert_eq!(header.opcode, OpCode::Control(Control::Ping));
        // Masked pong with "Hello".
        let pong = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (header, header_len) = FrameHeader::parse(&pong).unwrap().unwrap();
        assert_eq!(header.opcode, OpCode::Control(Control::Pong));
        assert_eq!(header_len, 6);
    }

    #[test]
    fn rfc_256_byte_binary_uses_16_bit_length() {
        // 0x82 0x7E 0x0100: binary, 126 -> 16-bit length 256.
        let bytes = [0x82, 0x7E, 0x01, 0x00];
        let (header, header_len) = FrameHeader::parse(&bytes).unwrap().unwrap();
        assert_eq!(header.opcode, OpCode::Data(Data::Binary));
        assert_eq!(header.length_format, LengthFormat::U16);
        assert_eq!(header.payload_len, 256);
        assert_eq!(header_len, 4);
        assert_eq!(header.layout().extended_len, Some(2..4));
    }

    #[test]
    fn rfc_64_kib_binary_uses_64_bit_length() {
        // 0x82 0x7F 0x0000000000010000: binary, 127 -> 64-bit length 65536.
        let bytes = [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];
        let (header, header_len) = FrameHeader::parse(&bytes).unwrap().unwrap();
        assert_eq!(header.length_format, LengthFormat::U64);
        assert_eq!(header.payload_len, 65536);
        assert_eq!(header_len, 10);
        assert_eq!(header.layout().extended_len, Some(2..10));
        assert_eq!(header.payload_range_in_frame(), Some(10..65546));
    }

    #[test]
    fn every_prefix_of_a_header_needs_more_bytes() {
        let headers: [&[u8]; 4] = [
            &MASKED_HELLO[..6],
            &[0x82, 0x7E, 0x01, 0x00],
            &[0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4],
            &UNMASKED_HELLO[..2],
        ];
        for header in headers {
            for cut in 0..header.len() {
                assert_eq!(FrameHeader::parse(&header[..cut]), Ok(None), "cut at {cut}");
                assert_eq!(FrameHeader::parse_lax(&header[..cut]), None);
            }
            assert!(FrameHeader::parse(header).unwrap().is_some());
        }
    }

    #[test]
    fn non_minimal_16_bit_length_is_flagged_but_described() {
        // 126 -> 16-bit length 5, which fits the 7-bit field.
        let bytes = [0x82, 0x7E, 0x00, 0x05];
        let (header, header_len) = FrameHeader::parse_lax(&bytes).unwrap();
        assert_eq!(header_len, 4);
        assert_eq!(header.payload_len, 5);
        assert!(header.non_minimal_length());
        assert_eq!(
            FrameHeader::parse(&bytes),
            Err(FrameError::NonMinimalLength {
                payload_len: 5,
                format: LengthFormat::U16
            })
        );
    }

    #[test]
    fn non_minimal_64_bit_length_is_flagged() {
        // 127 -> 64-bit length 65535, which fits the 16-bit form.
        let bytes = [0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF];
        let (header, _) = FrameHeader::parse_lax(&bytes).unwrap();
        assert!(header.non_minimal_length());
        assert_eq!(header.violations()[0].rule(), "NonMinimalLength");
    }

    #[test]
    fn msb_of_64_bit_length_is_a_violation_but_the_value_is_kept() {
        let bytes = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0x01];
        let (header, _) = FrameHeader::parse_lax(&bytes).unwrap();
        assert_eq!(header.payload_len, 0x8000_0000_0000_0001);
        assert!(header.length_msb_set());
        assert_eq!(
            FrameHeader::parse(&bytes),
            Err(FrameError::Length64MsbSet {
                payload_len: 0x8000_0000_0000_0001
            })
        );
        assert_eq!(
            FrameError::Length64MsbSet { payload_len: 0 }.section(),
            "RFC 6455 §5.2"
        );
    }

    #[test]
    fn largest_length_does_not_overflow_the_payload_range() {
        let bytes = [
            0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4,
        ];
        let (header, header_len) = FrameHeader::parse_lax(&bytes).unwrap();
        assert_eq!(header_len, 14);
        assert_eq!(header.payload_len, u64::MAX);
        assert_eq!(header.payload_range_in_frame(), None);
    }

    #[test]
    fn reserved_opcode_is_rejected_by_the_strict_parser() {
        let bytes = [0x83, 0x00];
        assert_eq!(
            FrameHeader::parse(&bytes),
            Err(FrameError::ReservedOpcode { opcode: 3 })
        );
        let (header, _) = FrameHeader::parse_lax(&bytes).unwrap();
        assert_eq!(header.opcode, OpCode::Data(Data::Reserved(3)));
    }

    #[test]
    fn long_control_frame_is_rejected() {
        // Ping with a 16-bit length of 126.
        let bytes = [0x89, 0x7E, 0x00, 0x7E];
        assert_eq!(
            FrameHeader::parse(&bytes),
            Err(FrameError::ControlFrameTooLong { payload_len: 126 })
        );
    }

    #[test]
    fn fragmented_control_frame_is_rejected() {
        // Close with FIN clear.
        let bytes = [0x08, 0x00];
        assert_eq!(
            FrameHeader::parse(&bytes),
            Err(FrameError::FragmentedControlFrame { opcode: 8 })
        );
        assert_eq!(
            FrameError::FragmentedControlFrame { opcode: 8 }.section(),
            "RFC 6455 §5.5"
        );
    }

    #[test]
    fn reserved_bits_are_read_and_kept() {
        let bytes = [0xF1, 0x00];
        let (header, _) = FrameHeader::parse(&bytes).unwrap().unwrap();
        assert!(header.rsv1 && header.rsv2 && header.rsv3);
        assert_eq!(header.rsv_bits(), field::RSV);
    }

    #[test]
    fn field_table_matches_every_form() {
        assert_eq!(field::header_len(LengthFormat::U7, false), 2);
        assert_eq!(field::header_len(LengthFormat::U7, true), 6);
        assert_eq!(field::header_len(LengthFormat::U16, false), 4);
        assert_eq!(field::header_len(LengthFormat::U16, true), 8);
        assert_eq!(field::header_len(LengthFormat::U64, false), 10);
        assert_eq!(
            field::header_len(LengthFormat::U64, true),
            field::MAX_HEADER_LEN
        );
        assert_eq!(field::masking_key(LengthFormat::U16, true), 4..8);
        assert!(field::masking_key(LengthFormat::U64, false).is_empty());
    }

    #[test]
    fn encode_widens_a_format_that_is_too_small() {
        let mut header = FrameHeader::new(OpCode::Data(Data::Binary), None, 300);
        header.length_format = LengthFormat::U7;
        let bytes = header.encode();
        let (parsed, _) = FrameHeader::parse(&bytes).unwrap().unwrap();
        assert_eq!(parsed.payload_len, 300);
        assert_eq!(parsed.length_format, LengthFormat::U16);
    }

    fn any_header() -> impl Strategy<Value = FrameHeader> {
        (
            any::<[bool; 4]>(),
            0u8..16,
            proptest::option::of(any::<[u8; 4]>()),
            prop_oneof![0u64..=125, 0u64..=70_000, any::<u64>()],
            prop_oneof![
                Just(LengthFormat::U7),
                Just(LengthFormat::U16),
                Just(LengthFormat::U64)
            ],
        )
            .prop_map(|(bits, opcode, mask, payload_len, format)| FrameHeader {
                fin: bits[0],
                rsv1: bits[1],
                rsv2: bits[2],
                rsv3: bits[3],
                opcode: OpCode::from(opcode),
                mask,
                payload_len,
                length_format: format.max(LengthFormat::minimal_for(payload_len)),
            })
    }

    proptest! {
        #[test]
        fn encode_then_parse_lax_round_trips(header in any_header()) {
            let bytes = header.encode();
            prop_assert_eq!(bytes.len(), header.header_len());
            let parsed = FrameHeader::parse_lax(&bytes);
            prop_assert_eq!(parsed, Some((header, bytes.len())));
            for cut in 0..bytes.len() {
                prop_assert_eq!(FrameHeader::parse(&bytes[..cut]), Ok(None));
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..20)) {
            let lax = FrameHeader::parse_lax(&bytes);
            let strict = FrameHeader::parse(&bytes);
            if let Some((header, header_len)) = lax {
                prop_assert!(header_len <= bytes.len());
                prop_assert_eq!(strict.is_err(), !header.violations().is_empty());
            } else {
                prop_assert_eq!(strict, Ok(None));
            }
        }
    }
}
