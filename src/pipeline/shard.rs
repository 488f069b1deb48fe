//! A capture's connections decoded on several threads, with the answers of one pipeline.
//!
//! Every TCP connection's state lives in one [`Pipeline`], and nothing a
//! connection decodes depends on another connection's bytes. So the frames of
//! a capture file can be divided between pipelines, one per thread, by the
//! pair of IP addresses they travel between (the same for both directions of
//! a connection and for every fragment of a datagram): each pipeline sees
//! every frame of its connections, in order.
//!
//! What one pipeline would number or order across connections is put back
//! together here:
//!
//! - **`tcp.stream` numbers** count connections in the order they first
//!   appear in the capture. Each pipeline numbers its own from 0; every new
//!   one is reported with its frame, and the merge, which goes through the
//!   pipelines' answers in frame order, gives it the next number of the
//!   whole capture.
//! - **Order**: messages come out in the order of the frames that ended them,
//!   as one pipeline gives them; at the end of the capture, connection by
//!   connection in stream order. Connections' summaries (for `streams`) come
//!   out in stream order, each as soon as every lower stream's is final.
//! - **Time**: a finished connection is let go when the capture's clock has
//!   passed its linger time, and IPv4 fragments expire, at whichever frame
//!   that happens. Each pipeline is told the time of every frame the others
//!   take ([`Pipeline::pass_time`]), so it lets go at the same frame.
//!
//! The limits on what all connections hold together (`--max-streams`,
//! `--max-buffered`, `--max-fragments`, `--max-fragment-bytes`) are divided
//! between the pipelines ([`Limits::divided`]), so the whole stays within
//! each; a pipeline then reaches its share as soon as its own connections
//! do. Until a limit is reached the answers are those of one pipeline, but
//! for two corners: when connections of two pipelines are let go at the
//! same frame with messages left unfinished, those come pipeline by
//! pipeline (one pipeline orders them by when each finished); and a TCP
//! segment rebuilt from IPv4 fragments moves only its own pipeline's clock
//! (the reader sees fragments, not the segment).
//!
//! The threads: one reads the file and routes each frame (its headers
//! decoded without checksums, for the addresses) into a batch per pipeline,
//! which holds the bytes of the pipeline's own frames and the time of every
//! other; each pipeline decodes its batches on a thread of its own and
//! answers each with what it learned, frame by frame; the caller's thread
//! merges the answers and hands the messages, or the summaries, to the
//! caller's sink (which formats and writes them). Channels between them are
//! bounded, so memory stays within a few batches per pipeline whatever the
//! file's size.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::mpsc::{self, Receiver, SyncSender};

use std::net::IpAddr;

use crate::decode::{decode_headers, Transport};
use crate::dissect::{FrameNumber, StreamSummary, Timestamp, WsMessage};
use crate::limits::Limits;
use crate::pipeline::Pipeline;
use crate::source::{frame_or_stop, RawFrame, Source, SourceError};

/// Frames routed before the batches go to the pipelines.
const BATCH_FRAMES: usize = 2048;
/// Captured bytes a batch takes before it goes, whatever its frames.
const BATCH_BYTES: usize = 1 << 20;
/// Batches waiting for each pipeline, and answers waiting for the merge.
const QUEUE: usize = 4;
/// Items merged between two looks for the summaries the merge can hand out.
const SUMMARIES_HELD: usize = 4096;

impl Limits {
    /// These limits divided between `n` pipelines that share a capture's
    /// connections: what all connections hold together is divided (at least
    /// one connection and one datagram each), what one connection or one
    /// message may hold is not.
    pub fn divided(&self, n: usize) -> Limits {
        let n = n.max(1);
        let share = |total: usize| (total / n).max(1);
        let mut limits = self.clone();
        limits.tracker.max_streams = share(self.tracker.max_streams);
        limits.max_buffered_total = share(self.max_buffered_total);
        limits.defrag.max_datagrams_pending = share(self.defrag.max_datagrams_pending);
        limits.defrag.max_bytes_pending = share(self.defrag.max_bytes_pending);
        limits
    }
}

