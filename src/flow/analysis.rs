//! tshark-compatible TCP sequence analysis of one connection: the `tcp.analysis.*` flags,
//! duplicate-ACK counts, ACK round-trip times, the initial RTT, conversation completeness and
//! relative sequence numbers.
//!
//! One [`Analyzer`] owns one TCP connection. It is fed every [`Segment`] of that connection in
//! capture order and returns, per segment, an [`Analysis`]: the [`Flags`] Wireshark would raise,
//! each with its field key, expert severity and a learner explanation.
//!
//! # Which rules, in which order
//!
//! The rules are those of Wireshark 4.0's `tcp_analyze_sequence_number` (packet-tcp.c), the
//! release whose tshark osiscope is compared with; the User's Guide section "TCP Analysis"
//! summarises them. Later releases changed several of them (see the compatibility notes). They
//! are applied in Wireshark's order, because later rules read state that earlier ones wrote and
//! several rules stop the ones after them:
//!
//! 1. Zero window probe: 1 byte at the next expected sequence number while the peer's last window
//!    was 0. It skips rules 2 to 9.
//! 2. Zero window: window 0 and none of SYN, FIN, RST.
//! 3. Lost segment: the sequence number is beyond the next expected one (not for RST).
//! 4. Keep-alive: 0 or 1 byte starting one byte before the next expected sequence number, none of
//!    SYN, FIN, RST.
//! 5. Window update: no payload, a non-zero window that differs from this side's last one, the
//!    next expected sequence number, the same ACK as last time, none of SYN, FIN, RST.
//! 6. Window full: payload whose end reaches the peer's last ACK plus its (scaled) window, once
//!    the window scaling of the peer is known; none of SYN, FIN, RST.
//! 7. Keep-alive ACK: no payload, the same non-zero window, sequence number and ACK as this side's
//!    last segment, and the peer's last segment was a keep-alive. It skips rules 8 and 9.
//! 8. Zero window probe ACK: like 7 with window 0 after a zero window probe. It skips rule 9.
//! 9. Duplicate ACK: like 7 without the keep-alive: the count since the last ACK that changed the
//!    acknowledgement number goes up, and that ACK's frame is the one duplicated.
//! 10. ACKed unseen segment: the ACK covers bytes beyond the highest contiguous byte the peer was
//!     seen sending. When the peer was seen sending bytes beyond that point (a hole inside what
//!     was captured), the bound moves to the peer's next expected sequence number. Otherwise
//!     (bytes never seen at all) the flag is raised only when the peer has sent no duplicate ACK
//!     since its own acknowledgement number last changed, and the peer's duplicate count is set
//!     to a marker (Wireshark's -1 in an unsigned counter), so that the same gap is reported
//!     once while the peer is silent. The peer's next duplicate ACK is then numbered 1, and
//!     until its acknowledgement number changes the marker counts as enough duplicate ACKs for
//!     rule 11's fast retransmission.
//! 11. For segments with payload, SYN or FIN, and not keep-alives, in this order:
//!     - spurious retransmission when there is payload and it ends at or before the peer's last
//!       ACK (this test alone also applies to segments at or beyond the next expected sequence
//!       number);
//!     - nothing more unless the sequence number is below the next expected one, and the segment
//!       is not a longer segment starting exactly one byte early (new data after a zero window
//!       probe);
//!     - fast retransmission, within 20 ms of the peer's last segment, when the peer sent at least
//!       2 duplicate ACKs (or holds rule 10's marker) for exactly this sequence number;
//!     - out-of-order, within the out-of-order threshold (the initial RTT, or 3 ms when none is
//!       known) of the segment that last advanced this side's next expected sequence number, unless
//!       this segment (counting a SYN or FIN as one byte) ends exactly there;
//!     - retransmission otherwise.
//!
//!     As in tshark, a fast or spurious retransmission is also a retransmission: both flags are
//!     set.
//! 12. The ACK of this segment acknowledges earlier segments of the peer: the oldest one that
//!     ends exactly at the ACK gives `tcp.analysis.acks_frame` and `tcp.analysis.ack_rtt`; an ACK
//!     inside a segment only shortens it.
//! 13. SYN, SYN-ACK, FIN and RST raise the `tcp.connection.*` notes.
//! 14. The initial RTT is the time from the most recent pure SYN to the first segment with ACK
//!     and without SYN, in either direction.
//!
//! # Compatibility notes
//!
//! - Wireshark 4.0 reads SACK options for display only: SACK blocks never make an ACK a
//!   duplicate or a resent segment a fast retransmission. [`Segment::sack`] and [`Segment::mss`]
//!   are accepted so that callers can pass every option, and are ignored. Later releases added
//!   SACK-based rules, measured out-of-order from the peer's last segment, and changed how a
//!   zero window probe's ACK and the ACKed-unseen bound are handled; osiscope follows 4.0.
//! - As in Wireshark, a raw value of 0 means "not known yet" for the next expected sequence
//!   number, the last ACK and the highest byte to be acknowledged: a genuine 0 is treated as
//!   unknown (one value in 2^32).
//! - Sequence comparisons use Wireshark's signed 32-bit difference, so numbers exactly 2^31
//!   apart compare as "after" both ways, as they do there.
//! - Time differences that would be negative (timestamps going backwards) count as 0.
//!
//! # Memory
//!
//! Per connection the analyzer keeps O(1) state per direction plus the list of segments sent but
//! not yet acknowledged, bounded by [`AnalysisLimits::max_unacked_segments`] (Wireshark's
//! `TCP_MAX_UNACKED_SEGMENTS`, 10 000 by default; 24 bytes each). Segments beyond the limit
//! are not remembered, exactly as in Wireshark.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use super::seq::SeqNumber;
use super::{Direction, TcpFlags};

/// Wireshark field keys raised by this module.
///
/// In the application these belong with the other keys in `dissect/keys.rs`.
pub mod key {
    /// A retransmitted segment.
    pub const RETRANSMISSION: &str = "tcp.analysis.retransmission";
    /// A segment resent after duplicate ACKs.
    pub const FAST_RETRANSMISSION: &str = "tcp.analysis.fast_retransmission";
    /// A segment resent although already acknowledged.
    pub const SPURIOUS_RETRANSMISSION: &str = "tcp.analysis.spurious_retransmission";
    /// A segment that arrived after later data.
    pub const OUT_OF_ORDER: &str = "tcp.analysis.out_of_order";
    /// Previous segment not captured.
    pub const LOST_SEGMENT: &str = "tcp.analysis.lost_segment";
    /// ACKed segment that was not captured.
    pub const ACK_LOST_SEGMENT: &str = "tcp.analysis.ack_lost_segment";
    /// A duplicate ACK.
    pub const DUPLICATE_ACK: &str = "tcp.analysis.duplicate_ack";
    /// The duplicate ACK's number within its series.
    pub const DUPLICATE_ACK_NUM: &str = "tcp.analysis.duplicate_ack_num";
    /// The frame whose ACK is duplicated.
    pub const DUPLICATE_ACK_FRAME: &str = "tcp.analysis.duplicate_ack_frame";
    /// A zero window.
    pub const ZERO_WINDOW: &str = "tcp.analysis.zero_window";
    /// A zero window probe.
    pub const ZERO_WINDOW_PROBE: &str = "tcp.analysis.zero_window_probe";
    /// The ACK of a zero window probe.
    pub const ZERO_WINDOW_PROBE_ACK: &str = "tcp.analysis.zero_window_probe_ack";
    /// A segment that fills the peer's window.
    pub const WINDOW_FULL: &str = "tcp.analysis.window_full";
    /// A window update.
    pub const WINDOW_UPDATE: &str = "tcp.analysis.window_update";
    /// A keep-alive.
    pub const KEEP_ALIVE: &str = "tcp.analysis.keep_alive";
    /// The ACK of a keep-alive.
    pub const KEEP_ALIVE_ACK: &str = "tcp.analysis.keep_alive_ack";
    /// The frame this ACK acknowledges.
    pub const ACKS_FRAME: &str = "tcp.analysis.acks_frame";
    /// The time from that frame to this ACK.
    pub const ACK_RTT: &str = "tcp.analysis.ack_rtt";
    /// The time from the SYN to the ACK completing the handshake.
    pub const INITIAL_RTT: &str = "tcp.analysis.initial_rtt";
    /// A SYN.
    pub const CONNECTION_SYN: &str = "tcp.connection.syn";
    /// A SYN-ACK.
    pub const CONNECTION_SYN_ACK: &str = "tcp.connection.sack";
    /// A FIN.
    pub const CONNECTION_FIN: &str = "tcp.connection.fin";
    /// A RST.
    pub const CONNECTION_RST: &str = "tcp.connection.rst";
    /// The conversation completeness bit mask.
    pub const COMPLETENESS: &str = "tcp.completeness";
    /// The relative sequence number.
    pub const SEQ: &str = "tcp.seq";
    /// The relative acknowledgement number.
    pub const ACK: &str = "tcp.ack";
    /// The relative sequence number after this segment.
    pub const NXTSEQ: &str = "tcp.nxtseq";
}

/// A problem building analysis input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A timestamp given in seconds must be a finite number.
    #[error("timestamp is not a finite number of seconds")]
    TimestampNotFinite,
    /// A timestamp must not be before the Unix epoch.
    #[error("timestamp is before the Unix epoch")]
    TimestampNegative,
    /// A timestamp must fit in 64 bits of nanoseconds (until the year 2554).
    #[error("timestamp does not fit in 64 bits of nanoseconds")]
    TimestampTooLarge,
}

/// A capture timestamp: nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Returns the timestamp `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Timestamp {
        Timestamp(nanos)
    }

    /// Converts seconds since the epoch, rounded to the nearest nanosecond.
    ///
    /// A 64-bit float holds about 16 significant digits, so current dates keep only about a
    /// quarter of a microsecond: prefer [`Timestamp::from_nanos`] when the source has integers.
    pub fn from_secs_f64(secs: f64) -> Result<Timestamp, Error> {
        if !secs.is_finite() {
            return Err(Error::TimestampNotFinite);
        }
        if secs < 0.0 {
            return Err(Error::TimestampNegative);
        }
        let nanos = (secs * 1e9).round();
        // 2^64 is exactly representable; every float below it converts without saturating.
        if nanos >= 18_446_744_073_709_551_616.0 {
            return Err(Error::TimestampTooLarge);
        }
        // The value is a whole number in 0..2^64, so the conversion is exact.
        Ok(Timestamp(nanos as u64))
    }

    /// Returns the nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Returns the nanoseconds from `earlier` to `self`, or 0 when `earlier` is later.
    pub const fn nanos_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Returns the time from `earlier` to `self`, or zero when `earlier` is later.
    pub const fn duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.nanos_since(earlier))
    }
}

/// How serious an expert note is, as tshark grades it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The usual workflow, such as a SYN.
    Chat,
    /// Notable but common, such as a retransmission.
    Note,
    /// Possibly a problem, such as a lost segment.
    Warning,
}

impl Severity {
    /// Returns tshark's name for the severity.
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Chat => "chat",
            Severity::Note => "note",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One expert note about a segment: a `tcp.analysis.*` flag or a `tcp.connection.*` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flag {
    /// `tcp.analysis.retransmission`.
    Retransmission,
    /// `tcp.analysis.fast_retransmission`.
    FastRetransmission,
    /// `tcp.analysis.spurious_retransmission`.
    SpuriousRetransmission,
    /// `tcp.analysis.out_of_order`.
    OutOfOrder,
    /// `tcp.analysis.lost_segment`.
    LostSegment,
    /// `tcp.analysis.ack_lost_segment`.
    AckLostSegment,
    /// `tcp.analysis.duplicate_ack`.
    DuplicateAck,
    /// `tcp.analysis.zero_window`.
    ZeroWindow,
    /// `tcp.analysis.zero_window_probe`.
    ZeroWindowProbe,
    /// `tcp.analysis.zero_window_probe_ack`.
    ZeroWindowProbeAck,
    /// `tcp.analysis.window_full`.
    WindowFull,
    /// `tcp.analysis.window_update`.
    WindowUpdate,
    /// `tcp.analysis.keep_alive`.
    KeepAlive,
    /// `tcp.analysis.keep_alive_ack`.
    KeepAliveAck,
    /// `tcp.connection.syn`.
    ConnectionSyn,
    /// `tcp.connection.sack` (a SYN-ACK, not a selective ACK).
    ConnectionSynAck,
    /// `tcp.connection.fin`.
    ConnectionFin,
    /// `tcp.connection.rst`.
    ConnectionRst,
}

impl Flag {
    /// Every flag, in the order [`Flags::iter`] yields them.
    pub const ALL: [Flag; 18] = [
        Flag::Retransmission,
        Flag::FastRetransmission,
        Flag::SpuriousRetransmission,
        Flag::OutOfOrder,
        Flag::LostSegment,
        Flag::AckLostSegment,
        Flag::DuplicateAck,
        Flag::ZeroWindow,
        Flag::ZeroWindowProbe,
        Flag::ZeroWindowProbeAck,
        Flag::WindowFull,
        Flag::WindowUpdate,
        Flag::KeepAlive,
        Flag::KeepAliveAck,
        Flag::ConnectionSyn,
        Flag::ConnectionSynAck,
        Flag::ConnectionFin,
        Flag::ConnectionRst,
    ];

