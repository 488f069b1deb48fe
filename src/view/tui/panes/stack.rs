//! The OSI stack of one frame: the seven layers top to bottom, each with
//! its PDU name, protocol, header size, key fields and one sentence on what
//! it did; a layer with nothing in this frame says so and why.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::dissect::{keys, Dissection, Layer, Osi, Protocol};
use crate::lesson::Lang;
use crate::view::tui::text::{cut, fit, pad, width};
use crate::view::tui::theme::Theme;

/// What the stack pane shows.
pub struct StackView<'a> {
    pub dissection: &'a Dissection,
    /// Index into the dissection's layers of the focused one.
    pub focused: usize,
    /// The language of the layer and PDU names and the notes.
    pub lang: Lang,
}

/// An OSI layer's name in a language.
fn osi_name(osi: Osi, lang: Lang) -> &'static str {
    match lang {
        Lang::En => osi.name(),
        Lang::Ja => match osi {
            Osi::Physical => "物理層",
            Osi::DataLink => "データリンク層",
            Osi::Network => "ネットワーク層",
            Osi::Transport => "トランスポート層",
            Osi::Session => "セッション層",
            Osi::Presentation => "プレゼンテーション層",
            Osi::Application => "アプリケーション層",
        },
    }
}

/// A PDU's name in a language.
fn pdu_name(protocol: Protocol, lang: Lang) -> &'static str {
    let pdu = protocol.pdu();
    match (lang, pdu) {
        (Lang::En, _) => pdu,
        (Lang::Ja, "bits") => "ビット",
        (Lang::Ja, "frame") => "フレーム",
        (Lang::Ja, "packet") => "パケット",
        (Lang::Ja, "message") => "メッセージ",
        (Lang::Ja, "segment") => "セグメント",
        (Lang::Ja, "datagram") => "データグラム",
        (Lang::Ja, "state") => "状態",
        (Lang::Ja, "record") => "レコード",
        (Lang::Ja, _) => "データ",
    }
}

/// Why a layer has nothing in this frame, in a language.
pub fn absent_reason_in(osi: Osi, dissection: &Dissection, lang: Lang) -> String {
    let reason = absent_reason(osi, dissection);
    if lang == Lang::En {
        return reason;
    }
    let ja = match reason.as_str() {
        r if r.starts_with("no TLS: ws://") => "TLS なし：ws://（と http://）は平文なので、上の層のバイトはすべて通信路上で読めます",
        r if r.starts_with("no TLS on this") => "TLS なし：この接続のバイトは暗号化されずに流れます",
        r if r.starts_with("no presentation") => "プレゼンテーション層のプロトコルなし：TCP/IP には独立した第 6 層がありません",
        r if r.starts_with("no connection") => "接続なし：このプロトコルはセッションの状態を持ちません",
        r if r.starts_with("no application data: this segment") => "アプリケーションデータなし：このセグメントは TCP の制御（フラグ、ACK、ウィンドウ）だけを運びます",
        r if r.starts_with("no complete application PDU") => "ここで終わるアプリケーション PDU はありません：残りのバイトを待っているか、解読対象外です",
        r if r.starts_with("no application data") => "このフレームにアプリケーションデータはありません",
        r if r.starts_with("no transport") => "トランスポート層なし：このフレームは第 3 層で終わります",
        r if r.starts_with("no network") => "ネットワーク層なし：このフレームは IP を運んでいません",
        _ => "キャプチャされていません",
    };
    ja.to_string()
}

