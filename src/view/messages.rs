//! `osiscope messages`: one line per WebSocket message, as text or JSON.
//!
//! The JSON form has exactly the keys scripts rely on: `stream`, `client`,
//! `server`, `dir`, `opcode`, `length`, `sha256`, `frames`, `compressed`,
//! `close_code`, `close_reason`, `complete`, `problems` (and `payload_b64`
//! with `--payload`, and `tunnel`, the `CONNECT` target, for a message that
//! travelled inside a proxy's tunnel; then `server` is the proxy). The SHA-256
//! is of the application payload (unmasked, joined, inflated); it is null when
//! that payload was not seen whole.

use std::io::{self, Write};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::dissect::message::Endpoint;
use crate::dissect::WsMessage;
use crate::view::sanitize::{json_safe, sanitize, shorten};
use crate::view::time::utc_string;

/// The SHA-256 of a message's payload, when the whole payload is known
/// (what the JSON line's `sha256` says).
pub fn payload_sha256(message: &WsMessage) -> Option<[u8; 32]> {
    let whole = message.payload_complete && message.payload.len() as u64 == message.len;
    whole.then(|| Sha256::digest(&message.payload).into())
}

/// Writes messages one line each, as text or JSON, reusing one line's
/// buffer for the next (the JSON is written field by field: a message is
/// a few hundred bytes and there are millions in a large capture).
#[derive(Debug, Default)]
pub struct MessageLines {
    json: bool,
    payload: bool,
    line: String,
    /// Endpoints as text: a connection's two come back with each of its
    /// messages, and formatting an address is most of a line's work.
    endpoints: Endpoints,
}

/// Connections' endpoints as text, in a fixed number of places: stream `n`
/// takes place `n % PLACES`, and is formatted anew when another connection
/// held it. Captures rarely hold a thousand connections open at once, so
/// nearly every line finds its endpoints here.
#[derive(Debug, Default)]
struct Endpoints(Vec<Option<Texts>>);

#[derive(Debug)]
struct Texts {
    stream: u32,
    client: Endpoint,
    server: Endpoint,
    client_text: Box<str>,
    server_text: Box<str>,
}

impl Endpoints {
    const PLACES: usize = 1024;

    /// The message's client and server as text.
    fn of(&mut self, message: &WsMessage) -> (&str, &str) {
        if self.0.is_empty() {
            self.0.resize_with(Endpoints::PLACES, || None);
        }
        let at = usize::try_from(message.stream).unwrap_or_default() % Endpoints::PLACES;
        let Some(place) = self.0.get_mut(at) else {
            return ("", "");
        };
        let held = place.as_ref().is_some_and(|texts| {
            texts.stream == message.stream
                && texts.client == message.client
                && texts.server == message.server
        });
        if !held {
            *place = Some(Texts {
                stream: message.stream,
                client: message.client,
                server: message.server,
                client_text: message.client.to_string().into_boxed_str(),
                server_text: message.server.to_string().into_boxed_str(),
            });
        }
        place
            .as_ref()
            .map_or(("", ""), |texts| (&*texts.client_text, &*texts.server_text))
    }
}

impl MessageLines {
    /// JSON lines (with `payload_b64` when `payload`), or text lines.
    pub fn new(json: bool, payload: bool) -> MessageLines {
        MessageLines {
            json,
            payload,
            line: String::new(),
            endpoints: Endpoints::default(),
        }
    }

    /// Writes one message as one line.
    pub fn write(&mut self, out: &mut impl Write, message: &WsMessage) -> io::Result<()> {
        if !self.json {
            return write_text(out, message);
        }
        self.write_hashed(out, message, payload_sha256(message))
    }

    /// Writes one message as one line, with the SHA-256 of its payload
    /// given ([`payload_sha256`], taken where the message was decoded: the
    /// payload itself may have been let go since, unless `--payload` or the
    /// text lines want it).
    pub fn write_hashed(
        &mut self,
        out: &mut impl Write,
        message: &WsMessage,
        sha256: Option<[u8; 32]>,
    ) -> io::Result<()> {
        if !self.json {
            return write_text(out, message);
        }
        self.line.clear();
        json_line(
            &mut self.line,
            &mut self.endpoints,
            message,
            sha256,
            self.payload,
        )
        .map_err(io::Error::other)?;
        out.write_all(json_safe(&self.line).as_bytes())?;
        out.write_all(b"\n")
    }
}

