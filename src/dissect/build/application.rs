//! Layer 7 fields: HTTP heads (with the WebSocket handshake check) and
//! WebSocket frames, placed on the frame where the PDU ended.
//!
//! These PDUs live in the TCP byte stream. When one came whole from the
//! current frame its fields point into the frame (source 0); when it was
//! put together from several segments they point into a reassembled data
//! source holding its stream bytes.

use std::ops::Range;

use crate::application::handshake::{Report, Verdict};
use crate::application::http::{Head, SseEvent, StartLine};
use crate::application::tls::{HandshakeBody, HandshakeMessage, Record};
use crate::application::websocket::frame::field as ws_field;
use crate::application::websocket::message::{Frame, Message};
use crate::application::websocket::opcode::{Control, Data, OpCode};
use crate::dissect::build::{bits, bytes_field, field, uint, with};
use crate::dissect::{keys, Field, FieldValue, Layer, Protocol, Span};
use crate::view::sanitize::{sanitize, shorten};

/// Where a PDU's stream bytes lie in the dissection's data sources.
#[derive(Clone, Copy, Debug)]
pub struct Place {
    /// The data source holding the bytes.
    pub source: usize,
    /// The offset in that source of stream offset `start`.
    pub base: usize,
    pub start: u64,
}

impl Place {
    /// The span in the source of a stream range.
    fn span(&self, range: Range<u64>) -> Span {
        let at = |offset: u64| {
            let delta = usize::try_from(offset.saturating_sub(self.start)).unwrap_or(usize::MAX);
            self.base.saturating_add(delta)
        };
        Span::new(at(range.start), at(range.end))
    }
}

fn text(
    key: &'static str,
    label: &'static str,
    value: &str,
    span: Span,
    explain: &'static str,
) -> Field {
    let shown = sanitize(value);
    field(
        key,
        label,
        FieldValue::Text(shown.clone()),
        shown,
        span,
        explain,
    )
}

/// The key and explanation of a header Wireshark has a field for.
fn header_key(name: &str) -> (&'static str, &'static str) {
    match name.to_ascii_lowercase().as_str() {
        "host" => (
            keys::http::HOST,
            "The server name the client wants (one address may serve many sites).",
        ),
        "upgrade" => (
            keys::http::UPGRADE,
            "Asks to switch this connection to another protocol, here WebSocket.",
        ),
        "connection" => (
            keys::http::CONNECTION,
            "Options for this connection only; `Upgrade` must be listed for an upgrade.",
        ),
        "content-length" => (
            keys::http::CONTENT_LENGTH,
            "How many body bytes follow the head.",
        ),
        "content-type" => (
            keys::http::CONTENT_TYPE,
            "What kind of data the body holds.",
        ),
        "sec-websocket-key" => (
            keys::http::WS_KEY,
            "16 random bytes in base64; the server proves it speaks WebSocket by transforming it.",
        ),
        "sec-websocket-accept" => (
            keys::http::WS_ACCEPT,
            "base64(SHA-1(key + fixed GUID)): proof that the server understood the handshake.",
        ),
        "sec-websocket-version" => (
            keys::http::WS_VERSION,
            "The WebSocket protocol version; 13 is RFC 6455.",
        ),
        "sec-websocket-extensions" => (
            keys::http::WS_EXTENSIONS,
            "Extensions offered or accepted, such as permessage-deflate compression.",
        ),
        "sec-websocket-protocol" => (
            keys::http::WS_PROTOCOL,
            "Application subprotocols offered or chosen.",
        ),
        _ => (
            keys::http::HEADER,
            "A header line: a name, a colon and a value.",
        ),
    }
}

