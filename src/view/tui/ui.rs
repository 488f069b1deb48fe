//! Draws the whole screen from the app's state: title with indexing
//! progress, the panes of the layout, the overlay, and the status line with
//! the keys. Reads the state only.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};
use ratatui::Frame;

use crate::dissect::{Protocol, WsMessage};
use crate::session::Row;
use crate::view::i18n::{fill, strings, Strings};
use crate::view::tui::app::{inner, App, Overlay};
use crate::view::tui::keymap::HELP_KEYS;
use crate::view::tui::layout::{self, Mode, Pane};
use crate::view::tui::panes::{
    chat, compare, handshake, hex, ladder, list, narration, picker, stack, tree, unmask, walk,
};
use crate::view::tui::text::{cut, fit, pad, width};

/// Draws one frame of the UI.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let area = frame.area();
    render(app, area, frame.buffer_mut());
}

/// Draws the UI into a buffer (what tests snapshot).
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let s = strings(app.lang);
    let areas = layout::compute_with(area, app.mode, app.focus, app.lesson_layout());
    if areas.too_small {
        let lines = [
            s.too_small.to_string(),
            format!(
                "{}×{}, needs {}×{}",
                area.width,
                area.height,
                layout::MIN_WIDTH,
                layout::MIN_HEIGHT
            ),
            s.too_small_hint.to_string(),
        ];
        for (i, line) in lines.iter().enumerate() {
            let Ok(y) = u16::try_from(i) else { break };
            if y >= area.height {
                break;
            }
            buf.set_line(
                area.x,
                area.y + y,
                &Line::styled(cut(line, usize::from(area.width)), theme.title),
                area.width,
            );
        }
        return;
    }
    title(app, areas.title, buf);
    status(app, areas.status, buf);
    if let Some(chosen) = &app.picker {
        let body = Rect::new(
            area.x,
            areas.title.bottom(),
            area.width,
            areas.status.y.saturating_sub(areas.title.bottom()),
        );
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.focused_border)
            .title(Span::styled(format!(" {} ", s.lessons), theme.title));
        let inside = inner(body);
        block.render(body, buf);
        let view = picker::PickerView {
            lessons: &app.lessons,
            selected: chosen.selected,
            lang: app.lang,
        };
        picker::render(&view, inside, buf, theme);
        if app.overlay == Some(Overlay::Help) {
            help(app, area, buf);
        }
        return;
    }
    if areas.list.area() > 0 {
        packet_list(app, areas.list, buf);
    }
    if let (Some(area), Some(run)) = (areas.narration, app.lesson.as_ref()) {
        let title = format!(
            "{} {} · {}",
            s.lesson,
            run.lesson.number,
            run.lesson.title.get(app.lang)
        );
        let block_style = theme.focused_border;
        let title = fit(&title, usize::from(area.width.saturating_sub(4)));
        Block::default()
            .borders(Borders::ALL)
            .border_style(block_style)
            .title(Span::styled(format!(" {title} "), theme.title))
            .render(area, buf);
        let view = narration::Narration {
            run,
            lang: app.lang,
            typing: app.overlay == Some(Overlay::Answer),
            roomy: app.presenter,
        };
        narration::render(&view, app.narration_scroll, inner(area), buf, theme);
    }
    if let Some(tabs) = areas.tabs {
        tab_bar(app, tabs, buf);
    }
    let current = app.current.as_deref();
    if let Some(area) = areas.stack {
        let inside = pane_block(app, Pane::Stack, stack_title(app), area, buf);
        if let Some(dissection) = current {
            let view = stack::StackView {
                dissection,
                focused: app.layer,
                lang: app.lang,
            };
            stack::render(&view, inside, buf, theme);
        } else {
            // Why there is no model yet: a replay under way, or the decoding behind.
            let text = match (app.replaying, app.waiting) {
                (Some(replaying), _) => Some(fill(
                    strings(app.lang).replaying,
                    &[
                        ("n", &replaying.number),
                        ("stream", &replaying.stream),
                        ("fed", &replaying.fed),
                        ("total", &replaying.total),
                    ],
                )),
                (None, Some(waiting)) => Some(fill(
                    strings(app.lang).waiting,
                    &[
                        ("n", &waiting.number),
                        ("decoded", &waiting.decoded),
                        ("frames", &waiting.frames),
                    ],
                )),
                (None, None) => None,
            };
            if let Some(text) = text {
                Paragraph::new(text)
                    .wrap(Wrap { trim: true })
                    .render(inside, buf);
            }
        }
    }
    if let Some(area) = areas.tree {
        let layer = app.focused_layer();
        let fields = strings(app.lang).fields;
        let title = layer.map_or(fields.to_string(), |layer| {
            format!(
                "{fields} · L{} {}",
                layer.osi().number(),
                layer.protocol.name()
            )
        });
        let inside = pane_block(app, Pane::Tree, title, area, buf);
        if let Some(layer) = layer {
            let rows = tree::rows(layer, &app.expanded);
            let view = tree::TreeView {
                layer,
                rows: &rows,
                selected: app.field,
                top: app.tree_top,
            };
            tree::render(&view, inside, buf, theme);
        }
    }
    if let Some(area) = areas.hex {
        let source = app.hex_source();
        let bytes = strings(app.lang).bytes;
        let title = current
            .and_then(|d| d.sources.get(source))
            .map_or(bytes.to_string(), |s| {
                let mut title = format!("{bytes} · {}", s.name);
                if !s.frames.is_empty() {
                    let frames: Vec<String> = s.frames.iter().map(|f| f.to_string()).collect();
                    title.push_str(&format!(" from frames {} · J jumps", frames.join(", ")));
                }
                title
            });
        let inside = pane_block(app, Pane::Hex, title, area, buf);
        if let Some(dissection) = current {
            let view = hex::HexView {
                dissection,
                source,
                highlight: app.selected_field().map(|(_, span)| span),
                cursor: app.hex_cursor,
                top: app.hex_top,
            };
            hex::render(&view, inside, buf, theme);
        }
    }
    if let Some(area) = areas.mode {
        mode_pane(app, area, buf);
    }
    match &app.overlay {
        Some(Overlay::Help) => help(app, area, buf),
        Some(Overlay::Answer) => {
            let typed = app.lesson.as_ref().map_or("", |run| run.input.as_str());
            let line = format!("{}: {typed}▏  {}", s.answer_prompt, s.status_answer);
            buf.set_style(areas.status, theme.selected);
            buf.set_line(
                areas.status.x,
                areas.status.y,
                &Line::styled(fit(&line, usize::from(area.width)), theme.selected),
                areas.status.width,
            );
        }
        Some(Overlay::Search(text)) => {
            let line = format!("/{text}▏  {}", s.status_search);
            buf.set_style(areas.status, theme.selected);
            buf.set_line(
                areas.status.x,
                areas.status.y,
                &Line::styled(fit(&line, usize::from(area.width)), theme.selected),
                areas.status.width,
            );
        }
        None => {}
    }
}

