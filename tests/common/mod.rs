//! Helpers shared by the integration tests: the captures, the binary, tshark.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The project's root folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every capture file in `captures/`, sorted by name.
pub fn captures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("captures"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no captures found");
    files
}

/// A capture in `captures/` by file name.
pub fn capture(name: &str) -> PathBuf {
    root().join("captures").join(name)
}

/// The osiscope binary built for these tests.
pub fn osiscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_osiscope"))
}

/// Runs `osiscope dump --json FILE` and parses every line.
pub fn dump_json(capture: &Path) -> Vec<Value> {
    dump_json_args(&["dump", "--json"], capture)
}

/// Runs osiscope with `args` then FILE, and parses every line of its JSON output.
pub fn dump_json_args(args: &[&str], capture: &Path) -> Vec<Value> {
    let output = osiscope().args(args).arg(capture).output().unwrap();
    assert!(
        output.status.success(),
        "osiscope dump failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Whether tshark can be run. Without it a test is skipped (and says so),
/// unless OSISCOPE_REQUIRE_TSHARK is set, when its absence is a failure.
pub fn tshark_available(test: &str) -> bool {
    let found = Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("OSISCOPE_REQUIRE_TSHARK").is_none(),
            "tshark is required (OSISCOPE_REQUIRE_TSHARK is set) but was not found: run scripts/setup --with-tshark"
        );
        eprintln!(
            "SKIPPED {test}: tshark is not installed (scripts/setup --with-tshark installs it)"
        );
    }
    found
}

/// A capture file's frames handed over one by one as the test says, like a
/// live interface: the reader waits for them, and the counters are the
/// test's to set. For sessions in live mode without a real capture.
pub struct ReplaySource {
    frames: std::sync::mpsc::Receiver<OwnedFrame>,
    peeked: Option<Option<OwnedFrame>>,
    current: OwnedFrame,
    number: u64,
    stats: std::sync::Arc<std::sync::Mutex<osiscope::source::CaptureStats>>,
}

/// One frame of a capture file, owned.
#[derive(Clone, Debug, Default)]
pub struct OwnedFrame {
    pub ts: osiscope::dissect::Timestamp,
    pub orig_len: usize,
    pub link_type: u32,
    pub data: Vec<u8>,
}

/// The test's end of a [`ReplaySource`].
pub struct ReplayFeed {
    pub frames: Vec<OwnedFrame>,
    pub sender: Option<std::sync::mpsc::Sender<OwnedFrame>>,
    pub stats: std::sync::Arc<std::sync::Mutex<osiscope::source::CaptureStats>>,
    next: usize,
}

impl ReplayFeed {
    /// Hands the next `n` frames to the source.
    pub fn send(&mut self, n: usize) {
        for frame in self.frames.iter().skip(self.next).take(n) {
            self.sender.as_ref().unwrap().send(frame.clone()).unwrap();
        }
        self.next = (self.next + n).min(self.frames.len());
    }

    /// Ends the capture.
    pub fn end(&mut self) {
        self.sender = None;
    }
}

/// A replay of a capture file: the source and the test's feed.
pub fn replay(capture: &Path) -> (ReplaySource, ReplayFeed) {
    use osiscope::source::Source;
    let mut file = osiscope::source::FileSource::open(capture).unwrap();
    let mut frames = Vec::new();
    while let Some(frame) = file.next_frame().unwrap() {
        frames.push(OwnedFrame {
            ts: frame.ts,
            orig_len: frame.orig_len,
            link_type: frame.link_type,
            data: frame.data.to_vec(),
        });
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    let stats = std::sync::Arc::default();
    (
        ReplaySource {
            frames: receiver,
            peeked: None,
            current: OwnedFrame::default(),
            number: 0,
            stats: std::sync::Arc::clone(&stats),
        },
        ReplayFeed {
            frames,
            sender: Some(sender),
            stats,
            next: 0,
        },
    )
}

impl osiscope::source::Source for ReplaySource {
    fn next_frame(
        &mut self,
    ) -> Result<Option<osiscope::source::RawFrame<'_>>, osiscope::source::SourceError> {
        let next = match self.peeked.take() {
            Some(next) => next,
            None => self.frames.recv().ok(),
        };
        let Some(frame) = next else {
            return Ok(None);
        };
        self.current = frame;
        self.number += 1;
        Ok(Some(osiscope::source::RawFrame {
            number: osiscope::dissect::FrameNumber(self.number),
            ts: self.current.ts,
            orig_len: self.current.orig_len,
            link_type: self.current.link_type,
            data: &self.current.data,
        }))
    }

    fn wait(&mut self, timeout: std::time::Duration) -> bool {
        if self.peeked.is_some() {
            return true;
        }
        match self.frames.recv_timeout(timeout) {
            Ok(frame) => self.peeked = Some(Some(frame)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => return false,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => self.peeked = Some(None),
        }
        true
    }

    fn capture_stats(&self) -> Option<osiscope::source::CaptureStats> {
        Some(*self.stats.lock().unwrap())
    }
}

/// Ticks the app until `done` holds (the loader thread works meanwhile).
pub fn tick_until(
    app: &mut osiscope::view::tui::app::App,
    what: &str,
    done: impl Fn(&osiscope::view::tui::app::App) -> bool,
) {
    let started = std::time::Instant::now();
    while !done(app) {
        app.tick();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "gave up waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Every frame's packet-list row as its full model gives it
/// (`Row::from_dissection` over a plain pass): what the index, which builds
/// most rows without the model, must equal.
pub fn model_rows(path: &Path) -> Vec<osiscope::session::Row> {
    use osiscope::source::Source;
    let mut source = osiscope::source::file::FileSource::open(path).unwrap();
    let mut pipeline = osiscope::pipeline::Pipeline::default();
    let mut rows = Vec::new();
    while let Ok(Some(frame)) = source.next_frame() {
        if let Some(dissection) = pipeline.process(&frame, true).dissection {
            rows.push(osiscope::session::Row::from_dissection(&dissection));
        }
    }
    rows
}

/// Checks a session's rows against [`model_rows`]; returns the first
/// difference.
pub fn rows_differ(session: &osiscope::session::Session, path: &Path) -> Option<String> {
    let expected = model_rows(path);
    let got = session.rows();
    if got.len() != expected.len() {
        return Some(format!(
            "{}: {} rows indexed, {} from the models",
            path.display(),
            got.len(),
            expected.len()
        ));
    }
    got.iter().zip(&expected).find_map(|(got, expected)| {
        (got != expected).then(|| {
            format!(
                "{}: frame {}: the index has\n  {got:?}\nthe model gives\n  {expected:?}",
                path.display(),
                expected.number
            )
        })
    })
}
