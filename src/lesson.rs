//! Lessons: a teacher's walk through a real capture, step by step, in
//! English and Japanese.
//!
//! A lesson is a TOML file in `lessons/` (the format is documented with a
//! worked example in `lessons/README.md`): a title, level, duration,
//! prerequisites, goals, the capture it uses, and ordered steps. A step
//! names what to select (a frame, a connection, a message, an OSI layer, a
//! field key, a teaching view), the narration, and optionally a question
//! whose answer the application checks.
//!
//! - this file: the format ([`Lesson`], [`Step`], [`Question`]), parsing
//!   with errors that name the file and line, and finding the lessons;
//! - `check.rs`: `osiscope lessons check`, a lesson validated against its
//!   capture (the frames exist, the fields exist in them, the answers are
//!   right);
//! - `run.rs`: a lesson being taken: the current step, answers and
//!   feedback, progress.
//!
//! Lessons sit above the session (checking one opens its capture) and below
//! the views, which only read them.

pub mod check;
pub mod run;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

/// The languages of lessons and of the user interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    #[default]
    En,
    Ja,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ja];

    /// The language's code, as `--lang` takes it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// Parses `en` or `ja` (also `ja_JP.UTF-8`-style locale names).
    pub fn parse(text: &str) -> Option<Lang> {
        let lower = text.trim().to_ascii_lowercase();
        if lower.starts_with("ja") {
            Some(Lang::Ja)
        } else if lower.starts_with("en") || lower == "c" || lower == "posix" {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The language of the locale, as POSIX orders the variables
    /// (`LC_ALL`, then `LC_MESSAGES`, then `LANG`); English otherwise.
    pub fn from_locale(get: impl Fn(&str) -> Option<String>) -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|name| get(name))
            .find(|value| !value.is_empty())
            .and_then(|value| Lang::parse(&value))
            .unwrap_or_default()
    }
}

/// A piece of text in every language.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub en: String,
    pub ja: String,
}

impl Text {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Ja => &self.ja,
        }
    }
}

/// A list of texts in every language (goals, answer choices).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TextList {
    pub en: Vec<String>,
    pub ja: Vec<String>,
}

impl TextList {
    pub fn get(&self, lang: Lang) -> &[String] {
        match lang {
            Lang::En => &self.en,
            Lang::Ja => &self.ja,
        }
    }
}

/// How much a lesson expects of its students.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Beginner,
    Intermediate,
    Advanced,
}

impl Level {
    pub fn name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Level::Beginner, Lang::En) => "beginner",
            (Level::Intermediate, Lang::En) => "intermediate",
            (Level::Advanced, Lang::En) => "advanced",
            (Level::Beginner, Lang::Ja) => "初級",
            (Level::Intermediate, Lang::Ja) => "中級",
            (Level::Advanced, Lang::Ja) => "上級",
        }
    }
}

/// The teaching view a step shows below the packet list.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// The OSI stack, fields and bytes.
    #[default]
    Stack,
    Ladder,
    Messages,
    Unmask,
    Handshake,
    Walk,
    /// Polling, long polling, SSE and WebSocket compared.
    Compare,
}

impl View {
    pub fn name(self) -> &'static str {
        match self {
            View::Stack => "stack",
            View::Ladder => "ladder",
            View::Messages => "messages",
            View::Unmask => "unmask",
            View::Handshake => "handshake",
            View::Walk => "walk",
            View::Compare => "compare",
        }
    }
}

/// What a question expects: a choice (1-based) or a value to type.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Answer {
    Choice(u64),
    Value(String),
}

/// A question asked at a step.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub text: Text,
    /// The choices of a multiple-choice question, in every language.
    #[serde(default)]
    pub choices: Option<TextList>,
    pub answer: Answer,
    /// For a value question: the field of the step's frame whose value is
    /// the answer (`lessons check` verifies they agree).
    #[serde(default)]
    pub value_of: Option<String>,
    /// Said after an answer, right or wrong.
    #[serde(default)]
    pub explain: Option<Text>,
}

impl Question {
    /// The choices in a language (empty for a value question).
    pub fn choices(&self, lang: Lang) -> &[String] {
        self.choices.as_ref().map_or(&[], |c| c.get(lang))
    }
}

/// One step of a lesson: what to select and what to say.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The frame to select (1-based, as in Wireshark).
    #[serde(default)]
    pub frame: Option<u64>,
    /// The TCP connection (`tcp.stream`) to show alone in the packet list.
    #[serde(default)]
    pub follow: Option<u32>,
    /// A WebSocket message (1-based, in capture order): its last frame is
    /// selected and its frames marked.
    #[serde(default)]
    pub message: Option<usize>,
    /// The OSI layer to focus (1 to 7).
    #[serde(default)]
    pub layer: Option<u8>,
    /// The field to select, by its key (`tcp.flags.syn`).
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub view: View,
    pub text: Text,
    #[serde(default)]
    pub question: Option<Question>,
}