/// The fields summed up on a layer's line: (key, prefix).
fn key_fields(protocol: Protocol) -> &'static [(&'static str, &'static str)] {
    match protocol {
        Protocol::Physical => &[
            (keys::frame::WIRE_BYTES, "on the wire: "),
            (keys::frame::DURATION, ""),
        ],
        Protocol::Ethernet => &[
            (keys::eth::SRC, ""),
            (keys::eth::DST, "→ "),
            (keys::eth::TYPE, "type "),
        ],
        Protocol::Ipv4 => &[
            (keys::ip::SRC, ""),
            (keys::ip::DST, "→ "),
            (keys::ip::TTL, "TTL "),
            (keys::ip::PROTO, ""),
        ],
        Protocol::Ipv6 => &[
            (keys::ipv6::SRC, ""),
            (keys::ipv6::DST, "→ "),
            (keys::ipv6::HLIM, "hop limit "),
            (keys::ipv6::NXT, ""),
        ],
        Protocol::Tcp => &[
            (keys::tcp::SRCPORT, "port "),
            (keys::tcp::DSTPORT, "→ "),
            (keys::tcp::FLAGS, ""),
            (keys::tcp::SEQ, "Seq="),
            (keys::tcp::ACK, "Ack="),
            (keys::tcp::LEN, "Len="),
        ],
        Protocol::Udp => &[
            (keys::udp::SRCPORT, "port "),
            (keys::udp::DSTPORT, "→ "),
            (keys::udp::LENGTH, "length "),
        ],
        Protocol::Http => &[
            (keys::http::REQUEST_LINE, ""),
            (keys::http::RESPONSE_LINE, ""),
        ],
        Protocol::WebSocket => &[
            (keys::websocket::OPCODE, ""),
            (keys::websocket::FIN, "FIN "),
            (keys::websocket::MASK, "MASK "),
            (keys::websocket::PAYLOAD_LENGTH, "len "),
        ],
        Protocol::Tls => &[
            (keys::tls::CONTENT_TYPE, ""),
            (keys::tls::LENGTH, "length "),
        ],
        Protocol::Session => &[
            (keys::tcp::STATE, "TCP "),
            (keys::websocket::STATE, "WebSocket "),
        ],
        _ => &[],
    }
}

/// The key fields of a layer on one line.
pub fn key_line(layer: &Layer) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (key, prefix) in key_fields(layer.protocol) {
        if let Some(field) = layer.find(key) {
            let value = field.display.split(" (").next().unwrap_or("");
            let value = if *key == keys::tcp::FLAGS || *key == keys::ip::PROTO {
                field.display.as_str()
            } else {
                value
            };
            if prefix.starts_with('→') {
                if let Some(last) = parts.last_mut() {
                    last.push_str(&format!(" {prefix}{value}"));
                    continue;
                }
            }
            parts.push(format!("{prefix}{value}"));
        }
    }
    if parts.is_empty() {
        return layer.summary.clone();
    }
    parts.join(" · ")
}

/// Why a layer has nothing in this frame.
pub fn absent_reason(osi: Osi, dissection: &Dissection) -> String {
    let has = |protocol: Protocol| dissection.layer(protocol).is_some();
    let plaintext_ws = has(Protocol::WebSocket)
        || has(Protocol::Http)
        || dissection.find(keys::websocket::STATE).is_some();
    match osi {
        Osi::Presentation if plaintext_ws => {
            "no TLS: ws:// (and http://) is plaintext, so every byte above is readable on the wire"
                .into()
        }
        Osi::Presentation if has(Protocol::Tcp) => {
            "no TLS on this connection: its bytes travel unencrypted".into()
        }
        Osi::Presentation => "no presentation protocol: TCP/IP has no separate layer 6".into(),
        Osi::Session => "no connection: this protocol keeps no session state".into(),
        Osi::Application if has(Protocol::Tcp) => {
            let len = dissection
                .find(keys::tcp::LEN)
                .map_or(String::new(), |field| field.display.clone());
            if len == "0" {
                "no application data: this segment only carries TCP control (flags, ACK, window)"
                    .into()
            } else {
                "no complete application PDU ends here: bytes wait for the rest, or are not decoded"
                    .into()
            }
        }
        Osi::Application => "no application data in this frame".into(),
        Osi::Transport => "no transport layer: this frame ends at layer 3".into(),
        Osi::Network => "no network layer: this frame does not carry IP".into(),
        Osi::DataLink | Osi::Physical => "not captured".into(),
    }
}

/// Whether the frame shows WebSocket, whose layer placement varies.
fn shows_websocket(dissection: &Dissection) -> bool {
    dissection.layer(Protocol::WebSocket).is_some()
        || dissection.find(keys::websocket::STATE).is_some()
}

