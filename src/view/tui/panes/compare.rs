//! The comparison of delivery techniques: a table of what polling, long polling, Server-Sent
//! Events and WebSocket cost per message in the capture (connections, requests, messages,
//! bytes on the wire, delay, ratios to WebSocket), two bar charts (bytes per message, median
//! delay), where each technique sits in the capture, and what the figures mean.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Bar, BarChart, Cell, Row, Table, Widget};

use crate::dissect::delivery::{DeliveryReport, TechniqueSummary};
use crate::view::compare::{
    delay_text, per_message_text, ratio_text, where_text, EXPLANATION, NOTHING_FOUND,
};
use crate::view::tui::text::cut;
use crate::view::tui::theme::Theme;

/// What the compare pane shows.
#[derive(Clone, Copy, Debug)]
pub struct Compare<'a> {
    /// The report, once the whole capture is indexed.
    pub report: Option<&'a DeliveryReport>,
    /// Index into `report.techniques` of the highlighted one.
    pub selected: usize,
}

/// From this width on, the table has every column and the techniques' full names.
const WIDE: u16 = 100;

/// One column of the table: headings (wide, narrow), widths (wide, narrow), whether narrow
/// tables have it, and its value.
struct Column {
    heading: (&'static str, &'static str),
    width: (u16, u16),
    narrow: bool,
    value: fn(&DeliveryReport, &TechniqueSummary, bool) -> String,
}

const COLUMNS: [Column; 11] = [
    Column {
        heading: ("technique", "technique"),
        width: (18, 9),
        narrow: true,
        value: |_, s, wide| {
            if wide {
                s.technique.name().into()
            } else {
                s.technique.short_name().into()
            }
        },
    },
    Column {
        heading: ("conns", ""),
        width: (5, 0),
        narrow: false,
        value: |_, s, _| s.connections().to_string(),
    },
    Column {
        heading: ("requests", "reqs"),
        width: (8, 4),
        narrow: true,
        value: |_, s, _| s.requests.to_string(),
    },
    Column {
        heading: ("messages", "msgs"),
        width: (8, 4),
        narrow: true,
        value: |_, s, _| s.messages.len().to_string(),
    },
    Column {
        heading: ("frames", ""),
        width: (6, 0),
        narrow: false,
        value: |_, s, _| s.frames.to_string(),
    },
    Column {
        heading: ("bytes", "bytes"),
        width: (7, 6),
        narrow: true,
        value: |_, s, _| s.bytes.to_string(),
    },
    Column {
        heading: ("bytes/msg", "B/msg"),
        width: (9, 6),
        narrow: true,
        value: |_, s, _| per_message_text(s),
    },
    Column {
        heading: ("median delay", "median"),
        width: (12, 9),
        narrow: true,
        value: |_, s, _| s.median_delay_us().map_or_else(|| "-".into(), delay_text),
    },
    Column {
        heading: ("max delay", "max"),
        width: (10, 9),
        narrow: true,
        value: |_, s, _| s.max_delay_us().map_or_else(|| "-".into(), delay_text),
    },
    Column {
        heading: ("bytes×WS", "B×WS"),
        width: (8, 6),
        narrow: true,
        value: |r, s, _| {
            r.ratios_vs_websocket(s)
                .0
                .map_or_else(|| "-".into(), ratio_text)
        },
    },
    Column {
        heading: ("delay×WS", "delay×WS"),
        width: (8, 8),
        narrow: true,
        value: |r, s, _| {
            r.ratios_vs_websocket(s)
                .1
                .map_or_else(|| "-".into(), ratio_text)
        },
    },
];

/// Draws the comparison into `area`, clipped to it.
pub fn render(view: &Compare, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let area = area.intersection(*buf.area());
    if area.is_empty() {
        return;
    }
    let cells = usize::from(area.width);
    let Some(report) = view.report else {
        let note = "Reading the capture: the comparison appears once every frame is indexed.";
        put(buf, area, 0, Line::styled(cut(note, cells), theme.dim));
        return;
    };
    if report.techniques.is_empty() {
        for (y, line) in wrap(NOTHING_FOUND, cells).into_iter().enumerate() {
            let Ok(y) = u16::try_from(y) else { break };
            put(buf, area, y, Line::styled(line, theme.dim));
        }
        return;
    }
    let rows = u16::try_from(report.techniques.len()).unwrap_or(u16::MAX);
    let table_area = Rect::new(area.x, area.y, area.width, rows.saturating_add(1));
    table(
        report,
        view.selected,
        table_area.intersection(area),
        buf,
        theme,
    );
    let mut y = rows.saturating_add(2);
    let chart_height = rows.saturating_add(1);
    if area.height >= y.saturating_add(chart_height) {
        let charts = Rect::new(area.x, area.y + y, area.width, chart_height);
        bar_charts(report, charts, buf, theme);
        y = y.saturating_add(chart_height);
    }
    // Where the highlighted technique is; with room, the others and what the figures mean.
    let selected = report
        .techniques
        .get(view.selected)
        .or(report.techniques.first());
    let mut lines: Vec<Line> = selected
        .map(|summary| where_line(summary, cells, theme, true))
        .into_iter()
        .collect();
    let others: Vec<Line> = report
        .techniques
        .iter()
        .filter(|summary| Some(*summary) != selected)
        .map(|summary| where_line(summary, cells, theme, false))
        .collect();
    // A blank line before, with room for every line.
    let full = 1 + lines.len() + others.len() + 1 + EXPLANATION.len();
    if usize::from(area.height.saturating_sub(y)) >= full {
        y = y.saturating_add(1);
        lines.extend(others);
        lines.push(Line::raw(""));
        lines.extend(
            EXPLANATION
                .iter()
                .map(|text| Line::styled(cut(text, cells), theme.dim)),
        );
    }
    for line in lines {
        if y >= area.height {
            break;
        }
        put(buf, area, y, line);
        y = y.saturating_add(1);
    }
}

