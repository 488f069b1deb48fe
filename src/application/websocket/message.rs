//! The per-direction assembler: stream bytes in, frames, messages and problems out.
//!
//! [`MessageAssembler`] is fed the reassembled bytes of one TCP direction, in order and in chunks
//! of any size, starting right after the HTTP handshake. It parses frame headers that span chunks,
//! unmasks payloads, joins fragments (with control frames in between), checks text as UTF-8 across
//! fragment boundaries, inflates permessage-deflate messages, parses Close bodies, and checks the
//! rules of RFC 6455 and RFC 7692 as it goes. It never stops at a violation: it reports it as a
//! [`Problem`] and keeps describing the wire.
//!
//! Every event carries stream offsets (the direction's byte positions), so each part of a frame
//! can be traced back to the packets that carried it. Offsets inside a frame are in
//! [`crate::application::websocket::frame::field`].
//!
//! # Memory
//! Parsing and counting never stop, but buffering is bounded by [`Limits`]: a frame's payload is
//! kept up to `max_frame_len`, a message's data up to `max_message_len` (or `max_inflated_len`
//! once inflated). Past a limit the assembler keeps a prefix, reports a [`LimitHit`] and marks the
//! payload incomplete. Masked bytes are not stored twice: they are the stream bytes at
//! `payload_range`, and [`Frame::masked_payload`] rebuilds them from the kept payload.
//!
//! # Holes in the stream
//! [`MessageAssembler::gap`] (or a `feed` whose offset jumps ahead) declares bytes that were never
//! captured. If the hole lies inside the payload of the current frame, the frame's end is still
//! known: the payload gets a hole, the message becomes incomplete, and parsing goes on at the
//! frame's end without any guessing (the masking key position is kept, so unmasking stays right).
//! The same holds when the hole ends exactly at the frame's end. If the hole reaches past the end of the current frame, or
//! starts between frames or inside a header, the next frame start is unknown: the assembler scans
//! for a plausible header with the heuristic of [`crate::application::websocket::resync`], and
//! reports the bytes it skipped. The message in progress becomes incomplete; since frames may
//! have been lost, the next continuation frame is attached to it (or starts an orphan message) and
//! the next text or binary frame closes it, without a fragmentation violation. Under deflate
//! context takeover the shared window is then unknown; see
//! [`crate::application::websocket::deflate::Inflater`].

use std::fmt;
use std::mem;
use std::ops::Range;

use thiserror::Error;

use crate::application::websocket::check::{HeaderRules, Violation};
use crate::application::websocket::close::CloseBody;
use crate::application::websocket::deflate::{self, DeflateError, DeflateParams, Inflater};
use crate::application::websocket::frame::{field, FrameHeader};
use crate::application::websocket::handshake;
use crate::application::websocket::mask;
use crate::application::websocket::opcode::{Control, Data, OpCode};
use crate::application::websocket::resync::{self, ScanLimits, ScanOutcome};
use crate::application::websocket::utf8::Utf8Validator;
use crate::application::websocket::Sender;

/// Buffering limits. Parsing goes on past them; only the keeping of bytes stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Payload bytes kept per frame (default 16 MiB).
    pub max_frame_len: usize,
    /// Data bytes kept per uncompressed message (default 64 MiB).
    pub max_message_len: usize,
    /// Inflated bytes produced per compressed message (default 64 MiB); a deflate bomb stops here.
    pub max_inflated_len: usize,
    /// Frame references kept per message (default 65,536); frames are still counted past it.
    pub max_message_frames: usize,
    /// Look-ahead of the resynchronising scan after a hole (default 64 KiB); also the largest
    /// payload a header found there may announce and be accepted without confirmation.
    pub max_resync_scan_len: usize,
    /// Whether data frames keep their payload in their [`Frame`] event (default yes; a view
    /// that only wants messages turns it off and saves a copy of every payload byte).
    /// Control frames always keep theirs.
    pub keep_data_frames: bool,
}

/// What the assembler must know about its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Who sent these bytes.
    pub sender: Sender,
    /// The negotiated permessage-deflate parameters, if it was negotiated.
    pub deflate: Option<DeflateParams>,
    /// Another extension was negotiated: reserved bits it may define are not flagged.
    pub other_extensions: bool,
    /// Buffering limits.
    pub limits: Limits,
}

/// Something the assembler found in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A frame header was parsed; its [`Frame`] follows once its payload has passed.
    FrameStart(FrameStart),
    /// A frame ended (or the stream ended inside it).
    Frame(Frame),
    /// A message ended: a data message at its final fragment, or a control frame.
    Message(Message),
    /// A rule was broken, a limit was hit, or the stream has a hole.
    Problem(Problem),
}

/// A parsed frame header, reported before its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameStart {
    /// The frame's number in this direction, from 0.
    pub index: u64,
    /// The decoded header.
    pub header: FrameHeader,
    /// The stream bytes of the header.
    pub header_range: Range<u64>,
}

/// A frame and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The frame's number in this direction, from 0.
    pub index: u64,
    /// The decoded header.
    pub header: FrameHeader,
    /// The stream bytes of the header.
    pub header_range: Range<u64>,
    /// The stream bytes of the payload, as announced (it may run past a truncated stream).
    pub payload_range: Range<u64>,
    /// The unmasked payload bytes kept: all of them when `payload_complete`, else a prefix.
    pub payload: Vec<u8>,
    /// True when every payload byte was seen and kept.
    pub payload_complete: bool,
    /// Payload bytes actually seen (bytes in holes are not counted).
    pub seen_len: u64,
    /// The message this frame belongs to (none for reserved opcodes).
    pub message_index: Option<u64>,
}

/// Where one frame of a message lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameRef {
    /// The frame's number in this direction.
    pub index: u64,
    /// The stream bytes of its header.
    pub header_range: Range<u64>,
    /// The stream bytes of its payload.
    pub payload_range: Range<u64>,
}

/// A message: a data message with all its fragments joined, or one control frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message's number in this direction, from 0 (control frames count).
    pub index: u64,
    /// The opcode of its first frame; `Continue` for an orphan whose start was not seen.
    pub opcode: OpCode,
    /// RSV1 was set on the first frame: permessage-deflate compressed the data.
    pub compressed: bool,
    /// The frames of the message, in order (up to `max_message_frames`).
    pub frames: Vec<FrameRef>,
    /// How many frames the message had.
    pub n_frames: u64,
    /// From the first header to the end of the last payload.
    pub stream_range: Range<u64>,
    /// Payload bytes on the wire, summed over the frames seen (compressed size if compressed).
    pub wire_len: u64,
    /// Data bytes: unmasked, joined and inflated, counted even when not kept.
    pub len: u64,
    /// The data kept: all of it when `payload_complete`, otherwise a prefix.
    pub payload: Vec<u8>,
    /// True when `payload` holds the whole message data, exactly.
    pub payload_complete: bool,
    /// True when every frame was seen whole and the last one had FIN set.
    pub complete: bool,
    /// For text messages: whether the data is valid UTF-8; `None` when it could not be checked.
    pub text_valid: Option<bool>,
    /// For Close frames: the decoded body.
    pub close: Option<CloseBody>,
}

/// A located problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What went wrong.
    pub kind: ProblemKind,
    /// The stream bytes concerned (empty when the problem sits at a point).
    pub stream_range: Range<u64>,
    /// The frame concerned, if any.
    pub frame_index: Option<u64>,
    /// The message concerned, if any.
    pub message_index: Option<u64>,
}

/// The three families of problems.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProblemKind {
    /// A protocol rule was broken on the wire.
    #[error(transparent)]
    Violation(#[from] Violation),
    /// A buffering limit of the analyzer was reached.
    #[error(transparent)]
    Limit(#[from] LimitHit),
    /// The stream itself has a hole, a skip or an early end.
    #[error(transparent)]
    Stream(#[from] StreamIssue),
}

/// A limit of [`Limits`] was reached (not a protocol violation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LimitHit {
    /// The frame's payload is longer than `max_frame_len`; only a prefix is kept.
    #[error("frame payload of {payload_len} bytes exceeds the {max_frame_len}-byte buffer; a prefix is kept")]
    FrameNotBuffered {
        /// The announced payload length.
        payload_len: u64,
        /// The limit in force.
        max_frame_len: usize,
    },
    /// The message is longer than `max_message_len`; only a prefix is kept.
    #[error("message exceeds the {max_message_len}-byte buffer; a prefix is kept")]
    MessageNotBuffered {
        /// The limit in force.
        max_message_len: usize,
    },
    /// Inflation stopped at `max_inflated_len`: a deflate bomb is not obeyed.
    #[error("inflated message reached {max_inflated_len} bytes; inflation stopped")]
    InflateStopped {
        /// The limit in force.
        max_inflated_len: usize,
    },
    /// The message has more than `max_message_frames` frames; later ones are counted only.
    #[error(
        "message has more than {max_message_frames} frames; later ones are counted, not listed"
    )]
    TooManyFrames {
        /// The limit in force.
        max_message_frames: usize,
    },
}

/// Something wrong with the stream rather than with the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum StreamIssue {
    /// Bytes were missing from the capture.
    #[error("{len} bytes missing from the stream")]
    Gap {
        /// The length of the hole.
        len: u64,
    },
    /// Bytes were skipped while looking for a frame header after a hole.
    #[error("{len} bytes skipped while looking for a frame header")]
    Skipped {
        /// How many bytes were skipped.
        len: u64,
    },
    /// A frame header was found after a hole (see the resync heuristic).
    #[error("frame boundary found again after a hole ({})", if *confirmed { "confirmed by the next header" } else { "unconfirmed" })]
    Resynchronised {
        /// True when the following header lined up too.
        confirmed: bool,
    },
    /// The stream ended (or a hole began) inside a frame header.
    #[error("frame header cut after {have} bytes")]
    TruncatedHeader {
        /// The header bytes that were seen.
        have: usize,
    },
    /// The stream ended inside a frame's payload.
    #[error("stream ended {missing} bytes before the end of the frame payload")]
    TruncatedPayload {
        /// Payload bytes that never came.
        missing: u64,
    },
    /// The stream ended while a fragmented message was still open.
    #[error("stream ended before the final fragment of the message")]
    UnfinishedMessage,
    /// `feed` was given bytes that had already been fed; they were ignored.
    #[error("{len} bytes fed again were ignored")]
    Overlap {
        /// How many bytes were ignored.
        len: u64,
    },
    /// A frame's announced end does not fit in 64-bit stream offsets.
    #[error("frame end lies beyond the largest stream offset")]
    OffsetOverflow,
    /// An inflated message copied bytes from history lost in an earlier hole.
    #[error("inflated message refers to data lost in a hole; some of its bytes are unknown")]
    InflateHistoryLost,
}

