//! The four-bit WebSocket opcode (RFC 6455 §5.2, registry in §11.8).
//!
//! Opcodes 0x0-0x7 are data frames and 0x8-0xF are control frames (§5.5).
//! Unassigned values keep their raw number in a `Reserved` variant, so no wire value is lost.

use std::borrow::Cow;
use std::fmt;

/// The opcode of a data frame (values 0x0-0x7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Data {
    /// 0x0: continues a fragmented message (§5.4).
    Continue,
    /// 0x1: the first frame of a text message (UTF-8 payload, §5.6).
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x3-0x7: reserved for further data frames; holds the raw value.
    Reserved(u8),
}

/// The opcode of a control frame (values 0x8-0xF).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Control {
    /// 0x8: connection close (§5.5.1).
    Close,
    /// 0x9: ping (§5.5.2).
    Ping,
    /// 0xA: pong (§5.5.3).
    Pong,
    /// 0xB-0xF: reserved for further control frames; holds the raw value.
    Reserved(u8),
}

/// A WebSocket opcode, split into the data and control families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// Opcodes 0x0-0x7.
    Data(Data),
    /// Opcodes 0x8-0xF.
    Control(Control),
}

impl OpCode {
    /// The bits of the first header byte that hold the opcode.
    pub const MASK: u8 = 0x0F;

    /// Builds the opcode from a four-bit value.
    ///
    /// Only the low four bits are read, exactly as the header parser reads the first byte.
    pub const fn from_nibble(value: u8) -> OpCode {
        match value & Self::MASK {
            0x0 => OpCode::Data(Data::Continue),
            0x1 => OpCode::Data(Data::Text),
            0x2 => OpCode::Data(Data::Binary),
            n @ 0x3..=0x7 => OpCode::Data(Data::Reserved(n)),
            0x8 => OpCode::Control(Control::Close),
            0x9 => OpCode::Control(Control::Ping),
            0xA => OpCode::Control(Control::Pong),
            n => OpCode::Control(Control::Reserved(n)),
        }
    }

    /// The four-bit wire value.
    pub const fn value(self) -> u8 {
        match self {
            OpCode::Data(Data::Continue) => 0x0,
            OpCode::Data(Data::Text) => 0x1,
            OpCode::Data(Data::Binary) => 0x2,
            OpCode::Data(Data::Reserved(n)) | OpCode::Control(Control::Reserved(n)) => {
                n & Self::MASK
            }
            OpCode::Control(Control::Close) => 0x8,
            OpCode::Control(Control::Ping) => 0x9,
            OpCode::Control(Control::Pong) => 0xA,
        }
    }

    /// True for opcodes 0x8-0xF, which §5.5 limits to 125 payload bytes and forbids fragmenting.
    pub const fn is_control(self) -> bool {
        matches!(self, OpCode::Control(_))
    }

    /// True for the opcodes that §11.8 leaves unassigned (0x3-0x7 and 0xB-0xF).
    pub const fn is_reserved(self) -> bool {
        matches!(
            self,
            OpCode::Data(Data::Reserved(_)) | OpCode::Control(Control::Reserved(_))
        )
    }

    /// A short lower-case name: "continuation", "text", "binary", "close", "ping", "pong",
    /// or "reserved-N" with N in decimal.
    pub fn name(self) -> Cow<'static, str> {
        match self {
            OpCode::Data(Data::Continue) => Cow::Borrowed("continuation"),
            OpCode::Data(Data::Text) => Cow::Borrowed("text"),
            OpCode::Data(Data::Binary) => Cow::Borrowed("binary"),
            OpCode::Control(Control::Close) => Cow::Borrowed("close"),
            OpCode::Control(Control::Ping) => Cow::Borrowed("ping"),
            OpCode::Control(Control::Pong) => Cow::Borrowed("pong"),
            OpCode::Data(Data::Reserved(n)) | OpCode::Control(Control::Reserved(n)) => {
                Cow::Owned(format!("reserved-{n}"))
            }
        }
    }
}

impl From<u8> for OpCode {
    /// Reads the low four bits, as [`OpCode::from_nibble`] does.
    fn from(value: u8) -> Self {
        OpCode::from_nibble(value)
    }
}

impl From<OpCode> for u8 {
    fn from(opcode: OpCode) -> Self {
        opcode.value()
    }
}

impl fmt::Display for OpCode {
    /// Prints the name from the RFC 6455 §11.8 registry, such as "Text Frame".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpCode::Data(Data::Continue) => f.write_str("Continuation Frame"),
            OpCode::Data(Data::Text) => f.write_str("Text Frame"),
            OpCode::Data(Data::Binary) => f.write_str("Binary Frame"),
            OpCode::Control(Control::Close) => f.write_str("Connection Close Frame"),
            OpCode::Control(Control::Ping) => f.write_str("Ping Frame"),
            OpCode::Control(Control::Pong) => f.write_str("Pong Frame"),
            OpCode::Data(Data::Reserved(n)) => write!(f, "Reserved Data Frame (0x{n:X})"),
            OpCode::Control(Control::Reserved(n)) => write!(f, "Reserved Control Frame (0x{n:X})"),
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
    use super::*;

    #[test]
    fn every_nibble_round_trips_through_u8() {
        for value in 0u8..16 {
            let opcode = OpCode::from(value);
            assert_eq!(u8::from(opcode), value);
            assert_eq!(opcode.is_control(), value >= 8);
        }
    }

    #[test]
    fn only_the_low_nibble_is_read() {
        // 0x81 is the first byte of a final text frame; its low nibble is 0x1.
        assert_eq!(OpCode::from(0x81), OpCode::Data(Data::Text));
        assert_eq!(OpCode::from(0xF9), OpCode::Control(Control::Ping));
    }

    #[test]
    fn assigned_and_reserved_values_are_told_apart() {
        let reserved: Vec<u8> = (0u8..16)
            .filter(|&v| OpCode::from(v).is_reserved())
            .collect();
        assert_eq!(reserved, vec![3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]);
    }

    #[test]
    fn names_are_short_and_reserved_ones_carry_the_decimal_value() {
        let names: Vec<Cow<'static, str>> = (0u8..16).map(|v| OpCode::from(v).name()).collect();
        assert_eq!(
            names,
            [
                "continuation",
                "text",
                "binary",
                "reserved-3",
                "reserved-4",
                "reserved-5",
                "reserved-6",
                "reserved-7",
                "close",
                "ping",
                "pong",
                "reserved-11",
                "reserved-12",
                "reserved-13",
                "reserved-14",
                "reserved-15",
            ]
        );
    }

    #[test]
    fn display_uses_the_registry_names() {
        assert_eq!(OpCode::from(0x0).to_string(), "Continuation Frame");
        assert_eq!(OpCode::from(0x1).to_string(), "Text Frame");
        assert_eq!(OpCode::from(0x2).to_string(), "Binary Frame");
        assert_eq!(OpCode::from(0x8).to_string(), "Connection Close Frame");
        assert_eq!(OpCode::from(0x9).to_string(), "Ping Frame");
        assert_eq!(OpCode::from(0xA).to_string(), "Pong Frame");
        assert_eq!(OpCode::from(0x3).to_string(), "Reserved Data Frame (0x3)");
        assert_eq!(
            OpCode::from(0xB).to_string(),
            "Reserved Control Frame (0xB)"
        );
    }
}
