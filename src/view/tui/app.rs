//! The terminal UI's state and what each action does to it.
//!
//! [`App`] owns the session and one small state per pane; `update` applies
//! an [`Action`], `key` and `mouse` turn terminal events into actions, and
//! `tick` drives playback and indexing progress. Drawing (in `ui.rs`) reads
//! the state and never changes it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use crate::dissect::{
    Dissection, Field, FrameNumber, Layer, Osi, Protocol, Span, Timestamp, WsMessage,
};
use crate::lesson::check::{layer_index, step_frame};
use crate::lesson::run::LessonRun;
use crate::lesson::{Lang, Lesson, View};
use crate::session::{Dissecting, Row, Session, SessionLimits};
use crate::view::i18n::{fill, strings};
use crate::view::tui::keymap::{self, Action};
use crate::view::tui::layout::{self, Areas, Mode, Pane};
use crate::view::tui::panes::{hex, stack, tree};
use crate::view::tui::theme::Theme;

/// A box drawn over the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlay {
    Help,
    /// The search prompt and what has been typed.
    Search(String),
    /// The answer prompt of a lesson's value question.
    Answer,
}

/// How long one key or tick may spend replaying a connection to decode the
/// selected frame; the replay goes on at the next tick.
const REPLAY_BUDGET: Duration = Duration::from_millis(25);

/// How long one tick may spend applying what the indexing threads sent;
/// the rest waits for the next tick.
const POLL_BUDGET: Duration = Duration::from_millis(10);

/// What the messages of a connection were found for: the connection, how
/// many messages the session had, how many frames it had evicted, and
/// whether indexing was done (the list is sorted then).
type ChatKey = (Option<u32>, usize, u64, bool);

/// A replay under way: the frame asked for, and how far its connection's
/// replay has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replaying {
    pub number: FrameNumber,
    pub stream: u32,
    pub fed: usize,
    pub total: usize,
}

/// A search under way: what it looks for, in which direction, from which
/// position of the list, and how many rows it has looked at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Searching {
    query: String,
    /// The query lower-cased, and as a frame number if it is one.
    needle: String,
    number: Option<u64>,
    forward: bool,
    from: usize,
    done: usize,
}

/// A frame listed but not decoded yet: the decoding, in frame order, has
/// reached frame `decoded` of the `frames` listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub number: FrameNumber,
    pub decoded: u64,
    pub frames: u64,
}

/// The list of lessons, shown over the whole screen.
#[derive(Clone, Debug, Default)]
pub struct Picker {
    pub selected: usize,
}

/// The terminal UI's whole state.
pub struct App {
    pub session: Session,
    pub theme: Theme,
    pub size: Rect,
    pub mode: Mode,
    pub focus: Pane,
    pub overlay: Option<Overlay>,
    /// Index into the visible rows of the selected one.
    selected: usize,
    /// First visible row on screen.
    pub list_top: usize,
    /// Only this connection's frames are listed.
    pub follow: Option<u32>,
    follow_rows: Vec<FrameNumber>,
    /// The selected frame's model.
    pub current: Option<Arc<Dissection>>,
    /// Index into `current.layers` of the focused layer.
    pub layer: usize,
    /// Field keys whose children are shown.
    pub expanded: HashSet<&'static str>,
    /// Index into the focused layer's visible tree rows.
    pub field: usize,
    pub tree_top: usize,
    /// The selected field's key, kept while stepping through frames.
    field_key: Option<&'static str>,
    pub hex_cursor: Option<usize>,
    pub hex_top: usize,
    pub playing: bool,
    pub pace: Duration,
    last_step: Instant,
    pub walk_step: usize,
    pub unmask_scroll: usize,
    pub chat_selected: usize,
    /// The highlighted technique of the compare pane.
    pub compare_selected: usize,
    /// The handshake frame of the selected frame's connection.
    pub handshake: Option<Arc<Dissection>>,
    /// Frames that carried the message last jumped to.
    pub marked: Vec<FrameNumber>,
    pub search: Option<String>,
    /// A one-line notice shown in the status line.
    pub notice: Option<String>,
    /// Which of a reassembled source's frames `J` jumps to next.
    jump_index: usize,
    /// A live capture's view: following, paused, new frames.
    pub live: Option<LiveView>,
    pub quit: bool,
    /// The language of the interface and the lessons.
    pub lang: Lang,
    /// The lessons that can be opened, in curriculum order.
    pub lessons: Vec<Lesson>,
    /// The lesson being taken.
    pub lesson: Option<LessonRun>,
    /// The list of lessons is shown.
    pub picker: Option<Picker>,
    /// Presenter mode: a calmer screen for a projector.
    pub presenter: bool,
    /// The current step waits for its capture to be indexed.
    step_pending: bool,
    /// The selected frame's connection is being replayed to decode it, a
    /// budget at a time, so that no key waits for a long connection.
    pub replaying: Option<Replaying>,
    /// The selected frame waits for the decoding to reach it.
    pub waiting: Option<Waiting>,
    /// The layer focused before the replay began, to focus again after it.
    replay_focus: Option<(Protocol, Osi)>,
    /// How long one key or tick may replay or search (`None`: decode and
    /// search at once, however long it takes, as tests that compare screens
    /// want).
    pub replay_budget: Option<Duration>,
    /// A search going through the list a budget at a time.
    pub searching: Option<Searching>,
    /// Where the selected connection's messages are in the session's list,
    /// with what that was found for (connection, messages, evicted, done).
    chat_index: std::cell::RefCell<Option<(ChatKey, Vec<usize>)>>,
    /// Lines the narration's text is scrolled by.
    pub narration_scroll: usize,
}

/// How the list shows a live capture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveView {
    /// The selection moves to each new frame (until the user selects one).
    pub following: bool,
    /// The newest frame when following stopped: later ones are new.
    anchor: u64,
    /// New frames wait (the list holds still); capture goes on.
    pub paused: bool,
    /// Frames that had left the window when last seen.
    seen_evicted: u64,
}

impl App {
    pub fn new(session: Session, theme: Theme, size: Rect) -> App {
        let mut app = App {
            session,
            theme,
            size,
            mode: Mode::Main,
            focus: Pane::List,
            overlay: None,
            selected: 0,
            list_top: 0,
            follow: None,
            follow_rows: Vec::new(),
            current: None,
            layer: 0,
            expanded: HashSet::new(),
            field: 0,
            tree_top: 0,
            field_key: None,
            hex_cursor: None,
            hex_top: 0,
            playing: false,
            pace: Duration::from_millis(1000),
            last_step: Instant::now(),
            walk_step: 0,
            unmask_scroll: 0,
            chat_selected: 0,
            compare_selected: 0,
            handshake: None,
            marked: Vec::new(),
            search: None,
            notice: None,
            jump_index: 0,
            live: None,
            quit: false,
            lang: Lang::En,
            lessons: Vec::new(),
            lesson: None,
            picker: None,
            presenter: false,
            step_pending: false,
            replaying: None,
            waiting: None,
            replay_focus: None,
            replay_budget: Some(REPLAY_BUDGET),
            searching: None,
            chat_index: std::cell::RefCell::new(None),
            narration_scroll: 0,
        };
        if app.session.live().is_some() {
            app.live = Some(LiveView {
                following: true,
                ..LiveView::default()
            });
        }
        app.tick();
        app
    }

