//! Connection tracking: every TCP segment placed in its conversation, pushed
//! through that direction's reassembler, and its bytes mapped back to frames.
//!
//! The tracker owns, per connection, two [`Reassembler`]s and two
//! [`StreamMap`]s (one per direction) and the counters `osiscope streams`
//! reports. It hands back, for each segment, the stream chunks the segment
//! released (in either direction: an ACK can declare a hole in the other
//! direction lost), ready for the application decoders.

use crate::dissect::Timestamp;
use crate::flow::analysis::{self, Analysis, Analyzer, Flag, SackBlock};
use crate::flow::reassembly::{Chunk, Outcome, Reassembler, ReassemblyLimits, Segment};
use crate::flow::seq::SeqNumber;
use crate::flow::state::{self, StateSegment};
use crate::flow::stream_map::StreamMap;
use crate::flow::table::{Conversation, Direction, Endpoint, SegmentInfo, Table};
use crate::flow::TcpFlags;

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
}

impl Connection {
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
    pub chunks: Vec<(Direction, Chunk<'a>)>,
}

/// All connections of a capture.
#[derive(Debug, Default)]
pub struct Tracker {
    limits: ReassemblyLimits,
    table: Table,
    connections: Vec<Connection>,
}

impl Tracker {
    pub fn new(limits: ReassemblyLimits) -> Tracker {
        Tracker {
            limits,
            ..Tracker::default()
        }
    }

    /// Numbers new connections from `first` on (see [`Table::starting_at`]).
    pub fn starting_at_stream(mut self, first: u32) -> Tracker {
        self.table = Table::starting_at(first);
        self
    }

    /// Places one segment, reassembles it, and returns what it released.
    pub fn segment<'a>(&mut self, segment: &TcpSegment<'a>) -> Option<Step<'a>> {
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
            let limits = self.limits;
            self.connections.push(Connection {
                conversation,
                stats: [DirStats::default(); 2],
                last_frame: segment.frame,
                last_ts: segment.ts,
                flag_counts: [0; Flag::ALL.len()],
                reassemblers: [Reassembler::new(limits), Reassembler::new(limits)],
                maps: [StreamMap::default(), StreamMap::default()],
                analyzer: Analyzer::default(),
                states: state::Tracker::new(),
            });
        }
        let connection = self.connections.get_mut(placement.slot)?;
        let direction = placement.direction;
        let here = direction.index();
        let there = direction.reverse().index();
        connection.last_frame = segment.frame;
        connection.last_ts = segment.ts;
        if let Some(stats) = connection.stats.get_mut(here) {
            stats.n_packets += 1;
            stats.n_bytes += segment.wire_len as u64;
            stats.syn |= segment.syn;
            stats.fin |= segment.fin;
            stats.rst |= segment.rst;
        }
        let flags = TcpFlags(segment.flags);
        let nanos = u64::try_from(segment.ts.secs)
            .unwrap_or(0)
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(segment.ts.nanos));
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
                *count += 1;
            }
        }
        let state = connection.states.observe(&StateSegment {
            dir: direction,
            flags,
            seq: segment.seq,
            ack: segment.ack,
            payload_len,
        });
        let mut chunks = Vec::new();
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
        if ended {
            self.table.finish(placement.slot);
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
        })
    }

    /// Ends every connection: releases what reassemblers still hold, with gaps
    /// for holes that never filled. Returns `(slot, direction, chunk)`.
    pub fn finish(&mut self) -> Vec<(usize, Direction, Chunk<'static>)> {
        let mut out = Vec::new();
        for (slot, connection) in self.connections.iter_mut().enumerate() {
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
        self.connections.get(slot)
    }

    /// A connection by slot, mutable.
    pub fn connection_mut(&mut self, slot: usize) -> Option<&mut Connection> {
        self.connections.get_mut(slot)
    }

    /// Every connection, in stream-index order.
    pub fn connections(&self) -> &[Connection] {
        &self.connections
    }
}
