//! The unmasking table: how a client's WebSocket payload is unmasked, byte
//! by byte.
//!
//! A masked frame carries a 4-byte masking key; payload byte `i` travelled
//! as `plain[i] ⊕ key[i mod 4]`. The table shows, one row per byte, the
//! masked byte, the key byte it was combined with (the four key bytes each
//! in a style of their own), the plain byte and its character. The values
//! are the frame's fields (`websocket.masking_key`, `websocket.masked_payload`
//! and `websocket.payload`): this pane lays them out and computes nothing.
//! For an unmasked frame it explains why only clients mask (RFC 6455 §5.1
//! and §10.3).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::dissect::{keys, FieldValue, Layer, Osi, Protocol};
use crate::view::sanitize::{sanitize, sanitize_bytes};
use crate::view::tui::text::{fit, pad, width};
use crate::view::tui::theme::Theme;

/// Lines above the table: the summary and the column headings.
const HEADING_LINES: usize = 2;

/// Rows of the unmasking table of `layer`: one per masked payload byte, 0
/// when the layer holds no masked payload.
pub fn rows(layer: &Layer) -> usize {
    match (
        bytes(layer, keys::websocket::MASKING_KEY),
        bytes(layer, keys::websocket::MASKED_PAYLOAD),
    ) {
        (Some(key), Some(masked)) if !key.is_empty() => masked.len(),
        _ => 0,
    }
}

/// Draws the unmasking of `layer` into `area`, table rows from `scroll`.
pub fn render(layer: Option<&Layer>, scroll: usize, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let area = area.intersection(*buf.area());
    if area.is_empty() {
        return;
    }
    let Some(layer) = layer.filter(|layer| layer.protocol == Protocol::WebSocket) else {
        let text = "Select a WebSocket frame to see how its payload is unmasked, byte by byte.";
        paragraph(vec![Line::styled(text, theme.dim)], area, buf);
        return;
    };
    match (
        bytes(layer, keys::websocket::MASKING_KEY),
        bytes(layer, keys::websocket::MASKED_PAYLOAD),
    ) {
        (Some(key), Some(masked)) if !key.is_empty() => {
            let plain = bytes(layer, keys::websocket::PAYLOAD).unwrap_or(&[]);
            let frame = Masked {
                layer,
                key,
                masked,
                plain,
            };
            table(&frame, scroll, area, buf, theme);
        }
        _ => paragraph(unmasked(theme), area, buf),
    }
}

/// The fields of a masked frame that the table lays out.
struct Masked<'a> {
    layer: &'a Layer,
    key: &'a [u8],
    masked: &'a [u8],
    /// The unmasked payload, as the model gives it.
    plain: &'a [u8],
}

/// The bytes of a field holding [`FieldValue::Bytes`].
fn bytes<'a>(layer: &'a Layer, key: &str) -> Option<&'a [u8]> {
    match layer.find(key).map(|field| &field.value) {
        Some(FieldValue::Bytes(bytes)) => Some(bytes.as_slice()),
        _ => None,
    }
}

/// The style of key byte `index`: a layer colour each, or in a theme
/// without colour a text attribute each.
fn key_style(theme: &Theme, index: usize) -> Style {
    const COLOURS: [Osi; 4] = [Osi::DataLink, Osi::Network, Osi::Transport, Osi::Session];
    const ATTRIBUTES: [Modifier; 4] = [
        Modifier::BOLD,
        Modifier::UNDERLINED,
        Modifier::BOLD.union(Modifier::UNDERLINED),
        Modifier::ITALIC,
    ];
    let slot = index % 4;
    let style = theme.layer(COLOURS.get(slot).copied());
    if style.fg.is_none() && style.bg.is_none() {
        style.add_modifier(ATTRIBUTES.get(slot).copied().unwrap_or(Modifier::BOLD))
    } else {
        style
    }
}