    /// The same app speaking another language.
    pub fn with_lang(mut self, lang: Lang) -> App {
        self.lang = lang;
        self
    }

    /// The same app with lessons to choose from; the list is shown with the
    /// first lesson selected.
    pub fn with_picker(mut self, lessons: Vec<Lesson>) -> App {
        self.lessons = lessons;
        self.picker = Some(Picker::default());
        self
    }

    /// The screen's areas for the current size, mode and focus.
    pub fn areas(&self) -> Areas {
        layout::compute_with(self.size, self.mode, self.focus, self.lesson_layout())
    }

    /// How the lesson (if any) shapes the screen.
    pub fn lesson_layout(&self) -> layout::Lesson {
        match (&self.lesson, self.presenter) {
            (None, _) => layout::Lesson::None,
            (Some(_), false) => layout::Lesson::Open,
            (Some(_), true) => layout::Lesson::Presenter,
        }
    }

    /// The last tick left work for the next: batches from the indexing
    /// threads waiting (a paused live view does not apply them), or a
    /// search under way.
    pub fn catching_up(&self) -> bool {
        let paused = self.live.as_ref().is_some_and(|live| live.paused);
        (!paused && self.session.behind()) || self.searching.is_some()
    }

    /// Applies new rows from the indexer and runs playback; returns whether
    /// the screen should be drawn again.
    pub fn tick(&mut self) -> bool {
        let paused = self.live.as_ref().is_some_and(|live| live.paused);
        let mut changed = !paused && self.session.poll_for(POLL_BUDGET);
        if changed {
            self.live_tick();
        }
        if self.searching.is_some() {
            self.go_on_searching();
            changed = true;
        }
        if let Some(replaying) = self.replaying {
            if self.selected_number() == Some(replaying.number) {
                self.reload();
                changed = true;
            } else {
                self.replaying = None;
            }
        }
        if let Some(waiting) = self.waiting {
            if self.selected_number() != Some(waiting.number) {
                self.waiting = None;
            } else if changed {
                self.reload();
            }
        }
        if changed
            && self.current.is_none()
            && self.replaying.is_none()
            && self.waiting.is_none()
            && !self.session.rows().is_empty()
        {
            self.select_index(0);
        }
        if changed && self.session.progress().done {
            // Dissections made while indexing lacked later frames' facts.
            self.reload();
            if self.step_pending {
                self.apply_step();
            }
        }
        if self.playing && self.last_step.elapsed() >= self.pace {
            self.last_step = Instant::now();
            let before = self.selected;
            self.update(Action::NextFrame);
            if self.selected == before {
                self.playing = false;
                self.notice = Some(strings(self.lang).n_playback_end.into());
            }
            changed = true;
        }
        changed
    }

    // ----- the visible rows -------------------------------------------------

    /// How many rows the list has (all, or the followed connection's).
    pub fn visible_len(&self) -> usize {
        if self.follow.is_some() {
            self.follow_rows.len()
        } else {
            self.session.rows().len()
        }
    }

    /// The row at a position of the list.
    pub fn visible_row(&self, index: usize) -> Option<&Row> {
        if self.follow.is_some() {
            let number = *self.follow_rows.get(index)?;
            self.session.row(number)
        } else {
            self.session.rows().get(index)
        }
    }

    /// The selected frame's row.
    pub fn selected_row(&self) -> Option<&Row> {
        self.visible_row(self.selected)
    }

    pub fn selected_number(&self) -> Option<FrameNumber> {
        self.selected_row().map(|row| row.number)
    }

    /// The first frame's time, the origin of relative times.
    pub fn start(&self) -> Timestamp {
        self.session.start_time()
    }

    /// Rows of the list inside its border, minus the header line.
    fn list_rows(&self) -> usize {
        usize::from(self.areas().list.height.saturating_sub(3)).max(1)
    }

    fn select_index(&mut self, index: usize) {
        let len = self.visible_len();
        if len == 0 {
            return;
        }
        let before = self.selected_number();
        self.selected = index.min(len - 1);
        if self.selected_number() != before {
            self.stop_following();
        }
        let rows = self.list_rows();
        if self.selected < self.list_top {
            self.list_top = self.selected;
        } else if self.selected >= self.list_top + rows {
            self.list_top = self.selected + 1 - rows;
        }
        self.reload();
    }

    /// Selects a frame by number (showing all frames if it is not in the
    /// followed connection).
    pub fn select_frame(&mut self, number: FrameNumber) {
        if self.follow.is_some() {
            if let Some(position) = self.follow_rows.iter().position(|n| *n == number) {
                self.select_index(position);
                return;
            }
            self.follow = None;
        }
        if let Some(index) = self.session.index_of(number) {
            self.select_index(index);
        }
    }

    /// Dissects the selected frame again and keeps the focus on the same
    /// protocol and field where the new frame has them.
    fn reload(&mut self) {
        let Some(number) = self.selected_number() else {
            return;
        };
        let previous = if self.replaying.is_some() || self.waiting.is_some() {
            self.replay_focus
        } else {
            self.current
                .as_ref()
                .and_then(|d| d.layers.get(self.layer))
                .map(|layer| (layer.protocol, layer.osi()))
        };
        let dissected = match self.replay_budget {
            Some(budget) => self.session.dissect_for(number, budget),
            // No deadline: replays however long it takes, still says Pending.
            None => self.session.dissect_for(number, Duration::MAX),
        };
        match dissected {
            Dissecting::Done(dissection) => {
                self.replaying = None;
                self.waiting = None;
                self.current = dissection;
            }
            Dissecting::Pending { decoded, frames } => {
                self.replaying = None;
                self.waiting = Some(Waiting {
                    number,
                    decoded,
                    frames,
                });
                self.replay_focus = previous;
                self.current = None;
                return;
            }
            Dissecting::Replaying { stream, fed, total } => {
                self.waiting = None;
                self.replaying = Some(Replaying {
                    number,
                    stream,
                    fed,
                    total,
                });
                self.replay_focus = previous;
                self.current = None;
                return;
            }
        }
        self.jump_index = 0;
        self.unmask_scroll = 0;
        self.walk_step = self.walk_step.min(self.walk_steps().saturating_sub(1));
        let Some(current) = self.current.clone() else {
            return;
        };
        // The highest layer that carries something (layer 5's state view aside).
        let top = current
            .layers
            .iter()
            .rposition(|layer| layer.protocol != Protocol::Session)
            .unwrap_or(0);
        self.layer = match previous {
            Some((protocol, osi)) => current
                .layers
                .iter()
                .position(|layer| layer.protocol == protocol)
                .or_else(|| current.layers.iter().position(|layer| layer.osi() == osi))
                .unwrap_or(top),
            None => top,
        };
        self.restore_field();
        if self.mode == Mode::Handshake {
            self.load_handshake();
        }
    }

