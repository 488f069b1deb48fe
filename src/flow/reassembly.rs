//! Per-direction TCP stream reassembly: captured segments in, the in-order byte stream out.
//!
//! One [`Reassembler`] owns one direction of one TCP connection.
//! It takes segments in capture order (lost, reordered, duplicated, overlapping or retransmitted)
//! and hands out [`Chunk`]s in stream order: data with its provenance (frame number and offset in
//! that frame), explicit gaps where bytes were never captured, and the FIN.
//!
//! # Stream offsets
//!
//! Stream offsets are `u64` byte positions counted from the first data byte, which has offset 0.
//! When a SYN was seen the first data byte is at ISN + 1, because the SYN takes one sequence number;
//! without a SYN (a mid-stream pickup) the first segment with data fixes offset 0.
//! Wireshark's relative sequence number of a byte is its stream offset plus one.
//! Sequence numbers are turned into offsets by their wrap-aware distance from the next expected
//! byte, so streams longer than 4 GiB and ISNs close to 2^32 both work.
//!
//! # Policy
//!
//! - The first copy of every byte wins: bytes already delivered or held are never replaced.
//!   A later copy that differs from a held byte is reported as a conflicting overlap.
//!   Delivered bytes are not kept (delivery copies nothing), so a retransmission of bytes that were
//!   already delivered cannot be checked for conflicts and is reported as a plain retransmission.
//! - A FIN is accepted only when no byte at or after its position has been received; bytes that
//!   arrive later at or after an accepted FIN are dropped.
//! - Segments starting more than [`MAX_WINDOW`] bytes after the next expected byte cannot be in any
//!   receive window and are dropped.
//! - RST segments and SYNs that contradict the known ISN are reported and their payload ignored:
//!   a new connection on the same ports is the flow table's business.
//! - A hole becomes a [`Chunk::Gap`] when the peer acknowledges past it ([`Reassembler::peer_ack`]),
//!   when a limit forces it, or at [`Reassembler::finish`].
//!
//! # Data structure and cost
//!
//! Bytes that cannot be delivered yet are copied into non-overlapping pieces kept in a `BTreeMap`
//! keyed by stream offset; every piece starts after the next expected offset.
//! A new segment is walked once from left to right: each step either skips bytes already
//! delivered, compares bytes against one held piece, delivers bytes at once, or holds one new piece.
//! With `n` pieces held and `k` of them overlapped by the segment, a push costs
//! `O(len + (k + 1) log n)`, and a piece is created, compared and released at most once per byte
//! range, so many tiny out-of-order segments or hole storms stay `O(log n)` per segment.
//!
//! # Copies
//!
//! In-order data is delivered as `Cow::Borrowed` slices of the segment's payload: nothing is
//! copied. Only bytes that must wait for a hole are copied once into a held piece, and they are
//! delivered later as `Cow::Owned` without a second copy.
//!
//! # Limits
//!
//! [`ReassemblyLimits`] bounds the held bytes and the number of held pieces.
//! When holding new bytes would exceed a limit, the reassembler declares the earliest hole (or the
//! part of it before the new bytes) a gap and releases what follows it, until the new bytes fit or
//! become in-order and are delivered at once.
//! No byte already captured is dropped for lack of room; bytes that arrive later for a hole that
//! was given up count as duplicates. The outcome reports the limit and the gap bytes.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

use crate::flow::seq::SeqNumber;

/// The largest receive window TCP can advertise (65535 shifted by the maximum window scale 14,
/// rounded up to 2^30, RFC 7323): data or acknowledgements further ahead are out of any window.
pub const MAX_WINDOW: u64 = 1 << 30;

/// Memory bounds for one [`Reassembler`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// The most payload bytes held while waiting for holes to fill (default 4 MiB).
    pub max_buffered_bytes: usize,
    /// The most held pieces (default 4096); each piece costs an allocation and a map node.
    pub max_segments_held: usize,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            max_buffered_bytes: 4 * 1024 * 1024,
            max_segments_held: 4096,
        }
    }
}

/// One captured TCP segment of this direction, as the reassembler needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    /// The segment's sequence number.
    pub seq: SeqNumber,
    /// The SYN flag (takes one sequence number before the payload).
    pub syn: bool,
    /// The FIN flag (takes one sequence number after the payload).
    pub fin: bool,
    /// The RST flag.
    pub rst: bool,
    /// The TCP payload as captured.
    pub payload: &'a [u8],
    /// The 1-based number of the frame that carried the segment.
    pub frame: u64,
    /// The offset of the payload's first byte inside that frame.
    pub payload_offset: u32,
}

/// A piece of the in-order stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Stream bytes; byte `i` came from byte `frame_offset + i` of frame `frame`.
    Data {
        /// The stream offset of `bytes[0]`.
        stream_offset: u64,
        /// Borrowed from the segment when delivered at once, owned when it had to be held.
        bytes: Cow<'a, [u8]>,
        /// The 1-based number of the frame that carried these bytes.
        frame: u64,
        /// The offset of `bytes[0]` inside that frame.
        frame_offset: u32,
    },
    /// Bytes that were sent but never captured; decoders must resynchronise after them.
    Gap {
        /// The stream offset of the first missing byte.
        stream_offset: u64,
        /// The number of missing bytes.
        len: u64,
    },
    /// The sender's FIN: the stream ends at `stream_offset`.
    Fin {
        /// The stream offset of the FIN (the stream's length).
        stream_offset: u64,
    },
}

/// What one pushed segment was, in the reassembler's eyes.
///
/// A segment gets exactly one class.
/// `Reset`, `UnexpectedSyn`, `KeepAlive`, `Empty`, `BeforeIsn` and `OutOfWindow` are decided before
/// the payload is looked at.
/// Otherwise the first that applies wins: `New`, `ConflictingOverlap`, `BeyondLimits`, `AfterFin`,
/// `PartialRetransmission`, `Retransmission`, `InOrder`, `OutOfOrder`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SegmentClass {
    /// It fixed the stream's start: the first SYN, or the first data (or FIN) of a mid-stream pickup.
    New,
    /// All of its new data started at the next expected offset and was delivered at once.
    InOrder,
    /// All of its data was new but a hole precedes it, so it is held.
    OutOfOrder,
    /// Every byte (and SYN or FIN) had already been delivered, held or declared lost.
    Retransmission,
    /// Some bytes had already been delivered, held or declared lost, and some were new.
    PartialRetransmission,
    /// One or zero bytes just below the next expected sequence number: a keep-alive probe.
    KeepAlive,
    /// Some bytes differ from the held copy, or its FIN contradicts the known end of the stream.
    ConflictingOverlap,
    /// Holding its data would have exceeded a limit, so earlier holes were declared gaps.
    BeyondLimits,
    /// Some bytes lie at or after the accepted FIN and were dropped.
    AfterFin,
    /// All of it lies before the stream's start (before ISN + 1, or before the first byte of a
    /// mid-stream pickup) and was dropped.
    BeforeIsn,
    /// It starts more than [`MAX_WINDOW`] bytes after the next expected offset and was dropped.
    OutOfWindow,
    /// No payload and no SYN or FIN: a pure acknowledgement or window update.
    Empty,
    /// A SYN whose sequence number contradicts the known start; its payload was ignored.
    UnexpectedSyn,
    /// An RST; its payload was ignored.
    Reset,
}

/// Which limit of [`ReassemblyLimits`] was reached while holding data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    /// Held bytes may not exceed `max_buffered_bytes`.
    #[error("reassembly buffer full ({limit} bytes held): the earliest hole was declared lost")]
    BufferedBytes {
        /// The limit in force.
        limit: usize,
    },
    /// Held pieces may not exceed `max_segments_held`.
    #[error("too many held segments ({limit}): the earliest hole was declared lost")]
    SegmentsHeld {
        /// The limit in force.
        limit: usize,
    },
}

/// The result of pushing one segment.
///
/// The segment's payload bytes add up: `payload.len() == n_delivered + n_held + n_duplicate +
/// n_dropped`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// What the segment was.
    pub class: SegmentClass,
    /// The stream offset of the segment's first payload byte, when it is at or after the start.
    pub stream_offset: Option<u64>,
    /// Payload bytes delivered at once, without copying.
    pub n_delivered: u64,
    /// Payload bytes copied into the buffer to wait for a hole.
    pub n_held: u64,
    /// Payload bytes that had already been delivered, held or declared lost (the first copy, or
    /// the gap, stands).
    pub n_duplicate: u64,
    /// Of the duplicate bytes, those that differ from the held copy.
    pub n_conflicting: u64,
    /// Payload bytes discarded: before the start, after the FIN, out of window, keep-alive, RST,
    /// or unexpected SYN.
    pub n_dropped: u64,
    /// Previously held bytes delivered during this push.
    pub n_released: u64,
    /// Bytes declared as gaps during this push (only when a limit forces it).
    pub n_gap: u64,
    /// The limit that forced gaps, if any.
    pub limit: Option<LimitExceeded>,
}