/// Turns one direction's stream bytes into [`Event`]s.
pub struct MessageAssembler {
    config: Config,
    rules: HeaderRules,
    /// The stream offset of the next byte to be fed.
    next_offset: u64,
    state: State,
    inflater: Option<Inflater>,
    /// The data message being assembled.
    building: Option<Building>,
    /// A hole made the message order unknown; cleared by the next data frame.
    after_gap: bool,
    /// This sender has sent a Close frame.
    close_seen: bool,
    n_frames: u64,
    n_messages: u64,
    events: Vec<Event>,
    scratch: Vec<u8>,
}

/// Where the parser stands.
enum State {
    /// Between frames, or inside a header cut by a chunk boundary.
    Header {
        /// The header bytes seen so far (fewer than a whole header).
        bytes: Vec<u8>,
        /// The stream offset of the header's first byte.
        start: u64,
    },
    /// Inside a frame's payload.
    Payload(FrameState),
    /// Looking for a frame header after a hole.
    Resync {
        /// The bytes kept for the scan.
        buf: Vec<u8>,
        /// The stream offset of `buf[0]`.
        start: u64,
        /// Where the skipped run began.
        skipped_from: u64,
    },
}

/// What a frame feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A fragment of the data message being built.
    Data,
    /// A control frame: a message of its own.
    Control,
    /// A reserved opcode: described, but part of no message.
    Other,
}

/// A frame whose payload is passing.
struct FrameState {
    index: u64,
    header: FrameHeader,
    header_range: Range<u64>,
    payload_range: Range<u64>,
    role: Role,
    message_index: Option<u64>,
    /// Payload bytes passed, holes included.
    position: u64,
    /// Payload bytes seen.
    seen: u64,
    payload: Vec<u8>,
    /// Still appending to `payload`.
    keep: bool,
    /// No hole so far.
    complete: bool,
}

/// The state of the UTF-8 check of a message.
enum TextCheck {
    /// Not a text message.
    NotText,
    /// Checking so far.
    Checking(Utf8Validator),
    /// Found invalid.
    Invalid,
    /// Cannot be checked (a hole, an unknown transform, a failed inflate).
    Unknown,
}

/// Where a piece of message data came from, to locate a UTF-8 error in the stream.
#[derive(Debug, Clone, Copy)]
struct ChunkSpan {
    message_offset: u64,
    stream_offset: u64,
    len: u64,
}

/// A data message being assembled.
struct Building {
    index: u64,
    opcode: OpCode,
    compressed: bool,
    /// The data goes through the inflater.
    inflate: bool,
    inflate_failed: bool,
    uses_lost_history: bool,
    frames: Vec<FrameRef>,
    frames_truncated: bool,
    n_frames: u64,
    stream_range: Range<u64>,
    wire_len: u64,
    len: u64,
    payload: Vec<u8>,
    keep: bool,
    /// Every frame so far was seen whole, and the start was seen.
    complete: bool,
    text: TextCheck,
    /// The last few pieces of uncompressed data, to place a UTF-8 error.
    recent: smallvec::SmallVec<[ChunkSpan; RECENT_SPANS]>,
}

/// How many recent pieces are remembered: a character spans at most four.
const RECENT_SPANS: usize = 4;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_len: 16 << 20,
            max_message_len: 64 << 20,
            max_inflated_len: 64 << 20,
            max_message_frames: 1 << 16,
            max_resync_scan_len: 64 << 10,
            keep_data_frames: true,
        }
    }
}

impl Config {
    /// A direction with no extension and the default limits.
    pub fn new(sender: Sender) -> Config {
        Config {
            sender,
            deflate: None,
            other_extensions: false,
            limits: Limits::default(),
        }
    }
}

impl Config {
    /// A direction configured from the server response's `Sec-WebSocket-Extensions` value
    /// (`None` when the response had no such header), with the default limits.
    ///
    /// permessage-deflate sets [`Config::deflate`]; any other accepted extension sets
    /// [`Config::other_extensions`].
    pub fn negotiated(sender: Sender, extensions: Option<&str>) -> Result<Config, DeflateError> {
        let mut config = Config::new(sender);
        if let Some(value) = extensions {
            let list = handshake::parse_extension_list(value)?;
            config.deflate = DeflateParams::negotiated(value)?;
            config.other_extensions = list
                .iter()
                .any(|extension| !extension.name.eq_ignore_ascii_case(deflate::EXTENSION_NAME));
        }
        Ok(config)
    }
}

impl Frame {
    /// The payload as it was on the wire: the kept bytes masked again with the frame's key.
    pub fn masked_payload(&self) -> Vec<u8> {
        let mut bytes = self.payload.clone();
        if let Some(key) = self.header.mask {
            mask::unmask_by_word(&mut bytes, key, 0);
        }
        bytes
    }

    /// The stream bytes of a header field given relative to the frame start (see
    /// [`crate::application::websocket::frame::field`]).
    pub fn stream_range_of(&self, field: Range<usize>) -> Range<u64> {
        let start = self.header_range.start;
        start.saturating_add(field.start as u64)..start.saturating_add(field.end as u64)
    }
}

impl ProblemKind {
    /// The name of the rule or issue, as used for problem keys.
    pub fn rule(&self) -> &'static str {
        match self {
            ProblemKind::Violation(violation) => violation.rule(),
            ProblemKind::Limit(limit) => match limit {
                LimitHit::FrameNotBuffered { .. } => "FrameNotBuffered",
                LimitHit::MessageNotBuffered { .. } => "MessageNotBuffered",
                LimitHit::InflateStopped { .. } => "InflateStopped",
                LimitHit::TooManyFrames { .. } => "TooManyFrames",
            },
            ProblemKind::Stream(issue) => match issue {
                StreamIssue::Gap { .. } => "Gap",
                StreamIssue::Skipped { .. } => "Skipped",
                StreamIssue::Resynchronised { .. } => "Resynchronised",
                StreamIssue::TruncatedHeader { .. } => "TruncatedHeader",
                StreamIssue::TruncatedPayload { .. } => "TruncatedPayload",
                StreamIssue::UnfinishedMessage => "UnfinishedMessage",
                StreamIssue::Overlap { .. } => "Overlap",
                StreamIssue::OffsetOverflow => "OffsetOverflow",
                StreamIssue::InflateHistoryLost => "InflateHistoryLost",
            },
        }
    }

    /// The RFC section for violations; empty for limits and stream issues.
    pub fn section(&self) -> &'static str {
        match self {
            ProblemKind::Violation(violation) => violation.section(),
            ProblemKind::Limit(_) | ProblemKind::Stream(_) => "",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at stream bytes {}..{}",
            self.kind, self.stream_range.start, self.stream_range.end
        )
    }
}

impl MessageAssembler {
    /// Bytes held for data still coming: a cut header, the frame payload and message being
    /// kept, the inflater, the bytes kept for a scan after a hole.
    pub fn buffered_len(&self) -> usize {
        let state = match &self.state {
            State::Header { bytes, .. } => bytes.capacity(),
            State::Payload(frame) => frame.payload.capacity(),
            State::Resync { buf, .. } => buf.capacity(),
        };
        let building = self.building.as_ref().map_or(0, |building| {
            building.payload.capacity().saturating_add(
                building
                    .frames
                    .len()
                    .saturating_mul(std::mem::size_of::<FrameRef>()),
            )
        });
        state
            .saturating_add(building)
            .saturating_add(self.inflater.as_ref().map_or(0, Inflater::buffered_len))
            .saturating_add(self.scratch.capacity())
    }

