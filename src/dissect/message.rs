//! WebSocket messages as the model keeps them: one record per message, with
//! the connection it belongs to and every frame that carried a byte of it.

use crate::dissect::{FrameNumber, Timestamp};
// The record's endpoint and direction types, for the views that read it.
pub use crate::flow::table::{Direction, Endpoint};

/// One WebSocket message: a data message with its fragments joined (and
/// inflated), or one control frame.
#[derive(Clone, Debug, PartialEq)]
pub struct WsMessage {
    /// The connection's `tcp.stream`.
    pub stream: u32,
    pub client: Endpoint,
    pub server: Endpoint,
    pub direction: Direction,
    /// `text`, `binary`, `close`, `ping`, `pong`, `continuation` or `reserved-N`.
    pub opcode: std::borrow::Cow<'static, str>,
    /// When the frame that ended the message was captured.
    pub ts: Timestamp,
    /// Application payload bytes: unmasked, joined, inflated.
    pub len: u64,
    /// The payload kept; all of it when `payload_complete`.
    pub payload: Vec<u8>,
    pub payload_complete: bool,
    /// Every frame that carried a byte of the message, ascending.
    pub frames: Vec<FrameNumber>,
    pub compressed: bool,
    pub close_code: Option<u16>,
    pub close_reason: Option<String>,
    /// False when cut by a gap, the snapshot length or the end of the capture.
    pub complete: bool,
    pub problems: Vec<String>,
    /// The connection was recognised without its opening handshake.
    pub guessed: bool,
    /// The target of the `CONNECT` tunnel the message travelled in (from the wire), when a
    /// proxy carried it.
    pub tunnel: Option<String>,
}

#[cfg(test)]
impl WsMessage {
    /// A complete, empty text message from 10.0.0.1:1 to itself on stream 0,
    /// for tests to change what they need.
    pub(crate) fn sample() -> WsMessage {
        let endpoint = Endpoint {
            addr: std::net::IpAddr::from([10, 0, 0, 1]),
            port: 1,
        };
        WsMessage {
            stream: 0,
            client: endpoint,
            server: endpoint,
            direction: Direction::ClientToServer,
            opcode: "text".into(),
            ts: Timestamp::default(),
            len: 0,
            payload: Vec::new(),
            payload_complete: true,
            frames: Vec::new(),
            compressed: false,
            close_code: None,
            close_reason: None,
            complete: true,
            problems: Vec::new(),
            guessed: false,
            tunnel: None,
        }
    }
}