/// The result of [`Reassembler::peer_ack`] or [`Reassembler::finish`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flush {
    /// Previously held bytes delivered.
    pub n_released: u64,
    /// Bytes declared as gaps.
    pub n_gap: u64,
}

/// The reassembler for one direction of one TCP connection.
#[derive(Clone, Debug, Default)]
pub struct Reassembler {
    limits: ReassemblyLimits,
    /// The sequence number of stream offset 0, once known.
    start: Option<SeqNumber>,
    /// The SYN's sequence number, when a SYN was seen.
    isn: Option<SeqNumber>,
    /// The next stream offset to deliver; everything before it has been delivered or declared lost.
    next: u64,
    /// Held pieces by stream offset: non-empty, non-overlapping, all starting after `next`.
    held: BTreeMap<u64, Piece>,
    /// The sum of the held pieces' lengths.
    held_bytes: usize,
    /// The stream offset of the accepted FIN.
    fin_offset: Option<u64>,
    /// Whether the FIN chunk has been delivered.
    fin_delivered: bool,
}

/// Bytes copied from one segment, waiting for a hole before them to fill.
#[derive(Clone, Debug)]
struct Piece {
    bytes: Vec<u8>,
    frame: u64,
    frame_offset: u32,
}

/// A segment's payload after trimming, placed in the stream.
#[derive(Clone, Copy, Debug)]
struct Placed<'a> {
    data: &'a [u8],
    /// The stream offset of `data[0]`.
    start: u64,
    frame: u64,
    /// The frame offset of `data[0]`.
    frame_offset: u32,
}

/// Where a sequence number falls relative to stream offset 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Position {
    /// This many sequence numbers before offset 0.
    Before(u64),
    /// At this stream offset.
    At(u64),
}

/// How the FIN flag of one segment was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FinVerdict {
    Absent,
    New,
    Duplicate,
    Conflicting,
}

/// How a segment related to the stream's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StartVerdict {
    /// No start yet, and this segment (empty, no SYN or FIN) cannot fix it.
    Unknown,
    /// This segment fixed the start or supplied the ISN.
    Fixed,
    /// A retransmitted SYN.
    SynDuplicate,
    /// A SYN contradicting the known ISN or start.
    UnexpectedSyn,
    /// The start was already known and this is no SYN.
    Known,
}

impl Chunk<'_> {
    /// Returns the stream offset where the chunk starts.
    pub fn stream_offset(&self) -> u64 {
        match self {
            Chunk::Data { stream_offset, .. }
            | Chunk::Gap { stream_offset, .. }
            | Chunk::Fin { stream_offset } => *stream_offset,
        }
    }

    /// Returns how many stream bytes the chunk covers (0 for a FIN).
    pub fn stream_len(&self) -> u64 {
        match self {
            Chunk::Data { bytes, .. } => len_u64(bytes),
            Chunk::Gap { len, .. } => *len,
            Chunk::Fin { .. } => 0,
        }
    }

    /// Returns the chunk with its bytes owned.
    pub fn into_owned(self) -> Chunk<'static> {
        match self {
            Chunk::Data {
                stream_offset,
                bytes,
                frame,
                frame_offset,
            } => Chunk::Data {
                stream_offset,
                bytes: Cow::Owned(bytes.into_owned()),
                frame,
                frame_offset,
            },
            Chunk::Gap { stream_offset, len } => Chunk::Gap { stream_offset, len },
            Chunk::Fin { stream_offset } => Chunk::Fin { stream_offset },
        }
    }
}

impl Outcome {
    fn new(class: SegmentClass) -> Self {
        Outcome {
            class,
            stream_offset: None,
            n_delivered: 0,
            n_held: 0,
            n_duplicate: 0,
            n_conflicting: 0,
            n_dropped: 0,
            n_released: 0,
            n_gap: 0,
            limit: None,
        }
    }
}

impl Reassembler {
    /// Creates a reassembler that knows nothing of the stream yet.
    pub fn new(limits: ReassemblyLimits) -> Self {
        Reassembler {
            limits,
            ..Reassembler::default()
        }
    }

    /// Returns the limits in force.
    pub fn limits(&self) -> ReassemblyLimits {
        self.limits
    }

    /// Returns the next stream offset to be delivered.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// Returns the SYN's sequence number, when a SYN was seen.
    pub fn isn(&self) -> Option<SeqNumber> {
        self.isn
    }

    /// Returns the sequence number of stream offset 0, once the start is fixed.
    pub fn start_seq(&self) -> Option<SeqNumber> {
        self.start
    }

    /// Returns the sequence number of a stream offset, once the start is fixed.
    pub fn seq_at(&self, stream_offset: u64) -> Option<SeqNumber> {
        self.start.map(|start| start.advance(stream_offset))
    }

    /// Returns the stream offset of the accepted FIN.
    pub fn fin_offset(&self) -> Option<u64> {
        self.fin_offset
    }

    /// Returns whether the FIN chunk has been delivered (the stream is complete).
    pub fn is_fin_delivered(&self) -> bool {
        self.fin_delivered
    }

    /// Returns how many payload bytes are held waiting for holes.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Returns how many pieces are held.
    pub fn n_held_segments(&self) -> usize {
        self.held.len()
    }

