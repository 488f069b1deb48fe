//! The encapsulation walk: one frame followed down the sender's stack and
//! up the receiver's, one layer per step.
//!
//! On the sending side the walk starts with the application's data; each
//! layer in turn adds its header (and trailer) and the unit grows, from data
//! to a WebSocket frame, a TCP segment, an IP packet, an Ethernet frame and
//! at last the bits on the wire, with the preamble, start delimiter, frame
//! check sequence and inter-frame gap of the physical layer. The receiving
//! side walks back up, each layer removing what its peer added. Every step
//! shows the stack so far as a bar of coloured boxes, one per header, with
//! the unit's name and size; the current step is highlighted and the steps
//! before it stay in view.
//!
//! Sizes come from the layers' spans: a header is the bytes a layer owns in
//! front of its payload. A layer that lives in a reassembled buffer (its
//! `source` is not 0) was carried by several frames; the walk says so, and
//! shows only the part this frame carried below it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};

use crate::dissect::{keys, Dissection, FieldValue, FrameNumber, Layer, Osi, Protocol};
use crate::view::sanitize::sanitize;
use crate::view::tui::panes::handshake::wrap;
use crate::view::tui::text::{cut, width};
use crate::view::tui::theme::Theme;

/// How many steps the walk of `dissection` has: the sending side, then the
/// receiving side.
pub fn steps(dissection: &Dissection) -> usize {
    stages(dissection).len().saturating_mul(2)
}

/// Draws step `step` (0-based, clamped to the last) of the walk into `area`.
pub fn render(dissection: &Dissection, step: usize, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let area = area.intersection(*buf.area());
    if area.is_empty() {
        return;
    }
    let cells = usize::from(area.width);
    let stages = stages(dissection);
    let n = stages.len();
    let total = n.saturating_mul(2);
    let step = step.min(total.saturating_sub(1));
    let sending = step < n;
    // The stages of the current side, in the order they happen.
    let order: Vec<usize> = if sending {
        (0..n).collect()
    } else {
        (0..n).rev().collect()
    };
    let current = if sending { step } else { step - n };

    let title = if sending {
        "Sending: L7 → L1, each layer adds its header"
    } else {
        "Receiving: L1 → L7, each layer removes its header"
    };
    let counter = format!("step {}/{total}", step + 1);
    let gap = cells
        .saturating_sub(width(title))
        .saturating_sub(width(&counter));
    let heading = if gap >= 2 {
        Line::from(vec![
            Span::styled(title, theme.title),
            Span::raw(" ".repeat(gap)),
            Span::styled(counter, theme.dim),
        ])
    } else {
        Line::styled(cut(title, cells), theme.title)
    };
    put(buf, area, 0, &heading);

    let mut body: Vec<Line<'static>> = Vec::new();
    let mut current_line = 0;
    for (position, &index) in order.iter().enumerate().take(current + 1) {
        let Some(stage) = stages.get(index) else {
            continue;
        };
        let is_current = position == current;
        let sentence = if sending { &stage.send } else { &stage.receive };
        let tag = format!("L{} ", stage.osi.number());
        let tag_style = theme.layer(Some(stage.osi)).add_modifier(Modifier::BOLD);
        let room = cells.saturating_sub(width(&tag));
        if is_current {
            current_line = body.len();
            for (row, line) in wrap(sentence, room).into_iter().enumerate() {
                let lead = if row == 0 {
                    Span::styled(tag.clone(), tag_style)
                } else {
                    Span::raw(" ".repeat(width(&tag)))
                };
                body.push(Line::from(vec![lead, Span::styled(line, theme.selected)]));
            }
            if !stage.detail.is_empty() {
                for line in wrap(&stage.detail, room) {
                    body.push(Line::from(vec![
                        Span::raw(" ".repeat(width(&tag))),
                        Span::styled(line, theme.dim),
                    ]));
                }
            }
        } else {
            body.push(Line::from(vec![
                Span::styled(tag.clone(), tag_style),
                Span::styled(cut(sentence, room), theme.text),
            ]));
        }
        body.push(bar(stage, index, is_current, &tag, theme));
    }
    let room = usize::from(area.height).saturating_sub(1);
    // Earlier steps scroll away first; the current one is shown from its start.
    let skip = body.len().saturating_sub(room).min(current_line);
    for (offset, line) in body.iter().skip(skip).enumerate() {
        let Ok(y) = u16::try_from(offset.saturating_add(1)) else {
            break;
        };
        put(buf, area, y, line);
    }
}