/// The pane's lines, each with the index of the layer it belongs to.
pub fn lines(
    view: &StackView<'_>,
    area: Rect,
    theme: &Theme,
) -> Vec<(Line<'static>, Option<usize>)> {
    let cells = usize::from(area.width);
    let dissection = view.dissection;
    // Every layer's sentence when they all fit, else the focused one's only.
    let n_layers = Osi::ALL
        .iter()
        .map(|osi| {
            dissection
                .layers
                .iter()
                .filter(|l| l.osi() == *osi)
                .count()
                .max(1)
        })
        .sum::<usize>();
    let roomy = usize::from(area.height) > n_layers * 2 + dissection.problems.len();
    let mut out: Vec<(Line<'static>, Option<usize>)> = Vec::new();
    for osi in Osi::ALL.iter().rev() {
        let colour = theme.layer(Some(*osi));
        let name_cells = if view.lang == Lang::Ja { 20 } else { 12 };
        let label = format!(
            "L{} {}",
            osi.number(),
            pad(osi_name(*osi, view.lang), name_cells)
        );
        let members: Vec<(usize, &Layer)> = dissection
            .layers
            .iter()
            .enumerate()
            .filter(|(_, layer)| layer.osi() == *osi)
            .collect();
        if members.is_empty() {
            let reason = absent_reason_in(*osi, dissection, view.lang);
            let text = format!("{label} — {reason}");
            out.push((Line::styled(fit(&text, cells), theme.dim), None));
            continue;
        }
        for (n, (index, layer)) in members.iter().enumerate() {
            let focused = *index == view.focused;
            let head = if n == 0 {
                label.clone()
            } else {
                " ".repeat(width(&label))
            };
            let size = if layer.protocol == Protocol::Session {
                match view.lang {
                    Lang::En => "no header".to_string(),
                    Lang::Ja => "ヘッダなし".to_string(),
                }
            } else if layer.span.is_empty() {
                "—".to_string()
            } else {
                format!("{} B", layer.span.len())
            };
            let reassembled = match (layer.source == 0, view.lang) {
                (true, _) => "",
                (false, Lang::En) => " (reassembled)",
                (false, Lang::Ja) => "（再構成）",
            };
            let mut spans = vec![
                Span::styled(head, colour),
                Span::styled(
                    format!(
                        " {}",
                        pad(
                            pdu_name(layer.protocol, view.lang),
                            if view.lang == Lang::Ja { 12 } else { 8 }
                        )
                    ),
                    theme.dim,
                ),
                Span::styled(format!(" {}", layer.protocol.name()), colour),
                Span::styled(format!(" {size}{reassembled} "), theme.dim),
            ];
            let used: usize = spans.iter().map(|span| width(&span.content)).sum();
            spans.push(Span::styled(
                fit(&key_line(layer), cells.saturating_sub(used)),
                theme.text,
            ));
            let mut line = Line::from(spans);
            if focused {
                line = line.patch_style(theme.selected);
            }
            out.push((line, Some(*index)));
            if roomy || focused {
                let did = format!("   ↳ {}", layer.did);
                let style: Style = if focused { theme.text } else { theme.dim };
                out.push((Line::styled(fit(&did, cells), style), Some(*index)));
            }
        }
    }
    for problem in &dissection.problems {
        let text = format!("! {}: {}", problem.severity.name(), problem.message);
        out.push((
            Line::styled(fit(&text, cells), theme.severity(problem.severity)),
            problem.layer,
        ));
    }
    if shows_websocket(dissection) {
        let note = match view.lang {
            Lang::En => "Mapping: WebSocket framing is shown at L7 (application data over TCP); \
                    some courses place its connection handling (handshake, close) at L5, shown here as state.",
            Lang::Ja => "対応づけ：WebSocket のフレームは L7（TCP 上のアプリケーションデータ）に表示します。\
                    接続の管理（ハンドシェイク、クローズ）を L5 に置く教材もあり、ここでは状態として示します。",
        };
        out.push((Line::styled(cut(note, cells), theme.dim), None));
    }
    out
}

/// Draws the stack, scrolled so the focused layer is visible.
pub fn render(view: &StackView<'_>, area: Rect, buf: &mut Buffer, theme: &Theme) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let all = lines(view, area, theme);
    let focus_line = all
        .iter()
        .position(|(_, layer)| *layer == Some(view.focused))
        .unwrap_or(0);
    let height = usize::from(area.height);
    let top = (focus_line + 2).saturating_sub(height);
    for (i, (line, _)) in all.iter().skip(top).take(height).enumerate() {
        let y = area.y + u16::try_from(i).unwrap_or(0);
        buf.set_line(area.x, y, line, area.width);
    }
}

/// The layer under a line of the pane, for mouse clicks.
pub fn layer_at(view: &StackView<'_>, area: Rect, theme: &Theme, line: u16) -> Option<usize> {
    let all = lines(view, area, theme);
    let focus_line = all
        .iter()
        .position(|(_, layer)| *layer == Some(view.focused))
        .unwrap_or(0);
    let height = usize::from(area.height);
    let top = (focus_line + 2).saturating_sub(height);
    let row = usize::from(line.checked_sub(area.y)?);
    all.get(top + row).and_then(|(_, layer)| *layer)
}
