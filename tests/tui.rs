//! The terminal UI driven through its app model and drawn into ratatui's
//! `TestBackend`: snapshots of every screen at 80×24 and 120×40, and the
//! behaviour behind them (bytes and fields linked both ways, stepping,
//! following, searching, jumping from a message to its frames).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use osiscope::dissect::{keys, FrameNumber};
use osiscope::session::{Session, SessionLimits};
use osiscope::view::tui::app::App;
use osiscope::view::tui::keymap::Action;
use osiscope::view::tui::layout::{Mode, Pane};
use osiscope::view::tui::theme::Theme;
use osiscope::view::tui::ui;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

fn app(capture: &str, width: u16, height: u16) -> App {
    let session =
        Session::open_blocking(&common::capture(capture), SessionLimits::default()).unwrap();
    let mut app = App::new(
        session,
        Theme::named("mono").unwrap(),
        Rect::new(0, 0, width, height),
    );
    // Screens are compared whole: each frame is decoded before it is drawn.
    app.replay_budget = None;
    app
}

fn screen(app: &App) -> TestBackend {
    let mut terminal = Terminal::new(TestBackend::new(app.size.width, app.size.height)).unwrap();
    terminal.draw(|frame| ui::draw(frame, app)).unwrap();
    terminal.backend().clone()
}

fn text(app: &App) -> String {
    screen(app).to_string()
}

/// Focuses the first layer of a protocol (by its short name).
fn focus_layer(app: &mut App, short_name: &str) {
    let index = app
        .current
        .as_ref()
        .unwrap()
        .layers
        .iter()
        .position(|layer| layer.protocol.short_name() == short_name)
        .unwrap();
    app.focus = Pane::Stack;
    while app.layer < index {
        app.update(Action::Up);
    }
    while app.layer > index {
        app.update(Action::Down);
    }
}

/// Moves the tree selection to the field with `key` in the focused layer.
fn select_field(app: &mut App, key: &str) {
    app.focus = Pane::Tree;
    app.update(Action::Home);
    for _ in 0..100 {
        if app.selected_field().map(|(k, _)| k) == Some(key) {
            return;
        }
        app.update(Action::Down);
    }
    panic!("field {key} not found");
}

/// ws-basic: frame 8 is the client's first text frame, masked.
const TEXT_FRAME: FrameNumber = FrameNumber(8);

#[test]
fn main_screen_with_a_selected_field() {
    for (w, h) in [(120, 40), (80, 24)] {
        let mut app = app("ws-basic.pcapng", w, h);
        app.select_frame(TEXT_FRAME);
        focus_layer(&mut app, "websocket");
        select_field(&mut app, keys::websocket::MASKING_KEY);
        let (_, span) = app.selected_field().unwrap();
        assert_eq!(app.hex_cursor, Some(span.start));
        if w == 80 {
            // Small terminals show one pane at a time: the stack, then the bytes.
            app.focus = Pane::Stack;
            insta::assert_snapshot!(format!("main_stack_{w}x{h}"), screen(&app));
            app.focus = Pane::Hex;
            insta::assert_snapshot!(format!("main_hex_{w}x{h}"), screen(&app));
        } else {
            insta::assert_snapshot!(format!("main_{w}x{h}"), screen(&app));
        }
    }
}

#[test]
fn teaching_views() {
    for (w, h) in [(120, 40), (80, 24)] {
        let mut app = app("ws-basic.pcapng", w, h);
        app.select_frame(TEXT_FRAME);
        app.update(Action::Unmask);
        assert_eq!(app.mode, Mode::Unmask);
        insta::assert_snapshot!(format!("unmask_{w}x{h}"), screen(&app));
        app.update(Action::Handshake);
        insta::assert_snapshot!(format!("handshake_{w}x{h}"), screen(&app));
        app.update(Action::Ladder);
        insta::assert_snapshot!(format!("ladder_{w}x{h}"), screen(&app));
        app.update(Action::Messages);
        insta::assert_snapshot!(format!("messages_{w}x{h}"), screen(&app));
        app.update(Action::Walk);
        for _ in 0..6 {
            app.update(Action::Right);
        }
        insta::assert_snapshot!(format!("walk_{w}x{h}"), screen(&app));
        app.update(Action::Back);
        app.update(Action::Help);
        insta::assert_snapshot!(format!("help_{w}x{h}"), screen(&app));
    }
}