/// The summary, the headings and the rows of the table.
fn table(frame: &Masked, scroll: usize, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let Masked {
        layer,
        key,
        masked,
        plain,
    } = *frame;
    let cells = usize::from(area.width);
    // Masking key 81 68 16 a4 · 14 bytes · plain text: "Hello, server!"
    let mut summary = vec![Span::styled("Masking key", theme.title)];
    for (index, byte) in key.iter().enumerate() {
        summary.push(Span::raw(" "));
        summary.push(Span::styled(format!("{byte:02x}"), key_style(theme, index)));
    }
    let count = if masked.len() == 1 {
        " · 1 byte".to_string()
    } else {
        format!(" · {} bytes", masked.len())
    };
    summary.push(Span::styled(count, theme.text));
    if let Some(FieldValue::Text(text)) =
        layer.find(keys::websocket::TEXT).map(|field| &field.value)
    {
        const LEAD: &str = " · plain text: ";
        let used: usize = summary.iter().map(|span| width(&span.content)).sum();
        let room = cells.saturating_sub(used).saturating_sub(width(LEAD) + 2);
        // Leave the text out rather than show only its first cell.
        if room >= 4 {
            summary.push(Span::styled(LEAD, theme.text));
            summary.push(Span::styled(
                format!("\"{}\"", fit(text, room)),
                theme.layer(Some(Osi::Application)),
            ));
        }
    }
    put(buf, area, 0, &Line::from(summary));

    let index_cells = width(&masked.len().saturating_sub(1).to_string()).max(1);
    let heading = format!(
        "{}  {}   {}   {}  char",
        pad_left("i", index_cells),
        pad("masked", 6),
        pad("key[i mod 4]", 12),
        pad("plain", 5),
    );
    put(buf, area, 1, &Line::styled(heading, theme.dim));

    if masked.is_empty() {
        let note = Line::styled("The payload is empty: nothing to unmask.", theme.dim);
        put(buf, area, 2, &note);
        return;
    }
    let visible = usize::from(area.height).saturating_sub(HEADING_LINES);
    let first = scroll.min(masked.len().saturating_sub(visible.max(1)));
    for (offset, (index, byte)) in masked
        .iter()
        .enumerate()
        .skip(first)
        .take(visible)
        .enumerate()
    {
        let Ok(y) = u16::try_from(offset.saturating_add(HEADING_LINES)) else {
            break;
        };
        let slot = index % key.len();
        let key_byte = key
            .get(slot)
            .map_or_else(|| "??".to_string(), |b| format!("{b:02x}"));
        let plain_byte = plain.get(index).copied();
        let row = vec![
            Span::styled(pad_left(&index.to_string(), index_cells), theme.dim),
            Span::raw("  "),
            Span::styled(pad(&format!("{byte:02x}"), 6), theme.text),
            Span::styled(" ⊕ ", theme.dim),
            Span::styled(
                pad(&format!("{key_byte} (key[{slot}])"), 12),
                key_style(theme, slot),
            ),
            Span::styled(" = ", theme.dim),
            Span::styled(
                pad(
                    &plain_byte.map_or("??".to_string(), |b| format!("{b:02x}")),
                    5,
                ),
                theme.title,
            ),
            Span::raw("  "),
            Span::styled(character(plain, index), theme.layer(Some(Osi::Application))),
        ];
        put(buf, area, y, &Line::from(row));
    }
}

/// Plain byte `index` as a character: `'H'` when printable ASCII; for a
/// character of several UTF-8 bytes, `'こ' 1/3` at its first byte and
/// `… 2/3` at the others; an escape (`\x0a`) otherwise.
fn character(plain: &[u8], index: usize) -> String {
    let Some(&byte) = plain.get(index) else {
        return String::new();
    };
    if byte == b' ' || byte.is_ascii_graphic() {
        return format!("'{}'", char::from(byte));
    }
    if byte.is_ascii() {
        return sanitize_bytes(&[byte]);
    }
    // Look back (at most three bytes) for the lead byte of the sequence.
    for back in 0..4 {
        let Some(lead) = index.checked_sub(back).and_then(|start| plain.get(start)) else {
            break;
        };
        let len = match lead {
            0x80..=0xbf => continue,
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => break,
        };
        let start = index - back;
        let sequence = plain.get(start..start.saturating_add(len));
        match sequence.map(std::str::from_utf8) {
            Some(Ok(text)) if back < len => {
                return if back == 0 {
                    format!("'{}' 1/{len}", sanitize(text))
                } else {
                    format!("… {}/{len}", back + 1)
                };
            }
            _ => break,
        }
    }
    sanitize_bytes(&[byte])
}