/// A lesson as written in its file.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct LessonFile {
    number: u32,
    title: Text,
    level: Level,
    /// Minutes.
    duration: u32,
    #[serde(default)]
    prerequisites: Vec<u32>,
    goals: TextList,
    capture: Spanned<String>,
    #[serde(rename = "step")]
    steps: Vec<Spanned<Step>>,
}

/// A lesson, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lesson {
    /// The file it was read from.
    pub file: PathBuf,
    /// Its place in the curriculum.
    pub number: u32,
    pub title: Text,
    pub level: Level,
    /// How long it takes, in minutes.
    pub duration: u32,
    /// Numbers of the lessons to take first.
    pub prerequisites: Vec<u32>,
    pub goals: TextList,
    /// The capture, as written (relative to the lesson's folder).
    pub capture: String,
    pub steps: Vec<Step>,
    /// The line each step starts on, and the capture's line.
    step_lines: Vec<usize>,
    capture_line: usize,
}

/// Why a lesson could not be used, with the file and line where it went wrong.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{}:{line}: {message}", file.display())]
pub struct LessonError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is the file as a whole.
    pub line: usize,
    pub message: String,
}

/// The line (1-based) of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

impl Lesson {
    /// Parses a lesson's text; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Lesson, LessonError> {
        let parsed: LessonFile = toml::from_str(text).map_err(|err| LessonError {
            file: file.to_path_buf(),
            line: err.span().map_or(0, |span| line_of(text, span.start)),
            message: err.message().trim().to_string(),
        })?;
        let at = |span: Range<usize>| line_of(text, span.start);
        let lesson = Lesson {
            file: file.to_path_buf(),
            number: parsed.number,
            title: parsed.title,
            level: parsed.level,
            duration: parsed.duration,
            prerequisites: parsed.prerequisites,
            goals: parsed.goals,
            capture_line: at(parsed.capture.span()),
            capture: parsed.capture.into_inner(),
            step_lines: parsed.steps.iter().map(|s| at(s.span())).collect(),
            steps: parsed.steps.into_iter().map(Spanned::into_inner).collect(),
        };
        let problems = lesson.problems();
        match problems.into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(lesson),
        }
    }

    /// Reads and parses a lesson file.
    pub fn load(file: &Path) -> Result<Lesson, LessonError> {
        let text = std::fs::read_to_string(file).map_err(|err| LessonError {
            file: file.to_path_buf(),
            line: 0,
            message: format!("cannot read: {err}"),
        })?;
        Lesson::parse(&text, file)
    }

    /// The line a step starts on (1-based step index 0 is the first step).
    pub fn step_line(&self, step: usize) -> usize {
        self.step_lines.get(step).copied().unwrap_or(0)
    }

    /// An error about the lesson at a line.
    pub fn error(&self, line: usize, message: impl Into<String>) -> LessonError {
        LessonError {
            file: self.file.clone(),
            line,
            message: message.into(),
        }
    }

    /// The capture's path, resolved against the lesson's folder.
    pub fn capture_path(&self) -> PathBuf {
        let capture = Path::new(&self.capture);
        if capture.is_absolute() {
            return capture.to_path_buf();
        }
        self.file
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(capture)
    }

    /// The line of the `capture` key.
    pub fn capture_line(&self) -> usize {
        self.capture_line
    }

    /// How many steps ask a question.
    pub fn questions(&self) -> usize {
        self.steps.iter().filter(|s| s.question.is_some()).count()
    }

    /// What is wrong with the lesson on its own (without its capture):
    /// texts missing in a language, choices that do not match, answers out
    /// of range, selections that make no sense.
    pub fn problems(&self) -> Vec<LessonError> {
        let mut out = Vec::new();
        let mut need = |line: usize, ok: bool, message: String| {
            if !ok {
                out.push(self.error(line, message));
            }
        };
        for lang in Lang::ALL {
            need(
                1,
                !self.title.get(lang).trim().is_empty(),
                format!("the title is empty in `{}`", lang.code()),
            );
            need(
                1,
                !self.goals.get(lang).is_empty(),
                format!("no goals in `{}`", lang.code()),
            );
        }
        need(
            1,
            self.goals.en.len() == self.goals.ja.len(),
            format!(
                "goals: {} in `en` but {} in `ja`",
                self.goals.en.len(),
                self.goals.ja.len()
            ),
        );
        need(
            self.capture_line,
            !self.capture.trim().is_empty(),
            "the capture is empty".into(),
        );
        need(1, !self.steps.is_empty(), "the lesson has no steps".into());
        for (index, step) in self.steps.iter().enumerate() {
            let line = self.step_line(index);
            let name = format!("step {}", index + 1);
            for lang in Lang::ALL {
                need(
                    line,
                    !step.text.get(lang).trim().is_empty(),
                    format!("{name}: the text is empty in `{}`", lang.code()),
                );
            }
            if let Some(layer) = step.layer {
                need(
                    line,
                    (1..=7).contains(&layer),
                    format!("{name}: layer {layer} is not an OSI layer (1 to 7)"),
                );
            }
            need(
                line,
                step.frame != Some(0),
                format!("{name}: frames are numbered from 1"),
            );
            need(
                line,
                step.message != Some(0),
                format!("{name}: messages are numbered from 1"),
            );
            let Some(question) = &step.question else {
                continue;
            };
            for lang in Lang::ALL {
                need(
                    line,
                    !question.text.get(lang).trim().is_empty(),
                    format!("{name}: the question is empty in `{}`", lang.code()),
                );
            }
            match (&question.answer, &question.choices) {
                (Answer::Choice(answer), Some(choices)) => {
                    let count = choices.en.len();
                    need(
                        line,
                        count == choices.ja.len(),
                        format!(
                            "{name}: {count} choices in `en` but {} in `ja`",
                            choices.ja.len()
                        ),
                    );
                    need(
                        line,
                        count >= 2,
                        format!("{name}: a multiple-choice question needs two choices or more"),
                    );
                    need(
                        line,
                        usize::try_from(*answer).is_ok_and(|a| (1..=count).contains(&a)),
                        format!("{name}: answer {answer} is not one of the {count} choices (they are numbered from 1)"),
                    );
                    need(
                        line,
                        question.value_of.is_none(),
                        format!("{name}: `value_of` is for value questions, not choices"),
                    );
                }
                (Answer::Choice(answer), None) => need(
                    line,
                    false,
                    format!("{name}: answer {answer} is a choice number but the question has no `choices` (write a value answer as a string: answer = \"{answer}\")"),
                ),
                (Answer::Value(value), None) => need(
                    line,
                    !value.trim().is_empty(),
                    format!("{name}: the answer is empty"),
                ),
                (Answer::Value(_), Some(_)) => need(
                    line,
                    false,
                    format!("{name}: a multiple-choice answer is the number of the right choice (answer = 2), not text"),
                ),
            }
        }
        out
    }
}