#[test]
fn a_very_small_terminal_says_so() {
    let app = app("ws-basic.pcapng", 30, 8);
    insta::assert_snapshot!("too_small_30x8", screen(&app));
}

#[test]
fn the_wrong_accept_is_shown_as_a_mismatch() {
    let mut app = app("ws-abnormal.pcapng", 120, 40);
    let rows = app.session.rows().to_vec();
    let wrong = rows
        .iter()
        .filter(|row| row.info().contains("101"))
        .find_map(|row| {
            let stream = row.tcp.as_ref()?.stream;
            let frame = app.session.handshake_frame(stream)?;
            let dissection = app.session.dissect(frame)?;
            let matched = dissection.find(keys::handshake::ACCEPT_MATCH)?;
            matched.display.starts_with("no").then_some(frame)
        })
        .expect("ws-abnormal has a 101 with a wrong Sec-WebSocket-Accept");
    app.select_frame(wrong);
    app.update(Action::Handshake);
    insta::assert_snapshot!("handshake_wrong_accept_120x40", screen(&app));
}

#[test]
fn a_byte_selects_its_field_and_a_field_selects_its_bytes() {
    let mut app = app("ws-basic.pcapng", 120, 40);
    app.select_frame(FrameNumber(1));
    // Field → bytes: the TCP source port is bytes 34..36 of the frame.
    focus_layer(&mut app, "tcp");
    select_field(&mut app, keys::tcp::SRCPORT);
    assert_eq!(app.hex_cursor, Some(34));
    // Bytes → field: click the byte at offset 23 (IPv4 protocol) in the hex pane.
    let hex = app.areas().hex.unwrap();
    let (row, column) = (hex.y + 1 + 1, hex.x + 1 + 6 + 3 * 7);
    app.mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(app.hex_cursor, Some(23));
    assert_eq!(app.selected_field().unwrap().0, keys::ip::PROTO);
    assert_eq!(app.focused_layer().unwrap().protocol.short_name(), "ip");
    // Moving the hex cursor onto a flag bit field selects that field.
    app.focus = Pane::Hex;
    for _ in 0..24 {
        app.update(Action::Right);
    }
    assert_eq!(app.hex_cursor, Some(47));
    assert_eq!(app.focused_layer().unwrap().protocol.short_name(), "tcp");
    assert!(app.selected_field().unwrap().0.starts_with("tcp.flags"));
}

