//! The handshake check: how a WebSocket connection was opened, and whether
//! the opening handshake kept the rules of RFC 6455 §4.
//!
//! Read from the frame that holds the `websocket.handshake` field (the
//! server's answer): the verdict, then the Sec-WebSocket-Accept computation
//! step by step (the client's key, the key with the fixed GUID appended,
//! its SHA-1, its base64) next to what the server actually sent, and then
//! every rule, ✓ or ✗, wrapped to the pane's width. The steps are the
//! model's fields; this pane only compares the two Accept strings it shows.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

use crate::dissect::{keys, Dissection, Field, FieldValue};
use crate::view::sanitize::sanitize;
use crate::view::tui::text::{cut, pad, width};
use crate::view::tui::theme::Theme;

/// The fixed GUID RFC 6455 §4.2.2 appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Draws the handshake check of the connection whose handshake answer is
/// `dissection` into `area`, from its first line.
pub fn render(dissection: Option<&Dissection>, area: Rect, buf: &mut Buffer, theme: &Theme) {
    render_scrolled(dissection, 0, area, buf, theme);
}

/// Like [`render`], starting `scroll` lines down (see [`line_count`]).
pub fn render_scrolled(
    dissection: Option<&Dissection>,
    scroll: usize,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let area = area.intersection(*buf.area());
    if area.is_empty() {
        return;
    }
    let lines = lines(dissection, usize::from(area.width), theme);
    for (offset, line) in lines
        .iter()
        .skip(scroll)
        .take(usize::from(area.height))
        .enumerate()
    {
        let Ok(y) = u16::try_from(offset) else {
            break;
        };
        buf.set_line(area.x, area.y.saturating_add(y), line, area.width);
    }
}

/// How many lines the check takes at a width of `cells`, for scrolling.
pub fn line_count(dissection: Option<&Dissection>, cells: u16, theme: &Theme) -> usize {
    lines(dissection, usize::from(cells), theme).len()
}

