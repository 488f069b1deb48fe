//! TCP flows: modular sequence numbers and the per-direction stream reassembler.

pub mod reassembly;
pub mod seq;
