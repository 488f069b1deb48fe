//! Placeholder: replaced by the ladder pane.
use crate::dissect::{FrameNumber, Timestamp};
use crate::session::Row;
use crate::view::tui::theme::Theme;
use ratatui::{buffer::Buffer, layout::Rect};
pub struct Ladder<'a> {
    pub rows: &'a [&'a Row],
    pub client: String,
    pub server: String,
    pub selected: Option<FrameNumber>,
    pub start: Timestamp,
}
pub fn render(_l: &Ladder<'_>, _a: Rect, _b: &mut Buffer, _t: &Theme) {}
