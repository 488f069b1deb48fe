//! Runs the stages for each frame, keeping the state that spans frames.
//!
//! A [`Pipeline`] is fed frames in capture order. Decoding one frame is
//! stateless; what crosses frames (IP fragments, TCP streams) lives here so
//! that every view gets the same answers.

use crate::decode::decode_frame;
use crate::dissect::{self, BuildConfig, Dissection};
use crate::source::RawFrame;

/// The per-capture state and settings of the decoding pipeline.
#[derive(Debug, Default)]
pub struct Pipeline {
    config: BuildConfig,
}

impl Pipeline {
    pub fn new(config: BuildConfig) -> Pipeline {
        Pipeline { config }
    }

    /// Decodes one frame into the layered model.
    pub fn dissect(&mut self, frame: &RawFrame<'_>) -> Dissection {
        let decoded = decode_frame(frame);
        dissect::build(frame, &decoded, &self.config)
    }
}
