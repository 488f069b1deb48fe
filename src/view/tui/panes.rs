//! One file per pane: each renders model records into a buffer area and
//! keeps no state of its own.

pub mod chat;
pub mod compare;
pub mod handshake;
pub mod hex;
pub mod ladder;
pub mod list;
pub mod narration;
pub mod picker;
pub mod stack;
pub mod tree;
pub mod unmask;
pub mod walk;
