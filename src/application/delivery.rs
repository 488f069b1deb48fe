//! Message delivery, for comparing the ways a server pushes messages to a client: per TCP
//! connection, the messages it delivered and when, what it cost (frames, bytes, HTTP requests
//! and responses), and which technique it used: polling, long polling, Server-Sent Events or
//! WebSocket.
//!
//! # The message convention
//!
//! A delivered message is a JSON object with a member `seq`, a non-negative integer, and a
//! member `sent`, a number: the server's clock when it produced the message, in milliseconds
//! since the Unix epoch (fractions allowed, read to the microsecond). The two names are written
//! as they are (`"seq"`, `"sent"`, not with `\u` escapes). Other members are ignored. Only
//! messages from the server to the client count. They are looked for in:
//!
//! - the payload of every WebSocket text or binary message;
//! - the `data` of every Server-Sent Event (its data lines joined with LF);
//! - the body of every other HTTP response (after removing the chunked framing; a body with a
//!   content coding such as gzip is not read).
//!
//! Each of these is read as one JSON value: an object following the convention is one message,
//! an array gives one message per element that follows it (other elements are skipped), and
//! anything else (other JSON, or not JSON) gives none. Nothing deeper is searched.
//!
//! # The technique of a connection
//!
//! Only connections that delivered at least one message get a technique, decided by the first
//! rule that applies:
//!
//! 1. **WebSocket**: the connection carried WebSocket frames (after a `101 Switching
//!    Protocols` answer to an Upgrade request, or recognised mid-stream).
//! 2. **Server-Sent Events**: a response had `Content-Type: text/event-stream`.
//! 3. **Long polling**: the server *held* more than half of the requests it answered: its
//!    answer began at least [`HOLD_THRESHOLD_US`] (50 ms) after the request ended, not counting
//!    the connection's initial round-trip time (measured on the TCP handshake, so a capture
//!    taken at the client does not count the network's delay as holding). A server answering
//!    from memory takes a few milliseconds at most; a long-polling server waits until it has
//!    news, which at any pace worth long polling is far longer.
//! 4. **Polling**: the other HTTP connections that delivered messages: the server answered at
//!    once, with what was new, or with nothing.
//!
//! The delay of a message is the capture time of the frame that completed its delivery (the
//! last frame of the WebSocket message, the frame with the event's blank line, the frame with
//! the last byte of the response body) minus its `sent` stamp.
//!
//! Memory is bounded by [`Limits`]: messages past `max_messages` are counted, not kept.

use std::collections::VecDeque;
use std::fmt;
use std::sync::LazyLock;

use memchr::memmem::Finder;

use crate::application::conversation::{AppEvent, DirEvent};
use crate::application::http::{Event as HttpEvent, Head};
use crate::application::websocket::message::Event as WsEvent;
use crate::application::websocket::opcode::{Data, OpCode};
use crate::flow::Direction;

/// A request counts as held when the server's answer began this long after it ended
/// (microseconds), beyond the connection's initial round-trip time.
pub const HOLD_THRESHOLD_US: i64 = 50_000;

/// How a connection delivered its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Technique {
    /// Requests answered at once, with what is new or with nothing.
    Polling,
    /// Requests the server holds until it has something to send.
    LongPolling,
    /// One response whose body (`text/event-stream`) goes on carrying events.
    ServerSentEvents,
    /// Messages in WebSocket frames after the Upgrade handshake.
    WebSocket,
}

impl Technique {
    /// Every technique, from the oldest to the newest.
    pub const ALL: [Technique; 4] = [
        Technique::Polling,
        Technique::LongPolling,
        Technique::ServerSentEvents,
        Technique::WebSocket,
    ];

    /// The name shown to people.
    pub fn name(self) -> &'static str {
        match self {
            Technique::Polling => "polling",
            Technique::LongPolling => "long polling",
            Technique::ServerSentEvents => "Server-Sent Events",
            Technique::WebSocket => "WebSocket",
        }
    }

    /// A short name for narrow tables.
    pub fn short_name(self) -> &'static str {
        match self {
            Technique::Polling => "polling",
            Technique::LongPolling => "long poll",
            Technique::ServerSentEvents => "SSE",
            Technique::WebSocket => "WebSocket",
        }
    }

    /// The key used in JSON output.
    pub fn key(self) -> &'static str {
        match self {
            Technique::Polling => "polling",
            Technique::LongPolling => "long-polling",
            Technique::ServerSentEvents => "sse",
            Technique::WebSocket => "websocket",
        }
    }
}

