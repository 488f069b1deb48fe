//! IPv4 fragment reassembly.
//!
//! This module owns the table of pending IPv4 datagrams. It collects fragments by
//! (source, destination, protocol, identification), keeps the first copy of every
//! byte, reports duplicates, conflicting overlaps and rule breaks, and hands back
//! each completed datagram as a [`Reassembled`] that maps every payload byte to the
//! frame (and the offset in that frame) it came from. Datagrams that never complete
//! are returned as [`Expired`] when they time out, when they are evicted to stay
//! within [`DefragLimits`], or when the capture ends.
//!
//! The caller drives the clock with capture timestamps: for each frame it calls
//! [`Defragmenter::expire`] with the frame's timestamp, then [`Defragmenter::push`]
//! for the frame's fragment, and [`Defragmenter::finish`] once at the end of the
//! capture.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use osiscope::decode::defrag::{DefragKey, DefragLimits, DefragOutcome, Defragmenter, Fragment};
//!
//! let key = DefragKey {
//!     src: Ipv4Addr::new(10, 0, 0, 1),
//!     dst: Ipv4Addr::new(10, 0, 0, 2),
//!     protocol: 17,
//!     identification: 0x1234,
//! };
//! let mut defrag = Defragmenter::new(DefragLimits::default());
//! // Frame 1 carries payload bytes 0..8 (More Fragments set) after a 34-byte header stack.
//! let first = defrag.push(Fragment {
//!     key,
//!     frag_offset: 0,
//!     more_fragments: true,
//!     payload: b"abcdefgh",
//!     frame: 1,
//!     frame_offset: 34,
//!     ts_micros: 0,
//! });
//! assert!(matches!(first.outcome, DefragOutcome::Held { .. }));
//! // Frame 2 carries the last fragment, bytes 8..11.
//! let last = defrag.push(Fragment {
//!     key,
//!     frag_offset: 8,
//!     more_fragments: false,
//!     payload: b"ijk",
//!     frame: 2,
//!     frame_offset: 34,
//!     ts_micros: 10,
//! });
//! let DefragOutcome::Complete(datagram) = last.outcome else {
//!     panic!("the last fragment completes the datagram");
//! };
//! assert_eq!(datagram.payload(), b"abcdefghijk");
//! assert_eq!(datagram.frames(), &[1, 2]);
//! assert_eq!(datagram.locate(9), Some((2, 35)));
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::time::Duration;

/// The largest IPv4 datagram: the Total Length field has 16 bits (RFC 791).
pub const MAX_IPV4_DATAGRAM_LEN: usize = 65_535;

/// Bookkeeping bytes charged against [`DefragLimits::max_bytes_pending`] for every
/// accepted fragment, on top of the payload bytes it adds, so that a flood of tiny
/// or duplicate fragments is paid for even when it carries almost no data.
pub const FRAGMENT_OVERHEAD_LEN: usize = 64;

/// Identifies the datagram a fragment belongs to, as RFC 791 defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DefragKey {
    /// Source address of the IPv4 header.
    pub src: Ipv4Addr,
    /// Destination address of the IPv4 header.
    pub dst: Ipv4Addr,
    /// Protocol field of the IPv4 header.
    pub protocol: u8,
    /// Identification field of the IPv4 header.
    pub identification: u16,
}

/// Names one datagram for the lifetime of a [`Defragmenter`].
///
/// Ids are handed out in creation order, starting at 1. Every fragment of a datagram
/// is told the same id, so views can later say which frame reassembled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DatagramId(pub u64);

impl fmt::Display for DatagramId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Bounds on the memory and work of a [`Defragmenter`].
///
/// When a new fragment would go beyond `max_datagrams_pending` or
/// `max_bytes_pending`, the oldest pending datagrams are evicted (and reported) to
/// make room; the limits are never exceeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefragLimits {
    /// Most datagrams held incomplete at once. Default: 1024.
    pub max_datagrams_pending: usize,
    /// Most bytes held for all incomplete datagrams together: the payload bytes
    /// stored plus [`FRAGMENT_OVERHEAD_LEN`] per accepted fragment. Default: 16 MiB.
    pub max_bytes_pending: usize,
    /// Furthest end (fragment offset plus payload length) a fragment may reach.
    /// Default and ceiling: [`MAX_IPV4_DATAGRAM_LEN`] (65535), fixed by the 16-bit
    /// Total Length field; larger values are treated as 65535.
    pub max_datagram_len: usize,
    /// Most fragments accepted into one datagram, duplicates included. This bounds
    /// the work per fragment, which walks the datagram's stored pieces (at most two
    /// per fragment). Default: 512, enough for a 65535-byte datagram cut into
    /// 128-byte fragments.
    pub max_fragments_per_datagram: usize,
    /// How long, in capture time, a datagram may stay incomplete after its first
    /// fragment before [`Defragmenter::expire`] drops it. Default: 30 s, like Linux's
    /// `ipfrag_time`.
    pub timeout: Duration,
}

impl Default for DefragLimits {
    fn default() -> Self {
        Self {
            max_datagrams_pending: 1024,
            max_bytes_pending: 16 * 1024 * 1024,
            max_datagram_len: MAX_IPV4_DATAGRAM_LEN,
            max_fragments_per_datagram: 512,
            timeout: Duration::from_secs(30),
        }
    }
}

/// One IPv4 fragment as seen in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// The datagram this fragment belongs to.
    pub key: DefragKey,
    /// Where the payload starts in the datagram, in bytes (the Fragment Offset
    /// field times 8).
    pub frag_offset: u32,
    /// The More Fragments flag.
    pub more_fragments: bool,
    /// The fragment's payload (the bytes after the IPv4 header, within Total Length).
    pub payload: &'a [u8],
    /// The 1-based number of the frame that carried the fragment.
    pub frame: u64,
    /// Where `payload` starts in that frame.
    pub frame_offset: u32,
    /// The frame's capture timestamp, in microseconds.
    pub ts_micros: u64,
}

/// A rule a fragment broke, or a limit it ran into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefragError {
    /// The fragment offset must be a multiple of 8 bytes, since the wire field counts 8-byte units.
    #[error("fragment offset {frag_offset} is not a multiple of 8 bytes")]
    UnalignedOffset {
        /// The offset given, in bytes.
        frag_offset: u32,
    },
    /// A fragment must not end beyond the largest datagram (offset + length <= 65535).
    #[error("fragment ends at byte {end}, beyond the largest datagram ({max_len} bytes)")]
    ExceedsMaxDatagramLen {
        /// Fragment offset plus payload length.
        end: u64,
        /// The largest end allowed.
        max_len: usize,
    },
    /// Every fragment but the last must carry a multiple of 8 payload bytes (RFC 791).
    #[error("non-last fragment carries {len} bytes, not a multiple of 8")]
    UnalignedFragmentLen {
        /// The payload length of the fragment.
        len: usize,
    },
    /// A fragment with More Fragments set must carry at least one byte.
    #[error("non-last fragment carries no payload")]
    EmptyFragment,
    /// Only one total length may be set: a second last fragment must end where the first did (Wireshark's multiple tails).
    #[error("last fragment ends at byte {end}, but an earlier last fragment ended at {total_len}")]
    ConflictingTotalLen {
        /// The total length set by the earlier last fragment.
        total_len: u32,
        /// Where this last fragment ends.
        end: u32,
    },
    /// No data may lie beyond the total length set by the last fragment.
    #[error("data reaches byte {end}, beyond the datagram's total length {total_len}")]
    DataBeyondTotalLen {
        /// Where the offending data ends.
        end: u32,
        /// The total length set by the last fragment.
        total_len: u32,
    },
    /// Overlapping fragments must carry the same bytes; the first copy was kept.
    #[error(
        "fragment overlaps {overlap_len} bytes held from frame {kept_frame} with different data \
         (first difference at byte {first_conflict}); the first copy was kept"
    )]
    ConflictingOverlap {
        /// How many bytes of this fragment were already held.
        overlap_len: u32,
        /// The first datagram offset where the bytes differ.
        first_conflict: u32,
        /// The frame whose byte at `first_conflict` was kept.
        kept_frame: u64,
    },
    /// A datagram may collect at most `max_fragments_per_datagram` fragments.
    #[error("datagram already holds {limit} fragments, the most allowed")]
    TooManyFragments {
        /// The limit in force.
        limit: usize,
    },
    /// A fragment must fit in `max_bytes_pending` together with its datagram's held bytes.
    #[error("fragment needs {needed} bytes of reassembly memory, more than the limit of {limit}")]
    ExceedsPendingBytes {
        /// Bytes its datagram would hold with this fragment.
        needed: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A fragment cannot be held when `max_datagrams_pending` is 0.
    #[error("no datagram may be held pending (the limit is {limit})")]
    ExceedsPendingDatagrams {
        /// The limit in force.
        limit: usize,
    },
}

