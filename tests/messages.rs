//! `osiscope messages --json` against the truth: what the WebSocket endpoints
//! themselves logged as sent, for every recorded capture.
//!
//! Each capture `NAME.pcap[ng]` has `NAME.truth.jsonl` beside it, written by
//! the two independent WebSocket implementations during the recording. Every
//! message osiscope finds must be one an endpoint sent, in the same order per
//! connection and direction, with the same opcode, length and SHA-256 of the
//! payload (unmasked, joined, inflated).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// One message as compared: direction, opcode, length, SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    dir: String,
    opcode: String,
    length: u64,
    sha256: Option<String>,
    close_code: Option<u64>,
    complete: bool,
}

/// What the endpoints sent, grouped by connection (the `conn` field, or one
/// connection when absent) and direction, in order.
fn truth(capture: &Path) -> BTreeMap<(String, String), Vec<Seen>> {
    let name = capture.file_name().unwrap().to_string_lossy();
    let stem = name.split('.').next().unwrap();
    let text =
        std::fs::read_to_string(capture.with_file_name(format!("{stem}.truth.jsonl"))).unwrap();
    let mut out: BTreeMap<(String, String), Vec<Seen>> = BTreeMap::new();
    for line in text.lines() {
        let value: Value = serde_json::from_str(line).unwrap();
        if value["event"] != "send" {
            continue;
        }
        let conn = value["conn"].as_str().unwrap_or("").to_string();
        let dir = value["dir"].as_str().unwrap().to_string();
        out.entry((conn, dir.clone())).or_default().push(Seen {
            dir,
            opcode: value["opcode"].as_str().unwrap().to_string(),
            length: value["length"].as_u64().unwrap(),
            sha256: value["sha256"].as_str().map(str::to_string),
            close_code: value["close_code"].as_u64(),
            complete: true,
        });
    }
    out
}