    const fn bit(self) -> u32 {
        let index = match self {
            Flag::Retransmission => 0,
            Flag::FastRetransmission => 1,
            Flag::SpuriousRetransmission => 2,
            Flag::OutOfOrder => 3,
            Flag::LostSegment => 4,
            Flag::AckLostSegment => 5,
            Flag::DuplicateAck => 6,
            Flag::ZeroWindow => 7,
            Flag::ZeroWindowProbe => 8,
            Flag::ZeroWindowProbeAck => 9,
            Flag::WindowFull => 10,
            Flag::WindowUpdate => 11,
            Flag::KeepAlive => 12,
            Flag::KeepAliveAck => 13,
            Flag::ConnectionSyn => 14,
            Flag::ConnectionSynAck => 15,
            Flag::ConnectionFin => 16,
            Flag::ConnectionRst => 17,
        };
        1 << index
    }

    /// Returns the Wireshark field key (`tcp.analysis.retransmission`, ...).
    pub const fn key(self) -> &'static str {
        match self {
            Flag::Retransmission => key::RETRANSMISSION,
            Flag::FastRetransmission => key::FAST_RETRANSMISSION,
            Flag::SpuriousRetransmission => key::SPURIOUS_RETRANSMISSION,
            Flag::OutOfOrder => key::OUT_OF_ORDER,
            Flag::LostSegment => key::LOST_SEGMENT,
            Flag::AckLostSegment => key::ACK_LOST_SEGMENT,
            Flag::DuplicateAck => key::DUPLICATE_ACK,
            Flag::ZeroWindow => key::ZERO_WINDOW,
            Flag::ZeroWindowProbe => key::ZERO_WINDOW_PROBE,
            Flag::ZeroWindowProbeAck => key::ZERO_WINDOW_PROBE_ACK,
            Flag::WindowFull => key::WINDOW_FULL,
            Flag::WindowUpdate => key::WINDOW_UPDATE,
            Flag::KeepAlive => key::KEEP_ALIVE,
            Flag::KeepAliveAck => key::KEEP_ALIVE_ACK,
            Flag::ConnectionSyn => key::CONNECTION_SYN,
            Flag::ConnectionSynAck => key::CONNECTION_SYN_ACK,
            Flag::ConnectionFin => key::CONNECTION_FIN,
            Flag::ConnectionRst => key::CONNECTION_RST,
        }
    }

    /// Returns the severity tshark gives this note.
    pub const fn severity(self) -> Severity {
        match self {
            Flag::OutOfOrder
            | Flag::LostSegment
            | Flag::AckLostSegment
            | Flag::ZeroWindow
            | Flag::WindowFull
            | Flag::ConnectionRst => Severity::Warning,
            Flag::Retransmission
            | Flag::FastRetransmission
            | Flag::SpuriousRetransmission
            | Flag::DuplicateAck
            | Flag::ZeroWindowProbe
            | Flag::ZeroWindowProbeAck
            | Flag::KeepAlive
            | Flag::KeepAliveAck => Severity::Note,
            Flag::WindowUpdate
            | Flag::ConnectionSyn
            | Flag::ConnectionSynAck
            | Flag::ConnectionFin => Severity::Chat,
        }
    }

    /// Returns tshark's expert message for this note.
    pub const fn summary(self) -> &'static str {
        match self {
            Flag::Retransmission => "This frame is a (suspected) retransmission",
            Flag::FastRetransmission => "This frame is a (suspected) fast retransmission",
            Flag::SpuriousRetransmission => "This frame is a (suspected) spurious retransmission",
            Flag::OutOfOrder => "This frame is a (suspected) out-of-order segment",
            Flag::LostSegment => "Previous segment(s) not captured (common at capture start)",
            Flag::AckLostSegment => "ACKed segment that wasn't captured (common at capture start)",
            Flag::DuplicateAck => "Duplicate ACK",
            Flag::ZeroWindow => "TCP Zero Window segment",
            Flag::ZeroWindowProbe => "TCP Zero Window Probe",
            Flag::ZeroWindowProbeAck => "ACK to a TCP Zero Window Probe",
            Flag::WindowFull => "TCP window specified by the receiver is now completely full",
            Flag::WindowUpdate => "TCP window update",
            Flag::KeepAlive => "TCP keep-alive segment",
            Flag::KeepAliveAck => "ACK to a TCP keep-alive segment",
            Flag::ConnectionSyn => "Connection establish request (SYN)",
            Flag::ConnectionSynAck => "Connection establish acknowledge (SYN+ACK)",
            Flag::ConnectionFin => "Connection finish (FIN)",
            Flag::ConnectionRst => "Connection reset (RST)",
        }
    }

    /// Returns the bracketed label tshark puts in the Info column, for analysis flags.
    ///
    /// The duplicate ACK label is completed by [`DuplicateAck`]'s `Display`
    /// (`TCP Dup ACK 5#2`); connection notes have no label.
    pub const fn column_label(self) -> Option<&'static str> {
        match self {
            Flag::Retransmission => Some("TCP Retransmission"),
            Flag::FastRetransmission => Some("TCP Fast Retransmission"),
            Flag::SpuriousRetransmission => Some("TCP Spurious Retransmission"),
            Flag::OutOfOrder => Some("TCP Out-Of-Order"),
            Flag::LostSegment => Some("TCP Previous segment not captured"),
            Flag::AckLostSegment => Some("TCP ACKed unseen segment"),
            Flag::DuplicateAck => Some("TCP Dup ACK"),
            Flag::ZeroWindow => Some("TCP ZeroWindow"),
            Flag::ZeroWindowProbe => Some("TCP ZeroWindowProbe"),
            Flag::ZeroWindowProbeAck => Some("TCP ZeroWindowProbeAck"),
            Flag::WindowFull => Some("TCP Window Full"),
            Flag::WindowUpdate => Some("TCP Window Update"),
            Flag::KeepAlive => Some("TCP Keep-Alive"),
            Flag::KeepAliveAck => Some("TCP Keep-Alive ACK"),
            Flag::ConnectionSyn
            | Flag::ConnectionSynAck
            | Flag::ConnectionFin
            | Flag::ConnectionRst => None,
        }
    }

    /// Returns one sentence telling a learner what happened on the wire.
    pub const fn explanation(self) -> &'static str {
        match self {
            Flag::Retransmission => {
                "This segment repeats bytes already sent: the sender thought they were lost because no acknowledgement came back in time."
            }
            Flag::FastRetransmission => {
                "The sender resent these bytes right after duplicate ACKs told it the receiver was missing exactly them, without waiting for its timer."
            }
            Flag::SpuriousRetransmission => {
                "This segment repeats bytes the receiver had already acknowledged, so sending them again was unnecessary."
            }
            Flag::OutOfOrder => {
                "This segment fills a gap behind data seen just before it: the network delivered segments in a different order than they were sent."
            }
            Flag::LostSegment => {
                "This segment starts beyond the next expected byte: the bytes in between were lost on the way or the capture missed them."
            }
            Flag::AckLostSegment => {
                "This ACK acknowledges bytes the capture never saw: the receiver got them, but they passed the capture point unseen."
            }
            Flag::DuplicateAck => {
                "This ACK repeats the previous acknowledgement without new data: the receiver still waits for the same byte, usually because a segment went missing."
            }
            Flag::ZeroWindow => {
                "The sender of this segment advertises a window of zero: its receive buffer is full and the peer must stop sending."
            }
            Flag::ZeroWindowProbe => {
                "One byte sent into a zero window to ask whether the receiver has made room again."
            }
            Flag::ZeroWindowProbeAck => {
                "The answer to a zero window probe: the receiver still has no room and keeps its window at zero."
            }
            Flag::WindowFull => {
                "This segment fills the receiver's advertised window completely: the sender must now wait for an ACK before sending more."
            }
            Flag::WindowUpdate => {
                "This segment only changes the advertised window, telling the peer how much it may send; it acknowledges nothing new."
            }
            Flag::KeepAlive => {
                "A keep-alive: the sender repeats the byte before its next one to check that the quiet peer is still there."
            }
            Flag::KeepAliveAck => {
                "The answer to a keep-alive: the peer is still there and repeats its acknowledgement."
            }
            Flag::ConnectionSyn => {
                "A request to open a connection (SYN), announcing the sender's initial sequence number."
            }
            Flag::ConnectionSynAck => {
                "The server accepts the connection (SYN-ACK): it acknowledges the client's SYN and announces its own initial sequence number."
            }
            Flag::ConnectionFin => {
                "The sender has no more data and closes its direction of the connection (FIN)."
            }
            Flag::ConnectionRst => {
                "The connection is reset (RST): it is aborted at once, without the usual FIN exchange."
            }
        }
    }

    /// Returns true for the `tcp.analysis.*` flags, false for the `tcp.connection.*` notes.
    pub const fn is_analysis(self) -> bool {
        self.column_label().is_some()
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A set of [`Flag`]s.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags(u32);

impl Flags {
    /// Returns the empty set.
    pub const fn empty() -> Flags {
        Flags(0)
    }

    /// Returns true when `flag` is in the set.
    pub const fn contains(self, flag: Flag) -> bool {
        self.0 & flag.bit() != 0
    }

    /// Adds `flag`.
    pub fn insert(&mut self, flag: Flag) {
        self.0 |= flag.bit();
    }

    /// Removes `flag`.
    pub fn remove(&mut self, flag: Flag) {
        self.0 &= !flag.bit();
    }

    /// Returns true when no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Returns the `tcp.analysis.*` flags only, without the connection notes.
    pub fn analysis_only(self) -> Flags {
        let mut out = Flags::empty();
        for flag in self.iter().filter(|f| f.is_analysis()) {
            out.insert(flag);
        }
        out
    }

    /// Iterates over the flags in the set, in [`Flag::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Flag> {
        Flag::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

impl FromIterator<Flag> for Flags {
    fn from_iter<I: IntoIterator<Item = Flag>>(iter: I) -> Flags {
        let mut out = Flags::empty();
        for flag in iter {
            out.insert(flag);
        }
        out
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The window scale state of one direction, as Wireshark tracks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WindowScale {
    /// No handshake seen yet that would tell.
    Unknown,
    /// The handshake showed that windows are not scaled.
    NotUsed,
    /// Windows from this side are shifted left by this many bits (at most 14).
    Shift(u8),
}

/// One SACK block: the peer holds the bytes from `left` up to, not including, `right`.
///
/// The analysis ignores SACK blocks, as Wireshark 4.0 does (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SackBlock {
    /// The first sequence number held.
    pub left: SeqNumber,
    /// The sequence number after the last one held.
    pub right: SeqNumber,
}

/// The header fields of one segment that the analysis needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    /// Which way the segment travels.
    pub dir: Direction,
    /// The frame number (1-based, as Wireshark numbers frames).
    pub frame: u64,
    /// The capture timestamp.
    pub ts: Timestamp,
    /// The raw sequence number.
    pub seq: SeqNumber,
    /// The raw acknowledgement number, even when ACK is clear.
    pub ack: SeqNumber,
    /// The control bits.
    pub flags: TcpFlags,
    /// Payload bytes on the wire (from the IP length), captured or not.
    pub payload_len: u32,
    /// The raw, unscaled window field.
    pub window: u16,
    /// The shift of a Window Scale option, if the segment carries one (normally only SYNs).
    pub window_scale: Option<u8>,
    /// The value of an MSS option, if the segment carries one. Wireshark 4.0's sequence
    /// analysis does not use it, and neither does this module.
    pub mss: Option<u16>,
    /// The blocks of a SACK option, if the segment carries one (an empty slice for an option
    /// without blocks). Wireshark 4.0's sequence analysis ignores SACK, and so does this module.
    pub sack: Option<&'a [SackBlock]>,
}

/// Which duplicate this ACK is: `tcp.analysis.duplicate_ack_num` and `_frame`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DuplicateAck {
    /// 1 for the first duplicate, 2 for the second, ...
    pub num: u32,
    /// The frame of the ACK being duplicated (the last one that changed the ACK number).
    pub frame: u64,
}

impl fmt::Display for DuplicateAck {
    /// Prints tshark's Info column label, `TCP Dup ACK <frame>#<num>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TCP Dup ACK {}#{}", self.frame, self.num)
    }
}

