//! Where frames come from: capture files and live interfaces.
//!
//! A source hands out [`RawFrame`]s one at a time, borrowed from its own
//! buffer, so reading copies nothing. Frame numbers start at 1, as in
//! Wireshark. `save.rs` writes frames back to disk as pcapng.

pub mod file;
pub mod live;
pub mod offsets;
pub mod save;

use std::time::Duration;

use thiserror::Error;

use crate::dissect::{FrameNumber, Timestamp};

pub use file::FileSource;
pub use live::LiveSource;

/// A libpcap record header's capture time and wire length (the handle was
/// opened with nanosecond precision: `tv_usec` then holds nanoseconds).
pub(crate) fn record_time_and_len(header: &pcap::PacketHeader) -> (Timestamp, usize) {
    // `time_t` is 32 bits wide on some platforms.
    #[allow(clippy::useless_conversion)]
    let secs = i64::from(header.ts.tv_sec);
    let nanos = u32::try_from(header.ts.tv_usec)
        .unwrap_or(0)
        .min(999_999_999);
    let orig_len = usize::try_from(header.len).unwrap_or(usize::MAX);
    (Timestamp { secs, nanos }, orig_len)
}

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
    /// Capturing needs privileges this process does not have.
    #[error(
        "cannot capture on {interface}: permission denied ({reason}).\n\
         Capturing needs root, or these capabilities on the binary:\n\
         \x20   sudo setcap cap_net_raw,cap_net_admin=eip {binary}\n\
         or open a capture file instead: osiscope FILE.pcapng"
    )]
    CapturePermission {
        interface: String,
        reason: String,
        binary: String,
    },
    /// The interface named does not exist.
    #[error("no interface named {interface} ({reason}); `osiscope interfaces` lists them")]
    NoSuchInterface { interface: String, reason: String },
    /// libpcap found no interface to capture on.
    #[error("no interface to capture on ({reason}); name one with -i (`osiscope interfaces` lists them)")]
    NoInterface { reason: String },
    /// The capture filter does not compile; libpcap's words say why.
    #[error("bad capture filter {filter:?}: {reason}")]
    BadFilter { filter: String, reason: String },
    /// The interface could not be opened for capture for another reason.
    #[error("cannot capture on {interface}: {reason}")]
    CaptureOpen { interface: String, reason: String },
    /// The capture ended on an error (the interface went away or down);
    /// what was captured before is kept.
    #[error("capture on {interface} stopped after {after} frames: {reason}; the frames captured before are kept{kept}")]
    CaptureStopped {
        interface: String,
        after: u64,
        reason: String,
        /// Where they were written, as ` (and written to FILE)`, or empty.
        kept: String,
    },
    /// The capture file named with `-w` could not be written.
    #[error("{path}: cannot write: {reason}")]
    Write { path: String, reason: String },
}

/// Counters of a live capture: libpcap's statistics and osiscope's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames libpcap handed to osiscope.
    pub captured: u64,
    /// libpcap's `ps_recv`: packets received by the capture (after the filter).
    pub received: u64,
    /// libpcap's `ps_drop`: packets the kernel dropped because the capture
    /// buffer was full.
    pub dropped: u64,
    /// libpcap's `ps_ifdrop`: packets the interface or its driver dropped.
    pub if_dropped: u64,
    /// Frames osiscope read but could not decode in time (its queue was
    /// full); they are still written with `-w`.
    pub osiscope_dropped: u64,
    /// Frames written to the `-w` file.
    pub written: u64,
}

/// A supplier of frames: a capture file or a live interface.
pub trait Source {
    /// The next frame, `Ok(None)` at the end, or an error that ends reading.
    /// A live source waits for the next frame.
    fn next_frame(&mut self) -> Result<Option<RawFrame<'_>>, SourceError>;

    /// Waits at most `timeout` until [`Source::next_frame`] would answer at
    /// once (a frame, the end or an error); returns whether it would. Files
    /// always would.
    fn wait(&mut self, timeout: Duration) -> bool {
        let _ = timeout;
        true
    }

    /// The counters of a live capture; `None` for a file.
    fn capture_stats(&self) -> Option<CaptureStats> {
        None
    }
}

/// The next frame of a source, or `None` at its end or at an error, which is
/// kept in `failure` so that what was read before it can still be reported.
pub fn frame_or_stop<'s, S: Source>(
    source: &'s mut S,
    failure: &mut Option<SourceError>,
) -> Option<RawFrame<'s>> {
    match source.next_frame() {
        Ok(frame) => frame,
        Err(err) => {
            *failure = Some(err);
            None
        }
    }
}