fn stack_title(app: &App) -> String {
    let s = strings(app.lang);
    match app.selected_number() {
        Some(number) => format!("{} · frame {number}", s.stack),
        None => s.stack.into(),
    }
}

/// A pane's title in the app's language.
fn pane_name(s: &Strings, pane: Pane) -> &'static str {
    match pane {
        Pane::List => s.packets,
        Pane::Stack => s.stack,
        Pane::Tree => s.fields,
        Pane::Hex => s.bytes,
    }
}

/// A teaching view's title in the app's language.
fn mode_name(s: &Strings, mode: Mode) -> &'static str {
    match mode {
        Mode::Main => "",
        Mode::Ladder => s.ladder,
        Mode::Messages => s.messages,
        Mode::Unmask => s.unmasking,
        Mode::Handshake => s.handshake,
        Mode::Walk => s.walk,
        Mode::Compare => s.compare,
    }
}

/// Draws a pane's border and title; returns the inside.
fn pane_block(app: &App, pane: Pane, title: String, area: Rect, buf: &mut Buffer) -> Rect {
    let theme = &app.theme;
    let focused = app.focus == pane && app.mode == Mode::Main;
    let border = if focused {
        theme.focused_border
    } else {
        theme.border
    };
    let title = fit(&title, usize::from(area.width.saturating_sub(4)));
    Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Span::styled(
            format!(" {title} "),
            if focused {
                theme.focused_border
            } else {
                theme.title
            },
        ))
        .render(area, buf);
    inner(area)
}

