//! The lessons: every one passes `osiscope lessons check` against its
//! capture in both languages, the curriculum is complete, and a lesson
//! driven through the terminal UI's app model (steps forward and back,
//! answers right and wrong) shows what its steps name; snapshots of the
//! lesson screen, the presenter mode and the list of lessons in English
//! and Japanese.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use osiscope::dissect::FrameNumber;
use osiscope::lesson::run::Verdict;
use osiscope::lesson::{self, Lang, Lesson};
use osiscope::session::{Session, SessionLimits};
use osiscope::view::tui::app::App;
use osiscope::view::tui::keymap::Action;
use osiscope::view::tui::layout::Mode;
use osiscope::view::tui::theme::Theme;
use osiscope::view::tui::ui;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

fn lessons() -> Vec<Lesson> {
    let (lessons, errors) = lesson::load_dir(&common::root().join("lessons")).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    lessons
}

/// An app on a lesson's capture, with every lesson to pick from.
fn app_for(number: u32, lang: Lang, width: u16, height: u16) -> App {
    let all = lessons();
    let lesson = all.iter().find(|l| l.number == number).unwrap().clone();
    let session = Session::open_blocking(&lesson.capture_path(), SessionLimits::default()).unwrap();
    let mut app = App::new(
        session,
        Theme::named("mono").unwrap(),
        Rect::new(0, 0, width, height),
    )
    .with_lang(lang)
    .with_picker(all);
    app.picker = None;
    app.replay_budget = None;
    app.open_lesson(lesson);
    app
}

fn screen(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(app.size.width, app.size.height)).unwrap();
    terminal.draw(|frame| ui::draw(frame, app)).unwrap();
    terminal.backend().to_string()
}

fn key(app: &mut App, code: KeyCode) {
    app.key(KeyEvent::new(code, KeyModifiers::NONE));
}