/// How a fragment overlapped bytes already held for its datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// Every byte of the fragment was already held, with the same value; nothing new was stored.
    Duplicate,
    /// Part of the fragment was already held, with the same values; the rest was stored.
    SameData {
        /// How many bytes were already held.
        overlap_len: u32,
    },
    /// Some already-held bytes differ from the fragment's; the first copy was kept
    /// (Wireshark's "overlapping fragments with conflicting data").
    Conflicting {
        /// How many bytes were already held.
        overlap_len: u32,
        /// The first datagram offset where the bytes differ.
        first_conflict: u32,
        /// The frame whose byte at `first_conflict` was kept.
        kept_frame: u64,
    },
}

impl Overlap {
    /// Returns the problem to report for this overlap: only conflicting data is one.
    pub fn problem(&self) -> Option<DefragError> {
        match *self {
            Overlap::Duplicate | Overlap::SameData { .. } => None,
            Overlap::Conflicting {
                overlap_len,
                first_conflict,
                kept_frame,
            } => Some(DefragError::ConflictingOverlap {
                overlap_len,
                first_conflict,
                kept_frame,
            }),
        }
    }
}

/// What became of a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefragOutcome {
    /// The fragment was accepted and its datagram is still incomplete.
    Held {
        /// The datagram the fragment joined.
        datagram_id: DatagramId,
    },
    /// The fragment was accepted and completed its datagram.
    Complete(Reassembled),
    /// The fragment was rejected; nothing of it was stored.
    Problem {
        /// The pending datagram it belonged to, if there was one.
        datagram_id: Option<DatagramId>,
        /// The rule it broke or the limit it ran into.
        problem: DefragError,
    },
}

/// Everything one call to [`Defragmenter::push`] has to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// What became of the fragment.
    pub outcome: DefragOutcome,
    /// How the fragment overlapped bytes already held, if it did.
    pub overlap: Option<Overlap>,
    /// Datagrams dropped to make room for this fragment, oldest first.
    pub evicted: Vec<Expired>,
}

/// A contiguous run of reassembled payload bytes that came from one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentSpan {
    /// The 1-based frame the bytes came from.
    pub frame: u64,
    /// Where the bytes sit in the reassembled payload.
    pub datagram_range: Range<u32>,
    /// Where the first of these bytes sits in the frame.
    pub frame_offset: u32,
}

/// A completed datagram: its payload and where every byte came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    datagram_id: DatagramId,
    key: DefragKey,
    payload: Vec<u8>,
    spans: Vec<FragmentSpan>,
    frames: Vec<u64>,
    reassembled_in: u64,
}

impl Reassembled {
    /// The id every fragment of this datagram was told.
    pub fn datagram_id(&self) -> DatagramId {
        self.datagram_id
    }

    /// The datagram's key.
    pub fn key(&self) -> DefragKey {
        self.key
    }

    /// The reassembled payload (the bytes after the IPv4 header).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Takes the reassembled payload.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// Where the payload came from: spans in payload order that tile it exactly,
    /// each byte attributed to the first fragment that carried it.
    pub fn spans(&self) -> &[FragmentSpan] {
        &self.spans
    }

    /// Every frame whose fragment was accepted into the datagram (duplicates
    /// included), in ascending order without repeats.
    pub fn frames(&self) -> &[u64] {
        &self.frames
    }

    /// The frame whose fragment completed the datagram (Wireshark's `ip.reassembled_in`).
    pub fn reassembled_in(&self) -> u64 {
        self.reassembled_in
    }

    /// Returns the frame and frame offset of the payload byte at `datagram_offset`.
    pub fn locate(&self, datagram_offset: u32) -> Option<(u64, u32)> {
        let index = self
            .spans
            .partition_point(|span| span.datagram_range.end <= datagram_offset);
        let span = self.spans.get(index)?;
        if !span.datagram_range.contains(&datagram_offset) {
            return None;
        }
        let delta = datagram_offset.checked_sub(span.datagram_range.start)?;
        Some((span.frame, span.frame_offset.saturating_add(delta)))
    }
}

/// Why an incomplete datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryReason {
    /// It stayed incomplete longer than [`DefragLimits::timeout`].
    TimedOut,
    /// It was the oldest pending datagram when `max_datagrams_pending` was reached.
    EvictedForDatagrams,
    /// It was the oldest pending datagram when `max_bytes_pending` was reached.
    EvictedForBytes,
    /// The capture ended before it completed.
    CaptureEnded,
}

/// A datagram that never completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// The id its fragments were told.
    pub datagram_id: DatagramId,
    /// Its key.
    pub key: DefragKey,
    /// Why it was dropped.
    pub reason: ExpiryReason,
    /// Capture time of its first fragment, in microseconds.
    pub first_seen_micros: u64,
    /// Every frame whose fragment was accepted into it, ascending, without repeats.
    pub frames: Vec<u64>,
    /// Distinct payload bytes received.
    pub bytes_received: u32,
    /// The total length set by the last fragment, or `None` if it never arrived.
    pub total_len: Option<u32>,
    /// The holes: ranges of the payload never received, up to `total_len`, or up
    /// to the furthest byte received when `total_len` is unknown.
    pub missing: Vec<Range<u32>>,
}

/// A run of stored payload bytes from one fragment.
#[derive(Debug, Clone)]
struct Piece {
    end: u32,
    frame: u64,
    frame_offset: u32,
    data: Vec<u8>,
}

/// A datagram still waiting for fragments.
#[derive(Debug, Clone)]
struct Pending {
    id: DatagramId,
    first_seen_micros: u64,
    total_len: Option<u32>,
    max_end: u32,
    received_len: u32,
    charge: usize,
    n_fragments: usize,
    frames: Vec<u64>,
    /// Stored runs keyed by their start offset; they never overlap.
    pieces: BTreeMap<u32, Piece>,
}

/// Where a fragment's new bytes go, and how it overlaps what is held.
struct Plan {
    gaps: Vec<Range<u32>>,
    new_len: u32,
    overlap: Option<Overlap>,
}

/// Reassembles IPv4 datagrams from their fragments within [`DefragLimits`].
#[derive(Debug, Clone)]
pub struct Defragmenter {
    limits: DefragLimits,
    pending: HashMap<DefragKey, Pending>,
    /// Pending datagrams in creation order, for eviction.
    by_creation: BTreeMap<DatagramId, DefragKey>,
    /// Pending datagrams by first-seen time, for timeouts.
    by_age: BTreeMap<(u64, DatagramId), DefragKey>,
    bytes_pending: usize,
    next_id: u64,
}