    /// The focused layer of the selected frame.
    pub fn focused_layer(&self) -> Option<&Layer> {
        self.current.as_ref()?.layers.get(self.layer)
    }

    fn restore_field(&mut self) {
        let key = self.field_key;
        let position = match (self.focused_layer(), key) {
            (Some(layer), Some(key)) => tree::rows(layer, &self.expanded)
                .iter()
                .position(|row| row.field.key == key),
            _ => None,
        };
        self.field = position.unwrap_or(0);
        self.tree_top = 0;
        self.sync_field();
    }

    /// After the field selection moved: remember its key, point the hex
    /// cursor at its first byte and scroll both panes to it.
    fn sync_field(&mut self) {
        let (key, span) = match self.selected_field() {
            Some((key, span)) => (Some(key), Some(span)),
            None => (None, None),
        };
        if key.is_some() {
            self.field_key = key;
        }
        let tree_rows = self.tree_rows_visible();
        if self.field < self.tree_top {
            self.tree_top = self.field;
        } else if self.field >= self.tree_top + tree_rows {
            self.tree_top = self.field + 1 - tree_rows;
        }
        self.hex_cursor = span.map(|span| span.start);
        self.scroll_hex_to_cursor();
    }

    fn tree_rows_visible(&self) -> usize {
        let height = self.areas().tree.map_or(10, |area| area.height);
        usize::from(height.saturating_sub(2 + tree::EXPLAIN_LINES)).max(1)
    }

    /// The selected field's key and bytes.
    pub fn selected_field(&self) -> Option<(&'static str, Span)> {
        let layer = self.focused_layer()?;
        let rows = tree::rows(layer, &self.expanded);
        let row = rows.get(self.field)?;
        Some((row.field.key, row.field.span))
    }

    /// The data source the hex pane shows: the focused layer's.
    pub fn hex_source(&self) -> usize {
        self.focused_layer().map_or(0, |layer| layer.source)
    }

    fn hex_area(&self) -> Rect {
        self.areas().hex.unwrap_or(Rect::new(0, 0, 80, 10))
    }

    fn scroll_hex_to_cursor(&mut self) {
        let Some(cursor) = self.hex_cursor else {
            return;
        };
        let area = self.hex_area();
        let per_line = hex::bytes_per_line(area.width.saturating_sub(2));
        let lines = usize::from(area.height.saturating_sub(3)).max(1);
        let line = cursor / per_line;
        if line < self.hex_top {
            self.hex_top = line;
        } else if line >= self.hex_top + lines {
            self.hex_top = line + 1 - lines;
        }
    }

    /// Selects the field owning a byte of the shown source (the hex pane's
    /// half of the two-way link).
    fn select_byte(&mut self, offset: usize) {
        let Some(current) = self.current.clone() else {
            return;
        };
        let source = self.hex_source();
        let len = current.sources.get(source).map_or(0, |s| s.bytes.len());
        if offset >= len {
            return;
        }
        let layer = current
            .layers
            .iter()
            .enumerate()
            .rev()
            .find(|(_, layer)| layer.source == source && layer.span.contains(offset))
            .map(|(index, _)| index);
        if let Some(index) = layer {
            self.layer = index;
            if let Some(path) = current
                .layers
                .get(index)
                .and_then(|layer| deepest_field(layer, offset))
            {
                // Unfold the field's ancestors so it can be selected.
                if let Some(layer) = current.layers.get(index) {
                    for depth in 1..path.len() {
                        if let Some(field) =
                            path.get(..depth).and_then(|p| tree::field_at(layer, p))
                        {
                            self.expanded.insert(field.key);
                        }
                    }
                    let rows = tree::rows(layer, &self.expanded);
                    self.field = rows.iter().position(|row| row.path == path).unwrap_or(0);
                }
                self.field_key = self.selected_field().map(|(key, _)| key);
                let tree_rows = self.tree_rows_visible();
                if self.field < self.tree_top || self.field >= self.tree_top + tree_rows {
                    self.tree_top = self.field.saturating_sub(tree_rows / 2);
                }
            }
        }
        self.hex_cursor = Some(offset);
        self.scroll_hex_to_cursor();
    }

    // ----- connection views -------------------------------------------------

    /// The TCP connection of the selected frame.
    pub fn stream(&self) -> Option<u32> {
        self.selected_row()?.tcp.as_ref().map(|tcp| tcp.stream)
    }

    /// The messages of the selected frame's connection (all messages when
    /// the frame has none).
    pub fn chat_messages(&self) -> Vec<&WsMessage> {
        let stream = self.stream();
        let all = self.session.messages();
        // A capture may hold millions of messages, and a key may ask for them
        // several times: where the connection's are is found once per change.
        let key = (
            stream,
            all.len(),
            self.session.n_evicted(),
            self.session.progress().done,
        );
        let mut cache = self.chat_index.borrow_mut();
        let positions = match cache.as_ref() {
            Some((kept, positions)) if *kept == key => positions,
            _ => {
                let positions = all
                    .iter()
                    .enumerate()
                    .filter(|(_, message)| Some(message.stream) == stream)
                    .map(|(position, _)| position)
                    .collect();
                &cache.insert((key, positions)).1
            }
        };
        if positions.is_empty() {
            all.iter().collect()
        } else {
            positions
                .iter()
                .filter_map(|&position| all.get(position))
                .collect()
        }
    }

    fn load_handshake(&mut self) {
        self.handshake = self
            .stream()
            .and_then(|stream| self.session.handshake_frame(stream))
            .and_then(|frame| self.session.dissect(frame));
    }

    /// How many steps the encapsulation walk of the selected frame has.
    pub fn walk_steps(&self) -> usize {
        self.current.as_ref().map_or(1, |d| walk_steps(d))
    }

    // ----- events -----------------------------------------------------------

