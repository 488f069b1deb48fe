//! Fuzz target `pipeline`: a short capture, frame after frame, through one
//! `Pipeline` (IPv4 defragmentation, TCP connection tracking and reassembly,
//! HTTP and WebSocket decoding), then its end. The same path as `pcap_file`
//! without libpcap and its file, so it runs many times faster.
//!
//! Input layout:
//! - bytes 0-1: the link type, a big-endian u16 (as in the `frame` target,
//!   without the flag bits).
//! - then frames: a big-endian u16 length `n` (its top bit set means the frame
//!   was cut by a snap length: `orig_len` is larger), a byte of milliseconds the
//!   clock advances by (times 100 with 0xff: a long pause), and `n & 0x7fff`
//!   frame bytes. At most 512 frames.
//!
//! Checked: no panic, no hang, bounded memory; every frame's model has source 0
//! equal to the frame bytes and its problems point at existing layers.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use osiscope::dissect::{FrameNumber, Timestamp};
use osiscope::pipeline::Pipeline;
use osiscope::source::RawFrame;

fuzz_target!(|data: &[u8]| {
    let mut input = common::Input::new(data);
    let link_type = u32::from(input.u16());
    let mut pipeline = Pipeline::default();
    let mut nanos_total: u64 = 1_763_732_400 * 1_000_000_000;
    let mut number = 0u64;
    let mut text = Vec::new();
    while !input.is_empty() && number < 512 {
        let header = input.u16();
        let tick = input.u8();
        let bytes = input.take(usize::from(header & 0x7fff));
        nanos_total += if tick == 0xff {
            100_000_000_000
        } else {
            u64::from(tick) * 1_000_000
        };
        number += 1;
        let frame = RawFrame {
            number: FrameNumber(number),
            ts: Timestamp {
                secs: (nanos_total / 1_000_000_000) as i64,
                nanos: (nanos_total % 1_000_000_000) as u32,
            },
            orig_len: if header & 0x8000 != 0 {
                bytes.len() + 1000
            } else {
                bytes.len()
            },
            link_type,
            data: bytes,
        };
        let dissection = pipeline.dissect(&frame);
        assert_eq!(dissection.bytes(), bytes, "source 0 is the frame's bytes");
        for problem in &dissection.problems {
            if let Some(layer) = problem.layer {
                assert!(
                    layer < dissection.layers.len(),
                    "problem {} names a missing layer",
                    problem.key
                );
            }
        }
        text.clear();
        osiscope::view::text::write_frame(&mut text, &dissection)
            .expect("writing to a Vec succeeds");
    }
    let _ = pipeline.finish();
});