impl Defragmenter {
    /// Creates an empty defragmenter bounded by `limits`.
    pub fn new(limits: DefragLimits) -> Self {
        Self {
            limits,
            pending: HashMap::new(),
            by_creation: BTreeMap::new(),
            by_age: BTreeMap::new(),
            bytes_pending: 0,
            next_id: 1,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &DefragLimits {
        &self.limits
    }

    /// How many datagrams are waiting for fragments.
    pub fn n_pending(&self) -> usize {
        self.pending.len()
    }

    /// Bytes charged for the waiting datagrams (see [`DefragLimits::max_bytes_pending`]).
    pub fn bytes_pending(&self) -> usize {
        self.bytes_pending
    }

    /// Adds one fragment.
    ///
    /// The first copy of every byte wins. A fragment that breaks a rule is rejected
    /// whole and reported in [`DefragOutcome::Problem`]. A fragment arriving after
    /// its datagram completed starts a new datagram, since the identification may
    /// have been reused.
    pub fn push(&mut self, fragment: Fragment<'_>) -> Pushed {
        match self.try_push(fragment) {
            Ok(pushed) => pushed,
            Err(problem) => Pushed {
                outcome: DefragOutcome::Problem {
                    datagram_id: self.pending.get(&fragment.key).map(|pending| pending.id),
                    problem,
                },
                overlap: None,
                evicted: Vec::new(),
            },
        }
    }

    /// Drops the datagrams whose first fragment is older than the timeout at
    /// capture time `now_micros`, oldest first.
    ///
    /// Call it with each frame's timestamp before pushing the frame's fragment.
    /// Costs one ordered-map lookup when nothing expires. A timestamp earlier than a
    /// datagram's first fragment counts as no time elapsed, so timestamps that go
    /// backwards expire nothing; a jump forward expires every datagram it passes.
    pub fn expire(&mut self, now_micros: u64) -> Vec<Expired> {
        let timeout = u64::try_from(self.limits.timeout.as_micros()).unwrap_or(u64::MAX);
        let mut expired = Vec::new();
        while let Some((&(first_seen, id), &key)) = self.by_age.first_key_value() {
            if now_micros.saturating_sub(first_seen) <= timeout {
                break;
            }
            match self.remove_datagram(&key, id) {
                Some(pending) => expired.push(into_expired(key, pending, ExpiryReason::TimedOut)),
                // The index and the table disagree; drop the stale entry.
                None => {
                    self.by_age.pop_first();
                }
            }
        }
        expired
    }

    /// Drops every pending datagram at the end of the capture, in creation order.
    pub fn finish(&mut self) -> Vec<Expired> {
        let mut expired = Vec::with_capacity(self.pending.len());
        while let Some((id, key)) = self.by_creation.pop_first() {
            if let Some(pending) = self.remove_datagram(&key, id) {
                expired.push(into_expired(key, pending, ExpiryReason::CaptureEnded));
            }
        }
        self.pending.clear();
        self.by_age.clear();
        self.bytes_pending = 0;
        expired
    }

    fn try_push(&mut self, fragment: Fragment<'_>) -> Result<Pushed, DefragError> {
        let (start, end) = self.check_fragment(&fragment)?;
        if self.pending.contains_key(&fragment.key) {
            self.push_existing(fragment, start, end)
        } else {
            self.push_new(fragment, end)
        }
    }

    /// Checks the rules a fragment must meet on its own; returns its start and end.
    fn check_fragment(&self, fragment: &Fragment<'_>) -> Result<(u32, u32), DefragError> {
        let start = fragment.frag_offset;
        if !start.is_multiple_of(8) {
            return Err(DefragError::UnalignedOffset { frag_offset: start });
        }
        let len = fragment.payload.len();
        let max_len = self.limits.max_datagram_len.min(MAX_IPV4_DATAGRAM_LEN);
        let end_wide = u64::from(start).saturating_add(u64::try_from(len).unwrap_or(u64::MAX));
        let end = match u32::try_from(end_wide) {
            Ok(end) if usize::try_from(end).is_ok_and(|end| end <= max_len) => end,
            _ => {
                return Err(DefragError::ExceedsMaxDatagramLen {
                    end: end_wide,
                    max_len,
                })
            }
        };
        if fragment.more_fragments {
            if len == 0 {
                return Err(DefragError::EmptyFragment);
            }
            if !len.is_multiple_of(8) {
                return Err(DefragError::UnalignedFragmentLen { len });
            }
        }
        Ok((start, end))
    }

    /// Handles the first fragment of a datagram not pending yet.
    fn push_new(&mut self, fragment: Fragment<'_>, end: u32) -> Result<Pushed, DefragError> {
        if fragment.frag_offset == 0 && !fragment.more_fragments {
            // The fragment is the whole datagram: nothing needs holding.
            let datagram_id = self.allocate_id();
            let reassembled = Reassembled {
                datagram_id,
                key: fragment.key,
                payload: fragment.payload.to_vec(),
                spans: (end > 0)
                    .then_some(FragmentSpan {
                        frame: fragment.frame,
                        datagram_range: 0..end,
                        frame_offset: fragment.frame_offset,
                    })
                    .into_iter()
                    .collect(),
                frames: vec![fragment.frame],
                reassembled_in: fragment.frame,
            };
            return Ok(Pushed {
                outcome: DefragOutcome::Complete(reassembled),
                overlap: None,
                evicted: Vec::new(),
            });
        }
        let limit = self.limits.max_datagrams_pending;
        if limit == 0 {
            return Err(DefragError::ExceedsPendingDatagrams { limit });
        }
        let charge = fragment.payload.len().saturating_add(FRAGMENT_OVERHEAD_LEN);
        if charge > self.limits.max_bytes_pending {
            return Err(DefragError::ExceedsPendingBytes {
                needed: charge,
                limit: self.limits.max_bytes_pending,
            });
        }
        let mut evicted = Vec::new();
        while self.pending.len() >= limit {
            match self.evict_oldest(None, ExpiryReason::EvictedForDatagrams) {
                Some(expired) => evicted.push(expired),
                None => break,
            }
        }
        self.make_room(charge, None, &mut evicted);

        let datagram_id = self.allocate_id();
        let mut pieces = BTreeMap::new();
        if !fragment.payload.is_empty() {
            pieces.insert(
                fragment.frag_offset,
                Piece {
                    end,
                    frame: fragment.frame,
                    frame_offset: fragment.frame_offset,
                    data: fragment.payload.to_vec(),
                },
            );
        }
        let pending = Pending {
            id: datagram_id,
            first_seen_micros: fragment.ts_micros,
            total_len: (!fragment.more_fragments).then_some(end),
            max_end: end,
            received_len: end.saturating_sub(fragment.frag_offset),
            charge,
            n_fragments: 1,
            frames: vec![fragment.frame],
            pieces,
        };
        self.by_creation.insert(datagram_id, fragment.key);
        self.by_age
            .insert((fragment.ts_micros, datagram_id), fragment.key);
        self.pending.insert(fragment.key, pending);
        self.bytes_pending = self.bytes_pending.saturating_add(charge);
        Ok(Pushed {
            outcome: DefragOutcome::Held { datagram_id },
            overlap: None,
            evicted,
        })
    }

    /// Handles a fragment of a datagram already pending.
    fn push_existing(
        &mut self,
        fragment: Fragment<'_>,
        start: u32,
        end: u32,
    ) -> Result<Pushed, DefragError> {
        let key = fragment.key;
        let (plan, charge) = {
            let Some(pending) = self.pending.get(&key) else {
                return self.push_new(fragment, end);
            };
            match (fragment.more_fragments, pending.total_len) {
                (false, Some(total_len)) if total_len != end => {
                    return Err(DefragError::ConflictingTotalLen { total_len, end });
                }
                (false, None) if pending.max_end > end => {
                    return Err(DefragError::DataBeyondTotalLen {
                        end: pending.max_end,
                        total_len: end,
                    });
                }
                (true, Some(total_len)) if end > total_len => {
                    return Err(DefragError::DataBeyondTotalLen { end, total_len });
                }
                _ => {}
            }
            let limit = self.limits.max_fragments_per_datagram;
            if pending.n_fragments >= limit {
                return Err(DefragError::TooManyFragments { limit });
            }
            let plan = plan_insert(&pending.pieces, start, fragment.payload);
            let charge = usize::try_from(plan.new_len)
                .unwrap_or(usize::MAX)
                .saturating_add(FRAGMENT_OVERHEAD_LEN);
            let needed = pending.charge.saturating_add(charge);
            if needed > self.limits.max_bytes_pending {
                return Err(DefragError::ExceedsPendingBytes {
                    needed,
                    limit: self.limits.max_bytes_pending,
                });
            }
            (plan, charge)
        };

        let mut evicted = Vec::new();
        self.make_room(charge, Some(key), &mut evicted);
        let Some(pending) = self.pending.get_mut(&key) else {
            // Making room never evicts the fragment's own datagram.
            return self.push_new(fragment, end);
        };
        for gap in &plan.gaps {
            let from = usize::try_from(gap.start.saturating_sub(start)).unwrap_or(usize::MAX);
            let to = usize::try_from(gap.end.saturating_sub(start)).unwrap_or(usize::MAX);
            let Some(data) = fragment.payload.get(from..to) else {
                continue;
            };
            pending.pieces.insert(
                gap.start,
                Piece {
                    end: gap.end,
                    frame: fragment.frame,
                    frame_offset: fragment
                        .frame_offset
                        .saturating_add(gap.start.saturating_sub(start)),
                    data: data.to_vec(),
                },
            );
        }
        if !fragment.more_fragments {
            pending.total_len = Some(end);
        }
        pending.max_end = pending.max_end.max(end);
        pending.received_len = pending.received_len.saturating_add(plan.new_len);
        pending.charge = pending.charge.saturating_add(charge);
        pending.n_fragments = pending.n_fragments.saturating_add(1);
        pending.frames.push(fragment.frame);
        self.bytes_pending = self.bytes_pending.saturating_add(charge);

        let datagram_id = pending.id;
        let complete = pending.total_len == Some(pending.received_len);
        let outcome = if complete {
            match self.remove(&key) {
                Some(pending) => {
                    DefragOutcome::Complete(into_reassembled(key, pending, fragment.frame))
                }
                None => DefragOutcome::Held { datagram_id },
            }
        } else {
            DefragOutcome::Held { datagram_id }
        };
        Ok(Pushed {
            outcome,
            overlap: plan.overlap,
            evicted,
        })
    }

    /// Evicts the oldest datagrams other than `keep` until `charge` more bytes fit.
    fn make_room(&mut self, charge: usize, keep: Option<DefragKey>, evicted: &mut Vec<Expired>) {
        while self.bytes_pending.saturating_add(charge) > self.limits.max_bytes_pending {
            match self.evict_oldest(keep, ExpiryReason::EvictedForBytes) {
                Some(expired) => evicted.push(expired),
                None => break,
            }
        }
    }

    /// Removes the oldest pending datagram other than `keep`.
    fn evict_oldest(&mut self, keep: Option<DefragKey>, reason: ExpiryReason) -> Option<Expired> {
        let (id, key) = self
            .by_creation
            .iter()
            .find(|(_, key)| Some(**key) != keep)
            .map(|(id, key)| (*id, *key))?;
        match self.remove_datagram(&key, id) {
            Some(pending) => Some(into_expired(key, pending, reason)),
            None => {
                // The index and the table disagree; drop the stale entry.
                self.by_creation.remove(&id);
                None
            }
        }
    }

    /// Removes a pending datagram and its index entries.
    fn remove(&mut self, key: &DefragKey) -> Option<Pending> {
        let pending = self.pending.remove(key)?;
        self.by_creation.remove(&pending.id);
        self.by_age.remove(&(pending.first_seen_micros, pending.id));
        self.bytes_pending = self.bytes_pending.saturating_sub(pending.charge);
        Some(pending)
    }

    /// Removes the pending datagram `id` under `key`, if that is the one pending.
    fn remove_datagram(&mut self, key: &DefragKey, id: DatagramId) -> Option<Pending> {
        if self.pending.get(key)?.id == id {
            self.remove(key)
        } else {
            None
        }
    }

    fn allocate_id(&mut self) -> DatagramId {
        let id = DatagramId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        id
    }
}

/// Works out which parts of a fragment are new and how the rest overlaps what is held.
fn plan_insert(pieces: &BTreeMap<u32, Piece>, start: u32, payload: &[u8]) -> Plan {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let end = start.saturating_add(len);
    let mut gaps = Vec::new();
    let mut cursor = start;
    let mut overlap_len: u32 = 0;
    let mut conflict: Option<(u32, u64)> = None;
    // The piece starting before the fragment may reach into it.
    let before = pieces.range(..start).next_back();
    for (&piece_start, piece) in before.into_iter().chain(pieces.range(start..end)) {
        if piece.end <= cursor {
            continue;
        }
        let overlap_start = piece_start.max(cursor);
        if overlap_start >= end {
            break;
        }
        if overlap_start > cursor {
            gaps.push(cursor..overlap_start);
        }
        let overlap_end = piece.end.min(end);
        if conflict.is_none() {
            conflict = first_difference(
                payload,
                start,
                piece,
                piece_start,
                overlap_start..overlap_end,
            )
            .map(|at| (at, piece.frame));
        }
        overlap_len = overlap_len.saturating_add(overlap_end.saturating_sub(overlap_start));
        cursor = overlap_end;
        if cursor >= end {
            break;
        }
    }
    if cursor < end {
        gaps.push(cursor..end);
    }
    let new_len = gaps.iter().fold(0u32, |sum, gap| {
        sum.saturating_add(gap.end.saturating_sub(gap.start))
    });
    let overlap = match conflict {
        Some((first_conflict, kept_frame)) => Some(Overlap::Conflicting {
            overlap_len,
            first_conflict,
            kept_frame,
        }),
        None if overlap_len == 0 => None,
        None if new_len == 0 => Some(Overlap::Duplicate),
        None => Some(Overlap::SameData { overlap_len }),
    };
    Plan {
        gaps,
        new_len,
        overlap,
    }
}

/// Returns the first datagram offset in `range` where the fragment and a held piece differ.
fn first_difference(
    payload: &[u8],
    start: u32,
    piece: &Piece,
    piece_start: u32,
    range: Range<u32>,
) -> Option<u32> {
    let new = sub_slice(payload, start, &range);
    let held = sub_slice(&piece.data, piece_start, &range);
    match (new, held) {
        (Some(new), Some(held)) => new
            .iter()
            .zip(held)
            .position(|(a, b)| a != b)
            .and_then(|at| u32::try_from(at).ok())
            .map(|at| range.start.saturating_add(at)),
        // Unreachable when pieces are consistent; treat it as a conflict at the start.
        _ => Some(range.start),
    }
}

/// Returns the bytes at datagram offsets `range` of a run that starts at datagram offset `base`.
fn sub_slice<'a>(bytes: &'a [u8], base: u32, range: &Range<u32>) -> Option<&'a [u8]> {
    let from = usize::try_from(range.start.checked_sub(base)?).ok()?;
    let to = usize::try_from(range.end.checked_sub(base)?).ok()?;
    bytes.get(from..to)
}

