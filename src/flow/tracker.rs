//! Connection tracking: every TCP segment placed in its conversation, pushed
//! through that direction's reassembler, and its bytes mapped back to frames.
//!
//! The tracker owns, per connection, two [`Reassembler`]s and two
//! [`StreamMap`]s (one per direction) and the counters `osiscope streams`
//! reports. It hands back, for each segment, the stream chunks the segment
//! released (in either direction: an ACK can declare a hole in the other
//! direction lost), ready for the application decoders.
//!
//! # Eviction
//!
//! Memory follows the connections held, not the length of the capture. A
//! connection is evicted (its slot freed, what its reassemblers held released
//! with gaps for the holes, and the [`Connection`] handed to the caller in
//! [`Step::evicted`] so its application layer can be finished):
//!
//! - when it is finished (both FINs acknowledged, or reset) and no segment of
//!   it came for [`TrackerLimits::finished_linger`] of capture time;
//! - when a new connection would make more than [`TrackerLimits::max_streams`]
//!   held: finished connections go first, then the open one idle longest
//!   ([`Eviction::StreamLimit`], a reported problem);
//! - when the caller asks ([`Tracker::evict`], for a memory budget that also
//!   counts the application decoders' buffers).
//!
//! A segment that arrives for an evicted connection starts a new one with
//! the next `tcp.stream` index (roles guessed unless it is a SYN), so stream
//! numbers can differ from Wireshark's only after an eviction.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use crate::dissect::Timestamp;
use crate::flow::analysis::{self, Analysis, AnalysisLimits, Analyzer, Flag, SackBlock};
use crate::flow::reassembly::{Chunk, Outcome, Reassembler, ReassemblyLimits, Segment};
use crate::flow::seq::SeqNumber;
use crate::flow::state::{self, StateSegment};
use crate::flow::stream_map::{Run, StreamMap};
use crate::flow::table::{Conversation, Direction, Endpoint, SegmentInfo, Table};
use crate::flow::TcpFlags;

/// Bookkeeping bytes counted per held out-of-order piece (its allocation and map node).
pub const HELD_PIECE_OVERHEAD: usize = 64;

/// Bounds on what the tracker holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackerLimits {
    /// Most connections held at once, open or recently finished (default 10 000). A new
    /// connection past it evicts a finished one, else the open one idle longest.
    pub max_streams: usize,
    /// How long, in capture time, a finished connection (both FINs acknowledged, or reset) is
    /// kept for late segments before it is evicted (default 60 s, twice the usual MSL).
    pub finished_linger: Duration,
    /// Provenance runs kept per direction (default [`StreamMap::DEFAULT_MAX_RUNS`]).
    pub max_map_runs: usize,
    /// Out-of-order bytes and pieces held per direction.
    pub reassembly: ReassemblyLimits,
    /// Unacknowledged segments remembered per direction for the analysis.
    pub analysis: AnalysisLimits,
}

impl Default for TrackerLimits {
    fn default() -> Self {
        TrackerLimits {
            max_streams: 10_000,
            finished_linger: Duration::from_secs(60),
            max_map_runs: StreamMap::DEFAULT_MAX_RUNS,
            reassembly: ReassemblyLimits::default(),
            analysis: AnalysisLimits::default(),
        }
    }
}

/// Why a connection was evicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// It was finished and quiet for the linger time, or room was needed and it was finished:
    /// nothing is lost.
    Finished,
    /// More than `limit` connections were held and it was the open one idle longest.
    StreamLimit {
        /// The limit in force.
        limit: usize,
    },
    /// All connections together buffered more than `limit` bytes and it buffered the most.
    BufferLimit {
        /// The limit in force.
        limit: usize,
        /// What this connection buffered.
        buffered: usize,
    },
}

