//! Where each pane goes for a terminal size and mode. Pure, so the event
//! handler (scrolling, mouse hits) and the drawing agree on every cell.
//!
//! Wide terminals (100×30 and more) show the packet list, the OSI stack
//! beside the field tree, and the hex bytes at once. Smaller ones stack the
//! list over one pane at a time, chosen with Tab (a tab bar says which).

use ratatui::layout::Rect;

/// The panes of the main screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    List,
    Stack,
    Tree,
    Hex,
}

impl Pane {
    pub const ALL: [Pane; 4] = [Pane::List, Pane::Stack, Pane::Tree, Pane::Hex];

    pub fn title(self) -> &'static str {
        match self {
            Pane::List => "Packets",
            Pane::Stack => "OSI stack",
            Pane::Tree => "Fields",
            Pane::Hex => "Bytes",
        }
    }
}

/// What fills the screen below the packet list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Main,
    Ladder,
    Messages,
    Unmask,
    Handshake,
    Walk,
    Compare,
}

impl Mode {
    pub fn title(self) -> &'static str {
        match self {
            Mode::Main => "",
            Mode::Ladder => "TCP ladder",
            Mode::Messages => "WebSocket messages",
            Mode::Unmask => "Unmasking",
            Mode::Handshake => "Handshake check",
            Mode::Walk => "Encapsulation walk",
            Mode::Compare => "Delivery compared",
        }
    }
}

/// The smallest terminal the panes are drawn in.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 12;

/// The rectangles of one screen (each pane's area includes its border).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Areas {
    pub title: Rect,
    pub list: Rect,
    /// The tab bar of small terminals.
    pub tabs: Option<Rect>,
    pub stack: Option<Rect>,
    pub tree: Option<Rect>,
    pub hex: Option<Rect>,
    /// The pane of a mode other than `Main`.
    pub mode: Option<Rect>,
    /// A lesson's narration, beside the OSI stack.
    pub narration: Option<Rect>,
    pub status: Rect,
    /// The terminal is too small to draw the panes.
    pub too_small: bool,
}

/// How a lesson shapes the screen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lesson {
    /// No lesson: the explorer's screen.
    #[default]
    None,
    /// A lesson: the narration beside the OSI stack.
    Open,
    /// Presenter mode: no packet list, the step's view and the narration,
    /// with room around them.
    Presenter,
}

/// Whether a size gets the side-by-side layout.
pub fn is_wide(area: Rect) -> bool {
    area.width >= 100 && area.height >= 30
}

/// Lays out the screen.
pub fn compute(area: Rect, mode: Mode, focus: Pane) -> Areas {
    compute_with(area, mode, focus, Lesson::None)
}

/// Lays out the screen, with room for a lesson's narration.
pub fn compute_with(area: Rect, mode: Mode, focus: Pane, lesson: Lesson) -> Areas {
    let mut areas = Areas {
        too_small: area.width < MIN_WIDTH || area.height < MIN_HEIGHT,
        ..Areas::default()
    };
    if areas.too_small {
        return areas;
    }
    let row = |y: u16, height: u16| Rect::new(area.x, y, area.width, height);
    areas.title = row(area.y, 1);
    areas.status = row(area.bottom().saturating_sub(1), 1);
    let top = area.y + 1;
    let body = area.height.saturating_sub(2);
    match lesson {
        Lesson::None => {}
        Lesson::Open => {
            lesson_layout(
                &mut areas,
                Rect::new(area.x, top, area.width, body),
                mode,
                focus,
            );
            return areas;
        }
        Lesson::Presenter => {
            presenter_layout(&mut areas, Rect::new(area.x, top, area.width, body), mode);
            return areas;
        }
    }
    if is_wide(area) {
        let list = (body * 3 / 10).max(6);
        areas.list = row(top, list);
        let rest = Rect::new(area.x, top + list, area.width, body - list);
        if mode != Mode::Main {
            areas.mode = Some(rest);
            return areas;
        }
        let hex = (rest.height * 2 / 5)
            .max(6)
            .min(rest.height.saturating_sub(8));
        let middle = rest.height - hex;
        let stack_width = area.width * 11 / 20;
        areas.stack = Some(Rect::new(area.x, rest.y, stack_width, middle));
        areas.tree = Some(Rect::new(
            area.x + stack_width,
            rest.y,
            area.width - stack_width,
            middle,
        ));
        areas.hex = Some(row(rest.y + middle, hex));
        return areas;
    }
    let list = (body * 35 / 100).max(4);
    areas.list = row(top, list);
    let tabs = row(top + list, 1);
    let rest = Rect::new(area.x, tabs.y + 1, area.width, body - list - 1);
    areas.tabs = Some(tabs);
    match mode {
        Mode::Main => {
            let pane = match focus {
                Pane::List | Pane::Stack => &mut areas.stack,
                Pane::Tree => &mut areas.tree,
                Pane::Hex => &mut areas.hex,
            };
            *pane = Some(rest);
        }
        _ => areas.mode = Some(rest),
    }
    areas
}

