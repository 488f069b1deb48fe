//! Layer 4 across frames: TCP connections, their byte streams, and where
//! every stream byte came from.
//!
//! - [`seq`]: wrap-aware sequence numbers.
//! - [`table`]: conversations, client and server roles, `tcp.stream` indexes.
//! - [`reassembly`]: one direction's segments in, the in-order byte stream out.
//! - [`stream_map`]: stream offsets back to (frame, offset in frame).
//! - [`analysis`]: tshark-style `tcp.analysis.*` flags and relative numbers.
//! - [`state`]: each side's RFC 793 state as an observer sees it.
//! - [`tracker`]: all of the above, segment by segment.
//!
//! This module also owns the small [`TcpFlags`] type the trackers share.

#![deny(clippy::arithmetic_side_effects)]

use std::fmt;

pub mod analysis;
pub mod reassembly;
pub mod seq;
pub mod state;
pub mod stream_map;
pub mod table;
pub mod tracker;

pub use table::Direction;

/// The control bits of a TCP header, as the low 9 bits of the flags field (AE down to FIN).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    /// FIN: the sender has no more data.
    pub const FIN: TcpFlags = TcpFlags(0x001);
    /// SYN: synchronise sequence numbers (opens a connection).
    pub const SYN: TcpFlags = TcpFlags(0x002);
    /// RST: reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x004);
    /// PSH: push buffered data to the application.
    pub const PSH: TcpFlags = TcpFlags(0x008);
    /// ACK: the acknowledgement number is valid.
    pub const ACK: TcpFlags = TcpFlags(0x010);
    /// URG: the urgent pointer is valid.
    pub const URG: TcpFlags = TcpFlags(0x020);
    /// ECE: ECN echo.
    pub const ECE: TcpFlags = TcpFlags(0x040);
    /// CWR: congestion window reduced.
    pub const CWR: TcpFlags = TcpFlags(0x080);
    /// AE: accurate ECN (formerly NS).
    pub const AE: TcpFlags = TcpFlags(0x100);

    /// Returns the flags with no bit set.
    pub const fn empty() -> TcpFlags {
        TcpFlags(0)
    }

    /// Returns true when every bit of `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Returns true when at least one bit of `other` is set in `self`.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// Returns the union of both sets of bits.
    pub const fn union(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }

    /// Returns true when SYN is set without ACK (a connection request).
    pub const fn is_pure_syn(self) -> bool {
        self.contains(TcpFlags::SYN) && !self.contains(TcpFlags::ACK)
    }

    /// Returns true when both SYN and ACK are set (the server's answer to a SYN).
    pub const fn is_syn_ack(self) -> bool {
        self.contains(TcpFlags::SYN.union(TcpFlags::ACK))
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;

    fn bitor(self, other: TcpFlags) -> TcpFlags {
        self.union(other)
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TcpFlags({self})")
    }
}

impl fmt::Display for TcpFlags {
    /// Prints the set flags by name, separated by commas, as Wireshark's info column does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(TcpFlags, &str); 9] = [
            (TcpFlags::FIN, "FIN"),
            (TcpFlags::SYN, "SYN"),
            (TcpFlags::RST, "RST"),
            (TcpFlags::PSH, "PSH"),
            (TcpFlags::ACK, "ACK"),
            (TcpFlags::URG, "URG"),
            (TcpFlags::ECE, "ECE"),
            (TcpFlags::CWR, "CWR"),
            (TcpFlags::AE, "AE"),
        ];
        let mut first = true;
        for (flag, name) in NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str(", ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("<None>")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_display_in_wireshark_order() {
        assert_eq!((TcpFlags::SYN | TcpFlags::ACK).to_string(), "SYN, ACK");
        assert_eq!(
            (TcpFlags::FIN | TcpFlags::ACK | TcpFlags::PSH).to_string(),
            "FIN, PSH, ACK"
        );
        assert_eq!(TcpFlags::empty().to_string(), "<None>");
    }

    #[test]
    fn syn_kinds_are_told_apart() {
        assert!(TcpFlags::SYN.is_pure_syn());
        assert!(!(TcpFlags::SYN | TcpFlags::ACK).is_pure_syn());
        assert!((TcpFlags::SYN | TcpFlags::ACK).is_syn_ack());
        assert!(!TcpFlags::ACK.is_syn_ack());
        assert_eq!(
            Direction::ClientToServer.reverse(),
            Direction::ServerToClient
        );
    }
}
