//! `osiscope lessons check`: a lesson validated against its capture.
//!
//! Opening the capture the way the terminal UI does, every step's selection
//! must exist (the frame, the connection, the message, the OSI layer in that
//! frame, the field key in that layer), a step's teaching view must have
//! something to show, and a value question tied to a field (`value_of`)
//! must have the answer the capture gives. Errors name the file and the line
//! of the step.

use std::collections::HashSet;

use crate::dissect::{Dissection, FieldValue, FrameNumber, Osi, Protocol};
use crate::lesson::{same_answer, Answer, Lesson, LessonError, View};
use crate::session::{Session, SessionLimits};

/// What checking a lesson found.
#[derive(Debug, Default)]
pub struct Report {
    pub errors: Vec<LessonError>,
    /// Value questions whose answer was compared with the capture.
    pub answers_checked: usize,
    /// Questions whose answer only a person can judge (choices, values not
    /// tied to a field).
    pub answers_unchecked: usize,
}

/// The frame a step shows: its own, else its message's last frame, else the
/// first frame of the connection it follows, else the previous step's.
pub fn step_frame(lesson: &Lesson, step: usize, session: &Session) -> Option<FrameNumber> {
    let mut frame = None;
    for s in lesson.steps.iter().take(step.saturating_add(1)) {
        let own = s
            .frame
            .map(FrameNumber)
            .or_else(|| {
                s.message
                    .and_then(|m| m.checked_sub(1))
                    .and_then(|m| session.messages().get(m))
                    .and_then(|m| m.frames.last().copied())
            })
            .or_else(|| {
                s.follow
                    .and_then(|stream| session.stream_frames(stream).first().copied())
            });
        if own.is_some() {
            frame = own;
        }
    }
    frame.or(Some(FrameNumber(1)))
}

/// The index of the layer a step focuses in a dissection: the highest layer
/// at that OSI level, or, when the step names a field, the highest one there
/// that has it (a level can hold several layers, such as a CONNECT tunnel
/// and the HTTP request inside it).
pub fn layer_index(dissection: &Dissection, osi: u8, field: Option<&str>) -> Option<usize> {
    let at_level = |layer: &crate::dissect::Layer| layer.osi().number() == osi;
    field
        .and_then(|key| {
            dissection
                .layers
                .iter()
                .rposition(|layer| at_level(layer) && layer.find(key).is_some())
        })
        .or_else(|| dissection.layers.iter().rposition(at_level))
}

