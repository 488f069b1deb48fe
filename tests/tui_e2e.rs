//! The real binary in a real terminal: tmux runs `osiscope FILE`, the test
//! types keys (select a frame, move to a field, open the ladder, step,
//! quit), reads the screen, and checks the terminal was given back (main
//! screen, no mouse reporting, line editing and echo on again).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

/// One tmux server of its own, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(test: &str, command: &str) -> Option<Tmux> {
        let found = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            assert!(
                std::env::var_os("OSISCOPE_REQUIRE_TSHARK").is_none(),
                "tmux is required for {test} (scripts/setup --with-tshark installs it)"
            );
            eprintln!(
                "SKIPPED {test}: tmux is not installed (scripts/setup --with-tshark installs it)"
            );
            return None;
        }
        let tmux = Tmux {
            socket: format!("osiscope-e2e-{}-{test}", std::process::id()),
        };
        let status = Command::new("tmux")
            .args([
                "-L",
                &tmux.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "40",
            ])
            .arg(command)
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .status()
            .unwrap();
        assert!(status.success());
        Some(tmux)
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            let status = Command::new("tmux")
                .args(["-L", &self.socket, "send-keys", key])
                .status()
                .unwrap();
            assert!(status.success());
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    fn screen(&self) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn format(&self, format: &str) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket, "display-message", "-p", format])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Waits until the screen contains `text`.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {text:?}; the screen is:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

/// A shell line that runs osiscope, then reports its exit code and the
/// terminal's line settings once it has quit.
fn script(file: &str) -> String {
    format!(
        "{} {}; code=$?; modes=$(stty -a | tr ' ' '\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '); echo \"exit=$code modes: $modes[checked]\"; sleep 60",
        env!("CARGO_BIN_EXE_osiscope"),
        common::capture(file).display()
    )
}

fn assert_restored(tmux: &Tmux) {
    // One line, written once the terminal's modes are read: waiting for its
    // end means the whole report is on the screen.
    let screen = tmux.wait_for("[checked]");
    assert!(screen.contains("exit=0"), "{screen}");
    assert!(
        screen.contains("icanon echo"),
        "line editing and echo are back on: {screen}"
    );
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "0",
        "back on the main screen"
    );
    assert_eq!(
        tmux.format("#{mouse_any_flag}"),
        "0",
        "mouse reporting is off"
    );
    assert_eq!(tmux.format("#{cursor_flag}"), "1", "the cursor is shown");
}

#[test]
fn select_a_frame_a_field_open_the_ladder_step_and_quit() {
    let Some(tmux) = Tmux::start("walkthrough", &script("ws-basic.pcapng")) else {
        return;
    };
    tmux.wait_for("frame 1 of 20");
    assert_eq!(tmux.format("#{alternate_on}"), "1");
    // Select frame 8, the client's first WebSocket text frame.
    tmux.keys(&["n", "n", "n", "n", "n", "n", "n"]);
    let screen = tmux.wait_for("frame 8 of 20");
    assert!(screen.contains("L7 Application"), "{screen}");
    // Focus the stack, go up two layers (TCP → L5 state → L7 WebSocket).
    tmux.keys(&["Tab", "k", "k"]);
    tmux.wait_for("Fields · L7 WebSocket");
    // Move to the masking key in the field tree: it explains itself below.
    tmux.keys(&["Tab", "j", "j", "j", "j", "j"]);
    let screen = tmux.wait_for("websocket.masking_key · bytes [68..72)");
    assert!(screen.contains("XORed with key"), "{screen}");
    // The ladder of the connection, then one step forward in it.
    tmux.keys(&["L"]);
    let screen = tmux.wait_for("TCP ladder · tcp.stream 0");
    assert!(screen.contains("10.77.0.1:"), "{screen}");
    tmux.keys(&["j"]);
    tmux.wait_for("frame 9 of 20");
    tmux.keys(&["Escape", "?"]);
    tmux.wait_for("Keys · any key closes");
    tmux.keys(&["Escape", "q"]);
    assert_restored(&tmux);
}

#[test]
fn ctrl_c_quits_and_restores_the_terminal() {
    let Some(tmux) = Tmux::start("ctrlc", &script("ws-concurrent.pcapng")) else {
        return;
    };
    tmux.wait_for("frame 1 of");
    tmux.keys(&["L", "m", "C-c"]);
    assert_restored(&tmux);
}

#[test]
fn no_argument_opens_the_lesson_list_on_lesson_one() {
    let line = format!(
        "cd {} && LANG=C.UTF-8 {}; code=$?; modes=$(stty -a | tr ' ' '\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '); echo \"exit=$code modes: $modes[checked]\"; sleep 60",
        common::root().display(),
        env!("CARGO_BIN_EXE_osiscope"),
    );
    let Some(tmux) = Tmux::start("picker", &line) else {
        return;
    };
    let screen = tmux.wait_for("Lessons");
    assert!(
        screen.contains("The OSI model and where WebSocket sits"),
        "{screen}"
    );
    // Enter opens lesson 1 on its first step; `>` goes to the next one.
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("Lesson 1 · Step 1/");
    assert!(screen.contains("frame 8 of 20"), "{screen}");
    tmux.keys(&["3"]);
    tmux.wait_for("Right");
    tmux.keys(&[">"]);
    tmux.wait_for("Lesson 1 · Step 2/");
    tmux.keys(&["q"]);
    assert_restored(&tmux);
}
