//! The commands behind the command line: open a source, run the pipeline,
//! stream the chosen view. Errors here are `anyhow` with context; `main`
//! maps them to exit codes.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command, CompareArgs, DumpArgs, MessagesArgs, StreamsArgs, UiArgs};
use crate::dissect::BuildConfig;
use crate::pipeline::Pipeline;
use crate::session::{Session, SessionLimits};
use crate::source::{FileSource, Source};
use crate::view;
use crate::view::tui::theme::Theme;

/// The capture opened when osiscope is started without arguments.
pub const FIRST_CAPTURE: &str = "captures/ws-basic.pcapng";

/// Runs the command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Dump(args)) => dump(&args),
        Some(Command::Messages(args)) => messages(&args),
        Some(Command::Streams(args)) => streams(&args),
        Some(Command::Compare(args)) => compare(&args),
        Some(Command::Open(args)) => {
            let file = match args.file {
                Some(file) => file,
                None => first_capture()?,
            };
            if !io::stdout().is_terminal() {
                anyhow::bail!(
                    "the terminal UI needs a terminal; for text use: osiscope dump {}",
                    file.display()
                );
            }
            open(&file, &args.ui)
        }
        None => {
            let file = match cli.file {
                Some(file) => file,
                None => first_capture()?,
            };
            if io::stdout().is_terminal() && io::stdin().is_terminal() {
                return open(&file, &cli.ui);
            }
            dump(&DumpArgs {
                file,
                json: false,
                link_speed: BuildConfig::default().link_speed_bps,
                two_pass: false,
            })
        }
    }
}

/// `osiscope open`: the terminal UI on a capture.
fn open(file: &Path, ui: &UiArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let theme = Theme::choose(ui.theme.as_deref(), no_color)
        .with_context(|| format!("unknown theme {:?}", ui.theme))?;
    let session = Session::open(file, SessionLimits::default())?;
    view::tui::run(session, theme, ui.timing.as_deref(), started)
        .context("the terminal UI stopped on a terminal error")?;
    Ok(ExitCode::SUCCESS)
}

/// Finds the first lesson's capture: beside the working directory, or in the
/// source tree osiscope was built from.
fn first_capture() -> Result<PathBuf> {
    let candidates = [
        PathBuf::from(FIRST_CAPTURE),
        Path::new(env!("CARGO_MANIFEST_DIR")).join(FIRST_CAPTURE),
    ];
    candidates
        .into_iter()
        .find(|path| path.is_file())
        .with_context(|| {
            format!("cannot find {FIRST_CAPTURE}; give a capture file: osiscope dump FILE")
        })
}

/// `osiscope dump`: every frame, streamed as text or JSON lines.
fn dump(args: &DumpArgs) -> Result<ExitCode> {
    let config = BuildConfig {
        link_speed_bps: args.link_speed,
    };
    let mut reassembled_in = std::collections::HashMap::new();
    if args.two_pass && args.file.as_os_str() == "-" {
        anyhow::bail!("--two-pass reads the file twice, so it needs a file, not standard input");
    }
    if args.two_pass {
        let mut source = FileSource::open(&args.file)?;
        let mut pipeline = Pipeline::new(config.clone());
        while let Ok(Some(frame)) = source.next_frame() {
            if let Some(dissection) = pipeline.process(&frame, true).dissection {
                Pipeline::note_reassembly(&dissection, &mut reassembled_in);
            }
        }
    }
    let mut source = FileSource::open(&args.file)?;
    let mut pipeline = Pipeline::new(config).with_reassembled_in(reassembled_in);
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    loop {
        let frame = match source.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(err) => {
                out.flush()?;
                return Err(err.into());
            }
        };
        let dissection = pipeline.dissect(&frame);
        if args.json {
            view::json::write_frame(&mut out, &dissection)?;
        } else {
            view::text::write_frame(&mut out, &dissection)?;
            view::text::write_unplaced_problems(&mut out, &dissection)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `osiscope messages`: every WebSocket message, streamed as text or JSON lines.
fn messages(args: &MessagesArgs) -> Result<ExitCode> {
    let mut source = FileSource::open(&args.file)?;
    let mut pipeline = Pipeline::default();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let write = |out: &mut BufWriter<io::StdoutLock<'_>>, message: &crate::dissect::WsMessage| {
        if args.json {
            view::messages::write_json(out, message, args.payload)
        } else {
            view::messages::write_text(out, message)
        }
    };
    loop {
        let frame = match source.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(err) => {
                for message in pipeline.finish() {
                    write(&mut out, &message)?;
                }
                out.flush()?;
                return Err(err.into());
            }
        };
        for message in pipeline.process(&frame, false).messages {
            write(&mut out, &message)?;
        }
    }
    for message in pipeline.finish() {
        write(&mut out, &message)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `osiscope streams`: one row per TCP conversation, after the whole capture.
fn streams(args: &StreamsArgs) -> Result<ExitCode> {
    let mut source = FileSource::open(&args.file)?;
    let mut pipeline = Pipeline::default();
    let mut failure = None;
    loop {
        match source.next_frame() {
            Ok(Some(frame)) => {
                pipeline.process(&frame, false);
            }
            Ok(None) => break,
            Err(err) => {
                failure = Some(err);
                break;
            }
        }
    }
    let _ = pipeline.finish();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if !args.json {
        view::streams::write_heading(&mut out)?;
    }
    for summary in pipeline.summaries() {
        if args.json {
            view::streams::write_json(&mut out, &summary)?;
        } else {
            view::streams::write_row(&mut out, &summary)?;
        }
    }
    out.flush()?;
    match failure {
        Some(err) => Err(err.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// `osiscope compare`: the delivery techniques of a capture, after the whole capture.
fn compare(args: &CompareArgs) -> Result<ExitCode> {
    let mut source = FileSource::open(&args.file)?;
    let mut pipeline = Pipeline::default().observing_delivery();
    let mut failure = None;
    loop {
        match source.next_frame() {
            Ok(Some(frame)) => {
                pipeline.process(&frame, false);
            }
            Ok(None) => break,
            Err(err) => {
                failure = Some(err);
                break;
            }
        }
    }
    let _ = pipeline.finish();
    let report = pipeline.delivery().unwrap_or_default();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.json {
        view::compare::write_json(&mut out, &report)?;
    } else {
        view::compare::write_table(&mut out, &report)?;
    }
    out.flush()?;
    match failure {
        Some(err) => Err(err.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}
