//! Finding the next frame header after a hole in the stream.
//!
//! Without a hole, framing is deterministic: each header says where the next one starts.
//! After a hole whose end is not a known frame boundary, nothing says where a frame starts,
//! so [`scan`] looks for one. The heuristic:
//!
//! 1. A position is a *candidate* when a header parses there and breaks no rule that
//!    [`HeaderRules`] checks: known opcode, minimal length, clear length MSB, control frames final
//!    and at most 125 bytes, masking that fits the sender, reserved bits only where negotiated.
//!    Empty non-final data frames are not candidates either: they are legal but rare, and runs
//!    of zero bytes read as exactly that.
//! 2. A candidate is *confirmed* when the bytes right after its payload are again a candidate
//!    header, or when its frame ends exactly at the end of the stream. The first confirmed
//!    candidate wins.
//! 3. A candidate whose frame runs past the bytes at hand is *pending*. The scan waits for more
//!    bytes while the look-ahead (`window` bytes from the earliest pending candidate) is not
//!    exhausted. Once it is, or at the end of the stream, the earliest pending candidate is
//!    accepted *unconfirmed*, but only if its payload is at most `max_unconfirmed_len`; a
//!    large length from a false candidate would otherwise swallow the stream.
//! 4. Bytes before the accepted position are reported as skipped.
//!
//! The cost is one header parse per byte position, and the buffer is bounded by `window` plus
//! the size of the last chunk.

use crate::application::websocket::check::HeaderRules;
use crate::application::websocket::frame::{field, FrameHeader, LengthFormat};
use crate::application::websocket::opcode::OpCode;
use crate::application::websocket::Sender;

/// The outcome of one scan over the bytes kept since the hole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanOutcome {
    /// A frame header starts at `at`.
    Found {
        /// The offset in the scanned buffer.
        at: usize,
        /// True when the next header (or the end of the stream) lines up with this frame's end.
        confirmed: bool,
    },
    /// Nothing can be decided yet: bytes before `keep_from` are skipped, the rest kept.
    NeedMore {
        /// The first offset that must be kept for the next scan.
        keep_from: usize,
    },
    /// At the end of the stream, no header was found: every byte is skipped.
    NotFound,
}

/// How far the scan may look ahead and what it may accept without confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanLimits {
    /// The look-ahead from the earliest pending candidate before the scan stops waiting.
    pub window: usize,
    /// The largest payload that a candidate may announce and still be accepted unconfirmed.
    pub max_unconfirmed_len: u64,
}

/// What one position holds.
enum Candidate {
    /// No acceptable header starts here.
    No,
    /// A header may start here, but the buffer ends inside it.
    Cut,
    /// A candidate whose frame end is followed by another candidate (or the end of the stream).
    Confirmed,
    /// A candidate that cannot be confirmed with the bytes at hand.
    Pending {
        /// The frame's total length (header and payload), saturated.
        frame_len: u64,
        /// The announced payload length.
        payload_len: u64,
    },
}

/// Looks for the first plausible frame header in `buf`. See the module doc for the heuristic.
pub fn scan(buf: &[u8], rules: &HeaderRules, limits: ScanLimits, at_end: bool) -> ScanOutcome {
    let window = limits.window as u64;
    // The earliest pending candidate that may still be confirmed or accepted.
    let mut hold: Option<usize> = None;
    // The earliest pending candidate that may be accepted without confirmation.
    let mut fallback: Option<usize> = None;
    let mut first_cut: Option<usize> = None;
    for at in 0..buf.len() {
        let Some(rest) = buf.get(at..) else { break };
        match classify(rest, rules, at_end) {
            Candidate::No => {}
            Candidate::Cut => {
                first_cut.get_or_insert(at);
            }
            Candidate::Confirmed => {
                if let Some(held) = hold {
                    if !at_end && (buf.len().saturating_sub(held) as u64) < window {
                        return ScanOutcome::NeedMore { keep_from: held };
                    }
                }
                return ScanOutcome::Found {
                    at,
                    confirmed: true,
                };
            }
            Candidate::Pending {
                frame_len,
                payload_len,
            } => {
                let acceptable = payload_len <= limits.max_unconfirmed_len;
                if acceptable || frame_len <= window {
                    hold.get_or_insert(at);
                }
                if acceptable {
                    fallback.get_or_insert(at);
                }
            }
        }
    }
    if let Some(held) = hold {
        if !at_end && (buf.len().saturating_sub(held) as u64) < window {
            return ScanOutcome::NeedMore { keep_from: held };
        }
    }
    if let Some(at) = fallback {
        return ScanOutcome::Found {
            at,
            confirmed: false,
        };
    }
    if at_end {
        return ScanOutcome::NotFound;
    }
    ScanOutcome::NeedMore {
        keep_from: first_cut.unwrap_or(buf.len()),
    }
}

