//! osiscope: see the protocol stack of real network traffic, layer by layer.
//!
//! The pipeline, in the order the modules are declared:
//!
//! ```text
//! source (pcap/pcapng file, live interface)    RawFrame: number, time, bytes
//!   -> decode (layers 2-4, borrowed views)      Decoded: link, VLANs, IP, TCP/UDP/ICMP
//!   -> flow (TCP connections, reassembly)       stream chunks with provenance, analysis
//!   -> application (HTTP, WebSocket, TLS)       heads, frames, messages, handshake checks
//!   -> dissect (the one model)                  Dissection: layers, fields, spans, problems
//!   -> session (indexed capture for the UI)     rows, messages, dissections on demand
//!   -> lesson (steps over a capture)            what to select, narration, questions
//!   -> view (text, JSON, terminal UI)           never decodes; sanitizes wire text
//! ```
//!
//! [`pipeline::Pipeline`] runs the stages for each frame; the command-line
//! front end in [`command`] chooses a view.

#![forbid(unsafe_code)]

pub mod source;

pub mod decode;

pub mod flow;

pub mod application;

pub mod dissect;

pub mod pipeline;

pub mod session;

pub mod lesson;

pub mod view;

pub mod limits;

pub mod cli;
pub mod command;
