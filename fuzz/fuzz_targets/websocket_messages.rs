//! Fuzz target `websocket_messages`: the WebSocket message assembler fed one
//! direction's stream in chunks, with holes, overlaps and permessage-deflate.
//!
//! Input layout:
//! - byte 0: settings. Bit 0: the sender (0 client, 1 server); bits 1-3: the
//!   negotiated `Sec-WebSocket-Extensions` value (see `EXTENSIONS`); bit 4:
//!   small limits; bits 5-6: the stream offset of the first byte (0, 1000, or
//!   close to `u64::MAX`).
//! - byte 1: the chunk size used once the operations run out (0: all at once).
//! - byte 2: the number `n` of operations, then `2 n` bytes of operations
//!   (kind, argument `a`), by kind modulo 5:
//!   0. feed the next `a + 1` stream bytes;
//!   1. skip the next `a + 1` stream bytes and declare them with `gap`;
//!   2. skip the next `a + 1` stream bytes, then feed the next 64 at the
//!      offset after the skip (a hole made by `feed`);
//!   3. feed the last `a + 1` bytes again together with up to 16 new ones;
//!   4. declare a gap of `2^(a % 64)` bytes that the stream does not hold.
//! - the rest: the stream bytes (for seeds, one direction of a real WebSocket
//!   connection after the HTTP handshake).
//!
//! Checked: frame indices run in order and each `Frame` follows its
//! `FrameStart`; header and payload ranges line up with the header; a frame
//! whose payload is complete gives back the stream bytes when masked again;
//! kept bytes respect the limits; a complete message holds `len` bytes, is the
//! concatenation of its frames when uncompressed, and its UTF-8 verdict is
//! right; problem ranges are ordered; `next_offset` follows the bytes fed.

#![no_main]

mod common;

use std::collections::{BTreeMap, HashSet};

use common::Stream;

use libfuzzer_sys::fuzz_target;
use osiscope::application::websocket::message::{Config, Event, Limits, MessageAssembler};
use osiscope::application::websocket::opcode::{Data, OpCode};
use osiscope::application::websocket::Sender;

const EXTENSIONS: [Option<&str>; 8] = [
    None,
    Some("permessage-deflate"),
    Some("permessage-deflate; client_no_context_takeover; server_no_context_takeover"),
    Some("permessage-deflate; client_max_window_bits=8; server_max_window_bits=8"),
    Some("permessage-deflate; server_max_window_bits=10; client_max_window_bits"),
    Some("x-webkit-deflate-frame"),
    Some("permessage-deflate, x-custom-extension"),
    Some("permessage-deflate; server_no_context_takeover"),
];

const SMALL: Limits = Limits {
    max_frame_len: 64,
    max_message_len: 128,
    max_inflated_len: 256,
    max_message_frames: 4,
    max_resync_scan_len: 256,
    keep_data_frames: true,
};

struct Checker {
    limits: Limits,
    stream: Stream,
    next_frame: u64,
    open_frame: Option<u64>,
    messages_seen: HashSet<u64>,
    /// Completed frames' payloads (when complete), by index.
    frame_payloads: BTreeMap<u64, Option<Vec<u8>>>,
}

