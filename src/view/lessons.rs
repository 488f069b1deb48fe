//! `osiscope lessons`: the lessons as a table (number, title, level,
//! duration, questions, capture), and the report of `lessons check`.

use std::io::{self, Write};

use crate::lesson::{Lang, Lesson, LessonError};
use crate::view::i18n::strings;
use crate::view::sanitize::sanitize;
use crate::view::tui::text::{pad, width};

/// Writes the lessons as a table in a language.
pub fn write_list(out: &mut impl Write, lessons: &[Lesson], lang: Lang) -> io::Result<()> {
    let s = strings(lang);
    let titles: Vec<String> = lessons
        .iter()
        .map(|l| sanitize(l.title.get(lang)))
        .collect();
    let title_width = titles
        .iter()
        .map(|t| width(t))
        .max()
        .unwrap_or(0)
        .max(width(s.title));
    writeln!(
        out,
        "{}  {}  {}  {}  {}  {}",
        pad(s.number, 4),
        pad(s.title, title_width),
        pad(s.level, 12),
        pad(s.duration, 8),
        pad(s.questions, 9),
        s.capture
    )?;
    for (lesson, title) in lessons.iter().zip(&titles) {
        writeln!(
            out,
            "{}  {}  {}  {}  {}  {}",
            pad(&lesson.number.to_string(), 4),
            pad(title, title_width),
            pad(lesson.level.name(lang), 12),
            pad(&format!("{} {}", lesson.duration, s.minutes), 8),
            pad(&lesson.questions().to_string(), 9),
            sanitize(&lesson.capture)
        )?;
    }
    Ok(())
}

/// Writes the errors found in lessons, one per line (`file:line: problem`).
pub fn write_errors(out: &mut impl Write, errors: &[LessonError]) -> io::Result<()> {
    for error in errors {
        writeln!(out, "{}", sanitize(&error.to_string()))?;
    }
    Ok(())
}
