//! Placeholder: replaced by the walk pane.
use crate::dissect::Dissection;
use crate::view::tui::theme::Theme;
use ratatui::{buffer::Buffer, layout::Rect};
pub fn steps(_d: &Dissection) -> usize {
    1
}
pub fn render(_d: &Dissection, _s: usize, _a: Rect, _b: &mut Buffer, _t: &Theme) {}