/// Sequence numbers relative to each direction's first one, as Wireshark shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RelativeNumbers {
    /// `tcp.seq`: 0 for the SYN, 1 for the first data byte.
    pub seq: u32,
    /// `tcp.ack`, or `None` when ACK is clear (tshark then shows the raw field).
    pub ack: Option<u32>,
    /// `tcp.nxtseq`: the relative sequence number after this segment (SYN and FIN count one).
    pub nxtseq: u32,
}

/// Wireshark's `tcp.completeness`: which parts of a connection's life were seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Completeness(pub u8);

impl Completeness {
    /// A SYN opened the conversation.
    pub const SYN: u8 = 1;
    /// A SYN-ACK was seen.
    pub const SYN_ACK: u8 = 2;
    /// A pure ACK (no SYN, no payload) was seen.
    pub const ACK: u8 = 4;
    /// Data was seen (a segment with payload and ACK but no SYN, or a SYN with data).
    pub const DATA: u8 = 8;
    /// A FIN with ACK was seen.
    pub const FIN: u8 = 16;
    /// A RST was seen.
    pub const RST: u8 = 32;

    /// Returns true when every bit of `mask` is set.
    pub const fn contains(self, mask: u8) -> bool {
        self.0 & mask == mask
    }

    /// Returns true when the three-way handshake (SYN, SYN-ACK, ACK) was seen.
    pub const fn handshake_complete(self) -> bool {
        self.contains(Self::SYN | Self::SYN_ACK | Self::ACK)
    }

    /// Returns true when Wireshark calls the conversation complete: handshake and close seen.
    pub const fn is_complete(self) -> bool {
        self.handshake_complete() && self.0 & (Self::FIN | Self::RST) != 0
    }

    /// Returns Wireshark's description of the value, without the number.
    pub const fn description(self) -> &'static str {
        const OPEN: u8 = Completeness::SYN | Completeness::SYN_ACK | Completeness::ACK;
        match self.0 {
            Self::SYN => "Incomplete, SYN_SENT",
            3 => "Incomplete, CLIENT_ESTABLISHED",
            OPEN => "Incomplete, ESTABLISHED",
            15 => "Incomplete, DATA",
            31 | 47 | 63 => "Complete, WITH_DATA",
            23 | 39 | 55 => "Complete, NO_DATA",
            _ => "Incomplete",
        }
    }
}

impl fmt::Display for Completeness {
    /// Prints Wireshark's label, such as `Complete, WITH_DATA (31)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description(), self.0)
    }
}

/// The analysis of one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Analysis {
    /// The expert notes raised for this segment.
    pub flags: Flags,
    /// The duplicate ACK details, when [`Flag::DuplicateAck`] is set.
    pub duplicate_ack: Option<DuplicateAck>,
    /// `tcp.analysis.acks_frame`: the frame of the peer's segment this ACK acknowledges.
    pub acks_frame: Option<u64>,
    /// `tcp.analysis.ack_rtt`: the time since that frame (absent when zero, as in tshark).
    pub ack_rtt: Option<Duration>,
    /// `tcp.analysis.initial_rtt`, as known after this segment.
    pub initial_rtt: Option<Duration>,
    /// Relative sequence and acknowledgement numbers.
    pub relative: RelativeNumbers,
    /// The conversation completeness after this segment.
    pub completeness: Completeness,
}

/// Bounds on the analyzer's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnalysisLimits {
    /// Unacknowledged segments remembered per direction; later ones are not (as Wireshark's
    /// `TCP_MAX_UNACKED_SEGMENTS`, which this defaults to).
    pub max_unacked_segments: usize,
}

impl Default for AnalysisLimits {
    fn default() -> Self {
        AnalysisLimits {
            max_unacked_segments: 10_000,
        }
    }
}

/// Returns true when Wireshark treats the raw value as known (it uses 0 for "not yet").
const fn known(value: SeqNumber) -> bool {
    value.0 != 0
}

/// Wireshark's `GT_SEQ`: `a` after `b` by the signed 32-bit difference.
const fn gt(a: SeqNumber, b: SeqNumber) -> bool {
    b.distance_from(a) < 0
}

/// Wireshark's `LT_SEQ`.
const fn lt(a: SeqNumber, b: SeqNumber) -> bool {
    a.distance_from(b) < 0
}

/// Wireshark's `LE_SEQ`.
const fn le(a: SeqNumber, b: SeqNumber) -> bool {
    a.distance_from(b) <= 0
}

/// The fast retransmission rule looks at the peer's last segment within this time.
const FAST_RETRANSMISSION_WINDOW_NS: u64 = 20_000_000;

/// The out-of-order threshold when no initial RTT is known.
const DEFAULT_OUT_OF_ORDER_NS: u64 = 3_000_000;

/// The duplicate ACK count of a side whose unseen bytes the peer acknowledged (rule 10).
///
/// Wireshark stores -1 in an unsigned counter, and the value keeps its effects there: the
/// side's next duplicate ACK is numbered 1, and the fast retransmission rule, which asks for
/// at least 2 duplicate ACKs, takes the marker as more than enough.
const UNSEEN_REPORTED: u32 = u32::MAX;

/// A segment sent and not yet acknowledged.
#[derive(Clone, Copy, Debug)]
struct Unacked {
    frame: u64,
    seq: SeqNumber,
    nextseq: SeqNumber,
    ts: Timestamp,
}

/// What the analysis knows about the segments one side sends.
#[derive(Clone, Debug)]
struct Side {
    /// The relative numbering base: the ISN, or one before the first sequence number seen.
    base_seq: Option<SeqNumber>,
    win_scale: WindowScale,
    /// True from this side's SYN until its first segment with ACK and without SYN.
    is_first_ack: bool,
    /// The last window field this side sent; `None` before it sent anything.
    window: Option<u16>,
    /// The highest sequence number seen plus length ("next expected"); 0 when unknown.
    nextseq: SeqNumber,
    /// The end of the contiguous bytes seen from the start; 0 when unknown.
    maxseqtobeacked: SeqNumber,
    /// The last acknowledgement number this side sent; 0 when unknown.
    lastack: SeqNumber,
    /// When this side last sent a segment.
    lastacktime: Timestamp,
    /// The last frame of this side that changed its acknowledgement number.
    lastnondupack: u64,
    /// Duplicate ACKs sent since then, or [`UNSEEN_REPORTED`] once the peer acknowledged bytes
    /// never seen from this side.
    dupacknum: u32,
    /// When `nextseq` last advanced.
    nextseqtime: Timestamp,
    /// The analysis flags of this side's last segment.
    lastsegmentflags: Flags,
    /// Segments sent and not yet acknowledged, newest first.
    unacked: VecDeque<Unacked>,
}

impl Side {
    fn new() -> Side {
        Side {
            base_seq: None,
            win_scale: WindowScale::Unknown,
            is_first_ack: false,
            window: None,
            nextseq: SeqNumber(0),
            maxseqtobeacked: SeqNumber(0),
            lastack: SeqNumber(0),
            lastacktime: Timestamp(0),
            lastnondupack: 0,
            dupacknum: 0,
            nextseqtime: Timestamp(0),
            lastsegmentflags: Flags::empty(),
            unacked: VecDeque::new(),
        }
    }

    /// Returns the window this side last advertised, in bytes, as the window-full rule scales
    /// it (Wireshark takes an unknown window as `u32::MAX`).
    fn scaled_window(&self) -> u32 {
        let raw = self.window.map_or(u32::MAX, u32::from);
        let shift = match (self.is_first_ack, self.win_scale) {
            (false, WindowScale::Shift(shift)) => u32::from(shift),
            _ => 0,
        };
        raw.wrapping_shl(shift)
    }
}

/// The per-segment results being gathered (Wireshark's `tcp_acked`).
#[derive(Clone, Copy, Debug, Default)]
struct Findings {
    flags: Flags,
    duplicate_ack: Option<DuplicateAck>,
    acks_frame: Option<u64>,
    ack_rtt: Option<Duration>,
}

impl Findings {
    fn set(&mut self, flag: Flag) {
        self.flags.insert(flag);
    }
}

/// The sequence analysis of one TCP connection.
#[derive(Clone, Debug)]
pub struct Analyzer {
    limits: AnalysisLimits,
    client: Side,
    server: Side,
    started: bool,
    last_syn_ts: Option<Timestamp>,
    initial_rtt: Option<Duration>,
    completeness: Completeness,
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::new(AnalysisLimits::default())
    }
}

impl Analyzer {
    /// Returns an analyzer for a connection not yet seen.
    pub fn new(limits: AnalysisLimits) -> Analyzer {
        Analyzer {
            limits,
            client: Side::new(),
            server: Side::new(),
            started: false,
            last_syn_ts: None,
            initial_rtt: None,
            completeness: Completeness::default(),
        }
    }

    fn side(&self, dir: Direction) -> &Side {
        match dir {
            Direction::ClientToServer => &self.client,
            Direction::ServerToClient => &self.server,
        }
    }

    /// Returns the sender's and the receiver's state for a segment travelling in `dir`.
    fn sides_mut(&mut self, dir: Direction) -> (&mut Side, &mut Side) {
        match dir {
            Direction::ClientToServer => (&mut self.client, &mut self.server),
            Direction::ServerToClient => (&mut self.server, &mut self.client),
        }
    }

    /// Returns the relative numbering base of the segments travelling in `dir`.
    ///
    /// It is the ISN when the SYN was seen, otherwise one less than the first sequence number
    /// seen (so that it shows as 1), or one less than the first acknowledgement of it.
    pub fn base_seq(&self, dir: Direction) -> Option<SeqNumber> {
        self.side(dir).base_seq
    }

    /// Returns `tcp.seq` for a sequence number of a segment travelling in `dir`.
    pub fn relative_seq(&self, dir: Direction, seq: SeqNumber) -> Option<u32> {
        self.base_seq(dir).map(|base| seq.forward_from(base))
    }

    /// Returns `tcp.ack` for an acknowledgement number carried by a segment travelling in `dir`.
    pub fn relative_ack(&self, dir: Direction, ack: SeqNumber) -> Option<u32> {
        self.base_seq(dir.reverse())
            .map(|base| ack.forward_from(base))
    }

    /// Returns `tcp.nxtseq` for a segment travelling in `dir`: its relative sequence number
    /// plus its length, plus one for a SYN or a FIN.
    pub fn relative_nxtseq(
        &self,
        dir: Direction,
        seq: SeqNumber,
        payload_len: u32,
        flags: TcpFlags,
    ) -> Option<u32> {
        let flag_len = u32::from(flags.intersects(TcpFlags::SYN | TcpFlags::FIN));
        self.relative_seq(dir, seq)
            .map(|rel| rel.wrapping_add(payload_len).wrapping_add(flag_len))
    }

    /// Returns the window scaling known for segments travelling in `dir`.
    pub fn window_scale(&self, dir: Direction) -> WindowScale {
        self.side(dir).win_scale
    }

