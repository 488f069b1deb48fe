//! The `osiscope` binary: parse the command line, run, map errors to exit codes.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: memory freed on another thread than the one that allocated it
/// (messages are made by the decoding thread and written and dropped by the
/// output thread) does not contend on a lock as with the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = osiscope::cli::Cli::parse();
    match osiscope::command::run(cli) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("osiscope: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// A reader that went away (`osiscope dump big.pcap | head`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