    /// An assembler whose stream begins at `stream_offset` (the first byte after the handshake).
    pub fn new(config: Config, stream_offset: u64) -> MessageAssembler {
        let rules = HeaderRules {
            sender: config.sender,
            deflate: config.deflate.is_some(),
            other_extensions: config.other_extensions,
        };
        let inflater = config.deflate.map(|params| {
            Inflater::new(
                params.for_sender(config.sender),
                config.limits.max_inflated_len,
            )
        });
        MessageAssembler {
            config,
            rules,
            next_offset: stream_offset,
            state: State::idle(stream_offset),
            inflater,
            building: None,
            after_gap: false,
            close_seen: false,
            n_frames: 0,
            n_messages: 0,
            events: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The configuration this assembler follows.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The stream offset of the next byte expected.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Feeds the next bytes of the stream, which start at `stream_offset`.
    ///
    /// An offset past the expected one is a hole (as [`MessageAssembler::gap`]); bytes before it
    /// were fed already and are ignored, with a [`StreamIssue::Overlap`].
    pub fn feed(&mut self, bytes: &[u8], stream_offset: u64) -> Vec<Event> {
        self.advance(bytes, stream_offset);
        mem::take(&mut self.events)
    }

    /// [`MessageAssembler::feed`], handing each event to `each` in order:
    /// the assembler keeps its list's room for the next bytes.
    pub fn feed_with(&mut self, bytes: &[u8], stream_offset: u64, each: impl FnMut(Event)) {
        self.advance(bytes, stream_offset);
        self.events.drain(..).for_each(each);
    }

    fn advance(&mut self, bytes: &[u8], stream_offset: u64) {
        let mut bytes = bytes;
        let mut offset = stream_offset;
        if offset > self.next_offset {
            let len = offset.saturating_sub(self.next_offset);
            self.hole(len);
            self.next_offset = offset;
        } else if offset < self.next_offset {
            let overlap = self.next_offset.saturating_sub(offset);
            let ignored = overlap.min(bytes.len() as u64);
            if ignored > 0 {
                self.problem(
                    StreamIssue::Overlap { len: ignored }.into(),
                    offset..offset.saturating_add(ignored),
                    None,
                    None,
                );
            }
            bytes = usize::try_from(overlap)
                .ok()
                .and_then(|overlap| bytes.get(overlap..))
                .unwrap_or_default();
            offset = self.next_offset;
        }
        self.next_offset = offset.saturating_add(bytes.len() as u64);
        self.process(bytes, offset);
    }

    /// Declares `len` missing bytes at the current position.
    pub fn gap(&mut self, len: u64) -> Vec<Event> {
        self.hole(len);
        self.next_offset = self.next_offset.saturating_add(len);
        mem::take(&mut self.events)
    }

    /// Declares the end of the stream and reports whatever was left unfinished.
    /// Frees the permessage-deflate context once this direction's stream has ended (its FIN
    /// was delivered), if no frame or message is in progress: nothing can follow, so the
    /// window and the decompressor are no longer needed.
    pub fn release_if_idle(&mut self) {
        if self.is_idle() {
            if let Some(inflater) = self.inflater.take() {
                inflater.recycle();
            }
            self.scratch = Vec::new();
            self.events = Vec::new();
        }
    }

    /// Between frames, with no message in progress and no event waiting: [`Self::finish`]
    /// would report nothing.
    pub fn is_idle(&self) -> bool {
        matches!(&self.state, State::Header { bytes, .. } if bytes.is_empty())
            && self.building.is_none()
            && self.events.is_empty()
    }

    pub fn finish(mut self) -> Vec<Event> {
        loop {
            match mem::replace(&mut self.state, State::idle(self.next_offset)) {
                state @ State::Resync { .. } => {
                    self.state = state;
                    self.run_resync(true);
                }
                State::Header { bytes, start } => {
                    if !bytes.is_empty() {
                        let end = start.saturating_add(bytes.len() as u64);
                        self.problem(
                            StreamIssue::TruncatedHeader { have: bytes.len() }.into(),
                            start..end,
                            None,
                            None,
                        );
                    }
                    break;
                }
                State::Payload(mut frame) => {
                    let missing = frame.header.payload_len.saturating_sub(frame.position);
                    let from = frame.payload_range.start.saturating_add(frame.position);
                    self.problem(
                        StreamIssue::TruncatedPayload { missing }.into(),
                        from..frame.payload_range.end,
                        Some(frame.index),
                        frame.message_index,
                    );
                    self.payload_hole(&mut frame, missing);
                    self.complete_frame(frame);
                    break;
                }
            }
        }
        if let Some(building) = self.building.take() {
            self.problem(
                StreamIssue::UnfinishedMessage.into(),
                building.stream_range.clone(),
                None,
                Some(building.index),
            );
            self.finish_message(building, false);
        }
        mem::take(&mut self.events)
    }

    fn problem(
        &mut self,
        kind: ProblemKind,
        stream_range: Range<u64>,
        frame_index: Option<u64>,
        message_index: Option<u64>,
    ) {
        self.events.push(Event::Problem(Problem {
            kind,
            stream_range,
            frame_index,
            message_index,
        }));
    }

    /// Runs bytes through the state machine.
    fn process(&mut self, data: &[u8], at: u64) {
        let mut data = data;
        let mut at = at;
        while !data.is_empty() {
            match mem::replace(&mut self.state, State::idle(at)) {
                State::Header { mut bytes, start } => {
                    let have = bytes.len();
                    let parsed = if have == 0 {
                        FrameHeader::parse_lax(data)
                    } else {
                        let take = field::MAX_HEADER_LEN.saturating_sub(have).min(data.len());
                        bytes.extend_from_slice(data.get(..take).unwrap_or_default());
                        FrameHeader::parse_lax(&bytes)
                    };
                    match parsed {
                        Some((header, header_len)) => {
                            let from_data = header_len.saturating_sub(have);
                            let header_start = if have == 0 { at } else { start };
                            self.start_frame(header, header_start, header_len);
                            data = data.get(from_data..).unwrap_or_default();
                            at = at.saturating_add(from_data as u64);
                        }
                        None if have == 0 => {
                            self.state = State::Header {
                                bytes: data.to_vec(),
                                start: at,
                            };
                            return;
                        }
                        None => {
                            // The header is still cut, so all of `data` went into `bytes`: a
                            // whole header never needs more than `MAX_HEADER_LEN` bytes.
                            self.state = State::Header { bytes, start };
                            return;
                        }
                    }
                }
                State::Payload(mut frame) => {
                    let remaining = frame.header.payload_len.saturating_sub(frame.position);
                    let take = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    let (chunk, rest) = data.split_at(take);
                    self.payload_chunk(&mut frame, chunk, at);
                    data = rest;
                    at = at.saturating_add(take as u64);
                    if frame.position >= frame.header.payload_len {
                        self.complete_frame(frame);
                    } else {
                        self.state = State::Payload(frame);
                    }
                }
                State::Resync {
                    mut buf,
                    start,
                    skipped_from,
                } => {
                    buf.extend_from_slice(data);
                    self.state = State::Resync {
                        buf,
                        start,
                        skipped_from,
                    };
                    self.run_resync(false);
                    return;
                }
            }
        }
    }

    /// Handles a parsed header: checks, message bookkeeping, and the move to its payload.
    fn start_frame(&mut self, header: FrameHeader, start: u64, header_len: usize) {
        let index = self.n_frames;
        self.n_frames = self.n_frames.saturating_add(1);
        let header_end = start.saturating_add(header_len as u64);
        let payload_end = header_end.checked_add(header.payload_len);
        let header_range = start..header_end;
        let payload_range = header_end..payload_end.unwrap_or(u64::MAX);
        self.events.push(Event::FrameStart(FrameStart {
            index,
            header,
            header_range: header_range.clone(),
        }));
        if payload_end.is_none() {
            self.problem(
                StreamIssue::OffsetOverflow.into(),
                header_range.clone(),
                Some(index),
                None,
            );
        }
        for violation in self.rules.violations(&header) {
            self.problem(violation.into(), header_range.clone(), Some(index), None);
        }
        let (role, message_index) = match header.opcode {
            OpCode::Data(data) => {
                if self.close_seen {
                    self.problem(
                        Violation::DataAfterClose.into(),
                        header_range.clone(),
                        Some(index),
                        None,
                    );
                }
                match data {
                    Data::Continue => {
                        if self.building.is_none() {
                            if !self.after_gap {
                                self.problem(
                                    Violation::ContinuationWithoutStart.into(),
                                    header_range.clone(),
                                    Some(index),
                                    None,
                                );
                            }
                            self.begin_message(&header, start, true);
                        }
                        self.after_gap = false;
                        (Role::Data, self.building.as_ref().map(|b| b.index))
                    }
                    Data::Text | Data::Binary => {
                        if let Some(previous) = self.building.take() {
                            if !self.after_gap {
                                self.problem(
                                    Violation::DataFrameInsideFragmentedMessage.into(),
                                    header_range.clone(),
                                    Some(index),
                                    Some(previous.index),
                                );
                            }
                            self.finish_message(previous, false);
                        }
                        self.begin_message(&header, start, false);
                        self.after_gap = false;
                        (Role::Data, self.building.as_ref().map(|b| b.index))
                    }
                    Data::Reserved(_) => (Role::Other, None),
                }
            }
            OpCode::Control(Control::Reserved(_)) => (Role::Other, None),
            OpCode::Control(_) => {
                let message_index = self.n_messages;
                self.n_messages = self.n_messages.saturating_add(1);
                (Role::Control, Some(message_index))
            }
        };
        let max_frame_len = self.config.limits.max_frame_len;
        if header.payload_len > max_frame_len as u64 {
            self.problem(
                LimitHit::FrameNotBuffered {
                    payload_len: header.payload_len,
                    max_frame_len,
                }
                .into(),
                payload_range.clone(),
                Some(index),
                message_index,
            );
        }
        // Up to 64 KiB is reserved at once: a hostile length costs no more.
        let announced = usize::try_from(header.payload_len)
            .unwrap_or(usize::MAX)
            .min(1 << 16);
        let keep = role != Role::Data || self.config.limits.keep_data_frames;
        let capacity = if keep {
            announced.min(max_frame_len)
        } else {
            0
        };
        if role == Role::Data {
            let limits = self.config.limits;
            if let Some(building) = self.building.as_mut().filter(|b| b.keep || b.inflate) {
                // Inflated, a message is usually a few times longer than on the wire.
                let (expected, max) = if building.inflate {
                    (announced.saturating_mul(4), limits.max_inflated_len)
                } else {
                    (announced, limits.max_message_len)
                };
                let room = max.saturating_sub(building.payload.len());
                building.payload.reserve(expected.min(1 << 16).min(room));
            }
        }
        let frame = FrameState {
            index,
            header,
            header_range,
            payload_range,
            role,
            message_index,
            position: 0,
            seen: 0,
            payload: Vec::with_capacity(capacity),
            keep,
            complete: true,
        };
        if header.payload_len == 0 {
            self.complete_frame(frame);
        } else {
            self.state = State::Payload(frame);
        }
    }

    /// Opens a data message at `header` (an orphan when its start was not seen).
    fn begin_message(&mut self, header: &FrameHeader, start: u64, orphan: bool) {
        let compressed = header.rsv1 && !orphan;
        let inflate = compressed && self.inflater.is_some();
        // Reserved bits that no known extension explains mean an unknown transform.
        let unknown_transform = header.rsv2 || header.rsv3 || (header.rsv1 && !inflate);
        let text = match header.opcode {
            OpCode::Data(Data::Text) if !unknown_transform => {
                TextCheck::Checking(Utf8Validator::default())
            }
            OpCode::Data(Data::Text) => TextCheck::Unknown,
            _ if orphan => TextCheck::Unknown,
            _ => TextCheck::NotText,
        };
        if inflate {
            if let Some(inflater) = self.inflater.as_mut() {
                inflater.begin_message();
            }
        }
        let index = self.n_messages;
        self.n_messages = self.n_messages.saturating_add(1);
        self.building = Some(Building {
            index,
            opcode: header.opcode,
            compressed,
            inflate,
            inflate_failed: false,
            uses_lost_history: false,
            frames: Vec::new(),
            frames_truncated: false,
            n_frames: 0,
            stream_range: start..start,
            wire_len: 0,
            len: 0,
            payload: Vec::new(),
            keep: true,
            complete: !orphan,
            text,
            recent: smallvec::SmallVec::new(),
        });
    }

    /// Unmasks one piece of payload and hands it on.
    fn payload_chunk(&mut self, frame: &mut FrameState, chunk: &[u8], at: u64) {
        let mut unmasked = mem::take(&mut self.scratch);
        unmasked.clear();
        unmasked.extend_from_slice(chunk);
        if let Some(key) = frame.header.mask {
            mask::unmask_by_word(&mut unmasked, key, (frame.position % 4) as usize);
        }
        if frame.keep {
            let room = self
                .config
                .limits
                .max_frame_len
                .saturating_sub(frame.payload.len());
            let kept = unmasked.get(..room.min(unmasked.len())).unwrap_or_default();
            frame.payload.extend_from_slice(kept);
            if kept.len() < unmasked.len() {
                frame.keep = false;
            }
        }
        let len = chunk.len() as u64;
        frame.position = frame.position.saturating_add(len);
        frame.seen = frame.seen.saturating_add(len);
        if frame.role == Role::Data {
            self.message_data(&unmasked, at, frame);
        }
        self.scratch = unmasked;
    }

    /// Adds unmasked data to the message being built.
    fn message_data(&mut self, data: &[u8], at: u64, frame: &FrameState) {
        let Some(building) = self.building.as_mut() else {
            return;
        };
        let len = data.len() as u64;
        building.wire_len = building.wire_len.saturating_add(len);
        let mut problems: Vec<(ProblemKind, Range<u64>)> = Vec::new();
        if building.inflate {
            if building.inflate_failed {
                return;
            }
            let Some(inflater) = self.inflater.as_mut() else {
                return;
            };
            let before = building.payload.len();
            let result = inflater.push(data, &mut building.payload);
            inflated(building, before, &frame.payload_range, &mut problems);
            if let Err(error) = result {
                inflate_failed(building, error, &frame.payload_range, &mut problems);
            }
        } else {
            let message_offset = building.len;
            building.len = building.len.saturating_add(len);
            if building.keep {
                let max = self.config.limits.max_message_len;
                let room = max.saturating_sub(building.payload.len());
                let kept = data.get(..room.min(data.len())).unwrap_or_default();
                building.payload.extend_from_slice(kept);
                if kept.len() < data.len() {
                    building.keep = false;
                    problems.push((
                        LimitHit::MessageNotBuffered {
                            max_message_len: max,
                        }
                        .into(),
                        frame.payload_range.clone(),
                    ));
                }
            }
            if building.recent.len() == RECENT_SPANS {
                building.recent.remove(0);
            }
            building.recent.push(ChunkSpan {
                message_offset,
                stream_offset: at,
                len,
            });
            check_text(building, data, &frame.payload_range, &mut problems);
        }
        let message_index = Some(building.index);
        for (kind, range) in problems {
            self.problem(kind, range, Some(frame.index), message_index);
        }
    }

    /// Marks `len` payload bytes of the current frame as missing.
    fn payload_hole(&mut self, frame: &mut FrameState, len: u64) {
        if len == 0 {
            return;
        }
        frame.position = frame.position.saturating_add(len);
        frame.complete = false;
        frame.keep = false;
        if frame.role == Role::Data {
            self.message_hole();
        }
    }

    /// The message being built lost some of its data.
    fn message_hole(&mut self) {
        let Some(building) = self.building.as_mut() else {
            return;
        };
        building.complete = false;
        building.keep = false;
        if let TextCheck::Checking(_) = building.text {
            building.text = TextCheck::Unknown;
        }
        if building.inflate && !building.inflate_failed {
            building.inflate_failed = true;
            if let Some(inflater) = self.inflater.as_mut() {
                inflater.abandon_message();
            }
        }
    }

    /// A frame's payload has passed (or the stream ended inside it).
    fn complete_frame(&mut self, frame: FrameState) {
        self.state = State::idle(frame.payload_range.end);
        let payload_complete =
            frame.complete && frame.keep && frame.payload.len() as u64 == frame.header.payload_len;
        let frame_ref = FrameRef {
            index: frame.index,
            header_range: frame.header_range.clone(),
            payload_range: frame.payload_range.clone(),
        };
        let event = Frame {
            index: frame.index,
            header: frame.header,
            header_range: frame.header_range.clone(),
            payload_range: frame.payload_range.clone(),
            payload: frame.payload,
            payload_complete,
            seen_len: frame.seen,
            message_index: frame.message_index,
        };
        match frame.role {
            Role::Data => {
                let max_frames = self.config.limits.max_message_frames;
                let mut too_many = false;
                if let Some(building) = self.building.as_mut() {
                    building.n_frames = building.n_frames.saturating_add(1);
                    building.stream_range.end = frame.payload_range.end;
                    if !frame.complete {
                        building.complete = false;
                    }
                    if building.frames.len() < max_frames {
                        building.frames.push(frame_ref);
                    } else if !building.frames_truncated {
                        building.frames_truncated = true;
                        too_many = true;
                    }
                }
                if too_many {
                    self.problem(
                        LimitHit::TooManyFrames {
                            max_message_frames: max_frames,
                        }
                        .into(),
                        frame.header_range.clone(),
                        Some(frame.index),
                        frame.message_index,
                    );
                }
                self.events.push(Event::Frame(event));
                if frame.header.fin {
                    if let Some(building) = self.building.take() {
                        self.finish_message(building, true);
                    }
                }
            }
            Role::Control => {
                let message = self.control_message(&event, frame_ref, frame.complete);
                self.events.push(Event::Frame(event));
                if let Some(message) = message {
                    self.events.push(Event::Message(message));
                }
            }
            Role::Other => self.events.push(Event::Frame(event)),
        }
    }

    /// Builds the message of a control frame, checking a Close body.
    fn control_message(
        &mut self,
        frame: &Frame,
        frame_ref: FrameRef,
        seen_whole: bool,
    ) -> Option<Message> {
        let index = frame.message_index?;
        let mut close = None;
        if frame.header.opcode == OpCode::Control(Control::Close) {
            self.close_seen = true;
            if frame.payload_complete {
                let (body, problems) = CloseBody::parse(&frame.payload);
                for problem in problems {
                    self.problem(
                        Violation::Close(problem).into(),
                        frame.payload_range.clone(),
                        Some(frame.index),
                        Some(index),
                    );
                }
                close = Some(body);
            }
        }
        Some(Message {
            index,
            opcode: frame.header.opcode,
            compressed: frame.header.rsv1,
            frames: vec![frame_ref],
            n_frames: 1,
            stream_range: frame.header_range.start..frame.payload_range.end,
            wire_len: frame.seen_len,
            len: frame.seen_len,
            payload: frame.payload.clone(),
            payload_complete: frame.payload_complete,
            complete: seen_whole,
            text_valid: None,
            close,
        })
    }

    /// Closes the data message: final inflate, final UTF-8 check, and the event.
    fn finish_message(&mut self, mut building: Building, ended_by_fin: bool) {
        let mut problems: Vec<(ProblemKind, Range<u64>)> = Vec::new();
        let whole = building.stream_range.clone();
        if building.inflate && !building.inflate_failed {
            if let Some(inflater) = self.inflater.as_mut() {
                if ended_by_fin && building.complete {
                    let before = building.payload.len();
                    let result = inflater.end_message(&mut building.payload);
                    inflated(&mut building, before, &whole, &mut problems);
                    match result {
                        Ok(summary) if summary.uses_lost_history => {
                            building.uses_lost_history = true;
                            if let TextCheck::Checking(_) = building.text {
                                building.text = TextCheck::Unknown;
                            }
                            problems.push((StreamIssue::InflateHistoryLost.into(), whole.clone()));
                        }
                        Ok(_) => {}
                        Err(error) => inflate_failed(&mut building, error, &whole, &mut problems),
                    }
                } else {
                    building.inflate_failed = true;
                    inflater.abandon_message();
                }
            }
        }
        let complete = building.complete && ended_by_fin;
        let text_valid = match &mut building.text {
            TextCheck::NotText | TextCheck::Unknown => None,
            TextCheck::Invalid => Some(false),
            TextCheck::Checking(_) if !complete => None,
            TextCheck::Checking(validator) => match validator.finish() {
                Ok(()) => Some(true),
                Err(error) => {
                    let range = locate(&building.recent, error.message_offset, &whole);
                    problems.push((
                        Violation::InvalidUtf8 {
                            message_offset: error.message_offset,
                        }
                        .into(),
                        range,
                    ));
                    Some(false)
                }
            },
        };
        let payload_complete = complete
            && building.keep
            && !building.inflate_failed
            && !building.uses_lost_history
            && building.payload.len() as u64 == building.len;
        for (kind, range) in problems {
            self.problem(kind, range, None, Some(building.index));
        }
        self.events.push(Event::Message(Message {
            index: building.index,
            opcode: building.opcode,
            compressed: building.compressed,
            frames: building.frames,
            n_frames: building.n_frames,
            stream_range: building.stream_range,
            wire_len: building.wire_len,
            len: building.len,
            payload: building.payload,
            payload_complete,
            complete,
            text_valid,
            close: None,
        }));
    }

    /// A hole of `len` bytes at the current position.
    fn hole(&mut self, len: u64) {
        if len == 0 {
            return;
        }
        let start = self.next_offset;
        let end = start.saturating_add(len);
        self.problem(StreamIssue::Gap { len }.into(), start..end, None, None);
        match mem::replace(&mut self.state, State::idle(end)) {
            State::Payload(mut frame) => {
                let remaining = frame.header.payload_len.saturating_sub(frame.position);
                if len < remaining {
                    self.payload_hole(&mut frame, len);
                    self.state = State::Payload(frame);
                } else {
                    self.payload_hole(&mut frame, remaining);
                    self.complete_frame(frame);
                    if len > remaining {
                        self.enter_resync(end);
                    }
                }
            }
            State::Header { bytes, start } => {
                if !bytes.is_empty() {
                    let cut_end = start.saturating_add(bytes.len() as u64);
                    self.problem(
                        StreamIssue::TruncatedHeader { have: bytes.len() }.into(),
                        start..cut_end,
                        None,
                        None,
                    );
                }
                self.enter_resync(end);
            }
            State::Resync {
                buf,
                start,
                skipped_from,
            } => {
                let skipped_to = start.saturating_add(buf.len() as u64);
                self.report_skipped(skipped_from, skipped_to);
                self.state = State::Resync {
                    buf: Vec::new(),
                    start: end,
                    skipped_from: end,
                };
            }
        }
    }

    /// After a hole whose end is not a known frame boundary: scan for the next header.
    fn enter_resync(&mut self, at: u64) {
        self.after_gap = true;
        let inflating = self
            .building
            .as_ref()
            .is_some_and(|b| b.inflate && !b.inflate_failed);
        self.message_hole();
        if !inflating {
            // Compressed messages may have been lost whole: the shared window is unknown.
            if let Some(inflater) = self.inflater.as_mut() {
                inflater.lose_context();
            }
        }
        self.state = State::Resync {
            buf: Vec::new(),
            start: at,
            skipped_from: at,
        };
    }

    fn report_skipped(&mut self, from: u64, to: u64) {
        if to > from {
            self.problem(
                StreamIssue::Skipped {
                    len: to.saturating_sub(from),
                }
                .into(),
                from..to,
                None,
                None,
            );
        }
    }

    /// Runs the resynchronising scan over the kept bytes.
    fn run_resync(&mut self, at_end: bool) {
        let State::Resync {
            mut buf,
            start,
            skipped_from,
        } = mem::replace(&mut self.state, State::idle(self.next_offset))
        else {
            return;
        };
        let window = self.config.limits.max_resync_scan_len;
        let limits = ScanLimits {
            window,
            max_unconfirmed_len: window as u64,
        };
        match resync::scan(&buf, &self.rules, limits, at_end) {
            ScanOutcome::Found { at, confirmed } => {
                let found = start.saturating_add(at as u64);
                self.report_skipped(skipped_from, found);
                self.problem(
                    StreamIssue::Resynchronised { confirmed }.into(),
                    found..found,
                    None,
                    None,
                );
                let rest = buf.split_off(at.min(buf.len()));
                self.state = State::idle(found);
                self.process(&rest, found);
            }
            ScanOutcome::NeedMore { keep_from } => {
                let keep_from = keep_from.min(buf.len());
                buf.drain(..keep_from);
                self.state = State::Resync {
                    buf,
                    start: start.saturating_add(keep_from as u64),
                    skipped_from,
                };
            }
            ScanOutcome::NotFound => {
                let end = start.saturating_add(buf.len() as u64);
                self.report_skipped(skipped_from, end);
                self.state = State::idle(end);
            }
        }
    }
}

impl fmt::Debug for MessageAssembler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageAssembler")
            .field("config", &self.config)
            .field("next_offset", &self.next_offset)
            .field("n_frames", &self.n_frames)
            .field("n_messages", &self.n_messages)
            .field("after_gap", &self.after_gap)
            .field("close_seen", &self.close_seen)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Between frames, at `at`.
    fn idle(at: u64) -> State {
        State::Header {
            bytes: Vec::new(),
            start: at,
        }
    }
}

/// Accounts for bytes the inflater appended to `building.payload` from `before` on.
fn inflated(
    building: &mut Building,
    before: usize,
    range: &Range<u64>,
    problems: &mut Vec<(ProblemKind, Range<u64>)>,
) {
    let added = building.payload.len().saturating_sub(before);
    building.len = building.len.saturating_add(added as u64);
    if added == 0 {
        return;
    }
    let TextCheck::Checking(validator) = &mut building.text else {
        return;
    };
    let new_bytes = building.payload.get(before..).unwrap_or_default();
    if let Err(error) = validator.push(new_bytes) {
        building.text = TextCheck::Invalid;
        // Inflated offsets do not map to single stream bytes: the frame is the best place.
        problems.push((
            Violation::InvalidUtf8 {
                message_offset: error.message_offset,
            }
            .into(),
            range.clone(),
        ));
    }
}

/// Records an inflate failure of the message.
fn inflate_failed(
    building: &mut Building,
    error: DeflateError,
    range: &Range<u64>,
    problems: &mut Vec<(ProblemKind, Range<u64>)>,
) {
    building.inflate_failed = true;
    if let TextCheck::Checking(_) = building.text {
        building.text = TextCheck::Unknown;
    }
    let kind = match error {
        DeflateError::InflatedTooLong { max_inflated_len } => {
            LimitHit::InflateStopped { max_inflated_len }.into()
        }
        other => Violation::Deflate(other).into(),
    };
    problems.push((kind, range.clone()));
}

/// Checks uncompressed text data as it arrives.
fn check_text(
    building: &mut Building,
    data: &[u8],
    fallback: &Range<u64>,
    problems: &mut Vec<(ProblemKind, Range<u64>)>,
) {
    let TextCheck::Checking(validator) = &mut building.text else {
        return;
    };
    if let Err(error) = validator.push(data) {
        building.text = TextCheck::Invalid;
        let range = locate(&building.recent, error.message_offset, fallback);
        problems.push((
            Violation::InvalidUtf8 {
                message_offset: error.message_offset,
            }
            .into(),
            range,
        ));
    }
}

/// The stream byte holding message byte `message_offset`, when it is among the recent pieces.
fn locate(recent: &[ChunkSpan], message_offset: u64, fallback: &Range<u64>) -> Range<u64> {
    recent
        .iter()
        .find(|span| {
            message_offset
                .checked_sub(span.message_offset)
                .is_some_and(|into| into < span.len)
        })
        .map(|span| {
            let at = span
                .stream_offset
                .saturating_add(message_offset.saturating_sub(span.message_offset));
            at..at.saturating_add(1)
        })
        .unwrap_or_else(|| fallback.clone())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#[allow(
    clippy::arithmetic_side_effects,
    reason = "test arithmetic on known small values"
)]
mod tests {
    use flate2::{Compress, Compression, FlushCompress};
    use proptest::prelude::*;

