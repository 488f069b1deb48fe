//! The only assembler of [`Dissection`]s: decoded headers in, labelled layers out.
//!
//! Each protocol has a file under `build/` that turns its decoded view into a
//! [`Layer`] of [`Field`]s. Field spans come from the same layout tables the
//! decoders use, so what a view highlights is exactly what was read.

mod application;
mod link;
mod network;
mod physical;
mod transport;

pub(crate) use application::websocket_summary;

pub use transport::analysis_severity;

use crate::application::handshake::Report;
use crate::application::http::{Head, SseEvent};
use crate::application::tls::{HandshakeMessage as TlsHandshake, Record as TlsRecord};
use crate::application::websocket::message::{Frame as WsFrame, Message as WsMessageEvent};
use crate::decode::{Decoded, Link, Net, Tcp, Transport};
use crate::dissect::{
    keys, DataSource, Dissection, Field, FieldValue, FrameInfo, FrameNumber, Layer, Problem,
    Protocol, Severity, Span,
};
use crate::flow::analysis::Analysis;
use crate::flow::reassembly::SegmentClass;
use crate::flow::state::Snapshot;
use crate::flow::table::{Direction, Endpoint};
use crate::source::RawFrame;

/// Settings that change how a frame is described, not how it is decoded.
#[derive(Clone, Debug)]
pub struct BuildConfig {
    /// The link speed assumed for the physical layer's timing, in bits per second.
    pub link_speed_bps: u64,
}

impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig {
            link_speed_bps: 1_000_000_000,
        }
    }
}

/// What the stages after decoding learned about a frame (its TCP connection,
/// its place in the stream), for the builder to show.
#[derive(Clone, Debug, Default)]
pub struct FrameContext {
    pub tcp: Option<TcpContext>,
    /// Application PDUs that ended in this frame.
    pub app: Vec<AppPdu>,
    /// The WebSocket connection's state after this frame, with the changes it caused.
    pub websocket: Option<WebSocketContext>,
    /// Later frames where PDUs this frame carried bytes of were reassembled
    /// (known only to a second pass over the capture).
    pub reassembled_in: Vec<FrameNumber>,
    /// Problems the stream decoders found while this frame was processed
    /// (RFC 6455 violations, limits reached, holes), with their protocol.
    pub app_problems: Vec<AppProblem>,
    /// The `CONNECT` tunnel this frame's TCP payload travels in, if it does.
    pub tunnel: Option<TunnelContext>,
}

/// A `CONNECT` tunnel that a proxy opened, as a frame carrying its bytes shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunnelContext {
    /// The `CONNECT` request's target, as the client wrote it (from the wire).
    pub target: String,
    /// The target's host and port, when it has the `host:port` form.
    pub host_port: Option<(String, u16)>,
    /// The proxy: the server end of this TCP connection.
    pub proxy: Endpoint,
}

/// A problem found in the byte stream, reported on the frame that revealed it.
#[derive(Clone, Debug)]
pub struct AppProblem {
    pub protocol: Protocol,
    pub severity: Severity,
    pub key: &'static str,
    pub message: String,
}

/// A WebSocket connection's state after a frame.
#[derive(Clone, Debug)]
pub struct WebSocketContext {
    pub state: String,
    /// One sentence per change this frame caused.
    pub changes: Vec<String>,
}

/// An application PDU that ended in this frame, and where its bytes are.
#[derive(Clone, Debug)]
pub struct AppPdu {
    pub direction: Direction,
    /// The connection's protocol was recognised without its handshake.
    pub guessed: bool,
    /// The PDU's bytes in its direction's stream.
    pub range: std::ops::Range<u64>,
    pub bytes: PduBytes,
    pub kind: AppPduKind,
}

/// Where a PDU's bytes can be shown from.
#[derive(Clone, Debug)]
pub enum PduBytes {
    /// All of them are in this frame, from this offset.
    InFrame { frame_offset: usize },
    /// They came from several frames: here they are, reassembled.
    Reassembled {
        bytes: Vec<u8>,
        frames: Vec<FrameNumber>,
    },
    /// They are no longer available (longer than what is kept).
    Unavailable,
}

/// What kind of PDU.
#[derive(Clone, Debug)]
pub enum AppPduKind {
    /// An HTTP head, with the handshake check when it answers an Upgrade.
    HttpHead(Box<Head>, Option<Box<Report>>),
    /// A WebSocket frame, with the message it completes.
    WsFrame(Box<WsFrame>, Option<Box<WsMessageEvent>>),
    /// A TLS record, with the handshake messages that end in it.
    TlsRecord(Box<TlsRecord>, Vec<TlsHandshake>),
    /// One Server-Sent Events event of a `text/event-stream` body.
    SseEvent(Box<SseEvent>),
}

