//! The terminal UI: the packet list, the OSI stack of the selected frame
//! side by side with its fields and bytes, and the teaching views (ladder,
//! messages, unmasking, handshake, encapsulation walk).
//!
//! Views never decode: everything shown comes from the session's rows and
//! the dissection model, and every piece of wire text goes through
//! [`crate::view::sanitize`].

pub mod panes;
pub mod text;
pub mod theme;