    use super::*;
    use crate::application::websocket::close::{CloseCode, CloseError};
    use crate::application::websocket::deflate::TAIL;
    use crate::application::websocket::frame::{FrameError, LengthFormat};

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// Encodes one frame: header, then the payload masked with `mask` when given.
    fn encode(fin: bool, rsv1: bool, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
        let mut header = FrameHeader::new(OpCode::from(opcode), mask, payload.len() as u64);
        header.fin = fin;
        header.rsv1 = rsv1;
        let mut bytes = header.encode();
        let mut body = payload.to_vec();
        if let Some(key) = mask {
            mask::unmask(&mut body, key, 0);
        }
        bytes.extend_from_slice(&body);
        bytes
    }

    fn server() -> Config {
        Config::new(Sender::Server)
    }

    fn client() -> Config {
        Config::new(Sender::Client)
    }

    fn deflate(config: Config, header: &str) -> Config {
        Config {
            deflate: DeflateParams::negotiated(header).unwrap(),
            ..config
        }
    }

    /// Feeds the chunks in order from offset 0, then finishes.
    fn run(config: Config, chunks: &[&[u8]]) -> Vec<Event> {
        let mut assembler = MessageAssembler::new(config, 0);
        let mut events = Vec::new();
        let mut offset = 0;
        for chunk in chunks {
            events.extend(assembler.feed(chunk, offset));
            offset += chunk.len() as u64;
        }
        events.extend(assembler.finish());
        events
    }

