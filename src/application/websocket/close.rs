//! The body of a Close frame (RFC 6455 §5.5.1) and the meaning of close codes (§7.4).
//!
//! A Close body is empty, or a 16-bit big-endian status code followed by a UTF-8 reason.
//! Parsing is total: [`CloseBody::parse`] always describes the body and lists the rules it breaks.

use std::borrow::Cow;
use std::fmt;

use thiserror::Error;

/// Byte ranges of a Close body, relative to the start of the frame payload.
pub mod field {
    use std::ops::Range;

    /// The status code.
    pub const CODE: Range<usize> = 0..2;
    /// Where the reason starts; it runs to the end of the payload.
    pub const REASON_START: usize = 2;
}

/// How the status code ranges of §7.4.2 (and the IANA registry of §11.7) classify a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseCodeClass {
    /// 0-999: not used (§7.4.2).
    Unused,
    /// An assigned code in 1000-1015 that may be sent in a Close frame.
    Defined,
    /// 1004, 1005, 1006 and 1015: assigned but never sent in a Close frame (§7.4.1).
    NotOnWire,
    /// 1016-2999: reserved for this protocol and its extensions, not assigned.
    Unassigned,
    /// 3000-3999: registered with IANA by libraries, frameworks and applications.
    Registered,
    /// 4000-4999: private use by applications.
    Private,
    /// 5000-65535: outside every range that §7.4.2 defines.
    OutOfRange,
}

/// A status code of a Close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

/// A rule broken by a Close body.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CloseError {
    /// The body is one byte long: too short for a status code and not empty (§5.5.1).
    #[error("close body of 1 byte: a status code needs 2 (RFC 6455 §5.5.1)")]
    BodyTooShort,
    /// The status code is not one an endpoint may send (§7.4).
    #[error("close code {code} is not valid on the wire: {class} (RFC 6455 §7.4)")]
    InvalidCloseCode {
        /// The code as sent.
        code: u16,
        /// Why it is not valid.
        class: CloseCodeClass,
    },
    /// The reason is not valid UTF-8 (§5.5.1).
    #[error("close reason is not valid UTF-8 at byte {body_offset} of the body (RFC 6455 §5.5.1)")]
    InvalidReasonUtf8 {
        /// The offset of the first invalid byte, from the start of the Close body.
        body_offset: usize,
    },
}

/// A decoded Close body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CloseBody {
    /// The status code; absent for an empty (or one-byte) body.
    pub code: Option<CloseCode>,
    /// The reason bytes as sent; normally UTF-8, see [`CloseBody::reason_str`].
    pub reason: Vec<u8>,
}

impl CloseCodeClass {
    /// Classifies a code by the ranges of §7.4.
    pub const fn of(code: u16) -> CloseCodeClass {
        match code {
            0..=999 => CloseCodeClass::Unused,
            1004 | 1005 | 1006 | 1015 => CloseCodeClass::NotOnWire,
            1000..=1014 => CloseCodeClass::Defined,
            1016..=2999 => CloseCodeClass::Unassigned,
            3000..=3999 => CloseCodeClass::Registered,
            4000..=4999 => CloseCodeClass::Private,
            _ => CloseCodeClass::OutOfRange,
        }
    }

    /// True when an endpoint may send a code of this class.
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(
            self,
            CloseCodeClass::Defined | CloseCodeClass::Registered | CloseCodeClass::Private
        )
    }
}

impl fmt::Display for CloseCodeClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseCodeClass::Unused => "0-999 are not used",
            CloseCodeClass::Defined => "defined by RFC 6455 or the IANA registry",
            CloseCodeClass::NotOnWire => "must not be sent in a Close frame",
            CloseCodeClass::Unassigned => "1016-2999 are reserved and unassigned",
            CloseCodeClass::Registered => "3000-3999 are registered for libraries and frameworks",
            CloseCodeClass::Private => "4000-4999 are for private use",
            CloseCodeClass::OutOfRange => "5000 and above are outside every defined range",
        })
    }
}

