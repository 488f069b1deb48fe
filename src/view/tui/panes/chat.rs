//! The chat: the WebSocket messages of one connection, as a conversation.
//!
//! Each message takes two lines: a heading (time since the start, who sent
//! it, opcode, length and marks for compressed, incomplete or otherwise
//! noteworthy messages) and its content (the text, sanitized; the first
//! bytes in hex for binary data; the status code and reason of a close).
//! The client's messages sit on the left behind `client ▶`, the server's on
//! the right behind `◀ server`. The selected message is highlighted and kept
//! in view.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::dissect::{Timestamp, WsMessage};
use crate::view::sanitize::{sanitize, sanitize_bytes};
use crate::view::tui::panes::ladder::{elapsed, first_visible};
use crate::view::tui::text::{cut, fit, width};
use crate::view::tui::theme::Theme;

/// The messages of one connection, as the chat shows them.
#[derive(Clone, Copy, Debug)]
pub struct Chat<'a> {
    /// The connection's messages, in the order they ended.
    pub messages: &'a [&'a WsMessage],
    /// Index into `messages` of the highlighted one.
    pub selected: usize,
    /// The time the chat counts from (usually the connection's first frame).
    pub start: Timestamp,
}

/// Payload bytes shown in hex for binary data.
const HEX_PREVIEW: usize = 16;
/// Cells kept free on the far side of a message's content.
const INDENT: usize = 2;

/// Draws the chat into `area`, clipped to it.
pub fn render(chat: &Chat, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let area = area.intersection(*buf.area());
    if area.is_empty() {
        return;
    }
    let cells = usize::from(area.width);
    if chat.messages.is_empty() {
        let note = Line::styled(
            cut("No WebSocket message on this connection.", cells),
            theme.dim,
        );
        put(buf, area, 0, &note);
        return;
    }
    let lines_each: u16 = if area.height >= 2 { 2 } else { 1 };
    let visible = usize::from(area.height / lines_each);
    let first = first_visible(Some(chat.selected), chat.messages.len(), visible);
    for (offset, message) in chat.messages.iter().skip(first).take(visible).enumerate() {
        let Ok(y) = u16::try_from(offset).map(|o| o.saturating_mul(lines_each)) else {
            break;
        };
        let client = from_client(message);
        let heading = heading(message, chat.start, theme);
        put(buf, area, y, &align(heading, client, cells));
        if lines_each == 2 {
            let body = vec![Span::styled(
                content(message, cells.saturating_sub(INDENT)),
                theme.text,
            )];
            let body = if client {
                let mut spans = vec![Span::raw(" ".repeat(INDENT))];
                spans.extend(body);
                spans
            } else {
                let mut spans = body;
                spans.push(Span::raw(" ".repeat(INDENT)));
                spans
            };
            put(buf, area, y.saturating_add(1), &align(body, client, cells));
        }
        if first.saturating_add(offset) == chat.selected {
            let rows = Rect::new(area.x, area.y.saturating_add(y), area.width, lines_each);
            buf.set_style(rows.intersection(area), theme.selected);
        }
    }
}

/// The frames that carried a message: `frames 8, 9, 10`, or for long lists
/// `frames 28, 29, 31, …, 77 (46 frames)`.
pub fn message_frames_label(m: &WsMessage) -> String {
    const SHOWN: usize = 6;
    let numbers: Vec<String> = m.frames.iter().map(ToString::to_string).collect();
    match numbers.as_slice() {
        [] => "no frame".to_string(),
        [one] => format!("frame {one}"),
        all if all.len() <= SHOWN => format!("frames {}", all.join(", ")),
        [a, b, c, .., last] => {
            format!("frames {a}, {b}, {c}, …, {last} ({} frames)", numbers.len())
        }
        all => format!("frames {}", all.join(", ")),
    }
}

/// Whether the client sent the message (`Direction::index` is 0 for client
/// to server).
fn from_client(message: &WsMessage) -> bool {
    message.direction.index() == 0
}

/// `0.0009 client ▶ text · 14 bytes · deflate`, or for the server
/// `◀ server text · 14 bytes 0.0025`.
fn heading(message: &WsMessage, start: Timestamp, theme: &Theme) -> Vec<Span<'static>> {
    let time = Span::styled(elapsed(message.ts, start), theme.dim);
    let mut what = vec![
        Span::styled(fit(&message.opcode, 20), theme.title),
        Span::styled(format!(" · {}", bytes(message.len)), theme.text),
    ];
    if message.compressed {
        what.push(Span::styled(" · deflate", theme.note));
    }
    if !message.complete {
        what.push(Span::styled(" · incomplete", theme.warning));
    }
    if message.guessed {
        what.push(Span::styled(" · no handshake", theme.dim));
    }
    match message.problems.len() {
        0 => {}
        1 => what.push(Span::styled(" · 1 problem", theme.warning)),
        n => what.push(Span::styled(format!(" · {n} problems"), theme.warning)),
    }
    let mut spans = Vec::new();
    if from_client(message) {
        spans.push(time);
        spans.push(Span::styled(" client ▶ ", theme.client));
        spans.extend(what);
    } else {
        spans.push(Span::styled("◀ server ", theme.server));
        spans.extend(what);
        spans.push(Span::raw(" "));
        spans.push(time);
    }
    spans
}