/// The pipeline (of `n`) that decodes a frame, and whether the frame carries
/// a TCP segment (which moves the trackers' clocks). Frames without IP go to
/// the first.
pub fn route(frame: &RawFrame<'_>, n: usize) -> (usize, bool) {
    let decoded = decode_headers(frame);
    let tcp = matches!(decoded.transport, Some(Transport::Tcp(_)));
    let Some((a, b)) = decoded.ip_addresses() else {
        return (0, false);
    };
    let bits = |addr: IpAddr| match addr {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    };
    let (a, b) = (bits(a), bits(b));
    let (low, high) = (a.min(b), a.max(b));
    // Fold the pair into 64 bits and mix them (Fibonacci hashing): the
    // addresses of a capture often differ only in their last bits.
    let folded = (low as u64)
        ^ ((low >> 64) as u64).rotate_left(17)
        ^ (high as u64).rotate_left(31)
        ^ ((high >> 64) as u64).rotate_left(47);
    let mixed = folded.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let n64 = u64::try_from(n.max(1)).unwrap_or(1);
    let shard = usize::try_from((mixed >> 32) % n64).unwrap_or(0);
    (shard, tcp)
}

/// One frame in a pipeline's batch: its own (bytes in the batch's buffer) or
/// another pipeline's, of which only the time counts.
#[derive(Clone, Copy, Debug)]
struct Entry {
    number: u64,
    ts: Timestamp,
    orig_len: usize,
    link_type: u32,
    what: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Own { start: usize, end: usize },
    Elsewhere { tcp: bool },
}

/// Frames for one pipeline, every frame of the capture in order.
#[derive(Debug, Default)]
struct Batch {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
}

/// What a pipeline learned at one frame, in the order it learned it.
#[derive(Debug)]
struct Item {
    frame: u64,
    /// The frame was this pipeline's (at one frame, what the others learned
    /// from its time comes first, as one pipeline lets go before placing).
    own: bool,
    what: Learned,
}

// Most items are messages: boxing them would add an allocation to each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Learned {
    /// A new connection, with the pipeline's own stream number.
    Born(u32),
    Message(Prepared),
    /// A connection let go, summarised (before its `Ended`).
    Retired(StreamSummary),
    /// A connection let go: its number is no longer needed.
    Ended(u32),
}

/// What the pipelines report: messages (`messages`) or connections'
/// summaries (`streams`); the other is not made, or dropped where it was.
#[derive(Clone, Copy)]
enum Want<'a> {
    Messages(Prepare<'a>),
    Summaries,
}