/// The `CONNECT` tunnels the proxy's lines in a truth log report, by connection: each is
/// carried twice in the capture, client to proxy (inside the tunnel) and proxy to server.
fn tunnels(capture: &Path) -> BTreeMap<String, String> {
    let name = capture.file_name().unwrap().to_string_lossy();
    let stem = name.split('.').next().unwrap();
    let text =
        std::fs::read_to_string(capture.with_file_name(format!("{stem}.truth.jsonl"))).unwrap();
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|value| value["side"] == "proxy" && value["event"] == "tunnel")
        .map(|value| {
            (
                value["conn"].as_str().unwrap().to_string(),
                value["target"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// What `osiscope messages ARGS CAPTURE` printed (it must succeed).
fn messages_output(args: &[&str], capture: &Path) -> String {
    output_of("messages", args, capture)
}

/// What `osiscope COMMAND ARGS CAPTURE` printed (it must succeed).
fn output_of(command: &str, args: &[&str], capture: &Path) -> String {
    let output = common::osiscope()
        .arg(command)
        .args(args)
        .arg(capture)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `messages --json` as JSON values, one per message.
fn json_messages(capture: &Path) -> Vec<Value> {
    messages_output(&["--json"], capture)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// What osiscope found, grouped by stream and direction, in order.
fn found(capture: &Path) -> BTreeMap<(u64, String), Vec<Seen>> {
    let mut out: BTreeMap<(u64, String), Vec<Seen>> = BTreeMap::new();
    for value in json_messages(capture) {
        let line = value.to_string();
        // `tunnel` is there only for a message that travelled inside a CONNECT tunnel.
        let keys: Vec<&String> = value
            .as_object()
            .unwrap()
            .keys()
            .filter(|key| *key != "tunnel")
            .collect();
        assert_eq!(
            keys,
            [
                "client",
                "close_code",
                "close_reason",
                "complete",
                "compressed",
                "dir",
                "frames",
                "length",
                "opcode",
                "problems",
                "server",
                "sha256",
                "stream"
            ],
            "exactly the documented keys"
        );
        let frames = value["frames"].as_array().unwrap();
        assert!(!frames.is_empty(), "a message without frames: {line}");
        assert!(
            frames.windows(2).all(|w| w[0].as_u64() < w[1].as_u64()),
            "frames ascending: {line}"
        );
        let dir = value["dir"].as_str().unwrap().to_string();
        out.entry((value["stream"].as_u64().unwrap(), dir.clone()))
            .or_default()
            .push(Seen {
                dir,
                opcode: value["opcode"].as_str().unwrap().to_string(),
                length: value["length"].as_u64().unwrap(),
                sha256: value["sha256"].as_str().map(str::to_string),
                close_code: value["close_code"].as_u64(),
                complete: value["complete"].as_bool().unwrap(),
            });
    }
    out
}

/// How strictly a capture is compared.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Every message, exactly.
    Exact,
    /// The capture starts late: osiscope sees the last messages of each direction.
    Suffix,
    /// Frames were cut: every message found with its length; hashes only of whole ones.
    Cut,
}

fn matches(ours: &[Seen], theirs: &[Seen], mode: Mode) -> bool {
    let theirs = match mode {
        Mode::Suffix if ours.len() <= theirs.len() && !ours.is_empty() => {
            &theirs[theirs.len() - ours.len()..]
        }
        _ => theirs,
    };
    ours.len() == theirs.len()
        && ours.iter().zip(theirs).all(|(o, t)| match mode {
            Mode::Exact | Mode::Suffix => {
                o.complete
                    && o == &Seen {
                        complete: true,
                        ..t.clone()
                    }
            }
            Mode::Cut => {
                o.dir == t.dir
                    && o.opcode == t.opcode
                    && o.length == t.length
                    && match &o.sha256 {
                        Some(sha) => Some(sha) == t.sha256.as_ref() && o.complete,
                        None => !o.complete,
                    }
            }
        })
}

fn check(name: &str, mode: Mode) {
    let capture = common::capture(name);
    let theirs = truth(&capture);
    let ours = found(&capture);
    assert!(!ours.is_empty(), "{name}: no messages found");
    let n_connections = theirs
        .keys()
        .map(|(conn, _)| conn)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let n_streams = ours
        .keys()
        .map(|(stream, _)| stream)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    // A connection through a proxy is two TCP connections carrying the same messages.
    assert_eq!(
        n_streams,
        n_connections + tunnels(&capture).len(),
        "{name}: connections with messages"
    );
    for ((stream, dir), messages) in &ours {
        let matched = theirs
            .iter()
            .filter(|((_, their_dir), _)| their_dir == dir)
            .any(|(_, sent)| matches(messages, sent, mode));
        assert!(
            matched,
            "{name}: stream {stream} {dir}: no endpoint sent this sequence:\n{messages:#?}\nendpoints sent:\n{theirs:#?}"
        );
    }
    for ((conn, dir), sent) in &theirs {
        let matched = ours
            .iter()
            .filter(|((_, our_dir), _)| our_dir == dir)
            .any(|(_, messages)| matches(messages, sent, mode));
        assert!(
            matched,
            "{name}: connection {conn:?} {dir}: what the endpoint sent was not found"
        );
    }
}

#[test]
fn basic_session_matches_the_endpoints() {
    check("ws-basic.pcapng", Mode::Exact);
}

#[test]
fn ipv6_and_cooked_captures_match_the_endpoints() {
    for name in [
        "ws-basic-ipv6.pcap",
        "ws-any-sll.pcap",
        "ws-any-sll2.pcap",
        "ws-offload.pcapng",
    ] {
        check(name, Mode::Exact);
    }
}

#[test]
fn every_length_encoding_and_fragmented_messages_match() {
    check("ws-sizes.pcapng", Mode::Exact);
}

#[test]
fn compressed_messages_are_inflated() {
    check("ws-deflate.pcapng", Mode::Exact);
}

#[test]
fn lossy_network_recordings_match_after_reassembly() {
    check("ws-lossy.pcapng", Mode::Exact);
    check("ws-lossy-deflate.pcapng", Mode::Exact);
}

#[test]
fn concurrent_connections_are_kept_apart() {
    check("ws-concurrent.pcapng", Mode::Exact);
}

#[test]
fn mid_stream_captures_are_recognised() {
    check("ws-midstream.pcapng", Mode::Suffix);
    check("ws-midstream-deflate.pcapng", Mode::Suffix);
}

#[test]
fn snaplen_cut_messages_are_found_and_marked_incomplete() {
    check("ws-snaplen.pcapng", Mode::Cut);
}

#[test]
fn megabyte_messages_match_plain_and_compressed() {
    check("ws-large.pcapng", Mode::Exact);
    check("ws-large-deflate.pcapng", Mode::Exact);
}

#[test]
fn abnormal_endings_keep_the_messages_sent_before_them() {
    check("ws-abnormal.pcapng", Mode::Exact);
}

#[test]
fn lesson_captures_match_the_endpoints() {
    check("ws-handshake.pcapng", Mode::Exact);
    check("ws-control.pcapng", Mode::Exact);
    check("ws-debug.pcapng", Mode::Exact);
}

#[test]
fn messages_inside_a_connect_tunnel_are_found_and_say_so() {
    let capture = common::capture("ws-debug.pcapng");
    let tunnels = tunnels(&capture);
    assert_eq!(tunnels.len(), 1, "{tunnels:?}");
    let target = tunnels.values().next().unwrap();
    let messages = json_messages(&capture);
    let (inside, outside): (Vec<&Value>, Vec<&Value>) =
        messages.iter().partition(|m| m.get("tunnel").is_some());
    assert!(!inside.is_empty());
    assert!(outside.iter().all(|m| m.get("tunnel").is_none()));
    for message in &inside {
        assert_eq!(message["tunnel"].as_str(), Some(target.as_str()));
        // The TCP connection of a tunnelled message is the one with the proxy.
        assert_eq!(message["server"].as_str(), Some("10.77.0.3:3128"));
    }
    // The proxy relayed them to the server unchanged: the proxy-server connection
    // carries the same messages, in the same order per direction.
    let server_leg: Vec<&Value> = outside
        .iter()
        .copied()
        .filter(|m| m["client"].as_str().unwrap().starts_with("10.77.0.3:"))
        .collect();
    let summary = |list: &[&Value]| -> Vec<(String, String, String)> {
        let mut rows: Vec<(String, String, String)> = list
            .iter()
            .map(|m| {
                (
                    m["dir"].as_str().unwrap().to_string(),
                    m["opcode"].as_str().unwrap().to_string(),
                    m["sha256"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    };
    assert_eq!(summary(&inside), summary(&server_leg));
}

#[test]
fn payloads_full_of_terminal_escapes_match_byte_for_byte() {
    check("ws-escapes.pcapng", Mode::Exact);
    // The close reason is given as sent, and the raw output holds nothing a
    // terminal would act on (JSON escapes it).
    let output = common::osiscope()
        .args(["messages", "--json"])
        .arg(common::capture("ws-escapes.pcapng"))
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
    assert!(!text.contains('\u{202e}'));
    let reasons: Vec<String> = text
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter_map(|m| m["close_reason"].as_str().map(str::to_string))
        .collect();
    assert!(
        reasons.iter().any(|r| r == "\u{1b}[5mbye\u{1b}[0m"),
        "{reasons:?}"
    );
}

/// Many connections at once, over more than the linger time: every Ethernet
/// capture of `captures/` (libpcap reads one link type per file) four times, each copy 75 s after the one before (so finished
/// connections of a copy are let go while the next one runs, and the same
/// addresses and ports come back), the captures interleaved in time.
fn many_connections(path: &Path) -> usize {
    use osiscope::dissect::Timestamp;
    use osiscope::source::{save::PcapngWriter, FileSource, Source};

    let mut frames: Vec<(i128, usize, Timestamp, usize, u32, Vec<u8>)> = Vec::new();
    for (which, capture) in common::captures().iter().enumerate() {
        let mut source = FileSource::open(capture).unwrap();
        let mut first = None;
        let mut order = 0;
        while let Ok(Some(frame)) = source.next_frame() {
            if frame.link_type != 1 {
                break;
            }
            let nanos = i128::from(frame.ts.secs) * 1_000_000_000 + i128::from(frame.ts.nanos);
            let first = *first.get_or_insert(nanos);
            for copy in 0..4i128 {
                let at = 1_700_000_000_000_000_000
                    + (nanos - first)
                    + copy * 75_000_000_000
                    + i128::try_from(which).unwrap() * 370_000_000;
                let ts = Timestamp {
                    secs: i64::try_from(at / 1_000_000_000).unwrap(),
                    nanos: u32::try_from(at % 1_000_000_000).unwrap(),
                };
                frames.push((
                    at,
                    order,
                    ts,
                    frame.orig_len,
                    frame.link_type,
                    frame.data.to_vec(),
                ));
                order += 1;
            }
        }
    }
    frames.sort_by_key(|frame| (frame.0, frame.1));
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut writer = PcapngWriter::new(file, 262_144, None).unwrap();
    for (_, _, ts, orig_len, link_type, data) in &frames {
        writer.write(*ts, *orig_len, *link_type, data).unwrap();
    }
    writer.finish().unwrap();
    frames.len()
}

/// `messages` on several threads (connections divided by address pair) says
/// exactly what one pipeline says: the same messages, stream numbers and
/// order, byte for byte, with any number of threads.
#[test]
fn threads_give_the_messages_of_one_pipeline() {
    let dir = std::env::temp_dir().join(format!("osiscope-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("many.pcapng");
    let n_frames = many_connections(&path);
    let run =
        |threads: &str| messages_output(&["--json", "--payload", "--threads", threads], &path);
    let one = run("1");
    let values: Vec<Value> = one
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let streams = values
        .iter()
        .map(|value| value["stream"].as_u64().unwrap())
        .max()
        .unwrap();
    let incomplete = values
        .iter()
        .filter(|value| value["complete"] == false)
        .count();
    // Something to divide: many connections, some ending incomplete.
    assert!(n_frames > 10_000, "{n_frames} frames");
    assert!(values.len() > 1_000, "{} messages", values.len());
    assert!(streams > 50, "{streams} streams");
    assert!(incomplete > 4, "{incomplete} incomplete messages");
    for threads in ["2", "3", "4", "7"] {
        let many = run(threads);
        // Without the payload, each is hashed and let go on its thread.
        for format in [&["--json"][..], &[][..]] {
            let args = |threads| [format, &["--threads", threads]].concat();
            let (one, many) = (
                messages_output(&args("1"), &path),
                messages_output(&args(threads), &path),
            );
            assert!(
                one == many,
                "{threads} threads differ from one ({format:?})"
            );
        }
        if many != one {
            let at = one
                .lines()
                .zip(many.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(one.lines().count().min(many.lines().count()));
            panic!(
                "{threads} threads differ from one at message {at}:\n  one: {}\n  {threads}: {}",
                one.lines().nth(at).unwrap_or("(none)"),
                many.lines().nth(at).unwrap_or("(none)")
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `streams` divides connections between threads as `messages` does: the
/// same rows, in the same order, with the same numbers.
#[test]
fn threads_give_the_streams_of_one_pipeline() {
    let dir = std::env::temp_dir().join(format!("osiscope-streams-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("many.pcapng");
    many_connections(&path);
    let run = |args: &[&str]| output_of("streams", args, &path);
    for format in [&["--json"][..], &[][..]] {
        let one = run(&[format, &["--threads", "1"]].concat());
        assert!(one.lines().count() > 50, "{one}");
        for threads in ["2", "3", "7"] {
            let many = run(&[format, &["--threads", threads]].concat());
            let differ = one.lines().zip(many.lines()).position(|(a, b)| a != b);
            assert_eq!(
                (differ, many.lines().count()),
                (None, one.lines().count()),
                "{threads} threads differ from one ({format:?})"
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