fn classify(rest: &[u8], rules: &HeaderRules, at_end: bool) -> Candidate {
    let Some((header, header_len)) = FrameHeader::parse_lax(rest) else {
        return if !at_end && cut_is_plausible(rest, rules) {
            Candidate::Cut
        } else {
            Candidate::No
        };
    };
    if !is_candidate(&header, rules) {
        return Candidate::No;
    }
    let frame_len = (header_len as u64).saturating_add(header.payload_len);
    let available = rest.len() as u64;
    let pending = Candidate::Pending {
        frame_len,
        payload_len: header.payload_len,
    };
    if frame_len > available {
        return pending;
    }
    if frame_len == available {
        return if at_end {
            Candidate::Confirmed
        } else {
            pending
        };
    }
    let next = usize::try_from(frame_len)
        .ok()
        .and_then(|end| rest.get(end..))
        .unwrap_or_default();
    match FrameHeader::parse_lax(next) {
        Some((next_header, _)) if is_candidate(&next_header, rules) => Candidate::Confirmed,
        Some(_) => Candidate::No,
        None if cut_is_plausible(next, rules) => pending,
        None => Candidate::No,
    }
}

/// A header breaks no rule and is not an empty non-final data frame.
///
/// Empty non-final data frames are legal but rare, while runs of zero bytes (which read as
/// `00 00`: an empty, non-final continuation) are common in binary payloads.
fn is_candidate(header: &FrameHeader, rules: &HeaderRules) -> bool {
    let empty_fragment = header.payload_len == 0 && !header.fin && !header.opcode.is_control();
    !empty_fragment && rules.is_plausible(header)
}