impl CloseCode {
    /// 1000 Normal Closure.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1002 Protocol Error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);

    /// The class of this code.
    pub const fn class(self) -> CloseCodeClass {
        CloseCodeClass::of(self.0)
    }

    /// The registered name of an assigned code in 1000-1015.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1000 => "Normal Closure",
            1001 => "Going Away",
            1002 => "Protocol Error",
            1003 => "Unsupported Data",
            1004 => "Reserved",
            1005 => "No Status Received",
            1006 => "Abnormal Closure",
            1007 => "Invalid Frame Payload Data",
            1008 => "Policy Violation",
            1009 => "Message Too Big",
            1010 => "Mandatory Extension",
            1011 => "Internal Error",
            1012 => "Service Restart",
            1013 => "Try Again Later",
            1014 => "Bad Gateway",
            1015 => "TLS Handshake",
            _ => return None,
        })
    }
}

impl fmt::Display for CloseCode {
    /// Prints the number and its name or range, such as "1000 (Normal Closure)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self.class()) {
            (Some(name), _) => write!(f, "{} ({name})", self.0),
            (None, CloseCodeClass::Registered) => write!(f, "{} (registered)", self.0),
            (None, CloseCodeClass::Private) => write!(f, "{} (private use)", self.0),
            (None, CloseCodeClass::Unassigned) => write!(f, "{} (unassigned)", self.0),
            (None, _) => write!(f, "{} (invalid)", self.0),
        }
    }
}

impl CloseBody {
    /// Decodes a Close payload (already unmasked) and lists the rules it breaks.
    pub fn parse(payload: &[u8]) -> (CloseBody, Vec<CloseError>) {
        let mut problems = Vec::new();
        let Some(code_bytes) = payload.get(field::CODE) else {
            if !payload.is_empty() {
                problems.push(CloseError::BodyTooShort);
            }
            return (CloseBody::default(), problems);
        };
        let code = CloseCode(u16::from_be_bytes([
            code_bytes.first().copied().unwrap_or(0),
            code_bytes.get(1).copied().unwrap_or(0),
        ]));
        let class = code.class();
        if !class.is_valid_on_wire() {
            problems.push(CloseError::InvalidCloseCode {
                code: code.0,
                class,
            });
        }
        let reason = payload.get(field::REASON_START..).unwrap_or_default();
        if let Err(error) = std::str::from_utf8(reason) {
            problems.push(CloseError::InvalidReasonUtf8 {
                body_offset: field::REASON_START.saturating_add(error.valid_up_to()),
            });
        }
        let body = CloseBody {
            code: Some(code),
            reason: reason.to_vec(),
        };
        (body, problems)
    }

    /// The reason as text, or `None` when it is not valid UTF-8.
    pub fn reason_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.reason).ok()
    }

    /// The reason as text with invalid sequences replaced by U+FFFD.
    pub fn reason_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.reason)
    }
}