/// The table: one row per technique, the highlighted one marked.
fn table(report: &DeliveryReport, selected: usize, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let wide = area.width >= WIDE;
    let columns: Vec<&Column> = COLUMNS.iter().filter(|c| wide || c.narrow).collect();
    let pick = |pair: (&'static str, &'static str)| if wide { pair.0 } else { pair.1 };
    let header = Row::new(
        columns
            .iter()
            .enumerate()
            .map(|(i, column)| cell(i, pick(column.heading).to_string())),
    )
    .style(theme.title);
    let rows: Vec<Row> = report
        .techniques
        .iter()
        .enumerate()
        .map(|(index, summary)| {
            let row = Row::new(
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, column)| cell(i, (column.value)(report, summary, wide))),
            );
            row.style(if index == selected {
                theme.selected
            } else {
                theme.text
            })
        })
        .collect();
    let widths = columns
        .iter()
        .map(|column| Constraint::Length(if wide { column.width.0 } else { column.width.1 }));
    Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .render(area, buf);
}

/// A table cell: the first column left-aligned, the numbers right-aligned.
fn cell(index: usize, text: String) -> Cell<'static> {
    let line = Line::from(text);
    Cell::from(if index == 0 {
        line
    } else {
        line.alignment(Alignment::Right)
    })
}

/// Two horizontal bar charts side by side: bytes per message and median delay.
fn bar_charts(report: &DeliveryReport, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let half = area.width / 2;
    let left = Rect::new(area.x, area.y, half.saturating_sub(1), area.height);
    let right = Rect::new(area.x + half, area.y, area.width - half, area.height);
    let bytes: Vec<(String, u64, String)> = report
        .techniques
        .iter()
        .map(|s| {
            let value = s.bytes_per_message().unwrap_or(0.0).round();
            // Rounded and non-negative: the cast keeps the value.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let value = value as u64;
            (
                s.technique.short_name().to_string(),
                value,
                format!("{} B", per_message_text(s)),
            )
        })
        .collect();
    let delays: Vec<(String, u64, String)> = report
        .techniques
        .iter()
        .map(|s| {
            let median = s.median_delay_us();
            let value = u64::try_from(median.unwrap_or(0).max(0)).unwrap_or(0);
            let text = median.map_or_else(|| "-".into(), delay_text);
            (s.technique.short_name().to_string(), value, text)
        })
        .collect();
    chart("bytes on the wire per message", &bytes, left, buf, theme);
    chart("median delay", &delays, right, buf, theme);
}

/// One titled horizontal bar chart of (label, value, text shown).
fn chart(title: &str, bars: &[(String, u64, String)], area: Rect, buf: &mut Buffer, theme: &Theme) {
    if area.height < 2 || area.width < 20 {
        return;
    }
    put(
        buf,
        area,
        0,
        Line::styled(cut(title, usize::from(area.width)), theme.title),
    );
    let bars: Vec<Bar> = bars
        .iter()
        .map(|(label, value, text)| {
            Bar::with_label(label.clone(), *value)
                .text_value(text.clone())
                .style(theme.note)
                .value_style(theme.selected)
        })
        .collect();
    let inside = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
    BarChart::horizontal(bars)
        .bar_width(1)
        .bar_gap(0)
        .label_style(theme.text)
        .render(inside, buf);
}

/// Where a technique is, as one line; the highlighted one stands out.
fn where_line(
    summary: &TechniqueSummary,
    cells: usize,
    theme: &Theme,
    selected: bool,
) -> Line<'static> {
    let text = format!("{}: {}", summary.technique.name(), where_text(summary));
    Line::styled(
        cut(&text, cells),
        if selected { theme.text } else { theme.dim },
    )
}

/// Splits text into lines of at most `cells` cells at spaces.
fn wrap(text: &str, cells: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > cells {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines.into_iter().map(|line| cut(&line, cells)).collect()
}

/// Writes a line at row `y` of `area`, if inside.
fn put(buf: &mut Buffer, area: Rect, y: u16, line: Line<'_>) {
    if y < area.height {
        buf.set_line(area.x, area.y + y, &line, area.width);
    }
}
