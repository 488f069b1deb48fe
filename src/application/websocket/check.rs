//! The RFC 6455 rule catalogue, and the checks that need one header and the connection context.
//!
//! Every rule broken on the wire becomes a [`Violation`] that names the rule and its section.
//! [`HeaderRules`] checks what a single header shows once the sender and the negotiated
//! extensions are known; the rules about message order, text and Close bodies are checked by
//! [`crate::application::websocket::message`], which also reports them as [`Violation`]s.

use std::fmt;

use thiserror::Error;

use crate::application::websocket::close::CloseError;
use crate::application::websocket::deflate::DeflateError;
use crate::application::websocket::frame::{field, FrameError, FrameHeader};
use crate::application::websocket::opcode::{Data, OpCode};
use crate::application::websocket::Sender;

/// One of the three reserved bits of byte 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReservedBit {
    /// RSV1 (0x40).
    Rsv1,
    /// RSV2 (0x20).
    Rsv2,
    /// RSV3 (0x10).
    Rsv3,
}

/// A protocol rule broken on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Violation {
    /// The header breaks a rule of its own (RFC 6455 §5.2, §5.5).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A frame from the client was not masked (RFC 6455 §5.1).
    #[error("frame from the client is not masked (RFC 6455 §5.1)")]
    UnmaskedClientFrame,
    /// A frame from the server was masked (RFC 6455 §5.1).
    #[error("frame from the server is masked (RFC 6455 §5.1)")]
    MaskedServerFrame,
    /// A reserved bit was set although no negotiated extension defines it (RFC 6455 §5.2).
    #[error("{bit} is set but no negotiated extension defines it (RFC 6455 §5.2)")]
    ReservedBitWithoutExtension {
        /// The bit that was set.
        bit: ReservedBit,
    },
    /// RSV1 ("compressed") was set on a control frame (RFC 7692 §6.1).
    #[error("RSV1 (compressed) is set on a control frame (RFC 7692 §6.1)")]
    CompressedControlFrame,
    /// RSV1 ("compressed") was set on a continuation frame (RFC 7692 §6.1).
    #[error("RSV1 (compressed) is set on a continuation frame (RFC 7692 §6.1)")]
    CompressedContinuationFrame,
    /// A continuation frame arrived while no fragmented message was open (RFC 6455 §5.4).
    #[error("continuation frame without a message to continue (RFC 6455 §5.4)")]
    ContinuationWithoutStart,
    /// A text or binary frame arrived while a fragmented message was still open (RFC 6455 §5.4).
    #[error("new data message before the fragmented message ended (RFC 6455 §5.4)")]
    DataFrameInsideFragmentedMessage,
    /// A text message is not valid UTF-8 (RFC 6455 §8.1).
    #[error(
        "text message is not valid UTF-8 at byte {message_offset} of the message (RFC 6455 §8.1)"
    )]
    InvalidUtf8 {
        /// The offset of the first bad byte in the message data (after inflating).
        message_offset: u64,
    },
    /// The Close body breaks a rule (RFC 6455 §5.5.1, §7.4).
    #[error(transparent)]
    Close(#[from] CloseError),
    /// A data frame followed this sender's Close frame (RFC 6455 §5.5.1).
    #[error("data frame after the sender's Close frame (RFC 6455 §5.5.1)")]
    DataAfterClose,
    /// The compressed data of a message is not valid DEFLATE (RFC 7692 §7.2.2).
    #[error(transparent)]
    Deflate(DeflateError),
}

/// What a header is checked against: who sent it and what was negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRules {
    /// The endpoint that sent this direction.
    pub sender: Sender,
    /// permessage-deflate was negotiated, so RSV1 marks compressed messages.
    pub deflate: bool,
    /// Some other extension was negotiated; the reserved bits it may use are not flagged.
    pub other_extensions: bool,
}

impl fmt::Display for ReservedBit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReservedBit::Rsv1 => "RSV1",
            ReservedBit::Rsv2 => "RSV2",
            ReservedBit::Rsv3 => "RSV3",
        })
    }
}