#[test]
fn stepping_following_and_searching() {
    let mut app = app("ws-concurrent.pcapng", 120, 40);
    let first = app.selected_number().unwrap();
    assert_eq!(first, FrameNumber(1));
    let stream = app.stream().unwrap();
    app.update(Action::NextInConnection);
    let next = app.selected_number().unwrap();
    assert_eq!(app.stream(), Some(stream));
    assert!(app.session.stream_frames(stream).contains(&next));
    app.update(Action::Follow);
    assert_eq!(app.follow, Some(stream));
    assert_eq!(app.visible_len(), app.session.stream_frames(stream).len());
    app.update(Action::End);
    assert_eq!(
        app.selected_number(),
        app.session.stream_frames(stream).last().copied()
    );
    app.update(Action::Follow);
    assert_eq!(app.follow, None);
    // Search by typing `/` then text then Enter; `]` finds the next match.
    app.update(Action::Home);
    app.key(KeyEvent::new(KeyCode::Char('/'), KeyModifiers::NONE));
    for c in "101 switching".chars() {
        app.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let found = app.selected_number().unwrap();
    assert!(app.selected_row().unwrap().info().contains("101 Switching"));
    app.update(Action::SearchNext);
    assert_ne!(app.selected_number().unwrap(), found);
    assert!(app.selected_row().unwrap().info().contains("101 Switching"));
}

#[test]
fn a_message_jumps_to_the_frames_that_carried_it() {
    let mut app = app("ws-sizes.pcapng", 120, 40);
    app.update(Action::Messages);
    let (index, message) = app
        .chat_messages()
        .iter()
        .enumerate()
        .find(|(_, m)| m.frames.len() > 2)
        .map(|(i, m)| (i, (*m).clone()))
        .expect("ws-sizes has a message over several frames");
    for _ in 0..index {
        app.update(Action::Down);
    }
    app.update(Action::Enter);
    assert_eq!(app.mode, Mode::Main);
    assert_eq!(app.selected_number(), message.frames.first().copied());
    assert_eq!(app.marked, message.frames);
    // The reassembled bytes of the last frame name their frames; J walks them.
    app.select_frame(*message.frames.last().unwrap());
    app.update(Action::Unmask);
    app.update(Action::Back);
    let source = app.hex_source();
    if source != 0 {
        app.update(Action::JumpSource);
        assert!(message.frames.contains(&app.selected_number().unwrap()));
    }
}

#[test]
fn playback_steps_on_its_own_and_stops_at_the_end() {
    let mut app = app("ws-basic.pcapng", 120, 40);
    app.update(Action::Faster);
    for _ in 0..10 {
        app.update(Action::Faster);
    }
    app.update(Action::PlayPause);
    assert!(app.playing);
    let start = app.selected_number().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    app.tick();
    assert!(app.selected_number().unwrap() > start);
    app.update(Action::End);
    std::thread::sleep(std::time::Duration::from_millis(150));
    app.tick();
    assert!(!app.playing);
}

/// Selecting a frame deep in a long connection never waits for its replay:
/// the stack says what is being replayed, and ticks finish it.
#[test]
fn a_long_replay_goes_on_at_each_tick_and_says_so() {
    let mut app = app("ws-large.pcapng", 120, 40);
    app.replay_budget = Some(std::time::Duration::ZERO);
    let last = FrameNumber(app.session.rows().len() as u64);
    app.select_frame(last);
    let replaying = app
        .replaying
        .expect("a zero budget leaves the replay under way");
    assert_eq!(replaying.number, last);
    assert!(app.current.is_none());
    let screen = text(&app);
    assert!(
        screen.contains(&format!("Decoding frame {last}")),
        "{screen}"
    );
    let mut ticks = 0;
    while app.replaying.is_some() {
        app.tick();
        ticks += 1;
        assert!(ticks < 10_000);
    }
    assert!(ticks > 1);
    assert_eq!(app.selected_number(), Some(last));
    assert!(app.current.is_some());
    assert!(!text(&app).contains("Decoding frame"));
}

/// A search goes through the list a budget at a time: with a zero budget it
/// stops every 4,096 rows, says how far it came, goes on at each tick and
/// ends where a search without a budget ends; a key ends it.
#[test]
fn a_long_search_goes_on_at_each_tick_and_a_key_ends_it() {
    let type_search = |app: &mut App, query: &str| {
        app.key(KeyEvent::from(KeyCode::Char('/')));
        for c in query.chars() {
            app.key(KeyEvent::from(KeyCode::Char(c)));
        }
        app.key(KeyEvent::from(KeyCode::Enter));
    };
    let rows = app("ws-large.pcapng", 120, 40).session.rows().len();
    assert!(rows > 4096);
    for query in ["fin, ack", "no row says this"] {
        let mut whole = app("ws-large.pcapng", 120, 40);
        type_search(&mut whole, query);
        assert!(whole.searching.is_none());
        let mut budgeted = app("ws-large.pcapng", 120, 40);
        budgeted.replay_budget = Some(std::time::Duration::ZERO);
        type_search(&mut budgeted, query);
        let mut ticks = 0;
        while budgeted.searching.is_some() {
            let screen = text(&budgeted);
            assert!(screen.contains("searching…"), "{screen}");
            assert!(budgeted.catching_up());
            budgeted.tick();
            ticks += 1;
            assert!(ticks < 100);
        }
        assert_eq!(
            budgeted.selected_number(),
            whole.selected_number(),
            "{query}"
        );
        // The same notice (the stack pane of the budgeted one may still be replaying).
        let status = |app: &App| text(app).lines().last().unwrap_or_default().to_string();
        assert_eq!(status(&budgeted), status(&whole), "{query}");
        if query.starts_with("no row") {
            assert!(ticks >= 1, "a search through {rows} rows stops at 4096");
            assert!(text(&budgeted).contains("not found"));
        }
    }

    let mut cancelled = app("ws-large.pcapng", 120, 40);
    cancelled.replay_budget = Some(std::time::Duration::ZERO);
    type_search(&mut cancelled, "no row says this");
    assert!(cancelled.searching.is_some());
    cancelled.key(KeyEvent::from(KeyCode::Char('n')));
    assert!(cancelled.searching.is_none());
    assert_eq!(cancelled.selected_number(), Some(FrameNumber(2)));
    // So does the mouse wheel.
    type_search(&mut cancelled, "no row says this");
    assert!(cancelled.searching.is_some());
    cancelled.mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 10,
        row: 5,
        modifiers: KeyModifiers::NONE,
    });
    assert!(cancelled.searching.is_none());
}

