//! Text measured in terminal cells: wire text sanitized, then fitted to a
//! width without splitting a wide (CJK) character.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::view::sanitize::sanitize;

/// How many terminal cells `text` takes.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// Sanitizes `text` and cuts it to at most `max` cells, ending in `…` when cut.
pub fn fit(text: &str, max: usize) -> String {
    cut(&sanitize(text), max)
}

/// Cuts already-safe `text` to at most `max` cells, ending in `…` when cut.
pub fn cut(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    if max > 0 {
        out.push('…');
    }
    out
}

/// Pads already-safe `text` with spaces to exactly `cells` cells (cutting it first).
pub fn pad(text: &str, cells: usize) -> String {
    let mut out = cut(text, cells);
    let used = width(&out);
    out.extend(std::iter::repeat_n(' ', cells.saturating_sub(used)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_count_twice_and_are_never_split() {
        assert_eq!(width("こんにちは"), 10);
        assert_eq!(cut("こんにちは", 6), "こん…");
        assert_eq!(width(&cut("こんにちは", 6)), 5);
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad("こんにちは", 6), "こん… ");
    }

    #[test]
    fn wire_text_is_sanitized_before_fitting() {
        assert_eq!(fit("\u{1b}[31mred", 20), "\\e[31mred");
        assert_eq!(fit("abc", 0), "");
    }
}