/// Why this frame is not masked, and why clients mask.
fn unmasked(theme: &Theme) -> Vec<Line<'static>> {
    vec![
        Line::styled("This frame is not masked.", theme.title),
        Line::styled(
            "Its header has no masking key (the MASK bit is 0), so the payload travelled exactly as the application wrote it.",
            theme.text,
        ),
        Line::raw(""),
        Line::styled(
            "Only clients mask. RFC 6455 §5.1: a client must mask every frame it sends to the server, and a server must not mask any frame it sends to the client. So a frame without a key normally comes from the server; an unmasked frame from a client breaks the rule, and the server must close the connection.",
            theme.text,
        ),
        Line::raw(""),
        Line::styled(
            "Why clients mask (RFC 6455 §10.3): a script in a web page chooses what its messages say. Without masking, a hostile script could make the bytes the browser sends look, to a proxy or cache on the way that does not understand WebSocket, like an HTTP request of its choosing, and so poison that cache for everyone behind it. XORing each frame with a fresh random key the script cannot predict keeps the bytes on the wire out of its control.",
            theme.text,
        ),
    ]
}

/// Draws wrapped lines into `area` (already inside the buffer).
fn paragraph(lines: Vec<Line<'static>>, area: Rect, buf: &mut Buffer) {
    Paragraph::new(Text::from(lines))
        .wrap(Wrap { trim: true })
        .render(area, buf);
}

