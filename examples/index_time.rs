//! Times the terminal UI's frame index without a terminal: opens a capture
//! the way `osiscope open` does, waits until every frame is listed (rows from
//! their own headers), then until every frame is decoded (rows, connections
//! and messages complete), and prints both times, the frames and the peak RSS.
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
    let mut listed = None;
    while !session.progress().done {
        session.poll();
        if listed.is_none() && session.progress().listed {
            listed = Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    session.poll();
    let elapsed = started.elapsed();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (peak, now) = (kib("VmHWM:"), kib("VmRSS:"));
    let frames = session.rows().len();
    println!(
        "listed {frames} frames in {:.2} s; decoded them, {} messages, in {:.2} s; peak RSS {} MiB, RSS once indexed {} MiB ({} bytes per frame)",
        listed.unwrap_or(elapsed).as_secs_f64(),
        session.messages().len(),
        elapsed.as_secs_f64(),
        peak / 1024,
        now / 1024,
        (now * 1024).checked_div(frames as u64).unwrap_or(0)
    );
    Ok(())
}