/// Lists frames ascending, without repeats.
fn sorted_frames(mut frames: Vec<u64>) -> Vec<u64> {
    frames.sort_unstable();
    frames.dedup();
    frames
}

fn into_reassembled(key: DefragKey, pending: Pending, reassembled_in: u64) -> Reassembled {
    let total = usize::try_from(pending.total_len.unwrap_or(0)).unwrap_or(0);
    let mut payload = Vec::with_capacity(total);
    let mut spans = Vec::with_capacity(pending.pieces.len());
    for (start, piece) in pending.pieces {
        spans.push(FragmentSpan {
            frame: piece.frame,
            datagram_range: start..piece.end,
            frame_offset: piece.frame_offset,
        });
        payload.extend_from_slice(&piece.data);
    }
    Reassembled {
        datagram_id: pending.id,
        key,
        payload,
        spans,
        frames: sorted_frames(pending.frames),
        reassembled_in,
    }
}

fn into_expired(key: DefragKey, pending: Pending, reason: ExpiryReason) -> Expired {
    let mut missing = Vec::new();
    let mut cursor = 0u32;
    for (&start, piece) in &pending.pieces {
        if start > cursor {
            missing.push(cursor..start);
        }
        cursor = cursor.max(piece.end);
    }
    let end = pending.total_len.unwrap_or(pending.max_end);
    if end > cursor {
        missing.push(cursor..end);
    }
    Expired {
        datagram_id: pending.id,
        key,
        reason,
        first_seen_micros: pending.first_seen_micros,
        frames: sorted_frames(pending.frames),
        bytes_received: pending.received_len,
        total_len: pending.total_len,
        missing,
    }
}

