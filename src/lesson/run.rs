//! A lesson being taken: which step is shown, the answers given so far and
//! the feedback on them, and the progress through the lesson.
//!
//! This is plain state with no terminal in it, so the terminal UI and the
//! tests drive it the same way.

use crate::lesson::{same_answer, Answer, Lesson, Question, Step};

/// What the application said of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Right,
    /// Wrong, with what was given (a choice's number or the typed value).
    Wrong {
        given: String,
    },
}

/// A lesson in progress.
#[derive(Clone, Debug)]
pub struct LessonRun {
    pub lesson: Lesson,
    step: usize,
    /// The latest verdict per step (for steps with a question).
    verdicts: Vec<Option<Verdict>>,
    /// Whether a step's question was ever answered right.
    solved: Vec<bool>,
    /// What the student is typing for a value question.
    pub input: String,
}

impl LessonRun {
    pub fn new(lesson: Lesson) -> LessonRun {
        let steps = lesson.steps.len();
        LessonRun {
            lesson,
            step: 0,
            verdicts: vec![None; steps],
            solved: vec![false; steps],
            input: String::new(),
        }
    }

    /// The index of the current step (0-based).
    pub fn index(&self) -> usize {
        self.step
    }

    pub fn step(&self) -> Option<&Step> {
        self.lesson.steps.get(self.step)
    }

    pub fn question(&self) -> Option<&Question> {
        self.step()?.question.as_ref()
    }

    /// Goes to the next step; false at the last one.
    pub fn forward(&mut self) -> bool {
        self.go(self.step.saturating_add(1))
    }

    /// Goes to the previous step; false at the first one.
    pub fn back(&mut self) -> bool {
        match self.step.checked_sub(1) {
            Some(step) => self.go(step),
            None => false,
        }
    }

    /// Goes to a step by index; false when it does not exist.
    pub fn go(&mut self, step: usize) -> bool {
        if step >= self.lesson.steps.len() || step == self.step {
            return false;
        }
        self.step = step;
        self.input.clear();
        true
    }

    /// The verdict on the current step's question, if answered.
    pub fn verdict(&self) -> Option<&Verdict> {
        self.verdicts.get(self.step)?.as_ref()
    }

    /// Answers the current multiple-choice question with a choice (1-based).
    pub fn choose(&mut self, choice: usize) -> Option<&Verdict> {
        let question = self.question()?;
        let count = question.choices.as_ref().map_or(0, |c| c.en.len());
        let Answer::Choice(right) = question.answer else {
            return None;
        };
        if choice == 0 || choice > count {
            return None;
        }
        let verdict = if u64::try_from(choice).is_ok_and(|c| c == right) {
            Verdict::Right
        } else {
            Verdict::Wrong {
                given: choice.to_string(),
            }
        };
        self.record(verdict)
    }

    /// Answers the current value question with what was typed (`input`).
    pub fn submit(&mut self) -> Option<&Verdict> {
        let question = self.question()?;
        let Answer::Value(expected) = &question.answer else {
            return None;
        };
        let given = self.input.trim().to_string();
        if given.is_empty() {
            return None;
        }
        let verdict = if same_answer(&given, expected) {
            Verdict::Right
        } else {
            Verdict::Wrong { given }
        };
        self.record(verdict)
    }

    fn record(&mut self, verdict: Verdict) -> Option<&Verdict> {
        if verdict == Verdict::Right {
            if let Some(solved) = self.solved.get_mut(self.step) {
                *solved = true;
            }
        }
        let slot = self.verdicts.get_mut(self.step)?;
        *slot = Some(verdict);
        slot.as_ref()
    }

    /// Whether the current question takes typed text.
    pub fn wants_value(&self) -> bool {
        self.question()
            .is_some_and(|q| matches!(q.answer, Answer::Value(_)))
    }

    /// Progress: (current step 1-based, steps, questions solved, questions).
    pub fn progress(&self) -> Progress {
        Progress {
            step: self.step + 1,
            steps: self.lesson.steps.len(),
            solved: self.solved.iter().filter(|s| **s).count(),
            questions: self.lesson.questions(),
        }
    }
}

/// How far a student is in a lesson.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The current step, 1-based.
    pub step: usize,
    pub steps: usize,
    /// Questions answered right at least once.
    pub solved: usize,
    pub questions: usize,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn lesson() -> Lesson {
        let text = r#"
number = 9
title = { en = "T", ja = "T" }
level = "advanced"
duration = 5
goals = { en = ["g"], ja = ["g"] }
capture = "x.pcap"
[[step]]
text = { en = "one", ja = "一" }
question = { text = { en = "?", ja = "？" }, choices = { en = ["a", "b", "c"], ja = ["あ", "い", "う"] }, answer = 3 }
[[step]]
text = { en = "two", ja = "二" }
question = { text = { en = "?", ja = "？" }, answer = "0x10" }
[[step]]
text = { en = "three", ja = "三" }
"#;
        Lesson::parse(text, Path::new("t.toml")).unwrap()
    }

    #[test]
    fn choices_and_values_are_judged_and_progress_counts_solved_questions() {
        let mut run = LessonRun::new(lesson());
        assert_eq!(run.progress().questions, 2);
        assert_eq!(run.choose(4), None, "no fourth choice");
        assert_eq!(
            run.choose(1).cloned(),
            Some(Verdict::Wrong { given: "1".into() })
        );
        assert_eq!(run.choose(3).cloned(), Some(Verdict::Right));
        assert!(run.forward());
        assert!(run.wants_value());
        run.input = "15".into();
        assert_eq!(
            run.submit().cloned(),
            Some(Verdict::Wrong { given: "15".into() })
        );
        run.input = "16".into();
        assert_eq!(run.submit().cloned(), Some(Verdict::Right));
        assert_eq!(run.progress().solved, 2);
        assert!(run.forward());
        assert!(!run.forward(), "the last step");
        assert!(run.back());
        assert_eq!(run.verdict(), Some(&Verdict::Right), "kept per step");
        assert_eq!(run.progress().step, 2);
    }
}