/// A TCP segment's place in its connection.
#[derive(Clone, Debug)]
pub struct TcpContext {
    /// Wireshark's `tcp.stream`.
    pub stream: u32,
    pub direction: Direction,
    pub client: Endpoint,
    pub server: Endpoint,
    pub roles_guessed: bool,
    /// What reassembly made of the segment.
    pub class: SegmentClass,
    /// tshark-style analysis: flags and relative numbers.
    pub analysis: Analysis,
    /// Both sides' TCP state after this segment.
    pub state: Snapshot,
    /// One sentence per state change this segment caused.
    pub transitions: Vec<String>,
}

/// Builds the layered model of one frame from its decoded headers.
pub fn build(
    frame: &RawFrame<'_>,
    decoded: &Decoded<'_>,
    context: &FrameContext,
    config: &BuildConfig,
) -> Dissection {
    let mut layers = Vec::with_capacity(6);
    layers.push(physical::layer(frame, decoded, config));
    stack_layers(decoded, context.tcp.as_ref(), &mut layers);
    let mut problems: Vec<Problem> = decoded
        .problems
        .iter()
        .map(|problem| Problem {
            severity: problem.severity,
            key: problem.key,
            message: problem.message.clone(),
            layer: layers
                .iter()
                .rposition(|layer| layer.protocol == problem.protocol),
            span: problem.span,
        })
        .collect();
    if let Some(tcp) = &context.tcp {
        transport::analysis_problems(tcp, &layers, &mut problems);
    }
    let mut sources = vec![DataSource {
        name: format!("Frame ({} bytes)", frame.data.len()),
        bytes: frame.data.to_vec(),
        frames: Vec::new(),
    }];
    if let Some(datagram) = &decoded.reassembled {
        sources.push(DataSource {
            name: format!("Reassembled IPv4 ({} bytes)", datagram.bytes.len()),
            bytes: datagram.bytes.to_vec(),
            frames: datagram.frames.iter().copied().map(FrameNumber).collect(),
        });
    }
    if !context.reassembled_in.is_empty() {
        if let Some(tcp) = layers
            .iter_mut()
            .rev()
            .find(|layer| layer.protocol == Protocol::Tcp)
        {
            for frame in &context.reassembled_in {
                let payload = tcp.payload.unwrap_or_default();
                tcp.fields.push(field(
                    keys::tcp::REASSEMBLED_IN,
                    "Reassembled in frame",
                    FieldValue::UInt(frame.0),
                    format!("#{frame}"),
                    payload,
                    "This segment's payload is part of a message put together in that later frame.",
                ));
            }
        }
    }
    if let Some(layer) = session_layer(context) {
        // The session layer sits between transport and application.
        let at = layers
            .iter()
            .position(|layer| layer.osi() > crate::dissect::Osi::Transport)
            .unwrap_or(layers.len());
        layers.insert(at, layer);
        for problem in &mut problems {
            if let Some(index) = problem.layer.as_mut().filter(|index| **index >= at) {
                *index += 1;
            }
        }
    }
    if let Some(tunnel) = &context.tunnel {
        if let Some(layer) = tunnel_layer(tunnel, &layers) {
            layers.push(layer);
        }
    }
    app_layers(&context.app, &mut layers, &mut sources, &mut problems);
    for problem in &context.app_problems {
        problems.push(Problem {
            severity: problem.severity,
            key: problem.key,
            message: problem.message.clone(),
            layer: layers
                .iter()
                .rposition(|layer| layer.protocol == problem.protocol)
                .or_else(|| {
                    layers
                        .iter()
                        .rposition(|layer| layer.protocol == Protocol::Tcp)
                }),
            span: None,
        });
    }
    Dissection {
        frame: FrameInfo {
            number: frame.number,
            ts: frame.ts,
            cap_len: frame.data.len(),
            orig_len: frame.orig_len,
            link_type: frame.link_type,
        },
        sources,
        layers,
        problems,
    }
}