/// A frame listed but not decoded yet: the list shows it, the stack pane
/// says the decoding has not reached it, the title says decoding; once the
/// decoding has run, the next tick shows its layers and the decoded row.
#[test]
fn a_listed_frame_waits_for_the_decoding_and_says_so() {
    let path = common::capture("ws-basic.pcapng");
    let (session, decoding) =
        Session::list_blocking_with(&path, osiscope::limits::Limits::default()).unwrap();
    let mut app = App::new(
        session,
        Theme::named("mono").unwrap(),
        Rect::new(0, 0, 120, 40),
    );
    app.replay_budget = None;
    app.select_frame(FrameNumber(4));
    let waiting = app.waiting.expect("frame 4 is not decoded yet");
    assert_eq!((waiting.number, waiting.decoded), (FrameNumber(4), 0));
    assert!(app.current.is_none());
    let screen = text(&app);
    assert!(
        screen.contains("Frame 4 is listed from its own headers"),
        "{screen}"
    );
    assert!(screen.contains("decoding   0%"), "{screen}");
    assert!(
        !screen.contains("Seq="),
        "no relative numbers before decoding: {screen}"
    );
    // The ladder cannot know the connection yet, and says why.
    app.update(osiscope::view::tui::keymap::Action::Ladder);
    let screen = text(&app);
    assert!(screen.contains("this frame is not decoded yet"), "{screen}");
    app.update(osiscope::view::tui::keymap::Action::Ladder);
    decoding.run();
    // A tick applies what it can within its budget: a few ticks at most here.
    for _ in 0..100 {
        app.tick();
        if app.session.progress().done {
            break;
        }
    }
    assert!(app.session.progress().done);
    assert!(app.waiting.is_none());
    assert_eq!(app.selected_number(), Some(FrameNumber(4)));
    assert!(app.current.is_some());
    let screen = text(&app);
    assert!(
        !screen.contains("is listed from its own headers"),
        "{screen}"
    );
    assert!(screen.contains("Seq="), "{screen}");
}

