//! `osiscope compare`: how polling, long polling, Server-Sent Events and WebSocket delivered
//! messages in a capture, as a table or as JSON lines (one object per technique), and the
//! number formats the terminal UI's compare pane shares.

use std::io::{self, Write};

use serde::Serialize;

use crate::dissect::delivery::{DeliveryReport, Technique, TechniqueSummary, HOLD_THRESHOLD_US};

/// What the table's figures mean, printed under it.
pub const EXPLANATION: [&str; 3] = [
    "bytes: all frames of the technique's connections, both ways, every header (link, IP, TCP, HTTP, WebSocket)",
    "delay: capture time of the frame that completed a message, minus the message's `sent` stamp",
    "message: a JSON object with numeric `seq` and `sent` (ms since 1970) from the server: WebSocket, SSE data, body",
];

/// Said when a capture has no message following the convention.
pub const NOTHING_FOUND: &str = "no delivered messages: none of the server's WebSocket messages, Server-Sent Events or response bodies is a JSON object (or array of objects) with a numeric `seq` and `sent`";

/// A delay in microseconds as milliseconds, with two decimals under 10 ms.
pub fn delay_text(us: i64) -> String {
    // Precision loss is fine for display.
    #[allow(clippy::cast_precision_loss)]
    let ms = us as f64 / 1000.0;
    if ms.abs() < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// A ratio such as `2.3×`, or `305×` from 10 on.
pub fn ratio_text(ratio: f64) -> String {
    if ratio >= 10.0 {
        format!("{ratio:.0}×")
    } else {
        format!("{ratio:.1}×")
    }
}

/// Bytes per message with one decimal.
pub fn per_message_text(summary: &TechniqueSummary) -> String {
    summary
        .bytes_per_message()
        .map_or_else(|| "-".into(), |bytes| format!("{bytes:.1}"))
}

/// Where a technique is in the capture and how its server answered, in one line.
pub fn where_text(summary: &TechniqueSummary) -> String {
    let streams: Vec<String> = summary.streams.iter().map(u32::to_string).collect();
    let mut parts = vec![format!(
        "frames {}–{} (tcp.stream {})",
        summary.first_frame,
        summary.last_frame,
        streams.join(", ")
    )];
    if let (Some(first), Some(last)) = (summary.messages.first(), summary.messages.last()) {
        parts.push(format!("deliveries in {}…{}", first.frame, last.frame));
    }
    let polls = matches!(
        summary.technique,
        Technique::Polling | Technique::LongPolling
    );
    if polls && summary.timed_responses > 0 {
        parts.push(format!(
            "held ≥ {} ms: {}/{}, longest {}",
            HOLD_THRESHOLD_US / 1000,
            summary.held_responses,
            summary.timed_responses,
            delay_text(summary.max_hold_us)
        ));
    }
    if polls && summary.empty_responses > 0 {
        let plural = if summary.empty_responses == 1 {
            ""
        } else {
            "s"
        };
        parts.push(format!("{} empty answer{plural}", summary.empty_responses));
    }
    parts.join(" · ")
}

/// The table heading.
pub fn write_heading(out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "{:<18} {:>5} {:>8} {:>8} {:>6} {:>7} {:>9} {:>12} {:>10} {:>8} {:>8}",
        "technique",
        "conns",
        "requests",
        "messages",
        "frames",
        "bytes",
        "bytes/msg",
        "median delay",
        "max delay",
        "bytes×WS",
        "delay×WS"
    )
}

