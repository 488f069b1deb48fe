//! The commands behind the command line: open a source, run the pipeline,
//! stream the chosen view. Errors here are `anyhow` with context; `main`
//! maps them to exit codes.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cli::{
    Cli, Command, CompareArgs, DumpArgs, LessonArgs, LessonsAction, LessonsArgs, LiveArgs,
    MessagesArgs, StreamsArgs, UiArgs,
};
use crate::dissect::{BuildConfig, StreamSummary, WsMessage};
use crate::lesson::{self, Lang, Lesson};
use crate::limits::Limits;
use crate::pipeline::Pipeline;
use crate::session::{LiveInfo, Session, SessionLimits};
use crate::source::live::{self, LiveConfig};
use crate::source::{frame_or_stop, CaptureStats, FileSource, LiveSource, Source};
use crate::view;
use crate::view::sanitize::sanitize;
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
        Some(Command::Live(args)) => live(&args),
        Some(Command::Interfaces) => interfaces(),
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
            open(&file, &args.ui, Start::default(), limits)
        }
        None => {
            let terminal = io::stdout().is_terminal() && io::stdin().is_terminal();
            let limits = cli
                .session_limits
                .apply(cli.limits.apply(Limits::default()));
            if cli.file.is_none() && terminal {
                // The lesson picker, on the first lesson.
                if let Some((lessons, first)) = curriculum() {
                    let start = Start {
                        lessons,
                        picker: true,
                        ..Start::default()
                    };
                    return open(&first, &cli.ui, start, limits);
                }
            }
            let file = match cli.file {
                Some(file) => file,
                None => first_capture()?,
            };
            if terminal {
                return open(&file, &cli.ui, Start::default(), limits);
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
fn open(file: &Path, ui: &UiArgs, mut start: Start, limits: Limits) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let theme = theme(ui)?;
    start.lang = language(ui.lang.as_deref());
    if start.lessons.is_empty() {
        start.lessons = curriculum().map(|(lessons, _)| lessons).unwrap_or_default();
    }
    let session = Session::open_with(file, limits)?;
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

/// Standard output for a batch command's records.
type Output = BufWriter<io::StdoutLock<'static>>;

/// Standard output with room for many records: a batch command writes in
/// 64 KiB pieces rather than 8 KiB ones (an eighth of the system calls).
fn output() -> Output {
    BufWriter::with_capacity(1 << 16, io::stdout().lock())
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
    open(&capture, &args.ui, start, Limits::default())
}

/// The colour theme asked for (mono when `NO_COLOR` is set).
fn theme(ui: &UiArgs) -> Result<Theme> {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    Theme::choose(ui.theme.as_deref(), no_color)
        .with_context(|| format!("unknown theme {:?}", ui.theme))
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
    let pipeline = Pipeline::with_limits(config, limits)
        .with_reassembled_in(reassembled_in)
        .without_summaries();
    dump_frames(&mut source, pipeline, args.json)?;
    Ok(ExitCode::SUCCESS)
}

/// Streams every frame of a source as text or JSON lines. Output is
/// flushed whenever the source has nothing more waiting, so a reader of a
/// live capture sees each frame as it arrives.
fn dump_frames(source: &mut dyn Source, mut pipeline: Pipeline, json: bool) -> Result<()> {
    let mut out = output();
    loop {
        if !source.wait(Duration::ZERO) {
            out.flush()?;
        }
        let frame = match source.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(err) => {
                out.flush()?;
                return Err(err.into());
            }
        };
        let dissection = pipeline.dissect(&frame);
        if json {
            view::json::write_frame(&mut out, &dissection)?;
        } else {
            view::text::write_frame(&mut out, &dissection)?;
            view::text::write_unplaced_problems(&mut out, &dissection)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// How many threads decode a capture's connections: as asked, else the
/// cores (at most 8); one for standard input and pipes, so each record is
/// written as its frame comes.
fn decoding_threads(asked: Option<usize>, file: &Path) -> usize {
    let regular = std::fs::metadata(file).is_ok_and(|meta| meta.is_file());
    if !regular {
        return 1;
    }
    asked.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)))
}

/// `osiscope messages`: every WebSocket message, streamed as text or JSON lines.
fn messages(args: &MessagesArgs) -> Result<ExitCode> {
    let mut source = FileSource::open(&args.file)?;
    let limits = args.limits.apply(Limits::default());
    // A file's connections are decoded on several threads; standard input
    // and pipes on one, so each message is written as its frame comes.
    let threads = decoding_threads(args.threads, &args.file);
    if threads < 2 {
        let pipeline = Pipeline::with_limits(BuildConfig::default(), limits)
            .without_summaries()
            .messages_only();
        stream_messages(&mut source, pipeline, args.json, args.payload)?;
        return Ok(ExitCode::SUCCESS);
    }
    let pipelines = (0..threads)
        .map(|_| {
            Pipeline::with_limits(BuildConfig::default(), limits.divided(threads))
                .without_summaries()
                .messages_only()
                .noting_ended_streams()
        })
        .collect();
    let mut out = output();
    let mut lines = view::messages::MessageLines::new(args.json, args.payload);
    // JSON lines: each message's payload is hashed on its pipeline's thread
    // and, unless `--payload` wants it, let go there.
    let (json, keep_payload) = (args.json, args.payload);
    let prepare = move |message: &mut WsMessage| {
        if !json {
            return None;
        }
        let sha256 = view::messages::payload_sha256(message);
        if !keep_payload {
            message.payload = Vec::new();
        }
        sha256
    };
    let failure = crate::pipeline::shard::messages(&mut source, pipelines, &prepare, |prepared| {
        lines.write_hashed(&mut out, &prepared.message, prepared.digest)
    })?;
    out.flush()?;
    match failure {
        Some(err) => Err(err.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Streams every WebSocket message of a source as text or JSON lines, each
/// as the frame that ends it is read; flushed whenever the source has
/// nothing more waiting. Formatting (JSON, SHA-256, base64) and writing run
/// on a thread of their own, beside decoding, in batches.
fn stream_messages(
    source: &mut dyn Source,
    mut pipeline: Pipeline,
    json: bool,
    payload: bool,
) -> Result<()> {
    /// Messages handed to the writer at once.
    const BATCH: usize = 256;
    // An empty batch asks the writer to flush.
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<WsMessage>>(16);
    // Written batches come back to be dropped here: memory freed by the
    // thread that allocated it does not contend for the allocator's lock.
    let (give_back, written) = std::sync::mpsc::sync_channel::<Vec<WsMessage>>(32);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> io::Result<()> {
            let mut out = output();
            let mut lines = view::messages::MessageLines::new(json, payload);
            for batch in receiver {
                if batch.is_empty() {
                    out.flush()?;
                }
                for message in &batch {
                    lines.write(&mut out, message)?;
                }
                // Dropped here if the decoder is not taking them back.
                let _ = give_back.try_send(batch);
            }
            out.flush()
        });
        // `false` once the writer has stopped (its error is what to report).
        let mut pending = Vec::with_capacity(BATCH);
        let send = |pending: &mut Vec<_>, flush: bool| {
            // Free what came back; the last batch's room takes the next messages.
            let back = std::iter::from_fn(|| written.try_recv().ok()).last();
            if !pending.is_empty() {
                let next = back.map_or_else(
                    || Vec::with_capacity(BATCH),
                    |mut back| {
                        back.clear();
                        back
                    },
                );
                if sender.send(std::mem::replace(pending, next)).is_err() {
                    return false;
                }
            }
            !flush || sender.send(Vec::new()).is_ok()
        };
        let mut read_error = None;
        loop {
            if !source.wait(Duration::ZERO) && !send(&mut pending, true) {
                break;
            }
            let frame = match source.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(err) => {
                    read_error = Some(err);
                    break;
                }
            };
            pending.extend(pipeline.process(&frame, false).messages);
            if pending.len() >= BATCH && !send(&mut pending, false) {
                break;
            }
        }
        pending.extend(pipeline.finish());
        send(&mut pending, true);
        drop(sender);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the output thread stopped")));
        written?;
        match read_error {
            Some(err) => Err(err.into()),
            None => Ok(()),
        }
    })
}