impl fmt::Display for Technique {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The stamp a message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The message's sequence number.
    pub seq: u64,
    /// When the server produced it, in microseconds since the Unix epoch.
    pub sent_us: i64,
}

/// The names [`stamps`] looks for before parsing, each searcher built once.
static SEQ: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"seq\""));
static SENT: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"sent\""));

/// The messages that a JSON text carries, following the convention in the module's doc.
pub fn stamps(text: &[u8]) -> Vec<Stamp> {
    // A cheap test first: most payloads are not JSON objects or arrays.
    let starts_json = text
        .iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|byte| *byte == b'{' || *byte == b'[');
    // A second one: most JSON payloads carry no stamp, and parsing them all
    // would cost more than the rest of the decoding.
    if !starts_json || SEQ.find(text).is_none() || SENT.find(text).is_none() {
        return Vec::new();
    }
    match serde_json::from_slice::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(items)) => items.iter().filter_map(stamp).collect(),
        Ok(value) => stamp(&value).into_iter().collect(),
        Err(_) => Vec::new(),
    }
}

/// The stamp of one JSON object, if it follows the convention.
fn stamp(value: &serde_json::Value) -> Option<Stamp> {
    let object = value.as_object()?;
    let seq = object.get("seq")?.as_u64()?;
    let sent_ms = object.get("sent")?.as_f64()?;
    let sent_us = (sent_ms * 1000.0).round();
    // Outside this range the stamp is no time at all (and the cast would saturate).
    if !sent_us.is_finite() || sent_us.abs() > 9.0e15 {
        return None;
    }
    // The range check above keeps the value exact in an i64.
    #[allow(clippy::cast_possible_truncation)]
    Some(Stamp {
        seq,
        sent_us: sent_us as i64,
    })
}

/// Bounds on what an [`Observer`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Messages kept over the whole capture (default 1,048,576); more are counted.
    pub max_messages: usize,
    /// Requests per connection still waiting for their answer (default 1024); older ones are
    /// forgotten, and their answers are not timed.
    pub max_pending_requests: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_messages: 1 << 20,
            max_pending_requests: 1024,
        }
    }
}

/// One delivered message, where and when its delivery completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub stamp: Stamp,
    /// The frame that completed the delivery.
    pub frame: u64,
    /// That frame's capture time, in microseconds since the Unix epoch.
    pub at_us: i64,
}

/// What one connection showed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// The connection's `tcp.stream`.
    pub stream: u32,
    /// Frames of the connection, both directions, and their bytes on the wire.
    pub frames: u64,
    pub bytes: u64,
    pub first_frame: u64,
    pub last_frame: u64,
    /// HTTP request and response heads (a WebSocket handshake counts one of each), and their
    /// bytes.
    pub requests: u64,
    pub responses: u64,
    pub head_bytes: u64,
    /// Answers to a request whose timing is known, and how many of them the server held.
    pub timed_responses: u64,
    pub held_responses: u64,
    /// The longest time the server took to answer, beyond the initial round trip
    /// (microseconds).
    pub max_hold_us: i64,
    /// Responses other than event streams and `101` whose body carried no message.
    pub empty_responses: u64,
    pub event_stream: bool,
    pub websocket: bool,
    /// The messages delivered, in the order their delivery completed.
    pub messages: Vec<Delivered>,
}

impl Observed {
    /// The connection's technique, by the rules in the module's doc; `None` when it delivered
    /// no message.
    pub fn technique(&self) -> Option<Technique> {
        if self.messages.is_empty() {
            None
        } else if self.websocket {
            Some(Technique::WebSocket)
        } else if self.event_stream {
            Some(Technique::ServerSentEvents)
        } else if self.held_responses.saturating_mul(2) > self.timed_responses {
            Some(Technique::LongPolling)
        } else {
            Some(Technique::Polling)
        }
    }
}

/// One connection being observed.
#[derive(Debug, Default)]
struct Connection {
    seen: Observed,
    /// When each request not yet answered ended, in microseconds.
    pending: VecDeque<i64>,
    /// The response being read: whether it is an event stream and how many messages its body
    /// carried so far.
    response: Option<Response>,
}

#[derive(Debug)]
struct Response {
    event_stream: bool,
    switching: bool,
    messages: u64,
}