    /// Returns the initial RTT, once a SYN and a later ACK were seen.
    pub fn initial_rtt(&self) -> Option<Duration> {
        self.initial_rtt
    }

    /// Returns the conversation completeness so far.
    pub fn completeness(&self) -> Completeness {
        self.completeness
    }

    /// Returns how many unacknowledged segments are remembered for `dir` (bounded by the limit).
    pub fn unacked_segments(&self, dir: Direction) -> usize {
        self.side(dir).unacked.len()
    }

    /// Analyses the next segment of the connection, in capture order.
    pub fn analyze(&mut self, seg: &Segment<'_>) -> Analysis {
        let first_segment = !self.started;
        self.started = true;
        let flags = seg.flags;
        let is_syn = flags.contains(TcpFlags::SYN);
        let is_ack = flags.contains(TcpFlags::ACK);
        let ack_without_syn = is_ack && !is_syn;
        let (initial_rtt, limits) = (self.initial_rtt, self.limits);

        let (fwd, rev) = self.sides_mut(seg.dir);
        if fwd.base_seq.is_none() {
            fwd.base_seq = Some(if is_syn {
                seg.seq
            } else {
                seg.seq.wrapping_sub(1)
            });
        }
        if rev.base_seq.is_none() && is_ack {
            rev.base_seq = Some(seg.ack.wrapping_sub(1));
        }

        let mut found = analyze_sequence(fwd, rev, seg, initial_rtt, limits);

        // Connection notes, the initial RTT and the start of window scaling.
        if is_syn {
            if is_ack {
                found.flags.insert(Flag::ConnectionSynAck);
            } else {
                found.flags.insert(Flag::ConnectionSyn);
                self.last_syn_ts = Some(seg.ts);
            }
        }
        if flags.contains(TcpFlags::FIN) {
            found.flags.insert(Flag::ConnectionFin);
        }
        if flags.contains(TcpFlags::RST) {
            found.flags.insert(Flag::ConnectionRst);
        }
        if ack_without_syn && self.initial_rtt.is_none() {
            if let Some(syn_ts) = self.last_syn_ts {
                let rtt = seg.ts.duration_since(syn_ts);
                // Wireshark keeps a zero RTT as "not known yet".
                if !rtt.is_zero() {
                    self.initial_rtt = Some(rtt);
                }
            }
        }

        let (fwd, rev) = self.sides_mut(seg.dir);
        if is_syn {
            fwd.is_first_ack = true;
        }
        if ack_without_syn {
            fwd.is_first_ack = false;
        }

        // The Window Scale option, which Wireshark reads after the sequence analysis.
        if let Some(shift) = seg.window_scale {
            // RFC 7323: a shift above 14 is used as 14.
            fwd.win_scale = WindowScale::Shift(shift.min(14));
        }
        if is_syn {
            verify_window_scaling(fwd, rev, is_ack);
        }

        self.update_completeness(first_segment, seg);

        let fwd_base = self.side(seg.dir).base_seq.unwrap_or(seg.seq);
        let rel_seq = seg.seq.forward_from(fwd_base);
        let flag_len = u32::from(flags.intersects(TcpFlags::SYN | TcpFlags::FIN));
        let relative = RelativeNumbers {
            seq: rel_seq,
            ack: if is_ack {
                self.relative_ack(seg.dir, seg.ack)
            } else {
                None
            },
            nxtseq: rel_seq.wrapping_add(seg.payload_len).wrapping_add(flag_len),
        };

        Analysis {
            flags: found.flags,
            duplicate_ack: found.duplicate_ack,
            acks_frame: found.acks_frame,
            ack_rtt: found.ack_rtt,
            initial_rtt: self.initial_rtt,
            relative,
            completeness: self.completeness,
        }
    }

    fn update_completeness(&mut self, first_segment: bool, seg: &Segment<'_>) {
        let flags = seg.flags;
        let syn = flags.contains(TcpFlags::SYN);
        let ack = flags.contains(TcpFlags::ACK);
        let mut bits = self.completeness.0;
        // Only a SYN that opens the conversation counts: Wireshark looks for it in new
        // conversations only.
        if first_segment && syn && !ack {
            bits |= Completeness::SYN;
            if seg.payload_len > 0 {
                // TCP Fast Open carries data in the SYN.
                bits |= Completeness::DATA;
            }
        }
        if syn && ack {
            bits |= Completeness::SYN_ACK;
        }
        if ack && !syn {
            bits |= if seg.payload_len > 0 {
                Completeness::DATA
            } else {
                Completeness::ACK
            };
        }
        if flags.contains(TcpFlags::FIN) && ack {
            bits |= Completeness::FIN;
        }
        if flags.contains(TcpFlags::RST) {
            bits |= Completeness::RST;
        }
        self.completeness = Completeness(bits);
    }
}

/// Runs rules 1 to 12 of the module documentation for one segment.
fn analyze_sequence(
    fwd: &mut Side,
    rev: &mut Side,
    seg: &Segment<'_>,
    initial_rtt: Option<Duration>,
    limits: AnalysisLimits,
) -> Findings {
    let mut found = Findings::default();
    let seq = seg.seq;
    let ack = seg.ack;
    let seglen = seg.payload_len;
    let window = seg.window;
    let syn_fin_rst = seg
        .flags
        .intersects(TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST);
    let syn_or_fin = seg.flags.intersects(TcpFlags::SYN | TcpFlags::FIN);

    forward_checks(fwd, rev, seg, syn_fin_rst, &mut found);

    // A new acknowledgement number starts a new series of duplicates.
    if ack != fwd.lastack {
        fwd.lastnondupack = seg.frame;
        fwd.dupacknum = 0;
    }

    // Rule 10: ACKed unseen segment.
    if known(rev.maxseqtobeacked)
        && gt(ack, rev.maxseqtobeacked)
        && seg.flags.contains(TcpFlags::ACK)
    {
        if lt(rev.maxseqtobeacked, rev.nextseq) {
            // A hole inside the bytes seen from the peer: report it and move the bound past
            // them, so that the hole is reported once.
            rev.maxseqtobeacked = rev.nextseq;
            found.set(Flag::AckLostSegment);
        } else {
            // Bytes never seen at all: report them unless the peer repeated its ACK since its
            // acknowledgement number last changed, and keep quiet until it changes again.
            if rev.dupacknum == 0 {
                found.set(Flag::AckLostSegment);
            }
            rev.dupacknum = UNSEEN_REPORTED;
        }
    }

    // Rule 11: spurious retransmission, fast retransmission, out-of-order, retransmission.
    if seglen > 0 || syn_or_fin {
        classify_resent(fwd, rev, seg, initial_rtt, &mut found);
    }

    // Remember this segment and move the "next expected" marks.
    let mut nextseq = seq.wrapping_add(seglen);
    if (seglen > 0 || syn_or_fin) && fwd.unacked.len() < limits.max_unacked_segments {
        if syn_or_fin {
            nextseq = nextseq.wrapping_add(1);
        }
        fwd.unacked.push_front(Unacked {
            frame: seg.frame,
            seq,
            nextseq,
            ts: seg.ts,
        });
    }
    let is_probe = found.flags.contains(Flag::ZeroWindowProbe);
    if (gt(nextseq, fwd.nextseq) || !known(fwd.nextseq)) && !is_probe {
        fwd.nextseq = nextseq;
        fwd.nextseqtime = seg.ts;
    }
    if (seq == fwd.maxseqtobeacked || !known(fwd.maxseqtobeacked)) && !is_probe {
        fwd.maxseqtobeacked = fwd.nextseq;
    }
    fwd.window = Some(window);
    fwd.lastack = ack;
    fwd.lastacktime = seg.ts;
    fwd.lastsegmentflags = found.flags;

    // Rule 12: drop the peer's segments this ACK covers. The oldest one it ends exactly gives
    // the RTT (the list is newest first, so the last match wins).
    rev.unacked.retain_mut(|unacked| {
        if ack == unacked.nextseq {
            found.acks_frame = Some(unacked.frame);
            let rtt = seg.ts.duration_since(unacked.ts);
            found.ack_rtt = (!rtt.is_zero()).then_some(rtt);
            false
        } else if gt(ack, unacked.seq) && le(ack, unacked.nextseq) {
            // A partial ACK: the rest of the segment is still outstanding, and no frame is
            // reported as acknowledged.
            unacked.seq = ack;
            true
        } else {
            gt(unacked.nextseq, ack)
        }
    });

    found
}

/// Runs rules 1 to 9 of the module documentation; the early returns are Wireshark's skips.
fn forward_checks(
    fwd: &mut Side,
    rev: &Side,
    seg: &Segment<'_>,
    syn_fin_rst: bool,
    found: &mut Findings,
) {
    let seq = seg.seq;
    let ack = seg.ack;
    let seglen = seg.payload_len;
    let window = seg.window;

    // Rule 1: zero window probe.
    if seglen == 1 && seq == fwd.nextseq && rev.window == Some(0) {
        found.set(Flag::ZeroWindowProbe);
        return;
    }
    // Rule 2: zero window.
    if window == 0 && !syn_fin_rst {
        found.set(Flag::ZeroWindow);
    }
    // Rule 3: lost segment.
    if known(fwd.nextseq) && gt(seq, fwd.nextseq) && !seg.flags.contains(TcpFlags::RST) {
        found.set(Flag::LostSegment);
    }
    // Rule 4: keep-alive.
    if seglen <= 1 && seq == fwd.nextseq.wrapping_sub(1) && !syn_fin_rst {
        found.set(Flag::KeepAlive);
    }
    let repeats_position = seglen == 0 && seq == fwd.nextseq && ack == fwd.lastack && !syn_fin_rst;
    let same_window = fwd.window == Some(window);
    // Rule 5: window update.
    if repeats_position && window != 0 && !same_window {
        found.set(Flag::WindowUpdate);
    }
    // Rule 6: window full.
    if seglen > 0
        && rev.win_scale != WindowScale::Unknown
        && seq.wrapping_add(seglen) == rev.lastack.wrapping_add(rev.scaled_window())
        && !syn_fin_rst
    {
        found.set(Flag::WindowFull);
    }
    // Rule 7: keep-alive ACK.
    if repeats_position
        && window != 0
        && same_window
        && rev.lastsegmentflags.contains(Flag::KeepAlive)
    {
        found.set(Flag::KeepAliveAck);
        return;
    }
    // Rule 8: zero window probe ACK.
    if repeats_position
        && window == 0
        && same_window
        && rev.lastsegmentflags.contains(Flag::ZeroWindowProbe)
    {
        found.set(Flag::ZeroWindowProbeAck);
        return;
    }
    // Rule 9: duplicate ACK. The first one after an ACKed unseen segment is number 1.
    if repeats_position && window != 0 && same_window {
        fwd.dupacknum = if fwd.dupacknum == UNSEEN_REPORTED {
            1
        } else {
            fwd.dupacknum.saturating_add(1)
        };
        found.set(Flag::DuplicateAck);
        found.duplicate_ack = Some(DuplicateAck {
            num: fwd.dupacknum,
            frame: fwd.lastnondupack,
        });
    }
}

