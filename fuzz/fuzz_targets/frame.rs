//! Fuzz target `frame`: one captured frame of any link type through the whole
//! per-frame pipeline (decode, dissect) and both views (text, JSON).
//!
//! Input layout:
//! - bytes 0-1: a big-endian u16. Its low 12 bits are the link type (so every
//!   `osiscope::source::link_type` constant, 0..=276, and unknown values up to
//!   4095 are reachable). Its top 4 bits shape the frame record:
//!   - 0x8000: the frame was cut by a snap length (`orig_len` > captured length);
//!   - 0x4000: `orig_len` is smaller than the captured length (a corrupt record);
//!   - 0x2000: an extreme timestamp (`i64::MAX` seconds, or `i64::MIN` with 0x1000);
//!   - 0x1000 alone: a timestamp just before the epoch.
//! - the rest: the captured frame bytes.
//!
//! Checked: no panic; routing by address pair sees the TCP segment the full
//! decode sees; the model's spans stay inside their data sources; problems
//! point at existing layers; the JSON view writes one valid JSON line; the text
//! view writes no control character but newlines.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use osiscope::dissect::{Dissection, Field, Protocol, Span, Timestamp};
use osiscope::pipeline::Pipeline;
use osiscope::source::RawFrame;

fuzz_target!(|data: &[u8]| {
    let mut input = common::Input::new(data);
    let selector = input.u16();
    let bytes = input.rest();
    let link_type = u32::from(selector & 0x0fff);
    let orig_len = if selector & 0x8000 != 0 {
        bytes.len().saturating_mul(4).saturating_add(1)
    } else if selector & 0x4000 != 0 {
        bytes.len() / 2
    } else {
        bytes.len()
    };
    let ts = match selector & 0x3000 {
        0x2000 => Timestamp {
            secs: i64::MAX,
            nanos: 999_999_999,
        },
        0x3000 => Timestamp {
            secs: i64::MIN,
            nanos: 999_999_999,
        },
        0x1000 => Timestamp { secs: -1, nanos: 5 },
        _ => Timestamp {
            secs: 1_763_732_400,
            nanos: 123_456_789,
        },
    };
    let frame = RawFrame {
        number: osiscope::dissect::FrameNumber(1),
        ts,
        orig_len,
        link_type,
        data: bytes,
    };
    // Routing (messages on several threads) decodes the headers only; it
    // must see the TCP segment the full decode sees.
    let (shard, tcp) = osiscope::pipeline::shard::route(&frame, 3);
    assert!(shard < 3);
    let full = osiscope::decode::decode_frame(&frame);
    assert_eq!(
        tcp,
        matches!(full.transport, Some(osiscope::decode::Transport::Tcp(_))),
        "routing and the full decode disagree on the TCP segment"
    );
    let mut pipeline = Pipeline::default();
    let dissection = pipeline.dissect(&frame);
    check_model(&dissection, &frame);
    let _ = pipeline.finish();

    let mut text = Vec::new();
    osiscope::view::text::write_frame(&mut text, &dissection).expect("writing to a Vec succeeds");
    osiscope::view::text::write_unplaced_problems(&mut text, &dissection)
        .expect("writing to a Vec succeeds");
    let text = String::from_utf8(text).expect("the text view writes UTF-8");
    if let Some(bad) = text.chars().find(|&c| c != '\n' && c.is_control()) {
        panic!("text view printed control character {bad:?}:\n{text}");
    }

    let mut json = Vec::new();
    osiscope::view::json::write_frame(&mut json, &dissection).expect("writing to a Vec succeeds");
    assert_eq!(json.last(), Some(&b'\n'), "a JSON frame ends its line");
    let line = json.get(..json.len() - 1).unwrap_or_default();
    assert!(!line.contains(&b'\n'), "a JSON frame is one line");
    let value: serde_json::Value =
        serde_json::from_slice(line).expect("the JSON view writes valid JSON");
    assert_eq!(value["cap_len"].as_u64(), u64::try_from(bytes.len()).ok());
});

/// The invariants every view relies on.
fn check_model(d: &Dissection, frame: &RawFrame<'_>) {
    assert_eq!(d.frame.cap_len, frame.data.len());
    assert_eq!(d.frame.orig_len, frame.orig_len);
    assert_eq!(d.frame.link_type, frame.link_type);
    assert_eq!(d.bytes(), frame.data, "source 0 is the frame's bytes");
    assert_eq!(
        d.layers.first().map(|layer| layer.protocol),
        Some(Protocol::Physical),
        "the first layer is the physical one"
    );
    for (index, layer) in d.layers.iter().enumerate() {
        let source = d
            .sources
            .get(layer.source)
            .unwrap_or_else(|| panic!("layer {index} names missing source {}", layer.source));
        let len = source.bytes.len();
        check_span(layer.span, len, || {
            format!("layer {index} ({:?})", layer.protocol)
        });
        if let Some(payload) = layer.payload {
            check_span(payload, len, || format!("payload of layer {index}"));
        }
        for field in &layer.fields {
            check_field(field, len, index);
        }
    }
    for problem in &d.problems {
        let len = match problem.layer {
            Some(index) => {
                let layer = d.layers.get(index).unwrap_or_else(|| {
                    panic!("problem {} names missing layer {index}", problem.key)
                });
                d.sources.get(layer.source).map_or(0, |s| s.bytes.len())
            }
            None => frame.data.len(),
        };
        if let Some(span) = problem.span {
            check_span(span, len, || format!("problem {}", problem.key));
        }
    }
}

fn check_field(field: &Field, len: usize, layer: usize) {
    check_span(field.span, len, || {
        format!("field {} of layer {layer}", field.key)
    });
    if let Some(bad) = field.display.chars().find(|c| c.is_control()) {
        panic!("field {} displays control character {bad:?}", field.key);
    }
    for child in &field.children {
        check_field(child, len, layer);
    }
}

fn check_span(span: Span, len: usize, what: impl Fn() -> String) {
    assert!(
        span.start <= span.end && span.end <= len,
        "{} has span {span} outside its {len}-byte source",
        what()
    );
}
