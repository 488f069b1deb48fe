//! Runs the stages for each frame, keeping the state that spans frames.
//!
//! A [`Pipeline`] is fed frames in capture order. Decoding one frame is
//! stateless; what crosses frames (IPv4 fragments, TCP connections and their
//! byte streams) lives here, so every view gets the same answers.
//!
//! Memory is bounded by [`Limits`]: besides each stage's own limits, the
//! pipeline keeps the bytes every connection buffers (reassembly,
//! provenance, the application decoders) under `max_buffered_total` by
//! evicting the connection that buffers the most, and finishes the
//! application layer of every connection the tracker evicts: its unfinished
//! messages come out incomplete, its summary is kept, and an eviction a
//! limit forced is a problem of the frame that forced it.

use std::ops::Range;

use crate::application::conversation::{AppEvent, AppProtocol, Conversation, DirEvent};
use crate::application::delivery::{
    Limits as DeliveryLimits, Observed, Observer as DeliveryObserver,
};
use crate::application::handshake::Report;
use crate::application::http::{Event as HttpEvent, Head};
use crate::application::session::{Change, Session, WsState};
use crate::application::tls::{
    Event as TlsEvent, HandshakeMessage as TlsHandshake, Record as TlsRecord,
};
use crate::application::websocket::message::{Event as WsEvent, ProblemKind};
use crate::application::websocket::message::{Frame as WsFrame, Message as WsMessageEvent};
use crate::application::websocket::opcode::{Data, OpCode};
use crate::decode::defrag::{DefragKey, DefragOutcome, Defragmenter, Expired, Fragment};
use crate::decode::{
    decode_frame, decode_unchecked, DecodeProblem, Decoded, Net, TcpOption, Transport,
};
use crate::dissect::delivery::{ConnectionDelivery, Delivery, DeliveryReport};
use crate::dissect::{
    self, keys, AppPdu, AppPduKind, AppProblem, BuildConfig, Dissection, FrameContext, FrameNumber,
    PduBytes, Protocol, Severity, StreamSummary, TcpContext, Timestamp, TunnelContext,
    WebSocketContext, WsMessage,
};
use crate::flow::analysis::{Flag, SackBlock};
use crate::flow::reassembly::Chunk;
use crate::flow::seq::SeqNumber;
use crate::flow::table::Endpoint;
use crate::flow::tracker::{Connection, Evicted, Eviction, Step, TcpSegment, Tracker};
use crate::flow::Direction;
use crate::limits::Limits;
use crate::source::RawFrame;

pub mod shard;

/// What one frame's model shows at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLimits {
    /// Application PDUs (HTTP heads, WebSocket frames, TLS records) placed on one frame
    /// (default 1000); the rest are counted in a problem.
    pub max_pdus: usize,
    /// Problems of the stream decoders reported on one frame (default 1000); the rest are
    /// counted in a problem.
    pub max_problems: usize,
    /// Recent stream bytes kept per direction to show a PDU put together from several
    /// segments (default 1 MiB; up to twice that between trims).
    pub max_reassembled_len: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_pdus: 1000,
            max_problems: 1000,
            max_reassembled_len: 1 << 20,
        }
    }
}

/// The per-capture state and settings of the decoding pipeline.
#[derive(Debug)]
pub struct Pipeline {
    config: BuildConfig,
    limits: Limits,
    defrag: Defragmenter,
    tracker: Tracker,
    /// The application layer of each connection, by tracker slot.
    apps: Vec<App>,
    /// What each slot's connection buffers, as last measured.
    costs: Vec<usize>,
    /// The sum of `costs`.
    total_buffered: usize,
    /// Summaries of connections evicted and not yet taken.
    retired: Vec<StreamSummary>,
    /// Whether evicted connections' summaries are kept (not for views that never ask).
    keep_summaries: bool,
    /// From a first pass: frame -> later frames where its bytes were reassembled.
    reassembled_in: std::collections::HashMap<u64, Vec<FrameNumber>>,
    /// Delivered messages and their cost, when asked for ([`Pipeline::observing_delivery`]).
    delivery: Option<DeliveryObserver>,
    /// What the connections evicted so far delivered, when delivery is observed.
    retired_delivery: Vec<ConnectionDelivery>,
    /// The `tcp.stream` of every connection let go since last taken, when
    /// asked for ([`Pipeline::noting_ended_streams`]).
    ended_streams: Option<Vec<u32>>,
}

/// The application state of one connection, and bookkeeping for its messages.
#[derive(Debug, Default)]
struct App {
    conversation: Conversation,
    /// Per direction: where the oldest frame an unfinished message still
    /// needs starts, so provenance before it can be forgotten.
    message_start: [Option<u64>; 2],
    /// Per direction: problems of messages not yet finished (bounded).
    pending_problems: [Vec<(Option<u64>, String)>; 2],
    /// Per direction: the latest stream bytes, kept only while building the
    /// model, so PDUs spanning segments can be shown reassembled.
    tails: [Tail; 2],
    /// Per direction: an HTTP head whose message (body included) has not
    /// ended yet; like Wireshark, the message is shown where it ends.
    pending_heads: [Option<(Head, Option<Box<Report>>)>; 2],
    /// Per direction: TLS records whose bytes have not all arrived, and
    /// handshake messages waiting for the record they end in (bounded).
    tls_pending: [Vec<TlsRecord>; 2],
    tls_handshakes: [Vec<TlsHandshake>; 2],
    /// The WebSocket connection's state.
    session: Session,
    /// The TCP connection was seen to end (both FINs, or a RST).
    tcp_ended: bool,
    /// Both directions' FINs were delivered and the working memory was freed.
    released: bool,
}

impl App {
    fn new(limits: &Limits) -> App {
        let tail = Tail {
            max_len: limits.frame.max_reassembled_len,
            ..Tail::default()
        };
        App {
            conversation: Conversation::new(limits.app),
            tails: [tail.clone(), tail],
            ..App::default()
        }
    }

    /// Bytes this connection's application layer buffers.
    fn buffered_len(&self) -> usize {
        let tails = self
            .tails
            .iter()
            .map(|tail| tail.bytes.capacity())
            .fold(0, usize::saturating_add);
        self.conversation
            .buffered_len()
            .saturating_add(tails)
            .saturating_add(
                self.pending_heads
                    .iter()
                    .flatten()
                    .map(|(head, _)| head.buffered_len())
                    .fold(0, usize::saturating_add),
            )
    }

    /// Hands one stream chunk to the connection's decoders; keeps the bytes
    /// for showing reassembled PDUs when `keep_tail` is set.
    fn feed(&mut self, direction: Direction, chunk: &Chunk<'_>, keep_tail: bool) -> Vec<DirEvent> {
        match chunk {
            Chunk::Data {
                stream_offset,
                bytes,
                ..
            } => {
                if keep_tail {
                    if let Some(tail) = self.tails.get_mut(direction.index()) {
                        tail.push(*stream_offset, bytes);
                    }
                }
                self.conversation.feed(direction, *stream_offset, bytes)
            }
            Chunk::Gap { len, .. } => self.conversation.gap(direction, *len),
            Chunk::Fin { .. } => self.conversation.fin(direction),
        }
    }
}

/// The most recent bytes of one direction's stream (contiguous).
#[derive(Clone, Debug)]
struct Tail {
    start: u64,
    bytes: Vec<u8>,
    /// Bytes kept for showing reassembled PDUs ([`FrameLimits::max_reassembled_len`]).
    max_len: usize,
}

impl Default for Tail {
    fn default() -> Self {
        Tail {
            start: 0,
            bytes: Vec::new(),
            max_len: FrameLimits::default().max_reassembled_len,
        }
    }
}

impl Tail {
    fn push(&mut self, offset: u64, bytes: &[u8]) {
        if offset != self.start.saturating_add(self.bytes.len() as u64) {
            self.bytes.clear();
            self.start = offset;
        }
        // A chunk longer than what is kept only leaves its end.
        let skip = bytes.len().saturating_sub(self.max_len);
        if skip > 0 {
            self.bytes.clear();
            self.start = offset.saturating_add(skip as u64);
        }
        self.bytes
            .extend_from_slice(bytes.get(skip..).unwrap_or_default());
        if self.bytes.len() > self.max_len.saturating_mul(2) {
            let drop = self.bytes.len().saturating_sub(self.max_len);
            self.bytes.drain(..drop);
            self.start = self.start.saturating_add(drop as u64);
        }
    }

    fn get(&self, range: &std::ops::Range<u64>) -> Option<&[u8]> {
        let from = usize::try_from(range.start.checked_sub(self.start)?).ok()?;
        let to = usize::try_from(range.end.checked_sub(self.start)?).ok()?;
        self.bytes.get(from..to)
    }
}

/// The most TLS records or handshake messages held per direction while
/// their bytes arrive.
const MAX_TLS_PENDING: usize = 64;

/// The most problems kept per direction for messages still being assembled.
const MAX_PENDING_PROBLEMS: usize = 64;

/// The type of `run`'s finish when none is given.
type Finish<R> = for<'a> fn(&Decoded<'a>, &FrameContext) -> R;

