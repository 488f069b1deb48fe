//! HTTP/1.1 on one direction of a reassembled TCP stream: message heads (parsed with
//! httparse), bodies (Content-Length, chunked transfer coding, read until close),
//! Server-Sent Events inside `text/event-stream` bodies, and the points where a stream stops
//! carrying HTTP (`101 Switching Protocols` and `CONNECT` tunnels).
//!
//! A [`Parser`] reads either the requests or the responses of one connection. It is fed the
//! stream bytes in order, in chunks of any size, and returns [`Event`]s. Every event carries
//! stream offsets (counted from the first byte of the direction) so that views can point at
//! the exact bytes of each part. The events do not depend on how the stream was cut into
//! chunks. Problems are reported as [`Event::Problem`] and parsing goes on wherever the
//! message framing allows it. Memory is bounded by [`Limits`].

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;

/// A half-open byte range `[start, end)` of one direction's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StreamSpan {
    start: u64,
    end: u64,
}

impl StreamSpan {
    /// The span from `start` to `end`; an `end` before `start` is raised to `start`.
    pub fn new(start: u64, end: u64) -> Self {
        Self {
            start,
            end: end.max(start),
        }
    }

    /// The span of `len` bytes from `start`, saturating at the largest offset.
    pub fn at(start: u64, len: u64) -> Self {
        Self::new(start, start.saturating_add(len))
    }

    /// The first offset inside the span.
    pub fn start(self) -> u64 {
        self.start
    }

    /// The first offset after the span.
    pub fn end(self) -> u64 {
        self.end
    }

    /// The number of bytes in the span.
    pub fn len(self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the span holds no byte.
    pub fn is_empty(self) -> bool {
        self.end <= self.start
    }
}

impl fmt::Display for StreamSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// Bounds on the memory a [`Parser`] may use; every accumulator checks one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most field lines in one head or trailer section (default 100).
    pub max_headers: usize,
    /// Longest head or trailer section in bytes, blank line included (default 64 KiB).
    pub max_head_len: usize,
    /// Most decoded body bytes kept per message (default 1 MiB); longer bodies are counted.
    pub max_body_buffer: usize,
    /// Longest chunk-size line in bytes, extensions and line end included (default 4 KiB).
    pub max_chunk_line_len: usize,
    /// Most request methods a response parser queues (default 1024).
    pub max_pending_requests: usize,
    /// Most bytes of one Server-Sent Events block kept (default 64 KiB); more is counted.
    pub max_sse_event_len: usize,
    /// Most lines of one Server-Sent Events block kept (default 1024); more are counted.
    pub max_sse_lines: usize,
    /// Most bytes held after an upgrade or `CONNECT` request while the answer is unknown
    /// (default 64 KiB); past it the parser stops waiting and reads them as HTTP.
    pub max_held_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_headers: 100,
            max_head_len: 64 * 1024,
            max_body_buffer: 1024 * 1024,
            max_chunk_line_len: 4 * 1024,
            max_pending_requests: 1024,
            max_sse_event_len: 64 * 1024,
            max_sse_lines: 1024,
            max_held_len: 64 * 1024,
        }
    }
}

/// The rules an HTTP stream can break, and the losses a capture can cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The head does not follow the HTTP/1.1 message syntax (RFC 9112 §2-§5).
    #[error("malformed head: {0}")]
    MalformedHead(httparse::Error),
    /// The head is longer than `Limits::max_head_len`.
    #[error("head longer than {limit} bytes")]
    HeadTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The head or trailer section has more field lines than `Limits::max_headers`.
    #[error("more than {limit} header lines")]
    TooManyHeaders {
        /// The limit in force.
        limit: usize,
    },
    /// Empty lines came before a start line (RFC 9112 §2.2 lets recipients skip them).
    #[error("empty line before the start line")]
    EmptyLineBeforeHead,
    /// Content-Length is not a decimal number of octets (RFC 9110 §8.6).
    #[error("Content-Length is not a decimal number")]
    InvalidContentLength,
    /// Several Content-Length values disagree (RFC 9112 §6.3, rule 5).
    #[error("Content-Length values disagree")]
    ConflictingContentLength,
    /// Both Transfer-Encoding and Content-Length were sent (RFC 9112 §6.1); Transfer-Encoding
    /// wins, and the pair is a known request smuggling pattern.
    #[error("both Transfer-Encoding and Content-Length are present")]
    ContentLengthWithTransferEncoding,
    /// A request's Transfer-Encoding does not end in `chunked`, so its body length is unknown
    /// (RFC 9112 §6.3, rule 4).
    #[error("request Transfer-Encoding does not end with chunked")]
    UnframedRequestBody,
    /// A chunk-size line is not hexadecimal digits and extensions (RFC 9112 §7.1).
    #[error("bad chunk-size line")]
    BadChunkSize,
    /// A chunk-size line is longer than `Limits::max_chunk_line_len`.
    #[error("chunk-size line longer than {limit} bytes")]
    ChunkLineTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// Chunk data is not followed by CRLF (RFC 9112 §7.1).
    #[error("chunk data not followed by CRLF")]
    MissingChunkTerminator,
    /// The trailer section after the last chunk is malformed (RFC 9112 §7.1.2).
    #[error("malformed trailer section: {0}")]
    MalformedTrailers(httparse::Error),
    /// The trailer section is longer than `Limits::max_head_len`.
    #[error("trailer section longer than {limit} bytes")]
    TrailersTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// Bytes of a head are missing from the capture.
    #[error("head cut by missing bytes")]
    HeadCutByGap,
    /// Bytes of a body are missing from the capture.
    #[error("body cut by missing bytes")]
    BodyCutByGap,
    /// Bytes between messages are missing from the capture.
    #[error("bytes missing between messages")]
    GapBetweenMessages,
    /// The stream ended inside a head.
    #[error("stream ended inside a head")]
    HeadCutByEnd,
    /// The stream ended before the body was complete.
    #[error("stream ended inside a body")]
    BodyCutByEnd,
    /// Bytes were skipped while looking for the start of the next message.
    #[error("bytes skipped until the next message")]
    UnparsedBytes,
    /// A `101 Switching Protocols` response has no Upgrade header (RFC 9110 §15.2.2).
    #[error("101 response without an Upgrade header")]
    SwitchWithoutUpgrade,
    /// Bytes after an upgrade or `CONNECT` request were held, but nobody said whether the
    /// protocol switched; they were read as HTTP, or left unread at the end of the stream.
    #[error("no answer to an upgrade or CONNECT request")]
    SwitchUndecided,
    /// More requests wait for responses than `Limits::max_pending_requests`.
    #[error("more than {limit} requests wait for a response")]
    TooManyPendingRequests {
        /// The limit in force.
        limit: usize,
    },
    /// A `CONNECT` tunnel opened inside more tunnels than the decoders follow
    /// (`conversation::MAX_TUNNEL_DEPTH`); its bytes are left undecoded.
    #[error("CONNECT tunnel nested more than {limit} deep: its bytes are not decoded")]
    TunnelTooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// The caller asked for a switch at an offset already parsed as HTTP.
    #[error("switch point already parsed as HTTP")]
    SwitchPointPassed,
    /// The protocol switched in the middle of a message.
    #[error("protocol switched inside a message")]
    SwitchInsideMessage,
    /// A Server-Sent Events block is larger than the limits; only its start is kept.
    #[error("event-stream block larger than the limits")]
    SseEventTooLarge,
    /// The event stream ended inside an event, which is discarded (WHATWG HTML §9.2.6).
    #[error("event stream ended inside an event")]
    SseEventUnterminated,
    /// An event stream is content-coded (for example gzip) and is not parsed.
    #[error("content-coded event stream not parsed")]
    SseEncoded,
}

/// A problem found on the wire, with the bytes it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The rule that was broken or the loss that happened.
    pub error: Error,
    /// The bytes concerned (for missing bytes: where they would be).
    pub span: StreamSpan,
}

/// Which side of an HTTP exchange a [`Parser`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Client to server.
    Request,
    /// Server to client.
    Response,
}

/// The HTTP version of a start line (`HTTP/1.0`, `HTTP/1.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Major version; always 1 for what httparse accepts.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP/{}.{}", self.major, self.minor)
    }
}

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `method SP request-target SP HTTP-version`.
    Request {
        /// The method token, as sent (methods are case-sensitive).
        method: String,
        /// The request target, as sent.
        target: String,
        /// The version.
        version: Version,
    },
    /// `HTTP-version SP status-code SP reason-phrase`.
    Response {
        /// The version.
        version: Version,
        /// The three-digit status code.
        status: u16,
        /// The reason phrase (bytes outside UTF-8 replaced).
        reason: String,
    },
}

/// One field line of a head or trailer section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The field name, as sent.
    pub name: String,
    /// The field value without surrounding whitespace, as bytes.
    pub value: Vec<u8>,
    /// The whole line, line end included.
    pub line: StreamSpan,
    /// The field name.
    pub name_span: StreamSpan,
    /// The field value.
    pub value_span: StreamSpan,
}

impl Header {
    /// Whether the field name equals `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The value as text, with bytes outside UTF-8 replaced.
    pub fn value_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.value)
    }
}

/// A complete message head: start line, field lines and the blank line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The start line.
    pub start_line: StartLine,
    /// The start line, line end included.
    pub start_line_span: StreamSpan,
    /// The field lines, in wire order.
    pub headers: Vec<Header>,
    /// The empty line that ends the head.
    pub blank_line_span: StreamSpan,
    /// The whole head.
    pub span: StreamSpan,
    /// For a response: the method of the request it answers, when the parser was told.
    pub request_method: Option<String>,
}

impl Head {
    /// Parses one head at the start of `bytes`, which starts at `stream_offset`.
    ///
    /// Returns `Ok(Some((consumed, head)))`, `Ok(None)` when more bytes are needed, or the
    /// rule the bytes break. Empty lines before the start line are not skipped here.
    pub fn parse(
        kind: MessageKind,
        bytes: &[u8],
        stream_offset: u64,
        limits: &Limits,
    ) -> Result<Option<(usize, Head)>, Error> {
        let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers];
        let parsed = match kind {
            MessageKind::Request => {
                let mut request = httparse::Request::new(&mut slots);
                match request.parse(bytes) {
                    Ok(httparse::Status::Complete(len)) => Some((
                        len,
                        StartLine::Request {
                            method: request.method.unwrap_or_default().to_owned(),
                            target: request.path.unwrap_or_default().to_owned(),
                            version: Version {
                                major: 1,
                                minor: request.version.unwrap_or(1),
                            },
                        },
                    )),
                    Ok(httparse::Status::Partial) => None,
                    Err(error) => return Err(head_error(error, limits)),
                }
            }
            MessageKind::Response => {
                let mut response = httparse::Response::new(&mut slots);
                match response.parse(bytes) {
                    Ok(httparse::Status::Complete(len)) => Some((
                        len,
                        StartLine::Response {
                            version: Version {
                                major: 1,
                                minor: response.version.unwrap_or(1),
                            },
                            status: response.code.unwrap_or(0),
                            reason: String::new(),
                        },
                    )),
                    Ok(httparse::Status::Partial) => None,
                    Err(error) => return Err(head_error(error, limits)),
                }
            }
        };
        let Some((len, start_line)) = parsed else {
            return if bytes.len() >= limits.max_head_len {
                Err(Error::HeadTooLarge {
                    limit: limits.max_head_len,
                })
            } else {
                Ok(None)
            };
        };
        if len > limits.max_head_len {
            return Err(Error::HeadTooLarge {
                limit: limits.max_head_len,
            });
        }
        let head_bytes = bytes.get(..len).unwrap_or(bytes);
        Ok(Some((
            len,
            build_head(start_line, head_bytes, stream_offset),
        )))
    }

    /// The request method, for a request head.
    pub fn method(&self) -> Option<&str> {
        match &self.start_line {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code, for a response head.
    pub fn status(&self) -> Option<u16> {
        match &self.start_line {
            StartLine::Response { status, .. } => Some(*status),
            StartLine::Request { .. } => None,
        }
    }

    /// The HTTP version of the start line.
    pub fn version(&self) -> Version {
        match &self.start_line {
            StartLine::Request { version, .. } | StartLine::Response { version, .. } => *version,
        }
    }

    /// The first field line named `name` (ASCII case ignored).
    pub fn header(&self, name: &str) -> Option<&Header> {
        self.headers.iter().find(|header| header.is(name))
    }

    /// Every field line named `name` (ASCII case ignored), in wire order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Header> + 'a {
        self.headers.iter().filter(move |header| header.is(name))
    }

    /// The comma-separated list elements of every field line named `name`, trimmed, empty
    /// elements left out (RFC 9110 §5.6.1).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.headers_named(name)
            .flat_map(|header| header.value.split(|byte| *byte == b','))
            .map(trim_ows)
            .filter(|item| !item.is_empty())
            .map(|item| String::from_utf8_lossy(item).into_owned())
            .collect()
    }

    /// Whether a list field named `name` has the element `token` (ASCII case ignored).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.list(name)
            .iter()
            .any(|item| item.eq_ignore_ascii_case(token))
    }
}

/// One chunk of a chunked body (RFC 9112 §7.1), other than the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The chunk-size line, extensions and line end included.
    pub size_line: StreamSpan,
    /// The chunk size.
    pub size: u64,
    /// The raw chunk extensions after the size (starting with `;`), possibly empty.
    pub extensions: Vec<u8>,
    /// The chunk data.
    pub data: StreamSpan,
    /// The CRLF after the data.
    pub terminator: StreamSpan,
}

/// The last chunk (size 0) and the trailer section of a chunked body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastChunk {
    /// The `0` chunk-size line, extensions and line end included.
    pub size_line: StreamSpan,
    /// The raw chunk extensions after the size, possibly empty.
    pub extensions: Vec<u8>,
    /// The trailer fields.
    pub trailers: Vec<Header>,
    /// The trailer section, final empty line included.
    pub trailer_section: StreamSpan,
}

/// A message body, reported when the message ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// The stream bytes of the body; for a chunked body the chunk framing is included.
    pub span: StreamSpan,
    /// The body length once chunk framing is removed, bytes lost in gaps counted.
    pub decoded_len: u64,
    /// Decoded bytes that were lost in capture gaps.
    pub missing_len: u64,
    /// The first decoded bytes, up to `Limits::max_body_buffer` and up to the first gap.
    pub data: Vec<u8>,
    /// Whether every byte of the body was seen.
    pub complete: bool,
}

/// One line of a Server-Sent Events block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseLine {
    /// The line, line end included.
    pub span: StreamSpan,
    /// What the line says.
    pub kind: SseLineKind,
}

/// The two kinds of non-empty line in an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseLineKind {
    /// `name: value` (the value loses one leading space); unknown names are ignored.
    Field {
        /// The field name.
        name: String,
        /// The field value.
        value: String,
    },
    /// `:text`, a comment, often used as a keep-alive.
    Comment(String),
}