    /// Returns the held stream ranges as `(start, end)` pairs, in stream order.
    pub fn held_ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.held
            .iter()
            .map(|(&start, piece)| (start, piece_end(start, piece)))
    }

    /// Takes one captured segment and delivers whatever became in-order through `emit`.
    ///
    /// Chunks are emitted in stream order; in-order data borrows from `segment.payload`.
    pub fn push<'a>(&mut self, segment: Segment<'a>, mut emit: impl FnMut(Chunk<'a>)) -> Outcome {
        let payload_len = len_u64(segment.payload);
        let data_seq = if segment.syn {
            segment.seq.wrapping_add(1)
        } else {
            segment.seq
        };
        let mut out = Outcome::new(SegmentClass::Empty);
        if segment.rst {
            out.class = SegmentClass::Reset;
            out.stream_offset = self.offset_of(data_seq);
            out.n_dropped = payload_len;
            return out;
        }

        let start_verdict = self.take_start(segment, data_seq);
        match start_verdict {
            StartVerdict::Unknown => return out,
            StartVerdict::UnexpectedSyn => {
                out.class = SegmentClass::UnexpectedSyn;
                out.stream_offset = self.offset_of(data_seq);
                out.n_dropped = payload_len;
                return out;
            }
            StartVerdict::Fixed | StartVerdict::SynDuplicate | StartVerdict::Known => {}
        }

        let position = self.position(data_seq);
        if let Some(Position::At(offset)) = position {
            out.stream_offset = Some(offset);
        }
        if !segment.syn && !segment.fin && payload_len <= 1 {
            if self.is_keep_alive(segment.seq) {
                out.class = SegmentClass::KeepAlive;
                out.n_dropped = payload_len;
                return out;
            }
            if payload_len == 0 {
                return out;
            }
        }

        // Trim bytes before offset 0; drop segments wholly before it or beyond any window.
        let (data_start, skip) = match position {
            Some(Position::At(offset)) => (offset, 0),
            Some(Position::Before(distance)) => (0, distance),
            None => (0, payload_len),
        };
        if skip > 0 && (skip > payload_len || (skip == payload_len && !segment.fin)) {
            out.class = SegmentClass::BeforeIsn;
            out.n_dropped = payload_len;
            return out;
        }
        if data_start.saturating_sub(self.next) > MAX_WINDOW {
            out.class = SegmentClass::OutOfWindow;
            out.n_dropped = payload_len;
            return out;
        }
        let mut data = sub_slice(segment.payload, skip, payload_len);
        let frame_offset = frame_offset_at(segment.payload_offset, skip);
        out.n_dropped = out.n_dropped.saturating_add(skip);
        let fin_at = data_start.saturating_add(len_u64(data));

        // Drop bytes at or after an accepted FIN, then take this segment's FIN.
        let mut n_after_fin = 0;
        if let Some(fin) = self.fin_offset {
            if fin_at > fin {
                let keep = fin.saturating_sub(data_start);
                n_after_fin = len_u64(data).saturating_sub(keep);
                data = sub_slice(data, 0, keep);
            }
        }
        out.n_dropped = out.n_dropped.saturating_add(n_after_fin);
        let fin_verdict = if segment.fin {
            self.take_fin(fin_at)
        } else {
            FinVerdict::Absent
        };

        let next_before = self.next;
        let placed = Placed {
            data,
            start: data_start,
            frame: segment.frame,
            frame_offset,
        };
        self.walk(placed, &mut out, &mut emit);

        out.class = classify(
            &out,
            start_verdict,
            fin_verdict,
            n_after_fin,
            data_start == next_before,
        );
        out
    }

    /// Tells that the peer acknowledged everything before `ack`.
    ///
    /// Holes before `ack` can no longer fill (the bytes were received but not captured), so they
    /// are delivered as gaps together with the held data behind them.
    /// Acknowledgements that are old, before the start, or beyond any window change nothing.
    pub fn peer_ack<'a>(&mut self, ack: SeqNumber, mut emit: impl FnMut(Chunk<'a>)) -> Flush {
        let mut flush = Flush::default();
        let Some(mut acked) = self.offset_of(ack) else {
            return flush;
        };
        if let Some(fin) = self.fin_offset {
            // The FIN takes one sequence number that is not a stream byte.
            acked = acked.min(fin);
        }
        if acked <= self.next || acked.saturating_sub(self.next) > MAX_WINDOW {
            return flush;
        }
        while self.next < acked {
            let before = self.next;
            let target = self.first_held().map_or(acked, |start| start.min(acked));
            flush.n_gap = flush
                .n_gap
                .saturating_add(self.declare_gap(target, &mut emit));
            flush.n_released = flush
                .n_released
                .saturating_add(self.release_ready(u64::MAX, &mut emit));
            if self.next == before {
                break;
            }
        }
        self.deliver_fin_if_reached(&mut emit);
        flush
    }

    /// Releases everything still held at the end of the capture or on connection timeout.
    ///
    /// Every remaining hole becomes a gap, including a hole before an accepted FIN, and the FIN is
    /// delivered. Bytes after the last captured byte with no FIN behind them are unknown and are
    /// not reported.
    pub fn finish<'a>(&mut self, mut emit: impl FnMut(Chunk<'a>)) -> Flush {
        let mut flush = Flush::default();
        while let Some(start) = self.first_held() {
            flush.n_gap = flush
                .n_gap
                .saturating_add(self.declare_gap(start, &mut emit));
            let released = self.release_ready(u64::MAX, &mut emit);
            flush.n_released = flush.n_released.saturating_add(released);
            if released == 0 {
                break;
            }
        }
        if let Some(fin) = self.fin_offset {
            flush.n_gap = flush.n_gap.saturating_add(self.declare_gap(fin, &mut emit));
        }
        self.deliver_fin_if_reached(&mut emit);
        flush
    }

    /// Walks the segment's data left to right: skip delivered bytes, compare against held pieces,
    /// deliver in-order bytes at once, and hold the rest.
    fn walk<'a>(
        &mut self,
        placed: Placed<'a>,
        out: &mut Outcome,
        emit: &mut impl FnMut(Chunk<'a>),
    ) {
        let Placed {
            data,
            start: data_start,
            frame,
            frame_offset,
        } = placed;
        let end = data_start.saturating_add(len_u64(data));
        let mut cur = data_start;
        while cur < end {
            if cur < self.next {
                // Already delivered (or declared lost): the first copy won.
                let stop = end.min(self.next);
                out.n_duplicate = out.n_duplicate.saturating_add(stop.saturating_sub(cur));
                cur = stop;
                continue;
            }
            match self.piece_at_or_after(cur) {
                Some((piece_start, piece_end)) if piece_start <= cur => {
                    // Already held: compare, keep the held copy, and release it if it is next.
                    let stop = end.min(piece_end);
                    let incoming = sub_slice(
                        data,
                        cur.saturating_sub(data_start),
                        stop.saturating_sub(data_start),
                    );
                    out.n_duplicate = out.n_duplicate.saturating_add(stop.saturating_sub(cur));
                    out.n_conflicting = out.n_conflicting.saturating_add(self.count_differences(
                        piece_start,
                        cur,
                        incoming,
                    ));
                    cur = stop;
                    out.n_released = out
                        .n_released
                        .saturating_add(self.release_ready(piece_end, emit));
                }
                next_piece => {
                    let stop = next_piece.map_or(end, |(start, _)| end.min(start));
                    let bytes = sub_slice(
                        data,
                        cur.saturating_sub(data_start),
                        stop.saturating_sub(data_start),
                    );
                    let piece_offset =
                        frame_offset_at(frame_offset, cur.saturating_sub(data_start));
                    if cur == self.next {
                        emit(Chunk::Data {
                            stream_offset: cur,
                            bytes: Cow::Borrowed(bytes),
                            frame,
                            frame_offset: piece_offset,
                        });
                        out.n_delivered = out.n_delivered.saturating_add(stop.saturating_sub(cur));
                        self.next = stop;
                        cur = stop;
                        continue;
                    }
                    match self.check_room(bytes.len()) {
                        Ok(()) => {
                            self.held_bytes = self.held_bytes.saturating_add(bytes.len());
                            self.held.insert(
                                cur,
                                Piece {
                                    bytes: bytes.to_vec(),
                                    frame,
                                    frame_offset: piece_offset,
                                },
                            );
                            out.n_held = out.n_held.saturating_add(stop.saturating_sub(cur));
                            cur = stop;
                        }
                        Err(limit) => {
                            // Give up the earliest hole (or the part of it before these bytes) and
                            // release what is held before `cur`; then look again.
                            out.limit.get_or_insert(limit);
                            let target = self.first_held().map_or(cur, |start| start.min(cur));
                            out.n_gap = out.n_gap.saturating_add(self.declare_gap(target, emit));
                            out.n_released =
                                out.n_released.saturating_add(self.release_ready(cur, emit));
                        }
                    }
                }
            }
        }
        out.n_released = out
            .n_released
            .saturating_add(self.release_ready(u64::MAX, emit));
        self.deliver_fin_if_reached(emit);
    }

    /// Fixes the stream's start from the first SYN or data segment, or checks a SYN against it.
    fn take_start(&mut self, segment: Segment<'_>, data_seq: SeqNumber) -> StartVerdict {
        match self.start {
            None if segment.syn => {
                self.isn = Some(segment.seq);
                self.start = Some(data_seq);
                StartVerdict::Fixed
            }
            None if !segment.payload.is_empty() || segment.fin => {
                self.start = Some(data_seq);
                StartVerdict::Fixed
            }
            None => StartVerdict::Unknown,
            Some(start) if segment.syn => match self.isn {
                Some(isn) if isn == segment.seq => StartVerdict::SynDuplicate,
                None if start == data_seq => {
                    // The SYN of a stream picked up mid-way arrived late but agrees with it.
                    self.isn = Some(segment.seq);
                    StartVerdict::Fixed
                }
                _ => StartVerdict::UnexpectedSyn,
            },
            Some(_) => StartVerdict::Known,
        }
    }

    /// Records a FIN at stream offset `fin_at` if nothing contradicts it.
    fn take_fin(&mut self, fin_at: u64) -> FinVerdict {
        match self.fin_offset {
            Some(fin) if fin == fin_at => FinVerdict::Duplicate,
            Some(_) => FinVerdict::Conflicting,
            None => {
                let held_end = self
                    .held
                    .last_key_value()
                    .map_or(0, |(&start, piece)| piece_end(start, piece));
                if self.next > fin_at || held_end > fin_at {
                    FinVerdict::Conflicting
                } else {
                    self.fin_offset = Some(fin_at);
                    FinVerdict::New
                }
            }
        }
    }

    /// Delivers held pieces that start exactly at the next offset and before `limit`.
    fn release_ready<'a>(&mut self, limit: u64, emit: &mut impl FnMut(Chunk<'a>)) -> u64 {
        let mut released = 0u64;
        while let Some(entry) = self.held.first_entry() {
            let start = *entry.key();
            if start != self.next || start >= limit {
                break;
            }
            let piece = entry.remove();
            let len = len_u64(&piece.bytes);
            self.held_bytes = self.held_bytes.saturating_sub(piece.bytes.len());
            self.next = start.saturating_add(len);
            released = released.saturating_add(len);
            emit(Chunk::Data {
                stream_offset: start,
                bytes: Cow::Owned(piece.bytes),
                frame: piece.frame,
                frame_offset: piece.frame_offset,
            });
        }
        released
    }

    /// Declares the bytes from the next offset up to `to` lost; returns how many.
    fn declare_gap<'a>(&mut self, to: u64, emit: &mut impl FnMut(Chunk<'a>)) -> u64 {
        if to <= self.next {
            return 0;
        }
        let len = to.saturating_sub(self.next);
        emit(Chunk::Gap {
            stream_offset: self.next,
            len,
        });
        self.next = to;
        len
    }

    /// Delivers the FIN once everything before it has been delivered.
    fn deliver_fin_if_reached<'a>(&mut self, emit: &mut impl FnMut(Chunk<'a>)) {
        if !self.fin_delivered && self.fin_offset == Some(self.next) {
            self.fin_delivered = true;
            emit(Chunk::Fin {
                stream_offset: self.next,
            });
        }
    }

    /// Checks that one more piece of `len` bytes fits within the limits.
    fn check_room(&self, len: usize) -> Result<(), LimitExceeded> {
        if self.held.len() >= self.limits.max_segments_held {
            return Err(LimitExceeded::SegmentsHeld {
                limit: self.limits.max_segments_held,
            });
        }
        match self.held_bytes.checked_add(len) {
            Some(total) if total <= self.limits.max_buffered_bytes => Ok(()),
            _ => Err(LimitExceeded::BufferedBytes {
                limit: self.limits.max_buffered_bytes,
            }),
        }
    }

    /// Counts the bytes of `incoming`, placed at stream offset `at`, that differ from the held
    /// piece starting at `piece_start`.
    fn count_differences(&self, piece_start: u64, at: u64, incoming: &[u8]) -> u64 {
        let Some(piece) = self.held.get(&piece_start) else {
            return 0;
        };
        let from = at.saturating_sub(piece_start);
        let held = sub_slice(&piece.bytes, from, from.saturating_add(len_u64(incoming)));
        let differing = held.iter().zip(incoming).filter(|(a, b)| a != b).count();
        len_u64_count(differing)
    }

    /// Returns the held piece covering `offset`, or else the first one after it, as `(start, end)`.
    fn piece_at_or_after(&self, offset: u64) -> Option<(u64, u64)> {
        if let Some((&start, piece)) = self.held.range(..=offset).next_back() {
            let end = piece_end(start, piece);
            if end > offset {
                return Some((start, end));
            }
        }
        self.held
            .range((Bound::Excluded(offset), Bound::Unbounded))
            .next()
            .map(|(&start, piece)| (start, piece_end(start, piece)))
    }

    /// Returns the start of the first held piece.
    fn first_held(&self) -> Option<u64> {
        self.held.first_key_value().map(|(&start, _)| start)
    }

    /// Places a sequence number relative to offset 0, by its distance from the next expected byte.
    fn position(&self, seq: SeqNumber) -> Option<Position> {
        let start = self.start?;
        let delta = seq.distance_from(start.advance(self.next));
        let distance = u64::from(delta.unsigned_abs());
        Some(if delta >= 0 {
            Position::At(self.next.saturating_add(distance))
        } else {
            match self.next.checked_sub(distance) {
                Some(offset) => Position::At(offset),
                None => Position::Before(distance.saturating_sub(self.next)),
            }
        })
    }

    /// Returns the stream offset of a sequence number at or after the start.
    fn offset_of(&self, seq: SeqNumber) -> Option<u64> {
        match self.position(seq)? {
            Position::At(offset) => Some(offset),
            Position::Before(_) => None,
        }
    }

    /// Tells whether a segment of at most one byte at `seq` is a keep-alive probe: it sits one
    /// below the next expected sequence number, which must follow something already consumed.
    fn is_keep_alive(&self, seq: SeqNumber) -> bool {
        let Some(start) = self.start else {
            return false;
        };
        let consumed = self.next > 0 || self.isn.is_some();
        let next_seq = start
            .advance(self.next)
            .wrapping_add(u32::from(self.fin_delivered));
        consumed && seq == next_seq.wrapping_sub(1)
    }
}