/// Watches every connection of a capture for delivered messages.
#[derive(Debug, Default)]
pub struct Observer {
    limits: Limits,
    /// By tracker slot.
    connections: Vec<Connection>,
    kept: usize,
    dropped: u64,
}

impl Observer {
    pub fn new(limits: Limits) -> Observer {
        Observer {
            limits,
            ..Observer::default()
        }
    }

    fn connection(&mut self, slot: usize) -> Option<&mut Connection> {
        // The tracker hands slots out one by one, so this grows by one at a time.
        if self.connections.len() == slot {
            self.connections.push(Connection::default());
        }
        self.connections.get_mut(slot)
    }

    /// The last frame counted for the connection in slot `slot` (0 before any).
    pub fn last_frame(&self, slot: usize) -> u64 {
        self.connections
            .get(slot)
            .map_or(0, |connection| connection.seen.last_frame)
    }

    /// Counts a frame of the connection in tracker slot `slot` (`tcp.stream` `stream`), with
    /// its length on the wire.
    pub fn frame(&mut self, slot: usize, stream: u32, frame: u64, wire_len: u64) {
        let Some(connection) = self.connection(slot) else {
            return;
        };
        let seen = &mut connection.seen;
        if seen.frames == 0 {
            seen.stream = stream;
            seen.first_frame = frame;
        }
        seen.frames = seen.frames.saturating_add(1);
        seen.bytes = seen.bytes.saturating_add(wire_len);
        seen.last_frame = frame;
    }

    /// Reads the events that a frame of the connection in slot `slot` released, captured at
    /// `at_us`; `rtt_us` is the connection's initial round-trip time, when known.
    pub fn events(
        &mut self,
        slot: usize,
        frame: u64,
        at_us: i64,
        rtt_us: Option<i64>,
        events: &[DirEvent],
    ) {
        let max_pending = self.limits.max_pending_requests;
        let mut found: Vec<Stamp> = Vec::new();
        let Some(connection) = self.connection(slot) else {
            return;
        };
        for event in events {
            let to_client = event.direction == Direction::ServerToClient;
            match &event.event {
                AppEvent::Http(http) if to_client => {
                    connection.response_event(http, at_us, rtt_us, &mut found);
                }
                AppEvent::Http(http) => connection.request_event(http, at_us, max_pending),
                AppEvent::WebSocket(WsEvent::Message(message)) => {
                    connection.seen.websocket = true;
                    let data = matches!(
                        message.opcode,
                        OpCode::Data(Data::Text) | OpCode::Data(Data::Binary)
                    );
                    if to_client && data {
                        found.extend(stamps(&message.payload));
                    }
                }
                AppEvent::WebSocket(_) | AppEvent::Guessed { .. } => {
                    connection.seen.websocket = true;
                }
                AppEvent::Handshake(_) | AppEvent::Tls(_) | AppEvent::HoldOverflow { .. } => {}
            }
        }
        for stamp in found {
            self.deliver(slot, stamp, frame, at_us);
        }
    }