/// What one frame produced.
#[derive(Debug, Default)]
pub struct FrameOutput {
    /// The layered model, when asked for.
    pub dissection: Option<Dissection>,
    /// WebSocket messages this frame finished.
    pub messages: Vec<WsMessage>,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new(BuildConfig::default())
    }
}

impl Pipeline {
    /// A pipeline with the default limits.
    pub fn new(config: BuildConfig) -> Pipeline {
        Pipeline::with_limits(config, Limits::default())
    }

    /// A pipeline that respects `limits`.
    pub fn with_limits(config: BuildConfig, limits: Limits) -> Pipeline {
        Pipeline {
            config,
            defrag: Defragmenter::new(limits.defrag.clone()),
            tracker: Tracker::new(limits.tracker),
            limits,
            apps: Vec::new(),
            costs: Vec::new(),
            total_buffered: 0,
            retired: Vec::new(),
            keep_summaries: true,
            reassembled_in: std::collections::HashMap::new(),
            delivery: None,
            retired_delivery: Vec::new(),
            ended_streams: None,
        }
    }

    /// Forgets the summaries of evicted connections, for a view that never
    /// asks for [`Pipeline::summaries`]: memory then follows the connections
    /// held, not every connection seen.
    pub fn without_summaries(mut self) -> Pipeline {
        self.keep_summaries = false;
        self
    }