/// Runs rule 11 of the module documentation for a segment with payload, SYN or FIN.
fn classify_resent(
    fwd: &Side,
    rev: &Side,
    seg: &Segment<'_>,
    initial_rtt: Option<Duration>,
    found: &mut Findings,
) {
    let seq = seg.seq;
    let seglen = seg.payload_len;
    if found.flags.contains(Flag::KeepAlive) {
        return;
    }
    let mut seq_not_advanced = known(fwd.nextseq) && lt(seq, fwd.nextseq);
    // A longer segment starting one byte early follows a zero window probe that was dropped:
    // it brings new data and is no retransmission.
    if seglen > 1 && fwd.nextseq.wrapping_sub(1) == seq {
        seq_not_advanced = false;
    }
    // Spurious retransmission: bytes the peer has already acknowledged. This test does not
    // need the sequence number to lie below the next expected one.
    if seglen > 0 && known(rev.lastack) && le(seq.wrapping_add(seglen), rev.lastack) {
        found.set(Flag::SpuriousRetransmission);
        found.set(Flag::Retransmission);
        return;
    }
    if !seq_not_advanced {
        return;
    }
    // Fast retransmission: at least 2 duplicate ACKs asked for exactly this sequence number
    // (or the peer's count holds the ACKed-unseen marker, as in Wireshark).
    let since_peer = seg.ts.nanos_since(rev.lastacktime);
    if since_peer < FAST_RETRANSMISSION_WINDOW_NS && rev.dupacknum >= 2 && rev.lastack == seq {
        found.set(Flag::FastRetransmission);
        found.set(Flag::Retransmission);
        return;
    }
    // Out-of-order: soon after the segment that last advanced the next expected sequence
    // number, unless this segment (a SYN or FIN counting one) ends exactly there.
    let threshold_ns = initial_rtt.map_or(DEFAULT_OUT_OF_ORDER_NS, |rtt| {
        u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX)
    });
    let since_highest = seg.ts.nanos_since(fwd.nextseqtime);
    let flag_len = u32::from(seg.flags.intersects(TcpFlags::SYN | TcpFlags::FIN));
    if since_highest < threshold_ns
        && fwd.nextseq != seq.wrapping_add(seglen).wrapping_add(flag_len)
    {
        found.set(Flag::OutOfOrder);
        return;
    }
    found.set(Flag::Retransmission);
}

/// Settles window scaling once a SYN or SYN-ACK has shown its options: scaling is used only
/// when both sides offered it.
fn verify_window_scaling(fwd: &mut Side, rev: &mut Side, is_syn_ack: bool) {
    if fwd.win_scale == WindowScale::Unknown {
        fwd.win_scale = WindowScale::NotUsed;
        rev.win_scale = WindowScale::NotUsed;
    } else if is_syn_ack && rev.win_scale == WindowScale::NotUsed {
        fwd.win_scale = WindowScale::NotUsed;
    }
}

#[cfg(test)]
#[allow(
    clippy::arithmetic_side_effects,
    reason = "test arithmetic on known small values"
)]
mod tests {
    use super::*;
    use crate::flow::state;
    use proptest::prelude::*;
    use Direction::{ClientToServer as C2S, ServerToClient as S2C};

    // Realistic ISNs, well away from 0, which Wireshark reads as "not known yet".
    const C_ISN: u32 = 1_000_000;
    const S_ISN: u32 = 5_000_000;
    const WIN: u16 = 8192;

    const SYN: TcpFlags = TcpFlags::SYN;
    const ACK: TcpFlags = TcpFlags::ACK;
    const FIN: TcpFlags = TcpFlags::FIN;
    const RST: TcpFlags = TcpFlags::RST;
    const PSH: TcpFlags = TcpFlags::PSH;

    /// The absolute client sequence number with relative number `n`.
    fn c(n: u32) -> u32 {
        C_ISN + n
    }

    /// The absolute server sequence number with relative number `n`.
    fn s(n: u32) -> u32 {
        S_ISN + n
    }

    /// A segment description; times are in microseconds after a 1 s origin, so that "never"
    /// (Wireshark's zero time) lies far in the past as it does in real captures.
    #[derive(Clone, Debug)]
    struct Seg {
        dir: Direction,
        us: u64,
        flags: TcpFlags,
        seq: u32,
        ack: u32,
        len: u32,
        win: u16,
        ws: Option<u8>,
        sack: Option<Vec<SackBlock>>,
    }

    fn seg(dir: Direction, us: u64, flags: TcpFlags, seq: u32, ack: u32, len: u32) -> Seg {
        Seg {
            dir,
            us,
            flags,
            seq,
            ack,
            len,
            win: WIN,
            ws: None,
            sack: None,
        }
    }

    impl Seg {
        fn win(mut self, win: u16) -> Seg {
            self.win = win;
            self
        }
        fn ws(mut self, shift: u8) -> Seg {
            self.ws = Some(shift);
            self
        }
        fn sack(mut self, blocks: &[(u32, u32)]) -> Seg {
            let blocks = blocks
                .iter()
                .map(|&(l, r)| SackBlock {
                    left: SeqNumber(l),
                    right: SeqNumber(r),
                })
                .collect();
            self.sack = Some(blocks);
            self
        }
    }

    /// An analyzer plus a frame counter: frames are numbered 1, 2, ... in feeding order.
    struct Script {
        analyzer: Analyzer,
        frame: u64,
    }

    impl Script {
        fn new() -> Script {
            Script::with(Analyzer::default())
        }

        fn with(analyzer: Analyzer) -> Script {
            Script { analyzer, frame: 0 }
        }

        fn feed(&mut self, s: Seg) -> Analysis {
            self.frame += 1;
            let segment = Segment {
                dir: s.dir,
                frame: self.frame,
                ts: Timestamp::from_nanos((1_000_000 + s.us) * 1000),
                seq: SeqNumber(s.seq),
                ack: SeqNumber(s.ack),
                flags: s.flags,
                payload_len: s.len,
                window: s.win,
                window_scale: s.ws,
                mss: None,
                sack: s.sack.as_deref(),
            };
            self.analyzer.analyze(&segment)
        }

        /// SYN at 0 ms, SYN-ACK at 10 ms, ACK at 20 ms: frames 1 to 3, initial RTT 20 ms.
        fn handshake(&mut self) -> [Analysis; 3] {
            [
                self.feed(seg(C2S, 0, SYN, C_ISN, 0, 0)),
                self.feed(seg(S2C, 10_000, SYN | ACK, S_ISN, c(1), 0)),
                self.feed(seg(C2S, 20_000, ACK, c(1), s(1), 0)),
            ]
        }
    }

    fn flags(list: &[Flag]) -> Flags {
        list.iter().copied().collect()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    // --- Handshake, notes, relative numbers, completeness -------------------------------

    #[test]
    fn handshake_raises_connection_notes_and_measures_the_initial_rtt() {
        let mut t = Script::new();
        let [syn, syn_ack, ack] = t.handshake();

        assert_eq!(syn.flags, flags(&[Flag::ConnectionSyn]));
        assert_eq!(
            syn.relative,
            RelativeNumbers {
                seq: 0,
                ack: None,
                nxtseq: 1
            }
        );
        assert_eq!(syn.completeness.to_string(), "Incomplete, SYN_SENT (1)");
        assert_eq!(syn.initial_rtt, None);

        assert_eq!(syn_ack.flags, flags(&[Flag::ConnectionSynAck]));
        assert_eq!(
            syn_ack.relative,
            RelativeNumbers {
                seq: 0,
                ack: Some(1),
                nxtseq: 1
            }
        );
        // The SYN-ACK acknowledges the SYN of frame 1, 10 ms earlier.
        assert_eq!(
            (syn_ack.acks_frame, syn_ack.ack_rtt),
            (Some(1), Some(ms(10)))
        );
        assert_eq!(
            syn_ack.completeness.to_string(),
            "Incomplete, CLIENT_ESTABLISHED (3)"
        );

        assert!(ack.flags.is_empty());
        assert_eq!(
            ack.relative,
            RelativeNumbers {
                seq: 1,
                ack: Some(1),
                nxtseq: 1
            }
        );
        assert_eq!((ack.acks_frame, ack.ack_rtt), (Some(2), Some(ms(10))));
        // SYN at 0 ms, handshake ACK at 20 ms.
        assert_eq!(ack.initial_rtt, Some(ms(20)));
        assert!(ack.completeness.handshake_complete());
        assert_eq!(ack.completeness.to_string(), "Incomplete, ESTABLISHED (7)");
        assert_eq!(t.analyzer.initial_rtt(), Some(ms(20)));
    }

    #[test]
    fn clean_transfer_and_close_raise_no_analysis_flag() {
        let mut t = Script::new();
        t.handshake();
        let mut results = vec![
            t.feed(seg(C2S, 30_000, ACK | PSH, c(1), s(1), 100)),
            t.feed(seg(S2C, 40_000, ACK, s(1), c(101), 0)),
            t.feed(seg(S2C, 41_000, ACK | PSH, s(1), c(101), 50)),
            t.feed(seg(C2S, 50_000, ACK, c(101), s(51), 0)),
            t.feed(seg(C2S, 60_000, FIN | ACK, c(101), s(51), 0)),
            t.feed(seg(S2C, 70_000, FIN | ACK, s(51), c(102), 0)),
            t.feed(seg(C2S, 80_000, ACK, c(102), s(52), 0)),
        ];
        for (i, a) in results.iter().enumerate() {
            assert!(
                a.flags.analysis_only().is_empty(),
                "frame {}: {:?}",
                i + 4,
                a.flags
            );
        }
        // The server's ACK acknowledges the data of frame 4, 10 ms later.
        assert_eq!(
            (results[1].acks_frame, results[1].ack_rtt),
            (Some(4), Some(ms(10)))
        );
        let fin = results.remove(4);
        assert_eq!(fin.flags, flags(&[Flag::ConnectionFin]));
        assert_eq!(
            fin.relative,
            RelativeNumbers {
                seq: 101,
                ack: Some(51),
                nxtseq: 102
            }
        );
        let last = results.pop().unwrap();
        assert_eq!(last.completeness.to_string(), "Complete, WITH_DATA (31)");
        assert!(last.completeness.is_complete());
        // The initial RTT stays the handshake's.
        assert_eq!(last.initial_rtt, Some(ms(20)));
    }

    #[test]
    fn rst_is_a_warning_and_marks_completeness() {
        let mut t = Script::new();
        t.handshake();
        let rst = t.feed(seg(S2C, 30_000, RST | ACK, s(1), c(1), 0).win(0));
        assert!(rst.flags.contains(Flag::ConnectionRst));
        // A RST with window 0 is not a zero window.
        assert!(!rst.flags.contains(Flag::ZeroWindow));
        assert_eq!(Flag::ConnectionRst.severity(), Severity::Warning);
        assert_eq!(Flag::ConnectionFin.severity(), Severity::Chat);
        assert_eq!(rst.completeness.0, 1 | 2 | 4 | 32);
        assert_eq!(rst.completeness.to_string(), "Complete, NO_DATA (39)");
    }

    #[test]
    fn a_syn_seen_late_does_not_count_as_opening_the_conversation() {
        let mut t = Script::new();
        t.feed(seg(C2S, 0, ACK, c(1), s(1), 10));
        let syn = t.feed(seg(C2S, 1_000, SYN, 77, 0, 0));
        assert_eq!(syn.completeness.0, Completeness::DATA);
    }

    #[test]
    fn relative_numbers_start_at_one_mid_stream() {
        let mut t = Script::new();
        let first = t.feed(seg(S2C, 0, ACK, 700_000, 123_456, 10));
        assert_eq!(
            first.relative,
            RelativeNumbers {
                seq: 1,
                ack: Some(1),
                nxtseq: 11
            }
        );
        let reply = t.feed(seg(C2S, 1_000, ACK, 123_456, 700_010, 0));
        assert_eq!(
            reply.relative,
            RelativeNumbers {
                seq: 1,
                ack: Some(11),
                nxtseq: 1
            }
        );
        // The helpers expose the same per-direction bases.
        let a = &t.analyzer;
        assert_eq!(a.base_seq(S2C), Some(SeqNumber(699_999)));
        assert_eq!(a.base_seq(C2S), Some(SeqNumber(123_455)));
        assert_eq!(a.relative_seq(S2C, SeqNumber(700_100)), Some(101));
        assert_eq!(a.relative_ack(C2S, SeqNumber(700_100)), Some(101));
        assert_eq!(
            a.relative_nxtseq(C2S, SeqNumber(123_456), 5, FIN | ACK),
            Some(7)
        );
        assert_eq!(Analyzer::default().relative_seq(C2S, SeqNumber(1)), None);
    }

    #[test]
    fn relative_numbers_cross_the_sequence_wrap() {
        let mut t = Script::new();
        let isn = 0xFFFF_FFF0;
        t.feed(seg(C2S, 0, SYN, isn, 0, 0));
        t.feed(seg(S2C, 10_000, SYN | ACK, S_ISN, isn.wrapping_add(1), 0));
        t.feed(seg(C2S, 20_000, ACK, isn.wrapping_add(1), s(1), 0));
        // 100 bytes from relative 1: the raw numbers wrap past 2^32, the relative ones do not.
        let data = t.feed(seg(C2S, 30_000, ACK, isn.wrapping_add(1), s(1), 100));
        assert_eq!(
            data.relative,
            RelativeNumbers {
                seq: 1,
                ack: Some(1),
                nxtseq: 101
            }
        );
        let ack = t.feed(seg(S2C, 40_000, ACK, s(1), isn.wrapping_add(101), 0));
        assert_eq!(ack.relative.ack, Some(101));
        assert!(data.flags.is_empty() && ack.flags.is_empty());
        assert_eq!(ack.acks_frame, Some(4));
    }

    // --- Retransmissions and out-of-order -------------------------------------------------

    #[test]
    fn a_segment_sent_again_after_a_timeout_is_a_retransmission() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        // No ACK came back; 300 ms later the same bytes go out again.
        let again = t.feed(seg(C2S, 330_000, ACK, c(1), s(1), 100));
        assert_eq!(again.flags, flags(&[Flag::Retransmission]));
        assert_eq!(Flag::Retransmission.severity(), Severity::Note);
        assert_eq!(
            Flag::Retransmission.column_label(),
            Some("TCP Retransmission")
        );
        assert!(Flag::Retransmission.explanation().starts_with(
            "This segment repeats bytes already sent: the sender thought they were lost"
        ));
    }

