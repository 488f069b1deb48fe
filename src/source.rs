//! Where frames come from: capture files now, live interfaces later.
//!
//! A source hands out [`RawFrame`]s one at a time, borrowed from its own
//! buffer, so reading copies nothing. Frame numbers start at 1, as in
//! Wireshark.

pub mod file;

use thiserror::Error;

use crate::dissect::{FrameNumber, Timestamp};

pub use file::FileSource;

/// Link-layer header types (the `LINKTYPE_*` values of pcap and pcapng).
pub mod link_type {
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    pub const NULL: u32 = 0;
    /// Ethernet II (and 802.3).
    pub const ETHERNET: u32 = 1;
    /// Raw IP as some BSDs number it.
    pub const RAW_BSD: u32 = 12;
    /// Raw IPv4 or IPv6, no link header.
    pub const RAW: u32 = 101;
    /// OpenBSD loopback: the address family in network byte order.
    pub const LOOP: u32 = 108;
    /// Linux cooked capture, version 1.
    pub const LINUX_SLL: u32 = 113;
    /// Raw IPv4, no link header.
    pub const IPV4: u32 = 228;
    /// Raw IPv6, no link header.
    pub const IPV6: u32 = 229;
    /// Linux cooked capture, version 2.
    pub const LINUX_SLL2: u32 = 276;

    /// A short name for a link type, as libpcap spells it.
    pub fn name(link_type: u32) -> &'static str {
        match link_type {
            NULL => "NULL",
            ETHERNET => "EN10MB",
            RAW_BSD | RAW => "RAW",
            LOOP => "LOOP",
            LINUX_SLL => "LINUX_SLL",
            IPV4 => "IPV4",
            IPV6 => "IPV6",
            LINUX_SLL2 => "LINUX_SLL2",
            _ => "unknown",
        }
    }
}

/// One captured frame as the source delivers it, borrowing the source's buffer.
#[derive(Clone, Copy, Debug)]
pub struct RawFrame<'a> {
    pub number: FrameNumber,
    pub ts: Timestamp,
    /// The frame's length on the wire; `data.len()` is what was captured.
    pub orig_len: usize,
    pub link_type: u32,
    pub data: &'a [u8],
}

/// Why a source could not deliver frames.
#[derive(Debug, Error)]
pub enum SourceError {
    /// The file does not exist.
    #[error("{path}: no such file")]
    NotFound { path: String },
    /// The file exists but may not be read by this user.
    #[error("{path}: permission denied (check the file's permissions)")]
    PermissionDenied { path: String },
    /// The file could not be opened for another reason.
    #[error("{path}: cannot open: {reason}")]
    Open { path: String, reason: String },
    /// libpcap does not recognise the file as pcap or pcapng.
    #[error("{path}: not a pcap or pcapng capture file ({reason})")]
    NotACapture { path: String, reason: String },
    /// The file ends in the middle of a record, or a record is corrupt.
    #[error("{path}: capture file is truncated or corrupt after frame {after}: {reason}")]
    Truncated {
        path: String,
        after: u64,
        reason: String,
    },
}

/// A supplier of frames: a file or, later, a live interface.
pub trait Source {
    /// The next frame, `Ok(None)` at the end, or an error that ends reading.
    fn next_frame(&mut self) -> Result<Option<RawFrame<'_>>, SourceError>;
}