    /// Handles a key press.
    pub fn key(&mut self, key: KeyEvent) {
        if let Some(Overlay::Search(text)) = &mut self.overlay {
            match key.code {
                KeyCode::Esc => self.overlay = None,
                KeyCode::Enter => {
                    let query = text.trim().to_string();
                    self.overlay = None;
                    if !query.is_empty() {
                        self.search = Some(query);
                        self.find(true);
                    }
                }
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) if text.chars().count() < 200 => text.push(c),
                _ => {}
            }
            return;
        }
        if self.overlay == Some(Overlay::Answer) {
            self.answer_key(key);
            return;
        }
        if self.picker.is_some() {
            self.picker_key(key);
            return;
        }
        if self.lesson.is_some() && self.overlay.is_none() {
            // A value question takes digits as the start of an answer.
            if let KeyCode::Char(c) = key.code {
                let wants_value = self.lesson.as_ref().is_some_and(LessonRun::wants_value);
                if wants_value && (c.is_ascii_digit() || c == '-') {
                    if let Some(run) = self.lesson.as_mut() {
                        run.input = c.to_string();
                    }
                    self.overlay = Some(Overlay::Answer);
                    return;
                }
            }
            // A presenter's clicker sends arrows, page keys or Space.
            if self.presenter {
                let step = match key.code {
                    KeyCode::Right | KeyCode::PageDown | KeyCode::Char(' ') | KeyCode::Enter => {
                        Some(Action::NextStep)
                    }
                    KeyCode::Left | KeyCode::PageUp | KeyCode::Backspace => Some(Action::PrevStep),
                    _ => None,
                };
                if let Some(action) = step {
                    self.update(action);
                    return;
                }
            }
        }
        if let Some(action) = keymap::action(key) {
            self.update(action);
        }
    }

    fn answer_key(&mut self, key: KeyEvent) {
        let Some(run) = self.lesson.as_mut() else {
            self.overlay = None;
            return;
        };
        match key.code {
            KeyCode::Esc => {
                run.input.clear();
                self.overlay = None;
            }
            KeyCode::Enter => {
                run.submit();
                run.input.clear();
                self.overlay = None;
            }
            KeyCode::Backspace => {
                run.input.pop();
            }
            KeyCode::Char(c) if run.input.chars().count() < 100 && !c.is_control() => {
                run.input.push(c);
            }
            _ => {}
        }
    }

    fn picker_key(&mut self, key: KeyEvent) {
        let count = self.lessons.len();
        let Some(picker) = self.picker.as_mut() else {
            return;
        };
        match keymap::action(key) {
            Some(Action::Down) => {
                picker.selected = (picker.selected + 1).min(count.saturating_sub(1))
            }
            Some(Action::Up) => picker.selected = picker.selected.saturating_sub(1),
            Some(Action::Home) => picker.selected = 0,
            Some(Action::End) => picker.selected = count.saturating_sub(1),
            Some(Action::Choose(n)) => {
                picker.selected = usize::from(n)
                    .saturating_sub(1)
                    .min(count.saturating_sub(1));
            }
            Some(Action::Enter) => {
                if let Some(lesson) = self.lessons.get(picker.selected).cloned() {
                    self.open_lesson(lesson);
                }
            }
            Some(Action::Back) => self.picker = None,
            Some(Action::Quit) => self.quit = true,
            Some(Action::Theme) => self.update(Action::Theme),
            _ => {}
        }
    }

    // ----- lessons ----------------------------------------------------------

    /// Opens a lesson: its capture (unless it is the one open) and its
    /// first step.
    pub fn open_lesson(&mut self, lesson: Lesson) {
        let path = lesson.capture_path();
        let same =
            std::fs::canonicalize(&path).ok() == std::fs::canonicalize(self.session.path()).ok();
        if !same {
            match Session::open(&path, SessionLimits::default()) {
                Ok(session) => self.replace_session(session),
                Err(err) => {
                    self.notice = Some(err.to_string());
                    return;
                }
            }
        }
        self.picker = None;
        self.lesson = Some(LessonRun::new(lesson));
        self.apply_step();
    }

    /// Starts over on another capture.
    fn replace_session(&mut self, session: Session) {
        self.session = session;
        self.selected = 0;
        self.list_top = 0;
        self.follow = None;
        self.follow_rows.clear();
        self.current = None;
        self.handshake = None;
        self.marked.clear();
        self.mode = Mode::Main;
        self.field_key = None;
        self.tick();
    }

    /// Makes the screen show the current step: its frame, connection,
    /// message, view, layer and field.
    fn apply_step(&mut self) {
        let Some(run) = self.lesson.as_ref() else {
            return;
        };
        let Some(step) = run.step().cloned() else {
            return;
        };
        let frame = step_frame(&run.lesson, run.index(), &self.session);
        self.step_pending = !self.session.progress().done;
        // The connection to follow, shown alone in the list.
        if step.follow != self.follow {
            self.follow = None;
            self.follow_rows.clear();
            if let Some(stream) = step.follow {
                self.follow_rows = self.session.stream_frames(stream);
                self.follow = Some(stream);
                self.list_top = 0;
            }
        }
        self.marked = step
            .message
            .and_then(|m| m.checked_sub(1))
            .and_then(|m| self.session.messages().get(m))
            .map(|m| m.frames.clone())
            .unwrap_or_default();
        if let Some(frame) = frame {
            self.select_frame(frame);
        }
        self.mode = match step.view {
            View::Stack => Mode::Main,
            View::Ladder => Mode::Ladder,
            View::Messages => Mode::Messages,
            View::Unmask => Mode::Unmask,
            View::Handshake => Mode::Handshake,
            View::Walk => Mode::Walk,
            View::Compare => Mode::Compare,
        };
        self.walk_step = 0;
        if self.mode == Mode::Handshake {
            self.load_handshake();
        }
        if self.mode == Mode::Messages {
            if let Some(message) = step.message {
                let all = self.session.messages();
                let target = message.checked_sub(1).and_then(|m| all.get(m)).cloned();
                self.chat_selected = target
                    .and_then(|t| {
                        self.chat_messages()
                            .iter()
                            .position(|m| m.frames == t.frames && m.direction == t.direction)
                    })
                    .unwrap_or(0);
            }
        }
        let Some(current) = self.current.clone() else {
            return;
        };
        let layer = step
            .layer
            .and_then(|osi| layer_index(&current, osi, step.field.as_deref()))
            .or_else(|| {
                let key = step.field.as_deref()?;
                current.layers.iter().rposition(|l| l.find(key).is_some())
            });
        self.focus = Pane::Stack;
        if let Some(layer) = layer {
            self.set_layer(layer);
        }
        if let Some(key) = step.field.as_deref() {
            self.select_field_key(key);
            self.focus = Pane::Tree;
        }
    }

    /// Selects a field of the focused layer by key, unfolding its parents.
    fn select_field_key(&mut self, key: &str) {
        let Some(layer) = self.focused_layer().cloned() else {
            return;
        };
        let Some(path) = field_path(&layer.fields, key) else {
            return;
        };
        for depth in 1..path.len() {
            if let Some(field) = path.get(..depth).and_then(|p| tree::field_at(&layer, p)) {
                self.expanded.insert(field.key);
            }
        }
        let rows = tree::rows(&layer, &self.expanded);
        if let Some(position) = rows.iter().position(|row| row.path == path) {
            self.field = position;
            self.sync_field();
        }
    }

    fn step_to(&mut self, forward: bool) {
        let s = strings(self.lang);
        let Some(run) = self.lesson.as_mut() else {
            self.notice = Some(s.lesson_done.into());
            return;
        };
        let moved = if forward { run.forward() } else { run.back() };
        if moved {
            self.overlay = None;
            self.narration_scroll = 0;
            self.apply_step();
        } else {
            self.notice = Some(if forward { s.last_step } else { s.first_step }.into());
        }
    }

    /// Handles a mouse click or wheel turn.
    pub fn mouse(&mut self, event: MouseEvent) {
        let areas = self.areas();
        let at = |area: Option<Rect>| {
            area.filter(|a| a.contains(ratatui::layout::Position::new(event.column, event.row)))
        };
        let scroll = match event.kind {
            MouseEventKind::ScrollDown => Some(Action::Down),
            MouseEventKind::ScrollUp => Some(Action::Up),
            _ => None,
        };
        let clicked = matches!(event.kind, MouseEventKind::Down(MouseButton::Left));
        // A click or the wheel ends a search under way, as a key does.
        if clicked || scroll.is_some() {
            self.searching = None;
        }
        if self.overlay.is_some() {
            if clicked {
                self.overlay = None;
            }
            return;
        }
        let panes = [
            (Pane::List, Some(areas.list)),
            (Pane::Stack, areas.stack),
            (Pane::Tree, areas.tree),
            (Pane::Hex, areas.hex),
        ];
        if at(areas.narration).is_some() {
            match event.kind {
                MouseEventKind::ScrollDown => self.update(Action::NarrationDown),
                MouseEventKind::ScrollUp => self.update(Action::NarrationUp),
                _ => {}
            }
            return;
        }
        if let Some(area) = at(areas.mode) {
            if let Some(action) = scroll {
                self.update(action);
            } else if clicked && self.mode == Mode::Ladder {
                let _ = area;
            }
            return;
        }
        let Some((pane, area)) = panes
            .iter()
            .find_map(|(pane, area)| at(*area).map(|area| (*pane, area)))
        else {
            return;
        };
        self.focus = pane;
        if let Some(action) = scroll {
            self.update(action);
            return;
        }
        if !clicked {
            return;
        }
        let inner = inner(area);
        match pane {
            Pane::List => {
                if let Some(line) = event.row.checked_sub(inner.y + 1) {
                    self.select_index(self.list_top + usize::from(line));
                }
            }
            Pane::Stack => {
                if let Some(current) = self.current.clone() {
                    let view = stack::StackView {
                        dissection: &current,
                        focused: self.layer,
                        lang: self.lang,
                    };
                    if let Some(layer) = stack::layer_at(&view, inner, &self.theme, event.row) {
                        self.set_layer(layer);
                    }
                }
            }
            Pane::Tree => {
                if let Some(line) = event.row.checked_sub(inner.y) {
                    let index = self.tree_top + usize::from(line);
                    let count = self
                        .focused_layer()
                        .map_or(0, |layer| tree::rows(layer, &self.expanded).len());
                    if index < count {
                        if index == self.field {
                            self.update(Action::Enter);
                        } else {
                            self.field = index;
                            self.sync_field();
                        }
                    }
                }
            }
            Pane::Hex => {
                if let Some(offset) = hex::offset_at(inner, self.hex_top, event.column, event.row) {
                    self.select_byte(offset);
                }
            }
        }
    }

    fn set_layer(&mut self, layer: usize) {
        self.layer = layer;
        self.restore_field();
    }

    /// Applies one action.
    pub fn update(&mut self, action: Action) {
        self.notice = None;
        // Any key ends a search under way (n and N start another).
        self.searching = None;
        if self.overlay == Some(Overlay::Help) {
            self.overlay = None;
            if matches!(action, Action::Help | Action::Back) {
                return;
            }
        }
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.overlay = Some(Overlay::Help),
            Action::Search => self.overlay = Some(Overlay::Search(String::new())),
            Action::SearchNext => self.find(true),
            Action::SearchPrev => self.find(false),
            Action::Theme => {
                self.theme = self.theme.next();
                self.notice = Some(fill(
                    strings(self.lang).n_theme,
                    &[("name", &self.theme.name)],
                ));
            }
            Action::Back => {
                self.mode = Mode::Main;
                self.marked.clear();
            }
            Action::FocusNext | Action::FocusPrev => {
                let index = Pane::ALL.iter().position(|p| *p == self.focus).unwrap_or(0);
                let step = if action == Action::FocusNext {
                    1
                } else {
                    Pane::ALL.len() - 1
                };
                self.focus = Pane::ALL
                    .get((index + step) % Pane::ALL.len())
                    .copied()
                    .unwrap_or(Pane::List);
                if self.mode != Mode::Main {
                    self.mode = Mode::Main;
                }
            }
            Action::NextFrame => self.select_index(self.selected.saturating_add(1)),
            Action::PrevFrame => self.select_index(self.selected.saturating_sub(1)),
            Action::NextInConnection | Action::PrevInConnection => {
                self.step_in_connection(action == Action::NextInConnection);
            }
            Action::Follow => self.toggle_follow(),
            Action::PlayPause => {
                self.playing = !self.playing;
                self.last_step = Instant::now();
                let s = strings(self.lang);
                let pace = format!("{:.2}", self.pace.as_secs_f64());
                self.notice = Some(if self.playing {
                    fill(s.n_playing, &[("s", &pace)])
                } else {
                    s.n_paused.into()
                });
            }
            Action::Faster | Action::Slower => {
                let ms = u64::try_from(self.pace.as_millis()).unwrap_or(1000);
                let ms = if action == Action::Faster {
                    (ms * 2 / 3).max(100)
                } else {
                    (ms * 3 / 2).min(10_000)
                };
                self.pace = Duration::from_millis(ms);
                let pace = format!("{:.2}", self.pace.as_secs_f64());
                self.notice = Some(fill(strings(self.lang).n_pace, &[("s", &pace)]));
            }
            Action::Ladder => self.toggle_mode(Mode::Ladder),
            Action::Messages => {
                self.toggle_mode(Mode::Messages);
                if self.mode == Mode::Messages {
                    let number = self.selected_number();
                    self.chat_selected = self
                        .chat_messages()
                        .iter()
                        .position(|m| m.frames.last().copied() >= number)
                        .unwrap_or(0);
                }
            }
            Action::Unmask => {
                self.toggle_mode(Mode::Unmask);
                if let Some(index) = self.current.as_ref().and_then(|d| {
                    d.layers
                        .iter()
                        .position(|layer| layer.protocol == Protocol::WebSocket)
                }) {
                    if self.focused_layer().map(|l| l.protocol) != Some(Protocol::WebSocket) {
                        self.layer = index;
                        self.restore_field();
                    }
                }
            }
            Action::Handshake => {
                self.toggle_mode(Mode::Handshake);
                self.load_handshake();
            }
            Action::Walk => {
                self.toggle_mode(Mode::Walk);
                self.walk_step = 0;
            }
            Action::Compare => self.toggle_mode(Mode::Compare),
            Action::JumpSource => self.jump_source(),
            Action::NextStep => self.step_to(true),
            Action::PrevStep => self.step_to(false),
            Action::Choose(n) => {
                if let Some(run) = self.lesson.as_mut() {
                    run.choose(usize::from(n));
                }
            }
            Action::AnswerPrompt => {
                if self.lesson.as_ref().is_some_and(LessonRun::wants_value) {
                    self.overlay = Some(Overlay::Answer);
                }
            }
            Action::Lessons => {
                let selected = self
                    .lesson
                    .as_ref()
                    .and_then(|run| self.lessons.iter().position(|l| l.file == run.lesson.file))
                    .unwrap_or(0);
                self.picker = Some(Picker { selected });
            }
            Action::Presenter => {
                if self.lesson.is_some() {
                    self.presenter = !self.presenter;
                }
            }
            Action::NarrationDown => self.narration_scroll = (self.narration_scroll + 3).min(200),
            Action::NarrationUp => self.narration_scroll = self.narration_scroll.saturating_sub(3),
            Action::FollowLive => self.follow_live(),
            Action::PauseLive => self.pause_live(),
            Action::SaveLive => self.save_live(),
            Action::Enter => self.enter(),
            Action::Down
            | Action::Up
            | Action::Left
            | Action::Right
            | Action::PageDown
            | Action::PageUp
            | Action::Home
            | Action::End => self.motion(action),
        }
        if action == Action::End && self.focus == Pane::List && self.mode == Mode::Main {
            // The end of a live list is where following happens.
            if let Some(live) = self.live.as_mut() {
                live.following = true;
            }
        }
    }

    fn toggle_mode(&mut self, mode: Mode) {
        self.mode = if self.mode == mode { Mode::Main } else { mode };
    }

    fn toggle_follow(&mut self) {
        if self.follow.is_some() {
            let number = self.selected_number();
            self.follow = None;
            self.follow_rows.clear();
            if let Some(number) = number {
                self.select_frame(number);
            }
            self.notice = Some(strings(self.lang).n_all_frames.into());
            return;
        }
        let Some(stream) = self.stream() else {
            self.notice = Some(strings(self.lang).n_no_tcp.into());
            return;
        };
        let number = self.selected_number();
        self.follow_rows = self.session.stream_frames(stream);
        self.follow = Some(stream);
        self.list_top = 0;
        let position = number
            .and_then(|n| self.follow_rows.iter().position(|f| *f == n))
            .unwrap_or(0);
        self.select_index(position);
        let count = self.follow_rows.len();
        self.notice = Some(fill(
            strings(self.lang).n_following,
            &[("n", &stream), ("count", &count)],
        ));
    }

    fn step_in_connection(&mut self, forward: bool) {
        let (Some(stream), Some(number)) = (self.stream(), self.selected_number()) else {
            return;
        };
        let frames = self.session.stream_frames(stream);
        let next = if forward {
            frames.iter().find(|f| **f > number)
        } else {
            frames.iter().rev().find(|f| **f < number)
        };
        if let Some(next) = next.copied() {
            self.select_frame(next);
        }
    }

    /// Starts a search for the query from the selected row.
    fn find(&mut self, forward: bool) {
        let Some(query) = self.search.clone() else {
            self.notice = Some(strings(self.lang).n_no_search.into());
            return;
        };
        let needle = query.to_lowercase();
        self.searching = Some(Searching {
            number: needle.parse().ok(),
            needle,
            query,
            forward,
            from: self.selected,
            done: 0,
        });
        self.go_on_searching();
    }

    /// Goes on with the search under way, within the key's budget (see
    /// [`App::replay_budget`]): a search through millions of rows goes on
    /// at the next ticks, the status line saying how far it came.
    fn go_on_searching(&mut self) {
        let Some(mut search) = self.searching.take() else {
            return;
        };
        let deadline = self
            .replay_budget
            .and_then(|budget| Instant::now().checked_add(budget));
        // Rows keep arriving while a file is listed: the length is read anew.
        let len = self.visible_len();
        // Without a copy per row: a search may go through millions of them.
        let mut buffer = String::new();
        let mut matches = |row: &Row| {
            contains_folded(row.info_in(&mut buffer), &search.needle)
                || contains_folded(&row.src, &search.needle)
                || contains_folded(&row.dst, &search.needle)
                || row.protocol.short_name() == search.needle
                || search.number == Some(row.number.0)
        };
        let mut found = None;
        let mut looked = 0usize;
        while search.done < len {
            // The clock is read every few thousand rows: a row takes nanoseconds.
            if looked == 4096 {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                looked = 0;
            }
            looked += 1;
            search.done += 1;
            let step = search.done;
            let index = if search.forward {
                (search.from + step) % len
            } else {
                (search.from + len - step % len) % len
            };
            if self.visible_row(index).is_some_and(&mut matches) {
                found = Some(index);
                break;
            }
        }
        let query = &search.query;
        if let Some(index) = found {
            self.select_index(index);
            self.notice = Some(fill(
                strings(self.lang).n_found,
                &[("q", query), ("n", &(index + 1))],
            ));
        } else if search.done < len {
            let percent = search.done.saturating_mul(100) / len;
            self.notice = Some(fill(
                strings(self.lang).n_searching,
                &[("q", query), ("pct", &percent)],
            ));
            self.searching = Some(search);
        } else {
            self.notice = Some(fill(strings(self.lang).n_not_found, &[("q", query)]));
        }
    }

    fn jump_source(&mut self) {
        let Some(current) = self.current.clone() else {
            return;
        };
        let source = self.hex_source();
        let frames = current
            .sources
            .get(source)
            .map(|s| s.frames.clone())
            .unwrap_or_default();
        if frames.is_empty() {
            self.notice = Some(strings(self.lang).n_all_here.into());
            return;
        }
        let index = self.jump_index % frames.len();
        if let Some(frame) = frames.get(index).copied() {
            let total = frames.len();
            self.select_frame(frame);
            self.notice = Some(fill(
                strings(self.lang).n_part,
                &[("frame", &frame), ("i", &(index + 1)), ("total", &total)],
            ));
            self.jump_index = index + 1;
        }
    }

    fn enter(&mut self) {
        match self.mode {
            Mode::Messages => {
                let Some(message) = self
                    .chat_messages()
                    .get(self.chat_selected)
                    .map(|m| (*m).clone())
                else {
                    return;
                };
                self.mode = Mode::Main;
                self.marked = message.frames.clone();
                if let Some(first) = message.frames.first().copied() {
                    self.select_frame(first);
                }
                let list: Vec<String> = message.frames.iter().map(|f| f.to_string()).collect();
                self.notice = Some(fill(
                    strings(self.lang).n_carried,
                    &[("list", &list.join(", "))],
                ));
            }
            Mode::Compare => self.enter_technique(),
            Mode::Main if self.focus == Pane::Tree || self.focus == Pane::Stack => {
                let key = self.focused_layer().and_then(|layer| {
                    tree::rows(layer, &self.expanded)
                        .get(self.field)
                        .filter(|row| !row.field.children.is_empty())
                        .map(|row| row.field.key)
                });
                if let Some(key) = key {
                    if !self.expanded.remove(key) {
                        self.expanded.insert(key);
                    }
                }
                self.focus = Pane::Tree;
            }
            _ => {}
        }
    }

    /// Leaves the compare pane for the highlighted technique's first frame,
    /// marking the frames that completed a delivery.
    fn enter_technique(&mut self) {
        let Some(summary) = self
            .session
            .delivery()
            .and_then(|r| r.techniques.get(self.compare_selected))
            .cloned()
        else {
            return;
        };
        self.mode = Mode::Main;
        self.marked = summary.messages.iter().map(|m| m.frame).collect();
        self.marked.dedup();
        self.select_frame(summary.first_frame);
        self.notice = Some(format!(
            "{}: frames {}–{}; • marks the {} frames that completed a delivery",
            summary.technique.name(),
            summary.first_frame,
            summary.last_frame,
            self.marked.len()
        ));
    }

    fn motion(&mut self, action: Action) {
        let page = self.list_rows().max(2) - 1;
        match self.mode {
            Mode::Ladder => {
                match action {
                    Action::Down | Action::Right => self.step_in_connection(true),
                    Action::Up | Action::Left => self.step_in_connection(false),
                    _ => self.list_motion(action, page),
                }
                return;
            }
            Mode::Messages => {
                let count = self.chat_messages().len();
                self.chat_selected = match action {
                    Action::Down => self.chat_selected + 1,
                    Action::Up => self.chat_selected.saturating_sub(1),
                    Action::PageDown => self.chat_selected + page,
                    Action::PageUp => self.chat_selected.saturating_sub(page),
                    Action::Home => 0,
                    Action::End => count,
                    _ => self.chat_selected,
                }
                .min(count.saturating_sub(1));
                return;
            }
            Mode::Unmask => {
                self.unmask_scroll = match action {
                    Action::Down => self.unmask_scroll + 1,
                    Action::Up => self.unmask_scroll.saturating_sub(1),
                    Action::PageDown => self.unmask_scroll + page,
                    Action::PageUp => self.unmask_scroll.saturating_sub(page),
                    Action::Home => 0,
                    _ => self.unmask_scroll,
                };
                if matches!(action, Action::Left | Action::Right) {
                    self.list_motion(action, page);
                }
                return;
            }
            Mode::Walk => {
                let steps = self.walk_steps();
                self.walk_step = match action {
                    Action::Right | Action::Down => {
                        (self.walk_step + 1).min(steps.saturating_sub(1))
                    }
                    Action::Left | Action::Up => self.walk_step.saturating_sub(1),
                    Action::Home => 0,
                    Action::End => steps.saturating_sub(1),
                    _ => self.walk_step,
                };
                return;
            }
            Mode::Handshake => {
                self.list_motion(action, page);
                return;
            }
            Mode::Compare => {
                let count = self.session.delivery().map_or(0, |r| r.techniques.len());
                self.compare_selected = match action {
                    Action::Down | Action::Right => self.compare_selected + 1,
                    Action::Up | Action::Left => self.compare_selected.saturating_sub(1),
                    Action::Home => 0,
                    Action::End => count,
                    _ => self.compare_selected,
                }
                .min(count.saturating_sub(1));
                return;
            }
            Mode::Main => {}
        }
        match self.focus {
            Pane::List => self.list_motion(action, page),
            Pane::Stack => self.layer_motion(action),
            Pane::Tree => self.tree_motion(action),
            Pane::Hex => self.hex_motion(action),
        }
    }

    fn list_motion(&mut self, action: Action, page: usize) {
        let target = match action {
            Action::Down | Action::Right => self.selected.saturating_add(1),
            Action::Up | Action::Left => self.selected.saturating_sub(1),
            Action::PageDown => self.selected.saturating_add(page),
            Action::PageUp => self.selected.saturating_sub(page),
            Action::Home => 0,
            Action::End => self.visible_len().saturating_sub(1),
            _ => self.selected,
        };
        if target != self.selected {
            self.select_index(target);
        }
    }

    fn layer_motion(&mut self, action: Action) {
        let count = self.current.as_ref().map_or(0, |d| d.layers.len());
        if count == 0 {
            return;
        }
        // The stack is drawn top (L7) to bottom (L1): down goes to a lower layer.
        let layer = match action {
            Action::Down | Action::Left => self.layer.saturating_sub(1),
            Action::Up | Action::Right => (self.layer + 1).min(count - 1),
            Action::Home => count - 1,
            Action::End => 0,
            _ => self.layer,
        };
        self.set_layer(layer);
    }

    fn tree_motion(&mut self, action: Action) {
        let Some(layer) = self.focused_layer() else {
            return;
        };
        let rows = tree::rows(layer, &self.expanded);
        let count = rows.len();
        if count == 0 {
            return;
        }
        let current = rows.get(self.field).map(|row| {
            (
                row.field.key,
                row.expanded,
                !row.field.children.is_empty(),
                row.path.clone(),
            )
        });
        let page = self.tree_rows_visible();
        match action {
            Action::Down => self.field = (self.field + 1).min(count - 1),
            Action::Up => self.field = self.field.saturating_sub(1),
            Action::PageDown => self.field = (self.field + page).min(count - 1),
            Action::PageUp => self.field = self.field.saturating_sub(page),
            Action::Home => self.field = 0,
            Action::End => self.field = count - 1,
            Action::Right => {
                if let Some((key, false, true, _)) = current {
                    self.expanded.insert(key);
                } else {
                    self.layer_motion(Action::Up);
                    return;
                }
            }
            Action::Left => match current {
                Some((key, true, _, _)) => {
                    self.expanded.remove(key);
                }
                Some((_, _, _, path)) if path.len() > 1 => {
                    let parent = path.get(..path.len() - 1).map(<[usize]>::to_vec);
                    self.field = rows
                        .iter()
                        .position(|row| Some(&row.path) == parent.as_ref())
                        .unwrap_or(0);
                }
                _ => {
                    self.layer_motion(Action::Down);
                    return;
                }
            },
            _ => {}
        }
        self.sync_field();
    }

    fn hex_motion(&mut self, action: Action) {
        let len = self
            .current
            .as_ref()
            .and_then(|d| d.sources.get(self.hex_source()))
            .map_or(0, |s| s.bytes.len());
        if len == 0 {
            return;
        }
        let per_line = hex::bytes_per_line(self.hex_area().width.saturating_sub(2));
        let cursor = self.hex_cursor.unwrap_or(0);
        let target = match action {
            Action::Right => cursor + 1,
            Action::Left => cursor.saturating_sub(1),
            Action::Down => cursor + per_line,
            Action::Up => cursor.saturating_sub(per_line),
            Action::PageDown => cursor + per_line * 8,
            Action::PageUp => cursor.saturating_sub(per_line * 8),
            Action::Home => 0,
            Action::End => len - 1,
            _ => cursor,
        }
        .min(len - 1);
        self.select_byte(target);
    }
}

