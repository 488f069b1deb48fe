//! The packet list: number, time, source, destination, highest protocol,
//! length and an Info column like tshark's; each row coloured by its
//! highest layer, problems and marked frames flagged in the first column.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::dissect::{FrameNumber, Protocol, Severity, Timestamp};
use crate::session::Row;
use crate::view::tui::text::{fit, pad};
use crate::view::tui::theme::Theme;

/// What the list shows.
pub struct ListView<'a> {
    /// The rows on screen, top first.
    pub rows: Vec<&'a Row>,
    pub selected: Option<FrameNumber>,
    pub marked: &'a [FrameNumber],
    /// Times are shown relative to this (the first frame's time).
    pub start: Timestamp,
}

/// Seconds from `start` to `ts`, as tshark's relative time column.
pub fn relative(ts: Timestamp, start: Timestamp) -> f64 {
    ts.as_secs_f64() - start.as_secs_f64()
}

/// The protocol as the list's narrow column names it.
pub fn column_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Ethernet => "Ethernet",
        Protocol::Vlan => "VLAN",
        Protocol::LinuxSll | Protocol::LinuxSll2 => "SLL",
        Protocol::Null => "Loopback",
        Protocol::Http => "HTTP",
        other => other.name(),
    }
}

fn widths(total: usize) -> [usize; 6] {
    // marker+number, time, source, destination, protocol, length; info takes the rest.
    if total >= 140 {
        [8, 11, 24, 24, 10, 6]
    } else if total >= 100 {
        [7, 10, 16, 16, 10, 6]
    } else {
        [6, 9, 12, 12, 9, 5]
    }
}

/// Draws the header line and the rows.
pub fn render(view: &ListView<'_>, area: Rect, buf: &mut Buffer, theme: &Theme) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let total = usize::from(area.width);
    let [w_no, w_time, w_src, w_dst, w_proto, w_len] = widths(total);
    let used = w_no + w_time + w_src + w_dst + w_proto + w_len + 6;
    let w_info = total.saturating_sub(used);
    let header = format!(
        "{} {} {} {} {} {} {}",
        pad("   No.", w_no),
        pad("Time", w_time),
        pad("Source", w_src),
        pad("Destination", w_dst),
        pad("Protocol", w_proto),
        pad("Len", w_len),
        pad("Info", w_info)
    );
    buf.set_line(
        area.x,
        area.y,
        &Line::styled(header, theme.title),
        area.width,
    );
    for (i, row) in view.rows.iter().enumerate() {
        let Ok(offset) = u16::try_from(i + 1) else {
            break;
        };
        if offset >= area.height {
            break;
        }
        let y = area.y + offset;
        let marker = if view.marked.contains(&row.number) {
            ("•", theme.marked)
        } else {
            match row.worst {
                Some(Severity::Error) => ("!", theme.error),
                Some(Severity::Warning) => ("!", theme.warning),
                Some(Severity::Note) | None => (" ", theme.text),
            }
        };
        let colour = theme.layer(Some(row.protocol.osi()));
        let number = format!("{:>width$}", row.number.0, width = w_no.saturating_sub(2));
        let time = format!("{:.6}", relative(row.ts, view.start));
        let cells = vec![
            Span::styled(marker.0, marker.1),
            Span::raw(" "),
            Span::styled(pad(&number, w_no.saturating_sub(2)), theme.text),
            Span::raw(" "),
            Span::styled(pad(&time, w_time), theme.dim),
            Span::raw(" "),
            Span::styled(pad(&fit(&row.src, w_src), w_src), theme.text),
            Span::raw(" "),
            Span::styled(pad(&fit(&row.dst, w_dst), w_dst), theme.text),
            Span::raw(" "),
            Span::styled(pad(column_name(row.protocol), w_proto), colour),
            Span::raw(" "),
            Span::styled(pad(&row.len.to_string(), w_len), theme.text),
            Span::raw(" "),
            Span::styled(pad(&fit(&row.info(), w_info), w_info), colour),
        ];
        let mut line = Line::from(cells);
        if view.selected == Some(row.number) {
            line = line.patch_style(theme.selected);
            buf.set_style(Rect::new(area.x, y, area.width, 1), theme.selected);
        }
        buf.set_line(area.x, y, &line, area.width);
    }
}
