//! The adversarial capture corpus: hostile or broken captures written by
//! `tools/adversarial/generate` (scaled down) must neither crash, hang, exhaust memory nor
//! take over the terminal. Each file goes through `dump`, `dump --json`, `streams` and
//! `messages --json` as child processes, and through the terminal UI's model (a `Session`
//! loaded to the end, a few frames dissected). Every run must end within a generous time
//! (a hang guard, not a speed test), exit 0 (or 2 with one clear line for a file that cannot
//! be read to its end), print no panic, no terminal control character, stay under a peak
//! memory bound, and report the problems the case is about.
//!
//! Everything runs in one test, one child at a time, because the peak memory of children
//! (`getrusage(RUSAGE_CHILDREN)`) is a high-water mark over every child this process waited
//! for: checked after each child, it says whether that child went past the bound. A child
//! started by `Command::spawn` (vfork and exec) also inherits this process' own peak in that
//! mark, so the commands run first while this process stays small (outputs go to files that
//! are read line by line), and the sessions, which load captures into this process, run
//! after them, bounded by this process' own peak (`VmHWM`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};
use osiscope::dissect::FrameNumber;
use osiscope::limits::Limits;
use osiscope::session::Session;
use serde_json::Value;

/// Divides the corpus' big counts: the generator keeps each case above the default limit it
/// is about (more than 10 000 connections, more than 1000 PDUs in a segment), so the limits
/// are still reached. `tools/adversarial/run` runs the full size.
const SCALE: &str = "100";

/// A child still running after this long is killed and the case fails (a hang).
const HANG_GUARD: Duration = Duration::from_secs(60);

/// The most memory one command may use, in KiB (peak resident set size). The deflate bomb's
/// 64 MiB inflate limit is the largest single buffer.
const MAX_CHILD_RSS_KIB: i64 = 200 * 1024;

/// The most memory this test process may reach while sessions load the corpus, in KiB (it
/// also holds the children's outputs).
const MAX_SESSION_RSS_KIB: i64 = 400 * 1024;

/// Text that some cases look for in a command's output, counted line by line.
const NEEDLES: &[&str] = &["websocket.limit", "\\e[2J", "evicted (limit)"];

/// What one command did, read from its output line by line.
#[derive(Default)]
struct Run {
    command: String,
    code: Option<i32>,
    stderr: String,
    seconds: f64,
    /// Lines of output.
    lines: usize,
    /// For JSON output: problem keys and how often they occur over every frame.
    problems: BTreeMap<String, usize>,
    /// For JSON output: the first messages of each problem key.
    problem_messages: BTreeMap<String, Vec<String>>,
    /// For `messages --json`: the first records, parsed.
    json: Vec<Value>,
    /// How many lines contain each of [`NEEDLES`].
    needles: BTreeMap<&'static str, usize>,
}

impl Run {
    /// Every problem message of `dump --json` with key `key` (the first 100).
    fn problem_messages(&self, key: &str) -> Vec<String> {
        self.problem_messages.get(key).cloned().unwrap_or_default()
    }

    fn has(&self, needle: &str) -> usize {
        self.needles.get(needle).copied().unwrap_or(0)
    }
}

/// The failures found so far, listed together at the end.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }
}

fn corpus() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("osiscope-adversarial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let generator = common::root().join("tools/adversarial/generate");
    let output = Command::new("python3")
        .arg(&generator)
        .arg(&dir)
        .args(["--scale", SCALE])
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) => panic!(
            "python3 is needed to generate the adversarial corpus ({err}); install it (scripts/setup --with-tshark does)"
        ),
    };
    assert!(
        output.status.success(),
        "tools/adversarial/generate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    dir
}

/// The peak resident set size of the children waited for so far, in KiB.
fn children_peak_rss_kib() -> i64 {
    getrusage(UsageWho::RUSAGE_CHILDREN)
        .map(|usage| usage.max_rss())
        .unwrap_or(0)
}