#[test]
fn every_frame_of_every_capture_draws_at_both_sizes() {
    for path in common::captures() {
        let session = Session::open_blocking(&path, SessionLimits::default()).unwrap();
        let mut app = App::new(
            session,
            Theme::named("default").unwrap(),
            Rect::new(0, 0, 80, 24),
        );
        app.replay_budget = None;
        let n = app.session.rows().len();
        for index in (0..n).step_by((n / 40).max(1)) {
            app.select_frame(FrameNumber(index as u64 + 1));
            for mode in [Action::Back, Action::Ladder, Action::Unmask, Action::Walk] {
                app.update(mode);
                for size in [Rect::new(0, 0, 80, 24), Rect::new(0, 0, 200, 60)] {
                    app.size = size;
                    let drawn = text(&app);
                    assert!(
                        !drawn.contains('\u{1b}'),
                        "{}: raw escape on screen",
                        path.display()
                    );
                }
                app.update(Action::Back);
            }
        }
    }
}

/// Whether a character would act on a terminal instead of showing.
fn acts_on_a_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

#[test]
fn escape_sequences_and_c1_controls_from_the_wire_are_shown_escaped() {
    let mut app = app("ws-escapes.pcapng", 120, 40);
    let n = app.session.rows().len();
    let mut seen = String::new();
    for index in 0..n {
        app.select_frame(FrameNumber(index as u64 + 1));
        let views: [&[Action]; 9] = [
            &[Action::Back],
            &[Action::FocusNext],
            &[Action::FocusNext],
            &[Action::FocusNext],
            &[Action::Ladder],
            &[Action::Messages],
            &[Action::Unmask],
            &[Action::Handshake],
            &[Action::Walk, Action::End],
        ];
        for keys in views {
            for key in keys {
                app.update(*key);
            }
            for size in [Rect::new(0, 0, 120, 40), Rect::new(0, 0, 80, 24)] {
                app.size = size;
                let backend = screen(&app);
                for cell in backend.buffer().content() {
                    let symbol = cell.symbol();
                    assert!(
                        !symbol.chars().any(acts_on_a_terminal),
                        "frame {}: {:?} reached the screen",
                        index + 1,
                        symbol
                    );
                }
                seen.push_str(&backend.to_string());
            }
            app.update(Action::Back);
            app.focus = Pane::List;
        }
    }
    // The escapes are visible as text: ESC as \e, C1 CSI as \x9b, bidi override as \u{202e}.
    for shown in ["\\e[31mRED", "\\x9b", "\\u{202e}", "\\e]0;pwned"] {
        assert!(seen.contains(shown), "{shown} is not on any screen");
    }
}

#[test]
fn delivery_techniques_compared() {
    for (w, h) in [(120, 40), (80, 24)] {
        let mut app = app("poll-vs-ws.pcapng", w, h);
        app.update(Action::Compare);
        assert_eq!(app.mode, Mode::Compare);
        app.update(Action::Down);
        assert_eq!(app.compare_selected, 1);
        insta::assert_snapshot!(format!("compare_{w}x{h}"), screen(&app));
        // Enter leaves for long polling's first frame, marking the frames that delivered.
        app.update(Action::Enter);
        assert_eq!(app.mode, Mode::Main);
        let long = app.session.delivery().unwrap().techniques[1].clone();
        assert_eq!(app.selected_number(), Some(long.first_frame));
        assert_eq!(app.marked.len(), 50);
        assert!(app
            .notice
            .as_deref()
            .unwrap()
            .starts_with("long polling: frames"));
    }
    // A capture without such messages says what the comparison looks for.
    let mut app = app("ws-basic.pcapng", 80, 24);
    app.update(Action::Compare);
    assert!(text(&app).contains("no delivered messages"));
}