/// Judges a header that the buffer cuts short by the bytes it has: byte 0 (flags and opcode)
/// and, when present, byte 1 (MASK and the 7-bit length). Without byte 1 the MASK bit is
/// assumed to be what the sender must use.
fn cut_is_plausible(cut: &[u8], rules: &HeaderRules) -> bool {
    let Some(&byte0) = cut.first() else {
        return false;
    };
    let byte1 = cut.get(1).copied();
    let masked = match byte1 {
        Some(byte1) => byte1 & field::MASK != 0,
        None => rules.sender == Sender::Client,
    };
    let opcode = OpCode::from_nibble(byte0);
    let len7 = byte1.map(|byte1| byte1 & field::LEN7);
    if opcode.is_control() && len7.is_some_and(|len7| u64::from(len7) > field::LEN7_MAX) {
        return false;
    }
    if !opcode.is_control() && byte0 & field::FIN == 0 && len7 == Some(0) {
        return false;
    }
    let header = FrameHeader {
        fin: byte0 & field::FIN != 0,
        rsv1: byte0 & field::RSV1 != 0,
        rsv2: byte0 & field::RSV2 != 0,
        rsv3: byte0 & field::RSV3 != 0,
        opcode,
        mask: masked.then_some([0; 4]),
        payload_len: 0,
        length_format: LengthFormat::U7,
    };
    rules.is_plausible(&header)
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

    const SERVER: HeaderRules = HeaderRules {
        sender: Sender::Server,
        deflate: false,
        other_extensions: false,
    };
    const LIMITS: ScanLimits = ScanLimits {
        window: 64,
        max_unconfirmed_len: 1000,
    };

    /// Two unmasked server text frames: "Hello" and "Hi".
    fn two_frames() -> Vec<u8> {
        let mut bytes = vec![0x81, 0x05];
        bytes.extend_from_slice(b"Hello");
        bytes.extend_from_slice(&[0x81, 0x02]);
        bytes.extend_from_slice(b"Hi");
        bytes
    }

    #[test]
    fn finds_a_confirmed_header_after_noise() {
        let mut buf = b"xyz".to_vec();
        buf.extend_from_slice(&two_frames());
        assert_eq!(
            scan(&buf, &SERVER, LIMITS, false),
            ScanOutcome::Found {
                at: 3,
                confirmed: true
            }
        );
    }

    #[test]
    fn frame_ending_the_stream_is_confirmed_at_the_end_only() {
        let buf = [b'z', 0x82, 0x01, 0xAA];
        assert_eq!(
            scan(&buf, &SERVER, LIMITS, true),
            ScanOutcome::Found {
                at: 1,
                confirmed: true
            }
        );
        assert_eq!(
            scan(&buf, &SERVER, LIMITS, false),
            ScanOutcome::NeedMore { keep_from: 1 }
        );
    }

    #[test]
    fn pending_candidate_is_accepted_once_the_window_is_exhausted() {
        // A binary frame of 200 bytes whose end lies beyond the 64-byte window.
        let mut buf = vec![b'z', 0x82, 0x7E, 0x00, 0xC8];
        buf.extend(std::iter::repeat_n(b'a', 40));
        assert_eq!(
            scan(&buf, &SERVER, LIMITS, false),
            ScanOutcome::NeedMore { keep_from: 1 }
        );
        buf.extend(std::iter::repeat_n(b'a', 40));
        assert_eq!(
            scan(&buf, &SERVER, LIMITS, false),
            ScanOutcome::Found {
                at: 1,
                confirmed: false
            }
        );
    }

    #[test]
    fn huge_unconfirmed_length_is_not_accepted() {
        // 64-bit length of 2^40 bytes: never accepted unconfirmed.
        let mut buf = vec![0x82, 0x7F, 0, 0, 0x01, 0, 0, 0, 0, 0];
        buf.extend(std::iter::repeat_n(b'a', 100));
        assert_eq!(scan(&buf, &SERVER, LIMITS, true), ScanOutcome::NotFound);
    }

    #[test]
    fn masked_headers_are_not_candidates_in_server_data() {
        // 0x81 0x85 would be a masked text header: a server never masks.
        let buf = [0x81, 0x85, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(scan(&buf, &SERVER, LIMITS, true), ScanOutcome::NotFound);
    }

    #[test]
    fn a_cut_header_at_the_end_is_kept() {
        let buf = [b'a', b'b', 0x82, 0x7E, 0x01];
        assert_eq!(
            scan(&buf, &SERVER, LIMITS, false),
            ScanOutcome::NeedMore { keep_from: 2 }
        );
        let none = [b'a', b'b', b'c'];
        assert_eq!(
            scan(&none, &SERVER, LIMITS, false),
            ScanOutcome::NeedMore { keep_from: 3 }
        );
    }

    #[test]
    fn confirmed_candidate_waits_for_an_earlier_pending_one() {
        // A pending 20-byte binary frame at 0 whose payload hides two small valid frames.
        let mut buf = vec![0x82, 0x14];
        buf.extend_from_slice(&two_frames());
        assert_eq!(
            scan(&buf, &SERVER, LIMITS, false),
            ScanOutcome::NeedMore { keep_from: 0 }
        );
        // At the end of the stream the confirmed one wins.
        assert_eq!(
            scan(&buf, &SERVER, LIMITS, true),
            ScanOutcome::Found {
                at: 2,
                confirmed: true
            }
        );
    }
}