impl Checker {
    fn events(&mut self, events: Vec<Event>) {
        for event in events {
            self.event(event);
        }
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::FrameStart(start) => {
                assert_eq!(
                    self.open_frame, None,
                    "frame {} starts inside another",
                    start.index
                );
                assert_eq!(start.index, self.next_frame, "frames are numbered in order");
                self.next_frame += 1;
                self.open_frame = Some(start.index);
                let range = start.header_range;
                // Offsets saturate at `u64::MAX`, the end of the offset space.
                if range.end != u64::MAX {
                    assert_eq!(range.end - range.start, start.header.header_len() as u64);
                }
                if let Some(bytes) = self.stream.get(range.start, range.end) {
                    assert_eq!(
                        start.header.encode(),
                        bytes,
                        "the header is the stream's bytes"
                    );
                }
            }
            Event::Frame(frame) => {
                assert_eq!(
                    self.open_frame.take(),
                    Some(frame.index),
                    "a frame ends after it starts"
                );
                assert_eq!(frame.header_range.end, frame.payload_range.start);
                if let Some(end) = frame
                    .payload_range
                    .start
                    .checked_add(frame.header.payload_len)
                {
                    assert_eq!(
                        frame.payload_range.end, end,
                        "the payload range is as announced"
                    );
                }
                assert!(
                    frame.payload.len() <= self.limits.max_frame_len,
                    "frame kept past its limit"
                );
                assert!(frame.seen_len <= frame.header.payload_len);
                if frame.payload_complete {
                    assert_eq!(frame.payload.len() as u64, frame.header.payload_len);
                    assert_eq!(frame.seen_len, frame.header.payload_len);
                    if let Some(wire) = self
                        .stream
                        .get(frame.payload_range.start, frame.payload_range.end)
                    {
                        assert_eq!(
                            frame.masked_payload(),
                            wire,
                            "unmasking is undone by masking again"
                        );
                    }
                }
                let kept = frame.payload_complete.then(|| frame.payload.clone());
                self.frame_payloads.insert(frame.index, kept);
            }
            Event::Message(message) => {
                assert!(
                    self.messages_seen.insert(message.index),
                    "message {} ended twice",
                    message.index
                );
                assert!(message.frames.len() as u64 <= message.n_frames);
                assert!(message.frames.len() <= self.limits.max_message_frames.max(1));
                assert!(message.stream_range.start <= message.stream_range.end);
                let cap = self
                    .limits
                    .max_message_len
                    .max(self.limits.max_inflated_len);
                assert!(message.payload.len() <= cap, "message kept past its limit");
                if !message.payload_complete {
                    return;
                }
                assert!(message.complete, "a message with complete data is complete");
                assert_eq!(message.payload.len() as u64, message.len);
                let data = matches!(message.opcode, OpCode::Data(Data::Text | Data::Binary));
                if data && !message.compressed && message.frames.len() as u64 == message.n_frames {
                    let mut joined = Vec::new();
                    for frame in &message.frames {
                        match self.frame_payloads.get(&frame.index) {
                            Some(Some(payload)) => joined.extend_from_slice(payload),
                            _ => return,
                        }
                    }
                    assert_eq!(joined, message.payload, "a message is its frames joined");
                }
                if let Some(valid) = message.text_valid {
                    assert_eq!(
                        valid,
                        std::str::from_utf8(&message.payload).is_ok(),
                        "UTF-8 verdict of message {}",
                        message.index
                    );
                }
            }
            Event::Problem(problem) => {
                assert!(
                    problem.stream_range.start <= problem.stream_range.end,
                    "{problem}"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = common::Input::new(data);
    let settings = input.u8();
    let sender = if settings & 1 != 0 {
        Sender::Server
    } else {
        Sender::Client
    };
    let extensions = EXTENSIONS[usize::from((settings >> 1) & 7)];
    let mut config = Config::negotiated(sender, extensions).unwrap_or_else(|_| Config::new(sender));
    if settings & 0x10 != 0 {
        config.limits = SMALL;
    }
    let base = [0, 1000, u64::MAX - 65_536, u64::MAX - 20][usize::from((settings >> 5) & 3)];
    let chunk = match input.u8() {
        0 => usize::MAX,
        n => usize::from(n),
    };
    let n_ops = usize::from(input.u8());
    let ops = input.take(2 * n_ops);
    let stream = input.rest();

    let mut assembler = MessageAssembler::new(config, base);
    let mut checker = Checker {
        limits: config.limits,
        stream: Stream::default(),
        next_frame: 0,
        open_frame: None,
        messages_seen: HashSet::new(),
        frame_payloads: BTreeMap::new(),
    };
    let mut next = base;
    let mut pos = 0usize;
    let feed = |assembler: &mut MessageAssembler,
                checker: &mut Checker,
                bytes: &[u8],
                at: u64,
                next: &mut u64| {
        let new_from = usize::try_from(next.saturating_sub(at))
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let start = at.max(*next);
        checker.stream.record(start, &bytes[new_from..]);
        let events = assembler.feed(bytes, at);
        *next = start.saturating_add((bytes.len() - new_from) as u64);
        checker.events(events);
        assert_eq!(assembler.next_offset(), *next, "next offset after feeding");
    };
    for op in ops.chunks_exact(2) {
        let arg = usize::from(op[1]);
        match op[0] % 5 {
            0 => {
                let end = (pos + arg + 1).min(stream.len());
                feed(
                    &mut assembler,
                    &mut checker,
                    &stream[pos..end],
                    next,
                    &mut next,
                );
                pos = end;
            }
            1 => {
                let end = (pos + arg + 1).min(stream.len());
                let len = (end - pos) as u64;
                pos = end;
                checker.events(assembler.gap(len));
                next = next.saturating_add(len);
                assert_eq!(assembler.next_offset(), next, "next offset after a gap");
            }
            2 => {
                let skip_end = (pos + arg + 1).min(stream.len());
                let at = next.saturating_add((skip_end - pos) as u64);
                let end = (skip_end + 64).min(stream.len());
                feed(
                    &mut assembler,
                    &mut checker,
                    &stream[skip_end..end],
                    at,
                    &mut next,
                );
                pos = end;
            }
            3 => {
                let back = (arg + 1).min(pos);
                let end = (pos + 16).min(stream.len());
                let at = next.saturating_sub(back as u64);
                feed(
                    &mut assembler,
                    &mut checker,
                    &stream[pos - back..end],
                    at,
                    &mut next,
                );
                pos = end;
            }
            _ => {
                let len = 1u64 << (arg % 64);
                checker.events(assembler.gap(len));
                next = next.saturating_add(len);
                assert_eq!(assembler.next_offset(), next, "next offset after a gap");
            }
        }
    }
    while pos < stream.len() {
        let end = pos.saturating_add(chunk).min(stream.len());
        feed(
            &mut assembler,
            &mut checker,
            &stream[pos..end],
            next,
            &mut next,
        );
        pos = end;
    }
    let events = assembler.finish();
    checker.events(events);
    assert_eq!(checker.open_frame, None, "finish ends the open frame");
});
