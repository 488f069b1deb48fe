//! The ladder: one TCP connection drawn as a sequence diagram.
//!
//! The client's lifeline is on the left, the server's on the right, and
//! every segment of the connection is one arrow between them, in capture
//! order: `→` for the client's segments, `←` for the server's. Each arrow is
//! labelled with the segment's flags, relative numbers and what it carried
//! for the layers above, and starts with its frame number and its time since
//! the connection's first frame. The selected frame is highlighted and kept
//! in view. When the pane is narrow the arrow stays and the label is cut.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::dissect::{FrameNumber, Timestamp};
use crate::session::{Row, TcpRow};
use crate::view::tui::text::{cut, fit, pad, width};
use crate::view::tui::theme::Theme;

/// One connection's segments, as the ladder shows them.
#[derive(Clone, Debug)]
pub struct Ladder<'a> {
    /// The connection's frames, in capture order.
    pub rows: &'a [&'a Row],
    /// The client's endpoint, such as `10.77.0.1:40086`.
    pub client: String,
    /// The server's endpoint, such as `10.77.0.2:8080`.
    pub server: String,
    pub selected: Option<FrameNumber>,
    /// The time the ladder counts from (usually the connection's first frame).
    pub start: Timestamp,
}

/// Cells an arrow needs at least before the gutter gives up the time column.
const MIN_ARROW: usize = 24;

/// Draws the ladder into `area`, clipped to it.
pub fn render(ladder: &Ladder, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let area = area.intersection(*buf.area());
    if area.is_empty() {
        return;
    }
    let total = usize::from(area.width);
    let number_cells = ladder
        .rows
        .iter()
        .map(|row| width(&format!("#{}", row.number)))
        .max()
        .unwrap_or(2);
    let time_cells = ladder
        .rows
        .iter()
        .map(|row| width(&elapsed(row.ts, ladder.start)))
        .max()
        .unwrap_or(6);
    let gutter = if total >= number_cells + time_cells + 2 + MIN_ARROW {
        Gutter::Full {
            number_cells,
            time_cells,
        }
    } else if total >= number_cells + 1 + MIN_ARROW / 2 {
        Gutter::Number { number_cells }
    } else {
        Gutter::None
    };
    let gutter_cells = gutter.cells();
    let lanes = total.saturating_sub(gutter_cells);

    put(buf, area, 0, &header(ladder, gutter_cells, lanes, theme));

    let visible = usize::from(area.height).saturating_sub(1);
    let selected = ladder
        .selected
        .and_then(|number| ladder.rows.iter().position(|row| row.number == number));
    let first = first_visible(selected, ladder.rows.len(), visible);
    for (offset, row) in ladder.rows.iter().skip(first).take(visible).enumerate() {
        let Ok(y) = u16::try_from(offset.saturating_add(1)) else {
            break;
        };
        let mut spans = gutter.spans(row, ladder.start, theme);
        spans.extend(arrow(row, lanes, theme));
        put(buf, area, y, &Line::from(spans));
        if Some(row.number) == ladder.selected {
            let line = Rect::new(area.x, area.y.saturating_add(y), area.width, 1);
            buf.set_style(line.intersection(area), theme.selected);
        }
    }
}

/// The first of `len` items to show in `visible` lines so that the item
/// `selected` is in view, centred when the list allows it.
pub fn first_visible(selected: Option<usize>, len: usize, visible: usize) -> usize {
    let last_start = len.saturating_sub(visible);
    selected.map_or(0, |index| index.saturating_sub(visible / 2).min(last_start))
}

/// Seconds from `start` to `ts` with four decimals, as `0.0009` (negative
/// when `ts` is earlier).
pub fn elapsed(ts: Timestamp, start: Timestamp) -> String {
    // i128 holds any difference of two i64 seconds times 10^9 with room to spare.
    let nanos = (i128::from(ts.secs) - i128::from(start.secs)) * 1_000_000_000
        + i128::from(ts.nanos)
        - i128::from(start.nanos);
    let sign = if nanos < 0 { "-" } else { "" };
    let nanos = nanos.unsigned_abs();
    let secs = nanos / 1_000_000_000;
    let ten_thousandths = nanos % 1_000_000_000 / 100_000;
    format!("{sign}{secs}.{ten_thousandths:04}")
}

