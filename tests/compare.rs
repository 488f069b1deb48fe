//! The comparison of delivery techniques over `captures/poll-vs-ws.pcapng`, against the truth
//! log its two endpoints wrote: each technique found, every message counted once with the
//! stamps the server gave it, the costs adding up to the capture, and the delays measured on
//! the capture agreeing with when the client's libraries handed the messages over.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::Value;

use osiscope::dissect::delivery::{DeliveryReport, Technique};
use osiscope::pipeline::Pipeline;
use osiscope::session::{Session, SessionLimits};
use osiscope::source::{FileSource, Source};

const CAPTURE: &str = "poll-vs-ws.pcapng";
const MESSAGES: usize = 50;

/// The capture is taken at the server's interface, before the frame crosses the link, and the
/// client's truth line is written once its library has parsed the message and the client got
/// the CPU back: the capture's delay can only be shorter than the client's, by at most this
/// (microseconds).
const TOLERANCE_US: i64 = 10_000;

/// The truth log's name for each technique.
fn truth_name(technique: Technique) -> &'static str {
    match technique {
        Technique::Polling => "poll",
        Technique::LongPolling => "long-poll",
        Technique::ServerSentEvents => "sse",
        Technique::WebSocket => "websocket",
    }
}

fn truth() -> Vec<Value> {
    std::fs::read_to_string(common::capture("poll-vs-ws.truth.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Truth lines of one side, event and technique.
fn lines<'a>(truth: &'a [Value], side: &str, event: &str, technique: Technique) -> Vec<&'a Value> {
    truth
        .iter()
        .filter(|l| {
            l["side"] == side && l["event"] == event && l["technique"] == truth_name(technique)
        })
        .collect()
}

fn micros(ms: &Value) -> i64 {
    (ms.as_f64().unwrap() * 1000.0).round() as i64
}

fn report() -> (DeliveryReport, u64, u64) {
    let mut source = FileSource::open(&common::capture(CAPTURE)).unwrap();
    let mut pipeline = Pipeline::default().observing_delivery();
    let (mut frames, mut bytes) = (0, 0);
    while let Some(frame) = source.next_frame().unwrap() {
        frames += 1;
        bytes += frame.orig_len as u64;
        pipeline.process(&frame, false);
    }
    pipeline.finish();
    (pipeline.delivery().unwrap(), frames, bytes)
}

#[test]
fn each_technique_delivers_the_logged_messages_once() {
    let (report, _, _) = report();
    let truth = truth();
    let found: Vec<Technique> = report.techniques.iter().map(|t| t.technique).collect();
    assert_eq!(found, Technique::ALL.to_vec());
    for summary in &report.techniques {
        let technique = summary.technique;
        let received = lines(&truth, "client", "recv", technique);
        let produced = lines(&truth, "server", "produce", technique);
        assert_eq!(summary.messages.len(), MESSAGES, "{technique}");
        let seqs: Vec<u64> = summary.messages.iter().map(|m| m.seq).collect();
        let logged: Vec<u64> = received
            .iter()
            .map(|l| l["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, logged, "{technique}: seqs in delivery order");
        assert_eq!(seqs, (1..=MESSAGES as u64).collect::<Vec<_>>());
        for (message, line) in summary.messages.iter().zip(&produced) {
            assert_eq!(
                message.sent_us,
                micros(&line["sent"]),
                "{technique} seq {}",
                message.seq
            );
        }
        // One connection per technique, in the order the client used them.
        assert_eq!(summary.connections(), 1, "{technique}");
        assert_eq!(
            summary.streams,
            vec![Technique::ALL.iter().position(|t| *t == technique).unwrap() as u32]
        );
        // Every request the client logged is one the analysis counted, and answered.
        let requests = lines(&truth, "client", "request", technique).len() as u64;
        let expected = if technique == Technique::WebSocket {
            1
        } else {
            requests
        };
        assert_eq!(
            (summary.requests, summary.responses),
            (expected, expected),
            "{technique}"
        );
    }
}

#[test]
fn the_server_held_long_polls_and_answered_polls_at_once() {
    let (report, _, _) = report();
    let truth = truth();
    let polling = report.technique(Technique::Polling).unwrap();
    assert_eq!(polling.held_responses, 0);
    let empty = lines(&truth, "server", "response", Technique::Polling)
        .iter()
        .filter(|l| l["seqs"].as_array().unwrap().is_empty())
        .count() as u64;
    assert!(empty >= 1, "the first poll comes before the first message");
    assert_eq!(polling.empty_responses, empty);
    let long = report.technique(Technique::LongPolling).unwrap();
    assert!(long.held_responses * 2 > long.timed_responses);
    assert_eq!(long.empty_responses, 0);
}

#[test]
fn costs_add_up_to_the_whole_capture() {
    let (report, frames, bytes) = report();
    let sum = |f: fn(&osiscope::dissect::delivery::TechniqueSummary) -> u64| -> u64 {
        report.techniques.iter().map(f).sum()
    };
    // The capture holds the four connections and nothing else.
    assert_eq!(sum(|t| t.frames), frames);
    assert_eq!(sum(|t| t.bytes), bytes);
    let mut previous_last = 0;
    for summary in &report.techniques {
        assert!(
            summary.first_frame.0 > previous_last,
            "{}",
            summary.technique
        );
        previous_last = summary.last_frame.0;
        let per_message = summary.bytes_per_message().unwrap();
        assert_eq!(per_message, summary.bytes as f64 / MESSAGES as f64);
    }
    // Every technique costs more on the wire than the messages themselves (about 60 bytes
    // each), and long polling, with a request and an answer per message, costs the most.
    let long = report.technique(Technique::LongPolling).unwrap();
    for summary in &report.techniques {
        assert!(summary.bytes_per_message().unwrap() > 100.0);
        assert!(summary.bytes <= long.bytes);
    }
}

#[test]
fn delays_agree_with_the_clients_truth_log() {
    let (report, _, _) = report();
    let truth = truth();
    for summary in &report.techniques {
        let received = lines(&truth, "client", "recv", summary.technique);
        for (message, line) in summary.messages.iter().zip(&received) {
            let truth_delay = micros(&line["recv"]) - micros(&line["sent"]);
            let slack = truth_delay - message.delay_us;
            assert!(
                (0..=TOLERANCE_US).contains(&slack),
                "{} seq {}: {} µs in the capture, {} µs for the client",
                summary.technique,
                message.seq,
                message.delay_us,
                truth_delay
            );
        }
    }
    // Polling waits for the next poll (every 500 ms); the others push at once.
    let median = |t: Technique| report.technique(t).unwrap().median_delay_us().unwrap();
    assert!(median(Technique::Polling) > 100_000);
    for technique in [
        Technique::LongPolling,
        Technique::ServerSentEvents,
        Technique::WebSocket,
    ] {
        assert!(median(technique) < 10_000, "{technique}");
    }
}

#[test]
fn the_session_builds_the_same_report() {
    let (report, _, _) = report();
    let session =
        Session::open_blocking(&common::capture(CAPTURE), SessionLimits::default()).unwrap();
    assert_eq!(session.delivery(), Some(&report));
    // A capture without the message convention has an empty report.
    let session = Session::open_blocking(
        &common::capture("http-mixed.pcapng"),
        SessionLimits::default(),
    )
    .unwrap();
    assert_eq!(session.delivery().map(|r| r.techniques.len()), Some(0));
}

#[test]
fn the_command_prints_a_table_and_json_lines() {
    let output = common::osiscope()
        .args(["compare", "--json"])
        .arg(common::capture(CAPTURE))
        .output()
        .unwrap();
    assert!(output.status.success());
    let rows: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["technique"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["polling", "long-polling", "sse", "websocket"]);
    for row in &rows {
        assert_eq!(row["messages"], MESSAGES);
        assert_eq!(row["deliveries"].as_array().unwrap().len(), MESSAGES);
    }
    assert_eq!(rows[3]["vs_websocket"]["bytes_per_message"], 1.0);

    let output = common::osiscope()
        .arg("compare")
        .arg(common::capture(CAPTURE))
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("technique") && first.contains("bytes/msg"),
        "{first}"
    );
    for name in ["polling", "long polling", "Server-Sent Events", "WebSocket"] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{text}"
        );
    }

    let output = common::osiscope()
        .arg("compare")
        .arg(common::capture("ws-basic.pcapng"))
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8(output.stdout)
        .unwrap()
        .starts_with("no delivered messages"));
}
