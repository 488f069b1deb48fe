#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

//! The hot kernels, measured with criterion: `cargo bench --bench kernels`.
//!
//! - frame decode: every frame of `captures/ws-concurrent.pcapng` through `decode_frame`
//!   (layers 2 to 4);
//! - WebSocket frame parse + unmask: a header parsed and its payload unmasked, for a small
//!   text frame and a 64 KiB binary frame, and the byte-at-a-time unmasking beside the
//!   word-at-a-time one;
//! - inflate: a thousand small JSON-like messages compressed with permessage-deflate
//!   (context takeover), inflated in order by one `Inflater`.
//!
//! Runs are kept short (a second of warm-up and two of measurement per case).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flate2::{Compress, Compression, FlushCompress};

use osiscope::application::websocket::deflate::{DirectionParams, Inflater};
use osiscope::application::websocket::frame::FrameHeader;
use osiscope::application::websocket::mask::{unmask, unmask_by_word};
use osiscope::decode::decode_frame;
use osiscope::dissect::{FrameNumber, Timestamp};
use osiscope::source::{FileSource, RawFrame, Source};

const CAPTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/ws-concurrent.pcapng");
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

/// Every frame of the capture: (link type, original length, bytes).
fn frames() -> Vec<(u32, usize, Vec<u8>)> {
    let mut source = FileSource::open(std::path::Path::new(CAPTURE)).unwrap();
    let mut out = Vec::new();
    while let Ok(Some(frame)) = source.next_frame() {
        out.push((frame.link_type, frame.orig_len, frame.data.to_vec()));
    }
    out
}

fn frame_decode(c: &mut Criterion) {
    let frames = frames();
    let mut group = c.benchmark_group("frame decode");
    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function("ws-concurrent, every frame", |b| {
        b.iter(|| {
            for (i, (link_type, orig_len, data)) in frames.iter().enumerate() {
                let frame = RawFrame {
                    number: FrameNumber(i as u64 + 1),
                    ts: Timestamp::default(),
                    orig_len: *orig_len,
                    link_type: *link_type,
                    data,
                };
                black_box(decode_frame(black_box(&frame)));
            }
        });
    });
    group.finish();
}

/// A masked frame with `payload_len` bytes of payload.
fn masked_frame(opcode: u8, payload_len: usize) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload_len {
        0..=125 => frame.push(0x80 | payload_len as u8),
        126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(payload_len as u16).to_be_bytes());
        }
        _ => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(payload_len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&KEY);
    frame.extend((0..payload_len).map(|i| (i * 7 % 251) as u8));
    frame
}

fn parse_and_unmask(c: &mut Criterion) {
    let mut group = c.benchmark_group("websocket frame parse + unmask");
    for (name, frame) in [
        ("text, 100 bytes", masked_frame(0x1, 100)),
        ("binary, 64 KiB", masked_frame(0x2, 64 << 10)),
    ] {
        group.throughput(Throughput::Bytes(frame.len() as u64));
        let mut payload = Vec::with_capacity(frame.len());
        group.bench_function(name, |b| {
            b.iter(|| {
                let (header, header_len) = FrameHeader::parse(black_box(&frame)).unwrap().unwrap();
                payload.clear();
                payload.extend_from_slice(&frame[header_len..]);
                unmask_by_word(&mut payload, header.mask.unwrap_or(KEY), 0);
                black_box(&payload);
            });
        });
    }
    let mut data = vec![0u8; 64 << 10];
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("unmask 64 KiB, a byte at a time", |b| {
        b.iter(|| unmask(black_box(&mut data), KEY, 1));
    });
    group.bench_function("unmask 64 KiB, a word at a time", |b| {
        b.iter(|| unmask_by_word(black_box(&mut data), KEY, 1));
    });
    group.finish();
}

/// Small JSON-like texts as a chat or a price feed sends them.
fn messages() -> Vec<Vec<u8>> {
    (0..1000u32)
        .map(|i| {
            format!(
                r#"{{"type":"tick","seq":{i},"symbol":"SYM{}","price":{}.{:02},"size":{},"side":"{}"}}"#,
                i % 17,
                100 + i * 7 % 900,
                i * 13 % 100,
                i * 31 % 5000,
                if i % 3 == 0 { "buy" } else { "sell" }
            )
            .into_bytes()
        })
        .collect()
}

/// Each message deflated with context takeover, its `00 00 ff ff` tail removed (RFC 7692 §7.2.1).
fn compressed(messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut compress = Compress::new(Compression::default(), false);
    messages
        .iter()
        .map(|message| {
            let mut out = Vec::with_capacity(message.len() + 64);
            compress
                .compress_vec(message, &mut out, FlushCompress::Sync)
                .unwrap();
            assert_eq!(out[out.len() - 4..], [0, 0, 0xff, 0xff]);
            out.truncate(out.len() - 4);
            out
        })
        .collect()
}

fn inflate(c: &mut Criterion) {
    let messages = messages();
    let compressed = compressed(&messages);
    let inflated: usize = messages.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("inflate");
    group.throughput(Throughput::Bytes(inflated as u64));
    group.bench_function("1000 small texts, context takeover", |b| {
        b.iter(|| {
            let mut inflater = Inflater::new(DirectionParams::default(), 1 << 20);
            for message in &compressed {
                black_box(inflater.inflate_message(message).unwrap());
            }
        });
    });
    group.finish();
}

criterion_group! {
    name = kernels;
    config = config();
    targets = frame_decode, parse_and_unmask, inflate
}
criterion_main!(kernels);
