//! Layer 1: what the wire carried around the captured bytes.
//!
//! A capture holds the frame from the destination address to the end of the
//! payload. On an Ethernet wire the frame is preceded by a 7-byte preamble and
//! a start-of-frame delimiter, padded to 60 bytes, followed by a 4-byte frame
//! check sequence, and separated from the next frame by a 12-byte idle gap.
//! Those bytes are never captured, so their fields have empty spans.

use crate::decode::{Decoded, Link};
use crate::dissect::build::{field, uint, BuildConfig};
use crate::dissect::{keys, FieldValue, Layer, Protocol, Span};
use crate::source::{link_type, RawFrame};

/// Ethernet framing around the captured bytes, in bytes.
const PREAMBLE_LEN: u64 = 7;
const SFD_LEN: u64 = 1;
const FCS_LEN: u64 = 4;
const IFG_LEN: u64 = 12;
/// The shortest frame from destination address to payload end (before FCS).
const MIN_FRAME_LEN: u64 = 60;

pub(crate) fn layer(frame: &RawFrame<'_>, decoded: &Decoded<'_>, config: &BuildConfig) -> Layer {
    let cap_len = frame.data.len() as u64;
    let orig_len = frame.orig_len as u64;
    let none = Span::at(0, 0);
    let all = Span::new(0, frame.data.len());
    let mut fields = vec![
        uint(
            keys::frame::NUMBER,
            "Frame number",
            frame.number.0,
            none,
            "Position of this frame in the capture, counting from 1.",
        ),
        field(
            keys::frame::TIME_EPOCH,
            "Arrival time",
            FieldValue::Float(frame.ts.as_secs_f64()),
            frame.ts.to_string(),
            none,
            "When the capturing machine saw the frame, in seconds since 1970-01-01 UTC.",
        ),
        uint(
            keys::frame::LEN,
            "Length on the wire",
            orig_len,
            all,
            "How many bytes the frame had when it was sent.",
        ),
        uint(
            keys::frame::CAP_LEN,
            "Captured length",
            cap_len,
            all,
            "How many of those bytes were saved in the capture file.",
        ),
        field(
            keys::frame::LINK_TYPE,
            "Link type",
            FieldValue::UInt(u64::from(frame.link_type)),
            format!("{} ({})", link_type::name(frame.link_type), frame.link_type),
            none,
            "Which kind of link-layer header the capture starts each frame with.",
        ),
    ];
    let ethernet = matches!(decoded.link, Link::Ethernet(_));
    let did = if ethernet {
        let framed = orig_len.max(MIN_FRAME_LEN) + FCS_LEN;
        let wire = PREAMBLE_LEN + SFD_LEN + framed + IFG_LEN;
        let bits = wire * 8;
        let speed = config.link_speed_bps.max(1);
        let nanos = bits.saturating_mul(1_000_000_000) / speed;
        fields.extend([
            uint(
                keys::frame::PREAMBLE,
                "Preamble (not captured)",
                PREAMBLE_LEN,
                none,
                "Seven bytes of alternating 1s and 0s let the receiver lock onto the signal's clock.",
            ),
            uint(
                keys::frame::SFD,
                "Start frame delimiter (not captured)",
                SFD_LEN,
                none,
                "One byte, 10101011, that marks where the frame itself begins.",
            ),
            uint(
                keys::frame::FCS,
                "Frame check sequence (not captured)",
                FCS_LEN,
                none,
                "A 4-byte CRC after the frame; the receiving card checks and removes it, so captures rarely hold it.",
            ),
            uint(
                keys::frame::IFG,
                "Inter-frame gap",
                IFG_LEN,
                none,
                "At least 12 byte times of silence before the next frame may start.",
            ),
            uint(
                keys::frame::WIRE_BYTES,
                "Bytes on the wire",
                wire,
                none,
                "Preamble, delimiter, frame (padded to 60 bytes), FCS and gap together.",
            ),
            field(
                keys::frame::LINK_SPEED,
                "Assumed link speed",
                FieldValue::UInt(speed),
                format_speed(speed),
                none,
                "The speed used to compute the time on the wire (change it with --link-speed).",
            ),
            field(
                keys::frame::DURATION,
                "Time on the wire",
                FieldValue::UInt(nanos),
                format_nanos(nanos),
                none,
                "How long the link is busy sending this frame, gap included.",
            ),
        ]);
        let loopback = matches!(&decoded.link, Link::Ethernet(header) if header.source() == [0; 6] && header.destination() == [0; 6]);
        if loopback {
            format!(
                "This frame went through a loopback interface, so no signal was sent; on Ethernet at {} its {} bytes would be {} bits ({} with preamble, FCS and gap) and take {}.",
                format_speed(speed), orig_len, orig_len * 8, bits, format_nanos(nanos)
            )
        } else {
            format!(
                "Sent {} bytes as {} bits; with preamble, FCS and gap the wire carried {} bits, {} at {}.",
                orig_len,
                orig_len * 8,
                bits,
                format_nanos(nanos),
                format_speed(speed)
            )
        }
    } else {
        format!(
            "Captured inside the host above the driver ({} link type), so there is no physical-layer framing to show; the packet was {} bytes.",
            link_type::name(frame.link_type),
            orig_len
        )
    };
    let summary = if cap_len == orig_len {
        format!(
            "Frame {}: {} bytes on wire, {} bytes captured",
            frame.number, orig_len, cap_len
        )
    } else {
        format!(
            "Frame {}: {} bytes on wire, {} bytes captured ({} not captured)",
            frame.number,
            orig_len,
            cap_len,
            orig_len.saturating_sub(cap_len)
        )
    };
    Layer {
        protocol: Protocol::Physical,
        source: 0,
        span: Span::at(0, 0),
        payload: Some(all),
        summary,
        did,
        fields,
    }
}

/// A link speed with the largest whole unit.
fn format_speed(bps: u64) -> String {
    match bps {
        b if b >= 1_000_000_000 && b % 1_000_000_000 == 0 => {
            format!("{} Gbit/s", b / 1_000_000_000)
        }
        b if b >= 1_000_000 && b % 1_000_000 == 0 => format!("{} Mbit/s", b / 1_000_000),
        b => format!("{b} bit/s"),
    }
}

/// A duration in nanoseconds, in µs when long enough.
fn format_nanos(nanos: u64) -> String {
    if nanos >= 10_000 {
        format!("{:.1} µs", nanos as f64 / 1000.0)
    } else if nanos >= 1000 {
        format!("{:.2} µs", nanos as f64 / 1000.0)
    } else {
        format!("{nanos} ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_and_durations_read_naturally() {
        assert_eq!(format_speed(1_000_000_000), "1 Gbit/s");
        assert_eq!(format_speed(100_000_000), "100 Mbit/s");
        assert_eq!(format_speed(1234), "1234 bit/s");
        assert_eq!(format_nanos(672), "672 ns");
        assert_eq!(format_nanos(1230), "1.23 µs");
        assert_eq!(format_nanos(12_300), "12.3 µs");
    }
}
