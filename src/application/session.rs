//! The WebSocket connection's state (RFC 6455 §4 and §7): CONNECTING, OPEN,
//! CLOSING, CLOSED, and the frame that caused each change.
//!
//! The state follows the application events of one connection and the TCP
//! end of it: the Upgrade request makes it CONNECTING, an accepted handshake
//! OPEN, the first Close frame CLOSING, the answering Close CLOSED. A TCP
//! connection that ends (FIN or RST) before both Close frames were seen ends
//! the WebSocket connection abnormally: status 1006, which is never sent on
//! the wire but reported, as §7.1.5 says.

use std::fmt;

use crate::application::conversation::{AppEvent, DirEvent};
use crate::application::handshake::Verdict;
use crate::application::http::Event as HttpEvent;
use crate::application::websocket::message::Event as WsEvent;
use crate::application::websocket::opcode::{Control, OpCode};
use crate::flow::Direction;

/// The state of a WebSocket connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsState {
    /// No WebSocket yet (plain HTTP or nothing).
    None,
    /// The opening handshake was sent; the answer is awaited.
    Connecting,
    Open,
    /// One side sent Close; the other's Close is awaited.
    Closing,
    /// Both Close frames were exchanged (`code` from the first one).
    Closed {
        code: Option<u16>,
    },
    /// The TCP connection ended without the closing handshake (1006).
    ClosedAbnormally,
    /// The handshake was refused or failed.
    Failed,
}

impl fmt::Display for WsState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsState::None => f.write_str("none"),
            WsState::Connecting => f.write_str("CONNECTING"),
            WsState::Open => f.write_str("OPEN"),
            WsState::Closing => f.write_str("CLOSING"),
            WsState::Closed { code: Some(code) } => write!(f, "CLOSED ({code})"),
            WsState::Closed { code: None } => f.write_str("CLOSED"),
            WsState::ClosedAbnormally => {
                f.write_str("CLOSED (1006, abnormal: no closing handshake)")
            }
            WsState::Failed => f.write_str("CLOSED (handshake failed)"),
        }
    }
}

/// A change of state, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub from: WsState,
    pub to: WsState,
    /// The frame that caused it.
    pub frame: u64,
    pub why: String,
}

/// Follows one connection's WebSocket state.
#[derive(Clone, Debug)]
pub struct Session {
    state: WsState,
    close_seen: [bool; 2],
    first_code: Option<u16>,
    history: Vec<Change>,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            state: WsState::None,
            close_seen: [false; 2],
            first_code: None,
            history: Vec::new(),
        }
    }
}

/// The most changes remembered per connection (a connection has a handful).
const MAX_HISTORY: usize = 16;

impl Session {
    /// The state now.
    pub fn state(&self) -> WsState {
        self.state
    }

    /// Every change so far, oldest first.
    pub fn history(&self) -> &[Change] {
        &self.history
    }

    fn change(&mut self, to: WsState, frame: u64, why: String, out: &mut Vec<Change>) {
        if self.state == to {
            return;
        }
        let change = Change {
            from: self.state,
            to,
            frame,
            why,
        };
        self.state = to;
        if self.history.len() < MAX_HISTORY {
            self.history.push(change.clone());
        }
        out.push(change);
    }

