//! Fuzz target `http`: the streaming HTTP/1.1 parser of one direction, and the
//! message head parser on its own.
//!
//! Input layout:
//! - byte 0: settings. Bit 0: the side (0 requests, 1 responses); bit 1: small
//!   limits; bits 2-3: what the caller says at the end (nothing, `resume`,
//!   `switch_at` the offset the parser awaits, or `switch_at` offset 0); bits
//!   4-7: how many request methods a response parser is told about first, each
//!   picked by one following byte from `METHODS`.
//! - then a byte `n` and `n` cut operations: a byte `c` below 0x80 feeds the
//!   next `c + 1` stream bytes; `c` from 0x80 skips the next `(c & 0x7f) + 1`
//!   stream bytes and declares them a gap.
//! - the rest: the stream bytes (for seeds, one direction of a real HTTP
//!   connection); what the operations leave is fed at once.
//!
//! Checked: the parser's events do not depend on how the stream is cut into
//! chunks (the same stream fed with the chunk boundaries merged gives the same
//! events), as its documentation promises; header names and values, chunk
//! sizes and body bytes match the stream bytes their spans point at; kept body
//! bytes respect the limit; `next_offset` follows the bytes fed. `Head::parse`
//! on the raw stream never consumes more than it was given, and gives the same
//! head when given exactly the bytes it consumed.

#![no_main]

mod common;

use common::Stream;
use libfuzzer_sys::fuzz_target;
use osiscope::application::http::{Event, Head, Limits, MessageKind, Parser};

const METHODS: [&str; 6] = ["GET", "HEAD", "CONNECT", "POST", "OPTIONS", "get"];

const SMALL: Limits = Limits {
    max_headers: 4,
    max_head_len: 128,
    max_body_buffer: 32,
    max_chunk_line_len: 16,
    max_pending_requests: 2,
    max_sse_event_len: 32,
    max_sse_lines: 3,
    max_held_len: 64,
};

/// One step of feeding: bytes, or a gap of so many bytes.
enum Step<'a> {
    Bytes(&'a [u8]),
    Gap(u64),
}

fn new_parser(kind: MessageKind, limits: Limits, methods: &[&str]) -> Parser {
    let mut parser = Parser::new(kind, limits);
    for method in methods {
        let _ = parser.expect_response_to(method);
    }
    parser
}

/// Checks one event against the stream bytes.
fn check_event(event: &Event, stream: &Stream, limits: &Limits, next: u64) {
    match event {
        Event::Head(head) => {
            assert!(
                head.span.end() <= next,
                "head beyond the bytes fed: {head:?}"
            );
            assert!(head.span.start() <= head.start_line_span.start());
            assert!(head.blank_line_span.end() <= head.span.end());
            let mut at = head.start_line_span.end();
            for header in &head.headers {
                assert!(
                    header.line.start() >= at,
                    "field lines out of order: {head:?}"
                );
                at = header.line.end();
                if let Some(name) = stream.get(header.name_span.start(), header.name_span.end()) {
                    assert_eq!(
                        name,
                        header.name.as_bytes(),
                        "the name is the stream's bytes"
                    );
                }
                if let Some(value) = stream.get(header.value_span.start(), header.value_span.end())
                {
                    assert_eq!(value, header.value, "the value is the stream's bytes");
                }
            }
        }
        Event::Chunk(chunk) => {
            assert_eq!(chunk.size_line.end(), chunk.data.start());
            assert_eq!(chunk.data.end(), chunk.terminator.start());
            if chunk.data.end() != u64::MAX {
                assert_eq!(
                    chunk.data.len(),
                    chunk.size,
                    "chunk data is as long as its size"
                );
            }
        }
        Event::Body(body) => {
            assert!(
                body.data.len() <= limits.max_body_buffer,
                "body kept past its limit"
            );
            assert!(body.data.len() as u64 <= body.decoded_len);
            assert!(body.missing_len <= body.decoded_len);
            if body.complete {
                assert_eq!(body.missing_len, 0, "a complete body misses nothing");
            }
        }
        _ => {}
    }
}

