//! Every capture in `captures/` opens and decodes, and no frame of any of
//! them, cut at any length, makes a decoder or a view panic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use osiscope::dissect::{BuildConfig, FrameNumber, Protocol, Severity};
use osiscope::pipeline::Pipeline;
use osiscope::source::{FileSource, RawFrame, Source};

/// An owned copy of a frame, so frames can be replayed cut short.
struct Owned {
    number: FrameNumber,
    ts: osiscope::dissect::Timestamp,
    orig_len: usize,
    link_type: u32,
    data: Vec<u8>,
}

fn read_all(path: &std::path::Path) -> Vec<Owned> {
    let mut source = FileSource::open(path).unwrap();
    let mut frames = Vec::new();
    while let Some(frame) = source.next_frame().unwrap() {
        frames.push(Owned {
            number: frame.number,
            ts: frame.ts,
            orig_len: frame.orig_len,
            link_type: frame.link_type,
            data: frame.data.to_vec(),
        });
    }
    frames
}

#[test]
fn every_capture_decodes_to_tcp_without_errors() {
    for path in common::captures() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let frames = read_all(&path);
        assert!(!frames.is_empty(), "{name}: no frames");
        let mut pipeline = Pipeline::new(BuildConfig::default());
        for frame in &frames {
            let raw = RawFrame {
                number: frame.number,
                ts: frame.ts,
                orig_len: frame.orig_len,
                link_type: frame.link_type,
                data: &frame.data,
            };
            let dissection = pipeline.dissect(&raw);
            assert_eq!(dissection.layers[0].protocol, Protocol::Physical);
            if name.starts_with("ws-") {
                assert!(
                    dissection.layer(Protocol::Tcp).is_some(),
                    "{name} frame {}: no TCP layer",
                    frame.number
                );
                let errors: Vec<_> = dissection
                    .problems
                    .iter()
                    .filter(|p| p.severity == Severity::Error)
                    .collect();
                assert!(
                    errors.is_empty(),
                    "{name} frame {}: {errors:?}",
                    frame.number
                );
            }
        }
    }
}

#[test]
fn frame_numbers_start_at_one_and_count_up() {
    let frames = read_all(&common::capture("ws-basic.pcapng"));
    for (index, frame) in frames.iter().enumerate() {
        assert_eq!(frame.number, FrameNumber(index as u64 + 1));
    }
}

/// Whether the model and the views are built for a cut of `len` bytes of a
/// frame of `full` bytes: every cut through the headers (the first 200
/// bytes), then every 97th and the whole frame. Every other cut still runs
/// through every decoder (link to WebSocket); only model building, the slow
/// part, is sampled past the headers.
fn builds_model(len: usize, full: usize) -> bool {
    len <= 200 || len.is_multiple_of(97) || len == full
}

#[test]
fn every_frame_cut_at_every_length_decodes_without_panic() {
    let mut sink = Vec::new();
    let (mut n_decoded, mut n_built) = (0usize, 0usize);
    for path in common::captures() {
        let mut pipeline = Pipeline::new(BuildConfig::default());
        for frame in read_all(&path) {
            for len in 0..=frame.data.len() {
                let raw = RawFrame {
                    number: frame.number,
                    ts: frame.ts,
                    orig_len: frame.orig_len,
                    link_type: frame.link_type,
                    data: &frame.data[..len],
                };
                n_decoded += 1;
                if !builds_model(len, frame.data.len()) {
                    pipeline.process(&raw, false);
                    continue;
                }
                let dissection = pipeline.dissect(&raw);
                n_built += 1;
                // Every span must lie inside its data source.
                for layer in &dissection.layers {
                    let source_len = dissection.sources[layer.source].bytes.len();
                    assert!(layer.span.end <= source_len, "{layer:?}");
                    for field in layer.fields.iter().flat_map(|f| f.walk()) {
                        assert!(
                            field.span.end <= source_len,
                            "{} {:?}",
                            field.key,
                            field.span
                        );
                    }
                }
                if len <= 128 || len.is_multiple_of(7) || len == frame.data.len() {
                    sink.clear();
                    osiscope::view::text::write_frame(&mut sink, &dissection).unwrap();
                    osiscope::view::json::write_frame(&mut sink, &dissection).unwrap();
                }
            }
        }
    }
    eprintln!("decoded {n_decoded} cut frames, built the model for {n_built}");
}