/// One message's JSON object, as `serde_json` writes it compactly, with the
/// keys in the order the module's documentation gives.
fn json_line(
    line: &mut String,
    endpoints: &mut Endpoints,
    message: &WsMessage,
    sha256: Option<[u8; 32]>,
    payload: bool,
) -> Result<(), JsonError> {
    let mut numbers = itoa::Buffer::new();
    line.push_str("{\"stream\":");
    line.push_str(numbers.format(message.stream));
    // Addresses and ports need no escape.
    let (client, server) = endpoints.of(message);
    line.push_str(",\"client\":\"");
    line.push_str(client);
    line.push_str("\",\"server\":\"");
    line.push_str(server);
    line.push_str("\",\"dir\":\"");
    line.push_str(message.direction.short());
    line.push_str("\",\"opcode\":");
    push_string(line, &message.opcode)?;
    line.push_str(",\"length\":");
    line.push_str(numbers.format(message.len));
    line.push_str(",\"sha256\":");
    match sha256 {
        Some(digest) => {
            let mut hex = [0u8; 64];
            hex::encode_to_slice(digest, &mut hex).map_err(|_| JsonError::Format)?;
            line.push('"');
            line.push_str(std::str::from_utf8(&hex).map_err(|_| JsonError::Format)?);
            line.push('"');
        }
        None => line.push_str("null"),
    }
    line.push_str(",\"frames\":[");
    for (i, frame) in message.frames.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(numbers.format(frame.0));
    }
    line.push_str("],\"compressed\":");
    line.push_str(bool_text(message.compressed));
    line.push_str(",\"close_code\":");
    match message.close_code {
        Some(code) => line.push_str(numbers.format(code)),
        None => line.push_str("null"),
    }
    // The reason as sent: JSON escapes its control characters, and
    // `json_safe` those a terminal would still act on.
    line.push_str(",\"close_reason\":");
    match &message.close_reason {
        Some(reason) => push_string(line, reason)?,
        None => line.push_str("null"),
    }
    line.push_str(",\"complete\":");
    line.push_str(bool_text(message.complete));
    line.push_str(",\"problems\":[");
    let guessed = message.guessed.then_some(
        "the opening handshake was not captured whole: WebSocket was recognised from the frames",
    );
    let mut first = true;
    for problem in message.problems.iter().map(|p| sanitize(p)) {
        if !std::mem::take(&mut first) {
            line.push(',');
        }
        push_string(line, &problem)?;
    }
    if let Some(guessed) = guessed {
        if !first {
            line.push(',');
        }
        push_string(line, guessed)?;
    }
    line.push(']');
    if payload {
        line.push_str(",\"payload_b64\":\"");
        base64::engine::general_purpose::STANDARD.encode_string(&message.payload, line);
        line.push('"');
    }
    // As sent, like the close reason: the line is made terminal-safe after.
    if let Some(tunnel) = &message.tunnel {
        line.push_str(",\"tunnel\":");
        push_string(line, tunnel)?;
    }
    line.push('}');
    Ok(())
}

#[derive(Debug, thiserror::Error)]
enum JsonError {
    #[error("formatting a message as JSON failed")]
    Format,
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// A JSON string as `serde_json` escapes it.
fn push_string(line: &mut String, text: &str) -> Result<(), JsonError> {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        line.push('"');
        line.push_str(text);
        line.push('"');
    } else {
        line.push_str(&serde_json::to_string(text)?);
    }
    Ok(())
}