    fn deliver(&mut self, slot: usize, stamp: Stamp, frame: u64, at_us: i64) {
        if self.kept >= self.limits.max_messages {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        self.kept = self.kept.saturating_add(1);
        if let Some(connection) = self.connections.get_mut(slot) {
            connection.seen.messages.push(Delivered {
                stamp,
                frame,
                at_us,
            });
        }
    }

    /// Forgets the connection in slot `slot`, which the tracker let go (the slot is reused),
    /// and returns what it showed, if it had any frame.
    pub fn retire(&mut self, slot: usize) -> Option<Observed> {
        let connection = std::mem::take(self.connections.get_mut(slot)?);
        (connection.seen.frames > 0).then_some(connection.seen)
    }

    /// What every connection showed, in slot order (which is `tcp.stream` order).
    pub fn observed(&self) -> impl Iterator<Item = &Observed> {
        self.connections.iter().map(|connection| &connection.seen)
    }

    /// Messages found but not kept because of `Limits::max_messages`.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl Connection {
    fn request_event(&mut self, event: &HttpEvent, at_us: i64, max_pending: usize) {
        match event {
            HttpEvent::Head(head) => {
                self.seen.requests = self.seen.requests.saturating_add(1);
                self.seen.head_bytes = self.seen.head_bytes.saturating_add(head.span.len());
                if self.pending.len() >= max_pending {
                    self.pending.pop_front();
                }
                self.pending.push_back(at_us);
            }
            // The request's last byte: its answer is timed from here.
            HttpEvent::MessageEnd { .. } => {
                if let Some(end) = self.pending.back_mut() {
                    *end = at_us;
                }
            }
            _ => {}
        }
    }

    fn response_event(
        &mut self,
        event: &HttpEvent,
        at_us: i64,
        rtt_us: Option<i64>,
        found: &mut Vec<Stamp>,
    ) {
        match event {
            HttpEvent::Head(head) => self.response_head(head, at_us, rtt_us),
            HttpEvent::Sse(sse) => {
                let stamps = stamps(sse.data.as_bytes());
                if let Some(response) = self.response.as_mut() {
                    response.messages = response.messages.saturating_add(len64(stamps.len()));
                }
                found.extend(stamps);
            }
            HttpEvent::Body(body) => {
                let read = self
                    .response
                    .as_ref()
                    .is_some_and(|r| !r.event_stream && !r.switching);
                if read && body.complete {
                    let stamps = stamps(&body.data);
                    if let Some(response) = self.response.as_mut() {
                        response.messages = response.messages.saturating_add(len64(stamps.len()));
                    }
                    found.extend(stamps);
                }
            }
            HttpEvent::MessageEnd { .. } | HttpEvent::SwitchedProtocols { .. } => {
                if let Some(response) = self.response.take() {
                    if response.messages == 0 && !response.event_stream && !response.switching {
                        self.seen.empty_responses = self.seen.empty_responses.saturating_add(1);
                    }
                }
            }
            _ => {}
        }
    }

    fn response_head(&mut self, head: &Head, at_us: i64, rtt_us: Option<i64>) {
        let seen = &mut self.seen;
        seen.responses = seen.responses.saturating_add(1);
        seen.head_bytes = seen.head_bytes.saturating_add(head.span.len());
        let status = head.status().unwrap_or(0);
        // An interim answer (1xx other than 101) is followed by the real one.
        if (100..200).contains(&status) && status != 101 {
            return;
        }
        let event_stream = is_event_stream(head);
        seen.event_stream |= event_stream;
        if let Some(asked) = self.pending.pop_front() {
            let hold = at_us
                .saturating_sub(asked)
                .saturating_sub(rtt_us.unwrap_or(0));
            seen.timed_responses = seen.timed_responses.saturating_add(1);
            if hold >= HOLD_THRESHOLD_US {
                seen.held_responses = seen.held_responses.saturating_add(1);
            }
            seen.max_hold_us = seen.max_hold_us.max(hold);
        }
        self.response = Some(Response {
            event_stream,
            switching: status == 101,
            messages: 0,
        });
    }
}

/// Whether a response's media type is `text/event-stream`.
fn is_event_stream(head: &Head) -> bool {
    head.header("content-type").is_some_and(|header| {
        let value = header.value_text();
        let media = value.split(';').next().unwrap_or_default().trim();
        media.eq_ignore_ascii_case("text/event-stream")
    })
}

fn len64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[allow(
    clippy::arithmetic_side_effects,
    reason = "test arithmetic on known small values"
)]
mod tests {
    use super::*;
    use crate::application::conversation::Conversation;

    fn seqs(text: &[u8]) -> Vec<u64> {
        stamps(text).iter().map(|stamp| stamp.seq).collect()
    }

