//! A lesson's narration: the step's text, its question with the choices or
//! the answer being typed, the feedback on the answer, and the progress
//! through the lesson.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use crate::lesson::run::{LessonRun, Verdict};
use crate::lesson::{Answer, Lang};
use crate::view::i18n::strings;
use crate::view::tui::text::{cut, width, wrap};
use crate::view::tui::theme::Theme;

/// What the narration pane shows.
pub struct Narration<'a> {
    pub run: &'a LessonRun,
    pub lang: Lang,
    /// The answer prompt is open.
    pub typing: bool,
    /// Presenter mode: blank lines between the parts, a margin.
    pub roomy: bool,
}

/// The lines of the narration for a width.
pub fn lines(view: &Narration<'_>, width_cells: usize, theme: &Theme) -> Vec<Line<'static>> {
    let (mut body, tail) = parts(view, width_cells, theme);
    body.extend(tail);
    body
}

/// The narration in two parts: the progress and the step's text, then the
/// question, its choices and the feedback (kept on screen when the text is
/// too long for the pane).
pub fn parts(
    view: &Narration<'_>,
    width_cells: usize,
    theme: &Theme,
) -> (Vec<Line<'static>>, Vec<Line<'static>>) {
    let s = strings(view.lang);
    let run = view.run;
    let lang = view.lang;
    let margin = if view.roomy { 2 } else { 0 };
    // Two cells kept free for closing marks that hang past a line's end.
    let text_width = width_cells.saturating_sub(margin * 2 + 2).max(8);
    let indent = " ".repeat(margin);
    let mut out: Vec<Line<'static>> = Vec::new();
    let blank = |out: &mut Vec<Line<'static>>| out.push(Line::raw(""));
    let progress = run.progress();
    let dots: String = (1..=progress.steps)
        .map(|i| if i <= progress.step { '●' } else { '○' })
        .collect();
    let header = format!(
        "{} {}/{}  {}  ·  {} {}/{}",
        s.step,
        progress.step,
        progress.steps,
        dots,
        s.questions,
        progress.solved,
        progress.questions
    );
    out.push(Line::styled(
        format!("{indent}{}", cut(&header, text_width)),
        theme.dim,
    ));
    if view.roomy {
        blank(&mut out);
    }
    let Some(step) = run.step() else {
        return (out, Vec::new());
    };
    let text_style = if view.roomy {
        theme.text.add_modifier(Modifier::BOLD)
    } else {
        theme.text
    };
    for (index, paragraph) in step.text.get(lang).trim().split("\n\n").enumerate() {
        if index > 0 || view.roomy {
            blank(&mut out);
        }
        for line in wrap(paragraph.trim(), text_width) {
            out.push(Line::styled(format!("{indent}{line}"), text_style));
        }
    }
    let body = out;
    let mut out = Vec::new();
    let Some(question) = run.question() else {
        if progress.step == progress.steps {
            blank(&mut out);
            out.push(Line::styled(
                format!("{indent}{}", s.lesson_done),
                theme.good,
            ));
        }
        return (body, out);
    };
    blank(&mut out);
    let label = format!("{} · ", s.question);
    let question_lines = wrap(
        question.text.get(lang),
        text_width.saturating_sub(width(&label)),
    );
    for (index, line) in question_lines.into_iter().enumerate() {
        let lead = if index == 0 {
            label.clone()
        } else {
            " ".repeat(width(&label))
        };
        out.push(Line::from(vec![
            Span::styled(format!("{indent}{lead}"), theme.title),
            Span::styled(line, theme.title),
        ]));
    }
    let verdict = run.verdict();
    let right_choice = match question.answer {
        Answer::Choice(n) => usize::try_from(n).ok(),
        Answer::Value(_) => None,
    };
    let given_choice = match verdict {
        Some(Verdict::Wrong { given }) => given.parse::<usize>().ok(),
        _ => None,
    };
    for (index, choice) in question.choices(lang).iter().enumerate() {
        let number = index + 1;
        let style = if verdict == Some(&Verdict::Right) && Some(number) == right_choice {
            theme.good
        } else if Some(number) == given_choice {
            theme.bad
        } else {
            theme.text
        };
        let lead = format!("  {number}) ");
        for (i, line) in wrap(choice, text_width.saturating_sub(width(&lead)))
            .into_iter()
            .enumerate()
        {
            let lead = if i == 0 {
                lead.clone()
            } else {
                " ".repeat(width(&lead))
            };
            out.push(Line::styled(format!("{indent}{lead}{line}"), style));
        }
    }
    if matches!(question.answer, Answer::Value(_)) {
        let typed = if view.typing {
            format!("{}: {}▏", s.your_answer, run.input)
        } else {
            s.type_answer.to_string()
        };
        out.push(Line::styled(
            format!(
                "{indent}  {}",
                cut(&crate::view::sanitize::sanitize(&typed), text_width)
            ),
            if view.typing {
                theme.selected
            } else {
                theme.dim
            },
        ));
    } else if verdict.is_none() {
        out.push(Line::styled(
            format!("{indent}  {}", s.choose_answer),
            theme.dim,
        ));
    }
    if let Some(verdict) = verdict {
        blank(&mut out);
        let (text, style): (String, Style) = match verdict {
            Verdict::Right => (s.right.to_string(), theme.good),
            Verdict::Wrong { given } => {
                (format!("{} ({} {given})", s.wrong, s.you_said), theme.bad)
            }
        };
        for line in wrap(&text, text_width) {
            out.push(Line::styled(format!("{indent}{line}"), style));
        }
        if let Some(explain) = &question.explain {
            for line in wrap(explain.get(lang), text_width) {
                out.push(Line::styled(format!("{indent}{line}"), theme.text));
            }
        }
    }
    (body, out)
}

/// Draws the narration into an area (inside its border), the text scrolled
/// by `scroll` lines; when it does not all fit, the question and feedback
/// stay at the bottom and a line says more text is above or below.
pub fn render(view: &Narration<'_>, scroll: usize, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let height = usize::from(area.height);
    let (body, tail) = parts(view, usize::from(area.width), theme);
    let lines: Vec<Line<'static>> = if body.len() + tail.len() <= height {
        body.into_iter().chain(tail).collect()
    } else {
        // The progress line stays; the text scrolls in what the question leaves.
        let room = height.saturating_sub(tail.len()).max(3);
        let text_room = room.saturating_sub(2);
        let text: Vec<Line<'static>> = body.iter().skip(1).cloned().collect();
        let start = scroll.min(text.len().saturating_sub(text_room));
        let mut out: Vec<Line<'static>> = body.first().cloned().into_iter().collect();
        out.extend(text.iter().skip(start).take(text_room).cloned());
        let below = text.len().saturating_sub(start + text_room);
        out.push(Line::styled(
            format!(
                "{}{}",
                if start > 0 { "▲ " } else { "" },
                if below > 0 { "▼ { } …" } else { "" }
            ),
            theme.dim,
        ));
        out.extend(tail);
        out
    };
    for (i, line) in lines.iter().enumerate() {
        let Ok(y) = u16::try_from(i) else { break };
        if y >= area.height {
            break;
        }
        buf.set_line(area.x, area.y + y, line, area.width);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::lesson::Lesson;

    fn run() -> LessonRun {
        let text = r#"
number = 1
title = { en = "T", ja = "T" }
level = "beginner"
duration = 5
goals = { en = ["g"], ja = ["g"] }
capture = "x.pcap"
[[step]]
text = { en = "The SYN opens the connection.", ja = "SYN が接続を開きます。" }
question = { text = { en = "Which flag?", ja = "どのフラグ？" }, choices = { en = ["SYN", "FIN"], ja = ["SYN", "FIN"] }, answer = 1, explain = { en = "SYN synchronises.", ja = "SYN は同期です。" } }
"#;
        LessonRun::new(Lesson::parse(text, Path::new("t.toml")).unwrap())
    }

    fn text(lines: &[Line<'_>]) -> String {
        lines
            .iter()
            .map(|l| {
                l.spans
                    .iter()
                    .map(|s| s.content.as_ref())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_question_its_choices_and_the_feedback_are_shown() {
        let theme = Theme::mono();
        let mut run = run();
        let view = Narration {
            run: &run,
            lang: Lang::En,
            typing: false,
            roomy: false,
        };
        let shown = text(&lines(&view, 40, &theme));
        assert!(shown.contains("Step 1/1"), "{shown}");
        assert!(
            shown.contains("1) SYN") && shown.contains("2) FIN"),
            "{shown}"
        );
        assert!(
            !shown.contains("synchronises"),
            "no explanation before an answer"
        );
        run.choose(2);
        let view = Narration {
            run: &run,
            lang: Lang::Ja,
            typing: false,
            roomy: true,
        };
        let shown = text(&lines(&view, 30, &theme));
        assert!(
            shown.contains("違います") && shown.contains("SYN は同期です。"),
            "{shown}"
        );
        for line in lines(&view, 30, &theme) {
            let w: usize = line.spans.iter().map(|s| width(&s.content)).sum();
            assert!(w <= 30, "{line:?}");
        }
    }
}