fn bool_text(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

/// Writes one message as a line of text: time, direction, opcode, length, content.
pub fn write_text(out: &mut impl Write, message: &WsMessage) -> io::Result<()> {
    let time = utc_string(message.ts);
    let clock = time.get(11..26).unwrap_or(&time);
    let content = match (message.opcode.as_ref(), message.close_code) {
        ("close", Some(code)) => format!(
            "{code} {}",
            sanitize(message.close_reason.as_deref().unwrap_or(""))
        ),
        ("text", _) => format!("\"{}\"", shorten(&message.payload, 60)),
        _ => {
            let head: Vec<u8> = message.payload.iter().take(16).copied().collect();
            let more = if message.payload.len() > 16 {
                " …"
            } else {
                ""
            };
            format!("{}{more}", hex::encode(head))
        }
    };
    let tunnel = message
        .tunnel
        .as_deref()
        .map(|target| format!(" [tunnel to {}]", sanitize(target)))
        .unwrap_or_default();
    let flags = format!(
        "{}{}{tunnel}",
        if message.compressed { " [deflate]" } else { "" },
        if message.complete {
            ""
        } else {
            " [incomplete]"
        }
    );
    writeln!(
        out,
        "{clock}  #{:<3} {} {} {}  {:<6} {:>8} B{flags}  {content}",
        message.stream,
        message.client,
        message.direction.arrow(),
        message.server,
        message.opcode,
        message.len
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::message::Direction;
    use crate::dissect::FrameNumber;

    fn message() -> WsMessage {
        WsMessage {
            stream: 7,
            client: Endpoint {
                addr: std::net::IpAddr::from([10, 0, 0, 1]),
                port: 50000,
            },
            server: Endpoint {
                addr: "fd00::2".parse().unwrap_or(std::net::IpAddr::from([0; 16])),
                port: 8080,
            },
            direction: Direction::ServerToClient,
            len: 5,
            payload: b"hello".to_vec(),
            frames: vec![FrameNumber(12), FrameNumber(13)],
            compressed: true,
            ..WsMessage::sample()
        }
    }

    fn line(message: &WsMessage, payload: bool) -> String {
        let mut out = Vec::new();
        let written = MessageLines::new(true, payload).write(&mut out, message);
        assert!(written.is_ok());
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn a_message_is_one_compact_json_line_with_the_documented_keys_in_order() {
        assert_eq!(
            line(&message(), false),
            "{\"stream\":7,\"client\":\"10.0.0.1:50000\",\"server\":\"[fd00::2]:8080\",\
             \"dir\":\"s2c\",\"opcode\":\"text\",\"length\":5,\
             \"sha256\":\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\",\
             \"frames\":[12,13],\"compressed\":true,\"close_code\":null,\"close_reason\":null,\
             \"complete\":true,\"problems\":[]}\n"
        );
        let mut cut = message();
        cut.payload.truncate(2);
        cut.payload_complete = false;
        assert!(line(&cut, true).contains("\"sha256\":null,"));
        assert!(line(&cut, true).ends_with(",\"payload_b64\":\"aGU=\"}\n"));
    }

    #[test]
    fn endpoints_are_formatted_for_the_connection_holding_their_place() {
        let mut endpoints = Endpoints::default();
        let first = message();
        assert_eq!(endpoints.of(&first), ("10.0.0.1:50000", "[fd00::2]:8080"));
        // Another connection in the same place, then one with the same
        // number but other endpoints (numbers from another capture).
        let mut other = message();
        other.stream = first.stream + u32::try_from(Endpoints::PLACES).unwrap_or_default();
        other.client.port = 50001;
        assert_eq!(endpoints.of(&other), ("10.0.0.1:50001", "[fd00::2]:8080"));
        let mut renamed = message();
        renamed.server.port = 9090;
        assert_eq!(endpoints.of(&renamed), ("10.0.0.1:50000", "[fd00::2]:9090"));
        assert_eq!(endpoints.of(&first), ("10.0.0.1:50000", "[fd00::2]:8080"));
        assert_eq!(endpoints.0.len(), Endpoints::PLACES);
    }

    #[test]
    fn strings_from_the_wire_are_escaped_as_json_and_made_safe_for_a_terminal() {
        let mut close = message();
        close.opcode = "close".into();
        close.close_code = Some(1000);
        close.close_reason = Some("bye \"x\" \\ \u{1b}[31m\n\u{7f}\u{202e}é".to_string());
        close.problems = vec!["cut\u{1b}]0;title\u{7}".to_string()];
        close.guessed = true;
        close.tunnel = Some("example.org:443\u{9b}".to_string());
        let text = line(&close, false);
        assert_eq!(text.lines().count(), 1);
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'));
        assert!(!text.contains('\u{202e}'));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(value["close_code"], 1000);
        assert_eq!(
            value["close_reason"], "bye \"x\" \\ \u{1b}[31m\n\u{7f}\u{202e}é",
            "escaped, the reason reads back as sent"
        );
        assert_eq!(value["tunnel"], "example.org:443\u{9b}");
        let problems = value["problems"].as_array().cloned().unwrap_or_default();
        assert_eq!(problems.len(), 2);
        assert!(problems[1]
            .as_str()
            .is_some_and(|p| p.starts_with("the opening handshake was not captured whole")));
        assert!(problems[0].as_str().is_some_and(|p| !p.contains('\u{1b}')));
    }
}