    #[test]
    fn an_object_with_seq_and_sent_is_a_message() {
        let found = stamps(br#"{"seq":7,"sent":1718000000123.456,"text":"hi"}"#);
        assert_eq!(
            found,
            vec![Stamp {
                seq: 7,
                sent_us: 1_718_000_000_123_456
            }]
        );
        assert_eq!(
            stamps(br#" {"sent":1718000000123,"seq":0} "#),
            vec![Stamp {
                seq: 0,
                sent_us: 1_718_000_000_123_000
            }]
        );
    }

    #[test]
    fn an_array_gives_its_conforming_elements() {
        let body = br#"[{"seq":1,"sent":1000},{"seq":2},7,{"seq":3,"sent":3000.5},"x"]"#;
        assert_eq!(seqs(body), vec![1, 3]);
        assert_eq!(stamps(b"[]"), Vec::new());
    }

    #[test]
    fn other_json_and_other_text_give_nothing() {
        for text in [
            &br#"{"seq":-1,"sent":1}"#[..],
            br#"{"seq":1.5,"sent":1}"#,
            br#"{"seq":1,"sent":"yesterday"}"#,
            br#"{"seq":1,"sent":1e300}"#,
            br#"{"n":3}"#,
            // The names are looked for as written, escapes are not read.
            br#"{"\u0073eq":1,"sent":1}"#,
            br#"{"seq":1,"s\u0065nt":1}"#,
            br#"{"messages":[{"seq":1,"sent":1}]}"#,
            br#"[[{"seq":1,"sent":1}]]"#,
            br#"{"seq":1,"sent":1} trailing"#,
            b"seq 1 sent 1",
            b"",
            b"\xff\xfe{",
        ] {
            assert_eq!(
                stamps(text),
                Vec::new(),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    /// One connection's application decoders, fed as a capture would feed them.
    struct Wire {
        conversation: Conversation,
        offsets: [u64; 2],
        observer: Observer,
        frame: u64,
    }

    impl Wire {
        fn new(observer: Observer) -> Wire {
            Wire {
                conversation: Conversation::default(),
                offsets: [0, 0],
                observer,
                frame: 0,
            }
        }

        /// Bytes from one side, captured at `at_us`, with a 0.1 ms initial round trip.
        fn send(&mut self, direction: Direction, at_us: i64, bytes: &[u8]) {
            let offset = self.offsets[direction.index()];
            self.offsets[direction.index()] += bytes.len() as u64;
            self.frame += 1;
            self.observer
                .frame(0, 0, self.frame, bytes.len() as u64 + 54);
            let events = self.conversation.feed(direction, offset, bytes);
            self.observer
                .events(0, self.frame, at_us, Some(100), &events);
        }

        fn seen(&self) -> &Observed {
            self.observer.observed().next().unwrap()
        }
    }

    const C2S: Direction = Direction::ClientToServer;
    const S2C: Direction = Direction::ServerToClient;
    const GET: &[u8] = b"GET /updates?after=0 HTTP/1.1\r\nHost: example\r\n\r\n";

    fn json_answer(body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    /// One GET, answered `hold_us` after it was sent.
    fn exchange(wire: &mut Wire, asked_us: i64, hold_us: i64, answer: &[u8]) {
        wire.send(C2S, asked_us, GET);
        wire.send(S2C, asked_us + hold_us, answer);
    }

    #[test]
    fn answers_given_at_once_are_polling_and_empty_ones_are_counted() {
        let mut wire = Wire::new(Observer::default());
        exchange(&mut wire, 0, 1_000, &json_answer("[]"));
        let two = json_answer(r#"[{"seq":1,"sent":100},{"seq":2,"sent":200}]"#);
        exchange(&mut wire, 500_000, 1_000, &two);
        let seen = wire.seen();
        assert_eq!((seen.requests, seen.responses), (2, 2));
        assert_eq!((seen.timed_responses, seen.held_responses), (2, 0));
        assert_eq!(seen.empty_responses, 1);
        assert_eq!(seen.max_hold_us, 900);
        assert_eq!((seen.frames, seen.first_frame, seen.last_frame), (4, 1, 4));
        assert_eq!(seen.technique(), Some(Technique::Polling));
        let delivered: Vec<(u64, u64, i64)> = seen
            .messages
            .iter()
            .map(|m| (m.stamp.seq, m.frame, m.at_us))
            .collect();
        assert_eq!(delivered, vec![(1, 4, 501_000), (2, 4, 501_000)]);
    }

    #[test]
    fn answers_held_past_the_threshold_are_long_polling() {
        let one = json_answer(r#"[{"seq":1,"sent":100}]"#);
        let mut wire = Wire::new(Observer::default());
        // Held for 50 ms beyond the 0.1 ms round trip, twice; answered at once once.
        exchange(&mut wire, 0, HOLD_THRESHOLD_US + 100, &one);
        exchange(&mut wire, 200_000, HOLD_THRESHOLD_US + 100, &one);
        exchange(&mut wire, 400_000, 2_000, &one);
        let seen = wire.seen();
        assert_eq!((seen.timed_responses, seen.held_responses), (3, 2));
        assert_eq!(seen.max_hold_us, HOLD_THRESHOLD_US);
        assert_eq!(seen.technique(), Some(Technique::LongPolling));
        // Just under the threshold is not held; a tie is not a majority.
        let mut wire = Wire::new(Observer::default());
        exchange(&mut wire, 0, HOLD_THRESHOLD_US + 99, &one);
        assert_eq!(wire.seen().technique(), Some(Technique::Polling));
        exchange(&mut wire, 200_000, HOLD_THRESHOLD_US + 100, &one);
        assert_eq!(wire.seen().held_responses, 1);
        assert_eq!(wire.seen().technique(), Some(Technique::Polling));
    }

    #[test]
    fn an_event_stream_delivers_one_message_per_event() {
        let mut wire = Wire::new(Observer::default());
        wire.send(
            C2S,
            0,
            b"GET /events HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n",
        );
        wire.send(
            S2C,
            1_000,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        wire.send(
            S2C,
            5_000,
            b"28\r\nid: 1\ndata: {\"seq\":1,\"sent\":1.5,\"x\":0}\n\n\r\n",
        );
        wire.send(S2C, 9_000, b"10\r\ndata: not json\n\n\r\n0\r\n\r\n");
        let seen = wire.seen();
        assert!(seen.event_stream);
        assert_eq!(seen.empty_responses, 0);
        assert_eq!(seen.technique(), Some(Technique::ServerSentEvents));
        let one = Delivered {
            stamp: Stamp {
                seq: 1,
                sent_us: 1_500,
            },
            frame: 3,
            at_us: 5_000,
        };
        assert_eq!(seen.messages, vec![one]);
    }

    #[test]
    fn websocket_messages_from_the_server_are_delivered() {
        let mut wire = Wire::new(Observer::default());
        wire.send(
            C2S,
            0,
            b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        );
        wire.send(
            S2C,
            1_000,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        );
        // A server text frame carrying {"seq":4,"sent":2}, and the same from the client,
        // masked with the key 00 00 00 00.
        let text = br#"{"seq":4,"sent":2}"#;
        let mut frame = vec![0x81, text.len() as u8];
        frame.extend_from_slice(text);
        wire.send(S2C, 3_000, &frame);
        let mut masked = vec![0x81, 0x80 | text.len() as u8, 0, 0, 0, 0];
        masked.extend_from_slice(text);
        wire.send(C2S, 4_000, &masked);
        let seen = wire.seen();
        assert!(seen.websocket);
        assert_eq!(
            (seen.requests, seen.responses, seen.empty_responses),
            (1, 1, 0)
        );
        assert_eq!(seen.technique(), Some(Technique::WebSocket));
        let delivered: Vec<(u64, i64, u64)> = seen
            .messages
            .iter()
            .map(|m| (m.stamp.seq, m.stamp.sent_us, m.frame))
            .collect();
        assert_eq!(delivered, vec![(4, 2_000, 3)]);
    }

    #[test]
    fn requests_from_the_client_and_bodies_without_messages_deliver_nothing() {
        let mut wire = Wire::new(Observer::default());
        let post = b"POST /send HTTP/1.1\r\nContent-Length: 22\r\n\r\n{\"seq\":1,\"sent\":1000}\n";
        let answer = json_answer(r#"{"ok":true}"#);
        wire.send(C2S, 0, post);
        wire.send(S2C, 1_000, &answer);
        let seen = wire.seen();
        assert!(seen.messages.is_empty());
        assert_eq!(seen.empty_responses, 1);
        assert_eq!(seen.technique(), None);
        let bytes = 2 * 54 + post.len() + answer.len();
        assert_eq!((seen.frames, seen.bytes), (2, bytes as u64));
    }

    #[test]
    fn the_message_limit_counts_what_it_drops() {
        let mut wire = Wire::new(Observer::new(Limits {
            max_messages: 1,
            ..Limits::default()
        }));
        let two = json_answer(r#"[{"seq":1,"sent":1},{"seq":2,"sent":2}]"#);
        exchange(&mut wire, 0, 1_000, &two);
        assert_eq!(wire.seen().messages.len(), 1);
        assert_eq!(wire.observer.dropped(), 1);
    }

    #[test]
    fn a_retired_slot_gives_back_what_it_saw_and_starts_afresh() {
        let mut observer = Observer::new(Limits::default());
        observer.frame(0, 7, 3, 60);
        observer.frame(0, 7, 4, 60);
        let seen = observer.retire(0).unwrap();
        assert_eq!((seen.stream, seen.frames, seen.bytes), (7, 2, 120));
        assert_eq!((seen.first_frame, seen.last_frame), (3, 4));
        // The slot is reused by the next connection, which starts from nothing.
        assert_eq!(observer.last_frame(0), 0);
        assert_eq!(observer.retire(0), None);
        observer.frame(0, 9, 5, 60);
        assert_eq!(observer.observed().next().map(|seen| seen.stream), Some(9));
        assert_eq!(observer.retire(1), None);
    }
}
