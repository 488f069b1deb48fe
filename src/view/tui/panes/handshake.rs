//! Placeholder: replaced by the handshake pane.
use crate::dissect::Dissection;
use crate::view::tui::theme::Theme;
use ratatui::{buffer::Buffer, layout::Rect};
pub fn render(_d: Option<&Dissection>, _a: Rect, _b: &mut Buffer, _t: &Theme) {}