impl fmt::Display for Reassembler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "next {}", self.next)?;
        if let Some(start) = self.start {
            write!(f, " (seq {})", start.advance(self.next))?;
        }
        write!(
            f,
            ", held {} bytes in {} pieces",
            self.held_bytes,
            self.held.len()
        )?;
        for (start, piece) in &self.held {
            write!(
                f,
                " [{start}..{}) #{}",
                piece_end(*start, piece),
                piece.frame
            )?;
        }
        match (self.fin_offset, self.fin_delivered) {
            (Some(fin), true) => write!(f, ", FIN at {fin} delivered"),
            (Some(fin), false) => write!(f, ", FIN at {fin}"),
            (None, _) => Ok(()),
        }
    }
}

/// Picks a walked segment's class from what happened to its bytes and flags.
fn classify(
    out: &Outcome,
    start: StartVerdict,
    fin: FinVerdict,
    n_after_fin: u64,
    at_next: bool,
) -> SegmentClass {
    let seen =
        out.n_duplicate > 0 || start == StartVerdict::SynDuplicate || fin == FinVerdict::Duplicate;
    let new = out.n_delivered > 0 || out.n_held > 0 || fin == FinVerdict::New;
    if start == StartVerdict::Fixed {
        SegmentClass::New
    } else if out.n_conflicting > 0 || fin == FinVerdict::Conflicting {
        SegmentClass::ConflictingOverlap
    } else if out.limit.is_some() {
        SegmentClass::BeyondLimits
    } else if n_after_fin > 0 {
        SegmentClass::AfterFin
    } else if new && seen {
        SegmentClass::PartialRetransmission
    } else if seen {
        SegmentClass::Retransmission
    } else if new && at_next {
        SegmentClass::InOrder
    } else if new {
        SegmentClass::OutOfOrder
    } else {
        SegmentClass::Empty
    }
}

/// Returns the stream offset just after a held piece.
fn piece_end(start: u64, piece: &Piece) -> u64 {
    start.saturating_add(len_u64(&piece.bytes))
}

/// Returns a slice's length as a `u64` (lossless on every supported platform).
fn len_u64(bytes: &[u8]) -> u64 {
    len_u64_count(bytes.len())
}

/// Converts a count to `u64` (lossless on every supported platform).
fn len_u64_count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Returns `bytes[from..to]`; the callers' arithmetic keeps the range inside the slice.
fn sub_slice(bytes: &[u8], from: u64, to: u64) -> &[u8] {
    let range = usize::try_from(from).ok().zip(usize::try_from(to).ok());
    let slice = range.and_then(|(from, to)| bytes.get(from..to));
    debug_assert!(
        slice.is_some(),
        "range {from}..{to} outside {} bytes",
        bytes.len()
    );
    slice.unwrap_or_default()
}