/// One box of a stack bar: a header, a trailer or the data.
#[derive(Clone, Debug)]
struct Part {
    label: String,
    bytes: usize,
    osi: Osi,
    /// The stage that added it, so the current one can be set off.
    stage: usize,
}

/// One layer's step, seen from both sides.
#[derive(Clone, Debug)]
struct Stage {
    osi: Osi,
    /// What this layer does when sending (already safe text).
    send: String,
    /// What it does when receiving (already safe text).
    receive: String,
    /// The layer's own sentence about this frame, from the model.
    detail: String,
    /// The stack once this layer has added its part.
    parts: Vec<Part>,
    /// The unit this layer hands down, and its size.
    pdu: &'static str,
    size: String,
}

/// `[Eth 14][IPv4 20][TCP 32][WS 6][data 14]  frame · 86 bytes`.
fn bar(stage: &Stage, index: usize, current: bool, tag: &str, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::raw(" ".repeat(width(tag)))];
    for part in &stage.parts {
        let mut style = theme.layer(Some(part.osi));
        if current && part.stage == index {
            style = style.add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
        }
        spans.push(Span::styled(
            format!("[{} {}]", part.label, part.bytes),
            style,
        ));
    }
    spans.push(Span::styled(
        format!("  {} · {}", stage.pdu, stage.size),
        theme.dim,
    ));
    Line::from(spans)
}

/// A short name for a box.
fn abbreviation(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Physical => "PHY",
        Protocol::Ethernet => "Eth",
        Protocol::Vlan => "VLAN",
        Protocol::LinuxSll | Protocol::LinuxSll2 => "SLL",
        Protocol::Null => "Null",
        Protocol::Arp => "ARP",
        Protocol::Ipv4 => "IPv4",
        Protocol::Ipv6 => "IPv6",
        Protocol::Icmp => "ICMP",
        Protocol::Icmpv6 => "ICMPv6",
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
        Protocol::Http => "HTTP",
        Protocol::WebSocket => "WS",
        Protocol::Tls => "TLS",
        Protocol::Session => "state",
        Protocol::Data => "data",
    }
}

/// The bytes a layer puts in front of its payload and after it.
fn header_trailer(layer: &Layer) -> (usize, usize) {
    match layer.payload {
        Some(payload) if payload.start >= layer.span.start && payload.end <= layer.span.end => (
            payload.start - layer.span.start,
            layer.span.end - payload.end,
        ),
        _ => (layer.span.len(), 0),
    }
}

fn payload_len(layer: &Layer) -> usize {
    layer.payload.map_or(0, |payload| payload.len())
}

fn total(parts: &[Part]) -> usize {
    parts.iter().map(|part| part.bytes).sum()
}

/// `14 bytes`, `1 byte`.
fn bytes(n: usize) -> String {
    if n == 1 {
        "1 byte".to_string()
    } else {
        format!("{n} bytes")
    }
}

/// `a 6-byte header`, `an 8-byte header`: the article goes by how the
/// number is read aloud (eight, eleven, eighteen).
fn sized(n: impl std::fmt::Display, what: &str) -> String {
    let digits = n.to_string();
    let vowel = digits.starts_with('8')
        || (digits.len() % 3 == 2 && (digits.starts_with("11") || digits.starts_with("18")));
    format!("{} {digits}-byte {what}", if vowel { "an" } else { "a" })
}