/// A live session fed from a capture by the test, with a window of 16
/// frames: following, the new-frames indicator, the drop counters, the
/// window moving on, pause, and the end of the capture.
#[test]
fn live_capture_follows_counts_new_frames_and_shows_drops() {
    use osiscope::session::LiveInfo;
    use osiscope::source::CaptureStats;

    for (w, h) in [(120, 40), (80, 24)] {
        let (source, mut feed) = common::replay(&common::capture("ws-basic.pcapng"));
        assert_eq!(feed.frames.len(), 20);
        let info = LiveInfo {
            interface: "lo".into(),
            filter: Some("tcp port 8080".into()),
            ..LiveInfo::default()
        };
        let session = Session::capture(source, info, SessionLimits::live(16)).unwrap();
        let mut app = App::new(
            session,
            Theme::named("mono").unwrap(),
            Rect::new(0, 0, w, h),
        );
        app.replay_budget = None;
        assert!(app.live.as_ref().unwrap().following);

        // While following, the newest frame is selected as frames arrive.
        feed.send(8);
        common::tick_until(&mut app, "8 frames", |app| app.session.last_number() == 8);
        assert_eq!(app.selected_number(), Some(FrameNumber(8)));
        assert_eq!(app.new_frames(), 0);

        // Selecting a frame stops following; later frames are counted as new.
        app.select_frame(FrameNumber(6));
        assert!(!app.live.as_ref().unwrap().following);
        *feed.stats.lock().unwrap() = CaptureStats {
            captured: 20,
            received: 21,
            dropped: 3,
            if_dropped: 0,
            osiscope_dropped: 1,
            written: 0,
        };
        feed.send(10);
        common::tick_until(&mut app, "18 frames", |app| app.session.last_number() == 18);
        assert_eq!(app.session.n_evicted(), 2, "a window of 16 frames");
        assert_eq!(app.session.rows().len(), 16);
        assert_eq!(app.selected_number(), Some(FrameNumber(6)));
        assert_eq!(app.new_frames(), 10);
        common::tick_until(&mut app, "the counters", |app| {
            app.session.live().unwrap().stats.dropped == 3
        });
        let drawn = text(&app);
        assert!(drawn.contains("10 new frames"), "{drawn}");
        assert!(drawn.contains("drops: kernel 3 · interface 0"), "{drawn}");
        insta::assert_snapshot!(format!("live_new_frames_{w}x{h}"), screen(&app));

        // The window moves past the selected frame: the selection moves to
        // the oldest frame kept.
        app.select_frame(FrameNumber(3));
        assert_eq!(app.selected_number(), Some(FrameNumber(3)));
        feed.send(1);
        common::tick_until(&mut app, "19 frames", |app| app.session.last_number() == 19);
        assert_eq!(app.session.n_evicted(), 3);
        assert_eq!(app.selected_number(), Some(FrameNumber(4)));
        assert_eq!(app.current.as_ref().unwrap().frame.number, FrameNumber(4));
        app.update(Action::FollowLive);
        assert!(app.live.as_ref().unwrap().following);
        assert_eq!(app.selected_number(), Some(FrameNumber(19)));
        assert_eq!(app.new_frames(), 0);

        // Paused, the list holds still; resumed, the waiting frames come in.
        app.update(Action::PauseLive);
        assert!(app.live.as_ref().unwrap().paused);
        feed.send(1);
        for _ in 0..20 {
            app.tick();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(app.session.last_number(), 19);
        app.update(Action::PauseLive);
        common::tick_until(&mut app, "20 frames", |app| app.session.last_number() == 20);
        assert_eq!(app.selected_number(), Some(FrameNumber(20)));
        assert_eq!(app.session.n_evicted(), 4);
        assert_eq!(
            app.start().secs,
            feed.frames[0].ts.secs,
            "times stay relative to frame 1"
        );

        // The end of the capture is said in the title.
        feed.end();
        common::tick_until(&mut app, "the end", |app| app.session.progress().done);
        assert!(text(&app).contains("capture ended"));
        insta::assert_snapshot!(format!("live_ended_{w}x{h}"), screen(&app));
    }
}