/// Writes the whole report as a table, with where each technique is and what the figures mean.
pub fn write_table(out: &mut impl Write, report: &DeliveryReport) -> io::Result<()> {
    if report.techniques.is_empty() {
        return writeln!(out, "{NOTHING_FOUND}");
    }
    write_heading(out)?;
    for summary in &report.techniques {
        let (bytes_ratio, delay_ratio) = report.ratios_vs_websocket(summary);
        writeln!(
            out,
            "{:<18} {:>5} {:>8} {:>8} {:>6} {:>7} {:>9} {:>12} {:>10} {:>8} {:>8}",
            summary.technique.name(),
            summary.connections(),
            summary.requests,
            summary.messages.len(),
            summary.frames,
            summary.bytes,
            per_message_text(summary),
            summary
                .median_delay_us()
                .map_or_else(|| "-".into(), delay_text),
            summary
                .max_delay_us()
                .map_or_else(|| "-".into(), delay_text),
            bytes_ratio.map_or_else(|| "-".into(), ratio_text),
            delay_ratio.map_or_else(|| "-".into(), ratio_text),
        )?;
    }
    writeln!(out)?;
    for summary in &report.techniques {
        writeln!(
            out,
            "{:<18} {}",
            summary.technique.name(),
            where_text(summary)
        )?;
    }
    if report.dropped > 0 {
        writeln!(
            out,
            "{} more messages were found than the analysis keeps; they are not counted",
            report.dropped
        )?;
    }
    writeln!(out)?;
    for line in EXPLANATION {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

#[derive(Serialize)]
struct DelayJson {
    median: Option<f64>,
    max: Option<f64>,
}

#[derive(Serialize)]
struct RatiosJson {
    bytes_per_message: Option<f64>,
    median_delay: Option<f64>,
}

#[derive(Serialize)]
struct DeliveryJson {
    seq: u64,
    stream: u32,
    frame: u64,
    sent_ms: f64,
    delay_ms: f64,
}

#[derive(Serialize)]
struct TechniqueJson {
    technique: &'static str,
    name: &'static str,
    streams: Vec<u32>,
    connections: usize,
    requests: u64,
    responses: u64,
    held_responses: u64,
    timed_responses: u64,
    max_hold_ms: f64,
    empty_responses: u64,
    head_bytes: u64,
    messages: usize,
    frames: u64,
    bytes: u64,
    bytes_per_message: Option<f64>,
    delay_ms: DelayJson,
    vs_websocket: RatiosJson,
    first_frame: u64,
    last_frame: u64,
    deliveries: Vec<DeliveryJson>,
}

/// Microseconds as milliseconds for JSON.
fn ms(us: i64) -> f64 {
    // Precision loss is fine: microseconds fit a double exactly up to 2^53.
    #[allow(clippy::cast_precision_loss)]
    let value = us as f64 / 1000.0;
    value
}

/// Writes one JSON line per technique.
pub fn write_json(out: &mut impl Write, report: &DeliveryReport) -> io::Result<()> {
    for summary in &report.techniques {
        let (bytes_ratio, delay_ratio) = report.ratios_vs_websocket(summary);
        let json = TechniqueJson {
            technique: summary.technique.key(),
            name: summary.technique.name(),
            streams: summary.streams.clone(),
            connections: summary.connections(),
            requests: summary.requests,
            responses: summary.responses,
            held_responses: summary.held_responses,
            timed_responses: summary.timed_responses,
            max_hold_ms: ms(summary.max_hold_us),
            empty_responses: summary.empty_responses,
            head_bytes: summary.head_bytes,
            messages: summary.messages.len(),
            frames: summary.frames,
            bytes: summary.bytes,
            bytes_per_message: summary.bytes_per_message(),
            delay_ms: DelayJson {
                median: summary.median_delay_us().map(ms),
                max: summary.max_delay_us().map(ms),
            },
            vs_websocket: RatiosJson {
                bytes_per_message: bytes_ratio,
                median_delay: delay_ratio,
            },
            first_frame: summary.first_frame.0,
            last_frame: summary.last_frame.0,
            deliveries: summary
                .messages
                .iter()
                .map(|m| DeliveryJson {
                    seq: m.seq,
                    stream: m.stream,
                    frame: m.frame.0,
                    sent_ms: ms(m.sent_us),
                    delay_ms: ms(m.delay_us),
                })
                .collect(),
        };
        serde_json::to_writer(&mut *out, &json).map_err(io::Error::other)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_and_ratios_read_well() {
        assert_eq!(delay_text(571), "0.57 ms");
        assert_eq!(delay_text(208_894), "208.9 ms");
        assert_eq!(delay_text(-1_500), "-1.50 ms");
        assert_eq!(ratio_text(2.345), "2.3×");
        assert_eq!(ratio_text(305.4), "305×");
    }

    #[test]
    fn an_empty_report_says_what_it_looked_for() {
        let mut out = Vec::new();
        write_table(&mut out, &DeliveryReport::default()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{NOTHING_FOUND}\n")
        );
        let mut out = Vec::new();
        write_json(&mut out, &DeliveryReport::default()).unwrap();
        assert!(out.is_empty());
    }
}
