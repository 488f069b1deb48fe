//! Layer 7 decoders. They run on reassembled TCP byte streams, never on
//! single packets, and report what they found with stream offsets.

pub mod websocket;
