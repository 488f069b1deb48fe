//! Placeholder: replaced by the unmask pane.
use crate::dissect::Layer;
use crate::view::tui::theme::Theme;
use ratatui::{buffer::Buffer, layout::Rect};
pub fn render(_l: Option<&Layer>, _s: usize, _a: Rect, _b: &mut Buffer, _t: &Theme) {}
