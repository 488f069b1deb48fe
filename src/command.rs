//! The commands behind the command line: open a source, run the pipeline,
//! stream the chosen view. Errors here are `anyhow` with context; `main`
//! maps them to exit codes.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command, DumpArgs, MessagesArgs, StreamsArgs, UiArgs};
use crate::dissect::{BuildConfig, StreamSummary};
use crate::limits::Limits;
use crate::pipeline::Pipeline;
use crate::session::Session;
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
            let limits = args
                .session_limits
                .apply(args.limits.apply(Limits::default()));
            open(&file, &args.ui, limits)
        }
        None => {
            let file = match cli.file {
                Some(file) => file,
                None => first_capture()?,
            };
            if io::stdout().is_terminal() && io::stdin().is_terminal() {
                let limits = cli
                    .session_limits
                    .apply(cli.limits.apply(Limits::default()));
                return open(&file, &cli.ui, limits);
            }
            dump(&DumpArgs {
                file,
                json: false,
                link_speed: BuildConfig::default().link_speed_bps,
                two_pass: false,
                limits: cli.limits,
            })
        }
    }
}

/// `osiscope open`: the terminal UI on a capture.
fn open(file: &Path, ui: &UiArgs, limits: Limits) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let theme = Theme::choose(ui.theme.as_deref(), no_color)
        .with_context(|| format!("unknown theme {:?}", ui.theme))?;
    let session = Session::open_with(file, limits)?;
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
    let limits = args.limits.apply(Limits::default());
    let mut reassembled_in = std::collections::HashMap::new();
    if args.two_pass && args.file.as_os_str() == "-" {
        anyhow::bail!("--two-pass reads the file twice, so it needs a file, not standard input");
    }
    if args.two_pass {
        let mut source = FileSource::open(&args.file)?;
        let mut pipeline =
            Pipeline::with_limits(config.clone(), limits.clone()).without_summaries();
        while let Ok(Some(frame)) = source.next_frame() {
            if let Some(dissection) = pipeline.process(&frame, true).dissection {
                Pipeline::note_reassembly(&dissection, &mut reassembled_in);
            }
        }
    }
    let mut source = FileSource::open(&args.file)?;
    let mut pipeline = Pipeline::with_limits(config, limits)
        .with_reassembled_in(reassembled_in)
        .without_summaries();
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
    let mut pipeline =
        Pipeline::with_limits(BuildConfig::default(), args.limits.apply(Limits::default()))
            .without_summaries();
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

/// `osiscope streams`: one row per TCP conversation, in stream order. Rows of
/// connections evicted by a limit are printed as soon as every lower stream's
/// row is final, so memory does not grow with the number of connections.
fn streams(args: &StreamsArgs) -> Result<ExitCode> {
    let mut source = FileSource::open(&args.file)?;
    let mut pipeline =
        Pipeline::with_limits(BuildConfig::default(), args.limits.apply(Limits::default()));
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let write = |out: &mut BufWriter<io::StdoutLock<'_>>, summary: &StreamSummary| {
        if args.json {
            view::streams::write_json(out, summary)
        } else {
            view::streams::write_row(out, summary)
        }
    };
    if !args.json {
        view::streams::write_heading(&mut out)?;
    }
    let mut pending = std::collections::BTreeMap::new();
    let mut failure = None;
    let mut n_frames = 0u64;
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
        n_frames = n_frames.wrapping_add(1);
        pending.extend(
            pipeline
                .take_retired()
                .into_iter()
                .map(|summary| (summary.stream, summary)),
        );
        if !pending.is_empty() && (n_frames.is_multiple_of(4096) || pending.len() >= 4096) {
            let held = pipeline.lowest_held_stream().unwrap_or(u32::MAX);
            while let Some(entry) = pending.first_entry() {
                if *entry.key() >= held {
                    break;
                }
                write(&mut out, &entry.remove())?;
            }
        }
    }
    let _ = pipeline.finish();
    pending.extend(
        pipeline
            .summaries()
            .into_iter()
            .map(|summary| (summary.stream, summary)),
    );
    for summary in pending.values() {
        write(&mut out, summary)?;
    }
    out.flush()?;
    match failure {
        Some(err) => Err(err.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}