/// A connection the tracker let go.
#[derive(Debug)]
pub struct Evicted {
    /// The slot it had (free again).
    pub slot: usize,
    pub reason: Eviction,
    pub connection: Box<Connection>,
    /// What its reassemblers still held, released in stream order with gaps for the holes.
    pub chunks: Vec<(Direction, Chunk<'static>)>,
}

/// A TCP segment as the tracker needs it.
#[derive(Clone, Debug)]
pub struct TcpSegment<'a> {
    pub frame: u64,
    pub ts: Timestamp,
    pub src: Endpoint,
    pub dst: Endpoint,
    pub seq: SeqNumber,
    pub ack: SeqNumber,
    pub syn: bool,
    pub ack_flag: bool,
    pub fin: bool,
    pub rst: bool,
    /// The raw flag bits (AE down to FIN).
    pub flags: u16,
    /// The raw, unscaled window field.
    pub window: u16,
    /// Options the analysis needs: window scale, MSS, SACK blocks.
    pub window_scale: Option<u8>,
    pub mss: Option<u16>,
    pub sack: Option<Vec<SackBlock>>,
    /// The captured payload bytes.
    pub payload: &'a [u8],
    /// Payload bytes on the wire (more than captured when cut by snaplen).
    pub wire_len: usize,
    /// Where the payload starts in the frame.
    pub payload_offset: u32,
}

/// Packets and bytes one side sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirStats {
    pub n_packets: u64,
    /// Payload bytes on the wire, retransmissions included.
    pub n_bytes: u64,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
}

/// What the tracker knows of one connection.
#[derive(Debug)]
pub struct Connection {
    pub conversation: Conversation,
    pub stats: [DirStats; 2],
    pub last_frame: u64,
    pub last_ts: Timestamp,
    /// How many segments got each analysis flag, in [`Flag::ALL`] order.
    pub flag_counts: [u64; Flag::ALL.len()],
    reassemblers: [Reassembler; 2],
    maps: [StreamMap; 2],
    analyzer: Analyzer,
    states: state::Tracker,
    /// The tracker's tick at the last segment: the key of its place in the idle order.
    touched: u64,
    /// The capture time (ns) of its last segment once finished: its key among the finished.
    finished_at: Option<u64>,
}

impl Connection {
    fn new(conversation: Conversation, limits: &TrackerLimits, frame: u64, ts: Timestamp) -> Self {
        Connection {
            conversation,
            stats: [DirStats::default(); 2],
            last_frame: frame,
            last_ts: ts,
            flag_counts: [0; Flag::ALL.len()],
            reassemblers: [
                Reassembler::new(limits.reassembly),
                Reassembler::new(limits.reassembly),
            ],
            maps: [
                StreamMap::new(limits.max_map_runs),
                StreamMap::new(limits.max_map_runs),
            ],
            analyzer: Analyzer::new(limits.analysis),
            states: state::Tracker::new(),
            touched: 0,
            finished_at: None,
        }
    }

    /// Bytes this connection holds that grow with its traffic: out-of-order data waiting for
    /// holes (with [`HELD_PIECE_OVERHEAD`] per piece), provenance runs and the analysis's
    /// unacknowledged segments.
    pub fn buffered_len(&self) -> usize {
        let held: usize = self
            .reassemblers
            .iter()
            .map(|r| {
                r.held_bytes()
                    .saturating_add(r.n_held_segments().saturating_mul(HELD_PIECE_OVERHEAD))
            })
            .fold(0, usize::saturating_add);
        let runs: usize = self
            .maps
            .iter()
            .map(StreamMap::len)
            .fold(0, usize::saturating_add);
        let unacked = [Direction::ClientToServer, Direction::ServerToClient]
            .iter()
            .map(|dir| self.analyzer.unacked_segments(*dir))
            .fold(0, usize::saturating_add);
        held.saturating_add(runs.saturating_mul(std::mem::size_of::<Run>()))
            .saturating_add(unacked.saturating_mul(UNACKED_LEN))
    }
    /// Each side's TCP state after the last segment.
    pub fn state(&self) -> state::Snapshot {
        self.states.snapshot()
    }

    /// The analyzer, for per-connection facts (initial RTT, completeness).
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// The provenance map of one direction.
    pub fn map(&self, direction: Direction) -> Option<&StreamMap> {
        self.maps.get(direction.index())
    }

    /// Mutable access to a direction's map, to prune what no PDU needs.
    pub fn map_mut(&mut self, direction: Direction) -> Option<&mut StreamMap> {
        self.maps.get_mut(direction.index())
    }

    /// The reassembler of one direction.
    pub fn reassembler(&self, direction: Direction) -> Option<&Reassembler> {
        self.reassemblers.get(direction.index())
    }

    /// Frees the provenance maps of a connection whose two streams have ended.
    pub fn release_maps(&mut self) {
        for map in &mut self.maps {
            map.release();
        }
    }