/// What the merge hands out.
enum Record<'a> {
    Message(&'a Prepared),
    Summary(&'a StreamSummary),
}

/// A message as its pipeline's thread hands it to the merge, with what the
/// caller's `prepare` made of it there: work on each message (hashing its
/// payload, say) is then divided between the pipelines' threads instead of
/// falling to the merge's one, and a payload not wanted further can be let
/// go where it was made.
#[derive(Debug)]
pub struct Prepared {
    pub message: WsMessage,
    /// What `prepare` returned: a digest of the payload, for instance.
    pub digest: Option<[u8; 32]>,
}

/// The work done on each message on its pipeline's thread (see [`Prepared`]).
pub type Prepare<'a> = &'a (dyn Fn(&mut WsMessage) -> Option<[u8; 32]> + Sync);

/// Prepares a pipeline's messages on its thread.
fn prepared(messages: Vec<WsMessage>, prepare: Prepare<'_>) -> impl Iterator<Item = Prepared> + '_ {
    messages.into_iter().map(move |mut message| Prepared {
        digest: prepare(&mut message),
        message,
    })
}

/// A pipeline's answers to one batch, or its last ones.
#[derive(Debug)]
enum Answer {
    /// Everything learned up to and including frame `through`.
    Items { items: Vec<Item>, through: u64 },
    /// The capture ended: the messages that ends, in the pipeline's stream
    /// order, and the summaries of the connections it held.
    Finished {
        messages: Vec<Prepared>,
        summaries: Vec<StreamSummary>,
    },
}

/// Decodes the frames of `source` with `pipelines` (one thread each) and
/// hands every WebSocket message, as `prepare` left it on its pipeline's
/// thread, to `sink` in the order one pipeline over the whole capture would
/// (see the module's documentation). The pipelines must be built alike,
/// with [`Limits::divided`] limits. Returns the source's error, if reading
/// stopped at one (what was read before it is decoded and handed out), or
/// the sink's first error, which stops everything.
pub fn messages<S, E>(
    source: &mut S,
    pipelines: Vec<Pipeline>,
    prepare: Prepare<'_>,
    mut sink: impl FnMut(&Prepared) -> Result<(), E>,
) -> Result<Option<SourceError>, E>
where
    S: Source + Send,
{
    run(
        source,
        pipelines,
        Want::Messages(prepare),
        &mut |record| match record {
            Record::Message(message) => sink(message),
            Record::Summary(_) => Ok(()),
        },
    )
}

/// Decodes the frames of `source` with `pipelines` as [`messages`] does and
/// hands the summary of every TCP connection to `sink`, in stream order,
/// each once every lower stream's summary is final (as one pipeline's
/// [`Pipeline::take_retired`] and [`Pipeline::summaries`] give them). The
/// pipelines must keep their summaries and note the streams they end.
pub fn streams<S, E>(
    source: &mut S,
    pipelines: Vec<Pipeline>,
    mut sink: impl FnMut(&StreamSummary) -> Result<(), E>,
) -> Result<Option<SourceError>, E>
where
    S: Source + Send,
{
    run(
        source,
        pipelines,
        Want::Summaries,
        &mut |record| match record {
            Record::Message(_) => Ok(()),
            Record::Summary(summary) => sink(summary),
        },
    )
}

fn run<S, E>(
    source: &mut S,
    pipelines: Vec<Pipeline>,
    want: Want<'_>,
    sink: &mut dyn FnMut(Record<'_>) -> Result<(), E>,
) -> Result<Option<SourceError>, E>
where
    S: Source + Send,
{
    let n = pipelines.len().max(1);
    std::thread::scope(|scope| {
        let mut to_pipelines = Vec::with_capacity(n);
        let mut answers = Vec::with_capacity(n);
        let (give_back, returned) = mpsc::channel::<Batch>();
        for pipeline in pipelines {
            let (to_pipeline, batches) = mpsc::sync_channel::<Batch>(QUEUE);
            let (answer, answered) = mpsc::sync_channel::<Answer>(QUEUE);
            let give_back = give_back.clone();
            scope.spawn(move || decode(pipeline, want, batches, answer, give_back));
            to_pipelines.push(to_pipeline);
            answers.push(answered);
        }
        drop(give_back);
        let reader = scope.spawn(move || read(source, n, to_pipelines, returned));
        let merged = merge(answers, sink);
        // A sink that failed dropped the answers: the pipelines and the
        // reader stop at their next send.
        let failure = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        merged.map(|()| failure)
    })
}

/// The reader: routes every frame of `source` into a batch per pipeline.
fn read<S: Source>(
    source: &mut S,
    n: usize,
    to_pipelines: Vec<SyncSender<Batch>>,
    returned: Receiver<Batch>,
) -> Option<SourceError> {
    let fresh = |returned: &Receiver<Batch>| {
        returned.try_recv().map_or_else(
            |_| Batch {
                bytes: Vec::with_capacity(BATCH_BYTES),
                entries: Vec::with_capacity(BATCH_FRAMES),
            },
            |mut batch| {
                batch.bytes.clear();
                batch.entries.clear();
                batch
            },
        )
    };
    let mut batches: Vec<Batch> = (0..n).map(|_| fresh(&returned)).collect();
    let send = |batches: &mut Vec<Batch>| {
        for (batch, to_pipeline) in batches.iter_mut().zip(&to_pipelines) {
            let full = std::mem::replace(batch, fresh(&returned));
            if to_pipeline.send(full).is_err() {
                return false;
            }
        }
        true
    };
    let mut failure = None;
    let mut in_batch = 0;
    let mut bytes_in_batch = 0;
    while let Some(frame) = frame_or_stop(source, &mut failure) {
        let (own, tcp) = route(&frame, n);
        for (index, batch) in batches.iter_mut().enumerate() {
            let what = if index == own {
                let start = batch.bytes.len();
                batch.bytes.extend_from_slice(frame.data);
                Kind::Own {
                    start,
                    end: batch.bytes.len(),
                }
            } else {
                Kind::Elsewhere { tcp }
            };
            batch.entries.push(Entry {
                number: frame.number.0,
                ts: frame.ts,
                orig_len: frame.orig_len,
                link_type: frame.link_type,
                what,
            });
        }
        in_batch += 1;
        bytes_in_batch += frame.data.len();
        if in_batch >= BATCH_FRAMES || bytes_in_batch >= BATCH_BYTES {
            if !send(&mut batches) {
                return failure;
            }
            in_batch = 0;
            bytes_in_batch = 0;
        }
    }
    if in_batch > 0 {
        send(&mut batches);
    }
    failure
}

/// A pipeline's thread: decodes its frames, passes the others' time, and
/// answers each batch with what it learned.
fn decode(
    mut pipeline: Pipeline,
    want: Want<'_>,
    batches: Receiver<Batch>,
    answer: SyncSender<Answer>,
    give_back: mpsc::Sender<Batch>,
) {
    for batch in batches {
        let mut items = Vec::new();
        let mut through = 0;
        for entry in &batch.entries {
            through = entry.number;
            let (own, messages) = match entry.what {
                Kind::Own { start, end } => {
                    let frame = RawFrame {
                        number: FrameNumber(entry.number),
                        ts: entry.ts,
                        orig_len: entry.orig_len,
                        link_type: entry.link_type,
                        data: batch.bytes.get(start..end).unwrap_or(&[]),
                    };
                    let first_new = pipeline.tracker().next_stream();
                    let messages = pipeline.process(&frame, false).messages;
                    for stream in first_new..pipeline.tracker().next_stream() {
                        items.push(Item {
                            frame: entry.number,
                            own: true,
                            what: Learned::Born(stream),
                        });
                    }
                    (true, messages)
                }
                Kind::Elsewhere { tcp } => (false, pipeline.pass_time(entry.ts, tcp)),
            };
            let frame = entry.number;
            if let Want::Messages(prepare) = want {
                items.extend(prepared(messages, prepare).map(|message| Item {
                    frame,
                    own,
                    what: Learned::Message(message),
                }));
            }
            items.extend(pipeline.take_retired().into_iter().map(|summary| Item {
                frame,
                own,
                what: Learned::Retired(summary),
            }));
            items.extend(
                pipeline
                    .take_ended_streams()
                    .into_iter()
                    .map(|stream| Item {
                        frame,
                        own,
                        what: Learned::Ended(stream),
                    }),
            );
        }
        let _ = give_back.send(batch);
        if answer.send(Answer::Items { items, through }).is_err() {
            return;
        }
    }
    let messages = pipeline.finish();
    let _ = answer.send(match want {
        Want::Messages(prepare) => Answer::Finished {
            messages: prepared(messages, prepare).collect(),
            summaries: Vec::new(),
        },
        Want::Summaries => Answer::Finished {
            messages: Vec::new(),
            summaries: pipeline.summaries(),
        },
    });
}

/// One pipeline's answers as the merge goes through them.
#[derive(Default)]
struct Pending {
    items: VecDeque<Item>,
    /// Every item up to this frame has been received.
    through: u64,
    /// The capture's end was answered (or the pipeline stopped): its last
    /// messages and summaries.
    finished: Option<(Vec<Prepared>, Vec<StreamSummary>)>,
    /// The pipeline's stream numbers of the connections it holds -> the capture's.
    streams: HashMap<u32, u32, foldhash::fast::RandomState>,
}

/// Summaries waiting for every lower stream's, by the capture's stream
/// number (and arrival, so that none is lost).
type Summaries = BTreeMap<(u32, u64), StreamSummary>;

/// Hands `sink` the summaries of the streams below `below`, in order.
fn hand_out<E>(
    summaries: &mut Summaries,
    below: u32,
    sink: &mut dyn FnMut(Record<'_>) -> Result<(), E>,
) -> Result<(), E> {
    while let Some(entry) = summaries.first_entry() {
        if entry.key().0 >= below {
            break;
        }
        sink(Record::Summary(&entry.remove()))?;
    }
    Ok(())
}

/// Goes through the pipelines' answers in frame order, numbering streams as
/// one pipeline would and handing each message and summary to `sink`.
fn merge<E>(
    answers: Vec<Receiver<Answer>>,
    sink: &mut dyn FnMut(Record<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let mut pending: Vec<Pending> = answers.iter().map(|_| Pending::default()).collect();
    let mut next_stream = 0u32;
    let mut summaries = Summaries::new();
    let mut n_summaries = 0u64;
    let mut n_merged = 0usize;
    loop {
        n_merged = n_merged.wrapping_add(1);
        if n_merged.is_multiple_of(SUMMARIES_HELD) && !summaries.is_empty() {
            // Every stream below the lowest one still held (or yet to be
            // born) is final.
            let held = pending
                .iter()
                .flat_map(|p| p.streams.values())
                .copied()
                .min()
                .unwrap_or(u32::MAX)
                .min(next_stream);
            hand_out(&mut summaries, held, sink)?;
        }
        // The earliest item waiting, and whether every other pipeline is
        // known to have nothing earlier.
        let first = pending
            .iter()
            .enumerate()
            .filter_map(|(index, p)| p.items.front().map(|item| ((item.frame, item.own), index)))
            .min();
        if let Some(((frame, _), index)) = first {
            let safe = pending.iter().enumerate().all(|(other, p)| {
                other == index || !p.items.is_empty() || p.through >= frame || p.finished.is_some()
            });
            if safe {
                let Some(p) = pending.get_mut(index) else {
                    break;
                };
                let Some(item) = p.items.pop_front() else {
                    continue;
                };
                match item.what {
                    Learned::Born(local) => {
                        p.streams.insert(local, next_stream);
                        next_stream = next_stream.saturating_add(1);
                    }
                    Learned::Message(mut prepared) => {
                        let message = &mut prepared.message;
                        message.stream = p
                            .streams
                            .get(&message.stream)
                            .copied()
                            .unwrap_or(message.stream);
                        sink(Record::Message(&prepared))?;
                    }
                    Learned::Retired(mut summary) => {
                        summary.stream = p
                            .streams
                            .get(&summary.stream)
                            .copied()
                            .unwrap_or(summary.stream);
                        summaries.insert((summary.stream, n_summaries), summary);
                        n_summaries = n_summaries.wrapping_add(1);
                    }
                    Learned::Ended(local) => {
                        p.streams.remove(&local);
                    }
                }
                continue;
            }
        }
        // Wait for the pipeline that is furthest behind among those with
        // nothing waiting.
        let behind = pending
            .iter()
            .enumerate()
            .filter(|(_, p)| p.items.is_empty() && p.finished.is_none())
            .min_by_key(|(_, p)| p.through)
            .map(|(index, _)| index);
        let Some(index) = behind else {
            break;
        };
        let (Some(p), Some(answers)) = (pending.get_mut(index), answers.get(index)) else {
            break;
        };
        match answers.recv() {
            Ok(Answer::Items { items, through }) => {
                p.items.extend(items);
                p.through = through;
            }
            Ok(Answer::Finished {
                messages,
                summaries,
            }) => p.finished = Some((messages, summaries)),
            Err(_) => p.finished = Some((Vec::new(), Vec::new())),
        }
    }
    // The end of the capture: each pipeline's last messages come in its
    // stream order; together, in the capture's stream order.
    let mut last: Vec<Prepared> = Vec::new();
    for p in &mut pending {
        let (messages, held) = p.finished.take().unwrap_or_default();
        let number = |local: u32| p.streams.get(&local).copied().unwrap_or(local);
        for mut prepared in messages {
            prepared.message.stream = number(prepared.message.stream);
            last.push(prepared);
        }
        for mut summary in held {
            summary.stream = number(summary.stream);
            summaries.insert((summary.stream, n_summaries), summary);
            n_summaries = n_summaries.wrapping_add(1);
        }
    }
    last.sort_by_key(|prepared| prepared.message.stream);
    for message in &last {
        sink(Record::Message(message))?;
    }
    hand_out(&mut summaries, u32::MAX, sink)?;
    // Past u32::MAX itself (a number no capture reaches in practice).
    for summary in summaries.values() {
        sink(Record::Summary(summary))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::source::link_type;

    fn frame(data: &[u8]) -> RawFrame<'_> {
        RawFrame {
            number: FrameNumber(1),
            ts: Timestamp::default(),
            orig_len: data.len(),
            link_type: link_type::ETHERNET,
            data,
        }
    }

    fn tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let mut out = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .tcp(sport, dport, 1, 1000)
            .write(&mut out, b"data")
            .unwrap();
        out
    }

    #[test]
    fn both_directions_and_every_fragment_of_a_pair_go_to_one_pipeline() {
        for n in 2..6 {
            let mut used = std::collections::BTreeSet::new();
            for host in 1..40u8 {
                let there = tcp([10, 0, 0, host], [10, 9, 0, 1], 40000, 80);
                let back = tcp([10, 9, 0, 1], [10, 0, 0, host], 80, 40000);
                let other_port = tcp([10, 0, 0, host], [10, 9, 0, 1], 40001, 80);
                let (shard, is_tcp) = route(&frame(&there), n);
                assert!(is_tcp && shard < n);
                assert_eq!(route(&frame(&back), n), (shard, true));
                assert_eq!(route(&frame(&other_port), n).0, shard);
                // A later fragment (offset 8, no TCP header) of the same pair.
                let mut fragment = there.clone();
                fragment[20] = 0x00;
                fragment[21] = 0x01;
                assert_eq!(route(&frame(&fragment), n), (shard, false));
                used.insert(shard);
            }
            // The pairs of one subnet spread over every pipeline.
            assert_eq!(used.len(), n, "{n} pipelines");
        }
        // Without IP: the first pipeline, no TCP segment.
        assert_eq!(route(&frame(&[0u8; 10]), 3), (0, false));
    }

    #[test]
    fn routing_sees_the_tcp_segments_of_every_capture_as_the_full_decode() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let mut n_frames = 0;
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            let Ok(mut source) = crate::source::FileSource::open(&path) else {
                continue;
            };
            while let Ok(Some(frame)) = source.next_frame() {
                let full = crate::decode::decode_frame(&frame);
                let tcp = matches!(full.transport, Some(Transport::Tcp(_)));
                assert_eq!(
                    route(&frame, 2).1,
                    tcp,
                    "{} frame {}",
                    path.display(),
                    frame.number
                );
                n_frames += 1;
            }
        }
        assert!(n_frames > 1000, "{n_frames} frames");
    }

    #[test]
    fn shared_limits_are_divided_and_per_connection_ones_are_not() {
        let limits = Limits::default();
        let divided = limits.divided(3);
        assert_eq!(divided.tracker.max_streams, limits.tracker.max_streams / 3);
        assert_eq!(divided.max_buffered_total, limits.max_buffered_total / 3);
        assert_eq!(
            divided.defrag.max_datagrams_pending,
            limits.defrag.max_datagrams_pending / 3
        );
        assert_eq!(
            divided.defrag.max_bytes_pending,
            limits.defrag.max_bytes_pending / 3
        );
        assert_eq!(divided.tracker.reassembly, limits.tracker.reassembly);
        assert_eq!(divided.app, limits.app);
        let mut one = Limits::default();
        one.tracker.max_streams = 1;
        assert_eq!(one.divided(4).tracker.max_streams, 1);
        assert_eq!(limits.divided(1), limits);
    }

    /// A message named by its length, with a digest that says it too.
    fn message(stream: u32, len: u64) -> Prepared {
        Prepared {
            message: WsMessage {
                stream,
                len,
                ..WsMessage::sample()
            },
            digest: Some([u8::try_from(len).unwrap(); 32]),
        }
    }

    fn item(frame: u64, own: bool, what: Learned) -> Item {
        Item { frame, own, what }
    }

    fn finished(messages: Vec<Prepared>) -> Answer {
        Answer::Finished {
            messages,
            summaries: Vec::new(),
        }
    }

    fn summary(stream: u32, packets: u64) -> StreamSummary {
        let endpoint = WsMessage::sample().client;
        StreamSummary {
            stream,
            client: endpoint,
            server: endpoint,
            roles_guessed: false,
            final_state: String::new(),
            packets: [packets, 0],
            bytes: [0, 0],
            first_ts: Timestamp::default(),
            last_ts: Timestamp::default(),
            handshake_seen: true,
            completeness: 0,
            completeness_text: String::new(),
            initial_rtt_secs: None,
            protocol: "data",
            websocket_state: None,
            tunnel: None,
            flags: Vec::new(),
            evicted: None,
        }
    }

    /// The end of a pipeline that still held one connection.
    fn held(summary: StreamSummary) -> Answer {
        Answer::Finished {
            messages: Vec::new(),
            summaries: vec![summary],
        }
    }

    #[test]
    fn the_merge_numbers_summaries_and_orders_them_by_stream() {
        // Pipeline 0 holds the capture's streams 0 and 2 (its own 0 and 1),
        // pipeline 1 stream 1 (its own 0). Summaries are named by packets.
        let (to_merge_0, answers_0) = mpsc::sync_channel(8);
        let (to_merge_1, answers_1) = mpsc::sync_channel(8);
        to_merge_0
            .send(Answer::Items {
                items: vec![
                    item(1, true, Learned::Born(0)),
                    item(4, true, Learned::Born(1)),
                    // Let go before stream 1 ends: held until the end.
                    item(5, false, Learned::Retired(summary(1, 25))),
                    item(5, false, Learned::Ended(1)),
                ],
                through: 6,
            })
            .unwrap();
        to_merge_0.send(held(summary(0, 10))).unwrap();
        to_merge_1
            .send(Answer::Items {
                items: vec![item(2, true, Learned::Born(0))],
                through: 6,
            })
            .unwrap();
        to_merge_1.send(held(summary(0, 20))).unwrap();
        drop((to_merge_0, to_merge_1));
        let mut out = Vec::new();
        merge::<()>(vec![answers_0, answers_1], &mut |record| {
            if let Record::Summary(summary) = record {
                out.push((summary.stream, summary.packets[0]));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(out, [(0, 10), (1, 20), (2, 25)]);
    }

    #[test]
    fn the_merge_numbers_streams_and_orders_messages_as_one_pipeline() {
        // Pipeline 0 holds the connections born at frames 1 and 4, pipeline 1
        // the one born at frame 2 (the capture's streams 0, 2 and 1). Messages
        // are named by their length.
        let (to_merge_0, answers_0) = mpsc::sync_channel(8);
        let (to_merge_1, answers_1) = mpsc::sync_channel(8);
        let first = vec![
            item(1, true, Learned::Born(0)),
            item(1, true, Learned::Message(message(0, 10))),
            item(4, true, Learned::Born(1)),
            // Let go at frame 5, another pipeline's: before that frame's own.
            item(5, false, Learned::Message(message(0, 50))),
            item(5, false, Learned::Ended(0)),
        ];
        to_merge_0
            .send(Answer::Items {
                items: first,
                through: 5,
            })
            .unwrap();
        to_merge_0
            .send(Answer::Items {
                items: vec![item(7, true, Learned::Message(message(1, 70)))],
                through: 8,
            })
            .unwrap();
        to_merge_0.send(finished(vec![message(1, 91)])).unwrap();
        to_merge_1
            .send(Answer::Items {
                items: vec![
                    item(2, true, Learned::Born(0)),
                    item(3, true, Learned::Message(message(0, 30))),
                    item(5, true, Learned::Message(message(0, 51))),
                ],
                through: 6,
            })
            .unwrap();
        // Nothing until the end: the merge must wait for this answer before
        // it lets frame 7 go.
        to_merge_1
            .send(Answer::Items {
                items: vec![item(6, true, Learned::Message(message(0, 60)))],
                through: 8,
            })
            .unwrap();
        to_merge_1.send(finished(vec![message(0, 90)])).unwrap();
        drop((to_merge_0, to_merge_1));
        let mut out = Vec::new();
        merge::<()>(vec![answers_0, answers_1], &mut |record| {
            if let Record::Message(Prepared { message, digest }) = record {
                assert_eq!(digest.unwrap()[0], u8::try_from(message.len).unwrap());
                out.push((message.len, message.stream));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(
            out,
            [
                (10, 0),
                (30, 1),
                (50, 0),
                (51, 1),
                (60, 1),
                (70, 2),
                // The end: in the capture's stream order.
                (90, 1),
                (91, 2),
            ]
        );
    }

    #[test]
    fn a_failing_sink_stops_the_merge_with_its_error() {
        let (to_merge, answers) = mpsc::sync_channel(2);
        to_merge
            .send(Answer::Items {
                items: vec![
                    item(1, true, Learned::Born(0)),
                    item(1, true, Learned::Message(message(0, 1))),
                    item(2, true, Learned::Message(message(0, 2))),
                ],
                through: 2,
            })
            .unwrap();
        let mut seen = 0;
        let result = merge(vec![answers], &mut |_| {
            seen += 1;
            Err("closed")
        });
        assert_eq!((result, seen), (Err("closed"), 1));
    }
}
