//! Times the terminal UI's frame index without a terminal: opens a capture
//! the way `osiscope open` does, waits until the loader has indexed every
//! frame, and prints the time, the frames and the peak RSS.
//!
//!     cargo run --release --example index_time -- FILE

use std::time::{Duration, Instant};

use osiscope::session::{Session, SessionLimits};

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: index_time FILE"))?;
    let started = Instant::now();
    let mut session = Session::open(std::path::Path::new(&path), SessionLimits::default())?;
    while !session.progress().done {
        session.poll();
        std::thread::sleep(Duration::from_millis(20));
    }
    session.poll();
    let elapsed = started.elapsed();
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .unwrap_or_default();
    println!(
        "indexed {} frames, {} messages in {:.2} s; {}",
        session.rows().len(),
        session.messages().len(),
        elapsed.as_secs_f64(),
        rss.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    Ok(())
}