/// One block of an event stream: the lines up to an empty line (WHATWG HTML §9.2.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// From the first line to the end of the empty line; for a chunked body it includes
    /// the chunk framing in between.
    pub span: StreamSpan,
    /// The event type (`message` unless an `event` field set it).
    pub event_type: String,
    /// The data lines joined with LF.
    pub data: String,
    /// The last event ID after this block (it carries over from earlier blocks).
    pub last_event_id: String,
    /// The reconnection time in milliseconds set by a valid `retry` field of this block.
    pub retry: Option<u64>,
    /// The lines of the block, up to `Limits::max_sse_lines`.
    pub lines: Vec<SseLine>,
    /// Whether a browser fires an event for this block (only when some data was given).
    pub dispatched: bool,
    /// Whether lines or data were dropped because of the limits.
    pub truncated: bool,
}

/// What a stream turns into after an upgrade or `CONNECT` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Switch {
    /// `Upgrade` with the protocols the Upgrade header names.
    Upgrade {
        /// The Upgrade header value.
        protocol: String,
    },
    /// A `CONNECT` tunnel: opaque bytes.
    Tunnel,
}

/// What a [`Parser`] found, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete head.
    Head(Head),
    /// A complete chunk of a chunked body.
    Chunk(Chunk),
    /// The last chunk and the trailer section.
    LastChunk(LastChunk),
    /// A complete Server-Sent Events block.
    Sse(SseEvent),
    /// The body of the message that is ending.
    Body(Body),
    /// The end of a message.
    MessageEnd {
        /// The whole message.
        span: StreamSpan,
        /// Whether every byte of it was seen.
        complete: bool,
    },
    /// A request asked to upgrade or tunnel; the request parser holds the bytes after it
    /// until the caller calls [`Parser::switch_at`] or [`Parser::resume`].
    AwaitingSwitch {
        /// Where the new protocol would begin.
        at: u64,
        /// What was asked.
        switch: Switch,
    },
    /// The stream switched to another protocol at `at` (after `101 Switching Protocols`).
    SwitchedProtocols {
        /// The first byte of the new protocol.
        at: u64,
        /// The Upgrade header value of the message that switched.
        protocol: String,
    },
    /// The stream became a `CONNECT` tunnel at `at`: the bytes after it are opaque.
    Tunnel {
        /// The first tunneled byte.
        at: u64,
    },
    /// A problem.
    Problem(Problem),
}

/// How a body is delimited, and how far reading it has come.
#[derive(Debug)]
enum Framing {
    /// Content-Length: this many bytes are left.
    Length { remaining: u64 },
    /// Until the connection closes.
    UntilClose,
    /// A chunk-size line starting at `start` is being read.
    ChunkLine { start: u64 },
    /// Chunk data; `remaining` bytes are left.
    ChunkData { chunk: ChunkStart, remaining: u64 },
    /// The CRLF after chunk data; `seen_cr` when the CR was read.
    ChunkEnd { chunk: ChunkStart, seen_cr: bool },
    /// The trailer section after the last chunk.
    Trailers { last: ChunkStart },
}

/// A chunk-size line that was read.
#[derive(Debug)]
struct ChunkStart {
    size_line: StreamSpan,
    size: u64,
    extensions: Vec<u8>,
}

/// Where the parser is.
#[derive(Debug)]
enum State {
    /// Between messages; empty lines are skipped here.
    Idle,
    /// A head starting at `start` is being read into the buffer.
    Head { start: u64 },
    /// A body is being read.
    Body(Framing),
    /// The framing was lost: bytes are skipped until a line start, where a head is tried.
    Desync { at_line_start: bool },
    /// After an upgrade or `CONNECT` request: bytes are held until the caller decides.
    Held { at: u64 },
    /// No more HTTP on this direction.
    Switched,
    /// `finish` was called.
    Finished,
}

/// Bytes or a gap received while the parser held.
#[derive(Debug)]
enum HeldPiece {
    Data(Vec<u8>),
    Gap(u64),
}

/// The message being read.
#[derive(Debug)]
struct Message {
    start: u64,
    body_start: u64,
    switch: Option<Switch>,
    has_body: bool,
    data: Vec<u8>,
    buffering: bool,
    decoded_len: u64,
    missing_len: u64,
    sse: Option<Sse>,
}

/// A streaming HTTP/1.1 parser for one direction of one connection.
#[derive(Debug)]
pub struct Parser {
    kind: MessageKind,
    limits: Limits,
    /// The next stream offset the caller is expected to feed.
    next_offset: u64,
    /// The next stream offset the state machine reads (behind `next_offset` while held).
    pos: u64,
    state: State,
    /// Bytes of the head, chunk-size line or trailer section being read.
    buf: Vec<u8>,
    msg: Option<Message>,
    /// Methods of the requests still waiting for a response (response parser only).
    methods: VecDeque<String>,
    /// Empty lines seen before the next head, not yet reported.
    empty_lines: Option<StreamSpan>,
    /// Where skipping started, and why, while the framing is lost.
    resync: Option<(u64, Error)>,
    /// Where the caller said HTTP stops.
    switch_point: Option<u64>,
    /// The end of the last upgrade or `CONNECT` request, and what it asked for.
    last_switch_request: Option<(u64, Switch)>,
    held: Vec<HeldPiece>,
    held_len: u64,
}

impl Parser {
    /// A parser for the requests (`MessageKind::Request`) or responses of a connection.
    pub fn new(kind: MessageKind, limits: Limits) -> Self {
        Self {
            kind,
            limits,
            next_offset: 0,
            pos: 0,
            state: State::Idle,
            buf: Vec::new(),
            msg: None,
            methods: VecDeque::new(),
            empty_lines: None,
            resync: None,
            switch_point: None,
            last_switch_request: None,
            held: Vec::new(),
            held_len: 0,
        }
    }

    /// The same parser reading a stream whose first byte is at `offset`: the bytes of a
    /// `CONNECT` tunnel start where the proxy's answer ended, not at 0. Call it before the
    /// first [`Parser::feed`].
    pub fn starting_at(mut self, offset: u64) -> Self {
        self.next_offset = offset;
        self.pos = offset;
        self
    }

    /// Which side this parser reads.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The stream offset the next [`Parser::feed`] is expected to start at.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Whether HTTP has stopped on this direction (protocol switch or tunnel).
    pub fn is_switched(&self) -> bool {
        matches!(self.state, State::Switched)
    }

    /// Where the new protocol would begin, and what was asked, while the parser holds the
    /// bytes after an upgrade or `CONNECT` request.
    pub fn awaiting_switch(&self) -> Option<(u64, &Switch)> {
        match (&self.state, &self.last_switch_request) {
            (State::Held { at }, Some((end, switch))) if end == at => Some((*at, switch)),
            _ => None,
        }
    }

    /// Tells a response parser the method of the next request, in request order, so that it
    /// knows which responses have no body (`HEAD`) or open a tunnel (`CONNECT`).
    ///
    /// A request parser ignores the call. Without it, responses are read as answers to `GET`.
    pub fn expect_response_to(&mut self, method: &str) -> Result<(), Error> {
        if self.kind == MessageKind::Request {
            return Ok(());
        }
        if self.methods.len() >= self.limits.max_pending_requests {
            return Err(Error::TooManyPendingRequests {
                limit: self.limits.max_pending_requests,
            });
        }
        self.methods.push_back(method.to_owned());
        Ok(())
    }

    /// Reads the stream bytes starting at `stream_offset`.
    ///
    /// Bytes already read are skipped (retransmissions); a jump forward is read as a gap.
    pub fn feed(&mut self, bytes: &[u8], stream_offset: u64) -> Vec<Event> {
        let mut out = Vec::new();
        if matches!(self.state, State::Finished) {
            return out;
        }
        let mut bytes = bytes;
        if stream_offset > self.next_offset {
            let len = stream_offset.saturating_sub(self.next_offset);
            self.gap_inner(len, &mut out);
            self.next_offset = stream_offset;
        } else if stream_offset < self.next_offset {
            let seen = self.next_offset.saturating_sub(stream_offset);
            match usize::try_from(seen)
                .ok()
                .and_then(|seen| bytes.get(seen..))
            {
                Some(rest) => bytes = rest,
                None => return out,
            }
        }
        self.next_offset = self.next_offset.saturating_add(len64(bytes.len()));
        self.process(bytes, &mut out);
        self.settle_hold(&mut out);
        out
    }

    /// Reads a gap: `len` stream bytes missing from the capture.
    pub fn gap(&mut self, len: u64) -> Vec<Event> {
        let mut out = Vec::new();
        if matches!(self.state, State::Finished) || len == 0 {
            return out;
        }
        self.gap_inner(len, &mut out);
        self.next_offset = self.next_offset.saturating_add(len);
        self.settle_hold(&mut out);
        out
    }

    /// Ends the stream (the connection closed): a body read until close ends here, and
    /// anything cut short is reported.
    pub fn finish(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        self.settle_head();
        let state = std::mem::replace(&mut self.state, State::Finished);
        match state {
            State::Idle => self.flush_pending(self.pos, &mut out),
            State::Head { start } => {
                self.buf.clear();
                if self.resync.is_some() {
                    self.flush_pending(self.pos, &mut out);
                } else {
                    self.flush_pending(start, &mut out);
                    problem(
                        &mut out,
                        Error::HeadCutByEnd,
                        StreamSpan::new(start, self.pos),
                    );
                }
            }
            State::Desync { .. } => self.flush_pending(self.pos, &mut out),
            State::Body(Framing::UntilClose) => {
                self.end_message(self.pos, true, State::Finished, &mut out);
            }
            State::Body(Framing::Length { remaining }) => {
                problem(
                    &mut out,
                    Error::BodyCutByEnd,
                    StreamSpan::at(self.pos, remaining),
                );
                self.end_message(self.pos, false, State::Finished, &mut out);
            }
            State::Body(Framing::Trailers { last })
                if self.trailer_error_at_end(last.size_line.end).is_some() =>
            {
                // The buffered trailer line is already malformed: report it as
                // reading the bytes in one piece would have, not as a cut body.
                let start = last.size_line.end;
                if let Some(error) = self.trailer_error_at_end(start) {
                    self.buf.clear();
                    self.resync = Some((start, error));
                    self.end_message(start, false, State::Finished, &mut out);
                    self.flush_pending(self.pos, &mut out);
                }
            }
            State::Body(_) => {
                self.buf.clear();
                let start = self.msg.as_ref().map_or(self.pos, |msg| msg.body_start);
                problem(
                    &mut out,
                    Error::BodyCutByEnd,
                    StreamSpan::new(start, self.pos),
                );
                self.end_message(self.pos, false, State::Finished, &mut out);
            }
            State::Held { at } => {
                if self.held_len > 0 {
                    problem(
                        &mut out,
                        Error::SwitchUndecided,
                        StreamSpan::new(at, self.next_offset),
                    );
                }
                self.held.clear();
                self.held_len = 0;
            }
            State::Switched | State::Finished => {}
        }
        self.state = State::Finished;
        out
    }

    /// The syntax error in a buffered, unfinished trailer section, if its
    /// bytes already break a rule (checked once more when the stream ends).
    fn trailer_error_at_end(&self, start: u64) -> Option<Error> {
        if self.buf.is_empty() {
            return None;
        }
        match parse_trailers(&self.buf, start, &self.limits) {
            Err(error) if !is_limit(&error) => Some(error),
            _ => None,
        }
    }

    /// Tells the parser that HTTP stops at stream offset `at` (the other direction saw
    /// `101 Switching Protocols` or a `2xx` answer to `CONNECT`). Usually `at` is the offset
    /// of [`Event::AwaitingSwitch`]. Bytes from `at` on are not read as HTTP.
    pub fn switch_at(&mut self, at: u64) -> Vec<Event> {
        let mut out = Vec::new();
        if matches!(self.state, State::Switched | State::Finished) {
            return out;
        }
        if at < self.pos {
            problem(
                &mut out,
                Error::SwitchPointPassed,
                StreamSpan::new(at, self.pos),
            );
            self.switch_point = Some(at);
            self.switch_now(&mut out);
            return out;
        }
        self.switch_point = Some(at);
        if matches!(self.state, State::Held { .. }) && at > self.pos {
            self.replay_held(&mut out);
        }
        if self.pos >= at && !matches!(self.state, State::Switched | State::Finished) {
            self.switch_now(&mut out);
        }
        self.settle_hold(&mut out);
        out
    }

    /// Tells the parser that the upgrade or `CONNECT` it holds for was refused: the held
    /// bytes are read as HTTP.
    pub fn resume(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        if matches!(self.state, State::Held { .. }) {
            self.replay_held(&mut out);
            self.settle_hold(&mut out);
        }
        out
    }

    /// Reads held pieces again from `Idle`.
    fn replay_held(&mut self, out: &mut Vec<Event>) {
        let pieces = std::mem::take(&mut self.held);
        self.held_len = 0;
        self.state = State::Idle;
        for piece in pieces {
            match piece {
                HeldPiece::Data(bytes) => self.process(&bytes, out),
                HeldPiece::Gap(len) => self.gap_inner(len, out),
            }
        }
    }

    /// Stops holding when the held bytes exceed the limit.
    ///
    /// The problem spans the held bytes up to the first one past the limit, which does not
    /// depend on how many more bytes came in the same chunk.
    fn settle_hold(&mut self, out: &mut Vec<Event>) {
        while let State::Held { at } = self.state {
            if self.held_len <= len64(self.limits.max_held_len) {
                return;
            }
            problem(
                out,
                Error::SwitchUndecided,
                StreamSpan::new(at, self.held_limit_end()),
            );
            self.replay_held(out);
        }
    }

    /// The stream offset just after the held piece that passed `Limits::max_held_len`: the
    /// first byte past the limit, or the gap that passed it (a gap counts as one byte).
    fn held_limit_end(&self) -> u64 {
        let mut room = len64(self.limits.max_held_len);
        let mut offset = self.pos;
        for piece in &self.held {
            let (count, len) = match piece {
                HeldPiece::Data(bytes) => (len64(bytes.len()), len64(bytes.len())),
                HeldPiece::Gap(len) => (1, *len),
            };
            if count > room {
                return match piece {
                    HeldPiece::Data(_) => offset.saturating_add(room).saturating_add(1),
                    HeldPiece::Gap(_) => offset.saturating_add(len),
                };
            }
            room = room.saturating_sub(count);
            offset = offset.saturating_add(len);
        }
        offset
    }

    fn hold(&mut self, piece: HeldPiece) {
        let len = match &piece {
            HeldPiece::Data(bytes) => len64(bytes.len()),
            HeldPiece::Gap(_) => 1,
        };
        self.held_len = self.held_len.saturating_add(len);
        self.held.push(piece);
    }

