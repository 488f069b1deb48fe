//! Regression tests for inputs found by fuzzing (see `fuzz/README.md`).
//!
//! Each input is kept in `tests/data/fuzz/` exactly as its fuzz target read it,
//! so `fuzz/target/none/<host>/release/<target> tests/data/fuzz/<file>` replays
//! it; each test rebuilds the same situation through the public API.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use osiscope::application::http::{Event, Limits, MessageKind, Parser};
use osiscope::dissect::{Dissection, Field, FrameNumber, Span, Timestamp};
use osiscope::pipeline::Pipeline;
use osiscope::source::{link_type, RawFrame};

/// Dissects one frame with a fresh pipeline.
fn dissect(link_type: u32, data: &[u8]) -> Dissection {
    let frame = RawFrame {
        number: FrameNumber(1),
        ts: Timestamp::default(),
        orig_len: data.len(),
        link_type,
        data,
    };
    Pipeline::default().dissect(&frame)
}

/// Asserts that every layer, field and problem span lies inside its source.
fn assert_spans_inside(dissection: &Dissection) {
    fn check_field(field: &Field, len: usize) {
        assert!(
            field.span.end <= len,
            "{} at {} beyond {len} bytes",
            field.key,
            field.span
        );
        for child in &field.children {
            check_field(child, len);
        }
    }
    let inside = |span: Span, len: usize| span.start <= span.end && span.end <= len;
    for layer in &dissection.layers {
        let len = dissection.sources[layer.source].bytes.len();
        assert!(
            inside(layer.span, len),
            "{:?} at {}",
            layer.protocol,
            layer.span
        );
        for field in &layer.fields {
            check_field(field, len);
        }
    }
}

/// Found by the `frame` target: an IPv6 Hop-by-Hop header followed by a second
/// Hop-by-Hop header. etherparse 0.21's lax extension slice reports
/// `HopByHopNotAtStart` but its iterator then reads the second header from
/// past the end of the buffer (`Ipv6RawExtHeaderSlice::from_slice_unchecked`,
/// an out-of-bounds `get_unchecked`): a panic where debug assertions are on,
/// and a read of memory outside the frame in release builds.
#[test]
fn ipv6_second_hop_by_hop_header_stays_inside_the_frame() {
    // The fuzz input: 2 bytes of link type (108, OpenBSD loopback), then the frame.
    let input = include_bytes!("data/fuzz/frame-ipv6-second-hop-by-hop.bin");
    let (link, frame) = input.split_at(2);
    let dissection = dissect(u32::from(u16::from_be_bytes([link[0], link[1]])), frame);
    assert_eq!(dissection.bytes(), frame);
    assert_spans_inside(&dissection);

    // The same shape by hand, as raw IPv6.
    let mut packet = vec![
        0x60, 0x00, 0x00, 0x00, // version 6, traffic class 0, flow label 0
        0x00, 0x08, // payload length 8
        0x00, // next header 0: Hop-by-Hop options
        0x40, // hop limit 64
    ];
    packet.extend_from_slice(&[0; 16]); // source ::
    packet.extend_from_slice(&[0; 16]); // destination ::
    packet.extend_from_slice(&[
        0x00, // next header 0: a second Hop-by-Hop header, which is not allowed here
        0x00, // header length 0: 8 bytes
        0x01, 0x04, 0x00, 0x00, 0x00, 0x00, // PadN option filling the header
    ]);
    let dissection = dissect(link_type::RAW, &packet);
    assert_eq!(dissection.bytes(), &packet[..]);
    assert_spans_inside(&dissection);
}

/// Feeds `pieces` one after another from offset 0, then ends the stream.
fn http_events(
    kind: MessageKind,
    limits: Limits,
    pieces: &[&[u8]],
    switch_at: Option<u64>,
) -> Vec<Event> {
    let mut parser = Parser::new(kind, limits);
    let mut events = Vec::new();
    let mut offset = 0;
    for piece in pieces {
        events.extend(parser.feed(piece, offset));
        offset += piece.len() as u64;
    }
    if let Some(at) = switch_at {
        events.extend(parser.switch_at(at));
    }
    events.extend(parser.finish());
    events
}

/// Found by the `http` target, whose check is the parser's documented promise
/// that events do not depend on how the stream is cut into chunks. A 192-byte
/// head with a malformed field name after byte 128, under a 128-byte head
/// limit, is reported as `HeadTooLarge` when fed as 128 + 64 bytes but as
/// `MalformedHead(HeaderName)` when fed at once (the whole chunk is parsed
/// past the limit).
#[test]
fn http_head_limit_verdict_does_not_depend_on_chunking() {
    // The fuzz input: settings (responses, small limits), one cut of 128 bytes, the stream.
    let input = include_bytes!("data/fuzz/http-head-limit-cut.bin");
    let head = &input[3..];
    let mut long = b"HTTP/1.1 200 OK\r\nX-Long: ".to_vec();
    long.extend_from_slice(&[b'a'; 150]);
    long.extend_from_slice(b"\r\nBad Name: x\r\n\r\n");
    assert_eq!(head, &long[..]);

    let limits = Limits {
        max_head_len: 128,
        ..Limits::default()
    };
    let cut = http_events(
        MessageKind::Response,
        limits,
        &[&head[..128], &head[128..]],
        None,
    );
    let whole = http_events(MessageKind::Response, limits, &[head], None);
    assert_eq!(cut, whole);
}

