//! TCP conversations as the model summarises them for `osiscope streams`.

use crate::dissect::Timestamp;
use crate::flow::table::Endpoint;

/// One TCP connection, start to end.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamSummary {
    /// Wireshark's `tcp.stream`.
    pub stream: u32,
    pub client: Endpoint,
    pub server: Endpoint,
    /// No SYN was seen: client and server were guessed.
    pub roles_guessed: bool,
    /// Each side's TCP state at the end, such as `client CLOSED, server TIME_WAIT`.
    pub final_state: String,
    /// Packets and payload bytes (on the wire) client to server, then server to client.
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// SYN and SYN-ACK were both seen.
    pub handshake_seen: bool,
    /// Wireshark's `tcp.completeness` bits and their description.
    pub completeness: u8,
    pub completeness_text: String,
    pub initial_rtt_secs: Option<f64>,
    /// `http`, `websocket`, `tls`, `data`, ...
    pub protocol: &'static str,
    /// The WebSocket connection's final state, when it was one.
    pub websocket_state: Option<String>,
    /// The target of the `CONNECT` tunnel a proxy opened on it (from the wire), if any.
    pub tunnel: Option<String>,
    /// Analysis flag counts, by Wireshark key, only those that occurred.
    pub flags: Vec<(&'static str, u64)>,
}

impl StreamSummary {
    /// Seconds from the first to the last segment.
    pub fn duration_secs(&self) -> f64 {
        (self.last_ts.as_secs_f64() - self.first_ts.as_secs_f64()).max(0.0)
    }
}