    /// Runs the state machine over `bytes`, which start at `self.pos`.
    fn process(&mut self, bytes: &[u8], out: &mut Vec<Event>) {
        let mut input = bytes;
        let mut stalls = 0_u8;
        while !input.is_empty() {
            if let Some(point) = self.switch_point {
                if self.pos >= point {
                    self.switch_now(out);
                    return;
                }
                let room = usize::try_from(point.saturating_sub(self.pos)).unwrap_or(usize::MAX);
                if input.len() > room {
                    input = input.get(..room).unwrap_or_default();
                }
            }
            match self.state {
                State::Held { .. } => {
                    self.hold(HeldPiece::Data(input.to_vec()));
                    return;
                }
                State::Switched | State::Finished => return,
                _ => {}
            }
            let state = std::mem::replace(&mut self.state, State::Idle);
            let (used, next) = self.step(state, input, out);
            self.state = next;
            let used = used.min(input.len());
            input = input.get(used..).unwrap_or_default();
            self.pos = self.pos.saturating_add(len64(used));
            if used == 0 {
                stalls = stalls.saturating_add(1);
                if stalls > 8 {
                    // Every state reads a byte within a few steps; this only guards the loop.
                    self.resync.get_or_insert((self.pos, Error::UnparsedBytes));
                    self.state = State::Desync {
                        at_line_start: false,
                    };
                }
            } else {
                stalls = 0;
            }
        }
        if let Some(point) = self.switch_point {
            if self.pos >= point && !matches!(self.state, State::Switched | State::Finished) {
                self.switch_now(out);
            }
        }
    }

    /// Reads from `input` in `state`; returns the bytes used and the next state.
    fn step(&mut self, state: State, input: &[u8], out: &mut Vec<Event>) -> (usize, State) {
        match state {
            State::Idle => self.step_idle(input),
            State::Head { start } => self.step_head(start, input, out),
            State::Body(framing) => self.step_body(framing, input, out),
            State::Desync { at_line_start } => {
                if at_line_start {
                    (0, State::Idle)
                } else {
                    match input.iter().position(|byte| *byte == b'\n') {
                        Some(index) => (
                            index.saturating_add(1),
                            State::Desync {
                                at_line_start: true,
                            },
                        ),
                        None => (
                            input.len(),
                            State::Desync {
                                at_line_start: false,
                            },
                        ),
                    }
                }
            }
            other => (0, other),
        }
    }

    fn step_idle(&mut self, input: &[u8]) -> (usize, State) {
        let empty = input
            .iter()
            .take_while(|byte| **byte == b'\r' || **byte == b'\n')
            .count();
        if empty > 0 {
            if self.resync.is_none() {
                let end = self.pos.saturating_add(len64(empty));
                let span = match self.empty_lines {
                    Some(span) => StreamSpan::new(span.start, end),
                    None => StreamSpan::new(self.pos, end),
                };
                self.empty_lines = Some(span);
            }
            return (empty, State::Idle);
        }
        self.buf.clear();
        (0, State::Head { start: self.pos })
    }

    fn step_head(&mut self, start: u64, input: &[u8], out: &mut Vec<Event>) -> (usize, State) {
        let kind = self.kind;
        let limits = self.limits;
        let outcome = accumulate(&mut self.buf, input, limits.max_head_len, false, |bytes| {
            Head::parse(kind, bytes, start, &limits)
        });
        match outcome {
            Accumulated::More => (input.len(), State::Head { start }),
            Accumulated::Done { used, value } => {
                let next = self.on_head(value, out);
                (used, next)
            }
            Accumulated::Bad {
                used,
                error,
                resume,
            } => {
                self.resync.get_or_insert((start, error));
                (used, self.resume_state(start, resume))
            }
        }
    }

    /// Before a gap or the end: the buffered head is parsed once more, since the buffered
    /// path parses only at line ends and when the buffer doubles. On an error the state moves
    /// on as reading the bytes in one piece would have done.
    fn settle_head(&mut self) {
        let State::Head { start } = self.state else {
            return;
        };
        if self.buf.is_empty() {
            return;
        }
        let (kind, limits) = (self.kind, self.limits);
        let mut parse = |bytes: &[u8]| Head::parse(kind, bytes, start, &limits);
        let Err(error) = parse(&self.buf) else {
            return;
        };
        let block = std::mem::take(&mut self.buf);
        let resume = if is_limit(&error) {
            Resume::Skip {
                at_line_start: block.last() == Some(&b'\n'),
            }
        } else {
            match bad_block(&block, block.len(), 0, error.clone(), false, &mut parse) {
                Accumulated::Bad { resume, .. } => resume,
                Accumulated::Done { .. } | Accumulated::More => Resume::Line,
            }
        };
        self.resync.get_or_insert((start, error));
        self.state = self.resume_state(start, resume);
    }

    /// Reports pending empty lines and skipped bytes that end at `end`.
    fn flush_pending(&mut self, end: u64, out: &mut Vec<Event>) {
        if let Some(span) = self.empty_lines.take() {
            problem(out, Error::EmptyLineBeforeHead, span);
        }
        if let Some((start, error)) = self.resync.take() {
            // Skipped bytes are worth a problem only when there are some; a broken rule is
            // reported even where nothing was skipped (an empty span marks the place).
            if end > start || error != Error::UnparsedBytes {
                problem(out, error, StreamSpan::new(start, end));
            }
        }
    }

    /// Forgets pending empty lines and skipped bytes that start at or after `at`, and cuts
    /// pending empty lines at `at`.
    fn drop_pending_from(&mut self, at: u64) {
        self.empty_lines = self
            .empty_lines
            .filter(|span| span.start() < at)
            .map(|span| StreamSpan::new(span.start(), span.end().min(at)));
        if self.resync.as_ref().is_some_and(|(start, _)| *start >= at) {
            self.resync = None;
        }
    }

    /// Reports a head and decides how its body is framed.
    fn on_head(&mut self, mut head: Head, out: &mut Vec<Event>) -> State {
        let start = head.span.start;
        let end = head.span.end;
        self.flush_pending(start, out);
        let mut msg = Message {
            start,
            body_start: end,
            switch: None,
            has_body: false,
            data: Vec::new(),
            buffering: true,
            decoded_len: 0,
            missing_len: 0,
            sse: None,
        };
        match self.kind {
            MessageKind::Request => self.on_request_head(head, msg, out),
            MessageKind::Response => {
                let status = head.status().unwrap_or(0);
                let interim = (100..200).contains(&status) && status != 101;
                let method = if interim {
                    self.methods.front().cloned()
                } else {
                    self.methods.pop_front()
                };
                head.request_method.clone_from(&method);
                let method = method.unwrap_or_default();
                let upgrade = head
                    .header("upgrade")
                    .map(|header| header.value_text().into_owned());
                if status == 101 {
                    out.push(Event::Head(head));
                    self.msg = Some(msg);
                    self.end_message(end, true, State::Switched, out);
                    if upgrade.is_none() {
                        problem(
                            out,
                            Error::SwitchWithoutUpgrade,
                            StreamSpan::new(start, end),
                        );
                    }
                    out.push(Event::SwitchedProtocols {
                        at: end,
                        protocol: upgrade.unwrap_or_default(),
                    });
                    return State::Switched;
                }
                if method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&status) {
                    out.push(Event::Head(head));
                    self.msg = Some(msg);
                    self.end_message(end, true, State::Switched, out);
                    out.push(Event::Tunnel { at: end });
                    return State::Switched;
                }
                if method.eq_ignore_ascii_case("HEAD")
                    || (100..200).contains(&status)
                    || status == 204
                    || status == 304
                {
                    out.push(Event::Head(head));
                    self.msg = Some(msg);
                    return self.end_message(end, true, State::Idle, out);
                }
                let plan = body_plan(MessageKind::Response, &head);
                if plan.is_ok() && is_event_stream(&head) {
                    if is_content_coded(&head) {
                        problem(out, Error::SseEncoded, head.span);
                    } else {
                        msg.sse = Some(Sse::new(&self.limits));
                    }
                }
                out.push(Event::Head(head));
                self.start_body(plan, msg, StreamSpan::new(start, end), out)
            }
        }
    }

    fn on_request_head(&mut self, head: Head, mut msg: Message, out: &mut Vec<Event>) -> State {
        let span = head.span;
        if head
            .method()
            .is_some_and(|method| method.eq_ignore_ascii_case("CONNECT"))
        {
            msg.switch = Some(Switch::Tunnel);
        } else if let Some(upgrade) = head.header("upgrade") {
            msg.switch = Some(Switch::Upgrade {
                protocol: upgrade.value_text().into_owned(),
            });
        }
        let plan = body_plan(MessageKind::Request, &head);
        out.push(Event::Head(head));
        self.start_body(plan, msg, span, out)
    }

    /// Starts reading the body of the message whose head is `head_span`.
    fn start_body(
        &mut self,
        plan: Result<(BodyPlan, bool), Error>,
        mut msg: Message,
        head_span: StreamSpan,
        out: &mut Vec<Event>,
    ) -> State {
        let end = head_span.end;
        let (plan, both_lengths) = match plan {
            Ok(plan) => plan,
            Err(error) => {
                problem(out, error, head_span);
                self.msg = Some(msg);
                self.resync = Some((end, Error::UnparsedBytes));
                return self.end_message(
                    end,
                    false,
                    State::Desync {
                        at_line_start: true,
                    },
                    out,
                );
            }
        };
        if both_lengths {
            problem(out, Error::ContentLengthWithTransferEncoding, head_span);
        }
        let framing = match plan {
            BodyPlan::None => {
                self.msg = Some(msg);
                return self.end_message(end, true, State::Idle, out);
            }
            BodyPlan::Length(len) => Framing::Length { remaining: len },
            BodyPlan::Chunked => Framing::ChunkLine { start: end },
            BodyPlan::UntilClose => Framing::UntilClose,
        };
        msg.has_body = true;
        self.buf.clear();
        self.msg = Some(msg);
        State::Body(framing)
    }

    /// Ends the current message at `end`; returns `next`, or `Held` when the message asked
    /// to switch protocols and the framing is intact (`next` is `Idle`, nothing is skipped).
    fn end_message(
        &mut self,
        end: u64,
        complete: bool,
        next: State,
        out: &mut Vec<Event>,
    ) -> State {
        let Some(mut msg) = self.msg.take() else {
            return next;
        };
        if let Some(sse) = msg.sse.as_mut() {
            sse.finish(end, out);
        }
        if msg.has_body && end > msg.body_start {
            out.push(Event::Body(Body {
                span: StreamSpan::new(msg.body_start, end),
                decoded_len: msg.decoded_len,
                missing_len: msg.missing_len,
                data: std::mem::take(&mut msg.data),
                complete,
            }));
        }
        out.push(Event::MessageEnd {
            span: StreamSpan::new(msg.start, end),
            complete,
        });
        if self.kind == MessageKind::Request && matches!(next, State::Idle) && self.resync.is_none()
        {
            if let Some(switch) = msg.switch.take() {
                self.last_switch_request = Some((end, switch.clone()));
                out.push(Event::AwaitingSwitch { at: end, switch });
                return State::Held { at: end };
            }
        }
        next
    }

    /// Records decoded body bytes that start at stream offset `offset`.
    fn body_data(&mut self, data: &[u8], offset: u64, out: &mut Vec<Event>) {
        let Some(msg) = self.msg.as_mut() else {
            return;
        };
        if msg.buffering {
            let room = self.limits.max_body_buffer.saturating_sub(msg.data.len());
            msg.data
                .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        }
        msg.decoded_len = msg.decoded_len.saturating_add(len64(data.len()));
        if let Some(sse) = msg.sse.as_mut() {
            sse.feed(data, offset, out);
        }
    }

    /// Records `len` decoded body bytes lost in a gap.
    fn body_gap(&mut self, len: u64, out: &mut Vec<Event>) {
        let Some(msg) = self.msg.as_mut() else {
            return;
        };
        msg.buffering = false;
        msg.decoded_len = msg.decoded_len.saturating_add(len);
        msg.missing_len = msg.missing_len.saturating_add(len);
        if let Some(sse) = msg.sse.as_mut() {
            sse.gap(out);
        }
    }

    fn step_body(
        &mut self,
        framing: Framing,
        input: &[u8],
        out: &mut Vec<Event>,
    ) -> (usize, State) {
        let pos = self.pos;
        match framing {
            Framing::Length { remaining } => {
                let take = take_len(remaining, input.len());
                self.body_data(input.get(..take).unwrap_or_default(), pos, out);
                let remaining = remaining.saturating_sub(len64(take));
                if remaining == 0 {
                    let end = pos.saturating_add(len64(take));
                    let complete = self.msg.as_ref().is_some_and(|msg| msg.missing_len == 0);
                    (take, self.end_message(end, complete, State::Idle, out))
                } else {
                    (take, State::Body(Framing::Length { remaining }))
                }
            }
            Framing::UntilClose => {
                self.body_data(input, pos, out);
                (input.len(), State::Body(Framing::UntilClose))
            }
            Framing::ChunkLine { start } => self.step_chunk_line(start, input, out),
            Framing::ChunkData { chunk, remaining } => {
                let take = take_len(remaining, input.len());
                self.body_data(input.get(..take).unwrap_or_default(), pos, out);
                let remaining = remaining.saturating_sub(len64(take));
                let next = if remaining == 0 {
                    Framing::ChunkEnd {
                        chunk,
                        seen_cr: false,
                    }
                } else {
                    Framing::ChunkData { chunk, remaining }
                };
                (take, State::Body(next))
            }
            Framing::ChunkEnd { chunk, seen_cr } => {
                let byte = input.first().copied().unwrap_or_default();
                let data_end = chunk.size_line.end.saturating_add(chunk.size);
                match (seen_cr, byte) {
                    (false, b'\r') => (
                        1,
                        State::Body(Framing::ChunkEnd {
                            chunk,
                            seen_cr: true,
                        }),
                    ),
                    (_, b'\n') => {
                        let end = pos.saturating_add(1);
                        out.push(Event::Chunk(Chunk {
                            size_line: chunk.size_line,
                            size: chunk.size,
                            extensions: chunk.extensions,
                            data: StreamSpan::new(chunk.size_line.end, data_end),
                            terminator: StreamSpan::new(data_end, end),
                        }));
                        self.buf.clear();
                        (1, State::Body(Framing::ChunkLine { start: end }))
                    }
                    _ => {
                        self.resync = Some((data_end, Error::MissingChunkTerminator));
                        let next = State::Desync {
                            at_line_start: false,
                        };
                        (0, self.end_message(data_end, false, next, out))
                    }
                }
            }
            Framing::Trailers { last } => self.step_trailers(last, input, out),
        }
    }

    fn step_chunk_line(
        &mut self,
        start: u64,
        input: &[u8],
        out: &mut Vec<Event>,
    ) -> (usize, State) {
        let limit = self.limits.max_chunk_line_len;
        let outcome = accumulate(&mut self.buf, input, limit, true, |bytes| {
            parse_chunk_line(bytes, limit)
        });
        match outcome {
            Accumulated::More => (input.len(), State::Body(Framing::ChunkLine { start })),
            Accumulated::Done {
                used,
                value: (len, size, extensions),
            } => {
                let chunk = ChunkStart {
                    size_line: StreamSpan::at(start, len64(len)),
                    size,
                    extensions,
                };
                self.buf.clear();
                if size == 0 {
                    (used, State::Body(Framing::Trailers { last: chunk }))
                } else {
                    (
                        used,
                        State::Body(Framing::ChunkData {
                            chunk,
                            remaining: size,
                        }),
                    )
                }
            }
            Accumulated::Bad {
                used,
                error,
                resume,
            } => {
                // One problem covers the bad line and what is skipped after it.
                self.resync = Some((start, error));
                let next = self.resume_state(start, resume);
                (used, self.end_message(start, false, next, out))
            }
        }
    }

    fn step_trailers(
        &mut self,
        last: ChunkStart,
        input: &[u8],
        out: &mut Vec<Event>,
    ) -> (usize, State) {
        let limits = self.limits;
        let start = last.size_line.end;
        let outcome = accumulate(&mut self.buf, input, limits.max_head_len, true, |bytes| {
            parse_trailers(bytes, start, &limits)
        });
        match outcome {
            Accumulated::More => (input.len(), State::Body(Framing::Trailers { last })),
            Accumulated::Done {
                used,
                value: (len, trailers),
            } => {
                let end = start.saturating_add(len64(len));
                out.push(Event::LastChunk(LastChunk {
                    size_line: last.size_line,
                    extensions: last.extensions,
                    trailers,
                    trailer_section: StreamSpan::new(start, end),
                }));
                self.buf.clear();
                let complete = self.msg.as_ref().is_some_and(|msg| msg.missing_len == 0);
                (used, self.end_message(end, complete, State::Idle, out))
            }
            Accumulated::Bad {
                used,
                error,
                resume,
            } => {
                self.resync = Some((start, error));
                let next = self.resume_state(start, resume);
                (used, self.end_message(start, false, next, out))
            }
        }
    }

    /// The state that goes on after an invalid block that started at `block_start`.
    fn resume_state(&mut self, block_start: u64, resume: Resume) -> State {
        match resume {
            Resume::Line => State::Idle,
            Resume::Carry { start, bytes } => {
                // Empty lines before a start line are skipped, as in `Idle`.
                let empty = bytes
                    .iter()
                    .take_while(|byte| **byte == b'\r' || **byte == b'\n')
                    .count();
                let carried = bytes.get(empty..).unwrap_or_default();
                if carried.is_empty() {
                    return State::Idle;
                }
                let head_start = block_start
                    .saturating_add(len64(start))
                    .saturating_add(len64(empty));
                // The carried line was never parsed alone: check it now, as reading the
                // bytes in one piece would have done.
                let (kind, limits) = (self.kind, self.limits);
                let mut parse = |bytes: &[u8]| Head::parse(kind, bytes, head_start, &limits);
                match parse(carried) {
                    Err(error) => {
                        let resume = if is_limit(&error) {
                            Resume::Skip {
                                at_line_start: carried.last() == Some(&b'\n'),
                            }
                        } else {
                            match bad_block(carried, carried.len(), 0, error, false, &mut parse) {
                                Accumulated::Bad { resume, .. } => resume,
                                Accumulated::Done { .. } | Accumulated::More => Resume::Line,
                            }
                        };
                        self.buf.clear();
                        self.resume_state(head_start, resume)
                    }
                    Ok(_) => {
                        self.buf = carried.to_vec();
                        State::Head { start: head_start }
                    }
                }
            }
            Resume::Skip { at_line_start } => State::Desync { at_line_start },
        }
    }

    /// Reads `len` missing bytes at `self.pos`.
    fn gap_inner(&mut self, len: u64, out: &mut Vec<Event>) {
        if len == 0 {
            return;
        }
        let pos = self.pos;
        let gap_end = pos.saturating_add(len);
        let span = StreamSpan::new(pos, gap_end);
        self.settle_head();
        let state = std::mem::replace(&mut self.state, State::Idle);
        let lost = State::Desync {
            at_line_start: true,
        };
        self.state = match state {
            State::Idle
            | State::Desync {
                at_line_start: true,
            } => {
                self.flush_pending(pos, out);
                problem(out, Error::GapBetweenMessages, span);
                self.resync = Some((gap_end, Error::UnparsedBytes));
                lost
            }
            State::Head { start } => {
                self.buf.clear();
                if self.resync.is_none() {
                    problem(out, Error::HeadCutByGap, StreamSpan::new(start, gap_end));
                    self.resync = Some((gap_end, Error::UnparsedBytes));
                }
                lost
            }
            State::Body(Framing::Length { remaining }) => {
                if len < remaining {
                    problem(out, Error::BodyCutByGap, span);
                    self.body_gap(len, out);
                    State::Body(Framing::Length {
                        remaining: remaining.saturating_sub(len),
                    })
                } else {
                    let end = pos.saturating_add(remaining);
                    problem(out, Error::BodyCutByGap, StreamSpan::new(pos, end));
                    self.body_gap(remaining, out);
                    if len == remaining {
                        self.end_message(end, false, State::Idle, out)
                    } else {
                        problem(
                            out,
                            Error::GapBetweenMessages,
                            StreamSpan::new(end, gap_end),
                        );
                        self.resync = Some((gap_end, Error::UnparsedBytes));
                        self.end_message(end, false, lost, out)
                    }
                }
            }
            State::Body(Framing::UntilClose) => {
                problem(out, Error::BodyCutByGap, span);
                self.body_gap(len, out);
                State::Body(Framing::UntilClose)
            }
            State::Body(Framing::ChunkData { chunk, remaining }) if len <= remaining => {
                problem(out, Error::BodyCutByGap, span);
                self.body_gap(len, out);
                let remaining = remaining.saturating_sub(len);
                if remaining == 0 {
                    State::Body(Framing::ChunkEnd {
                        chunk,
                        seen_cr: false,
                    })
                } else {
                    State::Body(Framing::ChunkData { chunk, remaining })
                }
            }
            State::Body(_) => {
                self.buf.clear();
                problem(out, Error::BodyCutByGap, span);
                self.body_gap(0, out);
                self.resync = Some((gap_end, Error::UnparsedBytes));
                self.end_message(pos, false, lost, out)
            }
            State::Desync { .. } => lost,
            State::Held { at } => {
                self.hold(HeldPiece::Gap(len));
                State::Held { at }
            }
            other @ (State::Switched | State::Finished) => other,
        };
        if !matches!(self.state, State::Held { .. }) {
            self.pos = gap_end;
        }
    }

    /// Stops HTTP at the switch point.
    ///
    /// A buffered head is first judged as reading its bytes in one piece would have judged
    /// it. When the switch point was already passed, what is pending about bytes from the
    /// switch point on is dropped: those bytes are not HTTP, and
    /// [`Error::SwitchPointPassed`] already covers them.
    fn switch_now(&mut self, out: &mut Vec<Event>) {
        let at = self.switch_point.take().unwrap_or(self.pos);
        self.settle_head();
        self.drop_pending_from(at);
        let state = std::mem::replace(&mut self.state, State::Switched);
        match state {
            State::Head { start } if start < at => {
                self.flush_pending(start, out);
                problem(out, Error::SwitchInsideMessage, StreamSpan::new(start, at));
            }
            State::Body(_) => {
                let start = self.msg.as_ref().map_or(at, |msg| msg.start);
                problem(out, Error::SwitchInsideMessage, StreamSpan::new(start, at));
                self.end_message(at, false, State::Switched, out);
            }
            _ => self.flush_pending(at, out),
        }
        self.buf.clear();
        self.held.clear();
        self.held_len = 0;
        let switch = match self.last_switch_request.take() {
            Some((end, switch)) if end == at => switch,
            _ => Switch::Upgrade {
                protocol: String::new(),
            },
        };
        out.push(match switch {
            Switch::Upgrade { protocol } => Event::SwitchedProtocols { at, protocol },
            Switch::Tunnel => Event::Tunnel { at },
        });
        self.state = State::Switched;
    }
}