/// An HTTP request or response head, with the handshake check on a response.
pub(crate) fn http(head: &Head, place: &Place, handshake: Option<&Report>) -> Layer {
    let span = place.span(head.span.start()..head.span.end());
    let line_span = place.span(head.start_line_span.start()..head.start_line_span.end());
    let mut fields = Vec::new();
    let (summary, did) = match &head.start_line {
        StartLine::Request {
            method,
            target,
            version,
        } => {
            let line = format!("{method} {target} HTTP/{}.{}", version.major, version.minor);
            fields.push(with(
                text(
                    keys::http::REQUEST_LINE,
                    "Request line",
                    &line,
                    line_span,
                    "The method, the resource asked for, and the HTTP version.",
                ),
                vec![
                    text(
                        keys::http::REQUEST_METHOD,
                        "Method",
                        method,
                        line_span,
                        "What the client wants done: GET fetches a resource.",
                    ),
                    text(
                        keys::http::REQUEST_URI,
                        "Request URI",
                        target,
                        line_span,
                        "Which resource on the server.",
                    ),
                    text(
                        keys::http::REQUEST_VERSION,
                        "Version",
                        &format!("HTTP/{}.{}", version.major, version.minor),
                        line_span,
                        "The HTTP version; the WebSocket handshake needs 1.1 or later.",
                    ),
                ],
            ));
            let upgrade = head.has_token("upgrade", "websocket");
            let connect = method.eq_ignore_ascii_case("CONNECT");
            (
                format!("{} {}", sanitize(method), shorten(target.as_bytes(), 60)),
                if upgrade {
                    "Asked the server to switch this TCP connection from HTTP to WebSocket (the opening handshake).".to_string()
                } else if connect {
                    format!(
                        "Asked the proxy to open a tunnel to {}: once it answers 2xx, it relays every later byte of this connection, both ways, unchanged.",
                        shorten(target.as_bytes(), 60)
                    )
                } else {
                    format!(
                        "Sent an HTTP request: {} {}.",
                        sanitize(method),
                        shorten(target.as_bytes(), 60)
                    )
                },
            )
        }
        StartLine::Response {
            version,
            status,
            reason,
        } => {
            let line = format!("HTTP/{}.{} {status} {reason}", version.major, version.minor);
            fields.push(with(
                text(
                    keys::http::RESPONSE_LINE,
                    "Status line",
                    &line,
                    line_span,
                    "The HTTP version, a status code and a reason phrase.",
                ),
                vec![
                    text(
                        keys::http::RESPONSE_VERSION,
                        "Version",
                        &format!("HTTP/{}.{}", version.major, version.minor),
                        line_span,
                        "The HTTP version of the response.",
                    ),
                    uint(
                        keys::http::RESPONSE_CODE,
                        "Status code",
                        u64::from(*status),
                        line_span,
                        "101 switches protocols; 2xx is success; 4xx is the client's mistake.",
                    ),
                    text(
                        keys::http::RESPONSE_PHRASE,
                        "Reason phrase",
                        reason,
                        line_span,
                        "Words for people; programs read the code.",
                    ),
                ],
            ));
            let connect = head
                .request_method
                .as_deref()
                .is_some_and(|method| method.eq_ignore_ascii_case("CONNECT"));
            (
                format!("{status} {}", sanitize(reason)),
                if *status == 101 {
                    "Agreed to switch protocols: from the next byte on, both sides speak WebSocket."
                        .to_string()
                } else if connect && (200..300).contains(status) {
                    "The proxy opened the tunnel: from the next byte on, both directions carry the client's own conversation with the server it asked for, relayed unchanged."
                        .to_string()
                } else if connect && *status >= 200 {
                    format!(
                        "The proxy refused the tunnel with status {status} {}; the connection goes on speaking HTTP with the proxy.",
                        sanitize(reason)
                    )
                } else {
                    format!("Answered with status {status} {}.", sanitize(reason))
                },
            )
        }
    };
    for header in &head.headers {
        let (key, explain) = header_key(&header.name);
        let value = String::from_utf8_lossy(&header.value);
        let shown = format!("{}: {}", sanitize(&header.name), sanitize(&value));
        let value_field = FieldValue::Text(sanitize(&value));
        fields.push(field(
            key,
            "Header",
            value_field,
            shown,
            place.span(header.line.start()..header.line.end()),
            explain,
        ));
    }
    if let Some(report) = handshake {
        fields.push(handshake_field(report, span));
    }
    Layer {
        protocol: Protocol::Http,
        source: place.source,
        span,
        payload: None,
        summary: format!("Hypertext Transfer Protocol: {summary}"),
        did,
        fields,
    }
}

