//! Wire text made safe for a terminal: every view prints through here.
//!
//! Bytes from a capture may hold escape sequences that would move the cursor,
//! change colours, retitle the window or worse. Control characters (C0, DEL,
//! C1), and Unicode characters that reorder or hide text (bidirectional
//! overrides, zero-width marks), are replaced by visible escapes; invalid
//! UTF-8 becomes `\xNN`. The result holds only printable text.

use std::borrow::Cow;

/// Makes `text` printable: control and invisible characters become escapes.
pub fn sanitize(text: &str) -> String {
    if is_plain(text.as_bytes()) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_char(&mut out, c);
    }
    out
}

/// Decodes `bytes` as UTF-8 where valid and makes the result printable;
/// invalid bytes become `\xNN`.
pub fn sanitize_bytes(bytes: &[u8]) -> String {
    if is_plain(bytes) {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return text.to_owned();
        }
    }
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Like [`sanitize_bytes`], cut to at most `max_chars` characters with an
/// ellipsis; never splits an escape or a character.
pub fn shorten(bytes: &[u8], max_chars: usize) -> String {
    let full = sanitize_bytes(bytes);
    if full.chars().count() <= max_chars {
        return full;
    }
    // Cut between whole pieces (a character or its escape), never inside one.
    let mut out = String::new();
    let mut used = 0;
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid().chars().map(|c| {
            let mut piece = String::new();
            push_char(&mut piece, c);
            piece
        });
        let invalid = chunk.invalid().iter().map(|b| format!("\\x{b:02x}"));
        for piece in valid.chain(invalid) {
            let len = piece.chars().count();
            if used + len + 1 > max_chars {
                out.push('…');
                return out;
            }
            out.push_str(&piece);
            used += len;
        }
    }
    out.push('…');
    out
}

/// Makes serialized JSON safe for a terminal without changing its meaning:
/// JSON already escapes C0 controls, so this escapes the rest of what a
/// terminal would act on (DEL, C1 controls, bidirectional and invisible
/// marks) as `\uXXXX`, which can only occur inside JSON strings.
/// ASCII text (the usual case) is returned as it is, without a copy.
pub fn json_safe(json: &str) -> Cow<'_, str> {
    let escaped = |c: char| is_unsafe(c) && (!c.is_ascii() || c == '\u{7f}');
    if (json.is_ascii() && !json.as_bytes().contains(&0x7f)) || !json.chars().any(escaped) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if escaped(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Printable ASCII without a backslash (the usual text): nothing in it needs an escape, so it
/// is kept as it is without looking at each character.
fn is_plain(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
}

/// Whether a character must not reach a terminal as it is.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}'   // zero-width and direction marks
            | '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{202A}'..='\u{202E}' // bidirectional embeddings and overrides
            | '\u{2060}'..='\u{2064}' // invisible operators
            | '\u{2066}'..='\u{2069}' // bidirectional isolates
            | '\u{FEFF}'              // byte-order mark
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotations
        )
}

fn push_char(out: &mut String, c: char) {
    if c == '\\' {
        // A backslash is doubled, so `\e` always means ESC and never the text.
        out.push_str("\\\\");
        return;
    }
    if !is_unsafe(c) {
        out.push(c);
        return;
    }
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{1b}' => out.push_str("\\e"),
        c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn json_keeps_its_meaning_and_loses_c1_and_bidi_characters() {
        let json =
            serde_json::to_string("\u{1b}[5m\u{9b}2J\u{202e}txt.exe\u{7f}").unwrap_or_default();
        let safe = json_safe(&json);
        assert!(!safe.chars().any(|c| c.is_control() || c == '\u{202e}'));
        assert_eq!(
            serde_json::from_str::<String>(&safe).ok().as_deref(),
            Some("\u{1b}[5m\u{9b}2J\u{202e}txt.exe\u{7f}")
        );
    }

    #[test]
    fn shortening_never_cuts_an_escape_and_backslashes_are_doubled() {
        assert_eq!(shorten(b"DEL\x7f and more", 6), "DEL…");
        assert_eq!(shorten(b"ab\x1bcd", 5), "ab\\e…");
        assert_eq!(sanitize("a\\e"), "a\\\\e");
        assert_eq!(sanitize("\u{1b}"), "\\e");
    }

    #[test]
    fn escape_sequences_are_shown_not_obeyed() {
        assert_eq!(
            sanitize("\u{1b}[2J\u{1b}]0;pwned\u{7}"),
            "\\e[2J\\e]0;pwned\\x07"
        );
    }

    #[test]
    fn c1_controls_and_bidi_overrides_are_escaped() {
        assert_eq!(sanitize("a\u{9b}31mb"), "a\\x9b31mb");
        assert_eq!(sanitize("x\u{202E}y"), "x\\u{202e}y");
    }

    #[test]
    fn newlines_and_tabs_are_visible() {
        assert_eq!(sanitize("a\r\nb\tc"), "a\\r\\nb\\tc");
    }

    #[test]
    fn invalid_utf8_becomes_hex() {
        assert_eq!(sanitize_bytes(b"ok\xff\xfe!"), "ok\\xff\\xfe!");
        assert_eq!(sanitize_bytes("日本".as_bytes()), "日本");
    }

    #[test]
    fn shorten_keeps_whole_characters() {
        assert_eq!(shorten("日本語のテキスト".as_bytes(), 4), "日本語…");
        assert_eq!(shorten(b"short", 10), "short");
    }

    proptest! {
        #[test]
        fn output_never_holds_control_characters(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let out = sanitize_bytes(&bytes);
            prop_assert!(!out.chars().any(is_unsafe));
        }
    }
}