impl Violation {
    /// The name of the broken rule, as used for problem keys.
    pub fn rule(&self) -> &'static str {
        match self {
            Violation::Frame(inner) => inner.rule(),
            Violation::UnmaskedClientFrame => "UnmaskedClientFrame",
            Violation::MaskedServerFrame => "MaskedServerFrame",
            Violation::ReservedBitWithoutExtension { .. } => "ReservedBitWithoutExtension",
            Violation::CompressedControlFrame => "CompressedControlFrame",
            Violation::CompressedContinuationFrame => "CompressedContinuationFrame",
            Violation::ContinuationWithoutStart => "ContinuationWithoutStart",
            Violation::DataFrameInsideFragmentedMessage => "DataFrameInsideFragmentedMessage",
            Violation::InvalidUtf8 { .. } => "InvalidUtf8",
            Violation::Close(inner) => inner.rule(),
            Violation::DataAfterClose => "DataAfterClose",
            Violation::Deflate(inner) => inner.rule(),
        }
    }

    /// The RFC section that states the rule.
    pub fn section(&self) -> &'static str {
        match self {
            Violation::Frame(inner) => inner.section(),
            Violation::UnmaskedClientFrame | Violation::MaskedServerFrame => "RFC 6455 §5.1",
            Violation::ReservedBitWithoutExtension { .. } => "RFC 6455 §5.2",
            Violation::CompressedControlFrame | Violation::CompressedContinuationFrame => {
                "RFC 7692 §6.1"
            }
            Violation::ContinuationWithoutStart | Violation::DataFrameInsideFragmentedMessage => {
                "RFC 6455 §5.4"
            }
            Violation::InvalidUtf8 { .. } => "RFC 6455 §8.1",
            Violation::Close(inner) => inner.section(),
            Violation::DataAfterClose => "RFC 6455 §5.5.1",
            Violation::Deflate(inner) => inner.section(),
        }
    }
}

impl HeaderRules {
    /// Every rule this header breaks, given the sender and the negotiated extensions.
    ///
    /// The order is: the header's own rules ([`FrameHeader::violations`]), masking, reserved bits.
    pub fn violations(&self, header: &FrameHeader) -> Vec<Violation> {
        let mut found: Vec<Violation> = header
            .violations()
            .into_iter()
            .map(Violation::from)
            .collect();
        match (self.sender, header.mask.is_some()) {
            (Sender::Client, false) => found.push(Violation::UnmaskedClientFrame),
            (Sender::Server, true) => found.push(Violation::MaskedServerFrame),
            _ => {}
        }
        if header.rsv1 {
            if self.deflate {
                if header.opcode.is_control() {
                    found.push(Violation::CompressedControlFrame);
                } else if header.opcode == OpCode::Data(Data::Continue) {
                    found.push(Violation::CompressedContinuationFrame);
                }
            } else if !self.other_extensions {
                found.push(Violation::ReservedBitWithoutExtension {
                    bit: ReservedBit::Rsv1,
                });
            }
        }
        if !self.other_extensions {
            if header.rsv2 {
                found.push(Violation::ReservedBitWithoutExtension {
                    bit: ReservedBit::Rsv2,
                });
            }
            if header.rsv3 {
                found.push(Violation::ReservedBitWithoutExtension {
                    bit: ReservedBit::Rsv3,
                });
            }
        }
        found
    }