fn title(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let name = app.session.path().file_name().map_or_else(
        || app.session.path().display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let progress = app.session.progress();
    let mut spans = vec![
        Span::styled(" osiscope ", theme.title),
        Span::styled(format!("· {} ", fit(&name, 40)), theme.text),
    ];
    let s = strings(app.lang);
    let total = app.session.last_number();
    if let Some(run) = &app.lesson {
        let progress = run.progress();
        spans.push(Span::styled(
            format!(
                "· {} {} · {} {}/{} ",
                s.lesson, run.lesson.number, s.step, progress.step, progress.steps
            ),
            theme.good,
        ));
    }
    if let Some(number) = app.selected_number() {
        spans.push(Span::styled(
            format!(
                "· {} ",
                fill(s.frame_of, &[("n", &number), ("total", &total)])
            ),
            theme.dim,
        ));
    }
    if let Some(stream) = app.follow {
        spans.push(Span::styled(
            format!("· {} ", fill(s.following, &[("n", &stream)])),
            theme.marked,
        ));
    }
    if let Some(live) = live_title(app) {
        spans.extend(live);
    } else if !progress.done {
        // First the file is listed, then (for a file listed ahead) decoded.
        let (word, fraction, count) = if progress.listed {
            #[allow(clippy::cast_precision_loss)]
            let decoded = progress.decoded as f64 / progress.frames.max(1) as f64;
            (
                s.decoding,
                decoded.clamp(0.0, 1.0),
                format!("{}/{}", progress.decoded, progress.frames),
            )
        } else {
            (s.indexing, progress.fraction, progress.frames.to_string())
        };
        let cells = 20usize;
        // Rounding to a cell count is all a progress bar needs.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let filled = ((fraction * cells as f64) as usize).min(cells);
        spans.push(Span::styled(
            format!(
                "· {} {:>3.0}% [{}{}] {} {} ",
                word,
                fraction * 100.0,
                "█".repeat(filled),
                "░".repeat(cells - filled),
                count,
                s.frames
            ),
            theme.warning,
        ));
    } else if let Some(stopped) = &progress.stopped {
        spans.push(Span::styled(
            format!("· {}", fit(stopped, 80)),
            theme.warning,
        ));
    }
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}

fn status(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let s = strings(app.lang);
    let keys = if app.picker.is_some() {
        s.status_picker
    } else if app.lesson.is_some() && app.presenter {
        s.status_presenter
    } else if app.lesson.is_some() && app.mode == Mode::Main {
        s.status_lesson
    } else {
        match app.mode {
            Mode::Main => s.status_main,
            Mode::Ladder => s.status_ladder,
            Mode::Messages => s.status_messages,
            Mode::Unmask => s.status_unmask,
            Mode::Handshake => s.status_handshake,
            Mode::Walk => s.status_walk,
            Mode::Compare => s.status_compare,
        }
    };
    let mut spans = live_status(app);
    if app.playing {
        spans.push(Span::styled(
            format!(" ▶ {:.2}s ", app.pace.as_secs_f64()),
            theme.good,
        ));
    }
    if let Some(notice) = &app.notice {
        spans.push(Span::styled(
            format!(" {} ", fit(notice, 100)),
            theme.warning,
        ));
        spans.push(Span::styled("│", theme.dim));
    }
    spans.push(Span::styled(format!(" {keys}"), theme.dim));
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}

/// A live capture's title segment: the interface and libpcap's and
/// osiscope's counters, or how the capture ended.
fn live_title(app: &App) -> Option<Vec<Span<'static>>> {
    let theme = &app.theme;
    let live = app.session.live()?;
    let progress = app.session.progress();
    let stats = live.stats;
    let state = if progress.done {
        Span::styled("· ■ capture ended ", theme.warning)
    } else {
        Span::styled("· ● live ", theme.good)
    };
    let drops = stats.dropped + stats.if_dropped + stats.osiscope_dropped;
    let mut spans = vec![
        state,
        Span::styled(
            format!(
                "· drops: kernel {} · interface {} · osiscope {} ",
                stats.dropped, stats.if_dropped, stats.osiscope_dropped
            ),
            if drops > 0 { theme.error } else { theme.dim },
        ),
        Span::styled(format!("· received {} ", stats.received), theme.dim),
    ];
    if let Some(stopped) = &progress.stopped {
        spans.push(Span::styled(
            format!("· {}", fit(stopped, 80)),
            theme.warning,
        ));
    }
    if let Some(filter) = &live.filter {
        spans.push(Span::styled(
            format!("· filter {} ", fit(filter, 40)),
            theme.dim,
        ));
    }
    Some(spans)
}

