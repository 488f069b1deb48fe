//! The commands behind the command line: open a source, run the pipeline,
//! stream the chosen view. Errors here are `anyhow` with context; `main`
//! maps them to exit codes.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{
    Cli, Command, CompareArgs, DumpArgs, LessonArgs, LessonsAction, LessonsArgs, MessagesArgs,
    StreamsArgs, UiArgs,
};
use crate::dissect::BuildConfig;
use crate::lesson::{self, Lang, Lesson};
use crate::pipeline::Pipeline;
use crate::session::{Session, SessionLimits};
use crate::source::{FileSource, Source};
use crate::view;
use crate::view::tui::theme::Theme;
use crate::view::tui::Start;

/// The capture opened when osiscope is started without arguments.
pub const FIRST_CAPTURE: &str = "captures/ws-basic.pcapng";

/// Runs the command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Dump(args)) => dump(&args),
        Some(Command::Messages(args)) => messages(&args),
        Some(Command::Streams(args)) => streams(&args),
        Some(Command::Lessons(args)) => lessons(&args),
        Some(Command::Lesson(args)) => open_lesson(&args),
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
            open(&file, &args.ui, Start::default())
        }
        None => {
            let terminal = io::stdout().is_terminal() && io::stdin().is_terminal();
            if cli.file.is_none() && terminal {
                // The lesson picker, on the first lesson.
                if let Some((lessons, first)) = curriculum() {
                    let start = Start {
                        lessons,
                        picker: true,
                        ..Start::default()
                    };
                    return open(&first, &cli.ui, start);
                }
            }
            let file = match cli.file {
                Some(file) => file,
                None => first_capture()?,
            };
            if terminal {
                return open(&file, &cli.ui, Start::default());
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
fn open(file: &Path, ui: &UiArgs, mut start: Start) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let theme = Theme::choose(ui.theme.as_deref(), no_color)
        .with_context(|| format!("unknown theme {:?}", ui.theme))?;
    start.lang = language(ui.lang.as_deref());
    if start.lessons.is_empty() {
        start.lessons = curriculum().map(|(lessons, _)| lessons).unwrap_or_default();
    }
    let session = Session::open(file, SessionLimits::default())?;
    view::tui::run(session, theme, start, ui.timing.as_deref(), started)
        .context("the terminal UI stopped on a terminal error")?;
    Ok(ExitCode::SUCCESS)
}

/// The language asked for, else the locale's.
fn language(asked: Option<&str>) -> Lang {
    asked
        .and_then(Lang::parse)
        .unwrap_or_else(|| Lang::from_locale(|name| std::env::var(name).ok()))
}

/// The lessons that parse, and the first one's capture.
fn curriculum() -> Option<(Vec<Lesson>, PathBuf)> {
    let dir = lesson::default_dir()?;
    let (lessons, _) = lesson::load_dir(&dir).ok()?;
    let first = lessons.first()?.capture_path();
    first.is_file().then_some((lessons, first))
}

/// `osiscope lessons`: list them, or check them against their captures.
fn lessons(args: &LessonsArgs) -> Result<ExitCode> {
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => lesson::default_dir()
            .context("cannot find the lessons folder `lessons/`; give it with --dir DIR")?,
    };
    let lang = language(args.lang.as_deref());
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match &args.action {
        None | Some(LessonsAction::List) => {
            let (lessons, errors) = lesson::load_dir(&dir)
                .with_context(|| format!("cannot read the lessons folder {}", dir.display()))?;
            view::lessons::write_list(&mut out, &lessons, lang)?;
            out.flush()?;
            view::lessons::write_errors(&mut io::stderr(), &errors)?;
            Ok(if errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Some(LessonsAction::Check(check)) => {
            let files = if check.files.is_empty() {
                lesson::files(&dir)
                    .with_context(|| format!("cannot read the lessons folder {}", dir.display()))?
            } else {
                check.files.clone()
            };
            let mut failed = 0usize;
            let mut lessons = Vec::new();
            for file in &files {
                let (errors, summary) = match Lesson::load(file) {
                    Err(err) => (vec![err], String::new()),
                    Ok(lesson) => {
                        let report = lesson::check::check(&lesson);
                        let summary = format!(
                            "{} steps, {} questions ({} answers checked against the capture)",
                            lesson.steps.len(),
                            lesson.questions(),
                            report.answers_checked
                        );
                        lessons.push(lesson);
                        (report.errors, summary)
                    }
                };
                if errors.is_empty() {
                    writeln!(out, "ok    {}: {summary}", file.display())?;
                } else {
                    failed += 1;
                    writeln!(out, "FAIL  {}", file.display())?;
                    view::lessons::write_errors(&mut out, &errors)?;
                }
            }
            // Across lessons: one number each, prerequisites that exist and come first.
            let all = if check.files.is_empty() {
                lessons.clone()
            } else {
                lesson::load_dir(&dir).map(|(l, _)| l).unwrap_or_default()
            };
            for lesson in &lessons {
                let mut errors = Vec::new();
                if all
                    .iter()
                    .filter(|other| other.number == lesson.number)
                    .count()
                    > 1
                {
                    errors.push(lesson.error(
                        1,
                        format!("another lesson also has number {}", lesson.number),
                    ));
                }
                for prerequisite in &lesson.prerequisites {
                    if !all.iter().any(|other| other.number == *prerequisite) {
                        errors.push(
                            lesson.error(1, format!("prerequisite {prerequisite} is not a lesson")),
                        );
                    } else if *prerequisite >= lesson.number {
                        errors.push(lesson.error(
                            1,
                            format!(
                                "prerequisite {prerequisite} does not come before lesson {}",
                                lesson.number
                            ),
                        ));
                    }
                }
                if !errors.is_empty() {
                    failed += 1;
                    view::lessons::write_errors(&mut out, &errors)?;
                }
            }
            writeln!(
                out,
                "{} lesson file(s) checked, {} failed",
                files.len(),
                failed
            )?;
            out.flush()?;
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// `osiscope lesson N`: one lesson in the terminal UI.
fn open_lesson(args: &LessonArgs) -> Result<ExitCode> {
    let as_file = Path::new(&args.lesson);
    let lesson = if as_file.is_file() {
        Lesson::load(as_file)?
    } else {
        let number: u32 = args.lesson.parse().with_context(|| {
            format!(
                "`{}` is neither a lesson number nor a lesson file",
                args.lesson
            )
        })?;
        let dir = match &args.dir {
            Some(dir) => dir.clone(),
            None => lesson::default_dir()
                .context("cannot find the lessons folder `lessons/`; give it with --dir DIR")?,
        };
        let (lessons, _) = lesson::load_dir(&dir)
            .with_context(|| format!("cannot read the lessons folder {}", dir.display()))?;
        lessons
            .into_iter()
            .find(|lesson| lesson.number == number)
            .with_context(|| format!("no lesson number {number} in {}", dir.display()))?
    };
    if !io::stdout().is_terminal() {
        anyhow::bail!(
            "a lesson needs a terminal; its capture is {}",
            lesson.capture_path().display()
        );
    }
    let capture = lesson.capture_path();
    let start = Start {
        lesson: Some(lesson),
        presenter: args.presenter,
        ..Start::default()
    };
    open(&capture, &args.ui, start)
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