// ----- live capture -----------------------------------------------------

impl App {
    /// Frames that arrived since the user stopped following the newest.
    pub fn new_frames(&self) -> u64 {
        self.live
            .as_ref()
            .filter(|live| !live.following)
            .map_or(0, |live| {
                self.session.last_number().saturating_sub(live.anchor)
            })
    }

    fn stop_following(&mut self) {
        let last = self.session.last_number();
        if let Some(live) = self.live.as_mut() {
            if live.following {
                live.following = false;
                live.anchor = last;
            }
        }
    }

    /// After new frames: keeps the selection on its frame while the window
    /// moves on (the first kept frame when it left), and selects the
    /// newest frame while following.
    fn live_tick(&mut self) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let old_first = live.seen_evicted.saturating_add(1);
        live.seen_evicted = self.session.n_evicted();
        let following = live.following;
        let old_number = match self.follow {
            Some(_) => self.follow_rows.get(self.selected).copied(),
            None => Some(FrameNumber(old_first.saturating_add(self.selected as u64))),
        };
        if let Some(stream) = self.follow {
            self.follow_rows = self.session.stream_frames(stream);
        }
        let position = old_number.and_then(|number| match self.follow {
            Some(_) => self.follow_rows.iter().position(|n| *n == number),
            None => self
                .session
                .index_of(number)
                .filter(|index| *index < self.session.rows().len()),
        });
        match position {
            Some(index) => {
                let moved = self.selected.saturating_sub(index);
                self.list_top = self.list_top.saturating_sub(moved);
                self.selected = index;
            }
            None => {
                self.selected = 0;
                self.list_top = 0;
                if !following {
                    self.reload();
                }
            }
        }
        if following {
            let last = self.visible_len().saturating_sub(1);
            if self.selected != last || self.current.is_none() {
                self.select_index(last);
            }
            if let Some(live) = self.live.as_mut() {
                live.following = true;
            }
        }
    }

    fn follow_live(&mut self) {
        if self.live.is_none() {
            self.notice = Some("F follows the newest frame of a live capture".into());
            return;
        }
        self.select_index(self.visible_len().saturating_sub(1));
        if let Some(live) = self.live.as_mut() {
            live.following = true;
        }
        self.notice = Some("following the newest frame".into());
    }

    fn pause_live(&mut self) {
        let Some(live) = self.live.as_mut() else {
            self.notice = Some("z pauses the list of a live capture".into());
            return;
        };
        live.paused = !live.paused;
        self.notice = Some(if live.paused {
            "paused: the list holds still; capture goes on and new frames wait (z resumes)".into()
        } else {
            "resumed".into()
        });
    }

    /// Writes the kept frames to `osiscope-IFACE-DATE-TIME.pcapng` in the
    /// working folder and says where.
    fn save_live(&mut self) {
        let Some(status) = self.session.live() else {
            self.notice = Some("S saves a live capture; this capture is a file already".into());
            return;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let name = save_name(
            &status.interface,
            Timestamp {
                secs: i64::try_from(now.as_secs()).unwrap_or(0),
                nanos: now.subsec_nanos(),
            },
        );
        let folder = std::env::current_dir().unwrap_or_default();
        let mut path = folder.join(format!("{name}.pcapng"));
        for n in 2..100 {
            if !path.exists() {
                break;
            }
            path = folder.join(format!("{name}-{n}.pcapng"));
        }
        let first = self.session.n_evicted().saturating_add(1);
        let last = self.session.last_number();
        self.notice = Some(match self.session.save(&path) {
            Ok(0) => "nothing to save yet".into(),
            Ok(n) => format!("saved {n} frames ({first}–{last}) to {}", path.display()),
            Err(err) => err.to_string(),
        });
    }
}