    fn messages(events: &[Event]) -> Vec<&Message> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    fn frames(events: &[Event]) -> Vec<&Frame> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Frame(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    fn problems(events: &[Event]) -> Vec<&Problem> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Problem(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    fn rules(events: &[Event]) -> Vec<&'static str> {
        problems(events).iter().map(|p| p.kind.rule()).collect()
    }

    // --- RFC 6455 §5.7 examples -------------------------------------------------------------

    #[test]
    fn rfc_single_frame_unmasked_text() {
        // 0x81 0x05 "Hello": FIN, text, unmasked, length 5.
        let events = run(server(), &[&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]]);
        assert!(problems(&events).is_empty(), "{events:?}");
        let frame = frames(&events)[0];
        assert_eq!(frame.header_range, 0..2);
        assert_eq!(frame.payload_range, 2..7);
        assert_eq!(frame.payload, b"Hello");
        assert!(frame.payload_complete);
        let message = messages(&events)[0];
        assert_eq!(message.opcode, OpCode::Data(Data::Text));
        assert_eq!(message.payload, b"Hello");
        assert_eq!(message.stream_range, 0..7);
        assert!(message.complete && message.payload_complete);
        assert_eq!(message.text_valid, Some(true));
        assert!(matches!(
            events[0],
            Event::FrameStart(FrameStart { index: 0, .. })
        ));
    }

    #[test]
    fn rfc_single_frame_masked_text() {
        let bytes = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let events = run(client(), &[&bytes]);
        assert!(problems(&events).is_empty(), "{events:?}");
        let frame = frames(&events)[0];
        assert_eq!(frame.header.mask, Some(KEY));
        assert_eq!(frame.payload, b"Hello");
        assert_eq!(frame.masked_payload(), bytes[6..]);
        let layout = frame.header.layout();
        assert_eq!(frame.stream_range_of(layout.masking_key.unwrap()), 2..6);
        assert_eq!(messages(&events)[0].payload, b"Hello");
    }

    #[test]
    fn rfc_fragmented_unmasked_text() {
        let events = run(
            server(),
            &[&[0x01, 0x03, 0x48, 0x65, 0x6c], &[0x80, 0x02, 0x6c, 0x6f]],
        );
        assert!(problems(&events).is_empty(), "{events:?}");
        let message = messages(&events)[0];
        assert_eq!(message.payload, b"Hello");
        assert_eq!(message.n_frames, 2);
        assert_eq!(
            message.frames,
            vec![
                FrameRef {
                    index: 0,
                    header_range: 0..2,
                    payload_range: 2..5
                },
                FrameRef {
                    index: 1,
                    header_range: 5..7,
                    payload_range: 7..9
                }
            ]
        );
        assert_eq!(message.stream_range, 0..9);
    }