#[test]
fn every_lesson_passes_the_check_against_its_capture() {
    let output = common::osiscope()
        .args(["lessons", "check"])
        .current_dir(common::root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn the_curriculum_has_its_lessons_with_questions_in_both_languages() {
    let lessons = lessons();
    let numbers: Vec<u32> = lessons.iter().map(|l| l.number).collect();
    let expected: Vec<u32> = (1..=u32::try_from(lessons.len()).unwrap()).collect();
    assert_eq!(
        numbers, expected,
        "lessons numbered 1, 2, 3, ... without gaps"
    );
    for lesson in &lessons {
        assert!(
            lesson.questions() >= 2,
            "lesson {} needs two questions",
            lesson.number
        );
        for lang in Lang::ALL {
            assert!(!lesson.title.get(lang).is_empty());
            for step in &lesson.steps {
                assert!(!step.text.get(lang).trim().is_empty());
            }
        }
        let capture = lesson.capture_path();
        assert!(capture.is_file(), "{}", capture.display());
        let name = capture.file_name().unwrap().to_string_lossy().into_owned();
        let described = std::fs::read_to_string(common::root().join("captures/README.md")).unwrap();
        assert!(
            described.contains(&format!("`{name}`")),
            "{name} is described in captures/README.md"
        );
    }
    // Each lesson has a capture of its own.
    let mut captures: Vec<String> = lessons.iter().map(|l| l.capture.clone()).collect();
    captures.sort();
    captures.dedup();
    assert_eq!(captures.len(), lessons.len(), "one capture per lesson");
}

#[test]
fn a_lesson_is_driven_forward_and_back_with_right_and_wrong_answers() {
    let mut app = app_for(1, Lang::En, 120, 40);
    let run = app.lesson.as_ref().unwrap();
    assert_eq!(run.index(), 0);
    assert_eq!(app.selected_number(), Some(FrameNumber(8)));
    assert_eq!(app.focused_layer().unwrap().osi().number(), 7);
    // A wrong choice, then the right one.
    app.update(Action::Choose(1));
    assert_eq!(
        app.lesson.as_ref().unwrap().verdict(),
        Some(&Verdict::Wrong { given: "1".into() })
    );
    assert!(screen(&app).contains("Not quite"));
    app.update(Action::Choose(3));
    assert_eq!(
        app.lesson.as_ref().unwrap().verdict(),
        Some(&Verdict::Right)
    );
    assert!(screen(&app).contains("Right"));
    // Step 2 is the encapsulation walk, step 3 the EtherType with a value question.
    app.update(Action::NextStep);
    assert_eq!(app.mode, Mode::Walk);
    app.update(Action::NextStep);
    assert_eq!(app.mode, Mode::Main);
    assert_eq!(app.selected_field().map(|(key, _)| key), Some("eth.type"));
    assert!(
        app.hex_cursor == Some(12),
        "the type's bytes are highlighted"
    );
    for c in "0x86dd".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    // Typing a digit opened the answer prompt; "x86dd" followed it.
    key(&mut app, KeyCode::Enter);
    assert!(matches!(
        app.lesson.as_ref().unwrap().verdict(),
        Some(Verdict::Wrong { .. })
    ));
    app.update(Action::AnswerPrompt);
    for c in "2048".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        app.lesson.as_ref().unwrap().verdict(),
        Some(&Verdict::Right)
    );
    assert_eq!(app.lesson.as_ref().unwrap().progress().solved, 2);
    // Back to the first step: frame 8 at layer 7 again, answers kept.
    app.update(Action::PrevStep);
    app.update(Action::PrevStep);
    assert_eq!(app.lesson.as_ref().unwrap().index(), 0);
    assert_eq!(app.selected_number(), Some(FrameNumber(8)));
    assert_eq!(
        app.lesson.as_ref().unwrap().verdict(),
        Some(&Verdict::Right)
    );
    app.update(Action::PrevStep);
    assert!(app.notice.is_some(), "the first step says so");
    // Every step of every lesson can be shown at both sizes in both languages.
    for lesson in lessons() {
        for lang in Lang::ALL {
            for (w, h) in [(80, 24), (120, 40)] {
                let mut app = app_for(lesson.number, lang, w, h);
                for _ in 0..lesson.steps.len() {
                    let shown = screen(&app);
                    assert!(
                        shown.contains(
                            lesson
                                .title
                                .get(lang)
                                .chars()
                                .take(4)
                                .collect::<String>()
                                .as_str()
                        ) || w < 100
                    );
                    app.update(Action::NextStep);
                }
                app.update(Action::Presenter);
                let _ = screen(&app);
            }
        }
    }
}

#[test]
fn presenter_mode_steps_with_a_clicker() {
    let mut app = app_for(1, Lang::En, 120, 40);
    app.update(Action::Presenter);
    assert!(app.presenter);
    key(&mut app, KeyCode::PageDown);
    assert_eq!(app.lesson.as_ref().unwrap().index(), 1);
    key(&mut app, KeyCode::Right);
    key(&mut app, KeyCode::Left);
    assert_eq!(app.lesson.as_ref().unwrap().index(), 1);
}

#[test]
fn the_lesson_list_opens_a_lesson() {
    let mut app = app_for(1, Lang::En, 120, 40);
    app.update(Action::Lessons);
    assert!(app.picker.is_some());
    key(&mut app, KeyCode::Enter);
    assert!(app.picker.is_none());
    assert_eq!(app.lesson.as_ref().unwrap().lesson.number, 1);
}

#[test]
fn snapshots_in_english_and_japanese() {
    for lang in Lang::ALL {
        let code = lang.code();
        let mut app = app_for(1, lang, 120, 40);
        // Step 3: a field selected and its bytes highlighted.
        app.update(Action::NextStep);
        app.update(Action::NextStep);
        insta::assert_snapshot!(format!("lesson_{code}_120x40"), screen(&app));
        app.size = Rect::new(0, 0, 80, 24);
        insta::assert_snapshot!(format!("lesson_{code}_80x24"), screen(&app));
        app.size = Rect::new(0, 0, 120, 40);
        app.update(Action::Presenter);
        insta::assert_snapshot!(format!("presenter_{code}_120x40"), screen(&app));
        app.update(Action::PrevStep);
        app.update(Action::PrevStep);
        app.update(Action::Choose(3));
        insta::assert_snapshot!(format!("presenter_answered_{code}_120x40"), screen(&app));
        app.update(Action::Lessons);
        insta::assert_snapshot!(format!("picker_{code}_120x40"), screen(&app));
    }
}

#[test]
fn the_lesson_command_lists_and_rejects_bad_lessons() {
    let output = common::osiscope()
        .args(["lessons", "--lang", "ja"])
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("OSI 参照モデル"));
    // A lesson with a wrong answer and a missing frame: file, line, problem.
    let dir = std::env::temp_dir().join(format!("osiscope-lessons-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(common::root().join("lessons/01-osi-model.toml"))
        .unwrap()
        .replace(
            "../captures/",
            &format!("{}/", common::root().join("captures").display()),
        )
        .replace("answer = \"0x0800\"", "answer = \"0x86dd\"")
        .replace("frame = 9\n", "frame = 99\n");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, text).unwrap();
    let output = common::osiscope()
        .args(["lessons", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("bad.toml:")
            && stdout.contains("the answer is \"0x86dd\" but eth.type in frame 8 is"),
        "{stdout}"
    );
    assert!(
        stdout.contains("frame 99 does not exist (the capture has 20 frames)"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(Path::new(&bad).extension().is_some());
}
