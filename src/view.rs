//! Views: everything that shows the model to a person or a program.
//!
//! Invariant: views read the dissection model only; nothing under `view/`
//! imports a decoder. All text that came off the wire passes through
//! [`sanitize`] before it is printed.

pub mod compare;
pub mod i18n;
pub mod json;
pub mod lessons;
pub mod messages;
pub mod sanitize;
pub mod streams;
pub mod text;
pub mod time;
pub mod tui;