/// A live capture's status segment: following, new frames, paused.
fn live_status(app: &App) -> Vec<Span<'static>> {
    let theme = &app.theme;
    let Some(live) = &app.live else {
        return Vec::new();
    };
    let mut spans = Vec::new();
    if live.paused {
        spans.push(Span::styled(" ⏸ paused · z resumes ", theme.warning));
    }
    let new = app.new_frames();
    if live.following {
        spans.push(Span::styled(" ● following ", theme.good));
    } else if new > 0 {
        spans.push(Span::styled(
            format!(" ▼ {new} new frames · F follows "),
            theme.marked,
        ));
    }
    if !spans.is_empty() {
        spans.push(Span::styled("│", theme.dim));
    }
    spans
}

fn tab_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let s = strings(app.lang);
    let mut spans = vec![Span::styled(" ", theme.dim)];
    let lesson = app.lesson.is_some();
    let shown = match app.mode {
        Mode::Main => match app.focus {
            Pane::List if lesson => pane_name(s, Pane::List),
            Pane::List | Pane::Stack => pane_name(s, Pane::Stack),
            pane => pane_name(s, pane),
        },
        mode => mode_name(s, mode),
    };
    let mut tabs = vec![Pane::Stack, Pane::Tree, Pane::Hex];
    if lesson {
        tabs.insert(0, Pane::List);
    }
    for name in tabs.into_iter().map(|pane| pane_name(s, pane)) {
        let style = if name == shown {
            theme.selected
        } else {
            theme.dim
        };
        spans.push(Span::styled(format!(" {name} "), style));
        spans.push(Span::styled("│", theme.dim));
    }
    if app.mode != Mode::Main {
        spans.push(Span::styled(
            format!(" {} ", mode_name(s, app.mode)),
            theme.selected,
        ));
    }
    spans.push(Span::styled(format!(" {}", s.tab_switches), theme.dim));
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}

fn packet_list(app: &App, area: Rect, buf: &mut Buffer) {
    let total = app.visible_len();
    let s = strings(app.lang);
    let mut title = if total == 0 && !app.session.progress().done {
        format!("{} · {}", s.packets, s.reading)
    } else {
        format!("{} · {total}", s.packets)
    };
    let evicted = app.session.n_evicted();
    if evicted > 0 {
        title.push_str(&format!(" · {evicted} older left the window"));
    }
    let inside = pane_block(app, Pane::List, title, area, buf);
    let height = usize::from(inside.height.saturating_sub(1));
    let rows: Vec<&Row> = (app.list_top..app.list_top + height)
        .filter_map(|index| app.visible_row(index))
        .collect();
    let view = list::ListView {
        rows,
        selected: app.selected_number(),
        marked: &app.marked,
        start: app.start(),
    };
    list::render(&view, inside, buf, &app.theme);
}