/// Splits already-safe `text` into lines of at most `cells` cells, between
/// words where possible; a word longer than a line is split.
pub(crate) fn wrap(text: &str, cells: usize) -> Vec<String> {
    let cells = cells.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split(' ').filter(|word| !word.is_empty()) {
        let word_cells = width(word);
        if used > 0 && used + 1 + word_cells > cells {
            lines.push(std::mem::take(&mut line));
            used = 0;
        }
        if used > 0 {
            line.push(' ');
            used += 1;
        }
        if used + word_cells <= cells {
            line.push_str(word);
            used += word_cells;
            continue;
        }
        for c in word.chars() {
            let c_cells = c.width().unwrap_or(0);
            if used > 0 && used + c_cells > cells {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            line.push(c);
            used += c_cells;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A field's value as text (not yet sanitized).
fn value(field: &Field) -> String {
    match &field.value {
        FieldValue::Text(text) => text.clone(),
        _ => field.display.clone(),
    }
}

/// Every line of the check, fitted to `cells`.
fn lines(dissection: Option<&Dissection>, cells: usize, theme: &Theme) -> Vec<Line<'static>> {
    let Some((dissection, check)) =
        dissection.and_then(|d| d.find(keys::handshake::CHECK).map(|check| (d, check)))
    else {
        return wrap(
            "This connection has no captured opening handshake: the capture started after it (mid-stream), or the connection is not WebSocket.",
            cells,
        )
        .into_iter()
        .map(|line| Line::styled(line, theme.dim))
        .collect();
    };
    let rules: Vec<&Field> = check
        .children
        .iter()
        .filter(|field| field.key == keys::handshake::RULE)
        .collect();
    let failed = rules
        .iter()
        .filter(|rule| rule.value != FieldValue::Bool(true))
        .count();
    let matched = accept_match(dissection, check);
    let good = failed == 0 && matched != Some(false);

    let mut out = Vec::new();
    // The verdict, then the model's summary of it.
    let verdict = sanitize(&value(check));
    let lead = "Opening handshake: ";
    out.push(Line::from(vec![
        Span::styled(cut(lead, cells), theme.title),
        Span::styled(
            cut(&verdict, cells.saturating_sub(width(lead))),
            if good { theme.good } else { theme.bad },
        ),
    ]));
    let summary = sanitize(&check.display);
    let summary = summary
        .strip_prefix(&format!("{verdict}: "))
        .unwrap_or(&summary)
        .to_string();
    out.extend(
        wrap(&summary, cells)
            .into_iter()
            .map(|line| Line::styled(line, theme.text)),
    );

    out.push(Line::raw(""));
    out.push(Line::styled(
        cut("Sec-WebSocket-Accept, step by step", cells),
        theme.title,
    ));
    accept_steps(dissection, check, matched, cells, theme, &mut out);

    out.push(Line::raw(""));
    let tally = match (rules.len(), failed) {
        (0, _) => "RFC 6455 rules: none checked".to_string(),
        (n, 0) => format!("RFC 6455 rules: all {n} kept"),
        (n, 1) => format!("RFC 6455 rules: 1 of {n} broken"),
        (n, f) => format!("RFC 6455 rules: {f} of {n} broken"),
    };
    out.push(Line::styled(cut(&tally, cells), theme.title));
    for rule in rules {
        let passed = rule.value == FieldValue::Bool(true);
        let (mark, mark_style, text_style) = if passed {
            ("✓ ", theme.good, theme.text)
        } else {
            ("✗ ", theme.bad, theme.bad)
        };
        let text = sanitize(&format!("{}: {}", rule.label, rule.display));
        for (index, line) in wrap(&text, cells.saturating_sub(2)).into_iter().enumerate() {
            let mark = if index == 0 { mark } else { "  " };
            out.push(Line::from(vec![
                Span::styled(cut(mark, cells), mark_style),
                Span::styled(line, text_style),
            ]));
        }
    }
    out
}

/// Whether the server's Sec-WebSocket-Accept equals the expected one: the
/// model's verdict when it gives one, else the two strings compared.
fn accept_match(dissection: &Dissection, check: &Field) -> Option<bool> {
    if let Some(FieldValue::Bool(matched)) = check
        .find(keys::handshake::ACCEPT_MATCH)
        .map(|field| &field.value)
    {
        return Some(*matched);
    }
    let expected = check.find(keys::handshake::EXPECTED_ACCEPT).map(value)?;
    let received = dissection.find(keys::http::WS_ACCEPT).map(value)?;
    Some(expected.trim() == received.trim())
}

/// The four steps and the server's answer, each as `label  value`, or the
/// value on a line of its own when the pane is too narrow for both.
fn accept_steps(
    dissection: &Dissection,
    check: &Field,
    matched: Option<bool>,
    cells: usize,
    theme: &Theme,
    out: &mut Vec<Line<'static>>,
) {
    let steps = [
        (keys::handshake::KEY, "1. Key from the client"),
        (keys::handshake::CONCATENATED, "2. Key + GUID"),
        (keys::handshake::SHA1, "3. SHA-1 of that (hex)"),
        (
            keys::handshake::EXPECTED_ACCEPT,
            "4. base64 = expected Accept",
        ),
    ];
    const SERVER: &str = "Server's Sec-WebSocket-Accept";
    let label_cells = width(SERVER) + 2;
    let Some(key) = check.find(keys::handshake::KEY).map(value) else {
        let note =
            "The request carried no Sec-WebSocket-Key, so there is no Accept value to compute.";
        out.extend(
            wrap(note, cells)
                .into_iter()
                .map(|l| Line::styled(l, theme.dim)),
        );
        return;
    };
    let key = sanitize(&key);
    for (field_key, label) in steps {
        let Some(text) = check.find(field_key).map(value) else {
            continue;
        };
        let text = sanitize(&text);
        let spans = if field_key == keys::handshake::CONCATENATED {
            // Show the key and the GUID apart.
            match text.strip_suffix(GUID) {
                Some(head) => vec![
                    (head.to_string(), theme.text),
                    (GUID.to_string(), theme.note),
                ],
                None => vec![(text, theme.text)],
            }
        } else if field_key == keys::handshake::KEY {
            vec![(key.clone(), theme.text)]
        } else {
            vec![(text, theme.text)]
        };
        labelled(label, label_cells, spans, cells, theme, out);
    }
    match dissection.find(keys::http::WS_ACCEPT).map(value) {
        Some(received) => {
            let verdict = match matched {
                Some(true) => ("  match ✓".to_string(), theme.good),
                Some(false) => ("  MISMATCH ✗".to_string(), theme.bad),
                None => (String::new(), theme.text),
            };
            let received = sanitize(&received);
            labelled(
                SERVER,
                label_cells,
                vec![(received, theme.text), verdict],
                cells,
                theme,
                out,
            );
        }
        None => out.extend(
            wrap("The server sent no Sec-WebSocket-Accept.", cells)
                .into_iter()
                .map(|line| Line::styled(line, theme.dim)),
        ),
    }
}

/// One `label  value` line, or two when the value does not fit beside it.
fn labelled(
    label: &str,
    label_cells: usize,
    value: Vec<(String, Style)>,
    cells: usize,
    theme: &Theme,
    out: &mut Vec<Line<'static>>,
) {
    let value_cells: usize = value.iter().map(|(text, _)| width(text)).sum();
    let (first, indent) = if label_cells + value_cells <= cells {
        (vec![Span::styled(pad(label, label_cells), theme.dim)], None)
    } else {
        (vec![Span::styled(cut(label, cells), theme.dim)], Some(3))
    };
    let mut room = match indent {
        None => cells.saturating_sub(label_cells),
        Some(indent) => cells.saturating_sub(indent),
    };
    let mut rest = Vec::new();
    for (text, style) in value {
        let shown = cut(&text, room);
        room = room.saturating_sub(width(&shown));
        rest.push(Span::styled(shown, style));
    }
    match indent {
        None => {
            let mut spans = first;
            spans.extend(rest);
            out.push(Line::from(spans));
        }
        Some(indent) => {
            out.push(Line::from(first));
            let mut spans = vec![Span::raw(" ".repeat(indent))];
            spans.extend(rest);
            out.push(Line::from(spans));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::FrameNumber;
    use crate::session::{Session, SessionLimits};
    use std::path::Path;
    use std::sync::Arc;

    fn open(name: &str) -> Session {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("captures")
            .join(name);
        Session::open_blocking(&path, SessionLimits::default()).unwrap()
    }

    fn handshake(session: &mut Session, stream: u32) -> Arc<Dissection> {
        let frame = session.handshake_frame(stream).unwrap();
        session.dissect(frame).unwrap()
    }

    fn lines(buf: &Buffer) -> Vec<String> {
        let area = buf.area;
        (area.top()..area.bottom())
            .map(|y| {
                // A wide character covers the cell after it: skip that cell.
                let mut line = String::new();
                let mut hidden = 0;
                for x in area.left()..area.right() {
                    if hidden > 0 {
                        hidden -= 1;
                        continue;
                    }
                    let symbol = buf[(x, y)].symbol();
                    line.push_str(symbol);
                    hidden = width(symbol).saturating_sub(1);
                }
                line.trim_end().to_string()
            })
            .collect()
    }

    fn draw(dissection: Option<&Dissection>, w: u16, h: u16, theme: &Theme) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        render(dissection, buf.area, &mut buf, theme);
        buf
    }

    #[test]
    fn accepted_handshake_step_by_step() {
        let mut session = open("ws-basic.pcapng");
        let dissection = handshake(&mut session, 0);
        assert_eq!(dissection.frame.number, FrameNumber(6));
        let theme = Theme::named("default").unwrap();
        let buf = draw(Some(&dissection), 100, 40, &theme);
        let text = lines(&buf);
        assert_eq!(text[0], "Opening handshake: accepted");
        assert_eq!(buf[(19, 0)].style().fg, theme.good.fg);
        assert!(text[1].starts_with("The handshake follows RFC 6455"));
        let at = |prefix: &str| text.iter().find(|l| l.starts_with(prefix)).unwrap().clone();
        assert_eq!(
            at("1."),
            "1. Key from the client         tC/J6/zCIk+NQ1HrY57BiA=="
        );
        assert_eq!(
            at("2."),
            "2. Key + GUID                  tC/J6/zCIk+NQ1HrY57BiA==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        );
        assert_eq!(
            at("3."),
            "3. SHA-1 of that (hex)         2771485bc6dfde4ac6d2be5a98d2ac464587ae78"
        );
        assert_eq!(
            at("4."),
            "4. base64 = expected Accept    J3FIW8bf3krG0r5amNKsRkWHrng="
        );
        assert_eq!(
            at("Server's"),
            "Server's Sec-WebSocket-Accept  J3FIW8bf3krG0r5amNKsRkWHrng=  match ✓"
        );
        let y = text.iter().position(|l| l.starts_with("Server's")).unwrap();
        let x = text[y]
            .find("match")
            .map(|b| text[y][..b].chars().count())
            .unwrap();
        assert_eq!(buf[(x as u16, y as u16)].style().fg, theme.good.fg);
        assert!(
            text.contains(&"RFC 6455 rules: all 13 kept".to_string()),
            "{text:#?}"
        );
        assert!(text
            .iter()
            .any(|l| l
                .starts_with("✓ Request method: ok (RFC 6455 §4.1): The request method is GET")));
        assert!(text
            .iter()
            .any(|l| l.starts_with("✓ Sec-WebSocket-Extensions: ok")));
    }

    #[test]
    fn wrong_accept_is_a_mismatch_and_a_broken_rule() {
        let mut session = open("ws-abnormal.pcapng");
        let streams: Vec<u32> = (0..8)
            .filter(|s| session.handshake_frame(*s).is_some())
            .collect();
        let mut seen = 0;
        for stream in streams {
            let dissection = handshake(&mut session, stream);
            let theme = Theme::named("default").unwrap();
            let text = lines(&draw(Some(&dissection), 80, 60, &theme));
            if text[0] == "Opening handshake: failed" {
                seen += 1;
                let server = text.iter().find(|l| l.starts_with("Server's")).unwrap();
                assert_eq!(
                    server,
                    "Server's Sec-WebSocket-Accept  R+KtB6GDqXCtxV6gV5TSQXdjvRE=  MISMATCH ✗"
                );
                assert!(text.contains(&"RFC 6455 rules: 1 of 13 broken".to_string()));
                let failed = text.iter().position(|l| l.starts_with("✗ ")).unwrap();
                assert!(
                    text[failed].starts_with("✗ Sec-WebSocket-Accept: FAILED (RFC 6455 §4.2.2)")
                );
                // The wrapped rest of the rule is indented under its text.
                assert!(text[failed + 1].starts_with("  "), "{text:#?}");
            }
            if text[0] == "Opening handshake: refused (400)" {
                seen += 1;
                assert!(text.contains(&"The server sent no Sec-WebSocket-Accept.".to_string()));
                assert!(
                    text.iter().any(|l| l.starts_with("✗ Status 101: FAILED")),
                    "{text:#?}"
                );
            }
        }
        assert_eq!(seen, 2);
    }

    #[test]
    fn no_handshake_says_so() {
        let mut session = open("ws-midstream.pcapng");
        assert!(session.handshake_frame(0).is_none());
        let frame = session.stream_frames(0)[0];
        let dissection = session.dissect(frame).unwrap();
        for d in [Some(&*dissection), None] {
            let text = lines(&draw(d, 50, 5, &Theme::named("mono").unwrap()));
            assert!(
                text[0].starts_with("This connection has no captured"),
                "{text:#?}"
            );
        }
    }

    #[test]
    fn narrow_panes_put_values_under_labels() {
        let mut session = open("ws-basic.pcapng");
        let dissection = handshake(&mut session, 0);
        let text = lines(&draw(
            Some(&dissection),
            40,
            40,
            &Theme::named("mono").unwrap(),
        ));
        let two = text
            .iter()
            .position(|l| l.starts_with("2. Key + GUID"))
            .unwrap();
        assert_eq!(text[two + 1], "   tC/J6/zCIk+NQ1HrY57BiA==258EAFA5-E91…");
        assert!(text.iter().all(|l| width(l) <= 40));
        let theme = Theme::named("mono").unwrap();
        assert!(
            line_count(Some(&dissection), 40, &theme) > line_count(Some(&dissection), 200, &theme)
        );
    }

    #[test]
    fn scrolling_and_tiny_areas() {
        let mut session = open("ws-basic.pcapng");
        let dissection = handshake(&mut session, 0);
        let theme = Theme::named("default").unwrap();
        let mut buf = Buffer::empty(Rect::new(0, 0, 80, 3));
        render_scrolled(Some(&dissection), 3, buf.area, &mut buf, &theme);
        assert_eq!(lines(&buf)[0], "Sec-WebSocket-Accept, step by step");
        for (w, h) in [(10, 3), (0, 0), (1, 1), (0, 2), (2, 0), (3, 3)] {
            for d in [Some(&*dissection), None] {
                let buf = draw(d, w, h, &theme);
                assert!(lines(&buf).iter().all(|l| width(l) <= usize::from(w)));
            }
        }
        render(
            Some(&dissection),
            Rect::new(70, 1, 40, 40),
            &mut buf,
            &theme,
        );
        render_scrolled(Some(&dissection), usize::MAX, buf.area, &mut buf, &theme);
    }

    #[test]
    fn wrap_splits_between_words_and_inside_long_ones() {
        assert_eq!(wrap("a bb ccc", 4), vec!["a bb", "ccc"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 5), vec![""]);
        assert_eq!(wrap("x y", 0), vec!["x", "y"]);
        assert_eq!(wrap("こんにちは world", 6), vec!["こんに", "ちは", "world"]);
    }
}