/// The handshake check: the Accept computation step by step, and each rule.
fn handshake_field(report: &Report, span: Span) -> Field {
    let mut children = Vec::new();
    if let Some(steps) = &report.accept {
        children.push(text(
            keys::handshake::KEY,
            "1. Key sent by the client",
            &steps.key,
            span,
            "Sec-WebSocket-Key from the request.",
        ));
        children.push(text(
            keys::handshake::CONCATENATED,
            "2. Key + GUID",
            &steps.concatenated,
            span,
            "The key followed by the fixed GUID 258EAFA5-E914-47DA-95CA-C5AB0DC85B11.",
        ));
        children.push(text(
            keys::handshake::SHA1,
            "3. SHA-1 (hex)",
            &steps.sha1_hex,
            span,
            "The SHA-1 digest of that string.",
        ));
        children.push(text(
            keys::handshake::EXPECTED_ACCEPT,
            "4. base64 of the digest",
            &steps.accept_base64,
            span,
            "What Sec-WebSocket-Accept must be.",
        ));
        if let Some(received) = &report.received_accept {
            let matched = received == &steps.accept_base64;
            children.push(field(
                keys::handshake::ACCEPT_MATCH,
                "Accept matches",
                FieldValue::Bool(matched),
                if matched {
                    "yes".to_string()
                } else {
                    format!("no: the server sent {}", sanitize(received))
                },
                span,
                "Whether the server's Sec-WebSocket-Accept equals the expected value.",
            ));
        }
    }
    for check in &report.checks {
        children.push(field(
            keys::handshake::RULE,
            check.name,
            FieldValue::Bool(check.passed),
            format!(
                "{} (RFC 6455 §{}): {}",
                if check.passed { "ok" } else { "FAILED" },
                check.section,
                sanitize(&check.explanation)
            ),
            span,
            "One rule of the opening handshake.",
        ));
    }
    let verdict = match &report.verdict {
        Verdict::Accepted => "accepted".to_string(),
        Verdict::Refused { status } => format!("refused ({status})"),
        Verdict::Failed => "failed".to_string(),
        Verdict::AwaitingResponse => "awaiting the response".to_string(),
    };
    with(
        field(
            keys::handshake::CHECK,
            "WebSocket handshake check",
            FieldValue::Text(verdict.clone()),
            format!("{verdict}: {}", sanitize(&report.summary)),
            span,
            "The opening handshake checked against RFC 6455 §4.",
        ),
        children,
    )
}