/// This process' peak resident set size in KiB (`VmHWM`).
fn own_peak_rss_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Runs `osiscope ARGS FILE`, killing it past the hang guard; checks the generic rules.
fn run(args: &[&str], file: &Path, scratch: &Path, failures: &mut Failures) -> Run {
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    let command = format!("osiscope {} {name}", args.join(" "));
    let out_path = scratch.join("stdout");
    let err_path = scratch.join("stderr");
    let started = Instant::now();
    let mut child = common::osiscope()
        .args(args)
        .arg(file)
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let seconds = started.elapsed().as_secs_f64();
    let peak = children_peak_rss_kib();
    let mut run = Run {
        command,
        code: status.and_then(|status| status.code()),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        seconds,
        ..Run::default()
    };
    failures.check(status.is_some(), || {
        format!(
            "{}: still running after {HANG_GUARD:?}, killed",
            run.command
        )
    });
    failures.check(peak <= MAX_CHILD_RSS_KIB, || {
        format!(
            "{}: peak memory {} MiB, over the {} MiB bound",
            run.command,
            peak / 1024,
            MAX_CHILD_RSS_KIB / 1024
        )
    });
    failures.check(!run.stderr.contains("panicked"), || {
        format!("{}: panicked: {}", run.command, run.stderr)
    });
    match run.code {
        Some(0) => failures.check(run.stderr.is_empty(), || {
            format!("{}: succeeded but wrote {:?}", run.command, run.stderr)
        }),
        Some(2) => failures.check(
            run.stderr.starts_with("osiscope: ")
                && run.stderr.lines().count() == 1
                && run.stderr.contains(&name),
            || {
                format!(
                    "{}: exit 2 without one clear line naming the file: {:?}",
                    run.command, run.stderr
                )
            },
        ),
        code => failures.check(false, || {
            format!("{}: exit {code:?}: {}", run.command, run.stderr)
        }),
    }
    let mut reader = BufReader::new(File::open(&out_path).unwrap());
    let mut bytes = Vec::new();
    let mut not_utf8 = false;
    let mut unsafe_char = None;
    loop {
        bytes.clear();
        if reader.read_until(b'\n', &mut bytes).unwrap() == 0 {
            break;
        }
        run.lines += 1;
        let Ok(line) = std::str::from_utf8(&bytes) else {
            not_utf8 = true;
            continue;
        };
        let line = line.strip_suffix('\n').unwrap_or(line);
        if unsafe_char.is_none() {
            unsafe_char = line.chars().find(|c| {
                c.is_control()
                    || ('\u{202a}'..='\u{202e}').contains(c)
                    || ('\u{2066}'..='\u{2069}').contains(c)
            });
        }
        for needle in NEEDLES {
            if line.contains(needle) {
                *run.needles.entry(needle).or_default() += 1;
            }
        }
        if !line.starts_with('{') {
            continue;
        }
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        for problem in value["problems"].as_array().into_iter().flatten() {
            let key = problem["key"].as_str().unwrap_or("").to_string();
            let messages = run.problem_messages.entry(key.clone()).or_default();
            if messages.len() < 100 {
                messages.push(problem["message"].as_str().unwrap_or("").to_string());
            }
            *run.problems.entry(key).or_default() += 1;
        }
        // Only `messages --json` records are kept: parsed frames would make this process big.
        if args.first() == Some(&"messages") && run.json.len() < 5000 {
            run.json.push(value);
        }
    }
    failures.check(!not_utf8, || {
        format!("{}: output is not UTF-8", run.command)
    });
    failures.check(unsafe_char.is_none(), || {
        format!(
            "{}: a terminal control character reached the output: {unsafe_char:?}",
            run.command
        )
    });
    run
}

/// What every file of the corpus must produce, beyond the generic rules.
struct Expect {
    file: &'static str,
    /// 0, or 2 for a file that cannot be read to its end.
    code: i32,
    /// Frames `dump --json` prints (all of them, or those before the broken record).
    frames: usize,
}