/// `frames 8, 9, 10`, or `46 frames, 28 to 77`.
fn frames(list: &[FrameNumber]) -> String {
    match list {
        [] => "other frames".to_string(),
        [one] => format!("frame {one}"),
        [first, .., last] if list.len() > 4 => {
            format!("{} frames, {first} to {last}", list.len())
        }
        all => format!(
            "frames {}",
            all.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Which frames a reassembled layer's bytes came from: `46 frames, 28 to 77`.
fn rebuilt_from(dissection: &Dissection, layer: &Layer) -> String {
    dissection.sources.get(layer.source).map_or_else(
        || "several frames".to_string(),
        |source| frames(&source.frames),
    )
}

fn uint(layer: &Layer, key: &str) -> Option<u64> {
    match layer.find(key).map(|field| &field.value) {
        Some(FieldValue::UInt(value)) => Some(*value),
        _ => None,
    }
}

/// Every step of the sending side, from the application down to the wire.
fn stages(dissection: &Dissection) -> Vec<Stage> {
    let layers: Vec<&Layer> = dissection
        .layers
        .iter()
        .filter(|layer| !matches!(layer.protocol, Protocol::Physical | Protocol::Session))
        .collect();
    let (lower, upper): (Vec<&Layer>, Vec<&Layer>) = layers
        .into_iter()
        .partition(|layer| layer.osi() <= Osi::Transport);
    let mut stages = Vec::new();
    let mut parts = Vec::new();

    if !upper.is_empty() {
        application(dissection, &upper, &mut parts, &mut stages);
    } else if let Some(top) = lower.last().filter(|top| payload_len(top) > 0) {
        let n = payload_len(top);
        parts.push(Part {
            label: "data".to_string(),
            bytes: n,
            osi: Osi::Application,
            stage: 0,
        });
        let name = top.protocol.name();
        stages.push(Stage {
            osi: Osi::Application,
            send: format!(
                "The program hands {} to {name} (no decoder here reads them).",
                bytes(n)
            ),
            receive: format!("The program receives {} from {name}.", bytes(n)),
            detail: String::new(),
            parts: parts.clone(),
            pdu: "data",
            size: bytes(n),
        });
    }

    if let Some(session) = dissection.layer(Protocol::Session) {
        let state = sanitize(&session.summary);
        stages.push(Stage {
            osi: Osi::Session,
            send: format!(
                "No header in TCP/IP: the connection state is kept by the endpoints (now {state})."
            ),
            receive: format!(
                "Nothing to remove: the endpoints update the state they keep (now {state})."
            ),
            detail: String::new(),
            parts: parts.clone(),
            pdu: "state",
            size: "no bytes".to_string(),
        });
    }

    for (index, layer) in lower.iter().enumerate().rev() {
        let above: Vec<&Layer> = match lower.get(index + 1) {
            Some(next) => vec![*next],
            None => upper.clone(),
        };
        transport_down(dissection, layer, &above, &mut parts, &mut stages);
    }

    physical(dissection, lower.first().copied(), &mut parts, &mut stages);
    stages
}

/// The application's data, then the header of each application protocol.
fn application(
    dissection: &Dissection,
    upper: &[&Layer],
    parts: &mut Vec<Part>,
    stages: &mut Vec<Stage>,
) {
    let data_stage = stages.len();
    for layer in upper {
        let (label, n) = match layer.payload {
            Some(payload) => ("data".to_string(), payload.len()),
            None => (abbreviation(layer.protocol).to_string(), layer.span.len()),
        };
        parts.push(Part {
            label,
            bytes: n,
            osi: Osi::Application,
            stage: data_stage,
        });
    }
    let (send, receive, detail, pdu) = match upper {
        [layer] if layer.payload.is_some() => {
            let n = bytes(payload_len(layer));
            let name = layer.protocol.name();
            (
                format!("The program hands {n} of data to {name}."),
                format!("The program receives {n} of data from {name}."),
                String::new(),
                "data",
            )
        }
        [layer] => {
            let n = layer.span.len();
            let name = layer.protocol.name();
            let summary = sanitize(&layer.summary);
            (
                format!(
                    "{name} writes {} ({summary}): its text is the data.",
                    sized(n, "message")
                ),
                format!("{name} reads the {n}-byte message ({summary})."),
                sanitize(&layer.did),
                layer.protocol.pdu(),
            )
        }
        _ => {
            let list: Vec<String> = upper
                .iter()
                .map(|layer| {
                    let (header, trailer) = header_trailer(layer);
                    format!(
                        "{} ({})",
                        layer.protocol.name(),
                        bytes(header + payload_len(layer) + trailer)
                    )
                })
                .collect();
            (
                format!(
                    "{} messages travel together in this frame: {}.",
                    upper.len(),
                    list.join(", ")
                ),
                format!(
                    "The program receives {} messages: {}.",
                    upper.len(),
                    list.join(", ")
                ),
                String::new(),
                "data",
            )
        }
    };
    stages.push(Stage {
        osi: Osi::Application,
        send,
        receive,
        detail,
        parts: parts.clone(),
        pdu,
        size: bytes(total(parts)),
    });

    // Each protocol with a payload wraps its data in its header.
    for (position, layer) in upper.iter().enumerate() {
        if layer.payload.is_none() {
            continue;
        }
        let (header, trailer) = header_trailer(layer);
        let stage = stages.len();
        let name = layer.protocol.name();
        let size = header + payload_len(layer) + trailer;
        let pdu = layer.protocol.pdu();
        // Position of this layer's data box: one box per layer before it,
        // plus the headers and trailers added so far.
        let Some(data_at) = parts
            .iter()
            .enumerate()
            .filter(|(_, part)| part.stage == data_stage)
            .nth(position)
            .map(|(at, _)| at)
        else {
            continue;
        };
        let osi = layer.osi();
        let abbr = abbreviation(layer.protocol).to_string();
        if trailer > 0 {
            parts.insert(
                data_at + 1,
                Part {
                    label: format!("{abbr} end"),
                    bytes: trailer,
                    osi,
                    stage,
                },
            );
        }
        parts.insert(
            data_at,
            Part {
                label: abbr,
                bytes: header,
                osi,
                stage,
            },
        );
        let added = if trailer > 0 {
            format!(
                "{} and {}",
                sized(header, "header"),
                sized(trailer, "trailer")
            )
        } else {
            sized(header, "header")
        };
        let unmask = if layer.find(keys::websocket::MASKING_KEY).is_some() {
            " and unmasks the payload"
        } else {
            ""
        };
        let mut send = format!("{name} adds {added} → {size}-byte {pdu}.");
        let mut receive = format!(
            "{name} reads and removes {added}{unmask} → {} for the program.",
            bytes(payload_len(layer))
        );
        if layer.source != 0 {
            let from = rebuilt_from(dissection, layer);
            send.push_str(&format!(
                " It is longer than one segment: it lives in a buffer the receiver reassembles from {from}."
            ));
            receive.push_str(&format!(" It was reassembled from {from}."));
        }
        stages.push(Stage {
            osi,
            send,
            receive,
            detail: sanitize(&layer.did),
            parts: parts.clone(),
            pdu,
            size: bytes(size),
        });
    }
}

/// One layer at or below the transport layer adds its header.
fn transport_down(
    dissection: &Dissection,
    layer: &Layer,
    above: &[&Layer],
    parts: &mut Vec<Part>,
    stages: &mut Vec<Stage>,
) {
    let stage = stages.len();
    let name = layer.protocol.name();
    let pdu = layer.protocol.pdu();
    let osi = layer.osi();
    let (header, trailer) = header_trailer(layer);
    let carried = payload_len(layer);
    let elsewhere = above.iter().find(|upper| upper.source != layer.source);
    let above_name = above
        .first()
        .map_or("the layer above", |upper| upper.protocol.name());
    let above_total = total(parts);
    let no_data = parts.is_empty();
    let mut note = String::new();
    let mut note_up = String::new();
    if let Some(upper) = elsewhere {
        // The unit above is longer than this one: only a piece travels here.
        let from = rebuilt_from(dissection, upper);
        note = format!(
            " It carries {} of the {}-byte {} above; the rest travels in other {}s.",
            bytes(carried),
            above_total,
            upper.protocol.pdu(),
            pdu
        );
        note_up = format!(
            " Together with the rest of {from}, they rebuild the {}-byte {} {}.",
            above_total,
            upper.protocol.name(),
            upper.protocol.pdu()
        );
        *parts = vec![Part {
            label: format!("{}…", abbreviation(upper.protocol)),
            bytes: carried,
            osi: upper.osi(),
            stage,
        }];
    }
    let padding = layer.find(keys::eth::PADDING).is_some();
    if trailer > 0 {
        parts.push(Part {
            label: if padding { "pad" } else { "trailer" }.to_string(),
            bytes: trailer,
            osi,
            stage,
        });
    }
    parts.insert(
        0,
        Part {
            label: abbreviation(layer.protocol).to_string(),
            bytes: header,
            osi,
            stage,
        },
    );
    let size = total(parts);
    let added = match (trailer, padding) {
        (0, _) => sized(header, "header"),
        (t, true) => format!("{} and {} of padding", sized(header, "header"), bytes(t)),
        (t, false) => format!("{} and {}", sized(header, "header"), sized(t, "trailer")),
    };
    let (send, receive) = if no_data {
        (
            format!("{name} sends {added} and no data: {}.", sized(size, pdu)),
            format!("{name} reads {added}; there is no data to hand up."),
        )
    } else {
        (
            format!("{name} adds {added} → {size}-byte {pdu}.{note}"),
            format!(
                "{name} reads and removes {added} → hands {} to {above_name}.{note_up}",
                bytes(carried)
            ),
        )
    };
    stages.push(Stage {
        osi,
        send,
        receive,
        detail: sanitize(&layer.did),
        parts: parts.clone(),
        pdu,
        size: bytes(size),
    });
}

/// The physical layer: the framing around the frame and the bits on the wire.
fn physical(
    dissection: &Dissection,
    link: Option<&Layer>,
    parts: &mut Vec<Part>,
    stages: &mut Vec<Stage>,
) {
    let stage = stages.len();
    let frame = &dissection.frame;
    let phy = dissection.layer(Protocol::Physical);
    // The layer's own sentence repeats the framing when it is known.
    let mut detail = String::new();
    let link_name = link.map_or("the link layer", |layer| layer.protocol.name());
    if parts.is_empty() {
        parts.push(Part {
            label: "bytes".to_string(),
            bytes: frame.cap_len,
            osi: Osi::DataLink,
            stage,
        });
    }
    let cut_short = if frame.cap_len < frame.orig_len {
        format!(
            " Only {} of its {} bytes were captured, so the layers above stop short.",
            frame.cap_len, frame.orig_len
        )
    } else {
        String::new()
    };
    let field = |key| phy.and_then(|layer| uint(layer, key));
    let framing = (
        field(keys::frame::PREAMBLE),
        field(keys::frame::SFD),
        field(keys::frame::FCS),
        field(keys::frame::IFG),
        field(keys::frame::WIRE_BYTES),
    );
    let (send, receive, size) = match framing {
        (Some(preamble), Some(sfd), Some(fcs), Some(gap), Some(wire)) => {
            let orig = u64::try_from(frame.orig_len).unwrap_or(u64::MAX);
            let pad = wire
                .saturating_sub(preamble)
                .saturating_sub(sfd)
                .saturating_sub(orig)
                .saturating_sub(fcs)
                .saturating_sub(gap);
            let as_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
            let physical = |label: &str, n: u64| Part {
                label: label.to_string(),
                bytes: as_usize(n),
                osi: Osi::Physical,
                stage,
            };
            parts.insert(0, physical("SFD", sfd));
            parts.insert(0, physical("preamble", preamble));
            if pad > 0 {
                parts.push(physical("pad", pad));
            }
            parts.push(physical("FCS", fcs));
            parts.push(physical("gap", gap));
            let bits = wire.saturating_mul(8);
            let timing = match (
                phy.and_then(|layer| layer.find(keys::frame::DURATION)),
                phy.and_then(|layer| layer.find(keys::frame::LINK_SPEED)),
            ) {
                (Some(duration), Some(speed)) => format!(
                    ", {} at {}",
                    sanitize(&duration.display),
                    sanitize(&speed.display)
                ),
                _ => String::new(),
            };
            let padded = if pad > 0 {
                format!(
                    ", pads the frame with {} to the 60-byte minimum",
                    bytes(as_usize(pad))
                )
            } else {
                String::new()
            };
            (
                format!(
                    "The physical layer puts {} and {} in front{padded}, {} (checksum) behind and {gap} bytes of idle gap after: {wire} bytes, {bits} bits on the wire{timing}.{cut_short}",
                    sized(preamble, "preamble"),
                    sized(sfd, "start delimiter"),
                    sized(fcs, "FCS")
                ),
                format!(
                    "The receiver's card locks onto the preamble, finds the start delimiter, checks the FCS and drops it with the gap{}: the {}-byte frame goes up to {link_name}.{cut_short}",
                    if pad > 0 { " and the padding" } else { "" },
                    frame.orig_len
                ),
                format!("{bits} bits"),
            )
        }
        _ => {
            detail = phy.map_or_else(String::new, |layer| sanitize(&layer.did));
            let bits = frame.orig_len.saturating_mul(8);
            (
                format!(
                    "The physical layer sends the {}-byte frame as {bits} bits; this capture's link type records no physical framing around them.{cut_short}",
                    frame.orig_len
                ),
                format!(
                    "The bits arrive and become the {}-byte frame again, handed to {link_name}.{cut_short}",
                    frame.orig_len
                ),
                format!("{bits} bits"),
            )
        }
    };
    stages.push(Stage {
        osi: Osi::Physical,
        send,
        receive,
        detail,
        parts: parts.clone(),
        pdu: Protocol::Physical.pdu(),
        size,
    });
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
    use crate::dissect::Span as ByteSpan;
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
                line.trim_end().to_string()
            })
            .collect()
    }

    fn draw(dissection: &Dissection, step: usize, w: u16, h: u16) -> Vec<String> {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        render(
            dissection,
            step,
            buf.area,
            &mut buf,
            &Theme::named("default").unwrap(),
        );
        lines(&buf)
    }

    #[test]
    fn websocket_frame_goes_down_and_up_the_stack() {
        let dissection = dissect("ws-basic.pcapng", 8);
        // Data, WebSocket, session, TCP, IPv4, Ethernet, physical: both ways.
        assert_eq!(steps(&dissection), 14);
        let text = draw(&dissection, 0, 100, 10);
        assert!(text[0].starts_with("Sending: L7 → L1"), "{text:#?}");
        assert!(text[0].ends_with("step 1/14"));
        assert_eq!(
            text[1],
            "L7 The program hands 14 bytes of data to WebSocket."
        );
        assert_eq!(text[2], "   [data 14]  data · 14 bytes");

        let text = draw(&dissection, 6, 120, 40);
        let joined = text.join("\n");
        assert!(
            joined.contains("L7 WebSocket adds a 6-byte header → 20-byte frame."),
            "{joined}"
        );
        assert!(joined.contains("   [WS 6][data 14]  frame · 20 bytes"));
        assert!(joined
            .contains("L5 No header in TCP/IP: the connection state is kept by the endpoints"));
        assert!(joined.contains("L4 TCP adds a 32-byte header → 52-byte segment."));
        assert!(joined.contains("   [TCP 32][WS 6][data 14]  segment · 52 bytes"));
        assert!(joined.contains("L3 IPv4 adds a 20-byte header → 72-byte packet."));
        assert!(joined.contains("L2 Ethernet II adds a 14-byte header → 86-byte frame."));
        assert!(joined.contains("L1 The physical layer puts a 7-byte preamble and a 1-byte start delimiter in front, a 4-byte FCS"));
        assert!(
            joined.contains("110 bytes, 880 bits on the wire"),
            "{joined}"
        );
        assert!(joined.contains(
            "   [preamble 7][SFD 1][Eth 14][IPv4 20][TCP 32][WS 6][data 14][FCS 4][gap 12]  bits · 880 bits"
        ));

        // The receiving side starts at the wire and ends with the data.
        let text = draw(&dissection, 7, 120, 10);
        assert!(text[0].starts_with("Receiving: L1 → L7"));
        assert!(
            text[1].starts_with("L1 The receiver's card locks onto the preamble"),
            "{text:#?}"
        );
        let text = draw(&dissection, 13, 120, 60);
        let joined = text.join("\n");
        assert!(
            joined.contains(
                "L2 Ethernet II reads and removes a 14-byte header → hands 72 bytes to IPv4."
            ),
            "{joined}"
        );
        assert!(joined.contains("L7 WebSocket reads and removes a 6-byte header and unmasks the payload → 14 bytes for the program."));
        assert!(joined.contains("L7 The program receives 14 bytes of data from WebSocket."));
        // Steps past the end stay on the last one.
        assert_eq!(draw(&dissection, 99, 120, 60), text);
    }

    #[test]
    fn the_current_step_is_highlighted_and_earlier_ones_stay() {
        let dissection = dissect("ws-basic.pcapng", 8);
        let theme = Theme::named("mono").unwrap();
        let mut buf = Buffer::empty(Rect::new(0, 0, 120, 30));
        render(&dissection, 3, buf.area, &mut buf, &theme);
        let text = lines(&buf);
        let current = text
            .iter()
            .position(|l| l.starts_with("L4 TCP adds"))
            .unwrap();
        assert!(buf[(3, current as u16)]
            .modifier
            .contains(Modifier::REVERSED));
        let earlier = text
            .iter()
            .position(|l| l.starts_with("L7 WebSocket adds"))
            .unwrap();
        assert!(earlier < current);
        assert!(!buf[(3, earlier as u16)]
            .modifier
            .contains(Modifier::REVERSED));
        // No step after the current one is shown yet.
        assert!(!text.iter().any(|l| l.starts_with("L3 ")));
        // The current step's own box is set off, even without colour.
        let bar = current
            + 1
            + text[current + 1..]
                .iter()
                .position(|l| l.starts_with("   ["))
                .unwrap();
        assert!(
            buf[(4, bar as u16)].modifier.contains(Modifier::BOLD),
            "{text:#?}"
        );
        assert!(!buf[(12, bar as u16)].modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn http_message_is_its_own_data() {
        let dissection = dissect("ws-basic.pcapng", 4);
        let text = draw(&dissection, 0, 120, 5);
        assert!(
            text[1].starts_with(
                "L7 HTTP/1.1 writes a 198-byte message (Hypertext Transfer Protocol: GET /chat)"
            ),
            "{text:#?}"
        );
        let text = draw(&dissection, 2, 120, 30);
        assert!(
            text.join("\n")
                .contains("[TCP 32][HTTP 198]  segment · 230 bytes"),
            "{text:#?}"
        );
    }

    #[test]
    fn bare_segments_have_no_data() {
        let dissection = dissect("ws-basic.pcapng", 1);
        // Session, TCP, IPv4, Ethernet, physical.
        assert_eq!(steps(&dissection), 10);
        let text = draw(&dissection, 1, 120, 20);
        assert!(
            text.join("\n")
                .contains("L4 TCP sends a 40-byte header and no data: a 40-byte segment."),
            "{text:#?}"
        );
    }

    #[test]
    fn reassembled_websocket_frame_is_said_so() {
        let dissection = dissect("ws-sizes.pcapng", 77);
        let ws = dissection.layer(Protocol::WebSocket).unwrap();
        assert_ne!(ws.source, 0);
        let n = steps(&dissection) / 2;
        let text = draw(&dissection, 1, 200, 80);
        let joined = text.join("\n");
        assert!(joined.contains("WebSocket adds an 8-byte header → 65543-byte frame. It is longer than one segment: it lives in a buffer the receiver reassembles from 46 frames, 28 to 77."), "{joined}");
        let text = draw(&dissection, n - 1, 200, 80);
        let joined = text.join("\n");
        assert!(joined.contains("L4 TCP adds a 32-byte header → 415-byte segment. It carries 383 bytes of the 65543-byte frame above"), "{joined}");
        assert!(joined.contains("[TCP 32][WS… 383]  segment · 415 bytes"));
        let text = draw(&dissection, n + 3, 200, 80);
        assert!(text.join("\n").contains("hands 383 bytes to WebSocket. Together with the rest of 46 frames, 28 to 77, they rebuild the 65543-byte WebSocket frame."), "{text:#?}");
    }

    #[test]
    fn linux_cooked_capture_has_no_physical_framing() {
        let dissection = dissect("ws-any-sll.pcap", 1);
        let n = steps(&dissection) / 2;
        let text = draw(&dissection, n - 1, 120, 40);
        let joined = text.join("\n");
        assert!(
            joined.contains("L2 Linux cooked capture v1 adds a 16-byte header → 76-byte frame."),
            "{joined}"
        );
        assert!(joined.contains("L1 The physical layer sends the 76-byte frame as 608 bits; this capture's link type records no physical framing"));
    }

    #[test]
    fn frames_without_tcp_walk_too() {
        // An ARP request: Ethernet and a 28-byte ARP message, padded to 60 bytes.
        let mut dissection = (*dissect("ws-basic.pcapng", 1)).clone();
        dissection
            .layers
            .retain(|layer| matches!(layer.protocol, Protocol::Physical | Protocol::Ethernet));
        let eth = dissection
            .layers
            .iter_mut()
            .find(|l| l.protocol == Protocol::Ethernet)
            .unwrap();
        eth.span = ByteSpan::new(0, 60);
        eth.payload = Some(ByteSpan::new(14, 42));
        eth.fields.push(crate::dissect::Field {
            key: keys::eth::PADDING,
            label: "Padding",
            value: FieldValue::Bytes(vec![0; 18]),
            display: String::new(),
            span: ByteSpan::new(42, 60),
            mask: None,
            explain: "",
            children: Vec::new(),
        });
        dissection.layers.push(Layer {
            protocol: Protocol::Arp,
            source: 0,
            span: ByteSpan::new(14, 42),
            payload: None,
            summary: "Who has 10.77.0.2? Tell 10.77.0.1".into(),
            did: String::new(),
            fields: Vec::new(),
        });
        dissection.frame.orig_len = 60;
        dissection.frame.cap_len = 60;
        assert_eq!(steps(&dissection), 6);
        let joined = draw(&dissection, 2, 120, 20).join("\n");
        assert!(
            joined.contains("L3 ARP sends a 28-byte header and no data: a 28-byte message."),
            "{joined}"
        );
        assert!(joined.contains(
            "L2 Ethernet II adds a 14-byte header and 18 bytes of padding → 60-byte frame."
        ));
        assert!(joined.contains("[Eth 14][ARP 28][pad 18]  frame · 60 bytes"));

        // A UDP datagram whose payload nothing decoded.
        let mut dissection = (*dissect("ws-basic.pcapng", 8)).clone();
        dissection
            .layers
            .retain(|layer| layer.osi() <= Osi::Network);
        let ip = dissection.layers.last().unwrap().clone();
        dissection.layers.push(Layer {
            protocol: Protocol::Udp,
            source: 0,
            span: ByteSpan::new(34, 42),
            payload: Some(ByteSpan::new(42, 86)),
            summary: String::new(),
            did: String::new(),
            fields: Vec::new(),
        });
        assert_eq!(ip.protocol, Protocol::Ipv4);
        let joined = draw(&dissection, 4, 120, 30).join("\n");
        assert!(
            joined.contains("L7 The program hands 44 bytes to UDP (no decoder here reads them)."),
            "{joined}"
        );
        assert!(joined.contains("L4 UDP adds an 8-byte header → 52-byte datagram."));
    }

    #[test]
    fn articles_follow_the_spoken_number() {
        assert_eq!(sized(8, "header"), "an 8-byte header");
        assert_eq!(sized(18, "header"), "an 18-byte header");
        assert_eq!(sized(11_000, "frame"), "an 11000-byte frame");
        assert_eq!(sized(1100, "frame"), "a 1100-byte frame");
        assert_eq!(sized(20, "header"), "a 20-byte header");
        assert_eq!(sized(80, "header"), "an 80-byte header");
    }

    #[test]
    fn wire_text_is_sanitized() {
        let mut dissection = (*dissect("ws-basic.pcapng", 4)).clone();
        for layer in &mut dissection.layers {
            if layer.protocol == Protocol::Http {
                layer.summary = "GET /\u{1b}[2J".into();
            }
        }
        let joined = draw(&dissection, 0, 120, 5).join("\n");
        assert!(joined.contains("(GET /\\e[2J)"), "{joined}");
    }

    #[test]
    fn every_frame_of_the_small_captures_walks_both_ways() {
        let theme = Theme::named("default").unwrap();
        for name in [
            "ws-basic-ipv6.pcap",
            "ws-any-sll2.pcap",
            "wss-basic.pcapng",
            "ws-snaplen.pcapng",
            "ws-abnormal.pcapng",
            "http-mixed.pcapng",
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("captures")
                .join(name);
            let mut session = Session::open_blocking(&path, SessionLimits::default()).unwrap();
            let count = session.rows().len() as u64;
            for number in 1..=count {
                let dissection = session.dissect(FrameNumber(number)).unwrap();
                let n = steps(&dissection);
                assert!(n >= 2 && n.is_multiple_of(2), "{name} frame {number}");
                for step in 0..n {
                    let mut buf = Buffer::empty(Rect::new(0, 0, 80, 24));
                    render(&dissection, step, buf.area, &mut buf, &theme);
                    let text = lines(&buf);
                    assert!(
                        text.iter().skip(1).any(|l| l.starts_with('L')),
                        "{name} frame {number}: {text:#?}"
                    );
                }
                // The first step is the top of the stack, the last the bottom.
                let first = draw(&dissection, 0, 200, 3);
                let last = draw(&dissection, n / 2 - 1, 200, 80);
                assert!(
                    first[1].starts_with("L7 ")
                        || first[1].starts_with("L6 ")
                        || first[1].starts_with("L5 ")
                        || first[1].starts_with("L4 ")
                        || first[1].starts_with("L3 "),
                    "{first:#?}"
                );
                assert!(last.iter().any(|l| l.starts_with("L1 ")), "{last:#?}");
            }
        }
    }

    #[test]
    fn tiny_and_empty_areas_do_not_panic() {
        let dissection = dissect("ws-basic.pcapng", 8);
        let mut empty = (*dissection).clone();
        empty.layers.clear();
        for d in [&*dissection, &empty] {
            for (w, h) in [(10, 3), (0, 0), (1, 1), (0, 3), (3, 0), (2, 2), (5, 1)] {
                for step in [0, 3, 7, usize::MAX] {
                    for line in draw(d, step, w, h) {
                        assert!(width(&line) <= usize::from(w));
                    }
                }
            }
            let mut buf = Buffer::empty(Rect::new(0, 0, 10, 3));
            render(
                d,
                0,
                Rect::new(9, 2, 30, 30),
                &mut buf,
                &Theme::named("mono").unwrap(),
            );
        }
        assert_eq!(steps(&empty), 2);
    }
}
