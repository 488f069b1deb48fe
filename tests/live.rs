//! Live capture end to end: a real WebSocket server and client (the
//! `tungstenite` implementation) talk over loopback while
//! `osiscope live -i lo -f "tcp port P" --messages --json` runs as a child
//! process; the messages it prints must be exactly those the endpoints sent.
//! Also: `--count` and `--dump --json`, the `-w` file, a bad filter, a
//! missing permission and an interface that goes away while captured.
//!
//! Capturing needs root or the capabilities; without them every capture
//! test says it was skipped and why, and the permission test checks the
//! message a user then gets.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use osiscope::source::live::{LiveConfig, LiveSource};
use osiscope::source::{FileSource, Source, SourceError};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

/// Whether this process may capture on loopback; prints why a test is
/// skipped when it may not.
fn may_capture(test: &str) -> bool {
    let config = LiveConfig {
        interface: Some("lo".into()),
        count: Some(0),
        ..LiveConfig::default()
    };
    match LiveSource::open(&config) {
        Ok(mut source) => {
            source.finish();
            true
        }
        Err(SourceError::CapturePermission { reason, .. }) => {
            eprintln!(
                "SKIPPED {test}: no permission to capture on lo ({reason}); run as root or grant cap_net_raw,cap_net_admin"
            );
            false
        }
        Err(err) => panic!("cannot capture on lo: {err}"),
    }
}

/// A temporary folder of this test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("osiscope-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `osiscope live ARGS` running, with its stderr read line by line.
struct Running {
    child: Child,
    stderr: Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    /// Starts osiscope and waits until it says it is capturing.
    fn start(args: &[&str]) -> Running {
        let mut child = common::osiscope()
            .arg("live")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut running = Running {
            child,
            stderr: receiver,
            seen: Vec::new(),
        };
        loop {
            let line = running
                .stderr
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| {
                    panic!("osiscope never said it was capturing: {:?}", running.seen)
                });
            running.seen.push(line.clone());
            if line.contains("capturing on") {
                return running;
            }
        }
    }

    /// Waits for the end; returns the output and everything said on stderr.
    fn finish(mut self) -> (Output, String) {
        let output = self.child.wait_with_output().unwrap();
        self.seen.extend(self.stderr.iter());
        (output, self.seen.join("\n"))
    }
}

/// One WebSocket message as compared: direction, opcode, length, SHA-256
/// of the payload, close code.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    dir: &'static str,
    opcode: String,
    length: u64,
    sha256: String,
    close_code: Option<u64>,
}

fn seen(dir: &'static str, opcode: &str, payload: &[u8], close_code: Option<u16>) -> Seen {
    Seen {
        dir,
        opcode: opcode.into(),
        length: payload.len() as u64,
        sha256: hex::encode(Sha256::digest(payload)),
        close_code: close_code.map(u64::from),
    }
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    payload
}