/// The layers from the link header up, in order, appended to `layers`.
fn stack_layers(decoded: &Decoded<'_>, tcp_context: Option<&TcpContext>, layers: &mut Vec<Layer>) {
    match &decoded.link {
        Link::Ethernet(header) => layers.push(link::ethernet(header, decoded)),
        Link::LinuxSll(bytes) => layers.push(link::sll(bytes)),
        Link::LinuxSll2(bytes) => layers.push(link::sll2(bytes)),
        Link::Null { family, big_endian } => layers.push(link::null(*family, *big_endian)),
        Link::Raw | Link::Unknown { .. } | Link::Truncated { .. } => {}
    }
    for vlan in &decoded.vlans {
        layers.push(link::vlan(vlan));
    }
    match &decoded.net {
        Some(Net::Ipv4(ip)) => layers.push(network::ipv4(ip)),
        Some(Net::Ipv6(ip)) => layers.push(network::ipv6(ip, decoded.data)),
        Some(Net::Arp(arp)) => layers.push(network::arp(arp)),
        None => {}
    }
    let reassembled = decoded.reassembled.as_ref().map_or(&[][..], |r| r.bytes);
    let bytes_of = |source: usize| {
        if source == 1 {
            reassembled
        } else {
            decoded.data
        }
    };
    match &decoded.transport {
        Some(Transport::Tcp(tcp)) => {
            layers.push(transport::tcp(
                tcp,
                bytes_of(tcp.source),
                tcp_wire_len(decoded, tcp),
                tcp_context,
            ));
        }
        Some(Transport::Udp(udp)) => layers.push(transport::udp(udp, bytes_of(udp.source))),
        Some(Transport::Icmp(icmp)) => layers.push(transport::icmp(icmp)),
        None => {}
    }
    if let Some(rest) = decoded.rest {
        layers.push(data_layer(decoded.data, rest));
    }
}

/// The payload bytes a TCP segment had on the wire, counting any that were
/// not captured (its layer's `tcp.len`).
pub fn tcp_wire_len(decoded: &Decoded<'_>, tcp: &Tcp<'_>) -> usize {
    let ip_payload_len = match &decoded.net {
        Some(Net::Ipv4(ip)) => {
            usize::from(ip.header.total_len()).saturating_sub(ip.header.slice().len())
        }
        Some(Net::Ipv6(ip)) => usize::from(ip.header.payload_length())
            .saturating_sub(ip.payload.start - ip.offset - crate::decode::network::ipv6_field::LEN),
        Some(Net::Arp(_)) | None => 0,
    };
    if ip_payload_len == 0 || tcp.source != 0 {
        tcp.payload.len()
    } else {
        tcp.payload_len(ip_payload_len)
    }
}

/// The application layers of a frame's PDUs alone, as [`build`] puts them on
/// top of its stack, with the worst problem they raise: for a summary of the
/// frame that does not need the layers below.
pub fn application_layers(pdus: &[AppPdu]) -> (Vec<Layer>, Option<Severity>) {
    let mut layers = Vec::with_capacity(pdus.len());
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    app_layers(pdus, &mut layers, &mut sources, &mut problems);
    let worst = problems.iter().map(|problem| problem.severity).max();
    (layers, worst)
}

/// The datagram quoted in an ICMP error, as fields: one group per protocol
/// (keyed by its Wireshark name, `ip`, `udp`, ...), spans shifted to where the
/// quote starts in the message's data source.
pub(crate) fn quoted_fields(quoted: &Decoded<'_>, start: usize) -> Vec<Field> {
    let mut layers = Vec::new();
    stack_layers(quoted, None, &mut layers);
    layers
        .into_iter()
        .filter(|layer| layer.protocol != Protocol::Data)
        .map(|layer| {
            let span = Span::new(layer.span.start + start, layer.span.end + start);
            let mut fields = layer.fields;
            for field in &mut fields {
                shift(field, start);
            }
            with(
                field(
                    layer.protocol.short_name(),
                    layer.protocol.name(),
                    FieldValue::None,
                    layer.summary,
                    span,
                    "Part of the datagram that caused this error, quoted so the sender can tell which one it was.",
                ),
                fields,
            )
        })
        .collect()
}

fn shift(field: &mut Field, by: usize) {
    field.span = Span::new(field.span.start + by, field.span.end + by);
    for child in &mut field.children {
        shift(child, by);
    }
}

