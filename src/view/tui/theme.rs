//! Colours and text styles of the terminal UI, one colour per OSI layer,
//! shared by every pane (the stack, the field tree, the hex bytes, the
//! packet list), so a layer looks the same wherever it appears.
//!
//! Three themes: `default` (colours on the terminal's own background),
//! `high-contrast` (bright colours, bold, for projectors) and `mono` (no
//! colour at all, only bold, underline and reverse video; chosen whenever
//! the `NO_COLOR` environment variable is set).

use ratatui::style::{Color, Modifier, Style};

use crate::dissect::{Osi, Severity};

/// The styles of one theme.
#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    pub name: &'static str,
    /// Per OSI layer, 1 to 7 (index 0 is bytes no layer owns).
    layers: [Style; 8],
    pub text: Style,
    pub dim: Style,
    pub title: Style,
    pub border: Style,
    pub focused_border: Style,
    /// The selected row of a list or tree.
    pub selected: Style,
    /// The bytes of the selected field in the hex pane.
    pub highlight: Style,
    /// The byte under the hex cursor.
    pub cursor: Style,
    pub note: Style,
    pub warning: Style,
    pub error: Style,
    pub good: Style,
    pub bad: Style,
    pub client: Style,
    pub server: Style,
    /// Frames marked as carrying the chosen message.
    pub marked: Style,
}

/// Theme names, in the order `t` cycles through them.
pub const THEMES: [&str; 3] = ["default", "high-contrast", "mono"];

impl Theme {
    /// A theme by name; `None` for an unknown name.
    pub fn named(name: &str) -> Option<Theme> {
        match name {
            "default" => Some(Theme::colour()),
            "high-contrast" => Some(Theme::high_contrast()),
            "mono" => Some(Theme::mono()),
            _ => None,
        }
    }

    /// The theme to start with: the one asked for, or `mono` when
    /// `NO_COLOR` is set (and no theme was asked for), or `default`.
    pub fn choose(asked: Option<&str>, no_color: bool) -> Option<Theme> {
        match asked {
            Some(name) => Theme::named(name),
            None if no_color => Some(Theme::mono()),
            None => Some(Theme::colour()),
        }
    }

    /// The next theme in [`THEMES`].
    pub fn next(&self) -> Theme {
        let index = THEMES
            .iter()
            .position(|name| *name == self.name)
            .unwrap_or(0);
        let next = THEMES
            .get((index + 1) % THEMES.len())
            .copied()
            .unwrap_or("default");
        Theme::named(next).unwrap_or_else(Theme::colour)
    }

    /// The style of an OSI layer's bytes and headings.
    pub fn layer(&self, osi: Option<Osi>) -> Style {
        let index = osi.map_or(0, |osi| usize::from(osi.number()));
        self.layers.get(index).copied().unwrap_or(self.text)
    }

    /// The style of a problem's severity.
    pub fn severity(&self, severity: Severity) -> Style {
        match severity {
            Severity::Note => self.note,
            Severity::Warning => self.warning,
            Severity::Error => self.error,
        }
    }

    fn colour() -> Theme {
        let fg = |color| Style::new().fg(color);
        Theme {
            name: "default",
            layers: [
                fg(Color::DarkGray),
                fg(Color::Gray),
                fg(Color::LightBlue),
                fg(Color::LightGreen),
                fg(Color::Yellow),
                fg(Color::LightMagenta),
                fg(Color::LightRed),
                fg(Color::LightCyan),
            ],
            text: Style::new(),
            dim: fg(Color::DarkGray),
            title: Style::new().add_modifier(Modifier::BOLD),
            border: fg(Color::DarkGray),
            focused_border: fg(Color::LightCyan),
            selected: Style::new()
                .bg(Color::Rgb(40, 60, 90))
                .add_modifier(Modifier::BOLD),
            highlight: Style::new().fg(Color::Black).bg(Color::Yellow),
            cursor: Style::new().add_modifier(Modifier::REVERSED | Modifier::UNDERLINED),
            note: fg(Color::LightBlue),
            warning: fg(Color::Yellow),
            error: fg(Color::LightRed).add_modifier(Modifier::BOLD),
            good: fg(Color::LightGreen),
            bad: fg(Color::LightRed).add_modifier(Modifier::BOLD),
            client: fg(Color::LightCyan),
            server: fg(Color::LightYellow),
            marked: fg(Color::LightMagenta).add_modifier(Modifier::BOLD),
        }
    }

    fn high_contrast() -> Theme {
        let fg = |color| Style::new().fg(color).add_modifier(Modifier::BOLD);
        Theme {
            name: "high-contrast",
            layers: [
                fg(Color::White),
                fg(Color::White),
                fg(Color::LightBlue),
                fg(Color::LightGreen),
                fg(Color::LightYellow),
                fg(Color::LightMagenta),
                fg(Color::LightRed),
                fg(Color::LightCyan),
            ],
            text: Style::new().fg(Color::White),
            dim: Style::new().fg(Color::Gray),
            title: fg(Color::White),
            border: Style::new().fg(Color::White),
            focused_border: fg(Color::LightYellow),
            selected: Style::new()
                .fg(Color::Black)
                .bg(Color::White)
                .add_modifier(Modifier::BOLD),
            highlight: Style::new()
                .fg(Color::Black)
                .bg(Color::LightYellow)
                .add_modifier(Modifier::BOLD),
            cursor: Style::new().add_modifier(Modifier::REVERSED | Modifier::UNDERLINED),
            note: fg(Color::LightCyan),
            warning: fg(Color::LightYellow),
            error: fg(Color::LightRed),
            good: fg(Color::LightGreen),
            bad: fg(Color::LightRed),
            client: fg(Color::LightCyan),
            server: fg(Color::LightYellow),
            marked: fg(Color::LightMagenta),
        }
    }

    pub fn mono() -> Theme {
        let plain = Style::new();
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Theme {
            name: "mono",
            layers: [plain; 8],
            text: plain,
            dim: plain,
            title: bold,
            border: plain,
            focused_border: bold,
            selected: Style::new().add_modifier(Modifier::REVERSED),
            highlight: Style::new().add_modifier(Modifier::REVERSED),
            cursor: Style::new().add_modifier(Modifier::UNDERLINED | Modifier::BOLD),
            note: plain,
            warning: bold,
            error: bold,
            good: plain,
            bad: bold,
            client: plain,
            server: plain,
            marked: bold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_means_mono_unless_a_theme_is_asked_for() {
        assert_eq!(Theme::choose(None, true).map(|t| t.name), Some("mono"));
        assert_eq!(Theme::choose(None, false).map(|t| t.name), Some("default"));
        assert_eq!(
            Theme::choose(Some("high-contrast"), true).map(|t| t.name),
            Some("high-contrast")
        );
        assert!(Theme::choose(Some("neon"), false).is_none());
    }

    #[test]
    fn mono_uses_no_colour() {
        let theme = Theme::mono();
        for osi in Osi::ALL {
            let style = theme.layer(Some(osi));
            assert_eq!((style.fg, style.bg), (None, None));
        }
        assert_eq!(theme.next().name, "default");
    }
}