/// `text` right-aligned in `cells` cells.
fn pad_left(text: &str, cells: usize) -> String {
    format!("{}{text}", " ".repeat(cells.saturating_sub(width(text))))
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
    use crate::dissect::{Dissection, FrameNumber};
    use crate::session::{Session, SessionLimits};
    use std::path::Path;
    use std::sync::Arc;

    fn dissect(name: &str, frame: u64) -> Arc<Dissection> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("captures")
            .join(name);
        let mut session = Session::open_blocking(&path, SessionLimits::default()).unwrap();
        session.dissect(FrameNumber(frame)).unwrap()
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

    fn draw(layer: Option<&Layer>, scroll: usize, w: u16, h: u16, theme: &Theme) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        render(layer, scroll, buf.area, &mut buf, theme);
        buf
    }

    #[test]
    fn masked_client_frame_is_unmasked_byte_by_byte() {
        let dissection = dissect("ws-basic.pcapng", 8);
        let layer = dissection.layer(Protocol::WebSocket).unwrap();
        assert_eq!(rows(layer), 14);
        let theme = Theme::named("default").unwrap();
        let buf = draw(Some(layer), 0, 80, 20, &theme);
        let text = lines(&buf);
        assert_eq!(
            text[0].trim_end(),
            "Masking key 81 68 16 a4 · 14 bytes · plain text: \"Hello, server!\""
        );
        assert_eq!(
            text[1].trim_end(),
            " i  masked   key[i mod 4]   plain  char"
        );
        assert_eq!(text[2].trim_end(), " 0  c9     ⊕ 81 (key[0])  = 48     'H'");
        assert_eq!(text[3].trim_end(), " 1  0d     ⊕ 68 (key[1])  = 65     'e'");
        assert_eq!(text[7].trim_end(), " 5  44     ⊕ 68 (key[1])  = 2c     ','");
        assert_eq!(text[8].trim_end(), " 6  36     ⊕ 16 (key[2])  = 20     ' '");
        assert_eq!(
            text[15].trim_end(),
            "13  49     ⊕ 68 (key[1])  = 21     '!'"
        );
        // The model's bytes agree with the rule the table teaches.
        let key = bytes(layer, keys::websocket::MASKING_KEY).unwrap();
        let masked = bytes(layer, keys::websocket::MASKED_PAYLOAD).unwrap();
        let plain = bytes(layer, keys::websocket::PAYLOAD).unwrap();
        for (i, (m, p)) in masked.iter().zip(plain).enumerate() {
            assert_eq!(m ^ key[i % 4], *p);
        }
        // The four key bytes look different from each other.
        let styles: Vec<Style> = (0..4).map(|i| buf[(12 + 3 * i, 0)].style()).collect();
        for i in 0..4 {
            for j in i + 1..4 {
                assert_ne!(styles[i], styles[j]);
            }
        }
        // Row 2 uses key[2]'s style for its key byte.
        assert_eq!(buf[(14, 8)].style(), styles[2]);
    }

    #[test]
    fn key_bytes_differ_without_colour_too() {
        let dissection = dissect("ws-basic.pcapng", 8);
        let layer = dissection.layer(Protocol::WebSocket);
        let theme = Theme::named("mono").unwrap();
        let buf = draw(layer, 0, 80, 4, &theme);
        let styles: Vec<Style> = (0..4).map(|i| buf[(12 + 3 * i, 0)].style()).collect();
        for i in 0..4 {
            for j in i + 1..4 {
                assert_ne!(styles[i], styles[j]);
            }
        }
    }

    #[test]
    fn rows_scroll_and_clamp() {
        let dissection = dissect("ws-basic.pcapng", 8);
        let layer = dissection.layer(Protocol::WebSocket);
        let theme = Theme::named("mono").unwrap();
        let text = lines(&draw(layer, 10, 60, 5, &theme));
        assert!(text[2].starts_with("10  "), "{text:#?}");
        assert!(text[4].starts_with("12  "));
        // Scrolling past the end keeps the last rows in view.
        let text = lines(&draw(layer, 99, 60, 5, &theme));
        assert!(text[4].starts_with("13  "), "{text:#?}");
    }

    #[test]
    fn wide_text_and_long_payloads() {
        // The masked Japanese text: its bytes are not ASCII, so they show as escapes.
        let dissection = dissect("ws-basic.pcapng", 10);
        let layer = dissection.layer(Protocol::WebSocket).unwrap();
        let text = lines(&draw(Some(layer), 0, 70, 4, &Theme::named("mono").unwrap()));
        assert!(
            text[0]
                .trim_end()
                .ends_with("· 15 bytes · plain text: \"こんにちは\""),
            "{text:#?}"
        );
        // A character of several UTF-8 bytes is shown at its first byte.
        assert!(
            text[2].trim_end().ends_with("= e3     'こ' 1/3"),
            "{text:#?}"
        );
        assert!(text[3].trim_end().ends_with("= 81     … 2/3"), "{text:#?}");
        // Narrow: the text is cut, or left out; never the key.
        let text = lines(&draw(Some(layer), 0, 56, 3, &Theme::named("mono").unwrap()));
        assert_eq!(
            text[0],
            "Masking key 00 61 27 33 · 15 bytes · plain text: \"こん…\""
        );
        let text = lines(&draw(Some(layer), 0, 40, 3, &Theme::named("mono").unwrap()));
        assert_eq!(text[0].trim_end(), "Masking key 00 61 27 33 · 15 bytes");
    }

    #[test]
    fn server_frames_explain_why_only_clients_mask() {
        let dissection = dissect("ws-basic.pcapng", 9);
        let layer = dissection.layer(Protocol::WebSocket).unwrap();
        assert_eq!(rows(layer), 0);
        let text = lines(&draw(
            Some(layer),
            0,
            60,
            30,
            &Theme::named("default").unwrap(),
        ));
        let all = text.join(" ");
        assert!(text[0].starts_with("This frame is not masked."));
        assert!(all.contains("§5.1"), "{all}");
        assert!(all.contains("§10.3"));
        assert!(all.contains("cache"));
    }

    #[test]
    fn no_websocket_layer_asks_for_one() {
        let dissection = dissect("ws-basic.pcapng", 4);
        let text = lines(&draw(None, 0, 40, 4, &Theme::named("default").unwrap()));
        assert!(text.join(" ").contains("Select a WebSocket frame"));
        let tcp = dissection.layer(Protocol::Tcp);
        let text = lines(&draw(tcp, 0, 40, 4, &Theme::named("default").unwrap()));
        assert!(text.join(" ").contains("Select a WebSocket frame"));
    }

    #[test]
    fn tiny_and_empty_areas_do_not_panic() {
        let dissection = dissect("ws-basic.pcapng", 8);
        let masked = dissection.layer(Protocol::WebSocket);
        let server = dissect("ws-basic.pcapng", 9);
        let theme = Theme::named("default").unwrap();
        for layer in [masked, server.layer(Protocol::WebSocket), None] {
            for (w, h) in [(10, 3), (0, 0), (1, 1), (0, 3), (3, 0), (2, 2)] {
                for scroll in [0, 5, usize::MAX] {
                    let buf = draw(layer, scroll, w, h, &theme);
                    assert_eq!(lines(&buf).len(), usize::from(h));
                }
            }
            let mut buf = Buffer::empty(Rect::new(0, 0, 10, 3));
            render(layer, 0, Rect::new(9, 2, 30, 30), &mut buf, &theme);
        }
    }
}