/// One WebSocket frame, with the message it ends, if any.
pub(crate) fn websocket(frame: &Frame, place: &Place, message: Option<&Message>) -> Layer {
    let header = &frame.header;
    let layout = header.layout();
    let at = |range: Range<usize>| place.span(frame.stream_range_of(range));
    let byte0 = header.encode().first().copied().map_or(0, u64::from);
    let byte1 = header.encode().get(1).copied().map_or(0, u64::from);
    let b0 = at(layout.flags_opcode.clone());
    let b1 = at(layout.mask_len.clone());
    let opcode_name = header.opcode.name();
    let mut fields = vec![
        bits(keys::websocket::FIN, "Fin", byte0, u64::from(ws_field::FIN), b0, "Set on the last frame of a message."),
        Field {
            display: format!("{}", (byte0 >> 4) & 0x7),
            ..bits(keys::websocket::RSV, "Reserved", byte0, u64::from(ws_field::RSV), b0, "Three bits for extensions; RSV1 marks a compressed message under permessage-deflate.")
        },
        field(
            keys::websocket::OPCODE,
            "Opcode",
            FieldValue::UInt(u64::from(header.opcode.value())),
            format!("{} ({})", header.opcode, header.opcode.value()),
            b0,
            "What the frame carries: 1 text, 2 binary, 0 continuation, 8 close, 9 ping, 10 pong.",
        ),
        bits(keys::websocket::MASK, "Mask", byte1, u64::from(ws_field::MASK), b1, "Set when the payload is masked: every frame from a client must be."),
        Field {
            mask: Some(u64::from(ws_field::LEN7)),
            ..uint(keys::websocket::PAYLOAD_LENGTH, "Payload length", byte1 & u64::from(ws_field::LEN7), b1, "0-125 is the length; 126 means a 16-bit length follows, 127 a 64-bit one.")
        },
    ];
    if let Some(range) = layout.extended_len.clone() {
        let key = if range.len() == 2 {
            keys::websocket::PAYLOAD_LENGTH_16
        } else {
            keys::websocket::PAYLOAD_LENGTH_64
        };
        fields.push(uint(
            key,
            "Extended payload length",
            header.payload_len,
            at(range),
            "The real payload length, for payloads over 125 bytes.",
        ));
    }
    if let (Some(range), Some(key)) = (layout.masking_key.clone(), header.mask) {
        fields.push(bytes_field(
            keys::websocket::MASKING_KEY,
            "Masking key",
            &key,
            at(range),
            "Four random bytes; payload byte i is XORed with key[i mod 4].",
        ));
    }
    let payload_span = place.span(frame.payload_range.clone());
    if header.mask.is_some() {
        fields.push(bytes_field(
            keys::websocket::MASKED_PAYLOAD,
            "Masked payload",
            &frame.masked_payload(),
            payload_span,
            "The payload as it travelled: masked.",
        ));
    }
    let unmasked = &frame.payload;
    let mut payload_children = Vec::new();
    match header.opcode {
        OpCode::Control(Control::Close) => {
            if let Some(close) = message.and_then(|m| m.close.as_ref()) {
                if let Some(code) = close.code {
                    let meaning = code.name().unwrap_or("unassigned");
                    payload_children.push(field(
                        keys::websocket::CLOSE_CODE,
                        "Status code",
                        FieldValue::UInt(u64::from(code.0)),
                        format!("{} ({meaning})", code.0),
                        payload_span,
                        "Why the connection closes: 1000 is a normal closure.",
                    ));
                    payload_children.push(text(
                        keys::websocket::CLOSE_REASON,
                        "Reason",
                        &close.reason_lossy(),
                        payload_span,
                        "Words for people about why.",
                    ));
                }
            }
        }
        _ if !header.rsv1
            && (message.is_some_and(|m| is_text(m.opcode)) || is_text(header.opcode)) =>
        {
            payload_children.push(text(
                keys::websocket::TEXT,
                "Text",
                &shorten(unmasked, 200),
                payload_span,
                "The unmasked payload read as UTF-8 text.",
            ));
        }
        _ => {}
    }
    fields.push(with(
        bytes_field(
            keys::websocket::PAYLOAD,
            if header.mask.is_some() {
                "Payload (unmasked)"
            } else {
                "Payload"
            },
            unmasked,
            payload_span,
            "The application's bytes: unmasked, as the receiver sees them.",
        ),
        payload_children,
    ));
    if let Some(message) = message.filter(|m| m.n_frames > 1 || m.compressed) {
        let content = if is_text(message.opcode) {
            format!("\"{}\"", shorten(&message.payload, 80))
        } else {
            format!("{} bytes", message.len)
        };
        fields.push(with(
            field(
                keys::websocket::MESSAGE,
                "Message",
                FieldValue::None,
                format!("{} {content}", message.opcode.name()),
                payload_span,
                "The whole message this frame completes: fragments joined, inflated if compressed.",
            ),
            vec![
                uint(
                    keys::websocket::MESSAGE_LENGTH,
                    "Message length",
                    message.len,
                    payload_span,
                    "Bytes of the whole message, after joining and inflating.",
                ),
                uint(
                    keys::websocket::MESSAGE_FRAMES,
                    "Frames",
                    message.n_frames,
                    payload_span,
                    "How many WebSocket frames carried it.",
                ),
            ],
        ));
    }
    Layer {
        protocol: Protocol::WebSocket,
        source: place.source,
        span: at(0..layout.header_len),
        payload: Some(payload_span),
        summary: websocket_summary(frame, message),
        did: format!(
            "Framed {} payload bytes as one {opcode_name} frame{}{}.",
            header.payload_len,
            if header.fin {
                ""
            } else {
                " of a longer message"
            },
            if header.mask.is_some() {
                ", masked with a random key as every client frame must be"
            } else {
                ""
            },
        ),
        fields,
    }
}

