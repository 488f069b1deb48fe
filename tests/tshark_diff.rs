//! Differential test: every capture in `captures/` decoded by osiscope and by
//! tshark, compared field by field and frame by frame.
//!
//! osiscope's side is the real binary's `dump --json` output; tshark's side is
//! `tshark -T fields` for the same keys. Values are normalised only where the
//! two print the same number differently (hex against decimal, `True` against
//! `1`). Every disagreement is listed; the test passes only with none.
//!
//! tshark must be installed (the README's test command installs it). Run
//! without it, the test says it was skipped, unless `OSISCOPE_REQUIRE_TSHARK`
//! is set, as it is in CI, where a missing tshark fails the test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The fields compared, by their Wireshark names.
const FIELDS: &[&str] = &[
    "frame.len",
    "frame.cap_len",
    "eth.src",
    "eth.dst",
    "eth.type",
    "sll.pkttype",
    "sll.hatype",
    "sll.halen",
    "sll.src.eth",
    "sll.etype",
    "sll.ifindex",
    "null.family",
    "vlan.id",
    "vlan.priority",
    "ieee8021ad.id",
    "ieee8021ad.priority",
    "ip.version",
    "ip.hdr_len",
    "ip.dsfield",
    "ip.src",
    "ip.dst",
    "ip.ttl",
    "ip.proto",
    "ip.len",
    "ip.id",
    "ip.flags.df",
    "ip.flags.mf",
    "ip.frag_offset",
    "ip.checksum",
    "ip.checksum.status",
    "ipv6.version",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.plen",
    "ipv6.nxt",
    "ipv6.hlim",
    "ipv6.flow",
    "tcp.stream",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.hdr_len",
    "tcp.flags",
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tcp.flags.fin",
    "tcp.flags.reset",
    "tcp.flags.push",
    "tcp.window_size_value",
    "tcp.checksum",
    "tcp.checksum.status",
    "tcp.urgent_pointer",
    "tcp.len",
    "tcp.option_kind",
    "tcp.options.mss_val",
    "tcp.options.wscale.shift",
    "tcp.options.wscale.multiplier",
    "tcp.options.timestamp.tsval",
    "tcp.options.timestamp.tsecr",
    "tcp.options.sack_le",
    "tcp.options.sack_re",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "icmp.type",
    "icmp.code",
];

/// Fields tshark prints in hexadecimal.
const HEX_FIELDS: &[&str] = &[
    "eth.type",
    "sll.etype",
    "ip.dsfield",
    "ip.id",
    "ip.checksum",
    "ipv6.flow",
    "tcp.flags",
    "tcp.checksum",
    "websocket.rsv",
];

/// One frame's values per field, each field a list of its occurrences.
type FrameValues = BTreeMap<String, Vec<String>>;

/// tshark's preferences for the header pass: checksums verified, raw numbers.
const HEADER_PREFS: &[&str] = &[
    "ip.check_checksum:TRUE",
    "tcp.check_checksum:TRUE",
    "udp.check_checksum:TRUE",
    "tcp.relative_sequence_numbers:FALSE",
];

/// The TCP analysis fields, compared in a second pass with tshark's relative
/// numbers and out-of-order reassembly, as osiscope reassembles.
const ANALYSIS_FIELDS: &[&str] = &[
    "tcp.stream",
    "tcp.seq",
    "tcp.ack",
    "tcp.nxtseq",
    "tcp.len",
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission",
    "tcp.analysis.out_of_order",
    "tcp.analysis.lost_segment",
    "tcp.analysis.ack_lost_segment",
    "tcp.analysis.duplicate_ack",
    "tcp.analysis.duplicate_ack_num",
    "tcp.analysis.duplicate_ack_frame",
    "tcp.analysis.zero_window",
    "tcp.analysis.zero_window_probe",
    "tcp.analysis.zero_window_probe_ack",
    "tcp.analysis.window_full",
    "tcp.analysis.window_update",
    "tcp.analysis.keep_alive",
    "tcp.analysis.keep_alive_ack",
    "tcp.analysis.acks_frame",
];

const ANALYSIS_PREFS: &[&str] = &["tcp.reassemble_out_of_order:TRUE"];