/// Returns the frame offset `skip` bytes after `base`.
///
/// Saturates at `u32::MAX`, which no captured frame can reach (capture formats store frame lengths
/// in 32 bits).
fn frame_offset_at(base: u32, skip: u64) -> u32 {
    u32::try_from(skip)
        .ok()
        .and_then(|skip| base.checked_add(skip))
        .unwrap_or(u32::MAX)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
#[allow(
    clippy::arithmetic_side_effects,
    reason = "test arithmetic on known small values"
)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::Index;

    /// The payload offset used by unit tests: Ethernet (14) + IPv4 (20) + TCP (20) headers.
    const HDR: u32 = 54;

    fn data(seq: u32, payload: &[u8], frame: u64) -> Segment<'_> {
        Segment {
            seq: SeqNumber(seq),
            syn: false,
            fin: false,
            rst: false,
            payload,
            frame,
            payload_offset: HDR,
        }
    }

    fn syn(seq: u32, frame: u64) -> Segment<'static> {
        Segment {
            syn: true,
            ..data(seq, b"", frame)
        }
    }

    fn fin(seq: u32, frame: u64) -> Segment<'static> {
        Segment {
            fin: true,
            ..data(seq, b"", frame)
        }
    }

    fn push(r: &mut Reassembler, segment: Segment<'_>) -> (Outcome, Vec<Chunk<'static>>) {
        let mut chunks = Vec::new();
        let outcome = r.push(segment, |c| chunks.push(c.into_owned()));
        (outcome, chunks)
    }

    fn peer_ack(r: &mut Reassembler, ack: u32) -> (Flush, Vec<Chunk<'static>>) {
        let mut chunks = Vec::new();
        let flush = r.peer_ack(SeqNumber(ack), |c| chunks.push(c.into_owned()));
        (flush, chunks)
    }

    fn finish(r: &mut Reassembler) -> (Flush, Vec<Chunk<'static>>) {
        let mut chunks = Vec::new();
        let flush = r.finish(|c| chunks.push(c.into_owned()));
        (flush, chunks)
    }

    fn d(stream_offset: u64, bytes: &[u8], frame: u64, frame_offset: u32) -> Chunk<'static> {
        Chunk::Data {
            stream_offset,
            bytes: Cow::Owned(bytes.to_vec()),
            frame,
            frame_offset,
        }
    }

    fn gap(stream_offset: u64, len: u64) -> Chunk<'static> {
        Chunk::Gap { stream_offset, len }
    }

    /// A reassembler that has seen a SYN with ISN 0, so data starts at sequence number 1.
    fn after_syn(limits: ReassemblyLimits) -> Reassembler {
        let mut r = Reassembler::new(limits);
        let (outcome, chunks) = push(&mut r, syn(0, 1));
        assert_eq!(outcome.class, SegmentClass::New);
        assert!(chunks.is_empty());
        r
    }

    #[test]
    fn in_order_data_is_delivered_at_once_without_copying() {
        let mut r = Reassembler::default();
        push(&mut r, syn(1000, 1));
        let payload = b"hello".to_vec();
        let mut borrowed = 0;
        let mut chunks = Vec::new();
        let outcome = r.push(data(1001, &payload, 3), |c| {
            if let Chunk::Data {
                bytes: Cow::Borrowed(_),
                ..
            } = c
            {
                borrowed += 1;
            }
            chunks.push(c.into_owned());
        });
        assert_eq!(borrowed, 1);
        assert_eq!(outcome.class, SegmentClass::InOrder);
        assert_eq!(outcome.stream_offset, Some(0));
        assert_eq!(outcome.n_delivered, 5);
        assert_eq!(chunks, vec![d(0, b"hello", 3, HDR)]);

        // The next segment continues at stream offset 5 (sequence number 1006).
        let (outcome, chunks) = push(&mut r, data(1006, b" world", 4));
        assert_eq!(outcome.class, SegmentClass::InOrder);
        assert_eq!(chunks, vec![d(5, b" world", 4, HDR)]);
        assert_eq!(r.next_offset(), 11);
        assert_eq!(r.seq_at(11), Some(SeqNumber(1012)));
        assert_eq!(r.isn(), Some(SeqNumber(1000)));
        assert_eq!(r.held_bytes(), 0);
    }

    #[test]
    fn out_of_order_data_is_held_until_the_hole_fills() {
        let mut r = after_syn(ReassemblyLimits::default());
        // "world" (offsets 5..10) arrives before "hello" (0..5).
        let (outcome, chunks) = push(&mut r, data(6, b"world", 2));
        assert_eq!(outcome.class, SegmentClass::OutOfOrder);
        assert_eq!((outcome.n_held, outcome.n_delivered), (5, 0));
        assert!(chunks.is_empty());
        assert_eq!(r.held_bytes(), 5);
        assert_eq!(r.held_ranges().collect::<Vec<_>>(), vec![(5, 10)]);

        let (outcome, chunks) = push(&mut r, data(1, b"hello", 3));
        assert_eq!(outcome.class, SegmentClass::InOrder);
        assert_eq!((outcome.n_delivered, outcome.n_released), (5, 5));
        // The filler is delivered first, then the held piece with its own frame and offset.
        assert_eq!(chunks, vec![d(0, b"hello", 3, HDR), d(5, b"world", 2, HDR)]);
        assert_eq!(r.held_bytes(), 0);
        assert_eq!(r.n_held_segments(), 0);
        assert_eq!(r.next_offset(), 10);
    }

    #[test]
    fn exact_retransmission_is_recognised_and_not_delivered_again() {
        let mut r = after_syn(ReassemblyLimits::default());
        push(&mut r, data(1, b"hello", 2));
        let (outcome, chunks) = push(&mut r, data(1, b"hello", 3));
        assert_eq!(outcome.class, SegmentClass::Retransmission);
        assert_eq!(outcome.n_duplicate, 5);
        assert!(chunks.is_empty());

        // A retransmission of held (not yet delivered) data is recognised too.
        push(&mut r, data(11, b"later", 4));
        let (outcome, chunks) = push(&mut r, data(11, b"later", 5));
        assert_eq!(outcome.class, SegmentClass::Retransmission);
        assert_eq!((outcome.n_duplicate, outcome.n_conflicting), (5, 0));
        assert!(chunks.is_empty());
        assert_eq!(r.held_bytes(), 5);
    }

    #[test]
    fn partial_overlap_keeps_the_first_copy_and_splits_provenance() {
        // The stream is "ABCDEFGHIJ" (offsets 0..10, sequence numbers 1..11).
        let mut r = after_syn(ReassemblyLimits::default());
        let (outcome, _) = push(&mut r, data(5, b"EFGH", 2));
        assert_eq!(outcome.class, SegmentClass::OutOfOrder);

        // "CDEFGHIJ" overlaps the held "EFGH": only "CD" and "IJ" are new.
        let (outcome, chunks) = push(&mut r, data(3, b"CDEFGHIJ", 3));
        assert_eq!(outcome.class, SegmentClass::PartialRetransmission);
        assert_eq!((outcome.n_held, outcome.n_duplicate), (4, 4));
        assert!(chunks.is_empty());
        assert_eq!(
            r.held_ranges().collect::<Vec<_>>(),
            vec![(2, 4), (4, 8), (8, 10)]
        );

        // "ABC" fills the hole; "C" is a duplicate of the held "CD".
        let (outcome, chunks) = push(&mut r, data(1, b"ABC", 4));
        assert_eq!(outcome.class, SegmentClass::PartialRetransmission);
        assert_eq!((outcome.n_delivered, outcome.n_duplicate), (2, 1));
        assert_eq!(outcome.n_released, 8);
        assert_eq!(
            chunks,
            vec![
                d(0, b"AB", 4, HDR),
                // "CD" starts 0 bytes into frame 3's payload.
                d(2, b"CD", 3, HDR),
                d(4, b"EFGH", 2, HDR),
                // "IJ" starts 6 bytes into frame 3's payload.
                d(8, b"IJ", 3, HDR + 6),
            ]
        );
    }

    #[test]
    fn conflicting_overlap_is_flagged_and_the_first_copy_wins() {
        let mut r = after_syn(ReassemblyLimits::default());
        push(&mut r, data(5, b"EFGH", 2));
        // Same range, one byte different.
        let (outcome, chunks) = push(&mut r, data(5, b"EFxH", 3));
        assert_eq!(outcome.class, SegmentClass::ConflictingOverlap);
        assert_eq!((outcome.n_duplicate, outcome.n_conflicting), (4, 1));
        assert!(chunks.is_empty());

        let (_, chunks) = push(&mut r, data(1, b"ABCD", 4));
        assert_eq!(chunks, vec![d(0, b"ABCD", 4, HDR), d(4, b"EFGH", 2, HDR)]);
    }

    #[test]
    fn conflicts_are_checked_in_every_held_piece_a_filler_releases() {
        let mut r = after_syn(ReassemblyLimits::default());
        // Two contiguous held pieces: "CD" at 2..4 and "EF" at 4..6.
        push(&mut r, data(3, b"CD", 2));
        push(&mut r, data(5, b"EF", 3));
        // The filler covers both; its last byte differs from the second piece.
        let (outcome, chunks) = push(&mut r, data(1, b"ABCDEx", 4));
        assert_eq!(outcome.class, SegmentClass::ConflictingOverlap);
        assert_eq!((outcome.n_delivered, outcome.n_duplicate), (2, 4));
        assert_eq!(outcome.n_conflicting, 1);
        assert_eq!(
            chunks,
            vec![
                d(0, b"AB", 4, HDR),
                d(2, b"CD", 2, HDR),
                d(4, b"EF", 3, HDR)
            ]
        );
    }

    #[test]
    fn syn_and_fin_each_take_one_sequence_number() {
        let mut r = Reassembler::default();
        // SYN at 100: data starts at 101.
        push(&mut r, syn(100, 1));
        let (_, chunks) = push(&mut r, data(101, b"abc", 3));
        assert_eq!(chunks, vec![d(0, b"abc", 3, HDR)]);
        // A bare FIN at 104 ends the stream at offset 3.
        let (outcome, chunks) = push(&mut r, fin(104, 5));
        assert_eq!(outcome.class, SegmentClass::InOrder);
        assert_eq!(outcome.stream_offset, Some(3));
        assert_eq!(chunks, vec![Chunk::Fin { stream_offset: 3 }]);
        assert!(r.is_fin_delivered());
        assert_eq!(r.fin_offset(), Some(3));

        // The FIN's retransmission and a retransmitted SYN are recognised.
        let (outcome, chunks) = push(&mut r, fin(104, 7));
        assert_eq!(outcome.class, SegmentClass::Retransmission);
        assert!(chunks.is_empty());
        let (outcome, _) = push(&mut r, syn(100, 8));
        assert_eq!(outcome.class, SegmentClass::Retransmission);

        // The ACK of the FIN (105) is one past the stream's end and changes nothing.
        let (flush, chunks) = peer_ack(&mut r, 105);
        assert_eq!(flush, Flush::default());
        assert!(chunks.is_empty());
    }

    #[test]
    fn fin_with_data_and_before_the_data_is_complete() {
        let mut r = after_syn(ReassemblyLimits::default());
        // The last segment carries the FIN and arrives first: the FIN waits for the data.
        let fin_segment = Segment {
            fin: true,
            ..data(4, b"def", 2)
        };
        let (outcome, chunks) = push(&mut r, fin_segment);
        assert_eq!(outcome.class, SegmentClass::OutOfOrder);
        assert!(chunks.is_empty());
        assert_eq!(r.fin_offset(), Some(6));
        let (_, chunks) = push(&mut r, data(1, b"abc", 3));
        assert_eq!(
            chunks,
            vec![
                d(0, b"abc", 3, HDR),
                d(3, b"def", 2, HDR),
                Chunk::Fin { stream_offset: 6 }
            ]
        );
    }

    #[test]
    fn data_after_the_fin_is_dropped_and_a_contradicting_fin_is_flagged() {
        let mut r = after_syn(ReassemblyLimits::default());
        push(&mut r, data(1, b"abc", 2));
        push(&mut r, fin(4, 3));
        // Bytes at offsets 2..5: "c" is a duplicate, "de" lie after the FIN at offset 3.
        let (outcome, chunks) = push(&mut r, data(3, b"cde", 4));
        assert_eq!(outcome.class, SegmentClass::AfterFin);
        assert_eq!((outcome.n_duplicate, outcome.n_dropped), (1, 2));
        assert!(chunks.is_empty());

        let mut r = after_syn(ReassemblyLimits::default());
        push(&mut r, data(1, b"abc", 2));
        // A FIN at offset 1 contradicts the delivered byte at offset 2.
        let (outcome, _) = push(&mut r, fin(2, 3));
        assert_eq!(outcome.class, SegmentClass::ConflictingOverlap);
        assert_eq!(r.fin_offset(), None);
    }

    #[test]
    fn keep_alives_are_recognised_and_not_delivered() {
        let mut r = after_syn(ReassemblyLimits::default());
        push(&mut r, data(1, b"hello", 2));
        // The next expected sequence number is 6, so a probe sits at 5.
        let (outcome, chunks) = push(&mut r, data(5, b"", 3));
        assert_eq!(outcome.class, SegmentClass::KeepAlive);
        assert!(chunks.is_empty());
        // The one-byte form carries a garbage byte that must not be delivered.
        let (outcome, chunks) = push(&mut r, data(5, b"\0", 4));
        assert_eq!(outcome.class, SegmentClass::KeepAlive);
        assert_eq!(outcome.n_dropped, 1);
        assert!(chunks.is_empty());
        // An empty segment at the next sequence number is a pure ACK.
        let (outcome, _) = push(&mut r, data(6, b"", 5));
        assert_eq!(outcome.class, SegmentClass::Empty);
        // Right after the SYN, the probe sits on the SYN's own sequence number.
        let mut r = after_syn(ReassemblyLimits::default());
        let (outcome, _) = push(&mut r, data(0, b"", 2));
        assert_eq!(outcome.class, SegmentClass::KeepAlive);
        assert_eq!(r.next_offset(), 0);
    }

    #[test]
    fn sequence_numbers_wrap_around_after_an_isn_near_the_top() {
        let mut r = Reassembler::default();
        push(&mut r, syn(0xFFFF_FFF0, 1));
        let first: Vec<u8> = (0u8..32).collect();
        let second: Vec<u8> = (32u8..64).collect();
        // The first segment covers 0xFFFF_FFF1..=0x10, the second starts at 0x11.
        let (outcome, chunks) = push(&mut r, data(0x11, &second, 2));
        assert_eq!(outcome.class, SegmentClass::OutOfOrder);
        assert_eq!(outcome.stream_offset, Some(32));
        assert!(chunks.is_empty());
        let (_, chunks) = push(&mut r, data(0xFFFF_FFF1, &first, 3));
        assert_eq!(chunks, vec![d(0, &first, 3, HDR), d(32, &second, 2, HDR)]);
        assert_eq!(r.seq_at(64), Some(SeqNumber(0x31)));
        // A keep-alive just below the wrapped next sequence number is still recognised.
        let (outcome, _) = push(&mut r, data(0x30, b"", 4));
        assert_eq!(outcome.class, SegmentClass::KeepAlive);
    }

    #[test]
    fn mid_stream_pickup_starts_at_the_first_data_segment() {
        let mut r = Reassembler::default();
        // A pure ACK does not fix the start.
        let (outcome, _) = push(&mut r, data(4000, b"", 1));
        assert_eq!(outcome.class, SegmentClass::Empty);
        assert_eq!(r.start_seq(), None);

        let (outcome, chunks) = push(&mut r, data(5000, b"abc", 2));
        assert_eq!(outcome.class, SegmentClass::New);
        assert_eq!(chunks, vec![d(0, b"abc", 2, HDR)]);
        assert_eq!(r.start_seq(), Some(SeqNumber(5000)));
        assert_eq!(r.isn(), None);

        // Entirely before the start: dropped.
        let (outcome, chunks) = push(&mut r, data(4990, b"0123456789", 3));
        assert_eq!(outcome.class, SegmentClass::BeforeIsn);
        assert_eq!(outcome.n_dropped, 10);
        assert!(chunks.is_empty());

        // Straddling the start: the two bytes before it are dropped, the rest is a duplicate.
        let (outcome, _) = push(&mut r, data(4998, b"xyabc", 4));
        assert_eq!(outcome.class, SegmentClass::Retransmission);
        assert_eq!((outcome.n_dropped, outcome.n_duplicate), (2, 3));

        // A late SYN that agrees with the start supplies the ISN.
        let (outcome, _) = push(&mut r, syn(4999, 5));
        assert_eq!(outcome.class, SegmentClass::New);
        assert_eq!(r.isn(), Some(SeqNumber(4999)));
    }

    #[test]
    fn peer_ack_past_a_hole_declares_it_a_gap() {
        let mut r = after_syn(ReassemblyLimits::default());
        push(&mut r, data(1, b"abc", 2));
        // Offsets 3..6 were never captured; "ghi" (6..9) is held.
        push(&mut r, data(7, b"ghi", 3));
        // An ACK up to offset 3 (sequence number 4) changes nothing.
        let (flush, chunks) = peer_ack(&mut r, 4);
        assert_eq!(flush, Flush::default());
        assert!(chunks.is_empty());

        // The peer acknowledges up to sequence number 10 (offset 9): the hole can never fill.
        let (flush, chunks) = peer_ack(&mut r, 10);
        assert_eq!(
            flush,
            Flush {
                n_released: 3,
                n_gap: 3
            }
        );
        assert_eq!(chunks, vec![gap(3, 3), d(6, b"ghi", 3, HDR)]);

        // Acknowledged bytes that were never captured at all become a gap too.
        let (flush, chunks) = peer_ack(&mut r, 21);
        assert_eq!(flush.n_gap, 11);
        assert_eq!(chunks, vec![gap(9, 11)]);
        let (outcome, chunks) = push(&mut r, data(21, b"z", 4));
        assert_eq!(outcome.class, SegmentClass::InOrder);
        assert_eq!(chunks, vec![d(20, b"z", 4, HDR)]);

        // The late copy of the lost bytes is now a retransmission of declared-lost bytes.
        let (outcome, chunks) = push(&mut r, data(4, b"def", 5));
        assert_eq!(outcome.class, SegmentClass::Retransmission);
        assert!(chunks.is_empty());

        // An acknowledgement beyond any window is ignored.
        let far = 22 + u32::try_from(MAX_WINDOW).unwrap() + 1;
        assert_eq!(peer_ack(&mut r, far).0, Flush::default());
    }

    #[test]
    fn finish_declares_every_remaining_hole_a_gap() {
        let mut r = after_syn(ReassemblyLimits::default());
        // Offsets: 0..2 lost, "cd" 2..4, 4..6 lost, "gh" 6..8, 8..10 lost, FIN at 10.
        push(&mut r, data(3, b"cd", 2));
        push(&mut r, data(7, b"gh", 3));
        push(&mut r, fin(11, 4));
        assert_eq!(
            r.to_string(),
            "next 0 (seq 1), held 4 bytes in 2 pieces [2..4) #2 [6..8) #3, FIN at 10"
        );
        let (flush, chunks) = finish(&mut r);
        assert_eq!(
            flush,
            Flush {
                n_released: 4,
                n_gap: 6
            }
        );
        assert_eq!(
            chunks,
            vec![
                gap(0, 2),
                d(2, b"cd", 2, HDR),
                gap(4, 2),
                d(6, b"gh", 3, HDR),
                gap(8, 2),
                Chunk::Fin { stream_offset: 10 },
            ]
        );
        assert_eq!(
            r.to_string(),
            "next 10 (seq 11), held 0 bytes in 0 pieces, FIN at 10 delivered"
        );
        // A second finish has nothing left to do.
        assert_eq!(finish(&mut r), (Flush::default(), vec![]));
    }

    #[test]
    fn reaching_a_limit_declares_the_earliest_hole_lost() {
        let limits = ReassemblyLimits {
            max_buffered_bytes: 10,
            max_segments_held: 3,
        };
        let mut r = after_syn(limits);
        // Held at 5..10 and 12..15.
        push(&mut r, data(6, b"fghij", 2));
        push(&mut r, data(13, b"mno", 3));
        // Three more bytes would make 11 held bytes: the hole 0..5 is given up, 5..10 released.
        let (outcome, chunks) = push(&mut r, data(21, b"uvw", 4));
        assert_eq!(outcome.class, SegmentClass::BeyondLimits);
        assert_eq!(
            outcome.limit,
            Some(LimitExceeded::BufferedBytes { limit: 10 })
        );
        assert_eq!(
            (outcome.n_gap, outcome.n_released, outcome.n_held),
            (5, 5, 3)
        );
        assert_eq!(chunks, vec![gap(0, 5), d(5, b"fghij", 2, HDR)]);
        assert_eq!(
            r.held_ranges().collect::<Vec<_>>(),
            vec![(12, 15), (20, 23)]
        );
        assert!(outcome
            .limit
            .is_some_and(|l| l.to_string().contains("buffer full")));

        // A third piece still fits; a fourth exceeds the piece limit: the hole 10..12 goes.
        let (outcome, _) = push(&mut r, data(31, b"0", 5));
        assert_eq!(outcome.class, SegmentClass::OutOfOrder);
        let (outcome, chunks) = push(&mut r, data(41, b"1", 6));
        assert_eq!(
            outcome.limit,
            Some(LimitExceeded::SegmentsHeld { limit: 3 })
        );
        assert_eq!(chunks, vec![gap(10, 2), d(12, b"mno", 3, HDR)]);
        assert_eq!(
            r.held_ranges().collect::<Vec<_>>(),
            vec![(20, 23), (30, 31), (40, 41)]
        );
        assert_eq!(r.held_bytes(), 5);
    }

    #[test]
    fn a_piece_larger_than_the_buffer_is_delivered_after_a_gap() {
        let limits = ReassemblyLimits {
            max_buffered_bytes: 4,
            max_segments_held: 8,
        };
        let mut r = after_syn(limits);
        // Held at 30..32.
        push(&mut r, data(31, b"xy", 2));
        // Nine bytes at 10..19 can never be held: the hole before them is given up and they are
        // delivered at once, without copying, while the later held piece stays held.
        let (outcome, chunks) = push(&mut r, data(11, b"123456789", 3));
        assert_eq!(outcome.class, SegmentClass::BeyondLimits);
        assert_eq!((outcome.n_gap, outcome.n_delivered), (10, 9));
        assert_eq!(chunks, vec![gap(0, 10), d(10, b"123456789", 3, HDR)]);
        assert_eq!(r.held_ranges().collect::<Vec<_>>(), vec![(30, 32)]);

        // With no buffering at all, reordering turns into gaps but every byte still comes out once.
        let mut r = after_syn(ReassemblyLimits {
            max_buffered_bytes: 0,
            max_segments_held: 0,
        });
        let (_, chunks) = push(&mut r, data(4, b"def", 2));
        assert_eq!(chunks, vec![gap(0, 3), d(3, b"def", 2, HDR)]);
    }

    #[test]
    fn resets_unexpected_syns_and_far_segments_are_reported_and_ignored() {
        let mut r = after_syn(ReassemblyLimits::default());
        let rst = Segment {
            rst: true,
            ..data(1, b"bye", 2)
        };
        let (outcome, chunks) = push(&mut r, rst);
        assert_eq!(outcome.class, SegmentClass::Reset);
        assert_eq!(outcome.n_dropped, 3);
        assert!(chunks.is_empty());

        let (outcome, _) = push(&mut r, syn(77, 3));
        assert_eq!(outcome.class, SegmentClass::UnexpectedSyn);
        assert_eq!(r.isn(), Some(SeqNumber(0)));

        let far = 1 + u32::try_from(MAX_WINDOW).unwrap() + 1;
        let (outcome, _) = push(&mut r, data(far, b"?", 4));
        assert_eq!(outcome.class, SegmentClass::OutOfWindow);
        assert_eq!(r.held_bytes(), 0);

        // An RST before any start fixes nothing.
        let mut r = Reassembler::default();
        let (outcome, _) = push(
            &mut r,
            Segment {
                rst: true,
                ..data(9, b"", 1)
            },
        );
        assert_eq!(outcome.class, SegmentClass::Reset);
        assert_eq!(r.start_seq(), None);
    }

    #[test]
    fn a_stream_longer_than_4_gib_keeps_counting_offsets() {
        let mut r = after_syn(ReassemblyLimits::default());
        // Declaring lost bytes moves the next offset without moving data: ACK 768 MiB at a time.
        let step = 3u64 << 28;
        let mut acked = 0u64;
        while acked < (1u64 << 32) + 100 {
            acked += step;
            let seq = SeqNumber(0).advance(acked + 1);
            peer_ack(&mut r, seq.get());
        }
        assert_eq!(r.next_offset(), acked);
        let seq = SeqNumber(0).advance(acked + 1).get();
        let (outcome, chunks) = push(&mut r, data(seq, b"tail", 2));
        assert_eq!(outcome.stream_offset, Some(acked));
        assert_eq!(chunks, vec![d(acked, b"tail", 2, HDR)]);
    }

    #[test]
    fn many_tiny_segments_in_reverse_order_are_not_quadratic() {
        const N: u32 = 100_000;
        let limits = ReassemblyLimits {
            max_buffered_bytes: 1 << 20,
            max_segments_held: 200_000,
        };
        let stream: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
        let mut r = after_syn(limits);
        let mut out = Vec::with_capacity(stream.len());
        for i in (0..N).rev() {
            let idx = i as usize;
            let segment = data(i + 1, &stream[idx..=idx], u64::from(i) + 2);
            r.push(segment, |c| {
                if let Chunk::Data { bytes, .. } = c {
                    out.extend_from_slice(&bytes);
                }
            });
        }
        assert_eq!(out, stream);
        assert_eq!(r.held_bytes(), 0);

        // With the default limits the same storm stays bounded and reports its gaps.
        let mut r = after_syn(ReassemblyLimits::default());
        let mut gaps = 0;
        let mut delivered = 0;
        for i in (0..N).rev() {
            let idx = i as usize;
            let outcome = r.push(data(i + 1, &stream[idx..=idx], 2), |_| {});
            gaps += outcome.n_gap;
            delivered += outcome.n_released + outcome.n_delivered;
            assert!(r.n_held_segments() <= ReassemblyLimits::default().max_segments_held);
        }
        assert_eq!(gaps + delivered, u64::from(N));
        // The 4097th piece does not fit: the hole before it is given up, it is delivered at once,
        // and the 4096 held pieces behind it follow; everything after that is a duplicate.
        assert_eq!(delivered, 4097);
    }

    // Property tests.

    /// One generated segment: stream range and where its payload sits in its frame.
    #[derive(Clone, Debug)]
    struct Cut {
        start: usize,
        end: usize,
        payload_offset: u32,
    }

    #[derive(Clone, Debug)]
    struct Plan {
        isn: u32,
        stream: Vec<u8>,
        with_syn: bool,
        with_fin: bool,
        /// Data segments (and `None` for the FIN) in capture order.
        order: Vec<Option<Cut>>,
    }

    fn isn_strategy() -> impl Strategy<Value = u32> {
        prop_oneof![any::<u32>(), (u32::MAX - 25_000)..=u32::MAX]
    }

    fn plan_strategy() -> impl Strategy<Value = Plan> {
        (
            vec(any::<u8>(), 0..20_000),
            isn_strategy(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_flat_map(|(stream, isn, with_syn, with_fin)| {
                let len = stream.len();
                (
                    Just(stream),
                    Just(isn),
                    Just(with_syn),
                    Just(with_fin),
                    vec(0..=len, 0..48),
                    vec((0..=len, 1..4000usize), 0..12),
                    vec(any::<Index>(), 0..12),
                    vec(0u32..200, 128),
                )
            })
            .prop_flat_map(
                |(stream, isn, with_syn, with_fin, mut cuts, extras, dups, offsets)| {
                    let len = stream.len();
                    cuts.push(0);
                    cuts.push(len);
                    cuts.sort_unstable();
                    cuts.dedup();
                    let mut ranges: Vec<(usize, usize)> =
                        cuts.windows(2).map(|w| (w[0], w[1])).collect();
                    // Overlapping copies of random ranges, with the same bytes.
                    for (start, n) in extras {
                        let end = (start + n).min(len);
                        if start < end {
                            ranges.push((start, end));
                        }
                    }
                    // Exact duplicates of some segments.
                    if !ranges.is_empty() {
                        for dup in dups {
                            ranges.push(ranges[dup.index(ranges.len())]);
                        }
                    }
                    let mut order: Vec<Option<Cut>> = ranges
                        .into_iter()
                        .enumerate()
                        .map(|(i, (start, end))| {
                            Some(Cut {
                                start,
                                end,
                                payload_offset: offsets[i % offsets.len()],
                            })
                        })
                        .collect();
                    if with_fin {
                        order.push(None);
                    }
                    (
                        Just(stream),
                        Just(isn),
                        Just(with_syn),
                        Just(with_fin),
                        Just(order).prop_shuffle(),
                    )
                },
            )
            .prop_map(|(stream, isn, with_syn, with_fin, mut order)| {
                if !with_syn {
                    // A mid-stream pickup: the first captured data segment must start the stream.
                    if let Some(i) = order
                        .iter()
                        .position(|p| p.as_ref().is_some_and(|p| p.start == 0))
                    {
                        let first = order.remove(i);
                        order.insert(0, first);
                    }
                }
                Plan {
                    isn,
                    stream,
                    with_syn,
                    with_fin,
                    order,
                }
            })
    }

    /// What came out of a run: the chunks in order, plus the pieces by frame for provenance.
    struct Run {
        chunks: Vec<Chunk<'static>>,
        by_frame: Vec<Option<Cut>>,
    }

    /// Pushes the plan's segments (skipping the `dropped` positions of `order`) and finishes,
    /// checking per-push invariants on the way.
    fn run(plan: &Plan, dropped: &[bool], limits: ReassemblyLimits) -> Result<Run, TestCaseError> {
        let mut r = Reassembler::new(limits);
        let mut chunks = Vec::new();
        let mut by_frame = vec![None];
        let first_data_seq = plan.isn.wrapping_add(1);
        if plan.with_syn {
            by_frame.push(None);
            r.push(syn(plan.isn, 1), |c| chunks.push(c.into_owned()));
        }
        for (i, piece) in plan.order.iter().enumerate() {
            let frame = u64::try_from(by_frame.len()).unwrap();
            by_frame.push(piece.clone());
            if dropped.get(i).copied().unwrap_or(false) {
                continue;
            }
            let segment = match piece {
                Some(p) => Segment {
                    payload_offset: p.payload_offset,
                    ..data(
                        first_data_seq.wrapping_add(u32::try_from(p.start).unwrap()),
                        &plan.stream[p.start..p.end],
                        frame,
                    )
                },
                None => fin(
                    first_data_seq.wrapping_add(u32::try_from(plan.stream.len()).unwrap()),
                    frame,
                ),
            };
            let outcome = r.push(segment, |c| chunks.push(c.into_owned()));
            let len = u64::try_from(segment.payload.len()).unwrap();
            prop_assert_eq!(
                outcome.n_delivered + outcome.n_held + outcome.n_duplicate + outcome.n_dropped,
                len
            );
            prop_assert!(outcome.n_conflicting == 0);
            prop_assert!(r.held_bytes() <= limits.max_buffered_bytes);
            prop_assert!(r.n_held_segments() <= limits.max_segments_held);
        }
        r.finish(|c| chunks.push(c.into_owned()));
        prop_assert_eq!(r.held_bytes(), 0);
        Ok(Run { chunks, by_frame })
    }

    /// Checks that chunks tile the stream from offset 0, that data is the original and that its
    /// provenance points at the right byte of the right segment; returns the gaps as ranges.
    fn check_tiling(plan: &Plan, run: &Run) -> Result<Vec<(u64, u64)>, TestCaseError> {
        let mut at = 0u64;
        let mut gaps = Vec::new();
        let mut fin_seen = false;
        for chunk in &run.chunks {
            prop_assert!(!fin_seen, "a chunk after the FIN");
            prop_assert_eq!(chunk.stream_offset(), at);
            match chunk {
                Chunk::Data {
                    stream_offset,
                    bytes,
                    frame,
                    frame_offset,
                } => {
                    prop_assert!(!bytes.is_empty());
                    let start = usize::try_from(*stream_offset).unwrap();
                    prop_assert_eq!(&bytes[..], &plan.stream[start..start + bytes.len()]);
                    let piece = run.by_frame[usize::try_from(*frame).unwrap()].as_ref();
                    let Some(piece) = piece else {
                        return Err(TestCaseError::fail("data from a frame without payload"));
                    };
                    // Byte i of the chunk is byte (frame_offset + i - payload_offset) of the
                    // segment's payload, which is stream byte piece.start + that.
                    prop_assert!(*frame_offset >= piece.payload_offset);
                    let within = usize::try_from(*frame_offset - piece.payload_offset).unwrap();
                    prop_assert_eq!(piece.start + within, start);
                    prop_assert!(start + bytes.len() <= piece.end);
                }
                Chunk::Gap { stream_offset, len } => {
                    prop_assert!(*len > 0);
                    gaps.push((*stream_offset, stream_offset + len));
                }
                Chunk::Fin { stream_offset } => {
                    prop_assert_eq!(*stream_offset, u64::try_from(plan.stream.len()).unwrap());
                    fin_seen = true;
                }
            }
            at += chunk.stream_len();
        }
        Ok(gaps)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn reordered_duplicated_overlapping_segments_reassemble_exactly(plan in plan_strategy()) {
            let run = run(&plan, &[], ReassemblyLimits::default())?;
            let gaps = check_tiling(&plan, &run)?;
            prop_assert!(gaps.is_empty(), "gaps {:?}", gaps);
            let total: u64 = run.chunks.iter().map(Chunk::stream_len).sum();
            prop_assert_eq!(total, u64::try_from(plan.stream.len()).unwrap());
            let fins = run.chunks.iter().filter(|c| matches!(c, Chunk::Fin { .. })).count();
            prop_assert_eq!(fins, usize::from(plan.with_fin));
        }

        #[test]
        fn dropped_segments_become_exactly_the_uncovered_gaps(
            plan in plan_strategy(),
            drop_mask in vec(prop::bool::weighted(0.2), 256),
        ) {
            // Keep the first segment of a mid-stream pickup: it defines the start.
            let mut dropped = drop_mask;
            if !plan.with_syn {
                dropped[0] = false;
            }
            let mut covered = vec![false; plan.stream.len()];
            let mut end = 0;
            let mut fin_kept = false;
            for (i, piece) in plan.order.iter().enumerate() {
                if dropped.get(i).copied().unwrap_or(false) {
                    continue;
                }
                match piece {
                    Some(p) => {
                        covered[p.start..p.end].iter_mut().for_each(|c| *c = true);
                        end = end.max(p.end);
                    }
                    None => fin_kept = true,
                }
            }
            if fin_kept {
                end = plan.stream.len();
            }
            let mut expected = Vec::new();
            let mut i = 0;
            while i < end {
                if covered[i] {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < end && !covered[i] {
                    i += 1;
                }
                expected.push((u64::try_from(start).unwrap(), u64::try_from(i).unwrap()));
            }

            let run = run(&plan, &dropped, ReassemblyLimits::default())?;
            let gaps = check_tiling(&plan, &run)?;
            prop_assert_eq!(gaps, expected);
            let total: u64 = run.chunks.iter().map(Chunk::stream_len).sum();
            prop_assert_eq!(total, u64::try_from(end).unwrap());
        }

        #[test]
        fn small_limits_keep_memory_bounded_and_output_consistent(
            plan in plan_strategy(),
            max_buffered_bytes in 0usize..3000,
            max_segments_held in 0usize..12,
        ) {
            let limits = ReassemblyLimits { max_buffered_bytes, max_segments_held };
            let run = run(&plan, &[], limits)?;
            check_tiling(&plan, &run)?;
            let total: u64 = run.chunks.iter().map(Chunk::stream_len).sum();
            prop_assert_eq!(total, u64::try_from(plan.stream.len()).unwrap());
        }
    }
}
