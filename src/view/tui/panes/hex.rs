//! The bytes of the shown data source in hex and ASCII, each byte coloured
//! by the layer that owns it, the selected field's bytes highlighted and
//! the cursor byte marked; a legend names the colours.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::dissect::{Dissection, Osi, Span as ByteSpan};
use crate::view::tui::text::cut;
use crate::view::tui::theme::Theme;

/// What the hex pane shows.
pub struct HexView<'a> {
    pub dissection: &'a Dissection,
    /// The data source shown (0 is the frame).
    pub source: usize,
    /// The selected field's bytes, in that source.
    pub highlight: Option<ByteSpan>,
    pub cursor: Option<usize>,
    /// First line shown.
    pub top: usize,
}

/// Bytes per line for a width: 16 when they fit, else 8.
pub fn bytes_per_line(width: u16) -> usize {
    if width >= 74 {
        16
    } else {
        8
    }
}

/// The OSI layer owning each byte of a source: the highest layer whose
/// header span holds it (payload bytes nobody claimed stay `None`).
pub fn owners(dissection: &Dissection, source: usize) -> Vec<Option<Osi>> {
    let len = dissection.sources.get(source).map_or(0, |s| s.bytes.len());
    let mut out = vec![None; len];
    for layer in dissection.layers.iter().filter(|l| l.source == source) {
        for slot in out
            .iter_mut()
            .take(layer.span.end.min(len))
            .skip(layer.span.start)
        {
            *slot = Some(layer.osi());
        }
    }
    out
}

/// The byte offset under a cell of the pane, if any.
pub fn offset_at(area: Rect, top: usize, column: u16, line: u16) -> Option<usize> {
    let per_line = bytes_per_line(area.width);
    let x = column.checked_sub(area.x)?;
    let y = usize::from(line.checked_sub(area.y)?);
    let base = (top + y) * per_line;
    let hex_start = 6u16;
    let hex_width = u16::try_from(per_line * 3 + usize::from(per_line == 16)).ok()?;
    let ascii_start = hex_start + hex_width + 1;
    if (hex_start..hex_start + hex_width).contains(&x) {
        let mut rel = usize::from(x - hex_start);
        if per_line == 16 && rel >= 25 {
            rel -= 1;
        }
        let index = rel / 3;
        return (index < per_line).then_some(base + index);
    }
    let index = usize::from(x.checked_sub(ascii_start)?);
    (index < per_line).then_some(base + index)
}

/// Draws the bytes (all but the last line) and the legend (the last line).
pub fn render(view: &HexView<'_>, area: Rect, buf: &mut Buffer, theme: &Theme) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let Some(source) = view.dissection.sources.get(view.source) else {
        return;
    };
    let bytes = &source.bytes;
    let owners = owners(view.dissection, view.source);
    let per_line = bytes_per_line(area.width);
    let lines = usize::from(area.height.saturating_sub(1)).max(1);
    let style_of = |offset: usize| -> Style {
        let mut style = theme.layer(owners.get(offset).copied().flatten());
        if view.highlight.is_some_and(|span| span.contains(offset)) {
            style = style.patch(theme.highlight);
        }
        if view.cursor == Some(offset) {
            style = style.patch(theme.cursor);
        }
        style
    };
    for line in 0..lines {
        let start = (view.top + line) * per_line;
        if start >= bytes.len() {
            break;
        }
        let chunk = bytes
            .get(start..(start + per_line).min(bytes.len()))
            .unwrap_or(&[]);
        let mut spans = vec![Span::styled(format!("{start:04x}  "), theme.dim)];
        for (i, byte) in chunk.iter().enumerate() {
            spans.push(Span::styled(format!("{byte:02x}"), style_of(start + i)));
            spans.push(Span::raw(if per_line == 16 && i == 7 { "  " } else { " " }));
        }
        let missing = per_line - chunk.len();
        let mut pad = missing * 3;
        if per_line == 16 && chunk.len() <= 7 {
            pad += 1;
        }
        spans.push(Span::raw(" ".repeat(pad + 1)));
        for (i, byte) in chunk.iter().enumerate() {
            let glyph = if byte.is_ascii_graphic() || *byte == b' ' {
                char::from(*byte)
            } else {
                '·'
            };
            spans.push(Span::styled(glyph.to_string(), style_of(start + i)));
        }
        let y = area.y + u16::try_from(line).unwrap_or(u16::MAX);
        buf.set_line(area.x, y, &Line::from(spans), area.width);
    }
    if area.height < 2 {
        return;
    }
    let mut legend = vec![
        Span::styled("■ ", theme.layer(None)),
        Span::styled("payload/other  ", theme.dim),
    ];
    let mut seen = Vec::new();
    for layer in view
        .dissection
        .layers
        .iter()
        .filter(|l| l.source == view.source && !l.span.is_empty())
    {
        if seen.contains(&layer.protocol) {
            continue;
        }
        seen.push(layer.protocol);
        legend.push(Span::styled("■ ", theme.layer(Some(layer.osi()))));
        legend.push(Span::styled(
            format!("L{} {}  ", layer.osi().number(), layer.protocol.name()),
            theme.layer(Some(layer.osi())),
        ));
    }
    legend.push(Span::styled(cut("▇ selected field", 20), theme.highlight));
    buf.set_line(area.x, area.bottom() - 1, &Line::from(legend), area.width);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_click_finds_its_byte_in_hex_and_ascii() {
        let area = Rect::new(0, 0, 80, 10);
        // "0000  00 01 02 03 04 05 06 07  08 ..." : byte 0 at x 6..8.
        assert_eq!(offset_at(area, 0, 6, 0), Some(0));
        assert_eq!(offset_at(area, 0, 9, 0), Some(1));
        assert_eq!(offset_at(area, 0, 31, 0), Some(8));
        assert_eq!(offset_at(area, 2, 6, 1), Some(48));
        // The ASCII column starts after 16 * 3 + 1 hex cells and a space.
        assert_eq!(offset_at(area, 0, 6 + 49 + 1, 0), Some(0));
        assert_eq!(offset_at(area, 0, 2, 0), None);
    }
}
