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
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::dissect::WsMessage;
use crate::view::sanitize::{json_safe, sanitize, shorten};
use crate::view::time::utc_string;

#[derive(Serialize)]
struct MessageJson<'a> {
    stream: u32,
    client: String,
    server: String,
    dir: &'static str,
    opcode: &'a str,
    length: u64,
    sha256: Option<String>,
    frames: Vec<u64>,
    compressed: bool,
    close_code: Option<u16>,
    close_reason: Option<String>,
    complete: bool,
    problems: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_b64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tunnel: Option<String>,
}

/// The SHA-256 of a message's payload, when the whole payload is known.
pub fn payload_sha256(message: &WsMessage) -> Option<String> {
    let whole = message.payload_complete && message.payload.len() as u64 == message.len;
    whole.then(|| crate::dissect::hex_string(&Sha256::digest(&message.payload)))
}

/// Writes one message as one line of JSON.
pub fn write_json(out: &mut impl Write, message: &WsMessage, payload: bool) -> io::Result<()> {
    let mut problems: Vec<String> = message.problems.iter().map(|p| sanitize(p)).collect();
    if message.guessed {
        problems.push("the opening handshake was not captured whole: WebSocket was recognised from the frames".to_string());
    }
    let json = MessageJson {
        stream: message.stream,
        client: message.client.to_string(),
        server: message.server.to_string(),
        dir: message.direction.short(),
        opcode: &message.opcode,
        length: message.len,
        sha256: payload_sha256(message),
        frames: message.frames.iter().map(|frame| frame.0).collect(),
        compressed: message.compressed,
        close_code: message.close_code,
        // The reason as sent: JSON escapes its control characters, and
        // `json_safe` those a terminal would still act on.
        close_reason: message.close_reason.clone(),
        complete: message.complete,
        problems,
        payload_b64: payload
            .then(|| base64::engine::general_purpose::STANDARD.encode(&message.payload)),
        // As sent, like the close reason: the JSON line is made terminal-safe below.
        tunnel: message.tunnel.clone(),
    };
    let line = serde_json::to_string(&json).map_err(io::Error::other)?;
    out.write_all(json_safe(&line).as_bytes())?;
    out.write_all(b"\n")
}

/// Writes one message as a line of text: time, direction, opcode, length, content.
pub fn write_text(out: &mut impl Write, message: &WsMessage) -> io::Result<()> {
    let time = utc_string(message.ts);
    let clock = time.get(11..26).unwrap_or(&time);
    let content = match (message.opcode.as_str(), message.close_code) {
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