/// Feeds the steps; with `merge`, consecutive byte steps are fed as one.
fn run(
    kind: MessageKind,
    limits: Limits,
    methods: &[&str],
    steps: &[Step<'_>],
    merge: bool,
    mut stream: Option<&mut Stream>,
) -> (Parser, Vec<Event>) {
    let mut parser = new_parser(kind, limits, methods);
    let mut events = Vec::new();
    let mut next = 0u64;
    let mut pending: Vec<u8> = Vec::new();
    let flush =
        |parser: &mut Parser, pending: &mut Vec<u8>, next: &mut u64, events: &mut Vec<Event>| {
            if pending.is_empty() {
                return;
            }
            let new = parser.feed(pending, *next);
            *next += pending.len() as u64;
            pending.clear();
            events.extend(new);
        };
    for step in steps {
        match step {
            Step::Bytes(bytes) if merge => pending.extend_from_slice(bytes),
            Step::Bytes(bytes) => {
                if let Some(stream) = stream.as_deref_mut() {
                    stream.record(next, bytes);
                }
                let new = parser.feed(bytes, next);
                next += bytes.len() as u64;
                assert_eq!(parser.next_offset(), next, "next offset after feeding");
                if let Some(stream) = stream.as_deref() {
                    for event in &new {
                        check_event(event, stream, &limits, next);
                    }
                }
                events.extend(new);
            }
            Step::Gap(len) => {
                flush(&mut parser, &mut pending, &mut next, &mut events);
                events.extend(parser.gap(*len));
                next += len;
                assert_eq!(parser.next_offset(), next, "next offset after a gap");
            }
        }
    }
    flush(&mut parser, &mut pending, &mut next, &mut events);
    (parser, events)
}

/// What the caller says once the stream has been fed, then the end.
fn end(parser: &mut Parser, action: u8) -> Vec<Event> {
    let mut events = match action {
        1 => parser.resume(),
        2 => match parser.awaiting_switch() {
            Some((at, _)) => parser.switch_at(at),
            None => Vec::new(),
        },
        3 => parser.switch_at(0),
        _ => Vec::new(),
    };
    events.extend(parser.finish());
    events.extend(parser.finish());
    events
}

fuzz_target!(|data: &[u8]| {
    let mut input = common::Input::new(data);
    let settings = input.u8();
    let kind = if settings & 1 != 0 {
        MessageKind::Response
    } else {
        MessageKind::Request
    };
    let limits = if settings & 2 != 0 {
        SMALL
    } else {
        Limits::default()
    };
    let action = (settings >> 2) & 3;
    let methods: Vec<&str> = (0..settings >> 4)
        .map(|_| METHODS[usize::from(input.u8()) % METHODS.len()])
        .collect();
    let n_cuts = usize::from(input.u8());
    let cuts = input.take(n_cuts);
    let bytes = input.rest();

    let mut steps = Vec::new();
    let mut pos = 0usize;
    for &cut in cuts {
        let len = usize::from(cut & 0x7f) + 1;
        let end = (pos + len).min(bytes.len());
        if cut & 0x80 != 0 {
            steps.push(Step::Gap((end - pos) as u64));
        } else {
            steps.push(Step::Bytes(&bytes[pos..end]));
        }
        pos = end;
    }
    steps.push(Step::Bytes(&bytes[pos..]));

    let mut stream = Stream::default();
    let (mut cut, cut_events) = run(kind, limits, &methods, &steps, false, Some(&mut stream));
    let (mut whole, whole_events) = run(kind, limits, &methods, &steps, true, None);
    assert_eq!(
        cut_events, whole_events,
        "events depend on how the stream was cut"
    );
    let cut_end = end(&mut cut, action);
    for event in &cut_end {
        check_event(event, &stream, &limits, cut.next_offset());
    }
    assert_eq!(
        cut_end,
        end(&mut whole, action),
        "events depend on how the stream was cut"
    );

    // The head parser alone, on the raw bytes.
    if let Ok(Some((consumed, head))) = Head::parse(kind, bytes, 1000, &limits) {
        assert!(
            consumed <= bytes.len(),
            "consumed {consumed} of {} bytes",
            bytes.len()
        );
        assert_eq!(head.span.start(), 1000);
        assert_eq!(
            head.span.len(),
            consumed as u64,
            "the head spans what it consumed"
        );
        let again = Head::parse(kind, &bytes[..consumed], 1000, &limits);
        assert_eq!(
            again,
            Ok(Some((consumed, head))),
            "the consumed bytes alone give the same head"
        );
    }
});