/// WebSocket frame fields, compared with tshark reassembling out-of-order
/// segments (without it, tshark misreads the frames after a hole).
const WEBSOCKET_FIELDS: &[&str] = &[
    "websocket.fin",
    "websocket.rsv",
    "websocket.opcode",
    "websocket.mask",
    "websocket.payload_length",
    "websocket.payload_length_ext_16",
    "websocket.payload_length_ext_64",
    "websocket.masking_key",
    "websocket.payload.close.status_code",
    "http.request.method",
    "http.request.uri",
    "http.response.code",
    "http.upgrade",
    "http.sec_websocket_key",
    "http.sec_websocket_accept",
    "http.proxy_connect_host",
    "http.proxy_connect_port",
];

fn tshark_values(capture: &Path, prefs: &[&str], fields: &[&str]) -> Vec<FrameValues> {
    let mut command = Command::new("tshark");
    command.arg("-r").arg(capture).arg("-n");
    for pref in prefs {
        command.args(["-o", pref]);
    }
    command.args([
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=|",
    ]);
    for field in fields {
        command.args(["-e", field]);
    }
    let output = command.output().expect("tshark runs");
    assert!(
        output.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            fields
                .iter()
                .zip(line.split('\t'))
                .filter(|(_, value)| !value.is_empty())
                .map(|(field, value)| {
                    let mut values: Vec<String> =
                        value.split('|').map(|v| normalise(field, v)).collect();
                    // A flag tshark files twice in its tree is still one flag.
                    if field.starts_with("tcp.analysis.") {
                        values.dedup();
                    }
                    (field.to_string(), values)
                })
                .collect()
        })
        .collect()
}

/// Brings tshark's spelling of a value to osiscope's: decimal numbers, 1/0 booleans.
fn normalise(field: &str, value: &str) -> String {
    if HEX_FIELDS.contains(&field) {
        if let Some(hex) = value.strip_prefix("0x") {
            if let Ok(number) = u64::from_str_radix(hex, 16) {
                return number.to_string();
            }
        }
    }
    match value {
        "True" => "1".to_string(),
        "False" => "0".to_string(),
        other => other.to_string(),
    }
}

