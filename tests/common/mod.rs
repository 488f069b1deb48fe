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