const EXPECT: &[Expect] = &[
    Expect {
        file: "ws-huge-length.pcap",
        code: 0,
        frames: 10,
    },
    Expect {
        file: "ws-many-frames.pcap",
        code: 0,
        frames: 9,
    },
    Expect {
        file: "ws-deflate-bomb.pcap",
        code: 0,
        frames: 0,
    },
    Expect {
        file: "tcp-tiny-segments.pcap",
        code: 0,
        frames: 0,
    },
    Expect {
        file: "tcp-half-open.pcap",
        code: 0,
        frames: 12_000,
    },
    Expect {
        file: "ipv4-fragments.pcap",
        code: 0,
        frames: 3706,
    },
    Expect {
        file: "pcap-caplen-over-snaplen.pcap",
        code: 0,
        frames: 3,
    },
    Expect {
        file: "pcap-caplen-over-wirelen.pcap",
        code: 0,
        frames: 3,
    },
    Expect {
        file: "pcap-caplen-huge.pcap",
        code: 2,
        frames: 1,
    },
    Expect {
        file: "pcap-absurd-timestamps.pcap",
        code: 0,
        frames: 5,
    },
    Expect {
        file: "pcap-cut-mid-record.pcap",
        code: 2,
        frames: 4,
    },
    Expect {
        file: "pcap-cut-mid-header.pcap",
        code: 2,
        frames: 4,
    },
    Expect {
        file: "pcapng-unknown-blocks.pcapng",
        code: 0,
        frames: 3,
    },
    Expect {
        file: "pcapng-bad-block-length.pcapng",
        code: 2,
        frames: 2,
    },
    Expect {
        file: "pcapng-bad-trailer.pcapng",
        code: 2,
        frames: 2,
    },
    Expect {
        file: "pcapng-huge-block.pcapng",
        code: 2,
        frames: 2,
    },
    Expect {
        file: "pcapng-unknown-interface.pcapng",
        code: 2,
        frames: 2,
    },
    Expect {
        file: "ws-terminal-escapes.pcap",
        code: 0,
        frames: 0,
    },
];