#[cfg(test)]
#[allow(
    clippy::arithmetic_side_effects,
    reason = "test arithmetic on known small values"
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Where the IPv4 payload starts in the test frames: Ethernet (14) + IPv4 (20).
    const PAYLOAD_AT: u32 = 34;

    /// One second of capture time, in microseconds.
    const SECOND: u64 = 1_000_000;

    fn key(identification: u16) -> DefragKey {
        DefragKey {
            src: Ipv4Addr::new(192, 168, 0, 1),
            dst: Ipv4Addr::new(192, 168, 0, 2),
            protocol: 17,
            identification,
        }
    }

    /// A fragment of datagram `id` carried by `frame`, captured `frame` milliseconds in.
    fn frag(id: u16, frame: u64, offset: u32, more: bool, payload: &[u8]) -> Fragment<'_> {
        Fragment {
            key: key(id),
            frag_offset: offset,
            more_fragments: more,
            payload,
            frame,
            frame_offset: PAYLOAD_AT,
            ts_micros: frame.saturating_mul(1000),
        }
    }

    /// Payload bytes that differ at every offset within a datagram.
    fn bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    /// The bytes of `data` in `range`; empty when the range is out of bounds.
    fn cut<R: std::slice::SliceIndex<[u8], Output = [u8]>>(data: &[u8], range: R) -> &[u8] {
        data.get(range).unwrap_or(&[])
    }

    fn held(pushed: &Pushed) -> Result<DatagramId, String> {
        match &pushed.outcome {
            DefragOutcome::Held { datagram_id } => Ok(*datagram_id),
            other => Err(format!("expected Held, got {other:?}")),
        }
    }

    fn complete(pushed: Pushed) -> Result<Reassembled, String> {
        match pushed.outcome {
            DefragOutcome::Complete(reassembled) => Ok(reassembled),
            other => Err(format!("expected Complete, got {other:?}")),
        }
    }

    fn problem(pushed: &Pushed) -> Result<DefragError, String> {
        match &pushed.outcome {
            DefragOutcome::Problem { problem, .. } => Ok(problem.clone()),
            other => Err(format!("expected Problem, got {other:?}")),
        }
    }

    fn span(frame: u64, range: Range<u32>, frame_offset: u32) -> FragmentSpan {
        FragmentSpan {
            frame,
            datagram_range: range,
            frame_offset,
        }
    }

    fn limits_with(change: impl FnOnce(&mut DefragLimits)) -> DefragLimits {
        let mut limits = DefragLimits::default();
        change(&mut limits);
        limits
    }

    #[test]
    fn defaults_match_documentation() {
        let limits = DefragLimits::default();
        assert_eq!(limits.max_datagrams_pending, 1024);
        assert_eq!(limits.max_bytes_pending, 16 * 1024 * 1024);
        assert_eq!(limits.max_datagram_len, 65_535);
        assert_eq!(limits.max_fragments_per_datagram, 512);
        assert_eq!(limits.timeout, Duration::from_secs(30));
    }

    #[test]
    fn two_fragments_in_order_reassemble() -> Result<(), String> {
        let data = bytes(24);
        let mut defrag = Defragmenter::new(DefragLimits::default());
        // Bytes 0..16 with More Fragments, then the last 8 bytes.
        let id = held(&defrag.push(frag(1, 1, 0, true, cut(&data, ..16))))?;
        let done = complete(defrag.push(frag(1, 2, 16, false, cut(&data, 16..))))?;
        assert_eq!(done.datagram_id(), id);
        assert_eq!(done.payload(), &data);
        assert_eq!(done.frames(), &[1, 2]);
        assert_eq!(done.reassembled_in(), 2);
        assert_eq!(
            done.spans(),
            &[span(1, 0..16, PAYLOAD_AT), span(2, 16..24, PAYLOAD_AT)]
        );
        assert_eq!(defrag.n_pending(), 0);
        assert_eq!(defrag.bytes_pending(), 0);
        Ok(())
    }

    #[test]
    fn two_fragments_out_of_order_reassemble() -> Result<(), String> {
        let data = bytes(13);
        let mut defrag = Defragmenter::new(DefragLimits::default());
        // The last fragment (bytes 8..13) arrives before the first.
        let id = held(&defrag.push(frag(1, 1, 8, false, cut(&data, 8..))))?;
        let done = complete(defrag.push(frag(1, 2, 0, true, cut(&data, ..8))))?;
        assert_eq!(done.datagram_id(), id);
        assert_eq!(done.payload(), &data);
        assert_eq!(done.reassembled_in(), 2);
        assert_eq!(
            done.spans(),
            &[span(2, 0..8, PAYLOAD_AT), span(1, 8..13, PAYLOAD_AT)]
        );
        Ok(())
    }

    #[test]
    fn three_fragments_in_order_reassemble() -> Result<(), String> {
        let data = bytes(40);
        let mut defrag = Defragmenter::new(DefragLimits::default());
        let first = held(&defrag.push(frag(7, 1, 0, true, cut(&data, ..16))))?;
        let second = held(&defrag.push(frag(7, 2, 16, true, cut(&data, 16..32))))?;
        assert_eq!(first, second);
        let done = complete(defrag.push(frag(7, 3, 32, false, cut(&data, 32..))))?;
        assert_eq!(done.datagram_id(), first);
        assert_eq!(done.key(), key(7));
        assert_eq!(done.payload(), &data);
        assert_eq!(done.frames(), &[1, 2, 3]);
        // Byte 20 is the fifth byte of frame 2's payload.
        assert_eq!(done.locate(20), Some((2, PAYLOAD_AT + 4)));
        assert_eq!(done.locate(39), Some((3, PAYLOAD_AT + 7)));
        assert_eq!(done.locate(40), None);
        Ok(())
    }

    #[test]
    fn three_fragments_out_of_order_reassemble() -> Result<(), String> {
        let data = bytes(40);
        let mut defrag = Defragmenter::new(DefragLimits::default());
        // Order: middle, first, last.
        let id = held(&defrag.push(frag(7, 1, 16, true, cut(&data, 16..32))))?;
        assert_eq!(
            held(&defrag.push(frag(7, 2, 0, true, cut(&data, ..16))))?,
            id
        );
        let done = complete(defrag.push(frag(7, 3, 32, false, cut(&data, 32..))))?;
        assert_eq!(done.payload(), &data);
        assert_eq!(done.frames(), &[1, 2, 3]);
        assert_eq!(
            done.spans(),
            &[
                span(2, 0..16, PAYLOAD_AT),
                span(1, 16..32, PAYLOAD_AT),
                span(3, 32..40, PAYLOAD_AT)
            ]
        );
        Ok(())
    }

    #[test]
    fn last_fragment_first_sets_total_len() -> Result<(), String> {
        let data = bytes(20);
        let mut defrag = Defragmenter::new(DefragLimits::default());
        // The tail (bytes 16..20) arrives first; the datagram is then 20 bytes long.
        let id = held(&defrag.push(frag(2, 1, 16, false, cut(&data, 16..))))?;
        assert_eq!(
            held(&defrag.push(frag(2, 2, 8, true, cut(&data, 8..16))))?,
            id
        );
        let done = complete(defrag.push(frag(2, 3, 0, true, cut(&data, ..8))))?;
        assert_eq!(done.payload(), &data);
        assert_eq!(done.reassembled_in(), 3);
        Ok(())
    }

    #[test]
    fn unfragmented_datagram_completes_at_once() -> Result<(), String> {
        let mut defrag = Defragmenter::new(DefragLimits::default());
        let done = complete(defrag.push(frag(3, 5, 0, false, b"whole")))?;
        assert_eq!(done.payload(), b"whole");
        assert_eq!(done.frames(), &[5]);
        assert_eq!(defrag.n_pending(), 0);
        Ok(())
    }

    #[test]
    fn duplicate_fragment_is_reported_not_an_error() -> Result<(), String> {
        let data = bytes(24);
        let mut defrag = Defragmenter::new(DefragLimits::default());
        let id = held(&defrag.push(frag(1, 1, 0, true, cut(&data, ..16))))?;
        // Frame 2 repeats frame 1 exactly.
        let again = defrag.push(frag(1, 2, 0, true, cut(&data, ..16)));
        assert_eq!(held(&again)?, id);
        assert_eq!(again.overlap, Some(Overlap::Duplicate));
        assert_eq!(again.overlap.and_then(|o| o.problem()), None);
        let done = complete(defrag.push(frag(1, 3, 16, false, cut(&data, 16..))))?;
        assert_eq!(done.payload(), &data);
        // The duplicate belongs to the datagram but contributed no bytes.
        assert_eq!(done.frames(), &[1, 2, 3]);
        assert!(done.spans().iter().all(|span| span.frame != 2));
        Ok(())
    }

    #[test]
    fn overlap_with_same_data_is_reported_as_overlap() -> Result<(), String> {
        let data = bytes(32);
        let mut defrag = Defragmenter::new(DefragLimits::default());
        held(&defrag.push(frag(1, 1, 0, true, cut(&data, ..16))))?;
        // Frame 2 covers bytes 8..24: 8 already held with the same values, 8 new.
        let overlapping = defrag.push(frag(1, 2, 8, true, cut(&data, 8..24)));
        held(&overlapping)?;
        assert_eq!(
            overlapping.overlap,
            Some(Overlap::SameData { overlap_len: 8 })
        );
        let done = complete(defrag.push(frag(1, 3, 24, false, cut(&data, 24..))))?;
        assert_eq!(done.payload(), &data);
        // Frame 2's new bytes start 8 bytes into its payload.
        assert_eq!(
            done.spans(),
            &[
                span(1, 0..16, PAYLOAD_AT),
                span(2, 16..24, PAYLOAD_AT + 8),
                span(3, 24..32, PAYLOAD_AT)
            ]
        );
        Ok(())
    }

    #[test]
    fn conflicting_overlap_keeps_first_copy_and_is_reported() -> Result<(), String> {
        let data = bytes(24);
        let mut forged = data.clone();
        // Frame 2 disagrees with frame 1 at byte 10.
        if let Some(byte) = forged.get_mut(10) {
            *byte = 0xff;
        }
        let mut defrag = Defragmenter::new(DefragLimits::default());
        held(&defrag.push(frag(1, 1, 0, true, cut(&data, ..16))))?;
        let conflicting = defrag.push(frag(1, 2, 8, false, cut(&forged, 8..)));
        let conflict = Overlap::Conflicting {
            overlap_len: 8,
            first_conflict: 10,
            kept_frame: 1,
        };
        assert_eq!(conflicting.overlap, Some(conflict));
        assert_eq!(
            conflict.problem(),
            Some(DefragError::ConflictingOverlap {
                overlap_len: 8,
                first_conflict: 10,
                kept_frame: 1
            })
        );
        // The fragment still completes the datagram, with frame 1's byte 10.
        let done = complete(conflicting)?;
        assert_eq!(done.payload(), &data);
        assert_eq!(done.locate(10), Some((1, PAYLOAD_AT + 10)));
        assert_eq!(done.locate(16), Some((2, PAYLOAD_AT + 8)));
        Ok(())
    }

    #[test]
    fn fragment_spanning_two_holes_fills_both() -> Result<(), String> {
        let data = bytes(40);
        let mut defrag = Defragmenter::new(DefragLimits::default());
        // Held: 8..16 and 24..32; frame 3 covers 0..40 and fills the three holes.
        held(&defrag.push(frag(1, 1, 8, true, cut(&data, 8..16))))?;
        held(&defrag.push(frag(1, 2, 24, true, cut(&data, 24..32))))?;
        let spanning = defrag.push(frag(1, 3, 0, false, &data));
        assert_eq!(
            spanning.overlap,
            Some(Overlap::SameData { overlap_len: 16 })
        );
        let done = complete(spanning)?;
        assert_eq!(done.payload(), &data);
        assert_eq!(
            done.spans(),
            &[
                span(3, 0..8, PAYLOAD_AT),
                span(1, 8..16, PAYLOAD_AT),
                span(3, 16..24, PAYLOAD_AT + 16),
                span(2, 24..32, PAYLOAD_AT),
                span(3, 32..40, PAYLOAD_AT + 32)
            ]
        );
        Ok(())
    }

    #[test]
    fn fragment_ending_beyond_65535_is_rejected() -> Result<(), String> {
        let mut defrag = Defragmenter::new(DefragLimits::default());
        // Offset 8191 * 8 = 65528 plus 8 bytes ends at 65536.
        let too_far = defrag.push(frag(1, 1, 65_528, false, &[0; 8]));
        assert_eq!(
            problem(&too_far)?,
            DefragError::ExceedsMaxDatagramLen {
                end: 65_536,
                max_len: 65_535
            }
        );
        assert_eq!(defrag.n_pending(), 0);
        // Seven bytes end exactly at 65535, which is allowed.
        held(&defrag.push(frag(1, 2, 65_528, false, &[0; 7])))?;
        // An offset no IPv4 header can carry is rejected without overflow.
        let absurd = defrag.push(frag(2, 3, u32::MAX - 7, true, &[0; 16]));
        assert!(matches!(
            problem(&absurd)?,
            DefragError::ExceedsMaxDatagramLen { .. }
        ));
        Ok(())
    }

    #[test]
    fn lower_max_datagram_len_is_enforced() -> Result<(), String> {
        let mut defrag = Defragmenter::new(limits_with(|l| l.max_datagram_len = 1500));
        let long = defrag.push(frag(1, 1, 1496, false, &[0; 8]));
        assert_eq!(
            problem(&long)?,
            DefragError::ExceedsMaxDatagramLen {
                end: 1504,
                max_len: 1500
            }
        );
        Ok(())
    }

    #[test]
    fn non_multiple_of_8_middle_fragment_is_rejected() -> Result<(), String> {
        let data = bytes(24);
        let mut defrag = Defragmenter::new(DefragLimits::default());
        let id = held(&defrag.push(frag(1, 1, 0, true, cut(&data, ..8))))?;
        // A 5-byte fragment with More Fragments set cannot be followed by aligned data.
        let odd = defrag.push(frag(1, 2, 8, true, cut(&data, 8..13)));
        assert_eq!(problem(&odd)?, DefragError::UnalignedFragmentLen { len: 5 });
        assert_eq!(
            odd.outcome,
            DefragOutcome::Problem {
                datagram_id: Some(id),
                problem: DefragError::UnalignedFragmentLen { len: 5 }
            }
        );
        // The datagram still completes with proper fragments, and frame 2 is not in it.
        held(&defrag.push(frag(1, 3, 8, true, cut(&data, 8..16))))?;
        let done = complete(defrag.push(frag(1, 4, 16, false, cut(&data, 16..))))?;
        assert_eq!(done.payload(), &data);
        assert_eq!(done.frames(), &[1, 3, 4]);
        Ok(())
    }

    #[test]
    fn empty_non_last_fragment_is_rejected() -> Result<(), String> {
        let mut defrag = Defragmenter::new(DefragLimits::default());
        assert_eq!(
            problem(&defrag.push(frag(1, 1, 8, true, &[])))?,
            DefragError::EmptyFragment
        );
        Ok(())
    }

    #[test]
    fn unaligned_offset_is_rejected() -> Result<(), String> {
        let mut defrag = Defragmenter::new(DefragLimits::default());
        assert_eq!(
            problem(&defrag.push(frag(1, 1, 12, false, &[1, 2])))?,
            DefragError::UnalignedOffset { frag_offset: 12 }
        );
        Ok(())
    }

    #[test]
    fn second_last_fragment_with_other_total_is_rejected() -> Result<(), String> {
        let data = bytes(32);
        let mut defrag = Defragmenter::new(DefragLimits::default());
        // The first tail says the datagram is 24 bytes long; the second says 32.
        held(&defrag.push(frag(1, 1, 16, false, cut(&data, 16..24))))?;
        let second_tail = defrag.push(frag(1, 2, 24, false, cut(&data, 24..32)));
        assert_eq!(
            problem(&second_tail)?,
            DefragError::ConflictingTotalLen {
                total_len: 24,
                end: 32
            }
        );
        // A repeated tail with the same total is a duplicate, not a problem.
        let same_tail = defrag.push(frag(1, 3, 16, false, cut(&data, 16..24)));
        held(&same_tail)?;
        assert_eq!(same_tail.overlap, Some(Overlap::Duplicate));
        Ok(())
    }

    #[test]
    fn data_beyond_total_len_is_rejected() -> Result<(), String> {
        let data = bytes(32);
        let mut defrag = Defragmenter::new(DefragLimits::default());
        // The tail ends the datagram at byte 16; bytes 16..24 cannot exist.
        held(&defrag.push(frag(1, 1, 8, false, cut(&data, 8..16))))?;
        let beyond = defrag.push(frag(1, 2, 16, true, cut(&data, 16..24)));
        assert_eq!(
            problem(&beyond)?,
            DefragError::DataBeyondTotalLen {
                end: 24,
                total_len: 16
            }
        );
        // The other way round: data up to byte 32 is held, then a tail claims 16.
        held(&defrag.push(frag(2, 3, 24, true, cut(&data, 24..32))))?;
        let short_tail = defrag.push(frag(2, 4, 8, false, cut(&data, 8..16)));
        assert_eq!(
            problem(&short_tail)?,
            DefragError::DataBeyondTotalLen {
                end: 32,
                total_len: 16
            }
        );
        Ok(())
    }

    #[test]
    fn never_completed_datagram_expires_after_timeout() -> Result<(), String> {
        let data = bytes(24);
        let mut defrag = Defragmenter::new(DefragLimits::default());
        let mut first = frag(1, 1, 0, true, cut(&data, ..8));
        first.ts_micros = 5 * SECOND;
        let id = held(&defrag.push(first))?;
        let mut tail = frag(1, 2, 16, false, cut(&data, 16..));
        tail.ts_micros = 6 * SECOND;
        held(&defrag.push(tail))?;
        // Exactly 30 s after the first fragment the datagram is not yet too old.
        assert_eq!(defrag.expire(35 * SECOND), vec![]);
        let expired = defrag.expire(35 * SECOND + 1);
        assert_eq!(
            expired,
            vec![Expired {
                datagram_id: id,
                key: key(1),
                reason: ExpiryReason::TimedOut,
                first_seen_micros: 5 * SECOND,
                frames: vec![1, 2],
                bytes_received: 16,
                total_len: Some(24),
                missing: vec![Range { start: 8, end: 16 }],
            }]
        );
        assert_eq!(defrag.n_pending(), 0);
        assert_eq!(defrag.bytes_pending(), 0);
        Ok(())
    }

    #[test]
    fn finish_reports_incomplete_datagrams() -> Result<(), String> {
        let data = bytes(40);
        let mut defrag = Defragmenter::new(DefragLimits::default());
        // Datagram 1 lacks its tail; datagram 2 lacks bytes 0..8 and 16..24.
        let one = held(&defrag.push(frag(1, 1, 0, true, cut(&data, ..8))))?;
        let two = held(&defrag.push(frag(2, 2, 8, true, cut(&data, 8..16))))?;
        held(&defrag.push(frag(2, 3, 24, false, cut(&data, 24..))))?;
        let finished = defrag.finish();
        assert_eq!(finished.len(), 2);
        let first = finished.first().ok_or("no first")?;
        assert_eq!(first.datagram_id, one);
        assert_eq!(first.reason, ExpiryReason::CaptureEnded);
        assert_eq!(first.total_len, None);
        // Without a tail only the holes before the furthest byte are known.
        assert_eq!(first.missing, vec![]);
        let second = finished.get(1).ok_or("no second")?;
        assert_eq!(second.datagram_id, two);
        assert_eq!(second.frames, vec![2, 3]);
        assert_eq!(second.bytes_received, 24);
        assert_eq!(second.missing, vec![0..8, 16..24]);
        assert_eq!(defrag.n_pending(), 0);
        assert_eq!(defrag.bytes_pending(), 0);
        assert_eq!(defrag.finish(), vec![]);
        Ok(())
    }

    #[test]
    fn datagram_limit_evicts_oldest() -> Result<(), String> {
        let mut defrag = Defragmenter::new(limits_with(|l| l.max_datagrams_pending = 2));
        let one = held(&defrag.push(frag(1, 1, 0, true, &[1; 8])))?;
        let two = held(&defrag.push(frag(2, 2, 0, true, &[2; 8])))?;
        // A third datagram pushes out the first.
        let third = defrag.push(frag(3, 3, 0, true, &[3; 8]));
        let three = held(&third)?;
        assert_eq!(third.evicted.len(), 1);
        let evicted = third.evicted.first().ok_or("nothing evicted")?;
        assert_eq!(evicted.datagram_id, one);
        assert_eq!(evicted.reason, ExpiryReason::EvictedForDatagrams);
        assert_eq!(evicted.frames, vec![1]);
        assert_eq!(defrag.n_pending(), 2);
        // Fragments of pending datagrams evict nothing.
        let more = defrag.push(frag(2, 4, 8, true, &[2; 8]));
        assert_eq!(held(&more)?, two);
        assert_eq!(more.evicted, vec![]);
        let finished: Vec<DatagramId> = defrag.finish().iter().map(|e| e.datagram_id).collect();
        assert_eq!(finished, vec![two, three]);
        Ok(())
    }

    #[test]
    fn byte_limit_evicts_oldest() -> Result<(), String> {
        // Each 8-byte fragment costs 8 + 64 = 72 bytes; 150 bytes hold two of them.
        let mut defrag = Defragmenter::new(limits_with(|l| l.max_bytes_pending = 150));
        let one = held(&defrag.push(frag(1, 1, 0, true, &[1; 8])))?;
        let two = held(&defrag.push(frag(2, 2, 0, true, &[2; 8])))?;
        assert_eq!(defrag.bytes_pending(), 144);
        // A second fragment of datagram 2 needs room: datagram 1 goes, never datagram 2.
        let grow = defrag.push(frag(2, 3, 8, true, &[2; 8]));
        assert_eq!(held(&grow)?, two);
        let evicted: Vec<(DatagramId, ExpiryReason)> = grow
            .evicted
            .iter()
            .map(|e| (e.datagram_id, e.reason))
            .collect();
        assert_eq!(evicted, vec![(one, ExpiryReason::EvictedForBytes)]);
        assert_eq!(defrag.bytes_pending(), 144);
        // A third fragment would need 216 bytes for datagram 2 alone: rejected, nothing evicted.
        let over = defrag.push(frag(2, 4, 16, true, &[2; 8]));
        assert_eq!(
            problem(&over)?,
            DefragError::ExceedsPendingBytes {
                needed: 216,
                limit: 150
            }
        );
        assert_eq!(over.evicted, vec![]);
        assert_eq!(defrag.n_pending(), 1);
        Ok(())
    }

    #[test]
    fn fragment_larger_than_byte_limit_is_rejected() -> Result<(), String> {
        let mut defrag = Defragmenter::new(limits_with(|l| l.max_bytes_pending = 100));
        held(&defrag.push(frag(1, 1, 0, true, &[1; 8])))?;
        let big = defrag.push(frag(2, 2, 0, true, &[2; 64]));
        assert_eq!(
            problem(&big)?,
            DefragError::ExceedsPendingBytes {
                needed: 128,
                limit: 100
            }
        );
        // The rejected fragment evicted nobody.
        assert_eq!(defrag.n_pending(), 1);
        Ok(())
    }

    #[test]
    fn zero_pending_datagrams_rejects_fragments() -> Result<(), String> {
        let mut defrag = Defragmenter::new(limits_with(|l| l.max_datagrams_pending = 0));
        assert_eq!(
            problem(&defrag.push(frag(1, 1, 0, true, &[1; 8])))?,
            DefragError::ExceedsPendingDatagrams { limit: 0 }
        );
        // A datagram that needs no holding still completes.
        complete(defrag.push(frag(2, 2, 0, false, &[2; 3])))?;
        Ok(())
    }

    #[test]
    fn too_many_fragments_are_rejected() -> Result<(), String> {
        let mut defrag = Defragmenter::new(limits_with(|l| l.max_fragments_per_datagram = 3));
        let id = held(&defrag.push(frag(1, 1, 0, true, &[0; 8])))?;
        held(&defrag.push(frag(1, 2, 8, true, &[0; 8])))?;
        // A duplicate counts too.
        held(&defrag.push(frag(1, 3, 8, true, &[0; 8])))?;
        let fourth = defrag.push(frag(1, 4, 16, false, &[0; 8]));
        assert_eq!(
            fourth.outcome,
            DefragOutcome::Problem {
                datagram_id: Some(id),
                problem: DefragError::TooManyFragments { limit: 3 }
            }
        );
        Ok(())
    }

    #[test]
    fn timestamps_going_backwards_expire_nothing_wrongly() -> Result<(), String> {
        let mut defrag = Defragmenter::new(DefragLimits::default());
        // Datagram 1 is seen at 100 s, then the clock jumps back to 10 s for datagram 2.
        let mut late = frag(1, 1, 0, true, &[1; 8]);
        late.ts_micros = 100 * SECOND;
        let one = held(&defrag.push(late))?;
        let mut early = frag(2, 2, 0, true, &[2; 8]);
        early.ts_micros = 10 * SECOND;
        let two = held(&defrag.push(early))?;
        assert_eq!(defrag.expire(10 * SECOND), vec![]);
        assert_eq!(defrag.expire(0), vec![]);
        // At 41 s only datagram 2 is older than 30 s by its own first fragment.
        let expired: Vec<DatagramId> = defrag
            .expire(41 * SECOND)
            .iter()
            .map(|e| e.datagram_id)
            .collect();
        assert_eq!(expired, vec![two]);
        assert_eq!(defrag.n_pending(), 1);
        let expired: Vec<DatagramId> = defrag
            .expire(131 * SECOND)
            .iter()
            .map(|e| e.datagram_id)
            .collect();
        assert_eq!(expired, vec![one]);
        // Extreme timestamps neither overflow nor panic.
        let mut extreme = frag(3, 3, 0, true, &[3; 8]);
        extreme.ts_micros = u64::MAX;
        held(&defrag.push(extreme))?;
        assert_eq!(defrag.expire(0), vec![]);
        assert_eq!(defrag.expire(u64::MAX).len(), 0);
        Ok(())
    }

    #[test]
    fn late_fragment_after_completion_starts_new_datagram() -> Result<(), String> {
        let data = bytes(16);
        let mut defrag = Defragmenter::new(DefragLimits::default());
        let id = held(&defrag.push(frag(1, 1, 0, true, cut(&data, ..8))))?;
        complete(defrag.push(frag(1, 2, 8, false, cut(&data, 8..))))?;
        let late = held(&defrag.push(frag(1, 3, 0, true, cut(&data, ..8))))?;
        assert_ne!(late, id);
        assert_eq!(defrag.n_pending(), 1);
        Ok(())
    }

    #[test]
    fn datagram_ids_differ_per_datagram() -> Result<(), String> {
        let mut defrag = Defragmenter::new(DefragLimits::default());
        let one = held(&defrag.push(frag(1, 1, 0, true, &[0; 8])))?;
        let two = held(&defrag.push(frag(2, 2, 0, true, &[0; 8])))?;
        assert_ne!(one, two);
        assert_eq!(one.to_string(), "1");
        assert_eq!(two.to_string(), "2");
        Ok(())
    }

    #[test]
    fn flood_of_tiny_fragments_stays_bounded() {
        let mut defrag = Defragmenter::new(DefragLimits::default());
        // Twenty thousand 8-byte fragments of one datagram, last offset first.
        let mut rejected = 0;
        for n in 0..20_000u32 {
            let offset = (8190 - n % 8190) * 8;
            let pushed = defrag.push(frag(1, u64::from(n) + 1, offset, true, &[0; 8]));
            if pushed.outcome
                == (DefragOutcome::Problem {
                    datagram_id: Some(DatagramId(1)),
                    problem: DefragError::TooManyFragments { limit: 512 },
                })
            {
                rejected += 1;
            }
        }
        assert_eq!(rejected, 20_000 - 512);
        // Then one fragment each for five thousand datagrams.
        let mut evicted = 0;
        for id in 2..5002u16 {
            evicted += defrag
                .push(frag(id, u64::from(id), 0, true, &[0; 8]))
                .evicted
                .len();
        }
        assert_eq!(defrag.n_pending(), 1024);
        assert_eq!(evicted, 5001 - 1024);
        assert!(defrag.bytes_pending() <= DefragLimits::default().max_bytes_pending);
    }

    /// Builds fragments of `payload` cut at the 8-byte-aligned `cuts`, plus `extra`
    /// overlapping copies and repeats of `duplicates`, each as (start, end).
    fn fragment_ranges(
        len: usize,
        cuts: &[usize],
        extra: &[(usize, usize)],
        duplicates: &[usize],
    ) -> Vec<(usize, usize)> {
        let mut bounds: Vec<usize> = cuts
            .iter()
            .map(|cut| (cut % (len / 8 + 1)) * 8)
            .filter(|&cut| cut > 0 && cut < len)
            .collect();
        bounds.push(0);
        bounds.push(len);
        bounds.sort_unstable();
        bounds.dedup();
        let mut ranges: Vec<(usize, usize)> = bounds
            .windows(2)
            .filter_map(|w| match w {
                [a, b] => Some((*a, *b)),
                _ => None,
            })
            .collect();
        if ranges.is_empty() {
            // An empty payload is one empty last fragment.
            ranges.push((0, 0));
        }
        for &(a, b) in extra {
            let start = (a % (len / 8 + 1)) * 8;
            let end = (start + 8 * (b % 64 + 1)).min(len);
            if start < end {
                ranges.push((start, end));
            }
        }
        let n = ranges.len();
        for &d in duplicates {
            if let Some(&range) = ranges.get(d % n) {
                ranges.push(range);
            }
        }
        ranges
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Any fragmentation of a payload, shuffled, overlapped and partly repeated,
        /// reassembles exactly, and every byte maps to the first fragment that carried it.
        #[test]
        fn shuffled_fragments_reassemble_with_provenance(
            payload in proptest::collection::vec(any::<u8>(), 0..20_000),
            cuts in proptest::collection::vec(any::<usize>(), 0..60),
            extra in proptest::collection::vec((any::<usize>(), any::<usize>()), 0..10),
            duplicates in proptest::collection::vec(any::<usize>(), 0..20),
            order_seed in any::<u64>(),
            header_lens in proptest::collection::vec(20u32..80, 1..8),
        ) {
            let len = payload.len();
            let mut ranges = fragment_ranges(len, &cuts, &extra, &duplicates);
            // Shuffle with a small deterministic generator seeded by proptest.
            let mut state = order_seed | 1;
            for i in (1..ranges.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let j = usize::try_from(state % (i as u64 + 1)).unwrap_or(0);
                ranges.swap(i, j);
            }

            let mut defrag = Defragmenter::new(DefragLimits::default());
            // The expected owner (frame, frame offset of the byte) of every byte so far.
            let mut owner: Vec<Option<(u64, u32)>> = vec![None; len];
            let mut tail_seen = false;
            let mut datagram_id = None;
            let mut done = None;
            for (index, &(start, end)) in ranges.iter().enumerate() {
                let frame = index as u64 + 1;
                let frame_offset = header_lens.get(index % header_lens.len()).copied().unwrap_or(20);
                let bytes = payload.get(start..end).unwrap_or(&[]);
                let pushed = defrag.push(Fragment {
                    key: key(9),
                    frag_offset: start as u32,
                    more_fragments: end < len,
                    payload: bytes,
                    frame,
                    frame_offset,
                    ts_micros: frame,
                });
                prop_assert!(pushed.evicted.is_empty());
                prop_assert!(
                    !matches!(pushed.overlap, Some(Overlap::Conflicting { .. })),
                    "same bytes never conflict"
                );
                for (at, slot) in owner.iter_mut().enumerate().take(end).skip(start) {
                    if slot.is_none() {
                        *slot = Some((frame, frame_offset + (at - start) as u32));
                    }
                }
                tail_seen |= end == len;
                let expect_complete = tail_seen && owner.iter().all(Option::is_some);
                match pushed.outcome {
                    DefragOutcome::Held { datagram_id: id } => {
                        prop_assert!(!expect_complete);
                        prop_assert_eq!(*datagram_id.get_or_insert(id), id);
                    }
                    DefragOutcome::Complete(reassembled) => {
                        prop_assert!(expect_complete);
                        if let Some(id) = datagram_id {
                            prop_assert_eq!(reassembled.datagram_id(), id);
                        }
                        prop_assert_eq!(reassembled.reassembled_in(), frame);
                        let frames: Vec<u64> = (1..=frame).collect();
                        prop_assert_eq!(reassembled.frames(), &frames[..]);
                        done = Some(reassembled);
                        break;
                    }
                    DefragOutcome::Problem { problem, .. } => {
                        prop_assert!(false, "unexpected problem {:?}", problem);
                    }
                }
            }
            let reassembled = done.ok_or_else(|| TestCaseError::fail("never completed"))?;
            prop_assert_eq!(reassembled.payload(), &payload[..]);
            // The spans tile the payload in order.
            let mut cursor = 0u32;
            for span in reassembled.spans() {
                prop_assert_eq!(span.datagram_range.start, cursor);
                prop_assert!(span.datagram_range.end > cursor);
                cursor = span.datagram_range.end;
            }
            prop_assert_eq!(cursor as usize, len);
            for (at, expected) in owner.iter().enumerate() {
                prop_assert_eq!(reassembled.locate(at as u32), *expected);
            }
            prop_assert_eq!(defrag.n_pending(), 0);
            prop_assert_eq!(defrag.bytes_pending(), 0);
        }

        /// Random fragments, timestamps and limits never panic and never exceed the limits.
        #[test]
        fn random_input_never_panics_and_stays_bounded(
            max_datagrams in 0usize..4,
            max_bytes in 0usize..600,
            max_fragments in 0usize..6,
            max_len in 0usize..70_000,
            timeout in 0u64..100,
            ops in proptest::collection::vec(
                (
                    0u8..10,
                    0u16..3,
                    prop_oneof![any::<u32>(), (0u32..12).prop_map(|o| o * 8), Just(65_528u32)],
                    any::<bool>(),
                    0usize..80,
                    any::<u8>(),
                    prop_oneof![any::<u64>(), 0u64..200],
                ),
                0..80,
            ),
        ) {
            let limits = DefragLimits {
                max_datagrams_pending: max_datagrams,
                max_bytes_pending: max_bytes,
                max_datagram_len: max_len,
                max_fragments_per_datagram: max_fragments,
                timeout: Duration::from_micros(timeout),
            };
            let mut defrag = Defragmenter::new(limits);
            for (kind, id, offset, more, len, fill, ts) in ops {
                match kind {
                    0 => {
                        defrag.expire(ts);
                    }
                    1 => {
                        defrag.finish();
                    }
                    _ => {
                        let payload = vec![fill; len];
                        let pushed = defrag.push(Fragment {
                            key: key(id),
                            frag_offset: offset,
                            more_fragments: more,
                            payload: &payload,
                            frame: u64::from(kind),
                            frame_offset: u32::MAX - 3,
                            ts_micros: ts,
                        });
                        if let DefragOutcome::Complete(reassembled) = pushed.outcome {
                            let covered: u32 = reassembled
                                .spans()
                                .iter()
                                .map(|s| s.datagram_range.end - s.datagram_range.start)
                                .sum();
                            prop_assert_eq!(covered as usize, reassembled.payload().len());
                        }
                    }
                }
                prop_assert!(defrag.n_pending() <= max_datagrams);
                prop_assert!(defrag.bytes_pending() <= max_bytes);
            }
            defrag.finish();
            prop_assert_eq!(defrag.n_pending(), 0);
            prop_assert_eq!(defrag.bytes_pending(), 0);
        }
    }
}
