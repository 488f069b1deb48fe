//! WebSocket codec (RFC 6455) with permessage-deflate (RFC 7692), written for an analyzer.
//!
//! The decoders run on the reassembled byte stream of one TCP direction, never on single packets.
//! They describe exactly what is on the wire, violations included, and keep going where they can.
//! Every part of a frame is located by byte offsets, so views can highlight the bytes of each field.
//!
//! Modules, from the wire upwards:
//! - [`opcode`]: the four-bit opcode with its RFC names.
//! - [`frame`]: the frame header parser and the byte layout of its fields.
//! - [`mask`]: the XOR masking of client payloads.
//! - [`close`]: the body of a Close frame and the meaning of close codes.
//! - [`deflate`]: permessage-deflate parameters and the per-direction inflater.
//! - [`utf8`]: UTF-8 validation of text split across frames and chunks.
//! - [`check`]: the RFC 6455 rule catalogue and the checks that need only one header.
//! - [`resync`]: the search for a plausible frame header after a hole in the stream.
//! - [`message`]: the per-direction assembler that turns stream bytes into frames and messages.
//! - [`handshake`]: the `Sec-WebSocket-Key`/`Sec-WebSocket-Accept` computation and the extension list.

pub mod check;
pub mod close;
pub mod deflate;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod message;
pub mod opcode;
pub mod resync;
pub mod utf8;

use std::fmt;

/// The endpoint that sent the bytes of one stream direction.
///
/// The masking rule (RFC 6455 §5.1) and the deflate parameters (RFC 7692 §7.1) depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sender {
    /// The client sent these bytes: the client-to-server direction.
    Client,
    /// The server sent these bytes: the server-to-client direction.
    Server,
}

impl fmt::Display for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sender::Client => f.write_str("client-to-server"),
            Sender::Server => f.write_str("server-to-client"),
        }
    }
}