/// How the body of a message is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyPlan {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// Decides body framing per RFC 9112 §6.3; the flag says both length fields were present.
fn body_plan(kind: MessageKind, head: &Head) -> Result<(BodyPlan, bool), Error> {
    let codings = head.list("transfer-encoding");
    let length = content_length(head);
    if let Some(last) = codings.last() {
        let both = !matches!(length, Ok(None));
        let name = last.split(';').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("chunked") {
            return Ok((BodyPlan::Chunked, both));
        }
        return match kind {
            MessageKind::Request => Err(Error::UnframedRequestBody),
            MessageKind::Response => Ok((BodyPlan::UntilClose, both)),
        };
    }
    match (length?, kind) {
        (Some(0), _) | (None, MessageKind::Request) => Ok((BodyPlan::None, false)),
        (Some(len), _) => Ok((BodyPlan::Length(len), false)),
        (None, MessageKind::Response) => Ok((BodyPlan::UntilClose, false)),
    }
}

/// The Content-Length of a head: `None` when absent.
fn content_length(head: &Head) -> Result<Option<u64>, Error> {
    let mut found: Option<u64> = None;
    for header in head.headers_named("content-length") {
        let mut any = false;
        for item in header.value.split(|byte| *byte == b',').map(trim_ows) {
            if item.is_empty() {
                continue;
            }
            any = true;
            let len = parse_decimal(item).ok_or(Error::InvalidContentLength)?;
            match found {
                Some(previous) if previous != len => return Err(Error::ConflictingContentLength),
                _ => found = Some(len),
            }
        }
        if !any {
            return Err(Error::InvalidContentLength);
        }
    }
    Ok(found)
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0_u64, |acc, byte| {
        let digit = char::from(*byte).to_digit(10)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

fn is_event_stream(head: &Head) -> bool {
    head.header("content-type").is_some_and(|header| {
        let value = header.value_text();
        let media = value.split(';').next().unwrap_or_default().trim();
        media.eq_ignore_ascii_case("text/event-stream")
    })
}

fn is_content_coded(head: &Head) -> bool {
    head.list("content-encoding")
        .iter()
        .any(|coding| !coding.eq_ignore_ascii_case("identity"))
}

fn head_error(error: httparse::Error, limits: &Limits) -> Error {
    match error {
        httparse::Error::TooManyHeaders => Error::TooManyHeaders {
            limit: limits.max_headers,
        },
        other => Error::MalformedHead(other),
    }
}

/// One line of a head: where it starts, where its content ends (before CR LF), where it ends.
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    content_end: usize,
    end: usize,
}

/// The lines of `bytes`, each ended by LF (a last line without LF is left out).
fn split_lines(bytes: &[u8]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (index, byte) in bytes.iter().enumerate() {
        if *byte == b'\n' {
            let content_end = if index > start && bytes.get(index.saturating_sub(1)) == Some(&b'\r')
            {
                index.saturating_sub(1)
            } else {
                index
            };
            let end = index.saturating_add(1);
            lines.push(Line {
                start,
                content_end,
                end,
            });
            start = end;
        }
    }
    lines
}

fn span_of(base: u64, start: usize, end: usize) -> StreamSpan {
    StreamSpan::new(
        base.saturating_add(len64(start)),
        base.saturating_add(len64(end)),
    )
}

/// The field line `line` of `bytes`, whose first byte is at stream offset `base`.
fn header_from_line(bytes: &[u8], line: Line, base: u64) -> Option<Header> {
    let content = bytes.get(line.start..line.content_end)?;
    let colon = content.iter().position(|byte| *byte == b':')?;
    let name = content.get(..colon)?;
    let after = colon.saturating_add(1);
    let leading = content
        .get(after..)?
        .iter()
        .take_while(|byte| is_ows(**byte))
        .count();
    let value_start = after.saturating_add(leading);
    let value_end = content
        .iter()
        .rposition(|byte| !is_ows(*byte))
        .map_or(value_start, |index| index.saturating_add(1))
        .max(value_start);
    let value = content.get(value_start..value_end)?;
    let at = |offset: usize| line.start.saturating_add(offset);
    Some(Header {
        name: String::from_utf8_lossy(name).into_owned(),
        value: value.to_vec(),
        line: span_of(base, line.start, line.end),
        name_span: span_of(base, line.start, at(colon)),
        value_span: span_of(base, at(value_start), at(value_end)),
    })
}

/// Builds a head from its bytes, already checked by httparse.
fn build_head(mut start_line: StartLine, bytes: &[u8], base: u64) -> Head {
    let lines = split_lines(bytes);
    let first = lines.first().copied().unwrap_or(Line {
        start: 0,
        content_end: 0,
        end: 0,
    });
    if let StartLine::Response { reason, .. } = &mut start_line {
        let text = bytes
            .get(first.start..first.content_end)
            .unwrap_or_default();
        *reason = String::from_utf8_lossy(text.get(13..).unwrap_or_default()).into_owned();
    }
    let blank = lines.last().copied().unwrap_or(first);
    let headers = lines
        .get(1..lines.len().saturating_sub(1))
        .unwrap_or_default()
        .iter()
        .filter_map(|line| header_from_line(bytes, *line, base))
        .collect();
    Head {
        start_line,
        start_line_span: span_of(base, first.start, first.end),
        headers,
        blank_line_span: span_of(base, blank.start, blank.end),
        span: span_of(base, 0, bytes.len()),
        request_method: None,
    }
}

/// Parses a trailer section that starts at `base`: `Ok(Some((len, fields)))`, `Ok(None)` or
/// the rule broken.
#[allow(clippy::type_complexity)]
fn parse_trailers(
    bytes: &[u8],
    base: u64,
    limits: &Limits,
) -> Result<Option<(usize, (usize, Vec<Header>))>, Error> {
    let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers];
    match httparse::parse_headers(bytes, &mut slots) {
        Ok(httparse::Status::Complete((len, _))) => {
            if len > limits.max_head_len {
                return Err(Error::TrailersTooLarge {
                    limit: limits.max_head_len,
                });
            }
            let section = bytes.get(..len).unwrap_or(bytes);
            let lines = split_lines(section);
            let fields = lines
                .get(..lines.len().saturating_sub(1))
                .unwrap_or_default()
                .iter()
                .filter_map(|line| header_from_line(section, *line, base))
                .collect();
            Ok(Some((len, (len, fields))))
        }
        Ok(httparse::Status::Partial) if bytes.len() >= limits.max_head_len => {
            Err(Error::TrailersTooLarge {
                limit: limits.max_head_len,
            })
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(Error::TooManyHeaders {
            limit: limits.max_headers,
        }),
        Err(error) => Err(Error::MalformedTrailers(error)),
    }
}

/// Parses a chunk-size line: `Ok(Some((used, (line_len, size, extensions))))`.
#[allow(clippy::type_complexity)]
fn parse_chunk_line(
    bytes: &[u8],
    limit: usize,
) -> Result<Option<(usize, (usize, u64, Vec<u8>))>, Error> {
    let Some(newline) = bytes.iter().position(|byte| *byte == b'\n') else {
        return if bytes.len() >= limit {
            Err(Error::ChunkLineTooLong { limit })
        } else {
            Ok(None)
        };
    };
    let len = newline.saturating_add(1);
    if len > limit {
        return Err(Error::ChunkLineTooLong { limit });
    }
    let mut content = bytes.get(..newline).unwrap_or_default();
    if let Some(stripped) = content.strip_suffix(b"\r") {
        content = stripped;
    }
    let digits = content
        .iter()
        .take_while(|byte| byte.is_ascii_hexdigit())
        .count();
    if digits == 0 {
        return Err(Error::BadChunkSize);
    }
    let size = content
        .get(..digits)
        .unwrap_or_default()
        .iter()
        .try_fold(0_u64, |acc, byte| {
            let digit = char::from(*byte).to_digit(16)?;
            acc.checked_mul(16)?.checked_add(u64::from(digit))
        })
        .ok_or(Error::BadChunkSize)?;
    let rest = content.get(digits..).unwrap_or_default();
    let extensions = trim_ows(rest);
    let allowed = |byte: &u8| *byte == b'\t' || (0x20..=0x7e).contains(byte) || *byte >= 0x80;
    if !extensions.is_empty()
        && (extensions.first() != Some(&b';') || !extensions.iter().all(allowed))
    {
        return Err(Error::BadChunkSize);
    }
    Ok(Some((len, (len, size, extensions.to_vec()))))
}

/// The outcome of [`accumulate`].
enum Accumulated<T> {
    /// A block was parsed; `used` bytes of the input belong to it.
    Done { used: usize, value: T },
    /// All the input was buffered; more is needed.
    More,
    /// The block is invalid; `used` input bytes are dropped, and `resume` says where to look
    /// for the next message.
    Bad {
        used: usize,
        error: Error,
        resume: Resume,
    },
}

/// Where reading goes on after an invalid block. The line holding the first bad byte may
/// itself start the next message, so it is tried again, unless it is the first line.
enum Resume {
    /// At a line start `used` bytes into the input.
    Line,
    /// At a line start inside bytes of earlier chunks: `start` bytes into the block, with
    /// `bytes` the rest of the buffer.
    Carry { start: usize, bytes: Vec<u8> },
    /// Inside a line (limit errors and a bad first line): skip to the next line start.
    Skip { at_line_start: bool },
}

/// Whether `error` is a size limit rather than a syntax error.
fn is_limit(error: &Error) -> bool {
    matches!(
        error,
        Error::HeadTooLarge { .. }
            | Error::TrailersTooLarge { .. }
            | Error::ChunkLineTooLong { .. }
    )
}

/// Reads a line-based block (a head, a chunk-size line, a trailer section) from `input`,
/// with `buf` holding the bytes of earlier chunks. `parse` sees the block from its first
/// byte; it runs on each new line end and whenever the buffer doubles, so the work stays
/// linear in the block size. `buf` never grows past `max_len`, and `parse` never sees more
/// than the first `max_len` bytes of a block: what lies past the limit cannot change the
/// verdict. The outcome does not depend on how the block was cut into chunks.
fn accumulate<T>(
    buf: &mut Vec<u8>,
    input: &[u8],
    max_len: usize,
    retry_first_line: bool,
    mut parse: impl FnMut(&[u8]) -> Result<Option<(usize, T)>, Error>,
) -> Accumulated<T> {
    if buf.is_empty() {
        // The buffered path stops at `max_len` bytes; the first chunk is cut there too, so
        // that a syntax error past the limit is not found in one piece and missed in two.
        let view = input.get(..max_len).unwrap_or(input);
        return match parse(view) {
            Ok(Some((used, value))) => Accumulated::Done {
                used: used.min(view.len()),
                value,
            },
            Ok(None) => {
                buf.extend_from_slice(view);
                Accumulated::More
            }
            Err(error) if is_limit(&error) => {
                let used = view.len();
                let at_line_start = view.last() == Some(&b'\n');
                Accumulated::Bad {
                    used,
                    error,
                    resume: Resume::Skip { at_line_start },
                }
            }
            Err(error) => bad_block(view, 0, view.len(), error, retry_first_line, &mut parse),
        };
    }
    let mut index = 0;
    while let Some(rest) = input.get(index..).filter(|rest| !rest.is_empty()) {
        let before = buf.len();
        let line_len = rest
            .iter()
            .position(|byte| *byte == b'\n')
            .map_or(rest.len(), |newline| newline.saturating_add(1));
        let room = max_len.saturating_sub(before).max(1);
        let piece_len = line_len.min(room);
        buf.extend_from_slice(rest.get(..piece_len).unwrap_or_default());
        index = index.saturating_add(piece_len);
        let ends_line = buf.last() == Some(&b'\n');
        let doubled = before.checked_ilog2() != buf.len().checked_ilog2();
        if !(ends_line || doubled || buf.len() >= max_len) {
            continue;
        }
        match parse(buf) {
            Ok(Some((len, value))) => {
                let extra = buf.len().saturating_sub(len);
                buf.clear();
                return Accumulated::Done {
                    used: index.saturating_sub(extra),
                    value,
                };
            }
            Ok(None) => {}
            Err(error) => {
                let block = std::mem::take(buf);
                if is_limit(&error) {
                    return Accumulated::Bad {
                        used: index,
                        error,
                        resume: Resume::Skip {
                            at_line_start: block.last() == Some(&b'\n'),
                        },
                    };
                }
                let from_input = block.len().saturating_sub(index);
                return bad_block(
                    &block,
                    from_input,
                    index,
                    error,
                    retry_first_line,
                    &mut parse,
                );
            }
        }
    }
    Accumulated::More
}

/// Decides where reading resumes after `parse` failed on `block`, whose bytes from
/// `from_input` on come from the current input (`input_len` bytes of it were read).
///
/// The line with the first bad byte is found by parsing ever longer prefixes of whole lines;
/// reading resumes at that line, which may start the next message. A bad first line of a
/// head is skipped (it just failed as a start line); the first line of a chunk-size line or
/// trailer section is retried as a start line when `retry_first_line`.
fn bad_block<T>(
    block: &[u8],
    from_input: usize,
    input_len: usize,
    error: Error,
    retry_first_line: bool,
    parse: &mut impl FnMut(&[u8]) -> Result<Option<(usize, T)>, Error>,
) -> Accumulated<T> {
    let mut first_line_end = None;
    let mut bad_line = None;
    let mut line_start = 0;
    while let Some(newline) = block
        .get(line_start..)
        .and_then(|rest| rest.iter().position(|byte| *byte == b'\n'))
    {
        let line_end = line_start.saturating_add(newline).saturating_add(1);
        first_line_end.get_or_insert(line_end);
        if parse(block.get(..line_end).unwrap_or_default()).is_err() {
            bad_line = Some(line_start);
            break;
        }
        line_start = line_end;
    }
    let bad_line = bad_line.unwrap_or(line_start);
    let resume_at = if bad_line > 0 || retry_first_line {
        Some(bad_line)
    } else {
        first_line_end
    };
    match resume_at {
        None => Accumulated::Bad {
            used: input_len,
            error,
            resume: Resume::Skip {
                at_line_start: false,
            },
        },
        Some(at) if at >= from_input => Accumulated::Bad {
            used: at.saturating_sub(from_input),
            error,
            resume: Resume::Line,
        },
        Some(at) => Accumulated::Bad {
            used: input_len,
            error,
            resume: Resume::Carry {
                start: at,
                bytes: block.get(at..).unwrap_or_default().to_vec(),
            },
        },
    }
}

/// A Server-Sent Events reader over a decoded body (WHATWG HTML §9.2.6).
#[derive(Debug)]
struct Sse {
    max_len: usize,
    max_lines: usize,
    line: Vec<u8>,
    line_start: Option<u64>,
    line_truncated: bool,
    /// A CR ended a line at this offset; an LF right after it belongs to the same line end.
    pending_cr: Option<u64>,
    at_stream_start: bool,
    /// After a gap: lines are dropped up to the next empty line.
    discarding: bool,
    block: SseBlock,
    last_event_id: String,
}

#[derive(Debug, Default)]
struct SseBlock {
    start: Option<u64>,
    lines: Vec<SseLine>,
    data: String,
    event_type: String,
    retry: Option<u64>,
    len: usize,
    truncated: bool,
}

impl Sse {
    fn new(limits: &Limits) -> Self {
        Self {
            max_len: limits.max_sse_event_len,
            max_lines: limits.max_sse_lines,
            line: Vec::new(),
            line_start: None,
            line_truncated: false,
            pending_cr: None,
            at_stream_start: true,
            discarding: false,
            block: SseBlock::default(),
            last_event_id: String::new(),
        }
    }

    fn feed(&mut self, data: &[u8], base: u64, out: &mut Vec<Event>) {
        for (index, byte) in data.iter().enumerate() {
            let offset = base.saturating_add(len64(index));
            if let Some(cr) = self.pending_cr.take() {
                if *byte == b'\n' {
                    self.end_line(offset.saturating_add(1), out);
                    continue;
                }
                self.end_line(cr.saturating_add(1), out);
            }
            self.line_start.get_or_insert(offset);
            match byte {
                b'\r' => self.pending_cr = Some(offset),
                b'\n' => self.end_line(offset.saturating_add(1), out),
                _ => {
                    if self.line.len() < self.max_len {
                        self.line.push(*byte);
                    } else {
                        self.line_truncated = true;
                    }
                }
            }
        }
    }

    fn gap(&mut self, out: &mut Vec<Event>) {
        if let Some(cr) = self.pending_cr.take() {
            self.end_line(cr.saturating_add(1), out);
        }
        self.line.clear();
        self.line_start = None;
        self.line_truncated = false;
        self.block = SseBlock::default();
        self.discarding = true;
    }

    fn finish(&mut self, end: u64, out: &mut Vec<Event>) {
        if let Some(cr) = self.pending_cr.take() {
            self.end_line(cr.saturating_add(1), out);
        }
        let start = self.block.start.or(self.line_start);
        if let (Some(start), false) = (start, self.discarding) {
            problem(
                out,
                Error::SseEventUnterminated,
                StreamSpan::new(start, end),
            );
        }
        self.line.clear();
        self.line_start = None;
        self.block = SseBlock::default();
    }

    fn end_line(&mut self, end: u64, out: &mut Vec<Event>) {
        let start = self.line_start.take().unwrap_or(end.saturating_sub(1));
        let mut content = std::mem::take(&mut self.line);
        let truncated = std::mem::take(&mut self.line_truncated);
        if self.at_stream_start {
            self.at_stream_start = false;
            if let Some(rest) = content.strip_prefix(b"\xEF\xBB\xBF") {
                content = rest.to_vec();
            }
        }
        if self.discarding {
            if content.is_empty() && !truncated {
                self.discarding = false;
                self.block = SseBlock::default();
            }
            return;
        }
        if content.is_empty() && !truncated {
            self.dispatch(end, out);
            return;
        }
        let span = StreamSpan::new(start, end);
        let block = &mut self.block;
        block.start.get_or_insert(start);
        block.len = block
            .len
            .saturating_add(usize::try_from(span.len()).unwrap_or(usize::MAX));
        block.truncated |= truncated || block.len > self.max_len;
        let text = String::from_utf8_lossy(&content).into_owned();
        let kind = match text.strip_prefix(':') {
            Some(comment) => SseLineKind::Comment(comment.to_owned()),
            None => {
                let (name, value) = match text.split_once(':') {
                    Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
                    None => (text.as_str(), ""),
                };
                match name {
                    "event" => value.clone_into(&mut block.event_type),
                    "data" => {
                        if block.data.len().saturating_add(value.len()) < self.max_len {
                            block.data.push_str(value);
                            block.data.push('\n');
                        } else {
                            block.truncated = true;
                        }
                    }
                    "id" if !value.contains('\0') => value.clone_into(&mut self.last_event_id),
                    "retry"
                        if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) =>
                    {
                        if let Ok(retry) = value.parse() {
                            block.retry = Some(retry);
                        }
                    }
                    _ => {}
                }
                SseLineKind::Field {
                    name: name.to_owned(),
                    value: value.to_owned(),
                }
            }
        };
        if block.lines.len() < self.max_lines && block.len <= self.max_len {
            block.lines.push(SseLine { span, kind });
        } else {
            block.truncated = true;
        }
    }

    fn dispatch(&mut self, end: u64, out: &mut Vec<Event>) {
        let block = std::mem::take(&mut self.block);
        let Some(start) = block.start else {
            return;
        };
        let span = StreamSpan::new(start, end);
        let dispatched = !block.data.is_empty();
        let mut data = block.data;
        if data.ends_with('\n') {
            data.pop();
        }
        let event_type = if block.event_type.is_empty() {
            "message".to_owned()
        } else {
            block.event_type
        };
        out.push(Event::Sse(SseEvent {
            span,
            event_type,
            data,
            last_event_id: self.last_event_id.clone(),
            retry: block.retry,
            lines: block.lines,
            dispatched,
            truncated: block.truncated,
        }));
        if block.truncated {
            problem(out, Error::SseEventTooLarge, span);
        }
    }
}