fn mode_pane(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let current = app.current.as_deref();
    match app.mode {
        Mode::Main => {}
        Mode::Ladder => {
            let stream = app.stream();
            let frames = stream
                .map(|s| app.session.stream_frames(s))
                .unwrap_or_default();
            let rows: Vec<&Row> = frames.iter().filter_map(|n| app.session.row(*n)).collect();
            let (client, server) = endpoints(&rows);
            let title = match stream {
                Some(stream) => {
                    format!("TCP ladder · tcp.stream {stream} · {} segments", rows.len())
                }
                // A listed frame's connection is known once it is decoded.
                None if app.waiting.is_some() => {
                    "TCP ladder · this frame is not decoded yet".into()
                }
                None => "TCP ladder · this frame is not TCP".into(),
            };
            let inside = pane_block(app, Pane::Stack, title, area, buf);
            let view = ladder::Ladder {
                rows: &rows,
                client,
                server,
                selected: app.selected_number(),
                start: rows.first().map_or(app.start(), |row| row.ts),
            };
            ladder::render(&view, inside, buf, theme);
        }
        Mode::Messages => {
            let messages: Vec<&WsMessage> = app.chat_messages();
            let title = match messages.first() {
                Some(first) if messages.iter().all(|m| m.stream == first.stream) => {
                    format!(
                        "WebSocket messages · tcp.stream {} · {}",
                        first.stream,
                        messages.len()
                    )
                }
                _ => format!("WebSocket messages · {}", messages.len()),
            };
            let inside = pane_block(app, Pane::Stack, title, area, buf);
            let view = chat::Chat {
                messages: &messages,
                selected: app.chat_selected,
                start: app.start(),
            };
            chat::render(&view, inside, buf, theme);
        }
        Mode::Unmask => {
            let layer = app
                .focused_layer()
                .filter(|layer| layer.protocol == Protocol::WebSocket);
            let inside = pane_block(
                app,
                Pane::Stack,
                "Unmasking · masked ⊕ key[i mod 4] = plain".into(),
                area,
                buf,
            );
            unmask::render(layer, app.unmask_scroll, inside, buf, theme);
        }
        Mode::Handshake => {
            let title = match app.handshake.as_ref() {
                Some(d) => format!("Handshake check · frame {}", d.frame.number),
                None => "Handshake check".into(),
            };
            let inside = pane_block(app, Pane::Stack, title, area, buf);
            handshake::render(app.handshake.as_deref(), inside, buf, theme);
        }
        Mode::Walk => {
            let inside = pane_block(
                app,
                Pane::Stack,
                format!(
                    "Encapsulation walk · step {} of {}",
                    app.walk_step + 1,
                    app.walk_steps()
                ),
                area,
                buf,
            );
            if let Some(dissection) = current {
                walk::render(dissection, app.walk_step, inside, buf, theme);
            }
        }
        Mode::Compare => {
            let inside = pane_block(
                app,
                Pane::Stack,
                "Delivery compared · polling, long polling, SSE, WebSocket".into(),
                area,
                buf,
            );
            let view = compare::Compare {
                report: app.session.delivery(),
                selected: app.compare_selected,
            };
            compare::render(&view, inside, buf, theme);
        }
    }
}

/// The client and server of a connection, from its rows.
fn endpoints(rows: &[&Row]) -> (String, String) {
    let Some((row, tcp)) = rows
        .iter()
        .find_map(|row| row.tcp.as_ref().map(|tcp| (row, tcp)))
    else {
        return (String::new(), String::new());
    };
    let src = format!("{}:{}", row.src, tcp.src_port);
    let dst = format!("{}:{}", row.dst, tcp.dst_port);
    if tcp.to_server {
        (src, dst)
    } else {
        (dst, src)
    }
}

fn help(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let s = strings(app.lang);
    let rows: Vec<(&str, &str)> = HELP_KEYS.iter().copied().zip(s.help).collect();
    let rows: Vec<(&str, &str)> = rows
        .into_iter()
        .filter(|(k, d)| !(k.is_empty() && d.is_empty()))
        .collect();
    let key_width = rows.iter().map(|(k, _)| width(k)).max().unwrap_or(10);
    let one_column = rows
        .iter()
        .map(|(_, d)| key_width + width(d) + 4)
        .max()
        .unwrap_or(40)
        + 2;
    // Two columns when one does not fit the height.
    let columns: usize = if rows.len() + 2 > usize::from(area.height) {
        2
    } else {
        1
    };
    let per_column = rows.len().div_ceil(columns);
    let w = u16::try_from(one_column * columns)
        .unwrap_or(u16::MAX)
        .min(area.width);
    let h = u16::try_from(per_column + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let popup = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(popup, buf);
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focused_border)
        .title(Span::styled(format!(" {} ", s.keys_title), theme.title))
        .render(popup, buf);
    let inside = inner(popup);
    let column_width = inside.width / u16::try_from(columns).unwrap_or(1);
    for (i, (keys, what)) in rows.iter().enumerate() {
        let (column, line) = (i / per_column, i % per_column);
        let Ok(y) = u16::try_from(line) else { break };
        let Ok(x) = u16::try_from(column) else { break };
        if y >= inside.height {
            break;
        }
        let cells = usize::from(column_width).saturating_sub(key_width + 3);
        let line = Line::from(vec![
            Span::styled(format!(" {} ", pad(keys, key_width)), theme.title),
            Span::styled(cut(what, cells), theme.text),
        ]);
        buf.set_line(
            inside.x + x * column_width,
            inside.y + y,
            &line,
            column_width,
        );
    }
}
