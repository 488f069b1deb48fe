//! The terminal UI: the packet list, the OSI stack of the selected frame
//! side by side with its fields and bytes, and the teaching views (ladder,
//! messages, unmasking, handshake, encapsulation walk).
//!
//! Views never decode: everything shown comes from the session's rows and
//! the dissection model, and every piece of wire text goes through
//! [`crate::view::sanitize`].
//!
//! The loop is: terminal event → [`keymap`] → [`app::App::update`] → draw;
//! between events it applies the indexer's progress and runs playback. The
//! terminal is restored on exit, on error, on panic, and on SIGINT, SIGTERM
//! and SIGHUP (the loop notices the signal within a tick, restores the
//! terminal, then lets the signal end the process as it would have).

pub mod app;
pub mod keymap;
pub mod layout;
pub mod panes;
pub mod text;
pub mod theme;
pub mod ui;

use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use crate::lesson::{Lang, Lesson};
use crate::session::Session;
use app::App;
use theme::Theme;

/// How the UI starts: its language, the lessons it offers, and whether it
/// opens on the list of lessons or on one lesson.
#[derive(Default)]
pub struct Start {
    pub lang: Lang,
    pub lessons: Vec<Lesson>,
    /// Open on the list of lessons, the first one selected.
    pub picker: bool,
    /// Open this lesson at its first step.
    pub lesson: Option<Lesson>,
    pub presenter: bool,
}

impl Start {
    /// The app set up as asked.
    pub fn apply(self, app: App) -> App {
        let mut app = app.with_lang(self.lang);
        let picker = self.picker;
        app = app.with_picker(self.lessons);
        if !picker {
            app.picker = None;
        }
        if let Some(lesson) = self.lesson {
            app.open_lesson(lesson);
            app.presenter = self.presenter;
        }
        app
    }
}

/// How often the loop wakes without input (indexing progress, playback).
const TICK: Duration = Duration::from_millis(50);

/// Runs the UI on the terminal until the user quits.
///
/// With `timing` set, the time taken to handle and draw each event is
/// written to that file, one line per event (`kind microseconds`, and for a
/// key its name), and the
/// first line is the time from `started` (when the command began) to the
/// first screen, so responsiveness can be measured on a real run.
pub fn run(
    session: Session,
    theme: Theme,
    start: Start,
    timing: Option<&std::path::Path>,
    started: Instant,
) -> io::Result<()> {
    let mut log = match timing {
        Some(path) => Some(io::LineWriter::new(std::fs::File::create(path)?)),
        None => None,
    };
    install_panic_hook();
    // In raw mode Ctrl-C is a key; these come from elsewhere (kill, a closed terminal).
    let signal = Arc::new(AtomicUsize::new(0));
    let mut registered = Vec::new();
    for number in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        let value = usize::try_from(number).unwrap_or(0);
        registered.push(signal_hook::flag::register_usize(
            number,
            Arc::clone(&signal),
            value,
        )?);
    }
    enter()?;
    let result = (|| {
        let backend = CrosstermBackend::new(io::stdout());
        let mut terminal = Terminal::new(backend)?;
        let size = terminal.size()?;
        let app = App::new(session, theme, Rect::new(0, 0, size.width, size.height));
        let mut app = start.apply(app);
        terminal.draw(|frame| ui::draw(frame, &app))?;
        if let Some(log) = log.as_mut() {
            writeln!(log, "first-screen {}", started.elapsed().as_micros())?;
        }
        let mut indexed = false;
        let mut listed = false;
        let mut drawn = Instant::now();
        // Set while the session has batches waiting.
        let mut behind = false;
        while !app.quit && signal.load(Ordering::Relaxed) == 0 {
            let mut dirty = false;
            let mut kind = "tick";
            let mut what = String::new();
            // Batches waiting are applied tick after tick, without the wait.
            if event::poll(if behind { Duration::ZERO } else { TICK })? {
                let begun_event = Instant::now();
                match event::read()? {
                    Event::Key(key) if key.kind != event::KeyEventKind::Release => {
                        if log.is_some() {
                            what = format!(" {}", key.code.to_string().replace(' ', "_"));
                        }
                        app.key(key);
                        kind = "key";
                    }
                    Event::Mouse(mouse) => {
                        app.mouse(mouse);
                        kind = "mouse";
                    }
                    Event::Resize(width, height) => {
                        app.size = Rect::new(0, 0, width, height);
                        kind = "resize";
                    }
                    _ => {}
                }
                dirty = true;
                if kind != "tick" {
                    terminal.draw(|frame| ui::draw(frame, &app))?;
                    if let Some(log) = log.as_mut() {
                        writeln!(log, "{kind} {}{what}", begun_event.elapsed().as_micros())?;
                    }
                    dirty = false;
                }
            }
            let begun = Instant::now();
            let changed = app.tick();
            if !listed && app.session.progress().listed {
                listed = true;
                if let Some(log) = log.as_mut() {
                    writeln!(log, "listed {}", started.elapsed().as_micros())?;
                }
            }
            if !indexed && app.session.progress().done {
                indexed = true;
                if let Some(log) = log.as_mut() {
                    let frames = app.session.progress().frames;
                    writeln!(log, "indexed-frames {frames}")?;
                    writeln!(log, "indexed {}", started.elapsed().as_micros())?;
                }
            }
            behind = app.catching_up();
            // While catching up, the screen is drawn once per TICK.
            if (changed || dirty) && (!behind || drawn.elapsed() >= TICK) {
                terminal.draw(|frame| ui::draw(frame, &app))?;
                drawn = Instant::now();
                if let Some(log) = log.as_mut() {
                    writeln!(log, "tick {}", begun.elapsed().as_micros())?;
                }
            }
        }
        if let Some(log) = log.as_mut() {
            log.flush()?;
        }
        Ok(())
    })();
    let left = leave();
    for id in registered {
        signal_hook::low_level::unregister(id);
    }
    let received = signal.load(Ordering::Relaxed);
    if received != 0 {
        // The terminal is ours again: let the signal do what it would have done.
        if let Ok(number) = i32::try_from(received) {
            signal_hook::low_level::emulate_default_handler(number)?;
        }
    }
    left?;
    result
}

fn enter() -> io::Result<()> {
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)
}

/// Gives the terminal back: cooked mode, main screen, no mouse reports.
pub fn leave() -> io::Result<()> {
    let raw = disable_raw_mode();
    execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    )?;
    raw
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = leave();
        previous(info);
    }));
}
