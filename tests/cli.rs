//! The command line as a user meets it: output of `dump`, and clear one-line
//! errors with exit code 2 for files that cannot be read.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::{capture, osiscope};

fn run(args: &[&str], file: &Path) -> Output {
    osiscope().args(args).arg(file).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// A fresh scratch folder for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("osiscope-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn assert_clean_error(output: &Output, expect: &str) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(2), "stderr: {text}");
    assert_eq!(text.lines().count(), 1, "one line expected: {text}");
    assert!(text.starts_with("osiscope: "), "{text}");
    assert!(text.contains(expect), "expected {expect:?} in {text:?}");
    assert!(
        !text.contains("panicked") && !text.contains("backtrace"),
        "{text}"
    );
}

#[test]
fn dump_prints_every_frame_layered() {
    let output = run(&["dump"], &capture("ws-basic.pcapng"));
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text.matches("\nFrame ").count() + 1, 20);
    assert!(text.starts_with("Frame 1 · "));
    for heading in [
        "  L1 Physical · bits",
        "  L2 Data link · frame · Ethernet II",
        "  L3 Network · packet · IPv4",
        "  L4 Transport · segment · TCP",
    ] {
        assert!(text.contains(heading), "missing {heading}");
    }
    assert!(text.contains("(tcp.flags.syn [46..48) mask 0x2)"));
}

