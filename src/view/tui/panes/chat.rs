//! Placeholder: replaced by the chat pane.
use crate::dissect::{Timestamp, WsMessage};
use crate::view::tui::theme::Theme;
use ratatui::{buffer::Buffer, layout::Rect};
pub struct Chat<'a> {
    pub messages: &'a [&'a WsMessage],
    pub selected: usize,
    pub start: Timestamp,
}
pub fn render(_c: &Chat<'_>, _a: Rect, _b: &mut Buffer, _t: &Theme) {}