fn problem(out: &mut Vec<Event>, error: Error, span: StreamSpan) {
    out.push(Event::Problem(Problem { error, span }));
}

fn is_ows(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().take_while(|byte| is_ows(**byte)).count();
    let rest = bytes.get(start..).unwrap_or_default();
    let end = rest
        .iter()
        .rposition(|byte| !is_ows(*byte))
        .map_or(0, |index| index.saturating_add(1));
    rest.get(..end).unwrap_or_default()
}

fn len64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// The number of input bytes to take when `remaining` bytes are wanted.
fn take_len(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |remaining| remaining.min(available))
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
    use proptest::prelude::*;

    /// Feeds `pieces` at consecutive offsets, then ends the stream.
    fn run_with(
        kind: MessageKind,
        limits: Limits,
        methods: &[&str],
        pieces: &[&[u8]],
    ) -> Vec<Event> {
        let mut parser = Parser::new(kind, limits);
        for method in methods {
            parser.expect_response_to(method).unwrap();
        }
        let mut events = Vec::new();
        let mut offset = 0;
        for piece in pieces {
            events.extend(parser.feed(piece, offset));
            offset += piece.len() as u64;
        }
        events.extend(parser.finish());
        events
    }

    fn run(kind: MessageKind, methods: &[&str], pieces: &[&[u8]]) -> Vec<Event> {
        run_with(kind, Limits::default(), methods, pieces)
    }

    fn heads(events: &[Event]) -> Vec<&Head> {
        events
            .iter()
            .filter_map(|event| match event {
                Event::Head(head) => Some(head),
                _ => None,
            })
            .collect()
    }

    fn problems(events: &[Event]) -> Vec<(Error, StreamSpan)> {
        events
            .iter()
            .filter_map(|event| match event {
                Event::Problem(problem) => Some((problem.error.clone(), problem.span)),
                _ => None,
            })
            .collect()
    }

    fn bodies(events: &[Event]) -> Vec<&Body> {
        events
            .iter()
            .filter_map(|event| match event {
                Event::Body(body) => Some(body),
                _ => None,
            })
            .collect()
    }

    fn sse_events(events: &[Event]) -> Vec<&SseEvent> {
        events
            .iter()
            .filter_map(|event| match event {
                Event::Sse(sse) => Some(sse),
                _ => None,
            })
            .collect()
    }

    fn span(start: u64, end: u64) -> StreamSpan {
        StreamSpan::new(start, end)
    }

    /// Checks that cutting `bytes` in two anywhere gives the events of feeding it whole.
    fn assert_every_split_same(kind: MessageKind, methods: &[&str], bytes: &[u8]) -> Vec<Event> {
        let whole = run(kind, methods, &[bytes]);
        for cut in 0..=bytes.len() {
            let split = run(kind, methods, &[&bytes[..cut], &bytes[cut..]]);
            assert_eq!(split, whole, "cut at {cut}");
        }
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(run(kind, methods, &bytewise), whole, "one byte at a time");
        whole
    }

    const WS_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

    const WS_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

    #[test]
    fn request_head_reports_every_line_span() {
        // Start line 0..20, "Host: example.com\r\n" 20..39, "X-Empty:\r\n" 39..49, blank 49..51.
        let bytes = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nX-Empty:\r\n\r\n";
        let events = run(MessageKind::Request, &[], &[bytes]);
        assert_eq!(events.len(), 2);
        let head = heads(&events)[0];
        assert_eq!(
            head.start_line,
            StartLine::Request {
                method: "GET".into(),
                target: "/chat".into(),
                version: Version { major: 1, minor: 1 },
            }
        );
        assert_eq!(head.start_line_span, span(0, 20));
        assert_eq!(head.headers.len(), 2);
        let host = &head.headers[0];
        assert_eq!(
            (host.name.as_str(), host.value.as_slice()),
            ("Host", &b"example.com"[..])
        );
        assert_eq!(host.line, span(20, 39));
        assert_eq!(host.name_span, span(20, 24));
        assert_eq!(host.value_span, span(26, 37));
        let empty = &head.headers[1];
        assert_eq!(empty.value, b"");
        assert_eq!(empty.line, span(39, 49));
        assert_eq!(empty.value_span, span(47, 47));
        assert_eq!(head.blank_line_span, span(49, 51));
        assert_eq!(head.span, span(0, 51));
        assert_eq!(
            events[1],
            Event::MessageEnd {
                span: span(0, 51),
                complete: true
            }
        );
    }

    #[test]
    fn response_head_keeps_reason_and_bare_lf_lines() {
        // Bare LF line ends are accepted by httparse; spans follow the real line lengths.
        let bytes = b"HTTP/1.0 404 Not Found\nServer: x\n\n";
        let events = run(MessageKind::Response, &["GET"], &[bytes]);
        let head = heads(&events)[0];
        assert_eq!(
            head.start_line,
            StartLine::Response {
                version: Version { major: 1, minor: 0 },
                status: 404,
                reason: "Not Found".into(),
            }
        );
        assert_eq!(head.request_method.as_deref(), Some("GET"));
        assert_eq!(head.headers[0].line, span(23, 33));
        assert_eq!(head.blank_line_span, span(33, 34));
        assert_eq!(head.version().to_string(), "HTTP/1.0");
    }

    #[test]
    fn head_split_at_every_boundary_gives_same_events() {
        let request = b"POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
        let events = assert_every_split_same(MessageKind::Request, &[], request);
        assert_eq!(heads(&events).len(), 1);
        assert_eq!(bodies(&events)[0].data, b"abc");
        let response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: y\r\n\r\nok";
        let events = assert_every_split_same(MessageKind::Response, &["GET"], response);
        assert_eq!(bodies(&events)[0].span, span(44, 46));
    }

    #[test]
    fn pipelined_requests_in_one_chunk() {
        let bytes = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
GET /c HTTP/1.1\r\n\r\n";
        let events = run(MessageKind::Request, &[], &[bytes]);
        let targets: Vec<_> = heads(&events)
            .iter()
            .map(|head| match &head.start_line {
                StartLine::Request { target, .. } => target.clone(),
                StartLine::Response { .. } => String::new(),
            })
            .collect();
        assert_eq!(targets, ["/a", "/b", "/c"]);
        let body = bodies(&events)[0];
        assert_eq!(body.data, b"hello");
        assert_eq!(body.span, span(76, 81));
        assert!(body.complete);
        let ends = events
            .iter()
            .filter(|event| matches!(event, Event::MessageEnd { complete: true, .. }))
            .count();
        assert_eq!(ends, 3);
        assert!(problems(&events).is_empty());
    }

    #[test]
    fn chunked_body_reports_each_chunk_and_trailers_at_every_split() {
        // Head 0..47; "4;name=val\r\n" 47..59, "Wiki" 59..63, CRLF 63..65;
        // "5\r\n" 65..68, "pedia" 68..73, CRLF 73..75; "0\r\n" 75..78;
        // "Expires: never\r\n" 78..94, final CRLF 94..96.
        let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
4;name=val\r\nWiki\r\n5\r\npedia\r\n0\r\nExpires: never\r\n\r\n";
        let events = assert_every_split_same(MessageKind::Response, &["GET"], bytes);
        let chunks: Vec<_> = events
            .iter()
            .filter_map(|event| match event {
                Event::Chunk(chunk) => Some(chunk.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            chunks,
            [
                Chunk {
                    size_line: span(47, 59),
                    size: 4,
                    extensions: b";name=val".to_vec(),
                    data: span(59, 63),
                    terminator: span(63, 65),
                },
                Chunk {
                    size_line: span(65, 68),
                    size: 5,
                    extensions: Vec::new(),
                    data: span(68, 73),
                    terminator: span(73, 75),
                },
            ]
        );
        let last = events
            .iter()
            .find_map(|event| match event {
                Event::LastChunk(last) => Some(last),
                _ => None,
            })
            .unwrap();
        assert_eq!(last.size_line, span(75, 78));
        assert_eq!(last.trailers.len(), 1);
        assert_eq!(last.trailers[0].name, "Expires");
        assert_eq!(last.trailers[0].line, span(78, 94));
        assert_eq!(last.trailer_section, span(78, 96));
        let body = bodies(&events)[0];
        assert_eq!(body.data, b"Wikipedia");
        assert_eq!(body.decoded_len, 9);
        assert_eq!(body.span, span(47, 96));
        assert!(problems(&events).is_empty());
    }

    #[test]
    fn chunked_body_split_at_every_pair_of_boundaries() {
        let bytes = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        let whole = run(MessageKind::Request, &[], &[bytes]);
        assert_eq!(heads(&whole).len(), 2);
        for first in 0..=bytes.len() {
            for second in first..=bytes.len() {
                let pieces = [&bytes[..first], &bytes[first..second], &bytes[second..]];
                assert_eq!(
                    run(MessageKind::Request, &[], &pieces),
                    whole,
                    "cuts {first} {second}"
                );
            }
        }
    }

    #[test]
    fn response_to_head_has_no_body_even_with_content_length() {
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
        let events = run(MessageKind::Response, &["HEAD", "GET"], &[bytes]);
        let found = heads(&events);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].request_method.as_deref(), Some("HEAD"));
        assert_eq!(found[1].request_method.as_deref(), Some("GET"));
        assert_eq!(bodies(&events).len(), 1);
        assert_eq!(bodies(&events)[0].data, b"hi");
        assert!(problems(&events).is_empty());
    }

    #[test]
    fn interim_204_and_304_responses_have_no_body() {
        // 100 answers the POST but is interim: the 200 answers the same POST.
        let bytes = b"HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx\
HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n\
HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ny";
        let events = run(
            MessageKind::Response,
            &["POST", "GET", "GET", "GET"],
            &[bytes],
        );
        let found = heads(&events);
        let statuses: Vec<_> = found.iter().map(|head| head.status().unwrap()).collect();
        assert_eq!(statuses, [100, 200, 204, 304, 200]);
        assert_eq!(found[0].request_method.as_deref(), Some("POST"));
        assert_eq!(found[1].request_method.as_deref(), Some("POST"));
        let data: Vec<_> = bodies(&events)
            .iter()
            .map(|body| body.data.clone())
            .collect();
        assert_eq!(data, [b"x".to_vec(), b"y".to_vec()]);
        assert!(problems(&events).is_empty());
    }

    #[test]
    fn response_without_length_is_read_until_close() {
        let events = run(
            MessageKind::Response,
            &["GET"],
            &[b"HTTP/1.0 200 OK\r\n\r\nab", b"c"],
        );
        let body = bodies(&events)[0];
        assert_eq!(body.data, b"abc");
        assert_eq!(body.span, span(19, 22));
        assert!(body.complete);
        assert_eq!(
            events.last(),
            Some(&Event::MessageEnd {
                span: span(0, 22),
                complete: true
            })
        );
    }

    #[test]
    fn connect_request_holds_until_the_tunnel_is_confirmed() {
        // 58-byte CONNECT head, then the first bytes of a TLS record inside the tunnel.
        let head = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
        let mut bytes = head.to_vec();
        bytes.extend_from_slice(b"\x16\x03\x01\x00\x05hello");
        let mut request = Parser::new(MessageKind::Request, Limits::default());
        let events = request.feed(&bytes, 0);
        let at = head.len() as u64;
        assert_eq!(
            events.last(),
            Some(&Event::AwaitingSwitch {
                at,
                switch: Switch::Tunnel
            })
        );
        assert_eq!(request.awaiting_switch(), Some((at, &Switch::Tunnel)));

        let mut response = Parser::new(MessageKind::Response, Limits::default());
        response.expect_response_to("CONNECT").unwrap();
        let answer = b"HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x03\x00\x02hi";
        let events = response.feed(answer, 0);
        assert_eq!(events.last(), Some(&Event::Tunnel { at: 39 }));
        assert!(response.is_switched());
        assert!(response.feed(b"more", answer.len() as u64).is_empty());

        assert_eq!(request.switch_at(at), [Event::Tunnel { at }]);
        assert!(request.is_switched());
        assert!(request
            .feed(b"GET / HTTP/1.1\r\n\r\n", bytes.len() as u64)
            .is_empty());
        assert!(request.finish().is_empty());
    }

    #[test]
    fn a_parser_can_start_inside_a_stream() {
        // The tunnelled request starts at offset 58, after a CONNECT head: no gap before it.
        let mut request = Parser::new(MessageKind::Request, Limits::default()).starting_at(58);
        assert_eq!(request.next_offset(), 58);
        let events = request.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 58);
        let head = events.iter().find_map(|event| match event {
            Event::Head(head) => Some(head),
            _ => None,
        });
        assert_eq!(head.map(|head| head.span), Some(StreamSpan::new(58, 85)));
        assert!(!events
            .iter()
            .any(|event| matches!(event, Event::Problem(_))));
    }

    #[test]
    fn refused_connect_resumes_http_on_the_held_bytes() {
        let first = b"CONNECT a:443 HTTP/1.1\r\n\r\n";
        let second = b"CONNECT a:443 HTTP/1.1\r\nProxy-Authorization: Basic eA==\r\n\r\n";
        let mut request = Parser::new(MessageKind::Request, Limits::default());
        let mut events = request.feed(first, 0);
        events.extend(request.feed(second, first.len() as u64));
        assert_eq!(heads(&events).len(), 1);
        // The proxy answered 407: the second CONNECT is parsed once the caller resumes.
        let resumed = request.resume();
        assert_eq!(heads(&resumed).len(), 1);
        assert_eq!(heads(&resumed)[0].span, span(26, 26 + second.len() as u64));
        assert!(matches!(resumed.last(), Some(Event::AwaitingSwitch { .. })));
    }

    #[test]
    fn upgrade_switches_both_directions_at_the_right_offsets() {
        let at_request = WS_REQUEST.len() as u64;
        let mut client = WS_REQUEST.to_vec();
        // A masked text frame sent right after the handshake request.
        client.extend_from_slice(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
        let mut request = Parser::new(MessageKind::Request, Limits::default());
        let events = request.feed(&client, 0);
        assert_eq!(
            events.last(),
            Some(&Event::AwaitingSwitch {
                at: at_request,
                switch: Switch::Upgrade {
                    protocol: "websocket".into()
                }
            })
        );

        let mut server = WS_RESPONSE.to_vec();
        server.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
        let mut response = Parser::new(MessageKind::Response, Limits::default());
        response.expect_response_to("GET").unwrap();
        let events = response.feed(&server, 0);
        let at_response = WS_RESPONSE.len() as u64;
        assert_eq!(
            events.last(),
            Some(&Event::SwitchedProtocols {
                at: at_response,
                protocol: "websocket".into()
            })
        );
        assert_eq!(heads(&events)[0].status(), Some(101));
        assert!(problems(&events).is_empty());

        assert_eq!(
            request.switch_at(at_request),
            [Event::SwitchedProtocols {
                at: at_request,
                protocol: "websocket".into()
            }]
        );
        assert!(request.finish().is_empty());
    }

    #[test]
    fn switch_point_given_before_the_bytes_stops_parsing_there() {
        let mut request = Parser::new(MessageKind::Request, Limits::default());
        let at = WS_REQUEST.len() as u64;
        assert!(request.switch_at(at).is_empty());
        let mut bytes = WS_REQUEST.to_vec();
        bytes.extend_from_slice(b"GET /not-http HTTP/1.1\r\n\r\n");
        let events = request.feed(&bytes, 0);
        assert_eq!(heads(&events).len(), 1);
        assert_eq!(
            events.last(),
            Some(&Event::SwitchedProtocols {
                at,
                protocol: "websocket".into()
            })
        );
    }

    #[test]
    fn switch_point_inside_a_message_is_reported() {
        let mut request = Parser::new(MessageKind::Request, Limits::default());
        let mut events = request.switch_at(10);
        events.extend(request.feed(b"GET / HTTP/1.1\r\n\r\n", 0));
        assert_eq!(
            events,
            [
                Event::Problem(Problem {
                    error: Error::SwitchInsideMessage,
                    span: span(0, 10)
                }),
                Event::SwitchedProtocols {
                    at: 10,
                    protocol: String::new()
                }
            ]
        );
    }

    #[test]
    fn switch_point_already_parsed_is_reported() {
        let mut request = Parser::new(MessageKind::Request, Limits::default());
        request.feed(b"GET / HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 0);
        let events = request.switch_at(18);
        assert_eq!(
            problems(&events),
            [(Error::SwitchPointPassed, span(18, 37))]
        );
        assert!(request.is_switched());
    }

    #[test]
    fn switch_point_passed_inside_a_cut_head_does_not_depend_on_chunking() {
        // `HTK` is not a version: read at once, the head is malformed at once; read a byte at
        // a time, it is still buffered. The switch point 0 makes all of it not HTTP.
        let expected = [
            Event::Problem(Problem {
                error: Error::SwitchPointPassed,
                span: span(0, 3),
            }),
            Event::SwitchedProtocols {
                at: 0,
                protocol: String::new(),
            },
        ];
        let whole: &[&[u8]] = &[b"HTK"];
        let bytewise: &[&[u8]] = &[b"H", b"T", b"K"];
        for pieces in [whole, bytewise] {
            let mut parser = Parser::new(MessageKind::Response, Limits::default());
            let mut offset = 0;
            for piece in pieces {
                assert!(parser.feed(piece, offset).is_empty());
                offset += piece.len() as u64;
            }
            assert_eq!(parser.switch_at(0), expected, "{pieces:?}");
            assert!(parser.finish().is_empty());
        }
    }

    #[test]
    fn switch_point_after_a_cut_bad_head_reports_it_malformed() {
        // The switch point comes first; the bytes before it break the version, which reading
        // them at once finds and reading them a byte at a time finds at the switch.
        let bytes = b"GET / HTZP/1.1\r\n\r\n";
        let expected = [
            Event::Problem(Problem {
                error: Error::MalformedHead(httparse::Error::Version),
                span: span(0, 10),
            }),
            Event::SwitchedProtocols {
                at: 10,
                protocol: String::new(),
            },
        ];
        for size in [1, 3, bytes.len()] {
            let mut parser = Parser::new(MessageKind::Request, Limits::default());
            let mut events = parser.switch_at(10);
            let mut offset = 0;
            for piece in bytes.chunks(size) {
                events.extend(parser.feed(piece, offset));
                offset += piece.len() as u64;
            }
            events.extend(parser.finish());
            assert_eq!(events, expected, "pieces of {size}");
        }
    }

    #[test]
    fn refused_upgrade_resumes_http() {
        let mut bytes = WS_REQUEST.to_vec();
        bytes.extend_from_slice(b"GET /next HTTP/1.1\r\n\r\n");
        let mut request = Parser::new(MessageKind::Request, Limits::default());
        let events = request.feed(&bytes, 0);
        assert_eq!(heads(&events).len(), 1);
        // The server answered 426: the held request is read as HTTP.
        let resumed = request.resume();
        assert_eq!(heads(&resumed)[0].span.start(), WS_REQUEST.len() as u64);
        assert!(!request.is_switched());
    }

    #[test]
    fn held_bytes_beyond_the_limit_are_read_as_http() {
        let limits = Limits {
            max_held_len: 10,
            ..Limits::default()
        };
        let mut bytes = WS_REQUEST.to_vec();
        bytes.extend_from_slice(b"GET /next HTTP/1.1\r\n\r\n");
        let events = run_with(MessageKind::Request, limits, &[], &[&bytes]);
        assert_eq!(heads(&events).len(), 2);
        // The problem spans the held bytes up to the 11th, the first past the limit.
        let at = WS_REQUEST.len() as u64;
        assert_eq!(
            problems(&events),
            [(Error::SwitchUndecided, span(at, at + 11))]
        );
    }

    #[test]
    fn held_bytes_limit_span_does_not_depend_on_chunking() {
        let limits = Limits {
            max_held_len: 64,
            ..Limits::default()
        };
        // A CONNECT request (24 bytes), then 100 bytes nobody says are tunneled.
        let mut bytes = b"CONNECT a:1 HTTP/1.1\r\n\r\n".to_vec();
        bytes.extend_from_slice(&[b'x'; 100]);
        let whole = run_with(MessageKind::Request, limits, &[], &[&bytes]);
        // Bytes 24..88 fit the limit; byte 88 passes it, whatever chunk it came in.
        assert_eq!(
            problems(&whole),
            [
                (Error::SwitchUndecided, span(24, 89)),
                (Error::HeadCutByEnd, span(24, 124))
            ]
        );
        for cut in 0..=bytes.len() {
            let split = run_with(
                MessageKind::Request,
                limits,
                &[],
                &[&bytes[..cut], &bytes[cut..]],
            );
            assert_eq!(split, whole, "cut at {cut}");
        }
        let three = [&bytes[..24], &bytes[24..94], &bytes[94..]];
        assert_eq!(run_with(MessageKind::Request, limits, &[], &three), whole);
    }

    #[test]
    fn held_gap_past_the_limit_ends_the_span_after_the_gap() {
        let limits = Limits {
            max_held_len: 4,
            ..Limits::default()
        };
        let request = b"CONNECT a:1 HTTP/1.1\r\n\r\n";
        let mut parser = Parser::new(MessageKind::Request, limits);
        let mut events = parser.feed(request, 0);
        // Four held bytes fill the limit; the gap after them counts as one more.
        events.extend(parser.feed(b"abcd", 24));
        events.extend(parser.gap(10));
        assert_eq!(
            problems(&events).first(),
            Some(&(Error::SwitchUndecided, span(24, 38)))
        );
    }

    #[test]
    fn unanswered_upgrade_at_the_end_is_reported() {
        let mut bytes = WS_REQUEST.to_vec();
        bytes.extend_from_slice(&[0x81, 0x80, 0, 0, 0, 0]);
        let events = run(MessageKind::Request, &[], &[&bytes]);
        assert_eq!(
            problems(&events),
            [(
                Error::SwitchUndecided,
                span(WS_REQUEST.len() as u64, bytes.len() as u64)
            )]
        );
    }

    #[test]
    fn response_101_without_upgrade_header_is_reported() {
        let events = run(
            MessageKind::Response,
            &["GET"],
            &[b"HTTP/1.1 101 Switching\r\n\r\n"],
        );
        assert_eq!(
            problems(&events),
            [(Error::SwitchWithoutUpgrade, span(0, 26))]
        );
        assert_eq!(
            events.last(),
            Some(&Event::SwitchedProtocols {
                at: 26,
                protocol: String::new()
            })
        );
    }

    #[test]
    fn malformed_head_is_reported_and_parsing_resumes_at_the_next_request() {
        // "Bad Header" has a space in the field name; the next request starts at 30.
        let bytes = b"GET / HTTP/1.1\r\nBad Header\r\n\r\nGET /ok HTTP/1.1\r\n\r\n";
        let events = assert_every_split_same(MessageKind::Request, &[], bytes);
        assert_eq!(
            problems(&events),
            [(
                Error::MalformedHead(httparse::Error::HeaderName),
                span(0, 30)
            )]
        );
        assert_eq!(heads(&events).len(), 1);
        assert_eq!(heads(&events)[0].span, span(30, 50));
    }

    #[test]
    fn binary_bytes_are_one_malformed_head_problem() {
        let bytes = [
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ];
        let events = run(MessageKind::Request, &[], &[&bytes]);
        assert_eq!(
            problems(&events),
            [(Error::MalformedHead(httparse::Error::Token), span(0, 11))]
        );
        let events = run(MessageKind::Response, &[], &[b"SSH-2.0-OpenSSH_9.6\r\n"]);
        assert_eq!(
            problems(&events),
            [(Error::MalformedHead(httparse::Error::Version), span(0, 21))]
        );
    }

    #[test]
    fn head_too_large_is_a_problem_not_a_crash() {
        let limits = Limits {
            max_head_len: 64,
            ..Limits::default()
        };
        let mut bytes = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
        bytes.extend(std::iter::repeat_n(b'a', 100));
        bytes.extend_from_slice(b"\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
        let whole = run_with(MessageKind::Request, limits, &[], &[&bytes]);
        let pieces: Vec<&[u8]> = bytes.chunks(7).collect();
        assert_eq!(run_with(MessageKind::Request, limits, &[], &pieces), whole);
        assert_eq!(
            problems(&whole),
            [(Error::HeadTooLarge { limit: 64 }, span(0, 128))]
        );
        assert_eq!(heads(&whole)[0].span.start(), 128);
    }

    #[test]
    fn head_past_the_limit_is_too_large_whatever_its_later_bytes() {
        let limits = Limits {
            max_head_len: 128,
            ..Limits::default()
        };
        // A 192-byte head whose bad field name (a space in it) starts at byte 177, past the
        // 128-byte limit: only the first 128 bytes are ever looked at.
        let mut bytes = b"HTTP/1.1 200 OK\r\nX-Long: ".to_vec();
        bytes.extend_from_slice(&[b'a'; 150]);
        bytes.extend_from_slice(b"\r\nBad Name: x\r\n\r\n");
        let whole = run_with(MessageKind::Response, limits, &[], &[&bytes]);
        assert_eq!(
            problems(&whole),
            [(Error::HeadTooLarge { limit: 128 }, span(0, 192))]
        );
        for cut in 0..=bytes.len() {
            let split = run_with(
                MessageKind::Response,
                limits,
                &[],
                &[&bytes[..cut], &bytes[cut..]],
            );
            assert_eq!(split, whole, "cut at {cut}");
        }
        // Too many field lines past the limit are not counted either.
        let limits = Limits {
            max_head_len: 32,
            max_headers: 2,
            ..Limits::default()
        };
        let bytes = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        let whole = run_with(MessageKind::Request, limits, &[], &[bytes]);
        assert_eq!(
            problems(&whole),
            [(Error::HeadTooLarge { limit: 32 }, span(0, 36))]
        );
        let pieces: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(run_with(MessageKind::Request, limits, &[], &pieces), whole);
    }

    #[test]
    fn too_many_headers_is_reported() {
        let limits = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        let bytes = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        let events = run_with(MessageKind::Request, limits, &[], &[bytes]);
        assert_eq!(
            problems(&events),
            [(Error::TooManyHeaders { limit: 2 }, span(0, 36))]
        );
    }

    #[test]
    fn bad_chunk_size_is_reported_and_the_next_request_parsed() {
        // Head 0..47, bad size line "zz\r\n" 47..51, next request from 51.
        let bytes = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /next HTTP/1.1\r\n\r\n";
        let events = assert_every_split_same(MessageKind::Request, &[], bytes);
        assert_eq!(problems(&events), [(Error::BadChunkSize, span(47, 51))]);
        assert!(events.contains(&Event::MessageEnd {
            span: span(0, 47),
            complete: false
        }));
        assert_eq!(heads(&events)[1].span.start(), 51);
    }

    #[test]
    fn request_where_a_chunk_size_should_be_is_parsed_as_the_next_request() {
        // The chunked body is missing; the next request line fails as a chunk size.
        let bytes =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
        let events = assert_every_split_same(MessageKind::Request, &[], bytes);
        assert_eq!(problems(&events), [(Error::BadChunkSize, span(47, 47))]);
        assert_eq!(heads(&events)[1].span, span(47, 69));
    }

    #[test]
    fn chunk_data_without_crlf_is_reported() {
        let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n";
        let events = run(MessageKind::Response, &["GET"], &[bytes]);
        assert_eq!(
            problems(&events),
            [(Error::MissingChunkTerminator, span(52, 55))]
        );
    }

    #[test]
    fn absurd_chunk_size_is_bad_not_an_overflow() {
        let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n";
        let events = run(MessageKind::Response, &["GET"], &[bytes]);
        assert_eq!(problems(&events)[0].0, Error::BadChunkSize);
    }

    #[test]
    fn chunk_line_too_long_is_reported() {
        let limits = Limits {
            max_chunk_line_len: 8,
            ..Limits::default()
        };
        let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;aaaaaaaaaaaa\r\nx\r\n0\r\n\r\n";
        let events = run_with(MessageKind::Response, limits, &["GET"], &[bytes]);
        assert_eq!(problems(&events)[0].0, Error::ChunkLineTooLong { limit: 8 });
    }

    #[test]
    fn gap_in_a_body_is_counted_and_the_next_message_parsed() {
        let head = b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
        let mut parser = Parser::new(MessageKind::Request, Limits::default());
        let mut events = parser.feed(head, 0);
        let body_start = head.len() as u64;
        events.extend(parser.feed(b"he", body_start));
        events.extend(parser.gap(2));
        events.extend(parser.feed(b"oGET / HTTP/1.1\r\n\r\n", body_start + 4));
        events.extend(parser.finish());
        assert_eq!(
            problems(&events),
            [(Error::BodyCutByGap, span(body_start + 2, body_start + 4))]
        );
        let body = bodies(&events)[0];
        assert_eq!((body.decoded_len, body.missing_len), (5, 2));
        assert_eq!(body.data, b"he");
        assert!(!body.complete);
        assert_eq!(heads(&events).len(), 2);
    }

    #[test]
    fn gap_given_by_offset_jump_equals_explicit_gap() {
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef";
        let mut explicit = Parser::new(MessageKind::Response, Limits::default());
        let mut first = explicit.feed(&bytes[..40], 0);
        first.extend(explicit.gap(2));
        first.extend(explicit.feed(&bytes[42..], 42));
        let mut jump = Parser::new(MessageKind::Response, Limits::default());
        let mut second = jump.feed(&bytes[..40], 0);
        second.extend(jump.feed(&bytes[42..], 42));
        assert_eq!(first, second);
    }

    #[test]
    fn gap_in_a_head_resynchronizes_on_the_next_request() {
        let mut parser = Parser::new(MessageKind::Request, Limits::default());
        let mut events = parser.feed(b"GET / HT", 0);
        events.extend(parser.gap(5));
        events.extend(parser.feed(b"\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 13));
        assert_eq!(
            problems(&events),
            [
                (Error::HeadCutByGap, span(0, 13)),
                (Error::UnparsedBytes, span(13, 26))
            ]
        );
        assert_eq!(heads(&events)[0].span, span(26, 45));
    }

    #[test]
    fn retransmitted_bytes_are_skipped() {
        let bytes = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
        let mut parser = Parser::new(MessageKind::Request, Limits::default());
        let mut events = parser.feed(&bytes[..25], 0);
        events.extend(parser.feed(&bytes[10..], 10));
        events.extend(parser.feed(&bytes[..5], 0));
        events.extend(parser.finish());
        assert_eq!(events, run(MessageKind::Request, &[], &[bytes]));
    }

    #[test]
    fn stream_end_inside_a_head_or_body_is_reported() {
        let events = run(MessageKind::Request, &[], &[b"GET / HTTP/1.1\r\nHo"]);
        assert_eq!(problems(&events), [(Error::HeadCutByEnd, span(0, 18))]);
        let events = run(
            MessageKind::Request,
            &[],
            &[b"PUT / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc"],
        );
        assert_eq!(problems(&events), [(Error::BodyCutByEnd, span(40, 46))]);
        assert_eq!(
            events.last(),
            Some(&Event::MessageEnd {
                span: span(0, 40),
                complete: false
            })
        );
        let events = run(
            MessageKind::Response,
            &["GET"],
            &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"],
        );
        assert_eq!(problems(&events), [(Error::BodyCutByEnd, span(47, 52))]);
    }

    #[test]
    fn body_beyond_the_buffer_limit_is_counted_with_its_prefix() {
        let limits = Limits {
            max_body_buffer: 4,
            ..Limits::default()
        };
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
        let events = run_with(MessageKind::Response, limits, &["GET"], &[bytes]);
        let body = bodies(&events)[0];
        assert_eq!(body.data, b"0123");
        assert_eq!(body.decoded_len, 10);
        assert_eq!(body.span, span(39, 49));
        assert!(body.complete);
    }

    #[test]
    fn content_length_rules() {
        // Both lengths: chunked wins and the pair is reported.
        let both =
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        let events = run(MessageKind::Request, &[], &[both]);
        assert_eq!(
            problems(&events),
            [(Error::ContentLengthWithTransferEncoding, span(0, 66))]
        );
        assert!(events
            .iter()
            .any(|event| matches!(event, Event::LastChunk(_))));
        // Repeated equal values are one length.
        let repeated = b"POST / HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nok";
        let events = run(MessageKind::Request, &[], &[repeated]);
        assert!(problems(&events).is_empty());
        assert_eq!(bodies(&events)[0].data, b"ok");
        // Differing or non-numeric values break the framing.
        let conflict = b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokGET / HTTP/1.1\r\n\r\n";
        let events = run(MessageKind::Request, &[], &[conflict]);
        assert_eq!(problems(&events)[0].0, Error::ConflictingContentLength);
        assert_eq!(heads(&events).len(), 2);
        let invalid = b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n";
        let events = run(MessageKind::Request, &[], &[invalid]);
        assert_eq!(
            problems(&events),
            [(Error::InvalidContentLength, span(0, 39))]
        );
        // A request body coded without chunked cannot be delimited.
        let gzip = b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n";
        let events = run(MessageKind::Request, &[], &[gzip]);
        assert_eq!(problems(&events)[0].0, Error::UnframedRequestBody);
    }

    #[test]
    fn empty_lines_before_a_head_are_reported_once() {
        let bytes = b"\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        let events = assert_every_split_same(MessageKind::Request, &[], bytes);
        assert_eq!(
            problems(&events),
            [(Error::EmptyLineBeforeHead, span(0, 4))]
        );
        assert_eq!(heads(&events)[0].span, span(4, 22));
    }

    #[test]
    fn too_many_pending_requests_is_refused() {
        let limits = Limits {
            max_pending_requests: 1,
            ..Limits::default()
        };
        let mut parser = Parser::new(MessageKind::Response, limits);
        assert_eq!(parser.expect_response_to("GET"), Ok(()));
        assert_eq!(
            parser.expect_response_to("GET"),
            Err(Error::TooManyPendingRequests { limit: 1 })
        );
    }

    const SSE_HEAD: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\r\n";

    #[test]
    fn server_sent_events_follow_the_whatwg_rules_at_every_split() {
        let body: &[u8] = b": keepalive\n\n\
event: update\ndata: line1\ndata: line2\nid: 7\nretry: 3000\n\n\
data: second\r\n\r\n\
data\rdata:x\r\r";
        let mut bytes = SSE_HEAD.to_vec();
        bytes.extend_from_slice(body);
        let events = assert_every_split_same(MessageKind::Response, &["GET"], &bytes);
        let found = sse_events(&events);
        assert_eq!(found.len(), 4);
        let base = SSE_HEAD.len() as u64;

        // A comment-only block fires no event.
        assert_eq!(
            found[0].lines[0].kind,
            SseLineKind::Comment(" keepalive".into())
        );
        assert!(!found[0].dispatched);
        assert_eq!(found[0].span, span(base, base + 13));

        let update = found[1];
        assert_eq!(update.event_type, "update");
        assert_eq!(update.data, "line1\nline2");
        assert_eq!(update.last_event_id, "7");
        assert_eq!(update.retry, Some(3000));
        assert!(update.dispatched);
        assert_eq!(update.lines.len(), 5);
        assert_eq!(update.lines[1].span, span(base + 27, base + 39));
        assert_eq!(update.span, span(base + 13, base + 70));

        // CRLF line ends; the last event ID carries over.
        assert_eq!(found[2].data, "second");
        assert_eq!(found[2].event_type, "message");
        assert_eq!(found[2].last_event_id, "7");
        assert_eq!(found[2].span, span(base + 70, base + 86));

        // CR line ends; "data" without a colon appends an empty line.
        assert_eq!(found[3].data, "\nx");
        assert_eq!(found[3].span, span(base + 86, base + 99));
        assert!(problems(&events).is_empty());
    }

    #[test]
    fn server_sent_events_inside_chunks_are_split_across_chunks() {
        // The event "data: hello\n\n" is cut in two chunks: "data: he" and "llo\n\n".
        let mut bytes = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let base = bytes.len() as u64;
        bytes.extend_from_slice(b"8\r\ndata: he\r\n5\r\nllo\n\n\r\n0\r\n\r\n");
        let events = assert_every_split_same(MessageKind::Response, &["GET"], &bytes);
        let found = sse_events(&events);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].data, "hello");
        // From "d" (after the size line) to the second LF (before the chunk CRLF).
        assert_eq!(found[0].span, span(base + 3, base + 21));
    }

    #[test]
    fn server_sent_events_edge_fields() {
        let mut bytes = SSE_HEAD.to_vec();
        bytes.extend_from_slice(
            b"\xEF\xBB\xBFdata: a\nid: x\0y\nretry: 12a\nfoo: bar\n\nid\ndata: b\n\ndata: cut",
        );
        let events = run(MessageKind::Response, &["GET"], &[&bytes]);
        let found = sse_events(&events);
        // The byte order mark is dropped; an id with NUL and a non-numeric retry are ignored.
        assert_eq!(found[0].data, "a");
        assert_eq!(found[0].last_event_id, "");
        assert_eq!(found[0].retry, None);
        assert_eq!(found[0].lines.len(), 4);
        // "id" alone resets the last event ID to empty.
        assert_eq!(found[1].last_event_id, "");
        assert_eq!(found[1].data, "b");
        // The unterminated last event is discarded and reported.
        let end = bytes.len() as u64;
        assert_eq!(
            problems(&events),
            [(Error::SseEventUnterminated, span(end - 9, end))]
        );
    }

    #[test]
    fn server_sent_event_beyond_the_limit_is_truncated() {
        let limits = Limits {
            max_sse_event_len: 16,
            ..Limits::default()
        };
        let mut bytes = SSE_HEAD.to_vec();
        bytes.extend_from_slice(b"data: 0123456789\ndata: 0123456789\n\n");
        let events = run_with(MessageKind::Response, limits, &["GET"], &[&bytes]);
        let found = sse_events(&events);
        assert!(found[0].truncated);
        assert_eq!(found[0].data, "0123456789");
        assert_eq!(problems(&events)[0].0, Error::SseEventTooLarge);
    }

    #[test]
    fn gzip_event_stream_is_not_parsed() {
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\n\r\n\x1f\x8b";
        let events = run(MessageKind::Response, &["GET"], &[bytes]);
        assert!(sse_events(&events).is_empty());
        assert_eq!(problems(&events)[0].0, Error::SseEncoded);
    }

    #[test]
    fn header_helpers_read_lists() {
        let bytes =
            b"GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nconnection: ,close\r\n\r\n";
        let events = run(MessageKind::Request, &[], &[bytes]);
        let head = heads(&events)[0];
        assert_eq!(head.list("CONNECTION"), ["keep-alive", "Upgrade", "close"]);
        assert!(head.has_token("connection", "upgrade"));
        assert!(!head.has_token("connection", "keep"));
        assert_eq!(head.headers_named("connection").count(), 2);
    }

    /// A valid request stream: GET, POST with a length, chunked POST with trailers.
    const REQUESTS: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world\
POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n\
HEAD /d HTTP/1.0\r\n\r\n";

    /// Responses to the requests above, then a 100, an event stream read until close.
    const RESPONSES: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc\
HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n\
HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: a\r\n\r\n: c\rid: 2\ndata: b\n\n";

    const RESPONSE_METHODS: &[&str] = &["GET", "POST", "POST", "HEAD", "GET"];

    fn cut(bytes: &[u8], mut cuts: Vec<usize>) -> Vec<&[u8]> {
        cuts.iter_mut().for_each(|cut| *cut %= bytes.len() + 1);
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for cut in cuts {
            pieces.push(&bytes[start..cut]);
            start = cut;
        }
        pieces.push(&bytes[start..]);
        pieces
    }

    /// Feeds `bytes` with a gap of `gap_len` after `gap_at` bytes, each side cut at `cuts`;
    /// the response parser expects answers to GET, CONNECT and HEAD.
    pub(super) fn run_gapped(
        kind: MessageKind,
        limits: Limits,
        bytes: &[u8],
        gap_at: usize,
        gap_len: u64,
        cuts: &[usize],
    ) -> Vec<Event> {
        let (before, after) = bytes.split_at(gap_at % (bytes.len() + 1));
        let mut parser = Parser::new(kind, limits);
        for method in ["GET", "CONNECT", "HEAD"] {
            parser.expect_response_to(method).unwrap();
        }
        let mut events = Vec::new();
        let mut offset = 0;
        for (index, part) in [before, after].into_iter().enumerate() {
            for piece in cut(part, cuts.to_vec()) {
                events.extend(parser.feed(piece, offset));
                offset += piece.len() as u64;
            }
            if index == 0 {
                events.extend(parser.gap(gap_len));
                offset += gap_len;
            }
        }
        events.extend(parser.finish());
        events
    }

    #[test]
    fn valid_streams_have_no_problem() {
        let events = run(MessageKind::Request, &[], &[REQUESTS]);
        assert!(problems(&events).is_empty());
        assert_eq!(heads(&events).len(), 4);
        let events = run(MessageKind::Response, RESPONSE_METHODS, &[RESPONSES]);
        assert!(problems(&events).is_empty());
        assert_eq!(heads(&events).len(), 6);
        assert_eq!(sse_events(&events).len(), 2);
    }

    proptest! {
        #[test]
        fn random_chunking_of_valid_streams_gives_the_same_events(
            cuts in proptest::collection::vec(0_usize..1000, 0..12),
        ) {
            let whole = run(MessageKind::Request, &[], &[REQUESTS]);
            prop_assert_eq!(run(MessageKind::Request, &[], &cut(REQUESTS, cuts.clone())), whole);
            let whole = run(MessageKind::Response, RESPONSE_METHODS, &[RESPONSES]);
            prop_assert_eq!(run(MessageKind::Response, RESPONSE_METHODS, &cut(RESPONSES, cuts)), whole);
        }

        #[test]
        fn random_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(0_usize..600, 0..8),
            gap in 0_u64..20,
        ) {
            let limits = Limits { max_head_len: 128, max_chunk_line_len: 16, max_held_len: 64, ..Limits::default() };
            for kind in [MessageKind::Request, MessageKind::Response] {
                let mut parser = Parser::new(kind, limits);
                let _ = parser.expect_response_to("CONNECT");
                let mut offset = 0;
                let mut events = Vec::new();
                for (index, piece) in cut(&bytes, cuts.clone()).into_iter().enumerate() {
                    events.extend(parser.feed(piece, offset));
                    offset += piece.len() as u64;
                    if index == 1 {
                        events.extend(parser.gap(gap));
                        offset += gap;
                    }
                }
                events.extend(parser.resume());
                events.extend(parser.finish());
                // Heads and messages only cover bytes that were fed.
                for head in heads(&events) {
                    prop_assert!(head.span.end() <= offset && head.span.len() <= 128);
                }
                for event in &events {
                    if let Event::MessageEnd { span, .. } = event {
                        prop_assert!(span.end() <= offset);
                    }
                }
            }
        }

        #[test]
        fn small_alphabet_bytes_give_the_same_events_whatever_the_chunking(
            bytes in proptest::collection::vec(
                proptest::sample::select(&b"GET /HTP1.0 \r\n:;abc2\x00"[..]), 0..300),
            cuts in proptest::collection::vec(0_usize..300, 0..8),
            gap_at in 0_usize..300,
            gap_len in 0_u64..8,
        ) {
            let limits = Limits { max_head_len: 64, max_chunk_line_len: 8, ..Limits::default() };
            for kind in [MessageKind::Request, MessageKind::Response] {
                let whole = run_gapped(kind, limits, &bytes, gap_at, gap_len, &[]);
                let split = run_gapped(kind, limits, &bytes, gap_at, gap_len, &cuts);
                prop_assert_eq!(split, whole);
            }
        }

        #[test]
        fn http_shaped_garbage_gives_the_same_events_whatever_the_chunking(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(&b"GET / HTTP/1.1\r\n"[..]),
                    Just(&b"HTTP/1.1 200 OK\r\n"[..]),
                    Just(&b"HTTP/1.1 101 S\r\n"[..]),
                    Just(&b"Transfer-Encoding: chunked\r\n"[..]),
                    Just(&b"Content-Length: 3\r\n"[..]),
                    Just(&b"Content-Type: text/event-stream\r\n"[..]),
                    Just(&b"Upgrade: websocket\r\n"[..]),
                    Just(&b"\r\n"[..]),
                    Just(&b"\r"[..]),
                    Just(&b"5\r\nhello\r\n"[..]),
                    Just(&b"0\r\n"[..]),
                    Just(&b"data: x\n"[..]),
                    Just(&b"CONNECT a:1 HTTP/1.1\r\n"[..]),
                ],
                0..30,
            ),
            cuts in proptest::collection::vec(0_usize..600, 0..8),
            gap_at in 0_usize..600,
            gap_len in 0_u64..8,
        ) {
            let bytes: Vec<u8> = parts.concat();
            for kind in [MessageKind::Request, MessageKind::Response] {
                let limits = Limits::default();
                let whole = run_gapped(kind, limits, &bytes, gap_at, gap_len, &[]);
                prop_assert_eq!(run_gapped(kind, limits, &bytes, gap_at, gap_len, &cuts), whole);
                let pieces = cut(&bytes, cuts.clone());
                let mut parser = Parser::new(kind, Limits::default());
                let mut offset = 0;
                for piece in pieces {
                    parser.feed(piece, offset);
                    offset += piece.len() as u64;
                    parser.switch_at(offset + 3);
                }
                parser.finish();
            }
        }
    }
}