    /// Records where a delivered chunk's bytes came from.
    fn record(&mut self, direction: Direction, chunk: &Chunk<'_>) {
        if let (
            Chunk::Data {
                stream_offset,
                bytes,
                frame,
                frame_offset,
            },
            Some(map),
        ) = (chunk, self.maps.get_mut(direction.index()))
        {
            map.record(*stream_offset, bytes.len() as u64, *frame, *frame_offset);
        }
    }

    /// Whether the three-way handshake's SYN and SYN-ACK were both seen.
    pub fn handshake_seen(&self) -> bool {
        self.stats.iter().all(|side| side.syn)
    }
}

/// Bytes counted per unacknowledged segment the analysis remembers.
const UNACKED_LEN: usize = 40;

/// What one segment did.
#[derive(Debug)]
pub struct Step<'a> {
    /// The connection's slot in the tracker.
    pub slot: usize,
    pub stream: u32,
    pub direction: Direction,
    pub new: bool,
    pub outcome: Outcome,
    /// tshark-style analysis of the segment.
    pub analysis: Analysis,
    /// Both sides' TCP state after the segment, and what changed.
    pub state: state::Step,
    /// Stream chunks released by this segment, in order per direction.
    pub chunks: smallvec::SmallVec<[(Direction, Chunk<'a>); 2]>,
    /// Connections evicted while placing this segment (never its own).
    pub evicted: Vec<Evicted>,
}

/// All connections of a capture.
#[derive(Debug, Default)]
pub struct Tracker {
    limits: TrackerLimits,
    table: Table,
    /// By slot; `None` for a free slot.
    connections: Vec<Option<Connection>>,
    /// Every touch of a held connection as `(tick, slot)`, oldest first: the
    /// idle order. A touch is current while the slot's connection was last
    /// touched at that tick; later touches make earlier ones stale, which
    /// are dropped from the front as they come and all at once when they
    /// outnumber the current ones (amortized O(1) per segment, where a
    /// sorted set cost a removal and an insertion).
    touches: VecDeque<(u64, usize)>,
    /// Connections held.
    n_held: usize,
    /// Finished connections by the capture time of their last segment: `(ns, slot)`.
    finished: BTreeSet<(u64, usize)>,
    /// Segments placed so far: the clock of the idle order.
    tick: u64,
    /// The latest capture time seen, in ns (capture clocks can go backwards).
    now: u64,
}

impl Tracker {
    pub fn new(limits: TrackerLimits) -> Tracker {
        Tracker {
            limits,
            ..Tracker::default()
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &TrackerLimits {
        &self.limits
    }

    /// How many connections are held.
    pub fn len(&self) -> usize {
        self.n_held
    }

    /// Whether no connection is held.
    pub fn is_empty(&self) -> bool {
        self.n_held == 0
    }

    /// Numbers new connections from `first` on (see [`Table::starting_at`]).
    pub fn starting_at_stream(mut self, first: u32) -> Tracker {
        self.table = Table::starting_at(first);
        self
    }

    /// Places one segment, reassembles it, and returns what it released.
    pub fn segment<'a>(&mut self, segment: &TcpSegment<'a>) -> Option<Step<'a>> {
        let nanos = nanos(segment.ts);
        self.now = self.now.max(nanos);
        self.tick = self.tick.saturating_add(1);
        let mut evicted = self.expire_finished();
        let placement = self.table.place(&SegmentInfo {
            src: segment.src,
            dst: segment.dst,
            syn: segment.syn,
            ack: segment.ack_flag,
            frame: segment.frame,
            ts: segment.ts,
        });
        if placement.new {
            let conversation = self.table.conversation(placement.slot)?.clone();
            let connection = Connection::new(conversation, &self.limits, segment.frame, segment.ts);
            while self.connections.len() <= placement.slot {
                self.connections.push(None);
            }
            *self.connections.get_mut(placement.slot)? = Some(connection);
            self.n_held = self.n_held.saturating_add(1);
        }
        let tick = self.tick;
        self.connections.get_mut(placement.slot)?.as_mut()?.touched = tick;
        self.touches.push_back((tick, placement.slot));
        self.compact_touches();
        let connection = self.connections.get_mut(placement.slot)?.as_mut()?;
        let direction = placement.direction;
        let here = direction.index();
        let there = direction.reverse().index();
        connection.last_frame = segment.frame;
        connection.last_ts = segment.ts;
        if let Some(stats) = connection.stats.get_mut(here) {
            stats.n_packets = stats.n_packets.saturating_add(1);
            stats.n_bytes = stats.n_bytes.saturating_add(segment.wire_len as u64);
            stats.syn |= segment.syn;
            stats.fin |= segment.fin;
            stats.rst |= segment.rst;
        }
        let flags = TcpFlags(segment.flags);
        let payload_len = u32::try_from(segment.wire_len).unwrap_or(u32::MAX);
        let analysis = connection.analyzer.analyze(&analysis::Segment {
            dir: direction,
            frame: segment.frame,
            ts: analysis::Timestamp(nanos),
            seq: segment.seq,
            ack: segment.ack,
            flags,
            payload_len,
            window: segment.window,
            window_scale: segment.window_scale,
            mss: segment.mss,
            sack: segment.sack.as_deref(),
        });
        for (count, flag) in connection.flag_counts.iter_mut().zip(Flag::ALL) {
            if analysis.flags.contains(flag) {
                *count = count.saturating_add(1);
            }
        }
        let state = connection.states.observe(&StateSegment {
            dir: direction,
            flags,
            seq: segment.seq,
            ack: segment.ack,
            payload_len,
        });
        let mut chunks = smallvec::SmallVec::new();
        let outcome = match connection.reassemblers.get_mut(here) {
            Some(reassembler) => reassembler.push(
                Segment {
                    seq: segment.seq,
                    syn: segment.syn,
                    fin: segment.fin,
                    rst: segment.rst,
                    payload: segment.payload,
                    frame: segment.frame,
                    payload_offset: segment.payload_offset,
                },
                |chunk| chunks.push((direction, chunk)),
            ),
            None => return None,
        };
        if segment.ack_flag && !segment.rst {
            if let Some(peer) = connection.reassemblers.get_mut(there) {
                peer.peer_ack(segment.ack, |chunk| {
                    chunks.push((direction.reverse(), chunk))
                });
            }
        }
        for (dir, chunk) in &chunks {
            connection.record(*dir, chunk);
        }
        let ended = connection.stats.iter().all(|side| side.fin)
            || connection.stats.iter().any(|side| side.rst);
        let stream = connection.conversation.index;
        if let Some(at) = connection.finished_at.take() {
            self.finished.remove(&(at, placement.slot));
        }
        if state.after.is_finished() {
            connection.finished_at = Some(nanos);
            self.finished.insert((nanos, placement.slot));
        }
        if ended {
            self.table.finish(placement.slot);
        }
        if placement.new {
            evicted.extend(self.make_room(placement.slot));
        }
        Some(Step {
            slot: placement.slot,
            stream,
            direction,
            new: placement.new,
            outcome,
            analysis,
            state,
            chunks,
            evicted,
        })
    }

    /// The capture's clock reaches a TCP segment placed elsewhere (another
    /// tracker holds its connection): the finished connections quiet for the
    /// linger time by then are evicted, as they would be before placing it.
    pub fn pass_time(&mut self, ts: Timestamp) -> Vec<Evicted> {
        self.now = self.now.max(nanos(ts));
        self.expire_finished()
    }

    /// The `tcp.stream` index the next new connection will get.
    pub fn next_stream(&self) -> u32 {
        self.table.next_stream()
    }

    /// Evicts the finished connections that have been quiet for the linger time.
    fn expire_finished(&mut self) -> Vec<Evicted> {
        let linger = u64::try_from(self.limits.finished_linger.as_nanos()).unwrap_or(u64::MAX);
        let mut out = Vec::new();
        while let Some(&(at, slot)) = self.finished.first() {
            if at.saturating_add(linger) >= self.now {
                break;
            }
            match self.evict(slot, Eviction::Finished) {
                Some(evicted) => out.push(evicted),
                None => {
                    self.finished.remove(&(at, slot));
                }
            }
        }
        out
    }

    /// Whether a touch is the latest of a held connection.
    fn is_current(&self, (tick, slot): (u64, usize)) -> bool {
        self.connections
            .get(slot)
            .and_then(Option::as_ref)
            .is_some_and(|connection| connection.touched == tick)
    }

    /// The held connection idle longest, other than `keep`.
    fn idle_longest(&mut self, keep: usize) -> Option<usize> {
        while let Some(&touch) = self.touches.front() {
            if self.is_current(touch) {
                break;
            }
            self.touches.pop_front();
        }
        self.touches
            .iter()
            .find(|&&touch| touch.1 != keep && self.is_current(touch))
            .map(|&(_, slot)| slot)
    }

    /// Drops the stale touches once they outnumber the current ones.
    fn compact_touches(&mut self) {
        if self.touches.len() > self.n_held.saturating_mul(2).saturating_add(1024) {
            let mut touches = std::mem::take(&mut self.touches);
            touches.retain(|&touch| self.is_current(touch));
            self.touches = touches;
        }
    }

    /// Evicts connections until no more than `max_streams` are held, sparing `keep`:
    /// the finished ones first, then the open ones idle longest.
    fn make_room(&mut self, keep: usize) -> Vec<Evicted> {
        let limit = self.limits.max_streams.max(1);
        let mut out = Vec::new();
        while self.n_held > limit {
            let finished = self
                .finished
                .iter()
                .map(|&(_, slot)| slot)
                .find(|&slot| slot != keep);
            let (slot, reason) = match finished {
                Some(slot) => (slot, Eviction::Finished),
                None => match self.idle_longest(keep) {
                    Some(slot) => (slot, Eviction::StreamLimit { limit }),
                    None => break,
                },
            };
            match self.evict(slot, reason) {
                Some(evicted) => out.push(evicted),
                None => break,
            }
        }
        out
    }

    /// Lets a connection go: frees its slot and releases what its reassemblers held (holes
    /// become gaps). Returns `None` for a free slot.
    pub fn evict(&mut self, slot: usize, reason: Eviction) -> Option<Evicted> {
        let mut connection = self.connections.get_mut(slot)?.take()?;
        self.table.remove(slot);
        self.n_held = self.n_held.saturating_sub(1);
        if let Some(at) = connection.finished_at {
            self.finished.remove(&(at, slot));
        }
        let mut chunks = Vec::new();
        for direction in [Direction::ClientToServer, Direction::ServerToClient] {
            let mut released = Vec::new();
            if let Some(reassembler) = connection.reassemblers.get_mut(direction.index()) {
                reassembler.finish(|chunk| released.push(chunk.into_owned()));
            }
            for chunk in released {
                connection.record(direction, &chunk);
                chunks.push((direction, chunk));
            }
        }
        Some(Evicted {
            slot,
            reason,
            connection: Box::new(connection),
            chunks,
        })
    }

    /// Ends every connection: releases what reassemblers still hold, with gaps
    /// for holes that never filled. Returns `(slot, direction, chunk)`.
    pub fn finish(&mut self) -> Vec<(usize, Direction, Chunk<'static>)> {
        let mut out = Vec::new();
        let mut slots: Vec<(u32, usize)> = self
            .connections()
            .map(|(slot, connection)| (connection.conversation.index, slot))
            .collect();
        slots.sort_unstable();
        for (_, slot) in slots {
            let Some(connection) = self.connections.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            for direction in [Direction::ClientToServer, Direction::ServerToClient] {
                let mut released = Vec::new();
                if let Some(reassembler) = connection.reassemblers.get_mut(direction.index()) {
                    reassembler.finish(|chunk| released.push(chunk.into_owned()));
                }
                for chunk in released {
                    connection.record(direction, &chunk);
                    out.push((slot, direction, chunk));
                }
            }
        }
        out
    }

    /// A connection by slot.
    pub fn connection(&self, slot: usize) -> Option<&Connection> {
        self.connections.get(slot)?.as_ref()
    }

    /// A connection by slot, mutable.
    pub fn connection_mut(&mut self, slot: usize) -> Option<&mut Connection> {
        self.connections.get_mut(slot)?.as_mut()
    }

    /// Every connection held, with its slot, in slot order (which is stream order until a
    /// slot is reused).
    pub fn connections(&self) -> impl Iterator<Item = (usize, &Connection)> {
        self.connections
            .iter()
            .enumerate()
            .filter_map(|(slot, connection)| Some((slot, connection.as_ref()?)))
    }
}

/// A time stamp in nanoseconds (0 before 1970), the tracker's clock.
fn nanos(ts: Timestamp) -> u64 {
    u64::try_from(ts.secs)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(ts.nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::table::tests::ep;
    use std::net::{IpAddr, Ipv4Addr};

    /// A segment from `src` to `dst` at `secs` seconds.
    #[allow(clippy::too_many_arguments)]
    fn seg(
        src: Endpoint,
        dst: Endpoint,
        flags: u16,
        seq: u32,
        ack: u32,
        payload: &[u8],
        frame: u64,
        secs: i64,
    ) -> TcpSegment<'_> {
        let flags = TcpFlags(flags);
        TcpSegment {
            frame,
            ts: Timestamp { secs, nanos: 0 },
            src,
            dst,
            seq: SeqNumber(seq),
            ack: SeqNumber(ack),
            syn: flags.contains(TcpFlags::SYN),
            ack_flag: flags.contains(TcpFlags::ACK),
            fin: flags.contains(TcpFlags::FIN),
            rst: flags.contains(TcpFlags::RST),
            flags: flags.0,
            window: 65535,
            window_scale: None,
            mss: None,
            sack: None,
            payload,
            wire_len: payload.len(),
            payload_offset: 54,
        }
    }

    const SYN: u16 = TcpFlags::SYN.0;
    const ACK: u16 = TcpFlags::ACK.0;
    const FIN: u16 = TcpFlags::FIN.0;
    const RST: u16 = TcpFlags::RST.0;

    fn limits(max_streams: usize) -> TrackerLimits {
        TrackerLimits {
            max_streams,
            ..TrackerLimits::default()
        }
    }

    #[test]
    fn past_the_stream_limit_the_connection_idle_longest_is_evicted() {
        let mut tracker = Tracker::new(limits(2));
        let server = ep(100, 80);
        let a = tracker
            .segment(&seg(ep(1, 1000), server, SYN, 1, 0, b"", 1, 0))
            .unwrap();
        tracker.segment(&seg(ep(2, 1000), server, SYN, 1, 0, b"", 2, 0));
        // The first connection speaks again: the second is now idle longest.
        tracker.segment(&seg(ep(1, 1000), server, SYN, 1, 0, b"", 3, 0));
        let third = tracker
            .segment(&seg(ep(3, 1000), server, SYN, 1, 0, b"", 4, 0))
            .unwrap();
        assert_eq!(third.evicted.len(), 1);
        let evicted = &third.evicted[0];
        assert_eq!(evicted.reason, Eviction::StreamLimit { limit: 2 });
        assert_eq!(evicted.connection.conversation.index, 1);
        assert_eq!(tracker.len(), 2);
        assert!(tracker.connection(a.slot).is_some());
        assert_eq!(third.stream, 2);
        let freed = evicted.slot;
        // A late segment of the evicted connection starts a new stream, in the freed slot.
        let late = tracker
            .segment(&seg(ep(2, 1000), server, ACK, 2, 1, b"x", 5, 0))
            .unwrap();
        assert!(late.new);
        assert_eq!(late.stream, 3);
        assert_eq!(late.slot, freed);
        assert_eq!(tracker.len(), 2);
    }

    /// The idle order survives many touches: stale ones are dropped, the
    /// queue stays bounded, and the connection idle longest still goes first.
    #[test]
    fn the_idle_order_stays_bounded_and_right_over_many_segments() {
        let mut tracker = Tracker::new(limits(3));
        let server = ep(100, 80);
        let clients = [ep(1, 1000), ep(2, 1000), ep(3, 1000)];
        for (i, client) in clients.iter().enumerate() {
            tracker.segment(&seg(*client, server, SYN, 1, 0, b"", i as u64 + 1, 0));
        }
        // Clients 1 and 3 speak 5,000 times each; client 2 never again.
        let mut frame = 10;
        for _ in 0..5000 {
            for client in [clients[0], clients[2]] {
                frame += 1;
                tracker.segment(&seg(client, server, ACK, 2, 1, b"", frame, 0));
            }
        }
        assert!(
            tracker.touches.len() <= 3 * 2 + 1024 + 1,
            "{}",
            tracker.touches.len()
        );
        let step = tracker
            .segment(&seg(ep(4, 1000), server, SYN, 1, 0, b"", frame + 1, 0))
            .unwrap();
        assert_eq!(step.evicted.len(), 1);
        assert_eq!(step.evicted[0].connection.conversation.index, 1);
        assert_eq!(tracker.len(), 3);
    }

    #[test]
    fn finished_connections_go_first_and_without_a_problem() {
        let mut tracker = Tracker::new(limits(2));
        let (client, server) = (ep(1, 1000), ep(100, 80));
        tracker.segment(&seg(client, server, SYN, 1, 0, b"", 1, 0));
        tracker.segment(&seg(server, client, SYN | ACK, 9, 2, b"", 2, 0));
        tracker.segment(&seg(client, server, RST, 2, 0, b"", 3, 0));
        // An open connection, idle since before the reset one ended... is spared.
        tracker.segment(&seg(ep(2, 1000), server, SYN, 1, 0, b"", 4, 0));
        let step = tracker
            .segment(&seg(ep(3, 1000), server, SYN, 1, 0, b"", 5, 0))
            .unwrap();
        assert_eq!(step.evicted.len(), 1);
        assert_eq!(step.evicted[0].reason, Eviction::Finished);
        assert_eq!(step.evicted[0].connection.conversation.index, 0);
    }

    #[test]
    fn a_finished_connection_is_evicted_after_the_linger_time() {
        let mut tracker = Tracker::new(TrackerLimits {
            finished_linger: Duration::from_secs(60),
            ..TrackerLimits::default()
        });
        let (client, server) = (ep(1, 1000), ep(100, 80));
        tracker.segment(&seg(client, server, SYN, 1, 0, b"", 1, 0));
        tracker.segment(&seg(server, client, SYN | ACK, 9, 2, b"", 2, 0));
        tracker.segment(&seg(client, server, ACK, 2, 10, b"", 3, 0));
        tracker.segment(&seg(client, server, FIN | ACK, 2, 10, b"", 4, 1));
        tracker.segment(&seg(server, client, FIN | ACK, 10, 3, b"", 5, 1));
        let last = tracker
            .segment(&seg(client, server, ACK, 3, 11, b"", 6, 1))
            .unwrap();
        assert!(last.state.after.is_finished());
        // Within the linger time a late segment still belongs to it.
        let retransmitted = tracker
            .segment(&seg(server, client, FIN | ACK, 10, 3, b"", 7, 30))
            .unwrap();
        assert!(!retransmitted.new);
        assert_eq!(retransmitted.stream, 0);
        // Another connection 61 s after the last segment: the finished one goes.
        let other = tracker
            .segment(&seg(ep(2, 1000), server, SYN, 1, 0, b"", 8, 91))
            .unwrap();
        assert_eq!(other.evicted.len(), 1);
        assert_eq!(other.evicted[0].reason, Eviction::Finished);
        assert_eq!(tracker.len(), 1);
    }

    #[test]
    fn an_evicted_connection_releases_what_it_held_with_gaps() {
        let mut tracker = Tracker::new(limits(1));
        let (client, server) = (ep(1, 1000), ep(100, 80));
        tracker.segment(&seg(client, server, SYN, 1, 0, b"", 1, 0));
        tracker.segment(&seg(server, client, SYN | ACK, 9, 2, b"", 2, 0));
        // Bytes 2..4 are missing; "cd" waits for them.
        tracker.segment(&seg(client, server, ACK, 4, 10, b"cd", 3, 0));
        let held = tracker.connections().next().unwrap().1.buffered_len();
        assert!(held >= 2 + HELD_PIECE_OVERHEAD, "{held}");
        let step = tracker
            .segment(&seg(ep(2, 1000), server, SYN, 1, 0, b"", 4, 0))
            .unwrap();
        let evicted = &step.evicted[0];
        assert_eq!(
            evicted.chunks,
            vec![
                (
                    Direction::ClientToServer,
                    Chunk::Gap {
                        stream_offset: 0,
                        len: 2
                    }
                ),
                (
                    Direction::ClientToServer,
                    Chunk::Data {
                        stream_offset: 2,
                        bytes: std::borrow::Cow::Owned(b"cd".to_vec()),
                        frame: 3,
                        frame_offset: 54
                    }
                ),
            ]
        );
    }

    #[test]
    fn memory_follows_the_connections_held_not_those_seen() {
        let mut tracker = Tracker::new(limits(100));
        let server = ep(100, 80);
        let mut evicted = 0;
        for index in 0..5000u32 {
            let client = Endpoint {
                addr: IpAddr::V4(Ipv4Addr::from(0x0a01_0000 + index)),
                port: 1000,
            };
            let step = tracker
                .segment(&seg(
                    client,
                    server,
                    SYN,
                    index,
                    0,
                    b"",
                    u64::from(index) + 1,
                    0,
                ))
                .unwrap();
            assert_eq!(step.stream, index);
            evicted += step.evicted.len();
        }
        assert_eq!(evicted, 4900);
        assert_eq!(tracker.len(), 100);
        assert!(tracker.connections.len() <= 101);
    }
}