/// Checks one lesson against its capture.
pub fn check(lesson: &Lesson) -> Report {
    let mut report = Report::default();
    let path = lesson.capture_path();
    let mut session = match Session::open_blocking(&path, SessionLimits::default()) {
        Ok(session) => session,
        Err(err) => {
            report.errors.push(lesson.error(
                lesson.capture_line(),
                format!("the capture cannot be opened: {err}"),
            ));
            return report;
        }
    };
    if let Some(stopped) = &session.progress().stopped {
        report.errors.push(lesson.error(
            lesson.capture_line(),
            format!("the capture could not be read to its end: {stopped}"),
        ));
    }
    let frames = session.rows().len();
    let messages = session.messages().len();
    for (index, step) in lesson.steps.iter().enumerate() {
        let line = lesson.step_line(index);
        let name = format!("step {}", index + 1);
        let mut fail = |message: String| report.errors.push(lesson.error(line, message));
        if let Some(frame) = step.frame {
            if usize::try_from(frame).map_or(true, |f| f > frames) {
                fail(format!(
                    "{name}: frame {frame} does not exist (the capture has {frames} frames)"
                ));
                continue;
            }
        }
        if let Some(message) = step.message {
            if message > messages {
                fail(format!(
                    "{name}: message {message} does not exist (the capture has {messages} WebSocket messages)"
                ));
                continue;
            }
        }
        if let Some(stream) = step.follow {
            if session.stream_frames(stream).is_empty() {
                fail(format!(
                    "{name}: tcp.stream {stream} does not exist (the capture has {} TCP connections)",
                    session.streams().len()
                ));
                continue;
            }
        }
        let Some(number) = step_frame(lesson, index, &session) else {
            continue;
        };
        let Some(dissection) = session.dissect(number) else {
            fail(format!("{name}: frame {number} cannot be dissected"));
            continue;
        };
        // The layer to look in: the step's, else the whole frame.
        let layer = match step.layer {
            Some(osi) => match layer_index(&dissection, osi, step.field.as_deref()) {
                Some(index) => Some(index),
                // Layer 6 is shown empty, with the reason, when there is no TLS.
                None if osi == Osi::Presentation.number() && step.field.is_none() => None,
                None => {
                    let present: Vec<String> = dissection
                        .layers
                        .iter()
                        .map(|l| format!("L{} {}", l.osi().number(), l.protocol.name()))
                        .collect();
                    fail(format!(
                        "{name}: frame {number} has nothing at layer {osi} (it has {})",
                        present.join(", ")
                    ));
                    continue;
                }
            },
            None => None,
        };
        if let Some(key) = &step.field {
            let found = match layer {
                Some(index) => dissection.layers.get(index).and_then(|l| l.find(key)),
                None => dissection.find(key),
            };
            if found.is_none() {
                let mut keys: Vec<&str> = dissection
                    .layers
                    .iter()
                    .filter(|l| layer.is_none_or(|i| dissection.layers.get(i) == Some(*l)))
                    .flat_map(|l| l.fields.iter().flat_map(|f| f.walk()))
                    .map(|f| f.key)
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect();
                keys.sort_unstable();
                keys.truncate(12);
                fail(format!(
                    "{name}: frame {number} has no field `{key}`{} (some it has: {})",
                    step.layer
                        .map(|l| format!(" at layer {l}"))
                        .unwrap_or_default(),
                    keys.join(", ")
                ));
                continue;
            }
        }
        let tcp = session.row(number).and_then(|row| row.tcp.clone());
        match step.view {
            View::Unmask if dissection.layer(Protocol::WebSocket).is_none() => fail(format!(
                "{name}: the unmask view needs a WebSocket frame, and frame {number} has none"
            )),
            View::Ladder if tcp.is_none() => fail(format!(
                "{name}: the ladder needs a TCP frame, and frame {number} is not TCP"
            )),
            View::Handshake
                if tcp
                    .as_ref()
                    .and_then(|t| session.handshake_frame(t.stream))
                    .is_none() =>
            {
                fail(format!(
                    "{name}: frame {number}'s connection has no WebSocket handshake answer to check"
                ))
            }
            View::Compare
                if session
                    .delivery()
                    .is_none_or(|report| report.techniques.is_empty()) =>
            {
                fail(format!(
                    "{name}: the compare view needs messages delivered by polling, SSE or WebSocket (JSON with `seq` and `sent`), and the capture has none"
                ))
            }
            View::Messages if messages == 0 => {
                fail(format!("{name}: the capture has no WebSocket messages"))
            }
            _ => {}
        }
        let Some(question) = &step.question else {
            continue;
        };
        match (&question.answer, &question.value_of) {
            (Answer::Value(answer), Some(key)) => {
                let field = layer
                    .and_then(|index| dissection.layers.get(index))
                    .and_then(|l| l.find(key))
                    .or_else(|| dissection.find(key));
                match field {
                    None => fail(format!(
                        "{name}: `value_of = \"{key}\"` but frame {number} has no such field"
                    )),
                    Some(field) => {
                        let truth = value_text(&field.value, &field.display);
                        if truth.iter().any(|t| same_answer(answer, t)) {
                            report.answers_checked += 1;
                        } else {
                            fail(format!(
                                "{name}: the answer is \"{answer}\" but {key} in frame {number} is {}",
                                field.display
                            ));
                        }
                    }
                }
            }
            _ => report.answers_unchecked += 1,
        }
    }
    report
}

/// The spellings a field's value may be answered with.
fn value_text(value: &FieldValue, display: &str) -> Vec<String> {
    let mut out = vec![display.to_string()];
    match value {
        FieldValue::Bool(b) => {
            out.push(u8::from(*b).to_string());
            out.push(b.to_string());
        }
        FieldValue::UInt(n) => out.push(n.to_string()),
        FieldValue::Int(n) => out.push(n.to_string()),
        FieldValue::Text(text) => out.push(text.clone()),
        FieldValue::Ipv4(addr) => out.push(addr.to_string()),
        FieldValue::Ipv6(addr) => out.push(addr.to_string()),
        FieldValue::Bytes(bytes) => out.push(hex::encode(bytes)),
        FieldValue::Mac(mac) => out.push(
            mac.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
        ),
        FieldValue::Float(_) | FieldValue::None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_can_be_answered_as_numbers_text_or_display() {
        let spellings = value_text(&FieldValue::UInt(80), "80 (http)");
        assert!(spellings.iter().any(|s| same_answer("80", s)));
        let spellings = value_text(&FieldValue::Bool(true), "Set");
        assert!(spellings.iter().any(|s| same_answer("1", s)));
        assert!(spellings.iter().any(|s| same_answer("set", s)));
        let spellings = value_text(&FieldValue::Mac([2, 0, 0, 0, 0, 1]), "x");
        assert!(spellings
            .iter()
            .any(|s| same_answer("02:00:00:00:00:01", s)));
    }
}
