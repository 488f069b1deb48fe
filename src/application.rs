//! Layer 5 to 7 decoders. They run on reassembled TCP byte streams, never on
//! single packets, and report what they found with stream offsets; `delivery`
//! observes their events.
//!
//! - [`conversation`]: one connection's protocol, chosen from its first bytes, and its decoders.
//! - [`http`]: HTTP/1.1 heads and bodies (Content-Length, chunked, SSE), Upgrade and CONNECT.
//! - [`handshake`]: the WebSocket opening handshake checked against RFC 6455 §4.
//! - [`websocket`]: frames, masking, messages, close codes, permessage-deflate, RFC checks.
//! - [`delivery`]: what a server delivered to its client (polling, long polling, SSE, WebSocket).
//! - [`session`]: the WebSocket connection's state (CONNECTING, OPEN, CLOSING, CLOSED, 1006).
//! - [`tls`]: the TLS record layer (no decryption): records, handshake types, SNI, ALPN.

pub mod conversation;
pub mod delivery;
pub mod handshake;
pub mod http;
pub mod session;
pub mod tls;
pub mod websocket;