    #[test]
    fn a_retransmitted_syn_is_a_retransmission_and_restarts_the_rtt_clock() {
        let mut t = Script::new();
        t.feed(seg(C2S, 0, SYN, C_ISN, 0, 0));
        let again = t.feed(seg(C2S, 1_000_000, SYN, C_ISN, 0, 0));
        assert_eq!(
            again.flags,
            flags(&[Flag::Retransmission, Flag::ConnectionSyn])
        );
        t.feed(seg(S2C, 1_010_000, SYN | ACK, S_ISN, c(1), 0));
        let ack = t.feed(seg(C2S, 1_020_000, ACK, c(1), s(1), 0));
        // Measured from the second SYN, not the first.
        assert_eq!(ack.initial_rtt, Some(ms(20)));
    }

    #[test]
    fn a_pure_ack_is_never_a_retransmission() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        t.feed(seg(S2C, 40_000, ACK, s(1), c(101), 50));
        // An ACK carrying an old sequence number but no data repeats nothing.
        let old = t.feed(seg(S2C, 400_000, ACK, s(1), c(101), 0));
        assert!(old.flags.is_empty(), "{:?}", old.flags);
    }

    #[test]
    fn resending_acknowledged_bytes_is_a_spurious_retransmission_and_a_retransmission() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        t.feed(seg(S2C, 40_000, ACK, s(1), c(101), 0));
        let again = t.feed(seg(C2S, 300_000, ACK, c(1), s(1), 100));
        assert_eq!(
            again.flags,
            flags(&[Flag::Retransmission, Flag::SpuriousRetransmission])
        );
    }

    #[test]
    fn a_spurious_retransmission_is_found_before_out_of_order() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        t.feed(seg(C2S, 30_100, ACK, c(101), s(1), 100));
        t.feed(seg(S2C, 30_500, ACK, s(1), c(101), 0));
        // 0.9 ms after the highest segment, well within the 20 ms initial RTT, but the bytes
        // were already acknowledged.
        let again = t.feed(seg(C2S, 31_000, ACK, c(1), s(1), 100));
        assert_eq!(
            again.flags,
            flags(&[Flag::Retransmission, Flag::SpuriousRetransmission])
        );
    }

    #[test]
    fn acknowledged_bytes_at_the_next_sequence_number_are_a_spurious_retransmission() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        // The server acknowledges 101..201, which the capture missed.
        let unseen = t.feed(seg(S2C, 40_000, ACK, s(1), c(201), 0));
        assert_eq!(unseen.flags, flags(&[Flag::AckLostSegment]));
        // The client's copy of them starts at its next sequence number, yet is spurious.
        let copy = t.feed(seg(C2S, 300_000, ACK, c(101), s(1), 100));
        assert_eq!(
            copy.flags,
            flags(&[Flag::Retransmission, Flag::SpuriousRetransmission])
        );
    }

    /// Handshake, then data 1..101 and 201..301 (frame 5 skips 101..201), then the server
    /// acknowledges 101 at 40 ms: frames 1 to 6.
    fn gap_then_ack() -> Script {
        let mut t = Script::new();
        t.handshake();
        assert!(t
            .feed(seg(C2S, 30_000, ACK, c(1), s(1), 100))
            .flags
            .is_empty());
        let skip = t.feed(seg(C2S, 31_000, ACK, c(201), s(1), 100));
        assert_eq!(skip.flags, flags(&[Flag::LostSegment]));
        assert_eq!(Flag::LostSegment.severity(), Severity::Warning);
        let ack = t.feed(seg(S2C, 40_000, ACK, s(1), c(101), 0));
        assert!(ack.flags.is_empty());
        t
    }

    #[test]
    fn a_gap_filler_soon_after_the_highest_segment_is_out_of_order() {
        let mut t = gap_then_ack();
        // 14 ms after frame 5 set the highest sequence number, below the 20 ms initial RTT.
        let filler = t.feed(seg(C2S, 45_000, ACK, c(101), s(1), 100));
        assert_eq!(filler.flags, flags(&[Flag::OutOfOrder]));
        assert_eq!(Flag::OutOfOrder.severity(), Severity::Warning);
    }

    #[test]
    fn a_late_gap_filler_is_a_retransmission() {
        let mut t = gap_then_ack();
        // 39 ms after frame 5 set the highest sequence number, beyond the 20 ms initial RTT.
        let filler = t.feed(seg(C2S, 70_000, ACK, c(101), s(1), 100));
        assert_eq!(filler.flags, flags(&[Flag::Retransmission]));
    }

    #[test]
    fn out_of_order_is_timed_from_the_highest_segment_not_from_the_peer() {
        // The server spoke 5 ms before the filler, but the highest segment is 174 ms old.
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        t.feed(seg(C2S, 31_000, ACK, c(201), s(1), 100));
        t.feed(seg(S2C, 200_000, ACK, s(1), c(101), 0));
        let filler = t.feed(seg(C2S, 205_000, ACK, c(101), s(1), 100));
        assert_eq!(filler.flags, flags(&[Flag::Retransmission]));

        // The server has been quiet for 274 ms, but the highest segment is 5 ms old.
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        t.feed(seg(S2C, 31_000, ACK, s(1), c(101), 0));
        t.feed(seg(C2S, 300_000, ACK, c(201), s(1), 100));
        let filler = t.feed(seg(C2S, 305_000, ACK, c(101), s(1), 100));
        assert_eq!(filler.flags, flags(&[Flag::OutOfOrder]));
    }

    #[test]
    fn a_resent_fin_ending_at_the_highest_sequence_number_is_a_retransmission() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        t.feed(seg(C2S, 31_000, FIN | ACK, c(101), s(1), 0));
        // 1 ms later, but the FIN's byte ends exactly at the highest sequence number.
        let again = t.feed(seg(C2S, 32_000, FIN | ACK, c(101), s(1), 0));
        assert_eq!(
            again.flags,
            flags(&[Flag::Retransmission, Flag::ConnectionFin])
        );
    }

    #[test]
    fn a_longer_segment_starting_one_byte_early_is_not_a_retransmission() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        // Starts at the last byte sent, as after a zero window probe, and brings 99 new bytes.
        let longer = t.feed(seg(C2S, 31_000, ACK, c(100), s(1), 100));
        assert!(longer.flags.is_empty(), "{:?}", longer.flags);
        // Sent again, it repeats bytes; ending at the highest byte, it is not out of order.
        let again = t.feed(seg(C2S, 32_000, ACK, c(100), s(1), 100));
        assert_eq!(again.flags, flags(&[Flag::Retransmission]));
    }

    #[test]
    fn without_a_handshake_the_out_of_order_threshold_is_3_ms() {
        for (filler_us, expected) in [(3_000, Flag::OutOfOrder), (7_000, Flag::Retransmission)] {
            let mut t = Script::new();
            t.feed(seg(C2S, 0, ACK, c(1), s(1), 100));
            t.feed(seg(C2S, 1_000, ACK, c(201), s(1), 100));
            t.feed(seg(S2C, 2_000, ACK, s(1), c(101), 0));
            let filler = t.feed(seg(C2S, filler_us, ACK, c(101), s(1), 100));
            assert_eq!(filler.flags, flags(&[expected]), "filler at {filler_us} us");
            assert_eq!(filler.initial_rtt, None);
        }
    }

    /// Handshake, four segments of 100 bytes, an ACK of the first (frame 8) and `dups`
    /// duplicates of it.
    fn dup_acks(dups: u64) -> (Script, Vec<Analysis>) {
        let mut t = Script::new();
        t.handshake();
        for i in 0..4 {
            let a = t.feed(seg(
                C2S,
                30_000 + 100 * i,
                ACK,
                c(1 + 100 * i as u32),
                s(1),
                100,
            ));
            assert!(a.flags.is_empty());
        }
        assert!(t
            .feed(seg(S2C, 31_000, ACK, s(1), c(101), 0))
            .flags
            .is_empty());
        let dups = (1..=dups)
            .map(|i| t.feed(seg(S2C, 31_000 + 100 * i, ACK, s(1), c(101), 0)))
            .collect();
        (t, dups)
    }

    #[test]
    fn repeated_acks_are_numbered_duplicates_of_the_first() {
        let (_, dups) = dup_acks(3);
        for (i, d) in dups.iter().enumerate() {
            assert_eq!(d.flags, flags(&[Flag::DuplicateAck]));
            let expected = DuplicateAck {
                num: i as u32 + 1,
                frame: 8,
            };
            assert_eq!(d.duplicate_ack, Some(expected));
        }
        assert_eq!(
            dups[2].duplicate_ack.unwrap().to_string(),
            "TCP Dup ACK 8#3"
        );
    }

    #[test]
    fn a_fast_retransmission_after_three_duplicate_acks_is_also_a_retransmission() {
        let (mut t, _) = dup_acks(3);
        // 0.2 ms after the third duplicate ACK, the missing bytes 101..201 go out again. It is
        // also within the initial RTT of the highest segment: fast retransmission comes first.
        let fast = t.feed(seg(C2S, 31_500, ACK, c(101), s(1), 100));
        assert_eq!(
            fast.flags,
            flags(&[Flag::Retransmission, Flag::FastRetransmission])
        );
        assert_eq!(
            Flag::FastRetransmission.column_label(),
            Some("TCP Fast Retransmission")
        );
    }

    #[test]
    fn two_duplicate_acks_make_a_fast_retransmission_and_one_does_not() {
        for (dups, expected) in [
            (1u64, flags(&[Flag::Retransmission])),
            (2, flags(&[Flag::Retransmission, Flag::FastRetransmission])),
        ] {
            let mut t = Script::new();
            t.handshake();
            for i in 0..4 {
                t.feed(seg(
                    C2S,
                    30_000 + 100 * i,
                    ACK,
                    c(1 + 100 * i as u32),
                    s(1),
                    100,
                ));
            }
            // The ACKs come 25 ms after the highest segment, beyond the 20 ms initial RTT, so
            // that the resend cannot be out of order.
            t.feed(seg(S2C, 55_000, ACK, s(1), c(101), 0));
            for i in 1..=dups {
                t.feed(seg(S2C, 55_000 + 100 * i, ACK, s(1), c(101), 0));
            }
            let again = t.feed(seg(C2S, 55_500, ACK, c(101), s(1), 100));
            assert_eq!(again.flags, expected, "{dups} duplicate ACKs");
        }
    }

    #[test]
    fn with_one_duplicate_ack_a_quick_resend_is_out_of_order() {
        let (mut t, _) = dup_acks(1);
        // 1.2 ms after the highest segment (frame 7), within the 20 ms initial RTT.
        let again = t.feed(seg(C2S, 31_500, ACK, c(101), s(1), 100));
        assert_eq!(again.flags, flags(&[Flag::OutOfOrder]));
    }

    #[test]
    fn a_fast_retransmission_must_follow_the_acks_within_20_ms() {
        let (mut t, _) = dup_acks(3);
        let again = t.feed(seg(C2S, 60_000, ACK, c(101), s(1), 100));
        assert_eq!(again.flags, flags(&[Flag::Retransmission]));
    }

    #[test]
    fn acks_that_change_the_window_or_carry_data_are_not_duplicates() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        t.feed(seg(S2C, 40_000, ACK, s(1), c(101), 0));
        // Same ACK, new window: a window update.
        let update = t.feed(seg(S2C, 41_000, ACK, s(1), c(101), 0).win(16_384));
        assert_eq!(update.flags, flags(&[Flag::WindowUpdate]));
        assert_eq!(Flag::WindowUpdate.severity(), Severity::Chat);
        // Same ACK with data: new data, not a duplicate.
        let data = t.feed(seg(S2C, 42_000, ACK, s(1), c(101), 10).win(16_384));
        assert!(data.flags.is_empty());
        // An ACK that moves forward is not a duplicate either.
        t.feed(seg(C2S, 43_000, ACK, c(101), s(11), 20));
        let forward = t.feed(seg(S2C, 44_000, ACK, s(11), c(121), 0).win(16_384));
        assert!(forward.flags.is_empty());
    }

    // --- Lost and unseen segments -------------------------------------------------------

    #[test]
    fn acknowledging_bytes_never_seen_is_an_acked_unseen_segment() {
        let mut t = Script::new();
        t.handshake();
        // The client's 500 bytes passed the capture point unseen.
        let ack = t.feed(seg(S2C, 40_000, ACK, s(1), c(501), 0));
        assert_eq!(ack.flags, flags(&[Flag::AckLostSegment]));
        assert_eq!(
            Flag::AckLostSegment.column_label(),
            Some("TCP ACKed unseen segment")
        );
        // The same ACK again is only a duplicate: the gap is reported once.
        let again = t.feed(seg(S2C, 41_000, ACK, s(1), c(501), 0));
        assert_eq!(again.flags, flags(&[Flag::DuplicateAck]));
    }

    #[test]
    fn unseen_bytes_are_reported_again_only_after_the_data_sender_acks_something_new() {
        let mut t = Script::new();
        t.handshake();
        let first = t.feed(seg(S2C, 40_000, ACK, s(1), c(501), 0));
        assert_eq!(first.flags, flags(&[Flag::AckLostSegment]));
        // The client is silent: more unseen bytes are not reported.
        let more = t.feed(seg(S2C, 41_000, ACK | PSH, s(1), c(601), 10));
        assert!(more.flags.is_empty(), "{:?}", more.flags);
        // Once the client's acknowledgement number changes, the next unseen ACK counts again.
        t.feed(seg(C2S, 42_000, ACK, c(1), s(11), 0));
        let again = t.feed(seg(S2C, 43_000, ACK | PSH, s(11), c(601), 10));
        assert_eq!(again.flags, flags(&[Flag::AckLostSegment]));
        let quiet = t.feed(seg(S2C, 44_000, ACK, s(21), c(701), 0));
        assert!(quiet.flags.is_empty(), "{:?}", quiet.flags);
    }

    #[test]
    fn the_data_sender_s_next_duplicate_ack_after_an_unseen_report_is_number_one() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(S2C, 40_000, ACK, s(1), c(501), 0));
        let first = t.feed(seg(C2S, 41_000, ACK, c(1), s(1), 0));
        assert_eq!(first.duplicate_ack, Some(DuplicateAck { num: 1, frame: 3 }));
        let second = t.feed(seg(C2S, 42_000, ACK, c(1), s(1), 0));
        assert_eq!(
            second.duplicate_ack,
            Some(DuplicateAck { num: 2, frame: 3 })
        );
    }

    #[test]
    fn duplicate_acks_of_the_data_sender_silence_the_unseen_report() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(S2C, 30_000, ACK | PSH, s(1), c(1), 10));
        t.feed(seg(C2S, 31_000, ACK, c(1), s(11), 0));
        let dup = t.feed(seg(C2S, 32_000, ACK, c(1), s(11), 0));
        assert_eq!(dup.duplicate_ack, Some(DuplicateAck { num: 1, frame: 5 }));
        // The client has a duplicate ACK on record: bytes never seen are not reported.
        let unseen = t.feed(seg(S2C, 40_000, ACK, s(11), c(501), 0));
        assert!(unseen.flags.is_empty(), "{:?}", unseen.flags);
        // That reset the client's count: its next duplicate is number 1 again.
        let next = t.feed(seg(C2S, 41_000, ACK, c(1), s(11), 0));
        assert_eq!(next.duplicate_ack, Some(DuplicateAck { num: 1, frame: 5 }));
    }

    #[test]
    fn after_an_unseen_report_a_resend_at_the_data_sender_s_ack_is_fast() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(S2C, 30_000, ACK | PSH, s(1), c(1), 50));
        // The client still acknowledges 1: the server's data has not reached it.
        t.feed(seg(C2S, 31_000, ACK | PSH, c(1), s(1), 100));
        let unseen = t.feed(seg(S2C, 32_000, ACK, s(51), c(501), 0));
        assert_eq!(unseen.flags, flags(&[Flag::AckLostSegment]));
        // No duplicate ACK was sent, but the unseen report's marker counts as enough, as in
        // Wireshark. Without it, this resend ending at the highest byte would be a plain
        // retransmission.
        let again = t.feed(seg(S2C, 33_000, ACK | PSH, s(1), c(501), 50));
        assert_eq!(
            again.flags,
            flags(&[Flag::Retransmission, Flag::FastRetransmission])
        );
    }

    #[test]
    fn a_hole_inside_the_captured_bytes_and_bytes_beyond_them_are_reported_separately() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        t.feed(seg(C2S, 31_000, ACK, c(201), s(1), 100));
        t.feed(seg(C2S, 32_000, ACK, c(301), s(1), 100));
        // 101..201 was not captured; the ACK of 301 covers it.
        let hole = t.feed(seg(S2C, 40_000, ACK, s(1), c(301), 0));
        assert_eq!(hole.flags, flags(&[Flag::AckLostSegment]));
        // Everything captured is now acknowledged: nothing more to report.
        let rest = t.feed(seg(S2C, 41_000, ACK, s(1), c(401), 0));
        assert!(rest.flags.is_empty(), "{:?}", rest.flags);
        assert_eq!(rest.acks_frame, Some(6));
        // Bytes beyond everything captured are a second report.
        let beyond = t.feed(seg(S2C, 42_000, ACK, s(1), c(501), 0));
        assert_eq!(beyond.flags, flags(&[Flag::AckLostSegment]));
    }

    #[test]
    fn a_partial_ack_reports_no_acknowledged_frame() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        t.feed(seg(C2S, 30_100, ACK, c(101), s(1), 100));
        let half = t.feed(seg(S2C, 40_000, ACK, s(1), c(51), 0));
        assert_eq!((half.acks_frame, half.ack_rtt), (None, None));
        let into_second = t.feed(seg(S2C, 41_000, ACK, s(1), c(151), 0));
        assert_eq!(into_second.acks_frame, None);
        let all = t.feed(seg(S2C, 42_000, ACK, s(1), c(201), 0));
        assert_eq!(all.acks_frame, Some(5));
        assert_eq!(t.analyzer.unacked_segments(C2S), 0);
    }

    #[test]
    fn a_rst_beyond_the_next_sequence_number_is_not_a_lost_segment() {
        let mut t = Script::new();
        t.handshake();
        let rst = t.feed(seg(C2S, 30_000, RST, c(5_000), 0, 0));
        assert_eq!(rst.flags, flags(&[Flag::ConnectionRst]));
    }

    // --- Keep-alives ----------------------------------------------------------------------

    #[test]
    fn keep_alive_and_its_ack() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        t.feed(seg(S2C, 40_000, ACK, s(1), c(101), 0));
        // A minute later: one byte before the next sequence number, no data.
        let probe = t.feed(seg(C2S, 60_000_000, ACK, c(100), s(1), 0));
        assert_eq!(probe.flags, flags(&[Flag::KeepAlive]));
        let answer = t.feed(seg(S2C, 60_010_000, ACK, s(1), c(101), 0));
        // It repeats the last ACK but answers the keep-alive: not a duplicate ACK.
        assert_eq!(answer.flags, flags(&[Flag::KeepAliveAck]));
        assert_eq!(answer.duplicate_ack, None);
    }

    #[test]
    fn a_keep_alive_with_one_byte_is_not_a_retransmission() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        t.feed(seg(S2C, 40_000, ACK, s(1), c(101), 0));
        // One garbage byte repeating the last byte sent.
        let probe = t.feed(seg(C2S, 60_000_000, ACK, c(100), s(1), 1));
        assert_eq!(probe.flags, flags(&[Flag::KeepAlive]));
    }

    // --- Windows --------------------------------------------------------------------------

    #[test]
    fn zero_window_probe_probe_ack_and_reopening() {
        let mut t = Script::new();
        t.handshake();
        t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        let full = t.feed(seg(S2C, 40_000, ACK, s(1), c(101), 0).win(0));
        assert_eq!(full.flags, flags(&[Flag::ZeroWindow]));
        assert_eq!(Flag::ZeroWindow.severity(), Severity::Warning);

        let probe = t.feed(seg(C2S, 240_000, ACK, c(101), s(1), 1));
        assert_eq!(probe.flags, flags(&[Flag::ZeroWindowProbe]));
        let probe_ack = t.feed(seg(S2C, 241_000, ACK, s(1), c(101), 0).win(0));
        assert_eq!(
            probe_ack.flags,
            flags(&[Flag::ZeroWindow, Flag::ZeroWindowProbeAck])
        );

        let reopen = t.feed(seg(S2C, 500_000, ACK, s(1), c(101), 0));
        assert_eq!(reopen.flags, flags(&[Flag::WindowUpdate]));
        // The probe did not advance the stream: the next data is in order.
        let data = t.feed(seg(C2S, 501_000, ACK, c(101), s(1), 100));
        assert!(data.flags.is_empty(), "{:?}", data.flags);
    }

    #[test]
    fn an_ack_covering_a_zero_window_probe_acknowledges_an_unseen_byte() {
        for window in [0, WIN] {
            let mut t = Script::new();
            t.handshake();
            t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
            t.feed(seg(S2C, 40_000, ACK, s(1), c(101), 0).win(0));
            t.feed(seg(C2S, 240_000, ACK, c(101), s(1), 1));
            // The receiver kept the probe's byte, which never counted as sent.
            let answer = t.feed(seg(S2C, 241_000, ACK, s(1), c(102), 0).win(window));
            let mut expected = flags(&[Flag::AckLostSegment]);
            if window == 0 {
                expected.insert(Flag::ZeroWindow);
            }
            assert_eq!(answer.flags, expected, "window {window}");
            let data = t.feed(seg(C2S, 242_000, ACK, c(102), s(1), 100));
            assert_eq!(data.flags, flags(&[Flag::LostSegment]), "window {window}");
        }
    }

    #[test]
    fn a_segment_filling_the_scaled_window_is_window_full() {
        let mut t = Script::new();
        t.feed(seg(C2S, 0, SYN, C_ISN, 0, 0).ws(2));
        t.feed(seg(S2C, 10_000, SYN | ACK, S_ISN, c(1), 0).ws(2).win(1000));
        t.feed(seg(C2S, 20_000, ACK, c(1), s(1), 0));
        assert_eq!(t.analyzer.window_scale(S2C), WindowScale::Shift(2));
        // The server now offers 25 << 2 = 100 bytes.
        let update = t.feed(seg(S2C, 25_000, ACK, s(1), c(1), 0).win(25));
        assert_eq!(update.flags, flags(&[Flag::WindowUpdate]));
        let almost = t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 99));
        assert!(almost.flags.is_empty());
        let full = t.feed(seg(C2S, 31_000, ACK, c(100), s(1), 1));
        assert_eq!(full.flags, flags(&[Flag::WindowFull]));
    }

    #[test]
    fn the_window_of_a_syn_is_never_scaled() {
        let mut t = Script::new();
        t.feed(seg(C2S, 0, SYN, C_ISN, 0, 0).ws(7));
        t.feed(seg(S2C, 10_000, SYN | ACK, S_ISN, c(1), 0).ws(7).win(100));
        t.feed(seg(C2S, 20_000, ACK, c(1), s(1), 0));
        // Until the server sends a plain ACK, its window is the SYN-ACK's 100 bytes.
        let full = t.feed(seg(C2S, 30_000, ACK, c(1), s(1), 100));
        assert_eq!(full.flags, flags(&[Flag::WindowFull]));
    }

    #[test]
    fn window_scaling_is_used_only_when_both_sides_offer_it() {
        let mut t = Script::new();
        t.feed(seg(C2S, 0, SYN, C_ISN, 0, 0).ws(7));
        t.feed(seg(S2C, 10_000, SYN | ACK, S_ISN, c(1), 0));
        assert_eq!(t.analyzer.window_scale(C2S), WindowScale::NotUsed);
        assert_eq!(t.analyzer.window_scale(S2C), WindowScale::NotUsed);
        // A shift above 14 counts as 14.
        let mut t = Script::new();
        t.feed(seg(C2S, 0, SYN, C_ISN, 0, 0).ws(20));
        assert_eq!(t.analyzer.window_scale(C2S), WindowScale::Shift(14));
    }

    #[test]
    fn window_full_needs_known_window_scaling() {
        let mut t = Script::new();
        // Picked up mid-stream: the server offers a window of 100 with an unknown scale.
        t.feed(seg(S2C, 0, ACK, s(1), c(1), 0).win(100));
        let data = t.feed(seg(C2S, 1_000, ACK, c(1), s(1), 100));
        assert!(data.flags.is_empty());
        assert_eq!(t.analyzer.window_scale(S2C), WindowScale::Unknown);
    }

    // --- SACK -----------------------------------------------------------------------------

    #[test]
    fn sack_blocks_make_neither_duplicate_acks_nor_fast_retransmissions() {
        let mut t = Script::new();
        t.handshake();
        for i in 0..4 {
            t.feed(seg(
                C2S,
                30_000 + 100 * i,
                ACK,
                c(1 + 100 * i as u32),
                s(1),
                100,
            ));
        }
        // A new SACK block on an ACK that moves forward: a plain ACK.
        let first = t.feed(seg(S2C, 55_000, ACK, s(1), c(101), 0).sack(&[(c(201), c(301))]));
        assert!(first.flags.is_empty(), "{:?}", first.flags);
        assert_eq!(first.acks_frame, Some(4));
        // A new window with a new SACK block: a window update.
        let update = t.feed(
            seg(S2C, 55_100, ACK, s(1), c(101), 0)
                .win(4096)
                .sack(&[(c(201), c(401))]),
        );
        assert_eq!(update.flags, flags(&[Flag::WindowUpdate]));
        // Only the classic rule counts duplicates.
        let dup = t.feed(
            seg(S2C, 55_200, ACK, s(1), c(101), 0)
                .win(4096)
                .sack(&[(c(201), c(401))]),
        );
        assert_eq!(dup.duplicate_ack, Some(DuplicateAck { num: 1, frame: 8 }));
        // One duplicate ACK, whatever the SACK blocks said, is not enough.
        let again = t.feed(seg(C2S, 55_500, ACK, c(101), s(1), 100));
        assert_eq!(again.flags, flags(&[Flag::Retransmission]));
    }

    // --- Limits and input ---------------------------------------------------------------

    #[test]
    fn the_unacked_list_is_bounded() {
        let limits = AnalysisLimits {
            max_unacked_segments: 3,
        };
        let mut t = Script::with(Analyzer::new(limits));
        for i in 0..10 {
            t.feed(seg(C2S, 1_000 * i, ACK, c(1 + 10 * i as u32), s(1), 10));
        }
        assert_eq!(t.analyzer.unacked_segments(C2S), 3);
        assert_eq!(AnalysisLimits::default().max_unacked_segments, 10_000);
        // An ACK of everything empties it.
        t.feed(seg(S2C, 20_000, ACK, s(1), c(101), 0));
        assert_eq!(t.analyzer.unacked_segments(C2S), 0);
    }

    #[test]
    fn timestamps_from_seconds_are_checked() {
        assert_eq!(Timestamp::from_secs_f64(1.5), Ok(Timestamp(1_500_000_000)));
        assert_eq!(Timestamp::from_secs_f64(0.000_000_001), Ok(Timestamp(1)));
        assert_eq!(
            Timestamp::from_secs_f64(f64::NAN),
            Err(Error::TimestampNotFinite)
        );
        assert_eq!(
            Timestamp::from_secs_f64(f64::INFINITY),
            Err(Error::TimestampNotFinite)
        );
        assert_eq!(
            Timestamp::from_secs_f64(-0.5),
            Err(Error::TimestampNegative)
        );
        assert_eq!(
            Timestamp::from_secs_f64(1e11),
            Err(Error::TimestampTooLarge)
        );
        let (early, late) = (Timestamp(5), Timestamp(9));
        assert_eq!(late.duration_since(early), Duration::from_nanos(4));
        assert_eq!(early.duration_since(late), Duration::ZERO);
    }

    #[test]
    fn every_flag_has_a_key_a_summary_and_a_sentence() {
        let mut keys: Vec<_> = Flag::ALL.iter().map(|f| f.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), Flag::ALL.len());
        for flag in Flag::ALL {
            assert!(
                flag.key().starts_with("tcp.analysis.")
                    || flag.key().starts_with("tcp.connection.")
            );
            assert_eq!(flag.is_analysis(), flag.key().starts_with("tcp.analysis."));
            assert!(flag.explanation().ends_with('.'), "{flag}");
            assert!(!flag.summary().is_empty());
        }
        let all: Flags = Flag::ALL.into_iter().collect();
        assert_eq!(all.iter().count(), 18);
        assert_eq!(all.analysis_only().iter().count(), 14);
        assert_eq!(Flag::ConnectionSynAck.key(), "tcp.connection.sack");
        assert_eq!(format!("{:?}", flags(&[Flag::KeepAlive])), "{KeepAlive}");
    }

    // --- Properties -----------------------------------------------------------------------

    fn any_flags() -> impl Strategy<Value = TcpFlags> {
        (0u16..0x200).prop_map(TcpFlags)
    }

    prop_compose! {
        fn any_segment()(
            to_server in any::<bool>(),
            dt in prop_oneof![0u64..5_000, 0u64..100_000_000, Just(0)],
            backwards in proptest::bool::weighted(0.05),
            seq in prop_oneof![0u32..3_000, any::<u32>(), (u32::MAX - 3_000)..=u32::MAX],
            ack in prop_oneof![0u32..3_000, any::<u32>(), (u32::MAX - 3_000)..=u32::MAX],
            flags in any_flags(),
            len in prop_oneof![0u32..3, 0u32..2_000, Just(u32::MAX)],
            window in prop_oneof![Just(0u16), Just(1u16), any::<u16>()],
            ws in proptest::option::of(any::<u8>()),
            mss in proptest::option::of(any::<u16>()),
            sack in proptest::option::of(proptest::collection::vec((any::<u32>(), 0u32..5_000), 0..6)),
        ) -> (Direction, u64, bool, u32, u32, TcpFlags, u32, u16, Option<u8>, Option<u16>, Option<Vec<SackBlock>>) {
            let dir = if to_server { C2S } else { S2C };
            let sack = sack.map(|blocks| {
                blocks
                    .into_iter()
                    .map(|(left, len)| SackBlock { left: SeqNumber(left), right: SeqNumber(left.wrapping_add(len)) })
                    .collect()
            });
            (dir, dt, backwards, seq, ack, flags, len, window, ws, mss, sack)
        }
    }

    proptest! {
        #[test]
        fn random_segments_never_panic(segments in proptest::collection::vec(any_segment(), 0..80)) {
            let limits = AnalysisLimits { max_unacked_segments: 8 };
            let mut analyzer = Analyzer::new(limits);
            let mut tracker = state::Tracker::new();
            let mut now: u64 = 1_000_000_000;
            for (frame, (dir, dt, backwards, seq, ack, flags, len, window, ws, mss, sack)) in
                segments.iter().enumerate()
            {
                now = if *backwards { now.saturating_sub(*dt) } else { now.saturating_add(*dt) };
                let segment = Segment {
                    dir: *dir,
                    frame: frame as u64 + 1,
                    ts: Timestamp(now),
                    seq: SeqNumber(*seq),
                    ack: SeqNumber(*ack),
                    flags: *flags,
                    payload_len: *len,
                    window: *window,
                    window_scale: *ws,
                    mss: *mss,
                    sack: sack.as_deref(),
                };
                let a = analyzer.analyze(&segment);
                prop_assert_eq!(a.flags.contains(Flag::DuplicateAck), a.duplicate_ack.is_some());
                if let Some(dup) = a.duplicate_ack {
                    prop_assert!(dup.num >= 1);
                }
                prop_assert!(analyzer.unacked_segments(C2S) <= 8);
                prop_assert!(analyzer.unacked_segments(S2C) <= 8);
                let step = tracker.observe(&state::StateSegment {
                    dir: *dir,
                    flags: *flags,
                    seq: SeqNumber(*seq),
                    ack: SeqNumber(*ack),
                    payload_len: *len,
                });
                for transition in step.transitions() {
                    prop_assert!(!transition.explanation().is_empty());
                }
            }
        }

        #[test]
        fn a_clean_in_order_stream_is_never_flagged(
            client_isn in any::<u32>(),
            server_isn in any::<u32>(),
            segments in proptest::collection::vec((1u32..=1460, 0u64..50_000, any::<bool>()), 1..40),
        ) {
            let c = |n: u32| client_isn.wrapping_add(n);
            let s = |n: u32| server_isn.wrapping_add(n);
            // Wireshark reads a raw 0 as "unknown"; keep the stream clear of that single value.
            let total: u32 = segments.iter().map(|(len, _, _)| *len).sum();
            prop_assume!((0..=total + 2).all(|n| c(n) != 0) && (0..=2).all(|n| s(n) != 0));

            let mut script = Script::new();
            let mut tracker = state::Tracker::new();
            let mut fed = Vec::new();
            let mut feed = |script: &mut Script, seg: Seg| {
                tracker.observe(&state::StateSegment {
                    dir: seg.dir,
                    flags: seg.flags,
                    seq: SeqNumber(seg.seq),
                    ack: SeqNumber(seg.ack),
                    payload_len: seg.len,
                });
                let is_data = seg.len > 0;
                fed.push((is_data, script.feed(seg)));
            };
            let big = u16::MAX;
            feed(&mut script, seg(C2S, 0, SYN, c(0), 0, 0).ws(7).win(big));
            feed(&mut script, seg(S2C, 1_000, SYN | ACK, s(0), c(1), 0).ws(7).win(big));
            feed(&mut script, seg(C2S, 2_000, ACK, c(1), s(1), 0).win(big));
            let (mut us, mut next, mut acked) = (2_000u64, 1u32, 1u32);
            for (len, gap, ack_now) in &segments {
                us += gap;
                feed(&mut script, seg(C2S, us, ACK | PSH, c(next), s(1), *len).win(big));
                next += len;
                if *ack_now {
                    us += gap / 2;
                    feed(&mut script, seg(S2C, us, ACK, s(1), c(next), 0).win(big));
                    acked = next;
                }
            }
            if acked != next {
                feed(&mut script, seg(S2C, us + 1, ACK, s(1), c(next), 0).win(big));
            }
            feed(&mut script, seg(C2S, us + 2, FIN | ACK, c(next), s(1), 0).win(big));
            feed(&mut script, seg(S2C, us + 3, FIN | ACK, s(1), c(next + 1), 0).win(big));
            feed(&mut script, seg(C2S, us + 4, ACK, c(next + 1), s(2), 0).win(big));

            for (i, (is_data, analysis)) in fed.iter().enumerate() {
                prop_assert!(
                    analysis.flags.analysis_only().is_empty(),
                    "frame {} (data: {}) flagged {:?}", i + 1, is_data, analysis.flags
                );
            }
            let last = fed.last().map(|(_, a)| a.completeness);
            prop_assert_eq!(last, Some(Completeness(31)));
            prop_assert_eq!(
                tracker.snapshot(),
                state::Snapshot { client: state::TcpState::TimeWait, server: state::TcpState::Closed }
            );
        }
    }
}
