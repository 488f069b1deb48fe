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

/// Characters that must not start a line in Japanese text (kinsoku).
const NO_LINE_START: &str =
    "、。，．・：；？！）」』】〉》ー々ぁぃぅぇぉっゃゅょァィゥェォッャュョ,.;:!?)";

/// Sanitizes `text` and wraps it into lines of at most `max` cells: at
/// spaces between words, and between any two wide (CJK) characters, never
/// putting closing punctuation at the start of a line. Line breaks in the
/// text start new lines; a word longer than a line is cut.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let paragraph = sanitize(paragraph.trim_end());
        let mut line = String::new();
        let mut used = 0;
        for token in tokens(&paragraph) {
            let w = width(token);
            let space = token.trim().is_empty();
            let hangs = token
                .chars()
                .next()
                .is_some_and(|c| NO_LINE_START.contains(c));
            let overflows = used + w > max && !(hangs && used + w <= max + 2);
            if overflows && !line.is_empty() && !space {
                lines.push(line.trim_end().to_string());
                line.clear();
                used = 0;
            }
            if space && (line.is_empty() || used + w > max) {
                // Spaces never start a line or push one past its width.
                continue;
            }
            if w > max {
                let piece = cut(token, max);
                used += width(&piece);
                line.push_str(&piece);
                continue;
            }
            line.push_str(token);
            used += w;
        }
        lines.push(line.trim_end().to_string());
    }
    lines
}

/// Splits text into words, runs of spaces, and single wide characters.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut kind = None;
    for (at, c) in text.char_indices() {
        let this = if c == ' ' {
            1
        } else if c.width().unwrap_or(0) > 1 || NO_LINE_START.contains(c) && !c.is_ascii() {
            2
        } else {
            3
        };
        if this == 2 || kind != Some(this) || kind == Some(2) {
            if let Some(token) = text.get(start..at).filter(|t| !t.is_empty()) {
                out.push(token);
            }
            start = at;
        }
        kind = Some(this);
    }
    if let Some(token) = text.get(start..).filter(|t| !t.is_empty()) {
        out.push(token);
    }
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
    fn wrapping_breaks_at_spaces_and_between_wide_characters() {
        assert_eq!(wrap("the quick brown fox", 10), ["the quick", "brown fox"]);
        assert_eq!(wrap("one\ntwo", 10), ["one", "two"]);
        let lines = wrap("これはテストです。次の文。", 8);
        assert!(lines.iter().all(|l| width(l) <= 10), "{lines:?}");
        assert!(lines.iter().all(|l| !l.starts_with('。')), "{lines:?}");
        assert_eq!(lines.concat(), "これはテストです。次の文。");
        assert_eq!(wrap("TCP の SYN", 6), ["TCP の", "SYN"]);
        assert_eq!(wrap("abcdefghij", 4), ["abc…"]);
        assert_eq!(wrap("\u{1b}[31m", 20), ["\\e[31m"]);
        // Found by fuzzing: closing marks hanging one after another on a
        // one-cell line.
        assert!(wrap("サーバーー", 1).iter().all(|l| width(l) <= 3));
        // Found by fuzzing: a long run of spaces after text.
        let lines = wrap(&format!("運びます。{}\"", " ".repeat(100)), 36);
        assert!(lines.iter().all(|l| width(l) <= 36), "{lines:?}");
    }

    #[test]
    fn wire_text_is_sanitized_before_fitting() {
        assert_eq!(fit("\u{1b}[31mred", 20), "\\e[31mred");
        assert_eq!(fit("abc", 0), "");
    }
}