/// `osiscope streams`: one row per TCP conversation, in stream order. Rows of
/// connections evicted by a limit are printed as soon as every lower stream's
/// row is final, so memory does not grow with the number of connections.
fn streams(args: &StreamsArgs) -> Result<ExitCode> {
    let mut source = FileSource::open(&args.file)?;
    let limits = args.limits.apply(Limits::default());
    let mut out = output();
    let write = |out: &mut Output, summary: &StreamSummary| {
        if args.json {
            view::streams::write_json(out, summary)
        } else {
            view::streams::write_row(out, summary)
        }
    };
    if !args.json {
        view::streams::write_heading(&mut out)?;
    }
    let threads = decoding_threads(args.threads, &args.file);
    if threads >= 2 {
        // Divided between threads as `messages` is (see `pipeline::shard`).
        let pipelines = (0..threads)
            .map(|_| {
                Pipeline::with_limits(BuildConfig::default(), limits.divided(threads))
                    .messages_only()
                    .noting_ended_streams()
            })
            .collect();
        let failure = crate::pipeline::shard::streams(&mut source, pipelines, |summary| {
            write(&mut out, summary)
        })?;
        out.flush()?;
        return match failure {
            Some(err) => Err(err.into()),
            None => Ok(ExitCode::SUCCESS),
        };
    }
    let mut pipeline = Pipeline::with_limits(BuildConfig::default(), limits).messages_only();
    let mut pending = std::collections::BTreeMap::new();
    let mut failure = None;
    let mut n_frames = 0u64;
    while let Some(frame) = frame_or_stop(&mut source, &mut failure) {
        pipeline.process(&frame, false);
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

/// `osiscope compare`: the delivery techniques of a capture, after the whole capture.
fn compare(args: &CompareArgs) -> Result<ExitCode> {
    let mut source = FileSource::open(&args.file)?;
    let mut pipeline =
        Pipeline::with_limits(BuildConfig::default(), args.limits.apply(Limits::default()))
            .observing_delivery()
            .messages_only();
    let mut failure = None;
    while let Some(frame) = frame_or_stop(&mut source, &mut failure) {
        pipeline.process(&frame, false);
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

/// `osiscope live`: capture from an interface into the terminal UI, or
/// stream frames or messages as the file commands do.
fn live(args: &LiveArgs) -> Result<ExitCode> {
    let interface = match &args.interface {
        Some(name) => name.clone(),
        None => {
            let name = live::default_interface()?;
            eprintln!(
                "osiscope: no -i given: capturing on {}, the interface libpcap picks (`osiscope interfaces` lists them)",
                sanitize(&name)
            );
            name
        }
    };
    let config = LiveConfig {
        interface: Some(interface.clone()),
        filter: args.filter.clone(),
        snaplen: args.snaplen,
        buffer_size: usize::try_from(args.buffer_size.saturating_mul(1 << 20))
            .unwrap_or(usize::MAX),
        immediate: args.immediate,
        promisc: args.promisc,
        count: args.count,
        duration: args.duration,
        write: args.write.clone(),
        ..LiveConfig::default()
    };
    let streaming = args.dump || args.json || args.messages;
    let tui = !streaming && io::stdout().is_terminal() && io::stdin().is_terminal();
    let theme = if tui { Some(theme(&args.ui)?) } else { None };
    let started = std::time::Instant::now();
    let mut source = LiveSource::open(&config)?;
    eprintln!("osiscope: {}", capturing_line(&interface, &config));
    let control = source.control();
    if let Some(theme) = theme {
        let info = LiveInfo {
            interface: interface.clone(),
            filter: config.filter.clone(),
            write: config.write.clone(),
            control: Some(control.clone()),
        };
        let window = usize::try_from(args.window).unwrap_or(usize::MAX);
        let limits = Limits {
            session: SessionLimits::live(window),
            ..args.limits.apply(Limits::default())
        };
        let session = Session::capture_with(source, info, limits)?;
        let start = Start {
            lang: language(args.ui.lang.as_deref()),
            ..Start::default()
        };
        let shown = view::tui::run(session, theme, start, args.ui.timing.as_deref(), started)
            .context("the terminal UI stopped on a terminal error");
        let stats = control.stop_and_wait();
        eprintln!(
            "osiscope: {}",
            final_stats_line(&interface, &stats, &config)
        );
        if let Some(failure) = control.failure() {
            eprintln!("osiscope: capture on {interface} had stopped: {failure}");
        }
        shown?;
        return Ok(ExitCode::SUCCESS);
    }
    // Ctrl-C (or a TERM signal) ends the capture cleanly: the frames read
    // are decoded, the file is completed and the counters printed. A
    // second Ctrl-C ends at once.
    let stop = control.stop_flag();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 1, std::sync::Arc::clone(&stop))
            .context("cannot install the Ctrl-C handler")?;
        signal_hook::flag::register(signal, std::sync::Arc::clone(&stop))
            .context("cannot install the Ctrl-C handler")?;
    }
    let limits = args.limits.apply(Limits::default());
    let result = if args.messages {
        let pipeline = Pipeline::with_limits(BuildConfig::default(), limits)
            .without_summaries()
            .messages_only();
        stream_messages(&mut source, pipeline, args.json, args.payload)
    } else {
        let config = BuildConfig {
            link_speed_bps: args.link_speed,
        };
        dump_frames(
            &mut source,
            Pipeline::with_limits(config, limits).without_summaries(),
            args.json,
        )
    };
    let stats = source.finish();
    eprintln!(
        "osiscope: {}",
        final_stats_line(&interface, &stats, &config)
    );
    result?;
    Ok(ExitCode::SUCCESS)
}

/// What stderr says once the capture has started (scripts wait for it).
fn capturing_line(interface: &str, config: &LiveConfig) -> String {
    let mut line = format!("capturing on {}", sanitize(interface));
    if let Some(filter) = &config.filter {
        line.push_str(&format!(" with filter {:?}", sanitize(filter)));
    }
    if let Some(path) = &config.write {
        line.push_str(&format!(", writing to {}", path.display()));
    }
    line
}

/// The counters at the end of a capture, one line.
fn final_stats_line(interface: &str, stats: &CaptureStats, config: &LiveConfig) -> String {
    let mut line = format!(
        "capture on {} ended: {} frames captured; libpcap: {} received, {} dropped by the kernel, {} dropped by the interface; {} dropped by osiscope",
        sanitize(interface),
        stats.captured,
        stats.received,
        stats.dropped,
        stats.if_dropped,
        stats.osiscope_dropped
    );
    if let Some(path) = &config.write {
        line.push_str(&format!(
            "; {} written to {}",
            stats.written,
            path.display()
        ));
    }
    line
}

/// `osiscope interfaces`: name, flags, addresses and description of each
/// interface libpcap can capture on; the default one is marked.
fn interfaces() -> Result<ExitCode> {
    let list = live::interfaces()?;
    let default = live::default_interface().ok();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let rows: Vec<[String; 4]> = list
        .iter()
        .map(|interface| {
            let mut name = sanitize(&interface.name);
            if default.as_deref() == Some(interface.name.as_str()) {
                name.push_str(" (default)");
            }
            let flags: Vec<&str> = [
                (interface.up, "up"),
                (interface.running, "running"),
                (interface.loopback, "loopback"),
            ]
            .iter()
            .filter(|(set, _)| *set)
            .map(|(_, name)| *name)
            .collect();
            let addresses: Vec<String> = interface
                .addresses
                .iter()
                .map(|(address, prefix)| match prefix {
                    Some(prefix) => format!("{address}/{prefix}"),
                    None => address.to_string(),
                })
                .collect();
            [
                name,
                if flags.is_empty() {
                    "down".to_string()
                } else {
                    flags.join(",")
                },
                addresses.join(" "),
                interface
                    .description
                    .as_deref()
                    .map(sanitize)
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let heading = [
        "NAME".to_string(),
        "FLAGS".to_string(),
        "ADDRESSES".to_string(),
        "DESCRIPTION".to_string(),
    ];
    let mut widths = [0usize; 3];
    for row in std::iter::once(&heading).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row.iter()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&heading).chain(&rows) {
        let [name, flags, addresses, description] = row;
        let line = format!(
            "{name:<w0$}  {flags:<w1$}  {addresses:<w2$}  {description}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    out.flush()?;
    if list.is_empty() {
        eprintln!("osiscope: libpcap lists no interface (capturing may need root)");
    }
    Ok(ExitCode::SUCCESS)
}