/// The checks particular to one file, given its four runs.
fn check_case(
    file: &str,
    dump: &Run,
    json: &Run,
    streams: &Run,
    messages: &Run,
    failures: &mut Failures,
) {
    let problems = &json.problems;
    let has = |key: &str| problems.get(key).copied().unwrap_or(0);
    let expect_key = |key: &str, at_least: usize, failures: &mut Failures| {
        failures.check(has(key) >= at_least, || {
            format!("{file}: expected {key} at least {at_least} times, found {problems:?}")
        });
    };
    let messages_json = &messages.json;
    match file {
        "ws-huge-length.pcap" => {
            // Refused to buffer, in both directions; the top bit is a violation.
            expect_key("websocket.limit", 2, failures);
            failures.check(
                json.problem_messages("websocket.limit")
                    .iter()
                    .any(|m| m.contains("9223372036854775808") && m.contains("exceeds")),
                || format!("{file}: the 2^63 claim is not named: {problems:?}"),
            );
            failures.check(
                json.problem_messages("websocket.violation")
                    .iter()
                    .any(|m| m.contains("most significant bit")),
                || format!("{file}: the 64-bit length's top bit is not a violation"),
            );
            failures.check(dump.has("websocket.limit") == 2, || {
                format!("{file}: dump does not show the limit")
            });
            failures.check(
                messages_json.len() == 2 && messages_json.iter().all(|m| m["complete"] == false),
                || format!("{file}: expected two incomplete messages: {messages_json:?}"),
            );
        }
        "ws-many-frames.pcap" => {
            // 2000 frames end in one segment: the model shows 1000 and says so.
            expect_key("tcp.pdu.limit", 1, failures);
            failures.check(
                json.problem_messages("tcp.pdu.limit")
                    .iter()
                    .any(|m| m.starts_with("1000 more application PDUs")),
                || format!("{file}: {:?}", json.problem_messages("tcp.pdu.limit")),
            );
            // Every message is still counted by `messages`.
            failures.check(messages_json.len() == 2000, || {
                format!("{file}: {} messages, expected 2000", messages_json.len())
            });
        }
        "ws-deflate-bomb.pcap" => {
            // Both bombs stop at the 64 MiB inflate limit; the next message inflates.
            let limited = json.problem_messages("websocket.limit");
            failures.check(
                limited
                    .iter()
                    .filter(|m| m.contains("inflated message reached 67108864 bytes"))
                    .count()
                    == 2,
                || format!("{file}: expected two inflate limits: {limited:?}"),
            );
            let lengths: Vec<u64> = messages_json
                .iter()
                .filter_map(|m| m["length"].as_u64())
                .collect();
            failures.check(lengths == [67_108_864, 67_108_864, 10], || {
                format!("{file}: message lengths {lengths:?}")
            });
            failures.check(
                messages_json.last().is_some_and(|m| m["complete"] == true),
                || format!("{file}: the message after the bombs did not inflate"),
            );
        }
        "tcp-tiny-segments.pcap" => {
            // Held out-of-order bytes hit the reassembly limit and become gaps.
            expect_key("tcp.analysis.out_of_order", 9000, failures);
            expect_key("tcp.reassembly.limit", 1, failures);
            failures.check(streams.lines == 2, || {
                format!("{file}: streams printed {} lines", streams.lines)
            });
        }
        "tcp-half-open.pcap" => {
            // 12 000 connections, 10 000 held: 2000 evicted, said so on their frames.
            failures.check(has("tcp.stream.evicted") == 2000, || {
                format!("{file}: {problems:?}")
            });
            failures.check(streams.lines > 12_000, || {
                format!("{file}: streams lists {} lines", streams.lines)
            });
            // `streams` divides the connections (and the limit) between
            // threads: at most 10 000 are held together, so at least 2000
            // are evicted (exactly 2000 on one thread, as `dump` says).
            failures.check(streams.has("evicted (limit)") >= 2000, || {
                format!(
                    "{file}: streams marks {} rows evicted",
                    streams.has("evicted (limit)")
                )
            });
        }
        "ipv4-fragments.pcap" => {
            expect_key("ip.fragment.overlap.conflict", 1, failures);
            expect_key("ip.fragment.error", 1, failures);
            expect_key("ip.fragment.incomplete", 3000, failures);
        }
        "pcap-caplen-over-wirelen.pcap" => {
            failures.check(has("frame.cap_len.too_long") == 2, || {
                format!("{file}: {problems:?}")
            });
        }
        "pcap-caplen-huge.pcap" => {
            failures.check(dump.stderr.contains("after frame 1"), || {
                format!("{file}: {}", dump.stderr)
            });
        }
        "pcap-cut-mid-record.pcap" | "pcap-cut-mid-header.pcap" => {
            failures.check(
                dump.stderr.contains("truncated") && dump.stderr.contains("after frame 4"),
                || format!("{file}: {}", dump.stderr),
            );
        }
        "pcapng-huge-block.pcapng" => {
            failures.check(dump.stderr.contains("after frame 2"), || {
                format!("{file}: {}", dump.stderr)
            });
        }
        "ws-terminal-escapes.pcap" => {
            // The hostile bytes were there to be shown: sanitized, not dropped.
            failures.check(dump.has("\\e[2J") > 0, || {
                format!("{file}: the escape sequences are not shown escaped")
            });
            failures.check(messages_json.len() >= 20, || {
                format!("{file}: {} messages", messages_json.len())
            });
            expect_key("websocket.violation", 1, failures);
        }
        _ => {}
    }
}