/// `14 bytes`, `1 byte`.
fn bytes(n: u64) -> String {
    if n == 1 {
        "1 byte".to_string()
    } else {
        format!("{n} bytes")
    }
}

/// What a message says, fitted to `max` cells.
fn content(message: &WsMessage, max: usize) -> String {
    let cut_short = !message.payload_complete
        || u64::try_from(message.payload.len()).map_or(true, |kept| kept < message.len);
    let more = if cut_short { "…" } else { "" };
    let text = match message.opcode.as_ref() {
        "close" => match message.close_code {
            Some(code) => {
                let reason = sanitize(message.close_reason.as_deref().unwrap_or(""));
                if reason.is_empty() {
                    format!("status {code}, no reason")
                } else {
                    format!("status {code} · \"{reason}\"")
                }
            }
            None => "no status code".to_string(),
        },
        _ if message.payload.is_empty() && message.opcode == "text" => format!("\"\"{more}"),
        _ if message.payload.is_empty() => {
            if cut_short {
                "(payload not captured)".to_string()
            } else {
                "(no payload)".to_string()
            }
        }
        "text" => format!("\"{}{more}\"", sanitize_bytes(&message.payload)),
        "ping" | "pong" if std::str::from_utf8(&message.payload).is_ok() => {
            format!("\"{}{more}\"", sanitize_bytes(&message.payload))
        }
        _ => hex_preview(&message.payload, cut_short),
    };
    cut(&text, max)
}

/// `hex 00 01 02 fd fe ff`, with `…` when there is more.
fn hex_preview(payload: &[u8], cut_short: bool) -> String {
    let shown = payload.get(..HEX_PREVIEW).unwrap_or(payload);
    let pairs: Vec<String> = shown.chunks(1).map(hex::encode).collect();
    let more = if cut_short || payload.len() > shown.len() {
        " …"
    } else {
        ""
    };
    format!("hex {}{more}", pairs.join(" "))
}