/// A lesson's screen: the packet list, the narration beside the OSI stack,
/// the fields and bytes below (or the step's teaching view beside the
/// narration). Small terminals show the narration over one pane at a time,
/// the packet list being one of the tabs.
fn lesson_layout(areas: &mut Areas, body: Rect, mode: Mode, focus: Pane) {
    let row = |y: u16, height: u16| Rect::new(body.x, y, body.width, height);
    let wide = body.width >= 100 && body.height >= 28;
    if wide {
        let list = (body.height * 22 / 100).max(5);
        areas.list = row(body.y, list);
        let rest = Rect::new(body.x, body.y + list, body.width, body.height - list);
        if mode != Mode::Main {
            let left = body.width * 3 / 5;
            areas.mode = Some(Rect::new(rest.x, rest.y, left, rest.height));
            areas.narration = Some(Rect::new(
                rest.x + left,
                rest.y,
                rest.width - left,
                rest.height,
            ));
            return;
        }
        let upper = (rest.height * 3 / 5).max(10).min(rest.height);
        let lower = rest.height - upper;
        let left = body.width / 2;
        areas.stack = Some(Rect::new(rest.x, rest.y, left, upper));
        areas.narration = Some(Rect::new(rest.x + left, rest.y, rest.width - left, upper));
        if lower >= 4 {
            let tree = body.width * 9 / 20;
            areas.tree = Some(Rect::new(rest.x, rest.y + upper, tree, lower));
            areas.hex = Some(Rect::new(
                rest.x + tree,
                rest.y + upper,
                rest.width - tree,
                lower,
            ));
        }
        return;
    }
    let narration = (body.height * 11 / 20)
        .max(5)
        .min(body.height.saturating_sub(5));
    areas.narration = Some(row(body.y, narration));
    let tabs = row(body.y + narration, 1);
    areas.tabs = Some(tabs);
    let rest = Rect::new(
        body.x,
        tabs.y + 1,
        body.width,
        body.height.saturating_sub(narration + 1),
    );
    match (mode, focus) {
        (Mode::Main, Pane::List) => areas.list = rest,
        (Mode::Main, Pane::Stack) => areas.stack = Some(rest),
        (Mode::Main, Pane::Tree) => areas.tree = Some(rest),
        (Mode::Main, Pane::Hex) => areas.hex = Some(rest),
        _ => areas.mode = Some(rest),
    }
}

/// Presenter mode: the step's view on the left (the OSI stack over the
/// bytes, or a teaching view), the narration on the right, a margin around
/// both; on small terminals the narration goes on top.
fn presenter_layout(areas: &mut Areas, body: Rect, mode: Mode) {
    let margin = if body.width >= 100 && body.height >= 28 {
        2
    } else {
        0
    };
    let inside = Rect::new(
        body.x + margin,
        body.y + margin / 2,
        body.width.saturating_sub(margin * 2),
        body.height.saturating_sub(margin),
    );
    let (view, narration) = if inside.width >= 100 {
        let left = inside.width * 3 / 5;
        (
            Rect::new(inside.x, inside.y, left - margin, inside.height),
            Rect::new(
                inside.x + left,
                inside.y,
                inside.width - left,
                inside.height,
            ),
        )
    } else {
        let top = (inside.height * 2 / 5)
            .max(5)
            .min(inside.height.saturating_sub(5));
        (
            Rect::new(inside.x, inside.y + top, inside.width, inside.height - top),
            Rect::new(inside.x, inside.y, inside.width, top),
        )
    };
    areas.narration = Some(narration);
    if mode != Mode::Main {
        areas.mode = Some(view);
        return;
    }
    if view.height >= 22 {
        let stack = view.height * 3 / 5;
        areas.stack = Some(Rect::new(view.x, view.y, view.width, stack));
        areas.hex = Some(Rect::new(
            view.x,
            view.y + stack,
            view.width,
            view.height - stack,
        ));
    } else {
        areas.stack = Some(view);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_screens_show_every_pane_and_small_ones_one() {
        let wide = compute(Rect::new(0, 0, 120, 40), Mode::Main, Pane::List);
        assert!(wide.stack.is_some() && wide.tree.is_some() && wide.hex.is_some());
        assert_eq!(wide.tabs, None);
        let small = compute(Rect::new(0, 0, 80, 24), Mode::Main, Pane::Hex);
        assert!(small.stack.is_none() && small.tree.is_none() && small.hex.is_some());
        assert!(small.tabs.is_some());
        let tiny = compute(Rect::new(0, 0, 30, 8), Mode::Main, Pane::List);
        assert!(tiny.too_small);
    }

    #[test]
    fn panes_stay_inside_the_screen() {
        for (w, h) in [
            (40, 12),
            (80, 24),
            (99, 29),
            (100, 30),
            (200, 60),
            (300, 100),
        ] {
            let screen = Rect::new(0, 0, w, h);
            for mode in [Mode::Main, Mode::Ladder] {
                for (focus, lesson) in Pane::ALL
                    .iter()
                    .flat_map(|f| [Lesson::None, Lesson::Open, Lesson::Presenter].map(|l| (*f, l)))
                {
                    let areas = compute_with(screen, mode, focus, lesson);
                    for pane in [
                        Some(areas.title),
                        Some(areas.list),
                        areas.tabs,
                        areas.stack,
                        areas.tree,
                        areas.hex,
                        areas.mode,
                        areas.narration,
                        Some(areas.status),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        assert_eq!(screen.intersection(pane), pane, "{w}x{h}");
                    }
                }
            }
        }
    }
}