/// Found by the `http` target: a response stream starting `HTK` (not a valid
/// version) fed one byte at a time, then `switch_at(0)`, reports
/// `SwitchInsideMessage`; fed at once it reports `MalformedHead(Version)`.
#[test]
fn http_switch_after_a_cut_head_does_not_depend_on_chunking() {
    // The fuzz input: settings (responses, switch_at(0) at the end), three 1-byte cuts, `HTK`.
    let input = include_bytes!("data/fuzz/http-switch-after-cut-head.bin");
    assert_eq!(&input[5..], b"HTK");
    let limits = Limits::default();
    let cut = http_events(MessageKind::Response, limits, &[b"H", b"T", b"K"], Some(0));
    let whole = http_events(MessageKind::Response, limits, &[b"HTK"], Some(0));
    assert_eq!(cut, whole);
}

/// Found by the `http` target: after a `CONNECT` request, the bytes held while
/// the answer is unknown pass `max_held_len` (64 here). Fed as 70 + 30 bytes,
/// `SwitchUndecided` spans the held bytes up to the end of the chunk that
/// passed the limit (24..94); fed at once, it spans all of them (24..124).
#[test]
fn http_held_bytes_limit_span_does_not_depend_on_chunking() {
    // The fuzz input: settings (requests, small limits), cuts of 24 and 70 bytes, the stream.
    let input = include_bytes!("data/fuzz/http-held-limit-cut.bin");
    let stream = &input[4..];
    let request = b"CONNECT a:1 HTTP/1.1\r\n\r\n";
    assert_eq!(&stream[..24], request);
    assert_eq!(&stream[24..], &[b'x'; 100]);

    let limits = Limits {
        max_held_len: 64,
        ..Limits::default()
    };
    let cut = http_events(
        MessageKind::Request,
        limits,
        &[&stream[..24], &stream[24..94], &stream[94..]],
        None,
    );
    let whole = http_events(MessageKind::Request, limits, &[stream], None);
    assert_eq!(cut, whole);
}

/// Found by the `http` target: a chunked request whose last chunk is followed
/// by the trailer line start `li&ne` and then a space (not allowed in a field
/// name). Fed with the space as a second chunk, nothing more is reported while
/// feeding; fed at once, the body and the message end (incomplete) at once.
#[test]
fn http_trailer_verdict_does_not_depend_on_chunking() {
    // The fuzz input: settings (requests, default limits), one cut before the space, the stream.
    let input = include_bytes!("data/fuzz/http-trailer-cut.bin");
    let stream = &input[3..];
    assert_eq!(
        stream,
        b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nli&ne "
    );
    let split = stream.len() - 1;
    let limits = Limits::default();
    let cut = http_events(
        MessageKind::Request,
        limits,
        &[&stream[..split], &stream[split..]],
        None,
    );
    let whole = http_events(MessageKind::Request, limits, &[stream], None);
    assert_eq!(cut, whole);
}

/// Found by the `frame` target: a TCP header whose last option byte is a kind
/// with no length byte after it (kind 10, at the frame's last byte). The option
/// is malformed, and its model gave it a `tcp.option_len` field one byte past
/// the end of the frame.
#[test]
fn tcp_option_kind_in_the_last_byte_has_no_length_field() {
    // The fuzz input: 2 bytes of link type (1, Ethernet), then the frame.
    let input = include_bytes!("data/fuzz/frame-tcp-option-kind-in-last-byte.bin");
    let (link, frame) = input.split_at(2);
    let dissection = dissect(u32::from(u16::from_be_bytes([link[0], link[1]])), frame);
    assert_eq!(dissection.bytes(), frame);
    assert_spans_inside(&dissection);
    assert!(dissection
        .problems
        .iter()
        .any(|problem| problem.key == "tcp.option.malformed"));
}

/// Found by the `http` target: a response whose body lost 4 bytes to a gap,
/// then ended by the end of the stream, was reported as a complete body with
/// 4 bytes missing. A body with bytes missing is not complete.
#[test]
fn a_body_with_a_gap_is_not_complete() {
    let input = include_bytes!("data/fuzz/http-gap-inside-body.bin");
    // The target's layout: settings 0x33 (a response, small limits, three methods asked
    // earlier), the methods (POST, GET, GET), 5 cuts, then the stream bytes.
    let limits = Limits {
        max_headers: 4,
        max_head_len: 128,
        max_body_buffer: 32,
        max_chunk_line_len: 16,
        max_pending_requests: 2,
        max_sse_event_len: 32,
        max_sse_lines: 3,
        max_held_len: 64,
    };
    let mut parser = Parser::new(MessageKind::Response, limits);
    for method in ["POST", "GET", "GET"] {
        let _ = parser.expect_response_to(method);
    }
    let cuts = &input[5..10];
    let bytes = &input[10..];
    let mut events = Vec::new();
    let mut at = 0usize;
    for &cut in cuts {
        let end = (at + usize::from(cut & 0x7f) + 1).min(bytes.len());
        if cut & 0x80 != 0 {
            events.extend(parser.gap((end - at) as u64));
        } else {
            events.extend(parser.feed(&bytes[at..end], at as u64));
        }
        at = end;
    }
    events.extend(parser.feed(&bytes[at..], at as u64));
    events.extend(parser.finish());
    let bodies: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            Event::Body(body) => Some(body),
            _ => None,
        })
        .collect();
    assert!(bodies.iter().any(|body| body.missing_len > 0), "{events:?}");
    for body in bodies {
        assert!(!body.complete || body.missing_len == 0, "{body:?}");
    }
}