fn json_value(value: &Value) -> String {
    match value {
        Value::Bool(true) => "1".to_string(),
        Value::Bool(false) => "0".to_string(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn collect_fields(fields: &[Value], out: &mut FrameValues) {
    for field in fields {
        let key = field["key"].as_str().unwrap();
        if FIELDS.contains(&key)
            || ANALYSIS_FIELDS.contains(&key)
            || WEBSOCKET_FIELDS.contains(&key)
        {
            out.entry(key.to_string())
                .or_default()
                .push(json_value(&field["value"]));
            // Keep the display too, for the reasons given in `defensible`.
            out.entry(format!("{key}#display"))
                .or_default()
                .push(field["display"].as_str().unwrap_or("").to_string());
        }
        if let Some(children) = field["children"].as_array() {
            collect_fields(children, out);
        }
    }
}

fn osiscope_values(capture: &Path) -> Vec<FrameValues> {
    common::dump_json(capture)
        .iter()
        .map(|frame| {
            let mut values = FrameValues::new();
            for layer in frame["layers"].as_array().unwrap() {
                collect_fields(layer["fields"].as_array().unwrap(), &mut values);
            }
            let problems = frame["problems"].as_array().unwrap();
            values.insert(
                "#problems".to_string(),
                problems
                    .iter()
                    .map(|p| p["key"].as_str().unwrap().to_string())
                    .collect(),
            );
            values
        })
        .collect()
}

/// A disagreement osiscope keeps on purpose, with the reason.
fn defensible(
    field: &str,
    ours: &[String],
    theirs: &[String],
    our_frame: &FrameValues,
) -> Option<&'static str> {
    // On the sending host, transmit offload leaves only the pseudo-header sum
    // in the TCP checksum field; tshark calls that bad (0), osiscope calls it
    // not verifiable (2) and says why.
    let offloaded = our_frame
        .get(&format!("{field}#display"))
        .is_some_and(|displays| displays.iter().all(|d| d.contains("transmit offload")));
    if field.ends_with("checksum.status") && offloaded && ours == ["2"] && theirs == ["0"] {
        return Some("checksum left to transmit offload");
    }
    // tshark decodes WebSocket only after a captured opening handshake;
    // osiscope also recognises frames picked up mid-stream, and says so.
    let guessed = our_frame
        .get("#problems")
        .is_some_and(|keys| keys.iter().any(|k| k == "websocket.handshake_missing"));
    if field.starts_with("websocket.") && guessed && theirs.is_empty() {
        return Some("WebSocket recognised without its handshake");
    }
    // tshark 4.0 marks the frames inside a CONNECT tunnel with the proxy's target
    // (compared above, `http.proxy_connect_*`) but shows their bytes as data;
    // osiscope decodes the conversation inside as if it were a connection of
    // its own (here an Upgrade and WebSocket frames), so those fields are its alone.
    let tunnelled = our_frame.contains_key("http.proxy_connect_host");
    if (field.starts_with("websocket.") || field.starts_with("http."))
        && !field.starts_with("http.proxy_connect_")
        && tunnelled
        && theirs.is_empty()
    {
        return Some("inside a CONNECT tunnel, which tshark 4.0 does not dissect");
    }
    // tshark reads what it can of an HTTP head the snapshot length cut;
    // osiscope parses only heads it saw whole, and reports the cut.
    let cut = our_frame
        .get("#problems")
        .is_some_and(|keys| keys.iter().any(|k| k == "_ws.snaplen_cut"));
    if field.starts_with("http.") && cut && ours.is_empty() {
        return Some("HTTP head cut by the snapshot length");
    }
    // A TCP checksum of 0xffff is the other ones'-complement spelling of
    // zero: the sum checks out (RFC 1071), and receivers accept it. tshark
    // 4.0 calls it bad because a sender should have written 0x0000.
    let all_ones = our_frame
        .get("tcp.checksum")
        .is_some_and(|values| values.iter().all(|v| v == "65535"));
    if field == "tcp.checksum.status" && all_ones && ours == ["1"] && theirs == ["0"] {
        return Some("0xffff is zero in ones' complement");
    }
    // Wireshark's IPv6 dissector also files the version under `ip.version`;
    // osiscope keeps it under `ipv6.version` only (compared above).
    let ipv6_versions = our_frame.get("ipv6.version").map_or(0, Vec::len);
    if field == "ip.version"
        && ours.is_empty()
        && theirs.len() == ipv6_versions
        && theirs.iter().all(|v| v == "6")
    {
        return Some("IPv6 version also filed as ip.version by Wireshark");
    }
    None
}

/// Compares osiscope's values with tshark's for `fields`, over every capture.
fn compare(prefs: &[&str], fields: &[&str], test: &str) {
    if !common::tshark_available(test) {
        return;
    }
    let mut disagreements = Vec::new();
    let mut n_compared = 0usize;
    let mut n_defended = 0usize;
    for capture in common::captures() {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        let theirs = tshark_values(&capture, prefs, fields);
        let ours = osiscope_values(&capture);
        assert_eq!(ours.len(), theirs.len(), "{name}: frame count differs");
        for (index, (our_frame, their_frame)) in ours.iter().zip(&theirs).enumerate() {
            for field in fields {
                let empty = Vec::new();
                let our_values = our_frame.get(*field).unwrap_or(&empty);
                let their_values = their_frame.get(*field).unwrap_or(&empty);
                n_compared += 1;
                if our_values == their_values {
                    continue;
                }
                if defensible(field, our_values, their_values, our_frame).is_some() {
                    n_defended += 1;
                    continue;
                }
                disagreements.push(format!(
                    "{name} frame {}: {field}: osiscope {our_values:?}, tshark {their_values:?}",
                    index + 1
                ));
            }
        }
    }
    eprintln!(
        "{test}: compared {n_compared} field slots; {n_defended} defensible differences; {} disagreements",
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements with tshark:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(1000)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_capture_agrees_with_tshark() {
    compare(HEADER_PREFS, FIELDS, "every_capture_agrees_with_tshark");
}

#[test]
fn tcp_analysis_agrees_with_tshark() {
    compare(
        ANALYSIS_PREFS,
        ANALYSIS_FIELDS,
        "tcp_analysis_agrees_with_tshark",
    );
}

#[test]
fn websocket_frames_agree_with_tshark() {
    compare(
        ANALYSIS_PREFS,
        WEBSOCKET_FIELDS,
        "websocket_frames_agree_with_tshark",
    );
}
