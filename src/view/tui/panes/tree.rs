//! The field tree of the focused layer: every field with its value and
//! Wireshark key, children folded until expanded, and under it what the
//! selected field means and which bytes hold it.

use std::collections::HashSet;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::dissect::{Field, Layer};
use crate::view::tui::text::{cut, fit, width};
use crate::view::tui::theme::Theme;

/// One visible line of the tree.
#[derive(Clone, Debug)]
pub struct TreeRow<'a> {
    pub field: &'a Field,
    pub depth: usize,
    /// Child indexes from the layer's field list down to this field.
    pub path: Vec<usize>,
    pub expanded: bool,
}

/// The lines of a layer's tree, with the fields whose keys are in
/// `expanded` unfolded.
pub fn rows<'a>(layer: &'a Layer, expanded: &HashSet<&'static str>) -> Vec<TreeRow<'a>> {
    let mut out = Vec::new();
    for (index, field) in layer.fields.iter().enumerate() {
        push(&mut out, field, 0, vec![index], expanded);
    }
    out
}

fn push<'a>(
    out: &mut Vec<TreeRow<'a>>,
    field: &'a Field,
    depth: usize,
    path: Vec<usize>,
    expanded: &HashSet<&'static str>,
) {
    let open = !field.children.is_empty() && expanded.contains(field.key);
    out.push(TreeRow {
        field,
        depth,
        path: path.clone(),
        expanded: open,
    });
    if open {
        for (index, child) in field.children.iter().enumerate() {
            let mut child_path = path.clone();
            child_path.push(index);
            push(out, child, depth + 1, child_path, expanded);
        }
    }
}

/// The field at a path.
pub fn field_at<'a>(layer: &'a Layer, path: &[usize]) -> Option<&'a Field> {
    let (first, rest) = path.split_first()?;
    let mut field = layer.fields.get(*first)?;
    for index in rest {
        field = field.children.get(*index)?;
    }
    Some(field)
}

/// The state the tree is drawn with.
pub struct TreeView<'a> {
    pub layer: &'a Layer,
    pub rows: &'a [TreeRow<'a>],
    pub selected: usize,
    pub top: usize,
}

/// Lines kept under the tree for the selected field's explanation.
pub const EXPLAIN_LINES: u16 = 3;

/// Draws the tree and the selected field's explanation.
pub fn render(view: &TreeView<'_>, area: Rect, buf: &mut Buffer, theme: &Theme) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let explain = if area.height > EXPLAIN_LINES + 2 {
        EXPLAIN_LINES
    } else {
        0
    };
    let list_height = area.height - explain;
    let cells = usize::from(area.width);
    let colour = theme.layer(Some(view.layer.osi()));
    for (line, row) in view
        .rows
        .iter()
        .enumerate()
        .skip(view.top)
        .take(usize::from(list_height))
    {
        let y = area.y + u16::try_from(line - view.top).unwrap_or(0);
        let marker = if row.field.children.is_empty() {
            "  "
        } else if row.expanded {
            "▾ "
        } else {
            "▸ "
        };
        let indent = "  ".repeat(row.depth);
        let key = row.field.key;
        let left = format!("{indent}{marker}{}: ", row.field.label);
        let key_cells = width(key) + 1;
        let room = cells.saturating_sub(width(&left) + key_cells);
        let value = fit(&row.field.display, room.max(8));
        let used = width(&left) + width(&value);
        let mut spans = vec![Span::styled(cut(&left, cells), theme.text)];
        spans.push(Span::styled(value, colour));
        if used + key_cells <= cells {
            spans.push(Span::raw(" ".repeat(cells - used - key_cells + 1)));
            spans.push(Span::styled(key, theme.dim));
        }
        let style = if line == view.selected {
            theme.selected
        } else {
            theme.text
        };
        buf.set_style(Rect::new(area.x, y, area.width, 1), style);
        buf.set_line(area.x, y, &Line::from(spans).patch_style(style), area.width);
    }
    if explain == 0 {
        return;
    }
    let Some(row) = view.rows.get(view.selected) else {
        return;
    };
    let field = row.field;
    let mut where_ = format!(
        "{} · bytes [{}..{})",
        field.key, field.span.start, field.span.end
    );
    if field.span.is_empty() {
        where_ = format!("{} · computed, not on the wire", field.key);
    }
    if let Some(mask) = field.mask {
        where_.push_str(&format!(" · bits {mask:#x}"));
    }
    let y = area.y + list_height;
    buf.set_line(
        area.x,
        y,
        &Line::styled(cut(&"─".repeat(cells), cells), theme.border),
        area.width,
    );
    buf.set_line(
        area.x,
        y + 1,
        &Line::styled(fit(&where_, cells), theme.title),
        area.width,
    );
    if explain > 2 {
        buf.set_line(
            area.x,
            y + 2,
            &Line::styled(fit(field.explain, cells), theme.dim),
            area.width,
        );
    }
}