/// The terminal UI's model on `file`: indexed to the end, first, middle and last frames
/// dissected.
fn check_session(file: &Path, expect: &Expect, failures: &mut Failures) {
    let name = expect.file;
    let started = Instant::now();
    let mut session = match Session::open_blocking_with(file, Limits::default()) {
        Ok(session) => session,
        Err(err) => {
            failures.check(expect.code == 2, || {
                format!("{name}: the session did not open: {err}")
            });
            return;
        }
    };
    failures.check(session.progress().done, || {
        format!("{name}: the session did not finish indexing")
    });
    let n = session.rows().len();
    failures.check(expect.frames == 0 || n == expect.frames, || {
        format!(
            "{name}: the session indexed {n} frames, expected {}",
            expect.frames
        )
    });
    failures.check(
        (expect.code == 2) == session.progress().stopped.is_some(),
        || {
            format!(
                "{name}: the session stopped early: {:?}",
                session.progress().stopped
            )
        },
    );
    if session.progress().stopped.is_none() {
        let difference = common::rows_differ(&session, file);
        failures.check(difference.is_none(), || difference.unwrap_or_default());
    }
    // Listed on one thread and decoded on another (as the terminal UI
    // opens a file), the session ends the same.
    match Session::open_with(file, Limits::default()) {
        Ok(mut listed) => {
            while !listed.progress().done && started.elapsed() < HANG_GUARD {
                listed.poll();
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            listed.poll();
            failures.check(listed.progress() == session.progress(), || {
                format!(
                    "{name}: listed ahead, the session ended with {:?}, in one pass {:?}",
                    listed.progress(),
                    session.progress()
                )
            });
            failures.check(
                listed.rows() == session.rows() && listed.messages() == session.messages(),
                || format!("{name}: listed ahead, the rows or messages differ"),
            );
        }
        Err(err) => failures.check(expect.code == 2, || {
            format!("{name}: the session did not open listed ahead: {err}")
        }),
    }
    let n = u64::try_from(n).unwrap();
    for number in [1, n / 2, n].into_iter().filter(|&number| number >= 1) {
        failures.check(session.dissect(FrameNumber(number)).is_some(), || {
            format!("{name}: frame {number} did not dissect")
        });
    }
    failures.check(started.elapsed() < HANG_GUARD, || {
        format!("{name}: the session took {:?}", started.elapsed())
    });
    let peak = own_peak_rss_kib();
    failures.check(peak <= MAX_SESSION_RSS_KIB, || {
        format!(
            "{name}: the session's process reached {} MiB, over the {} MiB bound",
            peak / 1024,
            MAX_SESSION_RSS_KIB / 1024
        )
    });
}

#[test]
fn hostile_captures_end_in_bounded_time_and_memory_with_their_problems_reported() {
    let dir = corpus();
    let mut failures = Failures::default();
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    written.sort();
    let mut expected: Vec<String> = EXPECT.iter().map(|e| e.file.to_string()).collect();
    expected.sort();
    assert_eq!(
        written, expected,
        "the generator's files and this test's list"
    );
    let scratch = dir.join("output");
    std::fs::create_dir_all(&scratch).unwrap();
    for expect in EXPECT {
        let file = dir.join(expect.file);
        let dump = run(&["dump"], &file, &scratch, &mut failures);
        let json = run(&["dump", "--json"], &file, &scratch, &mut failures);
        let streams = run(&["streams"], &file, &scratch, &mut failures);
        let messages = run(&["messages", "--json"], &file, &scratch, &mut failures);
        for run in [&dump, &json, &streams, &messages] {
            failures.check(run.code == Some(expect.code), || {
                format!(
                    "{}: exit {:?}, expected {}: {}",
                    run.command, run.code, expect.code, run.stderr
                )
            });
            eprintln!(
                "{:>6.2}s  children's peak so far {:>4} MiB  {}",
                run.seconds,
                children_peak_rss_kib() / 1024,
                run.command
            );
        }
        failures.check(expect.frames == 0 || json.lines == expect.frames, || {
            format!(
                "{}: dump --json printed {} frames, expected {}",
                expect.file, json.lines, expect.frames
            )
        });
        check_case(
            expect.file,
            &dump,
            &json,
            &streams,
            &messages,
            &mut failures,
        );
    }
    // The sessions load the captures into this process: after every child.
    for expect in EXPECT {
        check_session(&dir.join(expect.file), expect, &mut failures);
        eprintln!(
            "session: this process' peak so far {:>4} MiB  {}",
            own_peak_rss_kib() / 1024,
            expect.file
        );
    }
    eprintln!(
        "peak memory: children {} MiB, this process {} MiB",
        children_peak_rss_kib() / 1024,
        own_peak_rss_kib() / 1024
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.0.is_empty(),
        "{} failures:\n{}",
        failures.0.len(),
        failures.0.join("\n")
    );
}