/// What goes in front of the left lifeline.
#[derive(Clone, Copy)]
enum Gutter {
    /// Frame number and time.
    Full {
        number_cells: usize,
        time_cells: usize,
    },
    /// Frame number only: the pane is narrow.
    Number { number_cells: usize },
    /// Nothing: the pane is very narrow.
    None,
}

impl Gutter {
    fn cells(self) -> usize {
        match self {
            Gutter::Full {
                number_cells,
                time_cells,
            } => number_cells + time_cells + 2,
            Gutter::Number { number_cells } => number_cells + 1,
            Gutter::None => 0,
        }
    }

    fn spans(self, row: &Row, start: Timestamp, theme: &Theme) -> Vec<Span<'static>> {
        let number_style = row.worst.map_or(theme.text, |worst| theme.severity(worst));
        let number = format!("#{}", row.number);
        match self {
            Gutter::Full {
                number_cells,
                time_cells,
            } => vec![
                Span::styled(pad(&number, number_cells + 1), number_style),
                Span::styled(pad(&elapsed(row.ts, start), time_cells + 1), theme.dim),
            ],
            Gutter::Number { number_cells } => {
                vec![Span::styled(pad(&number, number_cells + 1), number_style)]
            }
            Gutter::None => Vec::new(),
        }
    }
}

/// The endpoints above the lifelines: client on the left, server on the right.
fn header(ladder: &Ladder, gutter_cells: usize, lanes: usize, theme: &Theme) -> Line<'static> {
    let client = fit(&ladder.client, lanes);
    let server = fit(&ladder.server, lanes);
    let (client, server) = if width(&client) + 1 + width(&server) <= lanes {
        (client, server)
    } else {
        let half = lanes.saturating_sub(1) / 2;
        (
            cut(&client, half),
            cut(&server, lanes.saturating_sub(1).saturating_sub(half)),
        )
    };
    let gap = lanes
        .saturating_sub(width(&client))
        .saturating_sub(width(&server));
    Line::from(vec![
        Span::raw(" ".repeat(gutter_cells)),
        Span::styled(client, theme.client.patch(theme.title)),
        Span::raw(" ".repeat(gap)),
        Span::styled(server, theme.server.patch(theme.title)),
    ])
}

/// The arrow of one segment between the lifelines, `lanes` cells wide.
fn arrow(row: &Row, lanes: usize, theme: &Theme) -> Vec<Span<'static>> {
    let (border, inner) = if lanes >= 2 {
        (true, lanes - 2)
    } else {
        (false, lanes)
    };
    let lifeline = || Span::styled(if border { "│" } else { "" }, theme.dim);
    let Some(tcp) = &row.tcp else {
        // Not a TCP segment: say what it is between the lifelines.
        return vec![
            lifeline(),
            Span::styled(pad(&fit(&row.info(), inner), inner), theme.dim),
            lifeline(),
        ];
    };
    let style = if tcp.to_server {
        theme.client
    } else {
        theme.server
    };
    // Two dashes on the tail side and at least one before the head.
    let label = fit(&label(tcp), inner.saturating_sub(4));
    let label_cells = width(&label);
    let fill = inner.saturating_sub(label_cells).saturating_sub(3);
    let (tail, head) = match inner {
        0 => (String::new(), String::new()),
        1 | 2 => ("─".repeat(inner - 1), String::new()),
        _ => ("──".to_string(), "─".repeat(fill)),
    };
    let mut spans = vec![lifeline()];
    if tcp.to_server {
        spans.push(Span::styled(tail, style));
        spans.push(Span::styled(label, theme.text));
        spans.push(Span::styled(head, style));
        if inner > 0 {
            spans.push(Span::styled("▶", style));
        }
    } else {
        if inner > 0 {
            spans.push(Span::styled("◀", style));
        }
        spans.push(Span::styled(tail, style));
        spans.push(Span::styled(label, theme.text));
        spans.push(Span::styled(head, style));
    }
    spans.push(lifeline());
    spans
}

