//! What each key does: the closed set of [`Action`]s and the table that
//! maps keys to them, which the help overlay prints.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything the user can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// Move within the focused pane (list rows, layers, fields, bytes).
    Down,
    Up,
    Left,
    Right,
    PageDown,
    PageUp,
    Home,
    End,
    /// Next or previous frame, whatever pane has the focus.
    NextFrame,
    PrevFrame,
    /// Next or previous frame of the selected frame's TCP connection.
    NextInConnection,
    PrevInConnection,
    FocusNext,
    FocusPrev,
    /// Expand or collapse a field, or jump from a message or ladder arrow.
    Enter,
    /// Show only the selected frame's connection (again: show all).
    Follow,
    Search,
    SearchNext,
    SearchPrev,
    Ladder,
    Messages,
    Unmask,
    Handshake,
    Walk,
    /// Polling, long polling, SSE and WebSocket compared.
    Compare,
    /// Back to the main screen (or close the overlay).
    Back,
    Help,
    PlayPause,
    Faster,
    Slower,
    /// Jump to the next frame a reassembled PDU came from.
    JumpSource,
    Theme,
    /// Lessons: the next or previous step.
    NextStep,
    PrevStep,
    /// Lessons: answer the question with a choice (1-based).
    Choose(u8),
    /// Lessons: type the answer to a value question.
    AnswerPrompt,
    /// The list of lessons.
    Lessons,
    /// Presenter mode on or off.
    Presenter,
    /// Lessons: scroll the narration.
    NarrationDown,
    NarrationUp,
}

/// The keys, as the help overlay lists them; what they do is in each
/// language's strings (`view::i18n`), in the same order.
pub const HELP_KEYS: [&str; HELP_LEN] = [
    "j k / ↓ ↑",
    "h l / ← →",
    "n p",
    "N P",
    "PgDn PgUp g G",
    "Tab Shift-Tab",
    "Enter",
    "Space",
    "+ -",
    "f",
    "/",
    "L",
    "m",
    "u",
    "s",
    "w",
    "c",
    "J",
    "t",
    "> <  (. ,)  { }",
    "1-9  a",
    "o",
    "z  F5",
    "Esc",
    "?",
    "q Ctrl-C",
    "mouse",
    "",
    "",
];

/// Lines of the help overlay.
pub const HELP_LEN: usize = crate::view::i18n::keymap_len::HELP;

/// The action of a key press, if it has one.
pub fn action(key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') if ctrl => Action::Quit,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('j') | KeyCode::Down => Action::Down,
        KeyCode::Char('k') | KeyCode::Up => Action::Up,
        KeyCode::Char('h') | KeyCode::Left => Action::Left,
        KeyCode::Char('l') | KeyCode::Right => Action::Right,
        KeyCode::Char('d') if ctrl => Action::PageDown,
        KeyCode::Char('u') if ctrl => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::Char('g') | KeyCode::Home => Action::Home,
        KeyCode::Char('G') | KeyCode::End => Action::End,
        KeyCode::Char('n') => Action::NextFrame,
        KeyCode::Char('p') => Action::PrevFrame,
        KeyCode::Char('N') => Action::NextInConnection,
        KeyCode::Char('P') => Action::PrevInConnection,
        KeyCode::Tab => Action::FocusNext,
        KeyCode::BackTab => Action::FocusPrev,
        KeyCode::Enter => Action::Enter,
        KeyCode::Char('f') => Action::Follow,
        KeyCode::Char('/') => Action::Search,
        KeyCode::Char(']') => Action::SearchNext,
        KeyCode::Char('[') => Action::SearchPrev,
        KeyCode::Char('L') => Action::Ladder,
        KeyCode::Char('m') => Action::Messages,
        KeyCode::Char('u') => Action::Unmask,
        KeyCode::Char('s') => Action::Handshake,
        KeyCode::Char('w') => Action::Walk,
        KeyCode::Char('c') => Action::Compare,
        KeyCode::Esc => Action::Back,
        KeyCode::Char('?') | KeyCode::F(1) => Action::Help,
        KeyCode::Char(' ') => Action::PlayPause,
        KeyCode::Char('+') | KeyCode::Char('=') => Action::Faster,
        KeyCode::Char('-') => Action::Slower,
        KeyCode::Char('J') => Action::JumpSource,
        KeyCode::Char('t') => Action::Theme,
        KeyCode::Char('>' | '.') => Action::NextStep,
        KeyCode::Char('<' | ',') => Action::PrevStep,
        KeyCode::Char(c @ '1'..='9') => Action::Choose(c as u8 - b'0'),
        KeyCode::Char('a') => Action::AnswerPrompt,
        KeyCode::Char('o') => Action::Lessons,
        KeyCode::Char('z') | KeyCode::F(5) => Action::Presenter,
        KeyCode::Char('}') => Action::NarrationDown,
        KeyCode::Char('{') => Action::NarrationUp,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn vi_keys_and_arrows_do_the_same() {
        assert_eq!(action(key(KeyCode::Char('j'))), action(key(KeyCode::Down)));
        assert_eq!(action(key(KeyCode::Char('k'))), action(key(KeyCode::Up)));
        assert_eq!(
            action(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(action(key(KeyCode::Char('x'))), None);
    }
}