    #[test]
    fn rfc_ping_and_masked_pong() {
        let ping = run(server(), &[&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]]);
        assert!(problems(&ping).is_empty());
        let message = messages(&ping)[0];
        assert_eq!(message.opcode, OpCode::Control(Control::Ping));
        assert_eq!(message.payload, b"Hello");
        let pong = run(
            client(),
            &[&[
                0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ]],
        );
        assert!(problems(&pong).is_empty());
        assert_eq!(messages(&pong)[0].opcode, OpCode::Control(Control::Pong));
        assert_eq!(messages(&pong)[0].payload, b"Hello");
    }

    #[test]
    fn rfc_256_byte_binary() {
        let mut bytes = vec![0x82, 0x7E, 0x01, 0x00];
        bytes.extend((0..256u32).map(|i| i as u8));
        let events = run(server(), &[&bytes]);
        assert!(problems(&events).is_empty());
        let frame = frames(&events)[0];
        assert_eq!(frame.header.length_format, LengthFormat::U16);
        assert_eq!(frame.header_range, 0..4);
        assert_eq!(frame.payload_range, 4..260);
        assert_eq!(messages(&events)[0].len, 256);
    }

    #[test]
    fn rfc_64_kib_binary() {
        let mut bytes = vec![0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
        bytes.extend(std::iter::repeat_n(0xAB, 65536));
        // Fed in TCP-sized chunks.
        let chunks: Vec<&[u8]> = bytes.chunks(1460).collect();
        let events = run(server(), &chunks);
        assert!(problems(&events).is_empty());
        let frame = frames(&events)[0];
        assert_eq!(frame.header_range, 0..10);
        assert_eq!(frame.payload_range, 10..65546);
        let message = messages(&events)[0];
        assert_eq!(message.len, 65536);
        assert!(message.payload.iter().all(|&b| b == 0xAB));
        assert_eq!(message.text_valid, None);
    }

    // --- Streaming ---------------------------------------------------------------------------

    #[test]
    fn byte_by_byte_feeding_gives_the_same_events() {
        let mut stream = encode(false, false, 1, Some(KEY), "hé".as_bytes());
        stream.extend(encode(true, false, 9, Some(KEY), b"ping"));
        stream.extend(encode(true, false, 0, Some(KEY), "llo €".as_bytes()));
        stream.extend(encode(true, false, 2, Some([1, 2, 3, 4]), &[0u8; 300]));
        let whole = run(client(), &[&stream]);
        let pieces: Vec<&[u8]> = stream.chunks(1).collect();
        let split = run(client(), &pieces);
        assert_eq!(whole, split);
        assert!(problems(&whole).is_empty(), "{whole:?}");
        let texts: Vec<&[u8]> = messages(&whole)
            .iter()
            .map(|m| m.payload.as_slice())
            .collect();
        assert_eq!(
            texts,
            [b"ping".as_slice(), "héllo €".as_bytes(), &[0u8; 300]]
        );
    }

    #[test]
    fn every_prefix_of_a_frame_is_incomplete_never_a_violation() {
        let frame = encode(true, false, 1, Some(KEY), b"Hello, world");
        for cut in 0..frame.len() {
            let mut assembler = MessageAssembler::new(client(), 0);
            let events = assembler.feed(&frame[..cut], 0);
            assert!(frames(&events).is_empty(), "cut {cut}");
            assert!(problems(&events).is_empty(), "cut {cut}");
            let end = assembler.finish();
            let expected = if cut == 0 {
                vec![]
            } else if cut < 6 {
                vec!["TruncatedHeader"]
            } else {
                vec!["TruncatedPayload"]
            };
            assert_eq!(rules(&end), expected, "cut {cut}");
            if cut >= 6 {
                let message = messages(&end)[0];
                assert!(!message.complete);
                assert_eq!(message.payload, &b"Hello, world"[..cut - 6]);
                assert_eq!(message.text_valid, None);
            }
        }
    }

    #[test]
    fn control_frames_between_fragments() {
        let mut stream = encode(false, false, 1, None, b"Hel");
        stream.extend(encode(true, false, 9, None, b"p"));
        stream.extend(encode(true, false, 0xA, None, b""));
        stream.extend(encode(true, false, 0, None, b"lo"));
        let events = run(server(), &[&stream]);
        assert!(problems(&events).is_empty());
        let all = messages(&events);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].opcode, OpCode::Control(Control::Ping));
        assert_eq!(all[1].opcode, OpCode::Control(Control::Pong));
        assert_eq!(all[2].payload, b"Hello");
        assert_eq!(all[2].n_frames, 2);
        // The text message was opened first, so it has the lower index.
        assert_eq!(all[2].index, 0);
        assert_eq!(frames(&events)[3].message_index, Some(0));
    }

    #[test]
    fn empty_final_fragment_is_fine() {
        let mut stream = encode(false, false, 1, None, b"Hello");
        stream.extend(encode(true, false, 0, None, b""));
        let events = run(server(), &[&stream]);
        assert!(problems(&events).is_empty());
        let message = messages(&events)[0];
        assert_eq!(message.payload, b"Hello");
        assert!(message.complete);
        assert_eq!(message.text_valid, Some(true));
    }

    #[test]
    fn utf8_split_across_fragments_is_valid() {
        // "€" = E2 82 AC, split E2 | 82 AC.
        let mut stream = encode(false, false, 1, None, &[0xE2]);
        stream.extend(encode(true, false, 0, None, &[0x82, 0xAC]));
        let events = run(server(), &[&stream]);
        assert!(problems(&events).is_empty());
        assert_eq!(messages(&events)[0].text_valid, Some(true));
    }

    #[test]
    fn close_frame_is_parsed() {
        // Close 1000 "bye", masked by the client.
        let stream = encode(true, false, 8, Some(KEY), &[0x03, 0xE8, b'b', b'y', b'e']);
        let events = run(client(), &[&stream]);
        assert!(problems(&events).is_empty());
        let close = messages(&events)[0].close.clone().unwrap();
        assert_eq!(close.code, Some(CloseCode::NORMAL));
        assert_eq!(close.reason_str(), Some("bye"));
    }

    // --- One test per violation --------------------------------------------------------------

    fn only_violation(config: Config, stream: &[u8]) -> (Violation, Range<u64>) {
        let events = run(config, &[stream]);
        let found: Vec<_> = problems(&events)
            .into_iter()
            .filter_map(|p| match &p.kind {
                ProblemKind::Violation(v) => Some((v.clone(), p.stream_range.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(found.len(), 1, "{events:?}");
        found.into_iter().next().unwrap()
    }

    #[test]
    fn violation_unmasked_client_frame() {
        let (v, range) = only_violation(client(), &encode(true, false, 1, None, b"hi"));
        assert_eq!(v, Violation::UnmaskedClientFrame);
        assert_eq!(range, 0..2);
        assert_eq!(v.section(), "RFC 6455 §5.1");
    }

    #[test]
    fn violation_masked_server_frame() {
        let (v, _) = only_violation(server(), &encode(true, false, 1, Some(KEY), b"hi"));
        assert_eq!(v, Violation::MaskedServerFrame);
    }

    #[test]
    fn violation_reserved_bit_without_extension() {
        let (v, _) = only_violation(server(), &encode(true, true, 2, None, b"hi"));
        assert_eq!(v.rule(), "ReservedBitWithoutExtension");
        assert_eq!(v.section(), "RFC 6455 §5.2");
    }

    #[test]
    fn violation_control_frame_too_long() {
        let (v, _) = only_violation(server(), &encode(true, false, 9, None, &[0; 126]));
        assert_eq!(
            v,
            Violation::Frame(FrameError::ControlFrameTooLong { payload_len: 126 })
        );
        assert_eq!(v.section(), "RFC 6455 §5.5");
    }

    #[test]
    fn violation_fragmented_control_frame() {
        let (v, _) = only_violation(server(), &encode(false, false, 9, None, b"x"));
        assert_eq!(
            v,
            Violation::Frame(FrameError::FragmentedControlFrame { opcode: 9 })
        );
    }

    #[test]
    fn violation_continuation_without_start() {
        let (v, range) = only_violation(server(), &encode(true, false, 0, None, b"lo"));
        assert_eq!(v, Violation::ContinuationWithoutStart);
        assert_eq!(range, 0..2);
        // The orphan is still reported as a message.
        let events = run(server(), &[&encode(true, false, 0, None, b"lo")]);
        let message = messages(&events)[0];
        assert_eq!(message.payload, b"lo");
        assert!(!message.complete);
    }

    #[test]
    fn violation_data_frame_inside_fragmented_message() {
        let mut stream = encode(false, false, 1, None, b"Hel");
        stream.extend(encode(true, false, 2, None, b"xy"));
        let (v, range) = only_violation(server(), &stream);
        assert_eq!(v, Violation::DataFrameInsideFragmentedMessage);
        assert_eq!(range, 5..7);
        let events = run(server(), &[&stream]);
        let all = messages(&events);
        assert_eq!(all.len(), 2);
        assert!(!all[0].complete);
        assert_eq!(all[0].payload, b"Hel");
        assert_eq!(all[1].payload, b"xy");
    }

    #[test]
    fn violation_invalid_utf8_is_located() {
        // "Hel" then, in the next fragment, "l" and the invalid byte 0xFF.
        let mut stream = encode(false, false, 1, None, b"Hel");
        stream.extend(encode(true, false, 0, None, &[b'l', 0xFF]));
        let (v, range) = only_violation(server(), &stream);
        assert_eq!(v, Violation::InvalidUtf8 { message_offset: 4 });
        // Frame 2 starts at 5; its payload at 7; the bad byte is the second payload byte.
        assert_eq!(range, 8..9);
        let events = run(server(), &[&stream]);
        assert_eq!(messages(&events)[0].text_valid, Some(false));
    }

    #[test]
    fn violation_invalid_utf8_unfinished_at_message_end() {
        let stream = encode(true, false, 1, None, &[b'a', 0xE2, 0x82]);
        let (v, range) = only_violation(server(), &stream);
        assert_eq!(v, Violation::InvalidUtf8 { message_offset: 1 });
        assert_eq!(range, 3..4);
    }

    #[test]
    fn violation_reserved_opcode() {
        let (v, _) = only_violation(server(), &encode(true, false, 3, None, b"?"));
        assert_eq!(
            v,
            Violation::Frame(FrameError::ReservedOpcode { opcode: 3 })
        );
        let events = run(server(), &[&encode(true, false, 0xB, None, b"?")]);
        assert_eq!(rules(&events), ["ReservedOpcode"]);
        assert!(messages(&events).is_empty());
        assert_eq!(frames(&events)[0].payload, b"?");
    }

    #[test]
    fn violation_invalid_close_code() {
        // 1005 must never be sent.
        let (v, range) = only_violation(server(), &encode(true, false, 8, None, &[0x03, 0xED]));
        assert_eq!(v.rule(), "InvalidCloseCode");
        assert_eq!(v.section(), "RFC 6455 §7.4");
        assert_eq!(range, 2..4);
    }

    #[test]
    fn violation_close_body_of_one_byte() {
        let (v, _) = only_violation(server(), &encode(true, false, 8, None, &[0x03]));
        assert_eq!(v, Violation::Close(CloseError::BodyTooShort));
    }

    #[test]
    fn violation_close_reason_not_utf8() {
        let (v, _) = only_violation(server(), &encode(true, false, 8, None, &[0x03, 0xE8, 0xC0]));
        assert_eq!(
            v,
            Violation::Close(CloseError::InvalidReasonUtf8 { body_offset: 2 })
        );
    }

    #[test]
    fn violation_data_after_close() {
        let mut stream = encode(true, false, 8, None, &[0x03, 0xE8]);
        stream.extend(encode(true, false, 1, None, b"late"));
        let (v, range) = only_violation(server(), &stream);
        assert_eq!(v, Violation::DataAfterClose);
        assert_eq!(range, 4..6);
        // A pong after Close is not a data frame.
        let mut stream = encode(true, false, 8, None, &[]);
        stream.extend(encode(true, false, 0xA, None, b""));
        assert!(problems(&run(server(), &[&stream])).is_empty());
    }

    #[test]
    fn violation_non_minimal_length() {
        // 126 -> 16-bit length 3.
        let stream = [0x82, 0x7E, 0x00, 0x03, 1, 2, 3];
        let (v, _) = only_violation(server(), &stream);
        assert_eq!(v.rule(), "NonMinimalLength");
        let events = run(server(), &[&stream]);
        assert_eq!(messages(&events)[0].payload, [1, 2, 3]);
    }

    #[test]
    fn violation_length_64_msb_set() {
        // The length is absurd; the frame swallows the rest of the stream.
        let stream = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 1, 2];
        let events = run(server(), &[&stream]);
        let found = rules(&events);
        assert_eq!(found[0], "Length64MsbSet");
        assert!(found.contains(&"FrameNotBuffered"));
        assert!(found.contains(&"TruncatedPayload"));
        assert_eq!(frames(&events)[0].header.payload_len, 0x8000_0000_0000_0002);
        assert_eq!(frames(&events)[0].payload, [1, 2]);
    }

    #[test]
    fn violation_compressed_control_and_continuation_frames() {
        let config = deflate(server(), "permessage-deflate");
        let (v, _) = only_violation(config, &encode(true, true, 9, None, b""));
        assert_eq!(v, Violation::CompressedControlFrame);
        let mut stream = encode(false, false, 2, None, b"ab");
        stream.extend(encode(true, true, 0, None, b"cd"));
        let (v, _) = only_violation(config, &stream);
        assert_eq!(v, Violation::CompressedContinuationFrame);
    }

    #[test]
    fn violation_corrupt_deflate_data() {
        let config = deflate(server(), "permessage-deflate");
        let (v, _) = only_violation(config, &encode(true, true, 2, None, &[0xFF, 0xFF]));
        assert_eq!(v.rule(), "CorruptDeflateData");
        assert_eq!(v.section(), "RFC 7692 §7.2.2");
    }

    #[test]
    fn other_extensions_allow_reserved_bits() {
        let config = Config {
            other_extensions: true,
            ..server()
        };
        let events = run(config, &[&encode(true, true, 1, None, &[0xFF])]);
        assert!(problems(&events).is_empty());
        // The data was transformed by an unknown extension, so the text is not checked.
        assert_eq!(messages(&events)[0].text_valid, None);
    }

    // --- permessage-deflate (RFC 7692 §7.2.3) ------------------------------------------------

    #[test]
    fn rfc_7692_compressed_hello() {
        let config = deflate(server(), "permessage-deflate");
        let stream = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let events = run(config, &[&stream]);
        assert!(problems(&events).is_empty(), "{events:?}");
        let message = messages(&events)[0];
        assert!(message.compressed);
        assert_eq!(message.payload, b"Hello");
        assert_eq!(message.wire_len, 7);
        assert_eq!(message.len, 5);
        assert_eq!(message.text_valid, Some(true));
        assert!(message.payload_complete);
    }

    #[test]
    fn rfc_7692_compressed_fragments() {
        let config = deflate(server(), "permessage-deflate");
        let stream = [
            0x41, 0x03, 0xf2, 0x48, 0xcd, // first fragment, RSV1
            0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00, // final continuation
        ];
        let events = run(config, &[&stream[..4], &stream[4..]]);
        assert!(problems(&events).is_empty(), "{events:?}");
        assert_eq!(messages(&events)[0].payload, b"Hello");
    }

    #[test]
    fn rfc_7692_context_takeover_and_its_absence() {
        let mut stream = vec![0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        stream.extend([0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
        let events = run(deflate(server(), "permessage-deflate"), &[&stream]);
        assert!(problems(&events).is_empty(), "{events:?}");
        let payloads: Vec<&[u8]> = messages(&events)
            .iter()
            .map(|m| m.payload.as_slice())
            .collect();
        assert_eq!(payloads, [b"Hello", b"Hello"]);
        // Without takeover, each message stands alone.
        let mut stream = vec![0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        stream.extend([0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        let config = deflate(server(), "permessage-deflate; server_no_context_takeover");
        let events = run(config, &[&stream]);
        assert!(problems(&events).is_empty());
        assert_eq!(messages(&events)[1].payload, b"Hello");
    }

    #[test]
    fn rfc_7692_uncompressed_block_and_empty_messages() {
        let config = deflate(client(), "permessage-deflate");
        let mut stream = encode(
            true,
            true,
            1,
            Some(KEY),
            &[
                0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
            ],
        );
        stream.extend(encode(true, true, 1, Some(KEY), &[0x00]));
        stream.extend(encode(true, true, 2, Some(KEY), &[]));
        let events = run(config, &[&stream]);
        assert!(problems(&events).is_empty(), "{events:?}");
        let payloads: Vec<&[u8]> = messages(&events)
            .iter()
            .map(|m| m.payload.as_slice())
            .collect();
        assert_eq!(payloads, [b"Hello".as_slice(), b"", b""]);
    }

    #[test]
    fn uncompressed_message_under_deflate_is_plain() {
        let config = deflate(server(), "permessage-deflate");
        let events = run(config, &[&encode(true, false, 1, None, b"plain")]);
        assert!(problems(&events).is_empty());
        assert!(!messages(&events)[0].compressed);
        assert_eq!(messages(&events)[0].payload, b"plain");
    }

    #[test]
    fn config_from_the_response_header() {
        let config = Config::negotiated(Sender::Client, None).unwrap();
        assert_eq!(config, client());
        let config = Config::negotiated(
            Sender::Server,
            Some("permessage-deflate; server_no_context_takeover, x-custom"),
        )
        .unwrap();
        assert!(config.deflate.unwrap().server_no_context_takeover);
        assert!(config.other_extensions);
        let config = Config::negotiated(Sender::Server, Some("permessage-deflate")).unwrap();
        assert!(!config.other_extensions);
        let error =
            Config::negotiated(Sender::Server, Some("permessage-deflate; bogus")).unwrap_err();
        assert_eq!(error.rule(), "UnknownDeflateParameter");
    }

    // --- Limits ------------------------------------------------------------------------------

    fn small_limits(config: Config) -> Config {
        Config {
            limits: Limits {
                max_frame_len: 8,
                max_message_len: 12,
                max_inflated_len: 1000,
                max_message_frames: 2,
                max_resync_scan_len: 64,
                keep_data_frames: true,
            },
            ..config
        }
    }

    #[test]
    fn without_data_frame_payloads_the_messages_are_the_same() {
        let mut close = vec![0x03, 0xe8];
        close.extend_from_slice(b"bye");
        let stream = [
            encode(false, false, 1, Some(KEY), b"hel"),
            encode(true, false, 0, Some(KEY), b"lo"),
            encode(true, false, 2, Some(KEY), &[0u8; 300]),
            encode(true, false, 8, Some(KEY), &close),
        ]
        .concat();
        // Cut everywhere, so frames span pieces.
        let pieces: Vec<&[u8]> = stream.chunks(7).collect();
        let kept = run(client(), &pieces);
        let mut config = client();
        config.limits.keep_data_frames = false;
        let light = run(config, &pieces);
        assert_eq!(messages(&kept), messages(&light));
        assert_eq!(problems(&kept), problems(&light));
        let payloads = |events: &[Event]| -> Vec<Vec<u8>> {
            frames(events).iter().map(|f| f.payload.clone()).collect()
        };
        assert_eq!(
            payloads(&light),
            vec![Vec::new(), Vec::new(), Vec::new(), close.clone()]
        );
        assert_eq!(payloads(&kept)[1], b"lo");
        assert_eq!(messages(&light)[0].payload, b"hello");
    }

    #[test]
    fn frame_over_the_limit_keeps_a_prefix() {
        let events = run(
            small_limits(server()),
            &[&encode(true, false, 2, None, b"0123456789")],
        );
        assert_eq!(rules(&events), ["FrameNotBuffered"]);
        let frame = frames(&events)[0];
        assert_eq!(frame.payload, b"01234567");
        assert!(!frame.payload_complete);
        assert_eq!(frame.seen_len, 10);
        // The message limit (12) is separate: the message keeps everything.
        assert_eq!(messages(&events)[0].payload, b"0123456789");
    }

    #[test]
    fn message_over_the_limit_is_counted_not_kept() {
        let mut stream = Vec::new();
        for _ in 0..4 {
            stream.extend(encode(false, false, 0, None, b"abcde"));
        }
        stream[0] = 0x01; // The first frame is text.
        stream.extend(encode(true, false, 0, None, b""));
        let events = run(small_limits(server()), &[&stream]);
        assert_eq!(rules(&events), ["MessageNotBuffered", "TooManyFrames"]);
        let message = messages(&events)[0];
        assert_eq!(message.len, 20);
        assert_eq!(message.payload, b"abcdeabcdeab");
        assert!(message.complete);
        assert!(!message.payload_complete);
        assert_eq!(message.text_valid, Some(true));
        assert_eq!(message.n_frames, 5);
        assert_eq!(message.frames.len(), 2);
    }

    #[test]
    fn deflate_bomb_is_stopped() {
        let zeros = vec![0u8; 1 << 20];
        let mut compress = Compress::new(Compression::best(), false);
        let mut bomb = Vec::with_capacity(8192);
        compress
            .compress_vec(&zeros, &mut bomb, FlushCompress::Sync)
            .unwrap();
        assert!(bomb.ends_with(&TAIL));
        bomb.truncate(bomb.len() - 4);
        let config = small_limits(deflate(server(), "permessage-deflate"));
        let config = Config {
            limits: Limits {
                max_frame_len: 1 << 20,
                ..config.limits
            },
            ..config
        };
        let events = run(config, &[&encode(true, true, 2, None, &bomb)]);
        assert_eq!(rules(&events), ["InflateStopped"]);
        let message = messages(&events)[0];
        assert_eq!(message.payload.len(), 1000);
        assert_eq!(message.len, 1000);
        assert!(!message.payload_complete);
    }

    // --- Holes --------------------------------------------------------------------------------

    #[test]
    fn hole_inside_a_payload_keeps_the_framing() {
        let first = encode(true, false, 2, Some(KEY), b"0123456789");
        let second = encode(true, false, 1, Some(KEY), b"next");
        let mut assembler = MessageAssembler::new(client(), 100);
        let mut events = assembler.feed(&first[..8], 100);
        events.extend(assembler.gap(4));
        events.extend(assembler.feed(&first[12..], 112));
        events.extend(assembler.feed(&second, 116));
        events.extend(assembler.finish());
        assert_eq!(rules(&events), ["Gap"]);
        let gap = problems(&events)[0];
        assert_eq!(gap.stream_range, 108..112);
        let all = messages(&events);
        assert!(!all[0].complete);
        assert!(!all[0].payload_complete);
        assert_eq!(all[0].payload, b"01");
        assert_eq!(all[1].payload, b"next");
        assert!(all[1].complete);
        let frame = frames(&events)[0];
        assert_eq!(frame.seen_len, 6);
    }

    #[test]
    fn hole_across_a_frame_end_resynchronises() {
        let mut stream = encode(true, false, 1, None, b"first message");
        let cut_from = 5;
        let cut_to = stream.len() + 3;
        stream.extend(encode(true, false, 1, None, b"second"));
        let third_at = stream.len() as u64;
        stream.extend(encode(true, false, 1, None, b"third"));
        stream.extend(encode(true, false, 1, None, b"fourth"));
        let mut assembler = MessageAssembler::new(server(), 0);
        let mut events = assembler.feed(&stream[..cut_from], 0);
        events.extend(assembler.feed(&stream[cut_to..], cut_to as u64));
        events.extend(assembler.finish());
        let found = rules(&events);
        assert_eq!(found, ["Gap", "Skipped", "Resynchronised"], "{events:?}");
        let skipped = problems(&events)[1];
        assert_eq!(skipped.stream_range, cut_to as u64..third_at);
        let payloads: Vec<&[u8]> = messages(&events)
            .iter()
            .map(|m| m.payload.as_slice())
            .collect();
        assert_eq!(payloads, [b"fir".as_slice(), b"third", b"fourth"]);
        assert!(!messages(&events)[0].complete);
    }

    #[test]
    fn hole_ending_exactly_at_a_frame_end_needs_no_scan() {
        let first = encode(true, false, 1, None, b"abc");
        let second = encode(true, false, 1, None, b"def");
        let mut assembler = MessageAssembler::new(server(), 0);
        let mut events = assembler.feed(&first[..3], 0);
        events.extend(assembler.gap(2));
        events.extend(assembler.feed(&second, 5));
        events.extend(assembler.finish());
        assert_eq!(rules(&events), ["Gap"]);
        assert_eq!(messages(&events)[1].payload, b"def");
    }

    #[test]
    fn hole_inside_a_header_resynchronises() {
        let first = encode(true, false, 2, None, &[0u8; 300]);
        let mut stream = first.clone();
        stream.extend(encode(true, false, 1, None, b"after"));
        let mut assembler = MessageAssembler::new(server(), 0);
        let mut events = assembler.feed(&stream[..1], 0);
        events.extend(assembler.feed(&stream[first.len()..], first.len() as u64));
        events.extend(assembler.finish());
        assert_eq!(
            rules(&events),
            ["Gap", "TruncatedHeader", "Resynchronised"],
            "{events:?}"
        );
        assert_eq!(messages(&events)[0].payload, b"after");
    }

    #[test]
    fn hole_inside_a_fragmented_message_allows_its_continuation() {
        let mut stream = encode(false, false, 1, None, b"one");
        stream.extend(encode(false, false, 0, None, b"two"));
        let third_at = stream.len();
        stream.extend(encode(true, false, 0, None, b"three"));
        let mut assembler = MessageAssembler::new(server(), 0);
        let mut events = assembler.feed(&stream[..6], 0);
        events.extend(assembler.feed(&stream[third_at - 1..], third_at as u64 - 1));
        events.extend(assembler.finish());
        // No ContinuationWithoutStart: the order is unknown after the hole.
        assert_eq!(
            rules(&events),
            ["Gap", "TruncatedHeader", "Skipped", "Resynchronised"],
            "{events:?}"
        );
        let message = messages(&events)[0];
        // The "two" fragment was lost in the hole.
        assert_eq!(message.n_frames, 2);
        assert_eq!(message.payload, b"one");
        assert!(!message.complete);
        assert_eq!(message.text_valid, None);
    }

    #[test]
    fn feed_overlap_is_ignored_and_reported() {
        let stream = encode(true, false, 1, None, b"Hello");
        let mut assembler = MessageAssembler::new(server(), 0);
        let mut events = assembler.feed(&stream[..4], 0);
        events.extend(assembler.feed(&stream[2..], 2));
        events.extend(assembler.finish());
        assert_eq!(rules(&events), ["Overlap"]);
        assert_eq!(messages(&events)[0].payload, b"Hello");
    }

    #[test]
    fn hole_under_context_takeover_flags_lost_history() {
        let config = deflate(server(), "permessage-deflate");
        let first = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let second = [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00];
        let mut assembler = MessageAssembler::new(config, 0);
        // The first message is lost entirely, together with a few bytes before the second.
        let mut events = assembler.gap(first.len() as u64);
        events.extend(assembler.feed(&second, first.len() as u64));
        events.extend(assembler.finish());
        assert_eq!(
            rules(&events),
            ["Gap", "Resynchronised", "InflateHistoryLost"],
            "{events:?}"
        );
        let message = messages(&events)[0];
        assert!(message.complete);
        assert!(!message.payload_complete);
        assert_eq!(message.payload[0], b'H');
    }

    #[test]
    fn unfinished_message_at_the_end() {
        let events = run(server(), &[&encode(false, false, 1, None, b"part")]);
        assert_eq!(rules(&events), ["UnfinishedMessage"]);
        let message = messages(&events)[0];
        assert!(!message.complete);
        assert_eq!(message.payload, b"part");
    }

    // --- Properties --------------------------------------------------------------------------

    #[derive(Debug, Clone)]
    struct Sent {
        opcode: u8,
        data: Vec<u8>,
        /// Fragment boundaries (sorted offsets into `data`).
        cuts: Vec<usize>,
        /// A ping sent after the first fragment.
        ping: Option<Vec<u8>>,
    }

    fn any_message() -> impl Strategy<Value = Sent> {
        (
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..300),
            "\\PC{0,80}",
            proptest::collection::vec(0usize..300, 0..4),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
        )
            .prop_map(|(text, bytes, string, mut cuts, ping)| {
                let data = if text { string.into_bytes() } else { bytes };
                cuts.retain(|&c| c <= data.len());
                cuts.sort_unstable();
                Sent {
                    opcode: if text { 1 } else { 2 },
                    data,
                    cuts,
                    ping,
                }
            })
    }

    /// Frames the messages; returns the stream and the expected message payloads in order.
    fn frame_all(
        sent: &[Sent],
        masks: &[[u8; 4]],
        mut compress: Option<&mut Compress>,
    ) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for (i, message) in sent.iter().enumerate() {
            let mask = masks.get(i % masks.len().max(1)).copied();
            let (wire, rsv1) = match compress.as_deref_mut() {
                Some(compress) => {
                    let mut out = Vec::with_capacity(message.data.len() + 64);
                    let mut input = message.data.as_slice();
                    loop {
                        out.reserve(256);
                        let before = compress.total_in();
                        compress
                            .compress_vec(input, &mut out, FlushCompress::Sync)
                            .unwrap();
                        input = &input[(compress.total_in() - before) as usize..];
                        if input.is_empty() && out.len() < out.capacity() {
                            break;
                        }
                    }
                    // zlib writes nothing for an empty message after a flush; otherwise
                    // the flush's empty stored block ends the output (§7.2.1).
                    if out.ends_with(&[0x00, 0x00, 0xff, 0xff]) {
                        out.truncate(out.len() - 4);
                    }
                    (out, true)
                }
                None => (message.data.clone(), false),
            };
            let mut bounds = vec![0];
            bounds.extend(message.cuts.iter().map(|&c| c.min(wire.len())));
            bounds.push(wire.len());
            let n = bounds.len() - 1;
            for f in 0..n {
                let opcode = if f == 0 { message.opcode } else { 0 };
                let fin = f == n - 1;
                let part = &wire[bounds[f]..bounds[f + 1]];
                stream.extend(encode(fin, rsv1 && f == 0, opcode, mask, part));
                if f == 0 {
                    if let Some(ping) = &message.ping {
                        // The ping sits between fragments, or after a single-frame message.
                        stream.extend(encode(true, false, 9, mask, ping));
                        if n > 1 {
                            expected.push(ping.clone());
                        }
                    }
                }
            }
            expected.push(message.data.clone());
            if let (1, Some(ping)) = (n, &message.ping) {
                expected.push(ping.clone());
            }
        }
        (stream, expected)
    }

    fn feed_in_chunks(config: Config, stream: &[u8], sizes: &[usize]) -> Vec<Event> {
        let mut assembler = MessageAssembler::new(config, 7);
        let mut events = Vec::new();
        let mut at = 0;
        let mut i = 0;
        while at < stream.len() {
            let size = sizes
                .get(i % sizes.len().max(1))
                .copied()
                .unwrap_or(1)
                .max(1);
            let end = (at + size).min(stream.len());
            events.extend(assembler.feed(&stream[at..end], 7 + at as u64));
            at = end;
            i += 1;
        }
        events.extend(assembler.finish());
        events
    }

    proptest! {
        #[test]
        fn random_messages_reassemble(
            sent in proptest::collection::vec(any_message(), 1..6),
            masks in proptest::collection::vec(any::<[u8; 4]>(), 1..4),
            sizes in proptest::collection::vec(1usize..200, 1..8),
            from_client in any::<bool>(),
        ) {
            let (config, masks) = if from_client { (client(), masks) } else { (server(), vec![]) };
            let (stream, expected) = frame_all(&sent, &masks, None);
            let events = feed_in_chunks(config, &stream, &sizes);
            prop_assert!(problems(&events).is_empty(), "{:?}", problems(&events));
            let got: Vec<Vec<u8>> = messages(&events).iter().map(|m| m.payload.clone()).collect();
            prop_assert_eq!(got, expected);
            for message in messages(&events) {
                prop_assert!(message.complete && message.payload_complete);
                if message.opcode == OpCode::Data(Data::Text) {
                    prop_assert_eq!(message.text_valid, Some(true));
                }
                for frame in &message.frames {
                    prop_assert!(frame.header_range.end == frame.payload_range.start);
                    prop_assert!(frame.payload_range.end <= 7 + stream.len() as u64);
                }
            }
        }

        #[test]
        fn random_compressed_messages_reassemble(
            sent in proptest::collection::vec(any_message(), 1..5),
            sizes in proptest::collection::vec(1usize..100, 1..8),
            no_context_takeover in any::<bool>(),
        ) {
            let header = if no_context_takeover {
                "permessage-deflate; client_no_context_takeover"
            } else {
                "permessage-deflate"
            };
            let config = deflate(client(), header);
            let mut compress = Compress::new(Compression::default(), false);
            let mut stream = Vec::new();
            let mut expected = Vec::new();
            for message in &sent {
                if no_context_takeover {
                    compress.reset();
                }
                let (part, payloads) = frame_all(std::slice::from_ref(message), &[KEY], Some(&mut compress));
                stream.extend(part);
                expected.extend(payloads);
            }
            let events = feed_in_chunks(config, &stream, &sizes);
            prop_assert!(problems(&events).is_empty(), "{:?}", problems(&events));
            let got: Vec<Vec<u8>> = messages(&events).iter().map(|m| m.payload.clone()).collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn random_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            sizes in proptest::collection::vec(1usize..64, 1..6),
            holes in proptest::collection::vec((0usize..600, 1u64..40), 0..3),
            from_client in any::<bool>(),
            with_deflate in any::<bool>(),
        ) {
            let base = if from_client { client() } else { server() };
            let config = small_limits(if with_deflate { deflate(base, "permessage-deflate") } else { base });
            let mut assembler = MessageAssembler::new(config, 0);
            let mut events = Vec::new();
            let mut at = 0usize;
            let mut offset = 0u64;
            let mut i = 0;
            while at < bytes.len() {
                let size = sizes[i % sizes.len()];
                let end = (at + size).min(bytes.len());
                if let Some(&(_, len)) = holes.iter().find(|(pos, _)| *pos >= at && *pos < end) {
                    events.extend(assembler.gap(len));
                    offset += len;
                }
                events.extend(assembler.feed(&bytes[at..end], offset));
                offset += (end - at) as u64;
                at = end;
                i += 1;
            }
            events.extend(assembler.finish());
            for event in &events {
                match event {
                    Event::Frame(frame) => {
                        prop_assert!(frame.payload.len() <= 8);
                        prop_assert!(frame.header_range.end == frame.payload_range.start);
                    }
                    Event::Message(message) => {
                        prop_assert!(message.payload.len() <= 1000);
                    }
                    _ => {}
                }
            }
        }

        #[test]
        fn resync_finds_every_message_after_the_hole(
            words in proptest::collection::vec("[a-zA-Z]{0,40}", 3..10),
            hole_at in 0usize..1000,
            hole_len in 1usize..60,
        ) {
            // Letters all have 0x40 set, which reads as RSV1: no false header in the payloads.
            let mut stream = Vec::new();
            let mut starts = Vec::new();
            for word in &words {
                starts.push(stream.len());
                stream.extend(encode(true, false, 1, None, word.as_bytes()));
            }
            let hole_at = hole_at % stream.len();
            let hole_end = (hole_at + hole_len).min(stream.len());
            let mut assembler = MessageAssembler::new(server(), 0);
            let mut events = assembler.feed(&stream[..hole_at], 0);
            events.extend(assembler.feed(&stream[hole_end..], hole_end as u64));
            events.extend(assembler.finish());
            let got: Vec<&[u8]> = messages(&events)
                .iter()
                .filter(|m| m.complete && m.stream_range.start >= hole_end as u64)
                .map(|m| m.payload.as_slice())
                .collect();
            let expected: Vec<&[u8]> = starts
                .iter()
                .zip(&words)
                .filter(|(&start, _)| start >= hole_end)
                .map(|(_, word)| word.as_bytes())
                .collect();
            prop_assert_eq!(got, expected);
        }
    }
}