/// The client's lines start at the left edge; the server's end at the right.
fn align(spans: Vec<Span<'static>>, left: bool, cells: usize) -> Line<'static> {
    if left {
        return Line::from(spans);
    }
    let used: usize = spans.iter().map(|span| width(&span.content)).sum();
    let mut out = vec![Span::raw(" ".repeat(cells.saturating_sub(used)))];
    out.extend(spans);
    Line::from(out)
}

/// Draws `line` on row `y` of `area` (already inside the buffer), clipped.
fn put(buf: &mut Buffer, area: Rect, y: u16, line: &Line) {
    if y < area.height {
        buf.set_line(area.x, area.y.saturating_add(y), line, area.width);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::FrameNumber;
    use crate::session::{Session, SessionLimits};
    use ratatui::style::Modifier;
    use std::path::Path;

    fn open(name: &str) -> Session {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("captures")
            .join(name);
        Session::open_blocking(&path, SessionLimits::default()).unwrap()
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
                line
            })
            .collect()
    }

    fn draw(session: &Session, stream: u32, selected: usize, w: u16, h: u16) -> Vec<String> {
        let messages: Vec<&WsMessage> = session
            .messages()
            .iter()
            .filter(|m| m.stream == stream)
            .collect();
        let start = session.rows()[0].ts;
        let chat = Chat {
            messages: &messages,
            selected,
            start,
        };
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        render(&chat, buf.area, &mut buf, &Theme::named("default").unwrap());
        lines(&buf)
    }

    #[test]
    fn client_left_server_right_with_content() {
        let session = open("ws-basic.pcapng");
        let text = draw(&session, 0, 0, 60, 20);
        assert!(
            text[0].starts_with("0.0079 client ▶ text · 14 bytes"),
            "{text:#?}"
        );
        assert_eq!(text[1].trim_end(), "  \"Hello, server!\"");
        assert!(
            text[2].ends_with("◀ server text · 14 bytes 0.0115"),
            "{text:#?}"
        );
        assert!(text[3].ends_with("\"Hello, client!\"  "));
        // Wide characters are counted twice and still fit.
        assert_eq!(text[5].trim_end(), "  \"こんにちは\"");
        assert!(text[7].ends_with("\"ありがとう\"  "));
        // Binary data as hex, ping as text, close with its code and reason.
        assert_eq!(text[9].trim_end(), "  hex 00 01 02 fd fe ff");
        assert!(text[11].ends_with("hex de ad be ef  "));
        assert!(text[12].contains("client ▶ ping · 14 bytes"));
        assert_eq!(text[13].trim_end(), "  \"are you there?\"");
        assert!(text[16].contains("client ▶ close · 5 bytes"));
        assert_eq!(text[17].trim_end(), "  status 1000 · \"bye\"");
        assert!(text[19].ends_with("status 1000 · \"bye\"  "));
    }

    #[test]
    fn the_selected_message_is_highlighted_and_scrolled_into_view() {
        let session = open("ws-basic.pcapng");
        let messages: Vec<&WsMessage> = session.messages().iter().collect();
        let theme = Theme::named("mono").unwrap();
        let chat = Chat {
            messages: &messages,
            selected: 8,
            start: session.rows()[0].ts,
        };
        let mut buf = Buffer::empty(Rect::new(0, 0, 50, 6));
        render(&chat, buf.area, &mut buf, &theme);
        let text = lines(&buf);
        // Three messages fit; the selected close is in the middle.
        assert!(text[2].contains("client ▶ close"), "{text:#?}");
        assert!(buf[(0, 2)].modifier.contains(Modifier::REVERSED));
        assert!(buf[(49, 3)].modifier.contains(Modifier::REVERSED));
        assert!(!buf[(0, 1)].modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn marks_for_compressed_incomplete_and_long_payloads() {
        let session = open("ws-deflate.pcapng");
        let text = draw(&session, 0, 0, 60, 4);
        assert!(text[0].contains("text · 300 bytes · deflate"), "{text:#?}");
        assert!(text[1].starts_with("  \"The quick brown fox"));
        assert!(text[1].trim_end().ends_with('…'));

        let session = open("ws-snaplen.pcapng");
        let messages: Vec<&WsMessage> = session.messages().iter().collect();
        let index = messages.iter().position(|m| !m.complete).unwrap();
        let chat = Chat {
            messages: &messages,
            selected: index,
            start: session.rows()[0].ts,
        };
        let mut buf = Buffer::empty(Rect::new(0, 0, 100, 2));
        render(&chat, buf.area, &mut buf, &Theme::named("mono").unwrap());
        let text = lines(&buf);
        assert!(
            text[0].contains("binary · 200 bytes · incomplete"),
            "{text:#?}"
        );
        assert!(text[0].contains("no handshake"));
        assert!(text[1].contains(" …"), "{text:#?}");
    }

    #[test]
    fn frames_labels() {
        let session = open("ws-basic.pcapng");
        assert_eq!(message_frames_label(&session.messages()[0]), "frame 8");
        let session = session_sizes();
        let labels: Vec<String> = session
            .messages()
            .iter()
            .map(message_frames_label)
            .collect();
        assert!(
            labels.contains(&"frames 439, 443, 444".to_string()),
            "{labels:#?}"
        );
        assert!(labels
            .iter()
            .any(|l| l.starts_with("frames 28, 29, 31, …, ") && l.ends_with(" (46 frames)")));
        let mut message = session.messages()[0].clone();
        message.frames = Vec::new();
        assert_eq!(message_frames_label(&message), "no frame");
        message.frames = (1..=6).map(FrameNumber).collect();
        assert_eq!(message_frames_label(&message), "frames 1, 2, 3, 4, 5, 6");
    }

    fn session_sizes() -> Session {
        open("ws-sizes.pcapng")
    }

    #[test]
    fn wire_text_is_sanitized() {
        let session = open("ws-basic.pcapng");
        let mut message = session.messages()[1].clone();
        message.payload = b"\x1b]0;pwned\x07 \xff".to_vec();
        message.len = 10;
        let messages = [&message];
        let chat = Chat {
            messages: &messages,
            selected: 0,
            start: message.ts,
        };
        let mut buf = Buffer::empty(Rect::new(0, 0, 40, 2));
        render(&chat, buf.area, &mut buf, &Theme::named("mono").unwrap());
        let text = lines(&buf);
        assert!(text[1].contains("\"\\e]0;pwned\\x07 \\xff\""), "{text:#?}");
    }

    #[test]
    fn tiny_and_empty_areas_do_not_panic() {
        let session = open("ws-basic.pcapng");
        for (w, h) in [(10, 3), (0, 0), (1, 1), (0, 4), (4, 0), (2, 1), (3, 2)] {
            for line in draw(&session, 0, 9, w, h) {
                assert!(width(&line) <= usize::from(w));
            }
        }
        let text = draw(&session, 7, 0, 50, 3);
        assert_eq!(
            text[0].trim_end(),
            "No WebSocket message on this connection."
        );
        // A selection past the end is not an error.
        let _ = draw(&session, 0, 99, 30, 5);
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 3));
        let messages: Vec<&WsMessage> = session.messages().iter().collect();
        let chat = Chat {
            messages: &messages,
            selected: 0,
            start: Timestamp::default(),
        };
        render(
            &chat,
            Rect::new(8, 2, 50, 50),
            &mut buf,
            &Theme::named("mono").unwrap(),
        );
    }
}