    /// True when the header breaks no rule: the test a resynchronising scan applies at every
    /// byte position, so it allocates nothing. It agrees with [`HeaderRules::violations`].
    pub fn is_plausible(&self, header: &FrameHeader) -> bool {
        let opcode = header.opcode;
        let control = opcode.is_control();
        let header_ok = !opcode.is_reserved()
            && !(control && (!header.fin || header.payload_len > field::LEN7_MAX))
            && !header.length_msb_set()
            && !header.non_minimal_length();
        let mask_ok = header.mask.is_some() == (self.sender == Sender::Client);
        let rsv1_ok = !header.rsv1
            || if self.deflate {
                !control && opcode != OpCode::Data(Data::Continue)
            } else {
                self.other_extensions
            };
        let rsv23_ok = self.other_extensions || !(header.rsv2 || header.rsv3);
        header_ok && mask_ok && rsv1_ok && rsv23_ok
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

    fn header(bytes: &[u8]) -> FrameHeader {
        FrameHeader::parse_lax(bytes).unwrap().0
    }

    const CLIENT: HeaderRules = HeaderRules {
        sender: Sender::Client,
        deflate: false,
        other_extensions: false,
    };
    const SERVER: HeaderRules = HeaderRules {
        sender: Sender::Server,
        deflate: false,
        other_extensions: false,
    };

    #[test]
    fn unmasked_client_frame() {
        // RFC 6455 §5.7 unmasked "Hello", sent by a client.
        let v = CLIENT.violations(&header(&[0x81, 0x05]));
        assert_eq!(v, vec![Violation::UnmaskedClientFrame]);
        assert_eq!(v[0].section(), "RFC 6455 §5.1");
        assert!(SERVER.is_plausible(&header(&[0x81, 0x05])));
    }

    #[test]
    fn masked_server_frame() {
        let masked = header(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(
            SERVER.violations(&masked),
            vec![Violation::MaskedServerFrame]
        );
        assert!(CLIENT.is_plausible(&masked));
    }

    #[test]
    fn reserved_bits_without_extension() {
        let v = SERVER.violations(&header(&[0xF1, 0x00]));
        assert_eq!(
            v,
            vec![
                Violation::ReservedBitWithoutExtension {
                    bit: ReservedBit::Rsv1
                },
                Violation::ReservedBitWithoutExtension {
                    bit: ReservedBit::Rsv2
                },
                Violation::ReservedBitWithoutExtension {
                    bit: ReservedBit::Rsv3
                },
            ]
        );
        assert_eq!(v[0].rule(), "ReservedBitWithoutExtension");
        assert_eq!(v[0].section(), "RFC 6455 §5.2");
        let other = HeaderRules {
            other_extensions: true,
            ..SERVER
        };
        assert!(other.is_plausible(&header(&[0xF1, 0x00])));
    }

    #[test]
    fn rsv1_with_deflate_is_allowed_only_on_a_first_data_frame() {
        let deflate = HeaderRules {
            deflate: true,
            ..SERVER
        };
        assert!(deflate.is_plausible(&header(&[0xC1, 0x00])));
        assert!(deflate.is_plausible(&header(&[0x42, 0x00])));
        assert_eq!(
            deflate.violations(&header(&[0xC9, 0x00])),
            vec![Violation::CompressedControlFrame]
        );
        assert_eq!(
            deflate.violations(&header(&[0xC0, 0x00])),
            vec![Violation::CompressedContinuationFrame]
        );
        assert_eq!(Violation::CompressedControlFrame.section(), "RFC 7692 §6.1");
        // RSV2 stays reserved under permessage-deflate.
        assert_eq!(
            deflate.violations(&header(&[0xA1, 0x00])),
            vec![Violation::ReservedBitWithoutExtension {
                bit: ReservedBit::Rsv2
            }]
        );
    }

    #[test]
    fn header_rules_come_first() {
        // A server ping with FIN clear and a 16-bit length of 5.
        let v = SERVER.violations(&header(&[0x09, 0x7E, 0x00, 0x05]));
        let rules: Vec<&str> = v.iter().map(Violation::rule).collect();
        assert_eq!(rules, ["FragmentedControlFrame", "NonMinimalLength"]);
    }

    proptest! {
        #[test]
        fn plausible_means_no_violation(
            bytes in proptest::collection::vec(any::<u8>(), 14),
            client in any::<bool>(),
            deflate in any::<bool>(),
            other_extensions in any::<bool>(),
        ) {
            let rules = HeaderRules {
                sender: if client { Sender::Client } else { Sender::Server },
                deflate,
                other_extensions,
            };
            let header = header(&bytes);
            prop_assert_eq!(rules.is_plausible(&header), rules.violations(&header).is_empty());
        }
    }

    #[test]
    fn every_violation_names_its_section() {
        let all = [
            Violation::ContinuationWithoutStart,
            Violation::DataFrameInsideFragmentedMessage,
            Violation::InvalidUtf8 { message_offset: 0 },
            Violation::DataAfterClose,
            Violation::Close(CloseError::BodyTooShort),
            Violation::Deflate(DeflateError::Corrupt {
                detail: String::new(),
                context_lost: false,
            }),
        ];
        let sections: Vec<&str> = all.iter().map(Violation::section).collect();
        assert_eq!(
            sections,
            [
                "RFC 6455 §5.4",
                "RFC 6455 §5.4",
                "RFC 6455 §8.1",
                "RFC 6455 §5.5.1",
                "RFC 6455 §5.5.1",
                "RFC 7692 §7.2.2"
            ]
        );
        for violation in &all {
            assert!(violation.to_string().contains("RFC"), "{violation}");
        }
    }
}