    /// For a view that never builds a model ([`Pipeline::process`] without
    /// one): WebSocket data frames do not keep a copy of their payload, only
    /// the messages do.
    pub fn messages_only(mut self) -> Pipeline {
        self.limits.app.websocket.keep_data_frames = false;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Also watches for messages delivered to clients, for [`Pipeline::delivery`] (a little
    /// work per frame and per HTTP body or WebSocket message).
    pub fn observing_delivery(mut self) -> Pipeline {
        self.delivery = Some(DeliveryObserver::new(DeliveryLimits::default()));
        self
    }

    /// Notes the `tcp.stream` of every connection it lets go (evicted or
    /// lingered out), for [`Pipeline::take_ended_streams`]: a caller that
    /// maps stream numbers keeps the map to the connections held.
    pub fn noting_ended_streams(mut self) -> Pipeline {
        self.ended_streams = Some(Vec::new());
        self
    }

    /// The streams let go since the last call (see [`Pipeline::noting_ended_streams`]).
    pub fn take_ended_streams(&mut self) -> Vec<u32> {
        self.ended_streams
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The capture's clock passes a frame that is not this pipeline's (when
    /// a capture's connections are divided between pipelines, see
    /// [`shard`]): IPv4 fragments and, when it carries a TCP segment (`tcp`),
    /// finished connections expire as they would had the frame come here.
    /// Returns the messages that ends (of expired connections).
    pub fn pass_time(&mut self, ts: Timestamp, tcp: bool) -> Vec<WsMessage> {
        let _ = self.defrag.expire(defrag_micros(ts));
        if !tcp {
            return Vec::new();
        }
        let mut messages = Vec::new();
        for evicted in self.tracker.pass_time(ts) {
            messages.extend(self.retire(evicted).0);
        }
        messages
    }

    /// Numbers new TCP connections from `first` on, so that replaying one
    /// connection's frames alone gives it the `tcp.stream` a full pass gave.
    pub fn starting_at_stream(mut self, first: u32) -> Pipeline {
        self.tracker = std::mem::take(&mut self.tracker).starting_at_stream(first);
        self
    }

    /// Gives a second pass what the first learned: for each frame, the later
    /// frames where PDUs it carried bytes of were reassembled.
    pub fn with_reassembled_in(
        mut self,
        map: std::collections::HashMap<u64, Vec<FrameNumber>>,
    ) -> Pipeline {
        self.reassembled_in = map;
        self
    }

    /// What a first pass records from a dissection: the frames that
    /// contributed to its reassembled data sources, each mapped to this frame.
    pub fn note_reassembly(
        dissection: &Dissection,
        map: &mut std::collections::HashMap<u64, Vec<FrameNumber>>,
    ) {
        let here = dissection.frame.number;
        for source in dissection.sources.iter().skip(1) {
            for frame in source.frames.iter().filter(|frame| **frame != here) {
                let list = map.entry(frame.0).or_default();
                if !list.contains(&here) {
                    list.push(here);
                }
            }
        }
    }

    /// Decodes one frame into the layered model.
    pub fn dissect(&mut self, frame: &RawFrame<'_>) -> Dissection {
        let output = self.process(frame, true);
        match output.dissection {
            Some(dissection) => dissection,
            None => self.dissect_fallback(frame),
        }
    }

    fn dissect_fallback(&self, frame: &RawFrame<'_>) -> Dissection {
        dissect::build(
            frame,
            &decode_frame(frame),
            &FrameContext::default(),
            &self.config,
        )
    }

    /// Runs every stage for one frame; builds the model only when `model` is set.
    pub fn process(&mut self, frame: &RawFrame<'_>, model: bool) -> FrameOutput {
        if !model {
            return self.run(frame, false, None::<Finish<Dissection>>).1;
        }
        let config = self.config.clone();
        let (dissection, mut output) = self.run(
            frame,
            true,
            Some(|decoded: &Decoded<'_>, context: &FrameContext| {
                dissect::build(frame, decoded, context, &config)
            }),
        );
        output.dissection = dissection;
        output
    }

    /// Runs every stage for one frame and hands what the model is built from
    /// (the decoded headers and what the later stages learned) to `finish`
    /// instead of building the model: for callers that need a few facts of
    /// every frame (the packet list) and can build the model themselves for
    /// the frames where those facts are not enough.
    /// (`run` calls `finish` for every frame it is given one for, so the
    /// result is always there.)
    pub fn process_with<R>(
        &mut self,
        frame: &RawFrame<'_>,
        finish: impl FnOnce(&Decoded<'_>, &FrameContext) -> R,
    ) -> (Option<R>, Vec<WsMessage>) {
        let (result, output) = self.run(frame, true, Some(finish));
        (result, output.messages)
    }

    /// Runs every stage for one frame and keeps what later frames' models
    /// need (recent stream bytes, HTTP heads awaiting their end), without
    /// building this frame's model: the cheap way to replay the frames
    /// before the one a view asks for.
    pub fn advance(&mut self, frame: &RawFrame<'_>) -> Vec<WsMessage> {
        self.run(frame, true, None::<Finish<()>>).1.messages
    }

    /// `keep`: keep the state models need; `finish`: what to make of the
    /// frame's decoded headers and context (the model, usually), which are
    /// only gathered when it is given.
    fn run<R>(
        &mut self,
        frame: &RawFrame<'_>,
        keep: bool,
        finish: Option<impl FnOnce(&Decoded<'_>, &FrameContext) -> R>,
    ) -> (Option<R>, FrameOutput) {
        let model = finish.is_some();
        let mut finished = None;
        let datagram: Vec<u8>;
        // Without a model, a bad checksum would be found and never shown.
        let mut decoded = if model {
            decode_frame(frame)
        } else {
            decode_unchecked(frame)
        };
        if let Some((payload, frames)) = self.defragment(frame, &mut decoded) {
            datagram = payload;
            decoded.attach_reassembled(&datagram, frames);
        }
        let mut step = self.track(frame, &decoded);
        let mut output = FrameOutput::default();
        let mut app = Vec::new();
        let mut websocket = None;
        let mut app_problems = Vec::new();
        let mut tcp = None;
        let mut tunnel = None;
        let mut n_more_pdus = 0;
        let mut n_more_problems = 0;
        // Connections the tracker let go to place this segment end first: one of
        // them may have had this segment's slot.
        let evicted = step
            .as_mut()
            .map(|step| std::mem::take(&mut step.evicted))
            .unwrap_or_default();
        for evicted in evicted {
            let (messages, problem) = self.retire(evicted);
            output.messages.extend(messages);
            app_problems.extend(problem);
        }
        if let Some(step) = &step {
            if model {
                app_problems.extend(reassembly_problems(step));
            }
            let mut events = self.feed_application(step, keep);
            self.observe_delivery(step, frame, &events);
            // Without a model to build, the records can take the payloads.
            append(
                &mut output.messages,
                self.collect_messages(step.slot, &mut events, frame.ts, !keep),
            );
            let changes = self.follow_session(step.slot, frame.number.0, &events);
            if keep {
                (app, n_more_pdus) = self.app_pdus(
                    step.slot,
                    frame.number.0,
                    &events,
                    self.limits.frame.max_pdus,
                );
            }
            if model {
                let room = self
                    .limits
                    .frame
                    .max_problems
                    .saturating_sub(app_problems.len());
                let mut found = events.iter().filter_map(stream_problem);
                app_problems.extend(found.by_ref().take(room));
                n_more_problems += found.count();
                websocket = self.apps.get(step.slot).and_then(|app| {
                    let state = app.session.state();
                    (state != WsState::None).then(|| WebSocketContext {
                        state: state.to_string(),
                        changes: changes.iter().map(|change| change.why.clone()).collect(),
                    })
                });
                tunnel = self.tunnel_of(step, &decoded);
                tcp = self.tracker.connection(step.slot).map(|connection| {
                    let conversation = &connection.conversation;
                    TcpContext {
                        stream: step.stream,
                        direction: step.direction,
                        client: conversation.client,
                        server: conversation.server,
                        roles_guessed: conversation.roles_guessed,
                        class: step.outcome.class,
                        analysis: step.analysis,
                        state: step.state.after,
                        transitions: step.state.transitions().map(|t| t.explanation()).collect(),
                    }
                });
            }
            self.measure(step.slot);
            for evicted in self.keep_within_budget() {
                let (messages, problem) = self.retire(evicted);
                output.messages.extend(messages);
                app_problems.extend(problem);
            }
        }
        if model {
            let limits = self.limits.frame;
            if app_problems.len() > limits.max_problems {
                n_more_problems += app_problems.len() - limits.max_problems;
                app_problems.truncate(limits.max_problems);
            }
            if n_more_problems > 0 {
                let n_more = n_more_problems;
                app_problems.push(AppProblem {
                    protocol: Protocol::Tcp,
                    severity: Severity::Warning,
                    key: keys::tcp::PROBLEM_LIMIT,
                    message: format!(
                        "{n_more} more problems were found in this frame; only the first {} are listed (limit)",
                        limits.max_problems
                    ),
                });
            }
            if n_more_pdus > 0 {
                app_problems.push(AppProblem {
                    protocol: Protocol::Tcp,
                    severity: Severity::Warning,
                    key: keys::tcp::PDU_LIMIT,
                    message: format!(
                        "{n_more_pdus} more application PDUs ended in this frame; only the first {} are shown (limit)",
                        limits.max_pdus
                    ),
                });
            }
            let context = FrameContext {
                tunnel,
                app_problems,
                reassembled_in: self
                    .reassembled_in
                    .remove(&frame.number.0)
                    .unwrap_or_default(),
                app,
                websocket,
                tcp,
            };
            finished = finish.map(|finish| finish(&decoded, &context));
        }
        if let Some(step) = &step {
            self.release_ended(step.slot);
        }
        (finished, output)
    }

    /// Measures again what a connection buffers, for the total budget.
    fn measure(&mut self, slot: usize) {
        let cost = self
            .tracker
            .connection(slot)
            .map_or(0, Connection::buffered_len)
            .saturating_add(self.apps.get(slot).map_or(0, App::buffered_len));
        self.set_cost(slot, cost);
    }

    fn set_cost(&mut self, slot: usize, cost: usize) {
        while self.costs.len() <= slot {
            self.costs.push(0);
        }
        let Some(entry) = self.costs.get_mut(slot) else {
            return;
        };
        let old = std::mem::replace(entry, cost);
        self.total_buffered = self.total_buffered.saturating_sub(old).saturating_add(cost);
    }

    /// Evicts the connections that buffer the most until all of them together fit in
    /// `max_buffered_total`.
    fn keep_within_budget(&mut self) -> Vec<Evicted> {
        let limit = self.limits.max_buffered_total;
        let mut out = Vec::new();
        while self.total_buffered > limit {
            // A scan, only when over the budget: cheaper than keeping the
            // connections sorted by cost at every frame.
            let Some((slot, buffered)) = self
                .costs
                .iter()
                .copied()
                .enumerate()
                .filter(|(_, cost)| *cost > 0)
                .max_by_key(|&(slot, cost)| (cost, slot))
            else {
                break;
            };
            match self
                .tracker
                .evict(slot, Eviction::BufferLimit { limit, buffered })
            {
                Some(evicted) => out.push(evicted),
                None => self.set_cost(slot, 0),
            }
        }
        out
    }

    /// Ends the application layer of a connection the tracker let go: what its
    /// reassemblers still held is decoded, its decoders are finished, and its summary is
    /// kept. Returns the messages that ends and, when a limit forced the eviction, the
    /// problem to report.
    fn retire(&mut self, evicted: Evicted) -> (Vec<WsMessage>, Option<AppProblem>) {
        let Evicted {
            slot,
            reason,
            mut connection,
            chunks,
        } = evicted;
        self.set_cost(slot, 0);
        if let Some(ended) = self.ended_streams.as_mut() {
            ended.push(connection.conversation.index);
        }
        let mut app = self
            .apps
            .get_mut(slot)
            .map(std::mem::take)
            .unwrap_or_default();
        let mut events = Vec::new();
        for (direction, chunk) in &chunks {
            events.extend(app.feed(*direction, chunk, false));
        }
        events.extend(app.conversation.finish());
        let ts = connection.last_ts;
        if let Some(observer) = self.delivery.as_mut() {
            // The slot is reused: what the connection delivered is kept apart.
            let rtt_us = connection
                .analyzer()
                .initial_rtt()
                .map(|rtt| i64::try_from(rtt.as_micros()).unwrap_or(i64::MAX));
            let last = observer.last_frame(slot);
            observer.events(slot, last, micros(ts), rtt_us, &events);
            if let Some(seen) = observer.retire(slot) {
                self.retired_delivery
                    .extend(connection_delivery(&seen, &connection.conversation));
            }
        }
        let messages = collect_messages(&mut app, &mut connection, &mut events, ts, true);
        let conversation = &connection.conversation;
        let what = format!(
            "tcp.stream {} ({} → {})",
            conversation.index, conversation.client, conversation.server
        );
        let consequence = "what it held was given up as gaps and its unfinished messages end incomplete; later segments of it start a new stream";
        let why = match reason {
            Eviction::Finished => None,
            Eviction::StreamLimit { limit } => Some(format!(
                "{what} evicted: {limit} connections are held at most (--max-streams) and it was idle longest; {consequence}"
            )),
            Eviction::BufferLimit { limit, buffered } => Some(format!(
                "{what} evicted: all connections together buffered more than {limit} bytes (--max-buffered) and it buffered the most ({buffered} bytes); {consequence}"
            )),
        };
        if self.keep_summaries {
            let mut summary = summary_of(&connection, Some(&app));
            summary.evicted = why.clone();
            self.retired.push(summary);
        }
        let problem = why.map(|message| AppProblem {
            protocol: Protocol::Tcp,
            severity: Severity::Warning,
            key: keys::tcp::STREAM_EVICTED,
            message,
        });
        (messages, problem)
    }

    /// Frees the working memory of a connection whose two streams have ended (both FINs
    /// delivered): no stream byte can follow, so only what the summaries and the end of the
    /// capture need is kept. This keeps memory bounded by the open connections.
    fn release_ended(&mut self, slot: usize) {
        let ended = self.tracker.connection(slot).is_some_and(|connection| {
            [Direction::ClientToServer, Direction::ServerToClient]
                .into_iter()
                .all(|direction| {
                    connection
                        .reassembler(direction)
                        .is_some_and(|reassembler| reassembler.is_fin_delivered())
                })
        });
        let Some(app) = self.apps.get_mut(slot) else {
            return;
        };
        if !ended || app.released {
            return;
        }
        app.released = true;
        app.tails = Default::default();
        app.conversation.release_ended();
        if let Some(connection) = self.tracker.connection_mut(slot) {
            connection.release_maps();
        }
    }

    /// Counts a frame of a connection, and reads the messages its events
    /// delivered, when delivery is observed.
    fn observe_delivery(&mut self, step: &Step<'_>, frame: &RawFrame<'_>, events: &[DirEvent]) {
        let Some(observer) = self.delivery.as_mut() else {
            return;
        };
        let rtt_us = initial_rtt_us(&self.tracker, step.slot);
        let number = frame.number.0;
        let wire_len = u64::try_from(frame.orig_len).unwrap_or(u64::MAX);
        observer.frame(step.slot, step.stream, number, wire_len);
        observer.events(step.slot, number, micros(frame.ts), rtt_us, events);
    }

    /// The messages delivered to clients and what they cost, per connection
    /// and per technique; `None` unless built with
    /// [`Pipeline::observing_delivery`]. Call after [`Pipeline::finish`].
    pub fn delivery(&self) -> Option<DeliveryReport> {
        let observer = self.delivery.as_ref()?;
        let mut connections = self.retired_delivery.clone();
        for (slot, seen) in observer.observed().enumerate() {
            let Some(connection) = self.tracker.connection(slot) else {
                continue;
            };
            connections.extend(connection_delivery(seen, &connection.conversation));
        }
        connections.sort_by_key(|c| c.stream);
        Some(DeliveryReport::new(connections, observer.dropped()))
    }

    /// The `CONNECT` tunnel that a segment's payload travels in, if it does.
    fn tunnel_of(&self, step: &Step<'_>, decoded: &Decoded<'_>) -> Option<TunnelContext> {
        let Some(Transport::Tcp(tcp)) = &decoded.transport else {
            return None;
        };
        let tunnel = self.apps.get(step.slot)?.conversation.tunnel()?;
        let start = step.outcome.stream_offset?;
        let end = start.saturating_add(tcp.payload.len() as u64);
        if !tunnel.carries(step.direction, start..end) {
            return None;
        }
        let connection = self.tracker.connection(step.slot)?;
        Some(TunnelContext {
            target: tunnel.target.clone(),
            host_port: tunnel
                .host_port()
                .map(|(host, port)| (host.to_string(), port)),
            proxy: connection.conversation.server,
        })
    }

    /// Hands the stream chunks a segment released to its connection's
    /// application decoders.
    fn feed_application(&mut self, step: &Step<'_>, keep_tail: bool) -> Vec<DirEvent> {
        while self.apps.len() <= step.slot {
            self.apps.push(App::new(&self.limits));
        }
        let Some(app) = self.apps.get_mut(step.slot) else {
            return Vec::new();
        };
        if step.new {
            *app = App::new(&self.limits);
        }
        let mut events = Vec::new();
        for (direction, chunk) in &step.chunks {
            append(&mut events, app.feed(*direction, chunk, keep_tail));
        }
        events
    }

    /// Follows the WebSocket state of a connection through one frame's events
    /// and the TCP connection's end.
    fn follow_session(&mut self, slot: usize, frame: u64, events: &[DirEvent]) -> Vec<Change> {
        let ended = self.tracker.connection(slot).map(|connection| {
            let reset = connection.stats.iter().any(|side| side.rst);
            (connection.stats.iter().all(|side| side.fin) || reset, reset)
        });
        let Some(app) = self.apps.get_mut(slot) else {
            return Vec::new();
        };
        let mut changes = app.session.observe(frame, events);
        if let Some((true, reset)) = ended {
            if !app.tcp_ended {
                app.tcp_ended = true;
                changes.extend(app.session.tcp_ended(frame, reset));
            }
        }
        changes
    }

    /// The application PDUs that ended in this frame, with their bytes.
    /// At most `max` PDUs are made (WebSocket frames past it are only counted, so a
    /// segment of many tiny frames costs no copies); returns them and how many more ended.
    fn app_pdus(
        &mut self,
        slot: usize,
        frame: u64,
        events: &[DirEvent],
        max: usize,
    ) -> (Vec<AppPdu>, usize) {
        let mut n_more = 0;
        let (mut pending_heads, mut tls_pending, mut tls_handshakes) = match self.apps.get_mut(slot)
        {
            Some(app) => (
                std::mem::take(&mut app.pending_heads),
                std::mem::take(&mut app.tls_pending),
                std::mem::take(&mut app.tls_handshakes),
            ),
            None => return (Vec::new(), 0),
        };
        let (Some(app), Some(connection)) = (self.apps.get(slot), self.tracker.connection(slot))
        else {
            return (Vec::new(), 0);
        };
        let guessed = matches!(
            app.conversation.protocol(),
            AppProtocol::WebSocket { guessed: true }
        );
        let mut handshake: Option<Box<Report>> = None;
        for event in events {
            if let AppEvent::Handshake(report) = &event.event {
                handshake = Some(report.clone());
            }
        }
        let place = |direction: Direction, range: &Range<u64>| {
            let runs = connection
                .map(direction)
                .map(|map| map.runs_in(range.clone()))
                .unwrap_or_default();
            let whole = runs.iter().map(|run| run.len).sum::<u64>()
                == range.end.saturating_sub(range.start);
            match runs.as_slice() {
                [run] if whole && run.frame == frame => PduBytes::InFrame {
                    frame_offset: usize::try_from(run.frame_offset).unwrap_or(usize::MAX),
                },
                _ => match app
                    .tails
                    .get(direction.index())
                    .and_then(|tail| tail.get(range))
                {
                    Some(bytes) => {
                        let mut frames: Vec<FrameNumber> =
                            runs.iter().map(|run| FrameNumber(run.frame)).collect();
                        frames.dedup();
                        PduBytes::Reassembled {
                            bytes: bytes.to_vec(),
                            frames,
                        }
                    }
                    None => PduBytes::Unavailable,
                },
            }
        };
        let frame_pdu =
            |direction: Direction, ws_frame: WsFrame, message: Option<Box<WsMessageEvent>>| {
                let range = ws_frame.header_range.start..ws_frame.payload_range.end;
                AppPdu {
                    direction,
                    guessed,
                    bytes: place(direction, &range),
                    range,
                    kind: AppPduKind::WsFrame(Box::new(ws_frame), message),
                }
            };
        let mut pdus = Vec::new();
        // TLS: records are announced by their header and shown where they end.
        for event in events {
            let dir = event.direction.index();
            match &event.event {
                AppEvent::Tls(TlsEvent::Record(record)) => {
                    if let Some(list) = tls_pending
                        .get_mut(dir)
                        .filter(|list| list.len() < MAX_TLS_PENDING)
                    {
                        list.push(record.clone());
                    }
                }
                AppEvent::Tls(TlsEvent::Handshake(message)) => {
                    if let Some(list) = tls_handshakes
                        .get_mut(dir)
                        .filter(|list| list.len() < MAX_TLS_PENDING)
                    {
                        list.push(message.clone());
                    }
                }
                _ => {}
            }
        }
        for direction in [Direction::ClientToServer, Direction::ServerToClient] {
            let delivered = connection
                .reassembler(direction)
                .map_or(0, |r| r.next_offset());
            let (Some(records), Some(handshakes)) = (
                tls_pending.get_mut(direction.index()),
                tls_handshakes.get_mut(direction.index()),
            ) else {
                continue;
            };
            let ready: Vec<TlsRecord> = records
                .iter()
                .filter(|r| r.span.end() <= delivered)
                .cloned()
                .collect();
            records.retain(|r| r.span.end() > delivered);
            for record in ready {
                let (mine, rest): (Vec<TlsHandshake>, Vec<TlsHandshake>) = handshakes
                    .drain(..)
                    .partition(|m| m.span.end() <= record.span.end());
                *handshakes = rest;
                let range = record.span.start()..record.span.end();
                pdus.push(AppPdu {
                    direction,
                    guessed: false,
                    bytes: place(direction, &range),
                    range,
                    kind: AppPduKind::TlsRecord(Box::new(record), mine),
                });
            }
        }
        // A frame's event comes before the event of the message it ends.
        let mut last_frame: Option<(Direction, WsFrame)> = None;
        for event in events {
            match &event.event {
                AppEvent::Http(HttpEvent::Head(head)) => {
                    let report = if head.status().is_some() {
                        handshake.take()
                    } else {
                        None
                    };
                    if let Some(slot) = pending_heads.get_mut(event.direction.index()) {
                        *slot = Some((head.clone(), report));
                    }
                }
                AppEvent::Http(HttpEvent::Sse(sse)) => {
                    let range = sse.span.start()..sse.span.end();
                    pdus.push(AppPdu {
                        direction: event.direction,
                        guessed: false,
                        bytes: place(event.direction, &range),
                        range,
                        kind: AppPduKind::SseEvent(Box::new(sse.clone())),
                    });
                }
                AppEvent::Http(
                    HttpEvent::MessageEnd { .. } | HttpEvent::SwitchedProtocols { .. },
                )
                | AppEvent::Http(HttpEvent::AwaitingSwitch { .. }) => {
                    let pending = pending_heads
                        .get_mut(event.direction.index())
                        .and_then(Option::take);
                    if let Some((head, report)) = pending {
                        let range = head.span.start()..head.span.end();
                        pdus.push(AppPdu {
                            direction: event.direction,
                            guessed: false,
                            bytes: place(event.direction, &range),
                            range,
                            kind: AppPduKind::HttpHead(Box::new(head), report),
                        });
                    }
                }
                AppEvent::WebSocket(WsEvent::Frame(ws_frame)) => {
                    if let Some((direction, previous)) = last_frame.take() {
                        pdus.push(frame_pdu(direction, previous, None));
                    }
                    if pdus.len() < max {
                        last_frame = Some((event.direction, ws_frame.clone()));
                    } else {
                        n_more += 1;
                    }
                }
                AppEvent::WebSocket(WsEvent::Message(message)) => match last_frame.take() {
                    Some((direction, ws_frame))
                        if direction == event.direction
                            && ws_frame.message_index == Some(message.index) =>
                    {
                        pdus.push(frame_pdu(
                            direction,
                            ws_frame,
                            Some(Box::new(message_preview(message))),
                        ));
                    }
                    other => last_frame = other,
                },
                _ => {}
            }
        }
        if let Some((direction, ws_frame)) = last_frame {
            pdus.push(frame_pdu(direction, ws_frame, None));
        }
        if let Some(app) = self.apps.get_mut(slot) {
            app.pending_heads = pending_heads;
            app.tls_pending = tls_pending;
            app.tls_handshakes = tls_handshakes;
        }
        if pdus.len() > max {
            n_more += pdus.len() - max;
            pdus.truncate(max);
        }
        (pdus, n_more)
    }

    /// Turns finished WebSocket messages into records, and forgets
    /// provenance no unfinished message needs.
    fn collect_messages(
        &mut self,
        slot: usize,
        events: &mut [DirEvent],
        ts: Timestamp,
        take_payloads: bool,
    ) -> Vec<WsMessage> {
        match (self.apps.get_mut(slot), self.tracker.connection_mut(slot)) {
            (Some(app), Some(connection)) => {
                collect_messages(app, connection, events, ts, take_payloads)
            }
            _ => Vec::new(),
        }
    }

    /// The connection tracker, for summaries of every TCP connection.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// Ends the capture: what reassembly still holds is released and the
    /// application decoders are finished; returns the messages that ends,
    /// connection by connection in stream order.
    pub fn finish(&mut self) -> Vec<WsMessage> {
        let _ = self.defrag.finish();
        let chunks = self.tracker.finish();
        let mut per_slot: Vec<Vec<DirEvent>> = Vec::new();
        for (slot, direction, chunk) in &chunks {
            while self.apps.len() <= *slot {
                self.apps.push(App::new(&self.limits));
            }
            while per_slot.len() <= *slot {
                per_slot.push(Vec::new());
            }
            let (Some(app), Some(events)) = (self.apps.get_mut(*slot), per_slot.get_mut(*slot))
            else {
                continue;
            };
            events.extend(app.feed(*direction, chunk, false));
        }
        let mut slots: Vec<(u32, usize)> = self
            .tracker
            .connections()
            .map(|(slot, connection)| (connection.conversation.index, slot))
            .collect();
        slots.sort_unstable();
        let mut messages = Vec::new();
        for (_, slot) in slots {
            let mut events = per_slot
                .get_mut(slot)
                .map(std::mem::take)
                .unwrap_or_default();
            if let Some(app) = self.apps.get_mut(slot) {
                events.extend(app.conversation.finish());
            }
            let ts = self
                .tracker
                .connection(slot)
                .map(|c| c.last_ts)
                .unwrap_or_default();
            let rtt_us = initial_rtt_us(&self.tracker, slot);
            if let Some(observer) = self.delivery.as_mut() {
                let last = observer.last_frame(slot);
                observer.events(slot, last, micros(ts), rtt_us, &events);
            }
            messages.extend(self.collect_messages(slot, &mut events, ts, true));
        }
        messages
    }

    /// A summary of every TCP connection seen so far (those evicted and not
    /// taken with [`Pipeline::take_retired`], and those held), in stream order.
    pub fn summaries(&self) -> Vec<StreamSummary> {
        let mut out = self.retired.clone();
        out.extend(
            self.tracker
                .connections()
                .map(|(slot, connection)| summary_of(connection, self.apps.get(slot))),
        );
        out.sort_by_key(|summary| summary.stream);
        out
    }

    /// Takes the summaries of the connections evicted so far, so a caller
    /// that prints them as they come needs no memory for them.
    pub fn take_retired(&mut self) -> Vec<StreamSummary> {
        std::mem::take(&mut self.retired)
    }

    /// The lowest stream index of a connection still held: every summary
    /// below it is final.
    pub fn lowest_held_stream(&self) -> Option<u32> {
        self.tracker
            .connections()
            .map(|(_, connection)| connection.conversation.index)
            .min()
    }

    /// The application protocol of a connection, by tracker slot.
    pub fn app_protocol(&self, slot: usize) -> AppProtocol {
        self.apps
            .get(slot)
            .map_or(AppProtocol::Unknown, |app| app.conversation.protocol())
    }

    /// Feeds an IPv4 fragment to the defragmenter; returns the datagram's
    /// payload and frames when this fragment completes it.
    fn defragment(
        &mut self,
        frame: &RawFrame<'_>,
        decoded: &mut Decoded<'_>,
    ) -> Option<(Vec<u8>, Vec<u64>)> {
        let ts_micros = defrag_micros(frame.ts);
        for expired in self.defrag.expire(ts_micros) {
            report_expired(decoded, &expired);
        }
        let Some(Net::Ipv4(ip)) = &decoded.net else {
            return None;
        };
        if !ip.is_fragment() {
            return None;
        }
        let header = ip.header;
        let payload = decoded
            .data
            .get(ip.payload.start..ip.payload.end)
            .unwrap_or(&[]);
        let pushed = self.defrag.push(Fragment {
            key: DefragKey {
                src: header.source_addr(),
                dst: header.destination_addr(),
                protocol: header.protocol().0,
                identification: header.identification(),
            },
            frag_offset: u32::from(header.fragments_offset().value()) * 8,
            more_fragments: header.more_fragments(),
            payload,
            frame: frame.number.0,
            frame_offset: u32::try_from(ip.payload.start).unwrap_or(u32::MAX),
            ts_micros,
        });
        for expired in &pushed.evicted {
            report_expired(decoded, expired);
        }
        if let Some(problem) = pushed
            .overlap
            .as_ref()
            .and_then(|overlap| overlap.problem())
        {
            decoded.problems.push(DecodeProblem {
                protocol: Protocol::Ipv4,
                severity: Severity::Warning,
                key: "ip.fragment.overlap.conflict",
                message: problem.to_string(),
                span: Some(ip_payload_span(decoded)),
            });
        }
        match pushed.outcome {
            DefragOutcome::Held { .. } => None,
            DefragOutcome::Complete(datagram) => {
                let frames = datagram.frames().to_vec();
                Some((datagram.into_payload(), frames))
            }
            DefragOutcome::Problem { problem, .. } => {
                decoded.problems.push(DecodeProblem {
                    protocol: Protocol::Ipv4,
                    severity: Severity::Error,
                    key: "ip.fragment.error",
                    message: problem.to_string(),
                    span: None,
                });
                None
            }
        }
    }

    /// Places a TCP segment in its connection and reassembles its stream.
    fn track<'a>(&mut self, frame: &RawFrame<'_>, decoded: &Decoded<'a>) -> Option<Step<'a>> {
        let Some(Transport::Tcp(tcp)) = &decoded.transport else {
            return None;
        };
        let (src, dst) = decoded.ip_addresses()?;
        let bytes = if tcp.source == 0 {
            decoded.data
        } else {
            decoded.reassembled.as_ref().map_or(&[][..], |r| r.bytes)
        };
        let payload = bytes.get(tcp.payload.start..tcp.payload.end).unwrap_or(&[]);
        let header = &tcp.header;
        let wire_len = match &decoded.net {
            Some(Net::Ipv4(ip)) if tcp.source == 0 && ip.header.total_len() != 0 => {
                usize::from(ip.header.total_len())
                    .saturating_sub(ip.header.slice().len() + header.slice().len())
            }
            _ => payload.len(),
        };
        self.tracker.segment(&TcpSegment {
            frame: frame.number.0,
            ts: frame.ts,
            src: Endpoint {
                addr: src,
                port: header.source_port(),
            },
            dst: Endpoint {
                addr: dst,
                port: header.destination_port(),
            },
            seq: SeqNumber(header.sequence_number()),
            ack: SeqNumber(header.acknowledgment_number()),
            syn: header.syn(),
            ack_flag: header.ack(),
            fin: header.fin(),
            rst: header.rst(),
            flags: tcp.flags(),
            window: header.window_size(),
            window_scale: tcp.options.iter().find_map(|option| match option {
                TcpOption::WindowScale { shift, .. } => Some(*shift),
                _ => None,
            }),
            mss: tcp.options.iter().find_map(|option| match option {
                TcpOption::Mss { value, .. } => Some(*value),
                _ => None,
            }),
            sack: tcp.options.iter().find_map(|option| match option {
                TcpOption::Sack { blocks, .. } => Some(
                    blocks
                        .iter()
                        .map(|&(left, right)| SackBlock {
                            left: SeqNumber(left),
                            right: SeqNumber(right),
                        })
                        .collect(),
                ),
                _ => None,
            }),
            payload,
            wire_len: wire_len.max(payload.len()),
            payload_offset: if tcp.source == 0 {
                u32::try_from(tcp.payload.start).unwrap_or(u32::MAX)
            } else {
                0
            },
        })
    }
}

/// Turns a connection's finished WebSocket messages into records, and forgets
/// provenance no unfinished message needs. With `take_payloads` the records
/// take the messages' payloads instead of copying them.
fn collect_messages(
    app: &mut App,
    connection: &mut Connection,
    events: &mut [DirEvent],
    ts: Timestamp,
    take_payloads: bool,
) -> Vec<WsMessage> {
    let mut out = Vec::new();
    let guessed = matches!(
        app.conversation.protocol(),
        AppProtocol::WebSocket { guessed: true }
    );
    let tunnel = app
        .conversation
        .tunnel()
        .map(|tunnel| tunnel.target.clone());
    for event in events {
        let dir = event.direction.index();
        let AppEvent::WebSocket(ws) = &mut event.event else {
            continue;
        };
        match ws {
            WsEvent::FrameStart(start) => {
                let data = matches!(start.header.opcode, OpCode::Data(_));
                if let Some(pin) = app.message_start.get_mut(dir) {
                    if data && pin.is_none() && start.header.opcode != OpCode::Data(Data::Continue)
                    {
                        *pin = Some(start.header_range.start);
                    }
                    if pin.is_none() {
                        if let Some(map) = connection.map_mut(event.direction) {
                            map.prune_before(start.header_range.start);
                        }
                    }
                }
            }
            WsEvent::Problem(problem) => {
                if let Some(list) = app.pending_problems.get_mut(dir) {
                    if list.len() < MAX_PENDING_PROBLEMS {
                        list.push((problem.message_index, problem.kind.to_string()));
                    }
                }
            }
            WsEvent::Message(message) => {
                let control = message.opcode.is_control();
                let map = connection.map(event.direction);
                let mut frames: Vec<u64> = Vec::new();
                for frame in &message.frames {
                    if let Some(map) = map {
                        map.extend_frames_in(
                            frame.header_range.start..frame.payload_range.end,
                            &mut frames,
                        );
                    }
                }
                frames.sort_unstable();
                frames.dedup();
                let problems: Vec<String> = app
                    .pending_problems
                    .get_mut(dir)
                    .map(|list| {
                        let (mine, rest): (Vec<_>, Vec<_>) = list
                            .drain(..)
                            .partition(|(index, _)| *index == Some(message.index));
                        *list = rest;
                        mine.into_iter().map(|(_, text)| text).collect()
                    })
                    .unwrap_or_default();
                let close = message.close.as_ref();
                // Uncompressed, the announced frame lengths give the
                // message's length even where bytes were not captured.
                let announced: u64 = message
                    .frames
                    .iter()
                    .map(|frame| {
                        frame
                            .payload_range
                            .end
                            .saturating_sub(frame.payload_range.start)
                    })
                    .sum();
                let len = if message.complete || message.compressed {
                    message.len
                } else {
                    announced.max(message.len)
                };
                let mut problems = problems;
                if !message.complete {
                    problems.push(format!(
                        "incomplete: {} of {} payload bytes were captured",
                        message.payload.len(),
                        len
                    ));
                }
                out.push(WsMessage {
                    stream: connection.conversation.index,
                    client: connection.conversation.client,
                    server: connection.conversation.server,
                    direction: event.direction,
                    opcode: message.opcode.name(),
                    ts,
                    len,
                    payload: if take_payloads {
                        std::mem::take(&mut message.payload)
                    } else {
                        message.payload.clone()
                    },
                    payload_complete: message.payload_complete,
                    frames: frames.into_iter().map(FrameNumber).collect(),
                    compressed: message.compressed,
                    close_code: close.and_then(|body| body.code).map(|code| code.0),
                    close_reason: close
                        .filter(|body| body.code.is_some())
                        .map(|body| body.reason_lossy().into_owned()),
                    complete: message.complete,
                    problems,
                    guessed,
                    tunnel: tunnel.clone(),
                });
                if !control {
                    if let Some(pin) = app.message_start.get_mut(dir) {
                        *pin = None;
                    }
                }
            }
            WsEvent::Frame(_) => {}
        }
    }
    out
}

/// Appends `more` to `list`, taking `more`'s room when `list` is empty (a
/// frame's events and messages usually come from one place).
fn append<T>(list: &mut Vec<T>, more: Vec<T>) {
    if list.is_empty() {
        *list = more;
    } else {
        list.extend(more);
    }
}

/// Payload bytes of a message kept in the frame's model, which shows a preview only.
const MODEL_MESSAGE_PREVIEW_LEN: usize = 1024;

/// A copy of a message for the model, its payload cut to a preview.
fn message_preview(message: &WsMessageEvent) -> WsMessageEvent {
    let payload = message
        .payload
        .get(..MODEL_MESSAGE_PREVIEW_LEN)
        .unwrap_or(&message.payload)
        .to_vec();
    WsMessageEvent {
        index: message.index,
        opcode: message.opcode,
        compressed: message.compressed,
        frames: message.frames.clone(),
        n_frames: message.n_frames,
        stream_range: message.stream_range.clone(),
        wire_len: message.wire_len,
        len: message.len,
        payload_complete: message.payload_complete && payload.len() == message.payload.len(),
        payload,
        complete: message.complete,
        text_valid: message.text_valid,
        close: message.close.clone(),
    }
}

/// The `osiscope streams` record of a connection.
fn summary_of(connection: &Connection, app: Option<&App>) -> StreamSummary {
    let conversation = &connection.conversation;
    let analyzer = connection.analyzer();
    let completeness = analyzer.completeness();
    StreamSummary {
        stream: conversation.index,
        client: conversation.client,
        server: conversation.server,
        roles_guessed: conversation.roles_guessed,
        final_state: connection.state().to_string(),
        packets: connection.stats.map(|side| side.n_packets),
        bytes: connection.stats.map(|side| side.n_bytes),
        first_ts: conversation.first_ts,
        last_ts: connection.last_ts,
        handshake_seen: connection.handshake_seen(),
        completeness: completeness.0,
        completeness_text: completeness.to_string(),
        initial_rtt_secs: analyzer.initial_rtt().map(|rtt| rtt.as_secs_f64()),
        protocol: app
            .map_or(AppProtocol::Unknown, |app| app.conversation.protocol())
            .name(),
        websocket_state: app
            .map(|app| app.session.state())
            .filter(|state| *state != WsState::None)
            .map(|state| state.to_string()),
        tunnel: app
            .and_then(|app| app.conversation.tunnel())
            .map(|tunnel| tunnel.target.clone()),
        flags: Flag::ALL
            .iter()
            .zip(connection.flag_counts)
            .filter(|(flag, count)| *count > 0 && flag.is_analysis())
            .map(|(flag, count)| (flag.key(), count))
            .collect(),
        evicted: None,
    }
}

/// What a connection delivered, as the report shows it; `None` when it delivered nothing.
fn connection_delivery(
    seen: &Observed,
    conversation: &crate::flow::table::Conversation,
) -> Option<ConnectionDelivery> {
    Some(ConnectionDelivery {
        stream: seen.stream,
        client: conversation.client,
        server: conversation.server,
        technique: seen.technique()?,
        frames: seen.frames,
        bytes: seen.bytes,
        first_frame: FrameNumber(seen.first_frame),
        last_frame: FrameNumber(seen.last_frame),
        requests: seen.requests,
        responses: seen.responses,
        head_bytes: seen.head_bytes,
        held_responses: seen.held_responses,
        timed_responses: seen.timed_responses,
        max_hold_us: seen.max_hold_us,
        empty_responses: seen.empty_responses,
        messages: seen
            .messages
            .iter()
            .map(|m| Delivery {
                seq: m.stamp.seq,
                sent_us: m.stamp.sent_us,
                stream: seen.stream,
                frame: FrameNumber(m.frame),
                ts: timestamp(m.at_us),
                delay_us: m.at_us.saturating_sub(m.stamp.sent_us),
            })
            .collect(),
    })
}

/// A connection's initial round-trip time in microseconds, once known.
fn initial_rtt_us(tracker: &Tracker, slot: usize) -> Option<i64> {
    let rtt = tracker.connection(slot)?.analyzer().initial_rtt()?;
    Some(i64::try_from(rtt.as_micros()).unwrap_or(i64::MAX))
}

/// A frame's time as the defragmenter counts it (microseconds, 0 before 1970).
fn defrag_micros(ts: Timestamp) -> u64 {
    u64::try_from(ts.secs)
        .unwrap_or(0)
        .saturating_mul(1_000_000)
        .saturating_add(u64::from(ts.nanos / 1000))
}

/// A capture time in microseconds since the Unix epoch.
fn micros(ts: Timestamp) -> i64 {
    ts.secs
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(ts.nanos / 1000))
}

/// Microseconds since the Unix epoch as a capture time.
fn timestamp(micros: i64) -> Timestamp {
    Timestamp {
        secs: micros.div_euclid(1_000_000),
        nanos: u32::try_from(micros.rem_euclid(1_000_000).saturating_mul(1000)).unwrap_or(0),
    }
}

/// Reassembly trouble on a segment, as problems of its frame.
fn reassembly_problems(step: &Step<'_>) -> Vec<AppProblem> {
    let mut out = Vec::new();
    if let Some(limit) = &step.outcome.limit {
        out.push(AppProblem {
            protocol: Protocol::Tcp,
            severity: Severity::Warning,
            key: keys::tcp::REASSEMBLY_LIMIT,
            message: format!(
                "reassembly limit reached ({limit}): {} bytes given up as a gap",
                step.outcome.n_gap
            ),
        });
    }
    if step.outcome.n_conflicting > 0 {
        out.push(AppProblem {
            protocol: Protocol::Tcp,
            severity: Severity::Warning,
            key: keys::tcp::CONFLICTING_OVERLAP,
            message: format!(
                "{} bytes overlap earlier copies with different content; the first copy is kept",
                step.outcome.n_conflicting
            ),
        });
    }
    out
}

/// A problem an application decoder reported, as a problem of the frame.
fn stream_problem(event: &DirEvent) -> Option<AppProblem> {
    match &event.event {
        AppEvent::WebSocket(WsEvent::Problem(problem)) => {
            let (severity, key) = match &problem.kind {
                ProblemKind::Violation(_) => (Severity::Error, keys::websocket::VIOLATION),
                ProblemKind::Limit(_) => (Severity::Warning, keys::websocket::LIMIT),
                ProblemKind::Stream(_) => (Severity::Warning, keys::websocket::STREAM),
            };
            let section = problem.kind.section();
            let rule = if section.is_empty() {
                problem.kind.rule().to_string()
            } else {
                format!("{}, {section}", problem.kind.rule())
            };
            Some(AppProblem {
                protocol: Protocol::WebSocket,
                severity,
                key,
                message: format!("{} ({rule})", problem.kind),
            })
        }
        AppEvent::Http(HttpEvent::Problem(problem)) => Some(AppProblem {
            protocol: Protocol::Http,
            severity: Severity::Warning,
            key: keys::http::PROBLEM,
            message: problem.error.to_string(),
        }),
        AppEvent::HoldOverflow { limit, dropped } => Some(AppProblem {
            protocol: Protocol::WebSocket,
            severity: Severity::Warning,
            key: keys::websocket::LIMIT,
            message: format!(
                "the client sent more than {limit} bytes after its Upgrade request before the server answered; {dropped} bytes were not kept and are a gap in the WebSocket stream (limit)"
            ),
        }),
        AppEvent::Guessed { compressed: true } => Some(AppProblem {
            protocol: Protocol::WebSocket,
            severity: Severity::Note,
            key: keys::websocket::GUESSED,
            message: "RSV1 is set: permessage-deflate was in use, but its negotiation was not captured; default parameters are assumed".to_string(),
        }),
        _ => None,
    }
}

fn ip_payload_span(decoded: &Decoded<'_>) -> crate::dissect::Span {
    match &decoded.net {
        Some(Net::Ipv4(ip)) => ip.payload,
        _ => crate::dissect::Span::default(),
    }
}

/// Says on the current frame that a datagram was given up.
fn report_expired(decoded: &mut Decoded<'_>, expired: &Expired) {
    let frames: Vec<String> = expired.frames.iter().map(|f| format!("#{f}")).collect();
    decoded.problems.push(DecodeProblem {
        protocol: Protocol::Ipv4,
        severity: Severity::Warning,
        key: "ip.fragment.incomplete",
        message: format!(
            "IPv4 datagram 0x{:04x} from {} to {} never completed ({:?}); fragments in frames {}, {} bytes received",
            expired.key.identification,
            expired.key.src,
            expired.key.dst,
            expired.reason,
            frames.join(", "),
            expired.bytes_received
        ),
        span: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::FieldValue;
    use crate::source::link_type;

    const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    /// An unmasked text frame "Hello": fine from a server, a violation from a client.
    const UNMASKED_HELLO: &[u8] = &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o'];

    /// Builds an Ethernet/IPv4/TCP frame; `client` chooses the direction.
    fn segment(client: bool, seq: u32, ack: u32, syn: bool, payload: &[u8]) -> Vec<u8> {
        let (src, dst, sport, dport) = if client {
            ([10, 0, 0, 1], [10, 0, 0, 2], 40000, 80)
        } else {
            ([10, 0, 0, 2], [10, 0, 0, 1], 80, 40000)
        };
        let mut builder =
            etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4(src, dst, 64)
                .tcp(sport, dport, seq, 65535);
        if syn {
            builder = builder.syn();
        }
        if !(syn && client) {
            builder = builder.ack(ack);
        }
        let mut out = Vec::new();
        builder.write(&mut out, payload).unwrap();
        out
    }

    fn run(frames: &[Vec<u8>]) -> Vec<Dissection> {
        run_with(&mut Pipeline::default(), frames)
    }

    fn run_with(pipeline: &mut Pipeline, frames: &[Vec<u8>]) -> Vec<Dissection> {
        frames
            .iter()
            .enumerate()
            .map(|(index, data)| {
                pipeline.dissect(&RawFrame {
                    number: FrameNumber(index as u64 + 1),
                    ts: Timestamp {
                        secs: 1,
                        nanos: index as u32 * 1000,
                    },
                    orig_len: data.len(),
                    link_type: link_type::ETHERNET,
                    data,
                })
            })
            .collect()
    }

    /// A SYN from 10.0.0.1 on `port` to 10.0.0.2:80.
    fn syn_from(port: u16) -> Vec<u8> {
        let mut out = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(port, 80, 1, 65535)
            .syn()
            .write(&mut out, &[])
            .unwrap();
        out
    }

    fn problems<'a>(dissection: &'a Dissection, key: &str) -> Vec<&'a str> {
        dissection
            .problems
            .iter()
            .filter(|problem| problem.key == key)
            .map(|problem| problem.message.as_str())
            .collect()
    }

    /// The handshake of the test connection, then the server's `payload`.
    fn websocket_then_server(payload: &[u8]) -> Vec<Vec<u8>> {
        let (c, s) = (1000u32, 5000u32);
        let req_end = c + 1 + REQUEST.len() as u32;
        let resp_end = s + 1 + RESPONSE.len() as u32;
        vec![
            segment(true, c, 0, true, &[]),
            segment(false, s, c + 1, true, &[]),
            segment(true, c + 1, s + 1, false, REQUEST),
            segment(false, s + 1, req_end, false, RESPONSE),
            segment(false, resp_end, req_end, false, payload),
        ]
    }

    /// The server's RST after the test connection's frames.
    fn server_reset(seq: u32, ack: u32) -> Vec<u8> {
        let mut out = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
            .ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64)
            .tcp(80, 40000, seq, 0)
            .rst()
            .ack(ack)
            .write(&mut out, &[])
            .unwrap();
        out
    }

    #[test]
    fn passing_time_lets_a_finished_connection_go_as_a_segment_would() {
        // A message cut by the server's reset: it ends (incomplete) when the
        // connection is let go, a linger time after the reset.
        let mut frames = websocket_then_server(&[0x81, 0x05, b'H', b'e']);
        let resp_end = 5000 + 1 + RESPONSE.len() as u32;
        let req_end = 1000 + 1 + REQUEST.len() as u32;
        frames.push(server_reset(resp_end + 4, req_end));
        let mut pipeline = Pipeline::default().messages_only().noting_ended_streams();
        for (index, data) in frames.iter().enumerate() {
            let output = pipeline.process(
                &RawFrame {
                    number: FrameNumber(index as u64 + 1),
                    ts: Timestamp { secs: 1, nanos: 0 },
                    orig_len: data.len(),
                    link_type: link_type::ETHERNET,
                    data,
                },
                false,
            );
            assert!(output.messages.is_empty(), "frame {}", index + 1);
        }
        let at = |secs| Timestamp { secs, nanos: 0 };
        // Within the linger time, or a frame without a TCP segment: nothing.
        assert!(pipeline.pass_time(at(60), true).is_empty());
        assert!(pipeline.pass_time(at(62), false).is_empty());
        assert!(pipeline.take_ended_streams().is_empty());
        let messages = pipeline.pass_time(at(62), true);
        assert_eq!(messages.len(), 1);
        assert_eq!((messages[0].stream, messages[0].complete), (0, false));
        assert_eq!(pipeline.take_ended_streams(), vec![0]);
        assert!(pipeline.finish().is_empty());
    }

    #[test]
    fn an_eviction_forced_by_the_stream_limit_is_a_problem_of_the_frame() {
        let mut limits = Limits::default();
        limits.tracker.max_streams = 2;
        let mut pipeline = Pipeline::with_limits(BuildConfig::default(), limits);
        let frames: Vec<Vec<u8>> = (0..4).map(|i| syn_from(40000 + i)).collect();
        let dissections = run_with(&mut pipeline, &frames);
        assert!(problems(&dissections[1], keys::tcp::STREAM_EVICTED).is_empty());
        let evicted = problems(&dissections[2], keys::tcp::STREAM_EVICTED);
        assert_eq!(evicted.len(), 1);
        assert!(
            evicted[0].starts_with("tcp.stream 0 (10.0.0.1:40000 → 10.0.0.2:80) evicted: 2 connections are held at most (--max-streams)"),
            "{}",
            evicted[0]
        );
        let evicted = problems(&dissections[3], keys::tcp::STREAM_EVICTED);
        assert!(evicted[0].starts_with("tcp.stream 1 "), "{}", evicted[0]);
        let _ = pipeline.finish();
        let summaries = pipeline.summaries();
        let streams: Vec<u32> = summaries.iter().map(|s| s.stream).collect();
        assert_eq!(streams, vec![0, 1, 2, 3]);
        assert!(summaries[0].evicted.is_some() && summaries[1].evicted.is_some());
        assert!(summaries[2].evicted.is_none() && summaries[3].evicted.is_none());
    }

    #[test]
    fn the_total_budget_evicts_the_connection_that_buffers_most() {
        let limits = Limits {
            max_buffered_total: 4096,
            ..Limits::default()
        };
        let mut pipeline = Pipeline::with_limits(BuildConfig::default(), limits);
        let (c, s) = (1000u32, 5000u32);
        let frames = vec![
            segment(true, c, 0, true, &[]),
            segment(false, s, c + 1, true, &[]),
            // 3000 bytes after a one-byte hole: they wait, and so count.
            segment(true, c + 2, s + 1, false, &[b'x'; 3000]),
            segment(true, c + 3002, s + 1, false, &[b'y'; 3000]),
        ];
        let dissections = run_with(&mut pipeline, &frames);
        assert!(problems(&dissections[2], keys::tcp::STREAM_EVICTED).is_empty());
        let evicted = problems(&dissections[3], keys::tcp::STREAM_EVICTED);
        assert_eq!(evicted.len(), 1, "{:?}", dissections[3].problems);
        assert!(
            evicted[0].contains("more than 4096 bytes (--max-buffered)"),
            "{}",
            evicted[0]
        );
        // The frame is still shown with its connection, as it was before the eviction.
        assert!(dissections[3].find(keys::tcp::STREAM).is_some());
        assert_eq!(pipeline.total_buffered, 0);
    }

    #[test]
    fn a_frame_shows_at_most_max_pdus_and_counts_the_rest() {
        let mut limits = Limits::default();
        limits.frame.max_pdus = 3;
        let mut pipeline = Pipeline::with_limits(BuildConfig::default(), limits);
        let many: Vec<u8> = UNMASKED_HELLO.repeat(10);
        let dissections = run_with(&mut pipeline, &websocket_then_server(&many));
        let last = dissections.last().unwrap();
        let shown = last
            .layers
            .iter()
            .filter(|layer| layer.protocol == Protocol::WebSocket)
            .count();
        assert_eq!(shown, 3);
        assert_eq!(
            problems(last, keys::tcp::PDU_LIMIT),
            vec!["7 more application PDUs ended in this frame; only the first 3 are shown (limit)"]
        );
        // Every message is still reported.
        let mut pipeline = Pipeline::with_limits(BuildConfig::default(), {
            let mut limits = Limits::default();
            limits.frame.max_pdus = 3;
            limits
        });
        let mut n_messages = 0;
        for (index, data) in websocket_then_server(&many).iter().enumerate() {
            let frame = RawFrame {
                number: FrameNumber(index as u64 + 1),
                ts: Timestamp::default(),
                orig_len: data.len(),
                link_type: link_type::ETHERNET,
                data,
            };
            n_messages += pipeline.process(&frame, false).messages.len();
        }
        assert_eq!(n_messages, 10);
    }

    #[test]
    fn frames_inside_a_connect_tunnel_show_the_tunnel_then_what_it_carries() {
        const CONNECT: &[u8] =
            b"CONNECT server.example.com:8080 HTTP/1.1\r\nHost: server.example.com:8080\r\n\r\n";
        const ESTABLISHED: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";
        // RFC 6455 §5.7: a masked "Hello" from the client.
        const MASKED_HELLO: &[u8] = &[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (c, s) = (1000u32, 5000u32);
        let len = |bytes: &[u8]| bytes.len() as u32;
        let c_get = c + 1 + len(CONNECT);
        let c_frame = c_get + len(REQUEST);
        let s_101 = s + 1 + len(ESTABLISHED);
        let s_end = s_101 + len(RESPONSE);
        let frames = [
            segment(true, c, 0, true, &[]),
            segment(false, s, c + 1, true, &[]),
            segment(true, c + 1, s + 1, false, &[]),
            segment(true, c + 1, s + 1, false, CONNECT),
            segment(false, s + 1, c_get, false, ESTABLISHED),
            segment(true, c_get, s_101, false, REQUEST),
            segment(false, s_101, c_frame, false, RESPONSE),
            segment(true, c_frame, s_end, false, MASKED_HELLO),
        ];
        let mut pipeline = Pipeline::default();
        let mut dissections = Vec::new();
        let mut messages = Vec::new();
        for (index, data) in frames.iter().enumerate() {
            let output = pipeline.process(
                &RawFrame {
                    number: FrameNumber(index as u64 + 1),
                    ts: Timestamp::default(),
                    orig_len: data.len(),
                    link_type: link_type::ETHERNET,
                    data,
                },
                true,
            );
            dissections.extend(output.dissection);
            messages.extend(output.messages);
        }
        let protocols = |frame: usize| -> Vec<(Protocol, String)> {
            dissections[frame - 1]
                .layers
                .iter()
                .filter(|layer| layer.osi() == crate::dissect::Osi::Application)
                .map(|layer| (layer.protocol, layer.summary.clone()))
                .collect()
        };
        // The CONNECT and the proxy's answer are HTTP with the proxy, not tunnelled.
        assert_eq!(
            protocols(4),
            [(
                Protocol::Http,
                "Hypertext Transfer Protocol: CONNECT server.example.com:8080".to_string()
            )]
        );
        assert_eq!(protocols(5).len(), 1);
        // Inside the tunnel: the tunnel layer, then the Upgrade, the 101, the frame.
        let tunnel = "Hypertext Transfer Protocol: CONNECT tunnel to server.example.com:8080";
        for (frame, inner) in [
            (6, Protocol::Http),
            (7, Protocol::Http),
            (8, Protocol::WebSocket),
        ] {
            let layers = protocols(frame);
            assert_eq!(layers.len(), 2, "frame {frame}: {layers:?}");
            assert_eq!(
                layers[0],
                (Protocol::Http, tunnel.to_string()),
                "frame {frame}"
            );
            assert_eq!(layers[1].0, inner, "frame {frame}");
        }
        let layer = dissections[5]
            .layers
            .iter()
            .find(|layer| layer.summary == tunnel)
            .unwrap();
        let values: Vec<(&str, &FieldValue)> = layer
            .fields
            .iter()
            .map(|field| (field.key, &field.value))
            .collect();
        assert_eq!(
            values,
            [
                (
                    keys::http::PROXY_CONNECT_HOST,
                    &FieldValue::Text("server.example.com".to_string())
                ),
                (keys::http::PROXY_CONNECT_PORT, &FieldValue::UInt(8080)),
            ]
        );
        assert!(layer.did.contains("10.0.0.2:80"), "{}", layer.did);
        // The tunnelled handshake was checked, and the message says where it travelled.
        let session = dissections[6].layer(Protocol::Session).unwrap();
        assert!(
            session.summary.contains("WebSocket: OPEN"),
            "{}",
            session.summary
        );
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].payload, b"Hello");
        assert_eq!(
            messages[0].tunnel.as_deref(),
            Some("server.example.com:8080")
        );
        assert_eq!(messages[0].frames, [FrameNumber(8)]);
        let summary = &pipeline.summaries()[0];
        assert_eq!(summary.protocol, "websocket");
        assert_eq!(summary.tunnel.as_deref(), Some("server.example.com:8080"));
    }

    #[test]
    fn a_bad_checksum_is_found_with_a_model_and_changes_no_message_without_one() {
        let mut frames = websocket_then_server(UNMASKED_HELLO);
        // The server's frame: its TCP checksum (Ethernet 14 + IPv4 20 + 16) made wrong.
        let last = frames.last_mut().unwrap();
        last[50] ^= 0x5a;
        fn raw(index: usize, data: &[u8]) -> RawFrame<'_> {
            RawFrame {
                number: FrameNumber(index as u64 + 1),
                ts: Timestamp::default(),
                orig_len: data.len(),
                link_type: link_type::ETHERNET,
                data,
            }
        }
        let (mut with_model, mut without) = (Pipeline::default(), Pipeline::default());
        let (mut shown, mut found) = (Vec::new(), Vec::new());
        for (index, data) in frames.iter().enumerate() {
            let output = with_model.process(&raw(index, data), true);
            shown.extend(output.messages);
            found.extend(without.process(&raw(index, data), false).messages);
            if index + 1 == frames.len() {
                let dissection = output.dissection.unwrap();
                assert_eq!(problems(&dissection, "tcp.checksum.bad").len(), 1);
            }
        }
        shown.extend(with_model.finish());
        found.extend(without.finish());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].payload, b"Hello");
        assert_eq!(found, shown);
    }

    #[test]
    fn an_unmasked_client_frame_is_a_problem_of_its_frame() {
        let (c, s) = (1000u32, 5000u32);
        let req_end = c + 1 + REQUEST.len() as u32;
        let frames = vec![
            segment(true, c, 0, true, &[]),
            segment(false, s, c + 1, true, &[]),
            segment(true, c + 1, s + 1, false, &[]),
            segment(true, c + 1, s + 1, false, REQUEST),
            segment(false, s + 1, req_end, false, RESPONSE),
            segment(
                true,
                req_end,
                s + 1 + RESPONSE.len() as u32,
                false,
                UNMASKED_HELLO,
            ),
        ];
        let dissections = run(&frames);
        let last = dissections.last().unwrap();
        assert!(last.layer(Protocol::WebSocket).is_some());
        let violation = last
            .problems
            .iter()
            .find(|p| p.key == keys::websocket::VIOLATION)
            .expect("the violation is reported on the frame");
        assert_eq!(violation.severity, Severity::Error);
        assert!(
            violation
                .message
                .ends_with("(UnmaskedClientFrame, RFC 6455 §5.1)"),
            "{}",
            violation.message
        );
        let layer = violation.layer.map(|index| last.layers[index].protocol);
        assert_eq!(layer, Some(Protocol::WebSocket));
        // The handshake before it was accepted, and the session is open.
        let session = last.layer(Protocol::Session).unwrap();
        assert!(
            session.summary.contains("WebSocket: OPEN"),
            "{}",
            session.summary
        );
    }
}