/// A file name for saved frames: `osiscope-IFACE-YYYYMMDD-HHMMSS` (UTC),
/// with characters a file name should not hold replaced.
pub fn save_name(interface: &str, now: Timestamp) -> String {
    let iface: String = interface
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let utc = crate::view::time::utc_string(now);
    let mut parts = utc.split_whitespace();
    let date: String = parts
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let time: String = parts
        .next()
        .unwrap_or_default()
        .chars()
        .take(8)
        .filter(char::is_ascii_digit)
        .collect();
    format!("osiscope-{iface}-{date}-{time}")
}

/// The inside of a bordered pane.
pub fn inner(area: Rect) -> Rect {
    Rect::new(
        area.x.saturating_add(1),
        area.y.saturating_add(1),
        area.width.saturating_sub(2),
        area.height.saturating_sub(2),
    )
}

/// The path to the first field with a key, depth first.
fn field_path(fields: &[Field], key: &str) -> Option<Vec<usize>> {
    for (index, field) in fields.iter().enumerate() {
        if field.key == key {
            return Some(vec![index]);
        }
        if let Some(mut path) = field_path(&field.children, key) {
            path.insert(0, index);
            return Some(path);
        }
    }
    None
}

/// The path to the smallest field of a layer holding a byte.
fn deepest_field(layer: &Layer, offset: usize) -> Option<Vec<usize>> {
    fn walk(
        fields: &[crate::dissect::Field],
        offset: usize,
        path: &mut Vec<usize>,
        best: &mut Option<(usize, Vec<usize>)>,
    ) {
        for (index, field) in fields.iter().enumerate() {
            path.push(index);
            if field.span.contains(offset) {
                let len = field.span.len();
                if best.as_ref().is_none_or(|(best_len, _)| len <= *best_len) {
                    *best = Some((len, path.clone()));
                }
            }
            walk(&field.children, offset, path, best);
            path.pop();
        }
    }
    let mut best = None;
    walk(&layer.fields, offset, &mut Vec::new(), &mut best);
    best.map(|(_, path)| path)
}

/// The encapsulation walk's steps: each header added going down, then
/// each removed going up.
pub fn walk_steps(dissection: &Dissection) -> usize {
    crate::view::tui::panes::walk::steps(dissection)
}

/// Whether `text` contains `needle` (already lower case), ignoring case:
/// byte by byte for an ASCII needle, through a lower-case copy otherwise.
fn contains_folded(text: &str, needle: &str) -> bool {
    if !needle.is_ascii() {
        return text.to_lowercase().contains(needle);
    }
    let needle = needle.as_bytes();
    needle.is_empty()
        || text
            .as_bytes()
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::contains_folded;

    #[test]
    fn search_ignores_case_without_copying_ascii() {
        assert!(contains_folded("GET /Chat HTTP/1.1", "chat"));
        assert!(contains_folded("WebSocket Text [FIN]", "text [fin]"));
        assert!(!contains_folded("10.77.0.1", "10.77.0.3"));
        assert!(contains_folded("anything", ""));
        assert!(contains_folded("text \"Grüße\"", "grüße"));
        assert!(contains_folded("text \"GRÜSSE\" こんにちは", "こんにちは"));
        assert!(!contains_folded("short", "longer than it"));
    }
}