/// A WebSocket frame's layer in one line (`WebSocket Text, masked, 5 bytes "hello"`): the
/// layer's summary, and the packet list's Info, which needs nothing else of the layer.
pub(crate) fn websocket_summary(frame: &Frame, message: Option<&Message>) -> String {
    let header = &frame.header;
    let unmasked = &frame.payload;
    let masked = if header.mask.is_some() {
        ", masked"
    } else {
        ""
    };
    let content = match header.opcode {
        OpCode::Control(Control::Close) => message
            .and_then(|m| m.close.as_ref())
            .and_then(|close| close.code)
            .map_or_else(String::new, |code| format!(" {}", code.0)),
        _ if unmasked.is_empty() => String::new(),
        _ if !header.rsv1 && std::str::from_utf8(unmasked).is_ok() => {
            format!(" \"{}\"", shorten(unmasked, 40))
        }
        _ => {
            let shown = unmasked.get(..8).unwrap_or(unmasked);
            let more = if shown.len() < unmasked.len() {
                "…"
            } else {
                ""
            };
            format!(" 0x{}{more}", hex::encode(shown))
        }
    };
    format!(
        "WebSocket {}{}{masked}, {} bytes{content}",
        header.opcode.name(),
        if header.fin { "" } else { " (not final)" },
        header.payload_len
    )
}

fn is_text(opcode: OpCode) -> bool {
    opcode == OpCode::Data(Data::Text)
}

