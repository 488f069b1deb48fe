//! The floor for benchmarks: a minimal libpcap read loop that only counts
//! the packets of a capture and their captured bytes, to compare osiscope's
//! batch commands with the cost of reading the file
//! (`cargo run --release --example pcap_loop -- FILE`, used by `scripts/bench`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: pcap_loop FILE");
        return ExitCode::from(2);
    };
    let mut capture = match pcap::Capture::from_file(&path) {
        Ok(capture) => capture,
        Err(err) => {
            eprintln!("{}: {err}", std::path::Path::new(&path).display());
            return ExitCode::from(2);
        }
    };
    let (mut packets, mut bytes) = (0u64, 0u64);
    while let Ok(packet) = capture.next_packet() {
        packets += 1;
        bytes += packet.data.len() as u64;
    }
    println!("{packets} packets, {bytes} bytes");
    ExitCode::SUCCESS
}
