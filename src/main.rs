//! The `osiscope` binary: parse the command line, run, map errors to exit codes.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

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