/// Layer 5: the TCP connection's and the WebSocket session's state after this frame.
fn session_layer(context: &FrameContext) -> Option<Layer> {
    let tcp = context.tcp.as_ref()?;
    let here = Span::at(0, 0);
    let mut fields = vec![field(
        keys::tcp::STATE,
        "TCP connection",
        FieldValue::Text(tcp.state.to_string()),
        tcp.state.to_string(),
        here,
        "Each side's TCP state (RFC 793) as an observer between them sees it.",
    )];
    let mut did: Vec<String> = tcp.transitions.clone();
    if let Some(websocket) = &context.websocket {
        fields.push(field(
            keys::websocket::STATE,
            "WebSocket connection",
            FieldValue::Text(websocket.state.clone()),
            websocket.state.clone(),
            here,
            "The WebSocket connection's state (RFC 6455): CONNECTING, OPEN, CLOSING, CLOSED.",
        ));
        did.extend(websocket.changes.iter().cloned());
    }
    let summary = match &context.websocket {
        Some(websocket) => format!("TCP: {}; WebSocket: {}", tcp.state, websocket.state),
        None => format!("TCP: {}", tcp.state),
    };
    Some(Layer {
        protocol: Protocol::Session,
        source: 0,
        span: here,
        payload: None,
        summary,
        did: if did.is_empty() {
            "Nothing changed: the connection stays as it was. (OSI layer 5 has no header in TCP/IP; this is the state the endpoints keep.)".to_string()
        } else {
            did.join(" ")
        },
        fields,
    })
}

/// The `CONNECT` tunnel a frame's TCP payload travels in, as an HTTP layer over that payload
/// (as Wireshark files it: the proxy's target host and port, nothing read from these bytes);
/// the protocols inside the tunnel come above it.
fn tunnel_layer(tunnel: &TunnelContext, layers: &[Layer]) -> Option<Layer> {
    let tcp = layers
        .iter()
        .rev()
        .find(|layer| layer.protocol == Protocol::Tcp)?;
    let payload = tcp.payload?;
    let here = Span::at(payload.start, 0);
    let target = crate::view::sanitize::sanitize(&tunnel.target);
    let mut fields = Vec::new();
    if let Some((host, port)) = &tunnel.host_port {
        let host = crate::view::sanitize::sanitize(host);
        fields.push(field(
            keys::http::PROXY_CONNECT_HOST,
            "Proxy-Connect-Hostname",
            FieldValue::Text(host.clone()),
            host,
            here,
            "The host the proxy opened this tunnel to, from the client's CONNECT request.",
        ));
        fields.push(uint(
            keys::http::PROXY_CONNECT_PORT,
            "Proxy-Connect-Port",
            u64::from(*port),
            here,
            "The port the proxy opened this tunnel to, from the client's CONNECT request.",
        ));
    }
    Some(Layer {
        protocol: Protocol::Http,
        source: tcp.source,
        span: payload,
        payload: Some(payload),
        summary: format!("Hypertext Transfer Protocol: CONNECT tunnel to {target}"),
        did: format!(
            "Carried these bytes through the tunnel that the proxy {} opened after `CONNECT {target}`: the proxy copies them unchanged to and from {target}, so what is inside is the client's own conversation with that server, decoded above.",
            tunnel.proxy
        ),
        fields,
    })
}

/// The application layers of PDUs that ended in this frame.
fn app_layers(
    pdus: &[AppPdu],
    layers: &mut Vec<Layer>,
    sources: &mut Vec<DataSource>,
    problems: &mut Vec<Problem>,
) {
    for pdu in pdus {
        let place = match &pdu.bytes {
            PduBytes::InFrame { frame_offset } => application::Place {
                source: 0,
                base: *frame_offset,
                start: pdu.range.start,
            },
            PduBytes::Reassembled { bytes, frames } => {
                sources.push(DataSource {
                    name: format!("Reassembled TCP ({} bytes)", bytes.len()),
                    bytes: bytes.clone(),
                    frames: frames.clone(),
                });
                application::Place {
                    source: sources.len() - 1,
                    base: 0,
                    start: pdu.range.start,
                }
            }
            // Without bytes, spans collapse to nothing (an empty source).
            PduBytes::Unavailable => {
                sources.push(DataSource {
                    name: "Reassembled TCP (not kept)".to_string(),
                    bytes: Vec::new(),
                    frames: Vec::new(),
                });
                application::Place {
                    source: sources.len() - 1,
                    base: 0,
                    start: u64::MAX,
                }
            }
        };
        let layer = match &pdu.kind {
            AppPduKind::HttpHead(head, report) => {
                application::http(head, &place, report.as_deref())
            }
            AppPduKind::WsFrame(frame, message) => {
                application::websocket(frame, &place, message.as_deref())
            }
            AppPduKind::TlsRecord(record, handshakes) => {
                application::tls(record, handshakes, &place)
            }
            AppPduKind::SseEvent(event) => application::sse(event, &place),
        };
        layers.push(layer);
        if let Some(problem) = pdu_problem(pdu) {
            problems.push(Problem {
                layer: Some(layers.len() - 1),
                ..problem
            });
        }
    }
}

