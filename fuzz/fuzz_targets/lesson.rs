//! Fuzz target `lesson`: the lesson parser and what reads lesson text, on
//! arbitrary input (taken as UTF-8, lossily).
//!
//! Checked: parsing never panics; an error names a line inside the text
//! (or 0 for the whole file); a lesson that parses has no problems of its
//! own; answer comparison is symmetric for numbers; wrapping the text
//! gives lines no wider than asked (two more cells for closing punctuation
//! kept at a line's end).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use osiscope::lesson::{number, same_answer, Lesson};
use osiscope::view::tui::text::{width, wrap};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Lesson::parse(&text, Path::new("fuzz.toml")) {
        Ok(lesson) => assert!(lesson.problems().is_empty()),
        Err(error) => assert!(error.line <= text.lines().count() + 1, "{error}"),
    }
    if let (Some(a), Some(b)) = (text.get(..text.len() / 2), text.get(text.len() / 2..)) {
        if number(a).is_some() && number(b).is_some() {
            assert_eq!(same_answer(a, b), same_answer(b, a));
        }
    }
    let max = usize::from(data.first().copied().unwrap_or(1) % 40) + 1;
    for line in wrap(&text, max) {
        assert!(width(&line) <= max + 2, "{line:?} wider than {max}");
    }
});