impl fmt::Display for Lesson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.number, self.title.en)
    }
}

/// Where the lessons are: `lessons/` in the working directory, or in the
/// source tree osiscope was built from.
pub fn default_dir() -> Option<PathBuf> {
    [
        PathBuf::from("lessons"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons"),
    ]
    .into_iter()
    .find(|dir| dir.is_dir())
}

/// The lesson files of a folder (`*.toml`), sorted by name.
pub fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Every lesson of a folder, in curriculum order; the files that failed to
/// parse are returned as errors beside them.
pub fn load_dir(dir: &Path) -> std::io::Result<(Vec<Lesson>, Vec<LessonError>)> {
    let mut lessons = Vec::new();
    let mut errors = Vec::new();
    for file in files(dir)? {
        match Lesson::load(&file) {
            Ok(lesson) => lessons.push(lesson),
            Err(err) => errors.push(err),
        }
    }
    lessons.sort_by_key(|lesson| lesson.number);
    Ok((lessons, errors))
}

/// Whether an answer typed by a student matches the expected one: numbers
/// compare by value (decimal or `0x` hexadecimal), text without regard to
/// case, surrounding spaces or repeated inner spaces.
pub fn same_answer(given: &str, expected: &str) -> bool {
    match (number(given), number(expected)) {
        (Some(a), Some(b)) => a == b,
        _ => normalize(given) == normalize(expected),
    }
}

fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A whole number written in decimal (with optional `,` or `_` separators)
/// or in hexadecimal after `0x`.
pub fn number(text: &str) -> Option<u128> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u128::from_str_radix(&hex.replace('_', ""), 16).ok();
    }
    let digits: String = text.chars().filter(|c| *c != ',' && *c != '_').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
number = 1
title = { en = "Hello", ja = "こんにちは" }
level = "beginner"
duration = 10
goals = { en = ["see a SYN"], ja = ["SYNを見る"] }
capture = "../captures/ws-basic.pcapng"

[[step]]
frame = 1
layer = 4
field = "tcp.flags.syn"
text = { en = "A SYN.", ja = "SYNです。" }