/// The problem an application PDU has whatever its layer shows (placed on
/// no layer): a WebSocket frame recognised from its structure alone.
pub(crate) fn pdu_problem(pdu: &AppPdu) -> Option<Problem> {
    pdu.guessed.then(|| Problem {
        severity: Severity::Note,
        key: keys::websocket::GUESSED,
        message: "the opening handshake was not captured whole: this WebSocket frame was recognised from its structure".to_string(),
        layer: None,
        span: None,
    })
}

/// Bytes that no decoder claimed, shown as data.
fn data_layer(data: &[u8], rest: Span) -> Layer {
    let bytes = data.get(rest.start..rest.end).unwrap_or(&[]);
    Layer {
        protocol: Protocol::Data,
        source: 0,
        span: rest,
        payload: None,
        summary: format!("Data ({} bytes)", bytes.len()),
        did: format!(
            "{} bytes that osiscope does not decode further; shown as raw bytes.",
            bytes.len()
        ),
        fields: vec![
            bytes_field(keys::data::DATA, "Data", bytes, rest, "The raw bytes."),
            uint(
                keys::data::LEN,
                "Length",
                bytes.len() as u64,
                Span::at(rest.start, 0),
                "How many bytes there are.",
            ),
        ],
    }
}

// Small constructors shared by the per-protocol builders.

/// A field with every part given.
pub(crate) fn field(
    key: &'static str,
    label: &'static str,
    value: FieldValue,
    display: String,
    span: Span,
    explain: &'static str,
) -> Field {
    Field {
        key,
        label,
        value,
        display,
        span,
        mask: None,
        explain,
        children: Vec::new(),
    }
}

/// An unsigned number shown in decimal.
pub(crate) fn uint(
    key: &'static str,
    label: &'static str,
    value: u64,
    span: Span,
    explain: &'static str,
) -> Field {
    field(
        key,
        label,
        FieldValue::UInt(value),
        value.to_string(),
        span,
        explain,
    )
}

/// A bit field: `raw` is the whole big-endian value of the span's bytes, and
/// the field's value is the bits under `mask`, shifted down.
pub(crate) fn bits(
    key: &'static str,
    label: &'static str,
    raw: u64,
    mask: u64,
    span: Span,
    explain: &'static str,
) -> Field {
    let value = (raw & mask) >> mask.trailing_zeros();
    let display = if mask.count_ones() == 1 {
        if value == 1 { "Set" } else { "Not set" }.to_string()
    } else {
        value.to_string()
    };
    let value = if mask.count_ones() == 1 {
        FieldValue::Bool(value == 1)
    } else {
        FieldValue::UInt(value)
    };
    Field {
        mask: Some(mask),
        ..field(key, label, value, display, span, explain)
    }
}

/// Raw bytes shown in hex.
pub(crate) fn bytes_field(
    key: &'static str,
    label: &'static str,
    bytes: &[u8],
    span: Span,
    explain: &'static str,
) -> Field {
    field(
        key,
        label,
        FieldValue::Bytes(bytes.to_vec()),
        short_hex(bytes),
        span,
        explain,
    )
}

/// A MAC address field.
pub(crate) fn mac_field(
    key: &'static str,
    label: &'static str,
    mac: [u8; 6],
    span: Span,
    explain: &'static str,
) -> Field {
    field(
        key,
        label,
        FieldValue::Mac(mac),
        format_mac(mac),
        span,
        explain,
    )
}

/// Adds children to a field.
pub(crate) fn with(mut parent: Field, children: Vec<Field>) -> Field {
    parent.children = children;
    parent
}

/// A MAC address as six colon-separated hex pairs.
pub fn format_mac(mac: [u8; 6]) -> String {
    let [a, b, c, d, e, f] = mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

/// Hex for displays, shortened after 32 bytes.
pub(crate) fn short_hex(bytes: &[u8]) -> String {
    const MAX: usize = 32;
    match bytes.get(..MAX) {
        Some(head) if bytes.len() > MAX => {
            format!("{}… ({} bytes)", hex::encode(head), bytes.len())
        }
        _ => crate::dissect::hex_string(bytes),
    }
}

/// A span of a field range shifted to a header's offset.
pub(crate) fn span_at(offset: usize, range: std::ops::Range<usize>) -> Span {
    Span::new(offset + range.start, offset + range.end)
}