/// A payload of `len` bytes that is not all one value.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Runs a WebSocket server on `listener` and a client against it; returns
/// what each side sent, in order, as the endpoints know it.
fn exchange(listener: TcpListener) -> Vec<Seen> {
    let port = listener.local_addr().unwrap().port();
    let server_sends: Vec<Message> = vec![
        Message::text("hello, client"),
        Message::binary(pattern(130, 7)),
        Message::binary(pattern(66_000, 9)),
    ];
    let mut truth = Vec::new();
    for message in &server_sends {
        let (opcode, payload) = match message {
            Message::Text(text) => ("text", text.as_bytes().to_vec()),
            Message::Binary(bytes) => ("binary", bytes.to_vec()),
            _ => unreachable!(),
        };
        truth.push(seen("s2c", opcode, &payload, None));
    }
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut socket = tungstenite::accept(stream).unwrap();
        for message in server_sends {
            socket.send(message).unwrap();
        }
        let mut received = Vec::new();
        loop {
            match socket.read() {
                Ok(message) => received.push(message),
                Err(tungstenite::Error::ConnectionClosed) => break,
                Err(err) => panic!("server: {err}"),
            }
        }
        received
    });
    let ping = b"are you there?".to_vec();
    let client_sends: Vec<(Message, Seen)> = vec![
        (
            Message::text("hello, server"),
            seen("c2s", "text", b"hello, server", None),
        ),
        (
            Message::text("gr\u{fc}\u{df}e \u{2713} \u{1f600}"),
            seen(
                "c2s",
                "text",
                "gr\u{fc}\u{df}e \u{2713} \u{1f600}".as_bytes(),
                None,
            ),
        ),
        (
            Message::binary(pattern(200, 1)),
            seen("c2s", "binary", &pattern(200, 1), None),
        ),
        (
            Message::binary(pattern(70_000, 3)),
            seen("c2s", "binary", &pattern(70_000, 3), None),
        ),
        (
            Message::Ping(ping.clone().into()),
            seen("c2s", "ping", &ping, None),
        ),
    ];
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (mut socket, _) =
        tungstenite::client(format!("ws://127.0.0.1:{port}/live"), stream).unwrap();
    for (message, sent) in client_sends {
        socket.send(message).unwrap();
        truth.push(sent);
    }
    socket
        .close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .unwrap();
    truth.push(seen(
        "c2s",
        "close",
        &close_payload(1000, "bye"),
        Some(1000),
    ));
    let mut received = Vec::new();
    loop {
        match socket.read() {
            Ok(message) => received.push(message),
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(err) => panic!("client: {err}"),
        }
    }
    let server_received = server.join().unwrap();
    // tungstenite answers a ping with a pong carrying its payload and
    // echoes the close frame (RFC 6455 §5.5.3, §5.5.1); each side received
    // everything the other sent.
    truth.push(seen("s2c", "pong", &ping, None));
    truth.push(seen(
        "s2c",
        "close",
        &close_payload(1000, "bye"),
        Some(1000),
    ));
    assert_eq!(server_received.len(), 6, "{server_received:?}");
    assert!(
        matches!(received.last(), Some(Message::Close(_))),
        "{received:?}"
    );
    assert!(received
        .iter()
        .any(|message| matches!(message, Message::Pong(p) if p[..] == ping[..])));
    truth
}

/// The messages of `messages --json` output, with their connection.
fn parse_messages(stdout: &[u8]) -> Vec<(Value, Seen)> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap();
            let dir = match value["dir"].as_str().unwrap() {
                "c2s" => "c2s",
                "s2c" => "s2c",
                other => panic!("direction {other}"),
            };
            let found = Seen {
                dir,
                opcode: value["opcode"].as_str().unwrap().to_string(),
                length: value["length"].as_u64().unwrap(),
                sha256: value["sha256"].as_str().unwrap_or("").to_string(),
                close_code: value["close_code"].as_u64(),
            };
            (value, found)
        })
        .collect()
}

fn by_direction(messages: &[Seen]) -> BTreeMap<&'static str, Vec<Seen>> {
    let mut out: BTreeMap<&'static str, Vec<Seen>> = BTreeMap::new();
    for message in messages {
        out.entry(message.dir).or_default().push(message.clone());
    }
    out
}

/// The numbers of the final counters line on stderr.
fn final_counters(stderr: &str) -> BTreeMap<String, u64> {
    let line = stderr
        .lines()
        .find(|line| line.contains("ended:"))
        .unwrap_or_else(|| panic!("no final counters in {stderr}"));
    let mut out = BTreeMap::new();
    for (label, key) in [
        (" frames captured", "captured"),
        (" received", "received"),
        (" dropped by the kernel", "kernel"),
        (" dropped by the interface", "interface"),
        (" dropped by osiscope", "osiscope"),
        (" written to", "written"),
    ] {
        if let Some(at) = line.find(label) {
            let number: String = line[..at]
                .chars()
                .rev()
                .take_while(char::is_ascii_digit)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            out.insert(key.to_string(), number.parse().unwrap());
        }
    }
    out
}

fn frames_in(path: &Path) -> usize {
    let mut source = FileSource::open(path).unwrap();
    let mut n = 0;
    while source.next_frame().unwrap().is_some() {
        n += 1;
    }
    n
}

