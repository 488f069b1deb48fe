//! Every bound on memory and work, in one place.
//!
//! A capture is data written by strangers, so every buffer that grows with
//! the input has a limit. [`Limits`] gathers the limits each stage checks
//! (IPv4 defragmentation, the TCP tracker and its reassemblers, the
//! application decoders, the per-frame model, the terminal UI's session),
//! with their defaults; the command line changes the important ones (see
//! [`crate::cli::LimitArgs`]). Reaching a limit is reported as a problem on
//! the frame where it happened (and in JSON), never a crash, an exhausted
//! memory or a silent loss. README.md has the table of the flags and
//! defaults.

use crate::application::conversation;
use crate::decode::defrag::DefragLimits;
use crate::flow::tracker::TrackerLimits;
use crate::pipeline::FrameLimits;
use crate::session::SessionLimits;

/// Every limit osiscope enforces, with documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// IPv4 datagrams held incomplete, their bytes and fragments.
    pub defrag: DefragLimits,
    /// TCP connections held at once, out-of-order bytes per direction, provenance, analysis.
    pub tracker: TrackerLimits,
    /// Bytes buffered for all TCP connections together (default 512 MiB): out-of-order data,
    /// provenance, and the application decoders' partial heads, frames, messages and
    /// inflaters. Past it the connection buffering the most is evicted, and said so.
    pub max_buffered_total: usize,
    /// HTTP heads and bodies, WebSocket frames, messages and inflation, TLS records.
    pub app: conversation::Limits,
    /// What one frame's model shows: application PDUs, problems, reassembled bytes.
    pub frame: FrameLimits,
    /// Frames and bytes the terminal UI keeps.
    pub session: SessionLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            defrag: DefragLimits::default(),
            tracker: TrackerLimits::default(),
            max_buffered_total: 512 << 20,
            app: conversation::Limits::default(),
            frame: FrameLimits::default(),
            session: SessionLimits::default(),
        }
    }
}

/// Parses a size such as `64K`, `16M`, `1G` or `1000` into bytes (suffixes are powers of
/// 1024, `B` is allowed after them).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    let number = lower.strip_suffix('b').unwrap_or(&lower);
    let (digits, shift) = match number.char_indices().last() {
        Some((at, 'k')) => (number.get(..at), 10),
        Some((at, 'm')) => (number.get(..at), 20),
        Some((at, 'g')) => (number.get(..at), 30),
        _ => (Some(number), 0),
    };
    let value: usize = digits
        .unwrap_or("")
        .trim()
        .parse()
        .map_err(|_| format!("`{trimmed}` is not a size like 64K, 16M or 1G"))?;
    value
        .checked_mul(1usize.checked_shl(shift).unwrap_or(0))
        .ok_or_else(|| format!("`{trimmed}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("16m"), Ok(16 << 20));
        assert_eq!(parse_size("1GB"), Ok(1 << 30));
        assert_eq!(parse_size(" 2 M "), Ok(2 << 20));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let limits = Limits::default();
        assert_eq!(limits.tracker.max_streams, 10_000);
        assert_eq!(limits.max_buffered_total, 512 << 20);
        assert_eq!(limits.tracker.reassembly.max_buffered_bytes, 4 << 20);
        assert_eq!(limits.defrag.max_datagrams_pending, 1024);
        assert_eq!(limits.defrag.max_bytes_pending, 16 << 20);
        assert_eq!(limits.app.http.max_head_len, 64 << 10);
        assert_eq!(limits.app.http.max_headers, 100);
        assert_eq!(limits.app.websocket.max_frame_len, 16 << 20);
        assert_eq!(limits.app.websocket.max_message_len, 64 << 20);
        assert_eq!(limits.app.websocket.max_inflated_len, 64 << 20);
        assert_eq!(limits.frame.max_pdus, 1000);
        assert_eq!(limits.session.max_frames, 20_000_000);
    }
}