impl CloseError {
    /// The name of the broken rule, as used for problem keys.
    pub const fn rule(&self) -> &'static str {
        match self {
            CloseError::BodyTooShort => "CloseBodyTooShort",
            CloseError::InvalidCloseCode { .. } => "InvalidCloseCode",
            CloseError::InvalidReasonUtf8 { .. } => "InvalidCloseReasonUtf8",
        }
    }

    /// The RFC section that states the rule.
    pub const fn section(&self) -> &'static str {
        match self {
            CloseError::BodyTooShort | CloseError::InvalidReasonUtf8 { .. } => "RFC 6455 §5.5.1",
            CloseError::InvalidCloseCode { .. } => "RFC 6455 §7.4",
        }
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

    #[test]
    fn empty_body_is_valid_and_has_no_code() {
        let (body, problems) = CloseBody::parse(&[]);
        assert_eq!(body, CloseBody::default());
        assert!(problems.is_empty());
    }

    #[test]
    fn normal_closure_with_reason() {
        // 0x03E8 = 1000, then "bye".
        let (body, problems) = CloseBody::parse(&[0x03, 0xE8, b'b', b'y', b'e']);
        assert!(problems.is_empty());
        assert_eq!(body.code, Some(CloseCode::NORMAL));
        assert_eq!(body.reason_str(), Some("bye"));
        assert_eq!(body.code.unwrap().to_string(), "1000 (Normal Closure)");
    }

    #[test]
    fn one_byte_body_is_a_violation() {
        let (body, problems) = CloseBody::parse(&[0x03]);
        assert_eq!(body.code, None);
        assert_eq!(problems, vec![CloseError::BodyTooShort]);
        assert_eq!(problems[0].section(), "RFC 6455 §5.5.1");
    }

    #[test]
    fn invalid_utf8_reason_is_a_violation_and_located() {
        // Code 1001, reason "ok" then a lone continuation byte.
        let (body, problems) = CloseBody::parse(&[0x03, 0xE9, b'o', b'k', 0x80]);
        assert_eq!(body.code, Some(CloseCode(1001)));
        assert_eq!(body.reason_str(), None);
        assert_eq!(body.reason_lossy(), "ok\u{FFFD}");
        assert_eq!(
            problems,
            vec![CloseError::InvalidReasonUtf8 { body_offset: 4 }]
        );
    }

    #[test]
    fn code_table_names_every_assigned_code() {
        assert_eq!(CloseCode(1012).name(), Some("Service Restart"));
        assert_eq!(CloseCode(1013).name(), Some("Try Again Later"));
        assert_eq!(CloseCode(1014).name(), Some("Bad Gateway"));
        for code in 1000..=1015 {
            assert!(CloseCode(code).name().is_some(), "{code}");
        }
        assert_eq!(CloseCode(1016).name(), None);
    }

    #[test]
    fn code_ranges_are_classified() {
        let cases = [
            (0, CloseCodeClass::Unused),
            (999, CloseCodeClass::Unused),
            (1000, CloseCodeClass::Defined),
            (1003, CloseCodeClass::Defined),
            (1004, CloseCodeClass::NotOnWire),
            (1005, CloseCodeClass::NotOnWire),
            (1006, CloseCodeClass::NotOnWire),
            (1007, CloseCodeClass::Defined),
            (1014, CloseCodeClass::Defined),
            (1015, CloseCodeClass::NotOnWire),
            (1016, CloseCodeClass::Unassigned),
            (2999, CloseCodeClass::Unassigned),
            (3000, CloseCodeClass::Registered),
            (3999, CloseCodeClass::Registered),
            (4000, CloseCodeClass::Private),
            (4999, CloseCodeClass::Private),
            (5000, CloseCodeClass::OutOfRange),
            (u16::MAX, CloseCodeClass::OutOfRange),
        ];
        for (code, class) in cases {
            assert_eq!(CloseCode(code).class(), class, "{code}");
        }
        assert_eq!(CloseCode(4001).to_string(), "4001 (private use)");
        assert_eq!(CloseCode(3001).to_string(), "3001 (registered)");
        assert_eq!(CloseCode(999).to_string(), "999 (invalid)");
    }

    #[test]
    fn codes_that_must_not_be_sent_are_violations() {
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            let (_, problems) = CloseBody::parse(&code.to_be_bytes());
            assert_eq!(
                problems,
                vec![CloseError::InvalidCloseCode {
                    code,
                    class: CloseCodeClass::of(code)
                }],
                "{code}"
            );
            assert_eq!(problems[0].section(), "RFC 6455 §7.4");
        }
        for code in [1000u16, 1001, 1011, 1012, 1013, 1014, 3000, 4999] {
            let (_, problems) = CloseBody::parse(&code.to_be_bytes());
            assert!(problems.is_empty(), "{code}");
        }
    }

    proptest! {
        #[test]
        fn any_body_parses_without_panic(payload in proptest::collection::vec(any::<u8>(), 0..40)) {
            let (body, problems) = CloseBody::parse(&payload);
            prop_assert_eq!(body.code.is_some(), payload.len() >= 2);
            prop_assert_eq!(problems.contains(&CloseError::BodyTooShort), payload.len() == 1);
        }
    }
}