#[test]
fn live_messages_equal_what_the_websocket_endpoints_sent() {
    if !may_capture("live_messages_equal_what_the_websocket_endpoints_sent") {
        return;
    }
    let dir = TempDir::new("live-messages");
    let file = dir.0.join("live.pcapng");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let filter = format!("tcp port {port}");
    let running = Running::start(&[
        "-i",
        "lo",
        "-f",
        &filter,
        "--messages",
        "--json",
        "--duration",
        "4",
        "-w",
        file.to_str().unwrap(),
    ]);
    let truth = exchange(listener);
    let (output, stderr) = running.finish();
    assert!(output.status.success(), "{stderr}");
    let found = parse_messages(&output.stdout);
    for (value, _) in &found {
        assert_eq!(value["stream"], 0, "one connection: {value}");
        assert_eq!(value["complete"], true, "{value}");
        assert_eq!(value["problems"], serde_json::json!([]), "{value}");
        assert!(
            value["server"]
                .as_str()
                .unwrap()
                .ends_with(&format!(":{port}")),
            "{value}"
        );
    }
    let found: Vec<Seen> = found.into_iter().map(|(_, seen)| seen).collect();
    assert_eq!(by_direction(&found), by_direction(&truth));
    assert_eq!(found.len(), 11);

    // Every frame was captured and written, and none dropped.
    let counters = final_counters(&stderr);
    assert_eq!(counters["kernel"], 0, "{stderr}");
    assert_eq!(counters["osiscope"], 0, "{stderr}");
    assert_eq!(counters["written"], counters["captured"], "{stderr}");
    assert_eq!(frames_in(&file) as u64, counters["written"]);

    // The file says the same as the live run.
    let again = common::osiscope()
        .args(["messages", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(
        String::from_utf8(again.stdout).unwrap(),
        String::from_utf8(output.stdout).unwrap()
    );
    if common::tshark_available(
        "live_messages_equal_what_the_websocket_endpoints_sent (tshark part)",
    ) {
        let tshark = Command::new("tshark")
            .args(["-r"])
            .arg(&file)
            .args(["-T", "fields", "-e", "frame.number"])
            .output()
            .unwrap();
        assert!(tshark.status.success());
        assert_eq!(
            String::from_utf8(tshark.stdout).unwrap().lines().count() as u64,
            counters["written"]
        );
    }
}

/// The display string of the first field with `key` in a frame's JSON.
fn field_display(frame: &Value, key: &str) -> Option<String> {
    fn walk(fields: &Value, key: &str) -> Option<String> {
        for field in fields.as_array()? {
            if field["key"] == key {
                return field["display"].as_str().map(str::to_string);
            }
            if let Some(found) = walk(&field["children"], key) {
                return Some(found);
            }
        }
        None
    }
    frame["layers"]
        .as_array()?
        .iter()
        .find_map(|layer| walk(&layer["fields"], key))
}

#[test]
fn count_stops_the_capture_and_dump_json_streams_frames() {
    if !may_capture("count_stops_the_capture_and_dump_json_streams_frames") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let filter = format!("tcp port {port}");
    let running = Running::start(&[
        "-i", "lo", "-f", &filter, "--dump", "--json", "--count", "3",
    ]);
    // The three-way handshake: exactly three frames.
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    let (output, stderr) = running.finish();
    drop((stream, accepted));
    assert!(output.status.success(), "{stderr}");
    let frames: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(frames.len(), 3, "{stderr}");
    let flags: Vec<String> = frames
        .iter()
        .map(|frame| field_display(frame, "tcp.flags").unwrap_or_default())
        .collect();
    assert_eq!(flags, ["0x002 (SYN)", "0x012 (SYN, ACK)", "0x010 (ACK)"]);
    assert_eq!(final_counters(&stderr)["captured"], 3, "{stderr}");
}

#[test]
fn a_bad_filter_gives_libpcaps_error_and_captures_nothing() {
    if !may_capture("a_bad_filter_gives_libpcaps_error_and_captures_nothing") {
        return;
    }
    let dir = TempDir::new("bad-filter");
    let file = dir.0.join("never.pcapng");
    let output = common::osiscope()
        .args(["live", "-i", "lo", "-f", "tcp prot 80", "--dump", "-w"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let libpcap = match pcap::Capture::dead(pcap::Linktype::ETHERNET)
        .unwrap()
        .compile("tcp prot 80", true)
    {
        Err(pcap::Error::PcapError(text)) => text,
        Err(other) => panic!("libpcap failed otherwise: {other}"),
        Ok(_) => panic!("libpcap accepted the filter"),
    };
    assert!(
        stderr.contains(&format!("bad capture filter \"tcp prot 80\": {libpcap}")),
        "{stderr}"
    );
    assert!(!stderr.contains("capturing on"), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(!file.exists(), "nothing is written for a bad filter");
}

/// The user a permission test runs as: nobody.
const NOBODY: &str = "65534";

#[test]
fn without_permission_the_message_says_how_to_grant_it() {
    let check = |output: Output, binary: &Path| {
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.contains("cannot capture on lo: permission denied"),
            "{stderr}"
        );
        assert!(stderr.contains("root"), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "sudo setcap cap_net_raw,cap_net_admin=eip {}",
                binary.display()
            )),
            "{stderr}"
        );
        assert!(stderr.contains("open a capture file instead"), "{stderr}");
        assert!(output.stdout.is_empty());
    };
    if !may_capture("(permission check)") {
        // This process has no permission: the real message, as users get it.
        let binary = PathBuf::from(env!("CARGO_BIN_EXE_osiscope"));
        let output = common::osiscope()
            .args(["live", "-i", "lo", "--dump", "--count", "1"])
            .output()
            .unwrap();
        check(output, &binary);
        return;
    }
    // With permission, drop it: run a copy of the binary as nobody with no
    // capabilities (a copy, so that nobody may read and run it).
    let uid = Command::new("id").arg("-u").output().unwrap();
    let setpriv = Command::new("setpriv").arg("--version").output();
    if String::from_utf8_lossy(&uid.stdout).trim() != "0"
        || !setpriv.is_ok_and(|o| o.status.success())
    {
        eprintln!(
            "SKIPPED without_permission_the_message_says_how_to_grant_it: dropping privileges needs root and setpriv (util-linux)"
        );
        return;
    }
    let dir = TempDir::new("permission");
    let binary = dir.0.join("osiscope");
    std::fs::copy(env!("CARGO_BIN_EXE_osiscope"), &binary).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = Command::new("setpriv")
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&binary)
        .args(["live", "-i", "lo", "--dump", "--count", "1"])
        .output()
        .unwrap();
    check(output, &binary);
}

/// A veth pair of this test, deleted when dropped (if still there).
struct Veth(String);

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).output();
    }
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn an_interface_that_goes_away_keeps_the_capture_so_far() {
    let test = "an_interface_that_goes_away_keeps_the_capture_so_far";
    if !may_capture(test) {
        return;
    }
    let id = std::process::id() % 100_000;
    let name = format!("osc{id}a");
    let peer = format!("osc{id}b");
    if !ip(&["link", "add", &name, "type", "veth", "peer", "name", &peer]) {
        eprintln!("SKIPPED {test}: cannot create a veth interface (needs `ip` and CAP_NET_ADMIN)");
        return;
    }
    let veth = Veth(name.clone());
    let subnet = format!("10.213.{}", id % 250);
    assert!(ip(&["link", "set", &name, "up"]));
    assert!(ip(&["link", "set", &peer, "up"]));
    assert!(ip(&[
        "addr",
        "add",
        &format!("{subnet}.1/24"),
        "dev",
        &name
    ]));
    let dir = TempDir::new("vanish");
    let file = dir.0.join("before.pcapng");
    let mut running = Running::start(&[
        "-i",
        &name,
        "--dump",
        "--json",
        "-w",
        file.to_str().unwrap(),
    ]);
    // An ARP request for the peer's address goes out on the interface.
    let socket = UdpSocket::bind(format!("{subnet}.1:0")).unwrap();
    socket.send_to(b"hello", format!("{subnet}.2:9")).unwrap();
    let stdout = running.child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with('{'), "{first}");
    assert!(ip(&["link", "del", &name]));
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let (output, stderr) = running.finish();
    drop(veth);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("capture on {name} stopped after")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "the frames captured before are kept (and written to {})",
            file.display()
        )),
        "{stderr}"
    );
    let shown = 1 + rest.len();
    assert_eq!(frames_in(&file), shown, "{stderr}");
}

#[test]
fn interfaces_lists_loopback_with_its_flags_and_addresses() {
    let output = common::osiscope().arg("interfaces").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let mut lines = text.lines();
    let heading = lines.next().unwrap();
    for column in ["NAME", "FLAGS", "ADDRESSES", "DESCRIPTION"] {
        assert!(heading.contains(column), "{heading}");
    }
    let lo = lines
        .find(|line| line.split_whitespace().next() == Some("lo"))
        .unwrap_or_else(|| panic!("no lo in {text}"));
    assert!(lo.contains("up") && lo.contains("loopback"), "{lo}");
    assert!(lo.contains("127.0.0.1/8"), "{lo}");
}
