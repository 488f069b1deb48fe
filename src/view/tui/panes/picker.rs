//! The list of lessons: number, title, level and duration, and the chosen
//! lesson's goals, prerequisites and capture.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::lesson::{Lang, Lesson};
use crate::view::i18n::strings;
use crate::view::tui::text::{cut, fit, pad, wrap};
use crate::view::tui::theme::Theme;

/// What the picker shows.
pub struct PickerView<'a> {
    pub lessons: &'a [Lesson],
    pub selected: usize,
    pub lang: Lang,
}

/// Draws the list in the upper part of the area and the chosen lesson's
/// details below it.
pub fn render(view: &PickerView<'_>, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let s = strings(view.lang);
    let lang = view.lang;
    let w = usize::from(area.width);
    let mut lines: Vec<Line<'static>> = Vec::new();
    if view.lessons.is_empty() {
        lines.push(Line::styled(s.no_lessons.to_string(), theme.warning));
    }
    let level_width = 12;
    let duration_width = 8;
    let title_width = w
        .saturating_sub(4 + level_width + duration_width + 6)
        .max(10);
    for (index, lesson) in view.lessons.iter().enumerate() {
        let style = if index == view.selected {
            theme.selected
        } else {
            theme.text
        };
        let text = format!(
            " {} {}  {}  {}",
            pad(&format!("{:>2}", lesson.number), 3),
            pad(&fit(lesson.title.get(lang), title_width), title_width),
            pad(lesson.level.name(lang), level_width),
            pad(
                &format!("{} {}", lesson.duration, s.minutes),
                duration_width
            ),
        );
        lines.push(Line::styled(cut(&text, w), style));
    }
    if let Some(lesson) = view.lessons.get(view.selected) {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            cut(
                &format!(
                    " {} {} · {}",
                    s.lesson,
                    lesson.number,
                    fit(lesson.title.get(lang), w)
                ),
                w,
            ),
            theme.title,
        ));
        let prerequisites = if lesson.prerequisites.is_empty() {
            s.none.to_string()
        } else {
            lesson
                .prerequisites
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let facts = format!(
            " {}: {} · {}: {} {} · {}: {} · {} {} · {}: {}",
            s.level,
            lesson.level.name(lang),
            s.duration,
            lesson.duration,
            s.minutes,
            s.prerequisites,
            prerequisites,
            lesson.steps.len(),
            s.steps,
            s.capture,
            lesson.capture.rsplit('/').next().unwrap_or(&lesson.capture),
        );
        for line in wrap(&facts, w.saturating_sub(1)) {
            lines.push(Line::styled(format!(" {line}"), theme.dim));
        }
        lines.push(Line::styled(format!(" {}:", s.goals), theme.title));
        for goal in lesson.goals.get(lang) {
            for (i, line) in wrap(goal, w.saturating_sub(5)).into_iter().enumerate() {
                let lead = if i == 0 { "  • " } else { "    " };
                lines.push(Line::from(vec![
                    Span::styled(lead, theme.dim),
                    Span::styled(line, theme.text),
                ]));
            }
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled(format!(" {}", s.open_lesson), theme.dim));
    }
    // Keep the chosen lesson on screen when the list is long.
    let height = usize::from(area.height);
    let skip = view
        .selected
        .saturating_sub(height.saturating_sub(12).max(1));
    for (i, line) in lines.iter().skip(skip).enumerate() {
        let Ok(y) = u16::try_from(i) else { break };
        if y >= area.height {
            break;
        }
        buf.set_line(area.x, area.y + y, line, area.width);
    }
}