/// `PSH, ACK Seq=1 Ack=1 Len=198 · GET /chat HTTP/1.1` (not yet sanitized).
fn label(tcp: &TcpRow) -> String {
    let mut out = format!("{} Seq={}", tcp.flags, tcp.seq);
    if let Some(ack) = tcp.ack {
        out.push_str(&format!(" Ack={ack}"));
    }
    out.push_str(&format!(" Len={}", tcp.len));
    if !tcp.carried.is_empty() {
        out.push_str(" · ");
        out.push_str(&tcp.carried);
    }
    out
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
    use crate::session::{Session, SessionLimits};
    use ratatui::style::Modifier;
    use std::path::Path;

    fn session(name: &str) -> Session {
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

    fn draw(session: &Session, selected: Option<u64>, w: u16, h: u16, theme: &Theme) -> Buffer {
        let rows: Vec<&Row> = session
            .rows()
            .iter()
            .filter(|row| row.tcp.as_ref().is_some_and(|tcp| tcp.stream == 0))
            .collect();
        let ladder = Ladder {
            rows: &rows,
            client: "10.77.0.1:40086".into(),
            server: "10.77.0.2:8080".into(),
            selected: selected.map(FrameNumber),
            start: rows[0].ts,
        };
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        render(&ladder, buf.area, &mut buf, theme);
        buf
    }

    #[test]
    fn arrows_go_both_ways_with_their_labels() {
        let session = session("ws-basic.pcapng");
        let theme = Theme::named("default").unwrap();
        let buf = draw(&session, Some(4), 120, 24, &theme);
        let text = lines(&buf);
        assert!(
            text[0].starts_with(&format!("{}10.77.0.1:40086", " ".repeat(11))),
            "{text:#?}"
        );
        assert!(text[0].trim_end().ends_with("10.77.0.2:8080"));
        let syn = &text[1];
        assert!(syn.starts_with("#1  0.0000 │──SYN Seq=0 Len=0─"), "{syn}");
        assert!(syn.trim_end().ends_with("─▶│"));
        let syn_ack = &text[2];
        assert!(syn_ack.starts_with("#2  0.0000 │◀──SYN, ACK Seq=0 Ack=1 Len=0─"));
        let get = text.iter().find(|l| l.starts_with("#4 ")).unwrap();
        assert!(get.contains("──PSH, ACK Seq=1 Ack=1 Len=198 · GET /chat HTTP/1.1─"));
        let upgrade = text.iter().find(|l| l.starts_with("#6 ")).unwrap();
        assert!(
            upgrade
                .contains("│◀──PSH, ACK Seq=1 Ack=199 Len=129 · HTTP/1.1 101 Switching Protocols"),
            "{upgrade}"
        );
        let hello = text.iter().find(|l| l.starts_with("#8 ")).unwrap();
        assert!(hello.contains("WebSocket text, masked, 14 bytes \"Hello, server!\""));
        // The selected frame is highlighted across the whole line.
        let y = text.iter().position(|l| l.starts_with("#4 ")).unwrap();
        assert_eq!(buf[(0, y as u16)].style().bg, theme.selected.bg);
        assert_eq!(buf[(119, y as u16)].style().bg, theme.selected.bg);
        assert_ne!(buf[(0, 1)].style().bg, theme.selected.bg);
        // Arrows take the direction's style.
        let x = text[1]
            .find('─')
            .map(|byte| text[1][..byte].chars().count())
            .unwrap();
        assert_eq!(buf[(x as u16, 1)].style().fg, theme.client.fg);
        let x = text[2]
            .find('◀')
            .map(|byte| text[2][..byte].chars().count())
            .unwrap();
        assert_eq!(buf[(x as u16, 2)].style().fg, theme.server.fg);
    }

    #[test]
    fn the_selected_frame_is_scrolled_into_view_and_centred() {
        let session = session("ws-basic.pcapng");
        let theme = Theme::named("mono").unwrap();
        let buf = draw(&session, Some(18), 100, 6, &theme);
        let text = lines(&buf);
        // Five arrow lines: the selected one is the middle one.
        assert!(text[3].starts_with("#18 "), "{text:#?}");
        assert!(buf[(0, 3)].modifier.contains(Modifier::REVERSED));
        // The last frame can only be at the bottom.
        let buf = draw(&session, Some(20), 100, 6, &theme);
        let text = lines(&buf);
        assert!(text[5].starts_with("#20 "), "{text:#?}");
    }

    #[test]
    fn narrow_panes_keep_the_arrow_and_cut_the_label() {
        let session = session("ws-basic.pcapng");
        let theme = Theme::named("mono").unwrap();
        let buf = draw(&session, Some(4), 40, 12, &theme);
        let text = lines(&buf);
        let get = text.iter().find(|l| l.starts_with("#4 ")).unwrap();
        assert!(get.contains("│──PSH, ACK"), "{get}");
        assert!(get.ends_with("…─▶│"), "{get}");
        let buf = draw(&session, Some(4), 20, 12, &theme);
        let text = lines(&buf);
        assert!(text[4].starts_with("#4  │──PSH, ACK …─▶│"), "{text:#?}");
        assert!(text[2].starts_with("#2  │◀──SYN, ACK …─│"), "{text:#?}");
        let buf = draw(&session, Some(4), 12, 12, &theme);
        let text = lines(&buf);
        assert_eq!(text[4], "│──PSH, …─▶│", "{text:#?}");
        assert_eq!(text[2], "│◀──SYN, …─│", "{text:#?}");
    }

    #[test]
    fn tiny_and_empty_areas_do_not_panic() {
        let session = session("ws-basic.pcapng");
        let theme = Theme::named("default").unwrap();
        for (w, h) in [
            (10, 3),
            (0, 0),
            (1, 1),
            (0, 5),
            (5, 0),
            (2, 2),
            (3, 1),
            (4, 4),
        ] {
            let buf = draw(&session, Some(8), w, h, &theme);
            for line in lines(&buf) {
                assert!(width(&line) <= usize::from(w));
            }
        }
        // An area partly outside the buffer is clipped to it.
        let rows: Vec<&Row> = session.rows().iter().collect();
        let ladder = Ladder {
            rows: &rows,
            client: "c".into(),
            server: "s".into(),
            selected: None,
            start: Timestamp::default(),
        };
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 3));
        render(&ladder, Rect::new(5, 1, 40, 40), &mut buf, &theme);
        let empty: &[&Row] = &[];
        render(
            &Ladder {
                rows: empty,
                ..ladder
            },
            Rect::new(0, 0, 10, 3),
            &mut buf,
            &theme,
        );
    }

    #[test]
    fn wire_text_in_labels_is_sanitized() {
        let theme = Theme::named("mono").unwrap();
        let row = Row {
            number: FrameNumber(1),
            ts: Timestamp::default(),
            len: 60,
            src: "a".into(),
            dst: "b".into(),
            protocol: crate::dissect::Protocol::Http,
            info: "x".into(),
            worst: None,
            tcp: Some(TcpRow {
                stream: 0,
                to_server: true,
                src_port: 1,
                dst_port: 2,
                flags: "PSH, ACK".into(),
                seq: 1,
                ack: Some(1),
                len: 5,
                carried: "GET /\u{1b}[2J".into(),
            }),
        };
        let rows = [&row];
        let ladder = Ladder {
            rows: &rows,
            client: "c\u{1b}".into(),
            server: "s".into(),
            selected: None,
            start: Timestamp::default(),
        };
        let mut buf = Buffer::empty(Rect::new(0, 0, 80, 2));
        render(&ladder, buf.area, &mut buf, &theme);
        let text = lines(&buf);
        assert!(text[0].contains("c\\e"));
        assert!(text[1].contains("GET /\\e[2J"), "{text:#?}");
    }

    #[test]
    fn elapsed_counts_from_start_either_way() {
        let start = Timestamp {
            secs: 10,
            nanos: 999_900_000,
        };
        let at = |secs, nanos| elapsed(Timestamp { secs, nanos }, start);
        assert_eq!(at(11, 900_000), "0.0010");
        assert_eq!(at(10, 999_900_000), "0.0000");
        assert_eq!(at(10, 0), "-0.9999");
        assert_eq!(at(73, 999_900_000), "63.0000");
        let far = elapsed(
            Timestamp {
                secs: i64::MAX,
                nanos: 999_999_999,
            },
            Timestamp {
                secs: i64::MIN,
                nanos: 0,
            },
        );
        assert!(far.starts_with("18446744073709551615."));
    }

    #[test]
    fn first_visible_centres_and_clamps() {
        assert_eq!(first_visible(None, 100, 10), 0);
        assert_eq!(first_visible(Some(50), 100, 10), 45);
        assert_eq!(first_visible(Some(2), 100, 10), 0);
        assert_eq!(first_visible(Some(99), 100, 10), 90);
        assert_eq!(first_visible(Some(3), 5, 10), 0);
        assert_eq!(first_visible(Some(3), 5, 0), 3);
    }
}