    /// Follows the events one frame produced; returns the changes it caused.
    pub fn observe(&mut self, frame: u64, events: &[DirEvent]) -> Vec<Change> {
        let mut out = Vec::new();
        for event in events {
            match &event.event {
                AppEvent::Http(HttpEvent::Head(head))
                    if event.direction == Direction::ClientToServer
                        && head.has_token("upgrade", "websocket")
                        && matches!(self.state, WsState::None) =>
                {
                    self.change(WsState::Connecting, frame, "The client sent the opening handshake (GET with Upgrade: websocket).".into(), &mut out);
                }
                AppEvent::Handshake(report) => match report.verdict {
                    Verdict::Accepted => self.change(WsState::Open, frame, "The server accepted the handshake (101 Switching Protocols): frames may flow both ways.".into(), &mut out),
                    Verdict::Refused { status } => self.change(WsState::Failed, frame, format!("The server refused the handshake with status {status}; the connection stays HTTP."), &mut out),
                    Verdict::Failed => self.change(WsState::Failed, frame, "The server answered 101 but broke a handshake rule: the client must fail the connection.".into(), &mut out),
                    Verdict::AwaitingResponse => {}
                },
                AppEvent::Guessed { .. } => {
                    self.change(WsState::Open, frame, "WebSocket frames were seen without the opening handshake: the connection was already open when the capture began.".into(), &mut out);
                }
                AppEvent::WebSocket(WsEvent::Message(message)) if message.opcode == OpCode::Control(Control::Close) => {
                    let code = message.close.as_ref().and_then(|close| close.code).map(|code| code.0);
                    if let Some(seen) = self.close_seen.get_mut(event.direction.index()) {
                        *seen = true;
                    }
                    let who = match event.direction {
                        Direction::ClientToServer => "client",
                        Direction::ServerToClient => "server",
                    };
                    if self.close_seen.iter().all(|seen| *seen) {
                        let code = self.first_code.or(code);
                        self.change(WsState::Closed { code }, frame, format!("The {who} answered with its own Close frame: the closing handshake is complete."), &mut out);
                    } else {
                        self.first_code = code;
                        let code_text = code.map_or_else(|| "no status code".to_string(), |c| format!("status {c}"));
                        self.change(WsState::Closing, frame, format!("The {who} sent a Close frame ({code_text}); no more data frames may follow from it."), &mut out);
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The TCP connection ended (a FIN from each side, or a RST).
    pub fn tcp_ended(&mut self, frame: u64, reset: bool) -> Vec<Change> {
        let mut out = Vec::new();
        if matches!(
            self.state,
            WsState::Open | WsState::Closing | WsState::Connecting
        ) {
            let how = if reset {
                "was reset (RST)"
            } else {
                "was closed"
            };
            self.change(
                WsState::ClosedAbnormally,
                frame,
                format!("The TCP connection {how} without a complete closing handshake: WebSocket reports status 1006 (abnormal closure), a code never sent on the wire."),
                &mut out,
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::conversation::Conversation;

    const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    // Close 1000 from the client (masked with a zero key) and from the server.
    const CLIENT_CLOSE: &[u8] = &[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8];
    const SERVER_CLOSE: &[u8] = &[0x88, 0x02, 0x03, 0xe8];

    fn opened() -> (Conversation, Session) {
        let mut conversation = Conversation::default();
        let mut session = Session::default();
        let events = conversation.feed(Direction::ClientToServer, 0, REQUEST);
        assert_eq!(session.observe(4, &events).len(), 1);
        assert_eq!(session.state(), WsState::Connecting);
        let events = conversation.feed(Direction::ServerToClient, 0, RESPONSE);
        session.observe(6, &events);
        assert_eq!(session.state(), WsState::Open);
        (conversation, session)
    }

    #[test]
    fn closing_handshake_walks_open_closing_closed() {
        let (mut conversation, mut session) = opened();
        let events = conversation.feed(
            Direction::ClientToServer,
            REQUEST.len() as u64,
            CLIENT_CLOSE,
        );
        session.observe(16, &events);
        assert_eq!(session.state(), WsState::Closing);
        let events = conversation.feed(
            Direction::ServerToClient,
            RESPONSE.len() as u64,
            SERVER_CLOSE,
        );
        session.observe(17, &events);
        assert_eq!(session.state(), WsState::Closed { code: Some(1000) });
        assert!(session.tcp_ended(20, false).is_empty());
        let frames: Vec<u64> = session.history().iter().map(|c| c.frame).collect();
        assert_eq!(frames, [4, 6, 16, 17]);
    }

    #[test]
    fn tcp_end_without_closing_handshake_is_1006() {
        let (_, mut session) = opened();
        let changes = session.tcp_ended(30, true);
        assert_eq!(session.state(), WsState::ClosedAbnormally);
        assert!(changes[0].why.contains("1006"));
        assert!(session.state().to_string().contains("1006"));
    }

    #[test]
    fn refused_handshake_fails() {
        let mut conversation = Conversation::default();
        let mut session = Session::default();
        session.observe(4, &conversation.feed(Direction::ClientToServer, 0, REQUEST));
        let events = conversation.feed(
            Direction::ServerToClient,
            0,
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        );
        session.observe(6, &events);
        assert_eq!(session.state(), WsState::Failed);
        assert!(session.tcp_ended(9, false).is_empty());
    }
}
