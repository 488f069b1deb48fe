//! Fuzz target `websocket_frame`: the WebSocket frame header parsers on
//! arbitrary bytes (the input is the buffer, as it would start a frame).
//!
//! Checked: `parse` and `parse_lax` agree (same header and length, and
//! `parse` fails exactly when the header breaks a rule, with the first of
//! `violations`); the header length fits in the input and matches `header_len`,
//! `layout` and `payload_range_in_frame`; `encode` gives back the input's
//! header bytes exactly; a shorter buffer needs more bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use osiscope::application::websocket::frame::FrameHeader;

fuzz_target!(|data: &[u8]| {
    let strict = FrameHeader::parse(data);
    let lax = FrameHeader::parse_lax(data);
    match (&strict, &lax) {
        (Ok(None), None) => {
            // Too short: every prefix is too short as well.
            for n in 0..data.len() {
                assert_eq!(FrameHeader::parse_lax(&data[..n]), None);
            }
            return;
        }
        (Ok(Some(a)), Some(b)) => {
            assert_eq!(a, b, "parse and parse_lax disagree");
            assert!(a.0.violations().is_empty());
        }
        (Err(error), Some((header, _))) => {
            assert_eq!(
                header.violations().first(),
                Some(error),
                "parse's error is the first violation"
            );
        }
        _ => panic!("parse {strict:?} and parse_lax {lax:?} disagree on completeness"),
    }
    let Some((header, len)) = lax else { return };
    assert!(
        len <= data.len(),
        "header length {len} beyond the {}-byte input",
        data.len()
    );
    assert!((2..=14).contains(&len));
    assert_eq!(header.header_len(), len);
    let layout = header.layout();
    assert_eq!(layout.header_len, len);
    for range in [
        Some(layout.flags_opcode),
        Some(layout.mask_len),
        layout.extended_len,
        layout.masking_key.clone(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(
            range.start < range.end && range.end <= len,
            "field {range:?} outside the header"
        );
    }
    assert_eq!(layout.masking_key.is_some(), header.mask.is_some());
    if let Some(range) = header.payload_range_in_frame() {
        assert_eq!(range.start, len as u64);
        assert_eq!(range.end - range.start, header.payload_len);
    }
    assert_eq!(
        header.encode(),
        &data[..len],
        "encode gives back the header bytes"
    );
    if len > 0 {
        assert_eq!(
            FrameHeader::parse_lax(&data[..len - 1]),
            None,
            "one byte short needs more"
        );
    }
});
