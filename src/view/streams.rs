//! `osiscope streams`: one row per TCP conversation, as a table or JSON.

use std::io::{self, Write};

use serde::Serialize;

use crate::dissect::StreamSummary;
use crate::view::sanitize::{json_safe, sanitize};

#[derive(Serialize)]
struct StreamJson<'a> {
    stream: u32,
    client: String,
    server: String,
    roles_guessed: bool,
    final_state: &'a str,
    packets_c2s: u64,
    packets_s2c: u64,
    bytes_c2s: u64,
    bytes_s2c: u64,
    duration: f64,
    handshake_seen: bool,
    completeness: u8,
    completeness_text: &'a str,
    initial_rtt: Option<f64>,
    protocol: &'a str,
    websocket_state: Option<&'a str>,
    analysis: serde_json::Map<String, serde_json::Value>,
    /// The `CONNECT` target of a proxy's tunnel on this connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    tunnel: Option<&'a str>,
}

/// Writes one conversation as one line of JSON.
pub fn write_json(out: &mut impl Write, summary: &StreamSummary) -> io::Result<()> {
    let [packets_c2s, packets_s2c] = summary.packets;
    let [bytes_c2s, bytes_s2c] = summary.bytes;
    let json = StreamJson {
        stream: summary.stream,
        client: summary.client.to_string(),
        server: summary.server.to_string(),
        roles_guessed: summary.roles_guessed,
        final_state: &summary.final_state,
        packets_c2s,
        packets_s2c,
        bytes_c2s,
        bytes_s2c,
        duration: summary.duration_secs(),
        handshake_seen: summary.handshake_seen,
        completeness: summary.completeness,
        completeness_text: &summary.completeness_text,
        initial_rtt: summary.initial_rtt_secs,
        protocol: summary.protocol,
        websocket_state: summary.websocket_state.as_deref(),
        analysis: summary
            .flags
            .iter()
            .map(|(key, count)| ((*key).to_string(), serde_json::Value::from(*count)))
            .collect(),
        tunnel: summary.tunnel.as_deref(),
    };
    // The tunnel target comes from the wire: the line is made terminal-safe.
    let line = serde_json::to_string(&json).map_err(io::Error::other)?;
    out.write_all(json_safe(&line).as_bytes())?;
    out.write_all(b"\n")
}

/// The table heading.
pub fn write_heading(out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "{:>6}  {:<44} {:<9} {:>13} {:>17} {:>9}  {:<9} final state · analysis",
        "stream",
        "client → server",
        "protocol",
        "packets c→s/s→c",
        "bytes c→s/s→c",
        "duration",
        "handshake"
    )
}

/// Writes one conversation as a table row.
pub fn write_row(out: &mut impl Write, summary: &StreamSummary) -> io::Result<()> {
    let endpoints = format!(
        "{} → {}{}",
        summary.client,
        summary.server,
        if summary.roles_guessed {
            " (guessed)"
        } else {
            ""
        }
    );
    let flags: Vec<String> = summary
        .flags
        .iter()
        .map(|(key, count)| format!("{}×{count}", key.trim_start_matches("tcp.analysis.")))
        .collect();
    let mut analysis = if flags.is_empty() {
        String::new()
    } else {
        format!(" · {}", flags.join(" "))
    };
    if let Some(state) = &summary.websocket_state {
        analysis = format!(" · WebSocket {state}{analysis}");
    }
    if let Some(target) = &summary.tunnel {
        analysis = format!(" · CONNECT tunnel to {}{analysis}", sanitize(target));
    }
    writeln!(
        out,
        "{:>6}  {:<44} {:<9} {:>13} {:>17} {:>8.3}s  {:<9} {}{analysis}",
        summary.stream,
        endpoints,
        summary.protocol,
        format!("{}/{}", summary.packets[0], summary.packets[1]),
        format!("{}/{}", summary.bytes[0], summary.bytes[1]),
        summary.duration_secs(),
        if summary.handshake_seen { "yes" } else { "no" },
        summary.final_state
    )
}