/// One TLS record: its header, and what the handshake messages ending in it say.
pub(crate) fn tls(record: &Record, handshakes: &[HandshakeMessage], place: &Place) -> Layer {
    let header = place.span(record.header.start()..record.header.end());
    let fragment = place.span(record.fragment.start()..record.fragment.end());
    let mut fields = vec![
        field(
            keys::tls::CONTENT_TYPE,
            "Content type",
            FieldValue::UInt(u64::from(record.content_type.0)),
            record.content_type.to_string(),
            Span::at(header.start, 1),
            "What the record carries: 22 handshake, 23 application data, 21 alert.",
        ),
        field(
            keys::tls::VERSION,
            "Version",
            FieldValue::UInt(u64::from(record.version.0)),
            record.version.to_string(),
            Span::at(header.start + 1, 2),
            "A legacy version number; TLS 1.3 still writes TLS 1.2 here.",
        ),
        uint(
            keys::tls::LENGTH,
            "Length",
            u64::from(record.length),
            Span::at(header.start + 3, 2),
            "Bytes of the record's fragment.",
        ),
    ];
    let mut said = Vec::new();
    if record.encrypted {
        fields.push(field(
            keys::tls::ENCRYPTED,
            "Encrypted data",
            FieldValue::UInt(u64::from(record.length)),
            format!("{} bytes, unreadable without the keys", record.length),
            fragment,
            "Everything the application sent is in here, encrypted: only the length shows.",
        ));
        said.push(format!(
            "carried {} encrypted bytes: only the size is visible",
            record.length
        ));
    }
    for message in handshakes {
        let name = message
            .msg_type
            .name()
            .unwrap_or("Unknown handshake message");
        let mut children = Vec::new();
        match &message.body {
            HandshakeBody::ClientHello(hello) => {
                if let Some(sni) = &hello.server_name {
                    children.push(text(keys::tls::SNI, "Server name (SNI)", sni, fragment, "The host name the client wants, sent in clear text before encryption starts."));
                    said.push(format!(
                        "the client asked for {} (SNI, visible to anyone on the path)",
                        sanitize(sni)
                    ));
                }
                if !hello.alpn.is_empty() {
                    children.push(text(
                        keys::tls::ALPN,
                        "ALPN",
                        &hello.alpn.join(", "),
                        fragment,
                        "The application protocols offered, such as http/1.1.",
                    ));
                }
                children.push(uint(
                    keys::tls::CIPHER_SUITES,
                    "Cipher suites offered",
                    hello.cipher_suites.len() as u64,
                    fragment,
                    "How many encryption choices the client offers.",
                ));
            }
            HandshakeBody::ServerHello(hello) => {
                if let Some(version) = hello.selected_version {
                    children.push(field(keys::tls::SELECTED_VERSION, "Selected version", FieldValue::UInt(u64::from(version.0)), version.to_string(), fragment, "The TLS version the server chose; after this, almost everything is encrypted."));
                }
                if let Some(alpn) = &hello.alpn {
                    children.push(text(
                        keys::tls::ALPN,
                        "ALPN",
                        alpn,
                        fragment,
                        "The application protocol the server chose.",
                    ));
                }
            }
            HandshakeBody::Other | HandshakeBody::NotKept => {}
        }
        said.push(name.to_lowercase());
        fields.push(with(
            field(
                keys::tls::HANDSHAKE_TYPE,
                "Handshake message",
                FieldValue::UInt(u64::from(message.msg_type.0)),
                format!("{name} ({})", message.msg_type.0),
                fragment,
                "One message of the TLS handshake.",
            ),
            children,
        ));
    }
    Layer {
        protocol: Protocol::Tls,
        source: place.source,
        span: header,
        payload: Some(fragment),
        summary: format!(
            "TLS record: {}, {} bytes",
            record.content_type, record.length
        ),
        did: if said.is_empty() {
            format!(
                "Wrapped {} bytes in a TLS record of type {}.",
                record.length, record.content_type
            )
        } else {
            format!("In this TLS record: {}.", said.join("; "))
        },
        fields,
    }
}

/// One Server-Sent Events event: what the server pushed down the open response.
pub(crate) fn sse(event: &SseEvent, place: &Place) -> Layer {
    let span = place.span(event.span.start()..event.span.end());
    let kind = if event.event_type.is_empty() {
        "message"
    } else {
        event.event_type.as_str()
    };
    let mut fields = vec![
        text(
            keys::http::SSE_EVENT,
            "Event type",
            kind,
            span,
            "The event's name; `message` when the server named none.",
        ),
        text(
            keys::http::SSE_DATA,
            "Data",
            &event.data,
            span,
            "The data lines joined: what the page's EventSource receives.",
        ),
    ];
    if !event.last_event_id.is_empty() {
        fields.push(text(
            keys::http::SSE_ID,
            "Last event ID",
            &event.last_event_id,
            span,
            "Sent back by the browser after a reconnect, so the server can resume.",
        ));
    }
    Layer {
        protocol: Protocol::Http,
        source: place.source,
        span,
        payload: None,
        summary: format!("Server-Sent Event: {}", shorten(event.data.as_bytes(), 60)),
        did: "Pushed one event down a long-lived HTTP response (text/event-stream): the server talks, the client only listens.".to_string(),
        fields,
    }
}