#[test]
fn dump_json_is_one_object_per_frame() {
    let frames = common::dump_json(&capture("ws-basic-ipv6.pcap"));
    assert_eq!(frames.len(), 20);
    for (index, frame) in frames.iter().enumerate() {
        assert_eq!(frame["frame"], index as u64 + 1);
        let protocols: Vec<&str> = frame["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|layer| layer["protocol"].as_str().unwrap())
            .collect();
        assert_eq!(protocols[..4], ["frame", "eth", "ipv6", "tcp"]);
    }
    let first_tcp = &frames[0]["layers"][3];
    assert_eq!(first_tcp["osi"], 4);
    assert_eq!(first_tcp["pdu"], "segment");
    let syn = first_tcp["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|field| field["key"] == "tcp.flags")
        .unwrap();
    assert_eq!(syn["value"], 2);
}

#[test]
fn no_argument_opens_the_first_capture() {
    let output = osiscope().output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("Frame 1 · "));
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let bytes = std::fs::read(capture("ws-basic.pcapng")).unwrap();
    let mut child = osiscope()
        .args(["dump", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 20);
}

#[test]
fn missing_file_is_a_one_line_error() {
    let output = run(&["dump"], Path::new("/nonexistent/nope.pcap"));
    assert_clean_error(&output, "/nonexistent/nope.pcap: no such file");
}

#[test]
fn a_file_that_is_not_a_capture_is_a_one_line_error() {
    let output = run(&["dump"], &common::root().join("Cargo.toml"));
    assert_clean_error(&output, "Cargo.toml: not a pcap or pcapng capture file");
    let dir = scratch("empty");
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    assert_clean_error(&run(&["dump"], &empty), "not a pcap or pcapng capture file");
    assert_clean_error(&run(&["dump"], &dir), "is a directory");
}

#[test]
fn truncated_file_keeps_frames_read_before_the_cut() {
    let dir = scratch("truncated");
    for name in ["ws-basic-ipv6.pcap", "ws-basic.pcapng"] {
        let bytes = std::fs::read(capture(name)).unwrap();
        let cut = dir.join(name);
        // Cut in the middle of the file, inside some record.
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let output = run(&["dump", "--json"], &cut);
        assert_clean_error(&output, "truncated or corrupt after frame");
        let n_frames = String::from_utf8_lossy(&output.stdout).lines().count();
        assert!(
            n_frames > 3 && n_frames < 20,
            "{name}: {n_frames} frames before the cut"
        );
        assert!(
            stderr(&output).contains(&format!("after frame {n_frames}:")),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn unreadable_file_says_permission_denied() {
    let dir = scratch("permission");
    let file = dir.join("secret.pcapng");
    std::fs::copy(capture("ws-basic.pcapng"), &file).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let is_root = std::fs::read(&file).is_ok();
    let output = if is_root {
        // Root reads anything: drop to the unprivileged user to see the error.
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_osiscope"))
            .arg("dump")
            .arg(&file)
            .output()
            .expect("setpriv (util-linux) runs")
    } else {
        run(&["dump"], &file)
    };
    assert_clean_error(&output, "secret.pcapng: permission denied");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    // Both outputs are megabytes long, far more than a pipe holds, so the reader going
    // away is met while writing.
    for (args, start) in [(&["dump"][..], "Frame 1"), (&["dump", "--json"][..], "{")] {
        let mut child = osiscope()
            .args(args)
            .arg(capture("ws-sizes.pcapng"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.starts_with(start), "{args:?}: {first}");
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        assert_eq!(stderr(&output), "", "{args:?}");
    }
}

#[test]
fn streams_lists_each_connection_with_state_and_analysis() {
    let output = run(&["streams", "--json"], &capture("ws-concurrent.pcapng"));
    assert!(output.status.success(), "{}", stderr(&output));
    let rows: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    for (index, row) in rows.iter().enumerate() {
        assert_eq!(row["stream"], index as u64);
        assert_eq!(row["protocol"], "websocket");
        assert_eq!(row["handshake_seen"], true);
        assert_eq!(row["server"], "10.77.0.2:8080");
        assert!(row["final_state"].as_str().unwrap().contains("CLOSED"));
        assert!(row["packets_c2s"].as_u64().unwrap() > 5);
    }
    let lossy = run(&["streams"], &capture("ws-lossy.pcapng"));
    let table = String::from_utf8(lossy.stdout).unwrap();
    assert!(table.lines().next().unwrap().contains("client → server"));
    assert!(table.contains("retransmission×"), "{table}");
    assert!(table.contains("lost_segment×"), "{table}");
}

#[test]
fn messages_prints_one_line_per_message() {
    let output = run(&["messages"], &capture("ws-basic.pcapng"));
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text.lines().count(), 10);
    assert!(text.contains("\"こんにちは\""));
    assert!(text.lines().last().unwrap().contains("close"));
    assert!(text.lines().last().unwrap().contains("1000 bye"));
    let payload = run(
        &["messages", "--json", "--payload"],
        &capture("ws-basic.pcapng"),
    );
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8(payload.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["payload_b64"], "SGVsbG8sIHNlcnZlciE=");
}

#[test]
fn dump_shows_the_handshake_and_unmasked_frames() {
    let output = run(&["dump"], &capture("ws-basic.pcapng"));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("L7 Application · message · HTTP/1.1"));
    assert!(text.contains("(websocket.handshake.accept_match"));
    assert!(text.contains("Accept matches: yes"));
    assert!(text.contains("Text: こんにちは  (websocket.payload.text"));
    assert!(text.contains("(tcp.stream)"));
}

#[test]
fn two_pass_dump_says_where_segments_were_reassembled() {
    let frames = common::dump_json_args(
        &["dump", "--json", "--two-pass"],
        &capture("ws-sizes.pcapng"),
    );
    let mut n_pointers = 0;
    for frame in &frames {
        let number = frame["frame"].as_u64().unwrap();
        for layer in frame["layers"].as_array().unwrap() {
            for field in layer["fields"].as_array().unwrap() {
                if field["key"] == "tcp.reassembled_in" {
                    let target = field["value"].as_u64().unwrap();
                    assert!(target > number, "frame {number} points back to {target}");
                    // The target frame shows a reassembled source listing this frame.
                    let sources: Vec<&serde_json::Value> = frames[target as usize - 1]["layers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|l| l["source"].as_u64().unwrap() > 0)
                        .collect();
                    assert!(
                        !sources.is_empty(),
                        "frame {target} has no reassembled layer"
                    );
                    n_pointers += 1;
                }
            }
        }
    }
    assert!(
        n_pointers > 50,
        "{n_pointers} segments point to their reassembly"
    );
    let output = osiscope().args(["dump", "-2", "-"]).output().unwrap();
    assert_clean_error(&output, "needs a file, not standard input");
}