[[step]]
frame = 2
text = { en = "The answer.", ja = "答え。" }
question = { text = { en = "Which?", ja = "どれ？" }, choices = { en = ["a", "b"], ja = ["あ", "い"] }, answer = 2 }

[[step]]
frame = 3
text.en = "Type it."
text.ja = "入力して。"
[step.question]
text = { en = "ACK?", ja = "ACKは？" }
answer = "1"
value_of = "tcp.ack"
"#;

    #[test]
    fn a_lesson_parses_with_its_steps_and_their_lines() {
        let lesson = Lesson::parse(GOOD, Path::new("lessons/x.toml")).unwrap();
        assert_eq!(lesson.number, 1);
        assert_eq!(lesson.title.get(Lang::Ja), "こんにちは");
        assert_eq!(lesson.steps.len(), 3);
        assert_eq!(lesson.step_line(0), 9);
        assert_eq!(lesson.capture_line(), 7);
        assert_eq!(lesson.questions(), 2);
        assert_eq!(
            lesson.steps[1].question.as_ref().map(|q| q.answer.clone()),
            Some(Answer::Choice(2))
        );
        assert_eq!(
            lesson.steps[2].question.as_ref().map(|q| q.answer.clone()),
            Some(Answer::Value("1".into()))
        );
        assert_eq!(
            lesson.capture_path(),
            Path::new("lessons/../captures/ws-basic.pcapng")
        );
    }

    #[test]
    fn a_missing_translation_names_the_line() {
        let text = GOOD.replace(
            "text = { en = \"A SYN.\", ja = \"SYNです。\" }",
            "text = { en = \"A SYN.\" }",
        );
        let err = Lesson::parse(&text, Path::new("l.toml")).unwrap_err();
        assert_eq!(err.line, 13, "{err}");
        assert!(err.message.contains("ja"), "{err}");
        assert!(err.to_string().starts_with("l.toml:13: "), "{err}");
    }

    #[test]
    fn wrong_answers_and_choices_are_reported_at_their_step() {
        let text = GOOD.replace("answer = 2", "answer = 3");
        let err = Lesson::parse(&text, Path::new("l.toml")).unwrap_err();
        assert_eq!(err.line, 15);
        assert!(
            err.message.contains("answer 3 is not one of the 2 choices"),
            "{err}"
        );

        let text = GOOD.replace("ja = [\"あ\", \"い\"]", "ja = [\"あ\"]");
        let err = Lesson::parse(&text, Path::new("l.toml")).unwrap_err();
        assert!(
            err.message.contains("2 choices in `en` but 1 in `ja`"),
            "{err}"
        );

        let text = GOOD.replace("layer = 4", "layer = 8");
        let err = Lesson::parse(&text, Path::new("l.toml")).unwrap_err();
        assert_eq!(err.line, 9);
        assert!(err.message.contains("not an OSI layer"), "{err}");

        let text = GOOD.replace("answer = \"1\"", "answer = 1");
        let err = Lesson::parse(&text, Path::new("l.toml")).unwrap_err();
        assert!(err.message.contains("no `choices`"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_toml_are_errors_with_lines() {
        let text = GOOD.replace("layer = 4", "layr = 4");
        let err = Lesson::parse(&text, Path::new("l.toml")).unwrap_err();
        assert!(err.message.contains("layr"), "{err}");
        assert_eq!(err.line, 11);
        let err = Lesson::parse("number = \n", Path::new("l.toml")).unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn answers_compare_as_numbers_or_as_text() {
        assert!(same_answer(" 1448 ", "1448"));
        assert!(same_answer("0x0A", "10"));
        assert!(same_answer("1,000", "1000"));
        assert!(same_answer("Switching  Protocols", "switching protocols"));
        assert!(!same_answer("1449", "1448"));
        assert!(!same_answer("", "1"));
        assert_eq!(number("12a"), None);
    }

    #[test]
    fn the_locale_chooses_the_language() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_string())
            }
        };
        assert_eq!(Lang::from_locale(env(&[("LANG", "ja_JP.UTF-8")])), Lang::Ja);
        assert_eq!(
            Lang::from_locale(env(&[("LC_ALL", "en_US.UTF-8"), ("LANG", "ja_JP.UTF-8")])),
            Lang::En
        );
        assert_eq!(
            Lang::from_locale(env(&[("LC_ALL", ""), ("LANG", "ja_JP.UTF-8")])),
            Lang::Ja
        );
        assert_eq!(Lang::from_locale(env(&[])), Lang::En);
        assert_eq!(Lang::parse("fr"), None);
    }
}
