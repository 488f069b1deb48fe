//! Provenance: which frame, and where in it, each byte of a TCP stream came from.
//!
//! The reassembler delivers every byte with its frame number and offset. A
//! [`StreamMap`] records those runs for one direction so that an application
//! PDU (a WebSocket message spanning ten segments) can list its frames, and
//! a view can highlight its bytes in each of them. Runs are kept in stream
//! order; runs no open PDU can need are pruned, and the number kept is capped.

use std::collections::VecDeque;
use std::ops::Range;

/// A run of stream bytes that came from one place in one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub stream_offset: u64,
    pub len: u64,
    pub frame: u64,
    pub frame_offset: u32,
}

impl Run {
    fn end(&self) -> u64 {
        self.stream_offset.saturating_add(self.len)
    }
}

/// Stream offset to frame mapping for one direction of one connection.
#[derive(Clone, Debug)]
pub struct StreamMap {
    runs: VecDeque<Run>,
    max_runs: usize,
    /// Runs were dropped to respect `max_runs`: lookups before this offset fail.
    forgotten_before: u64,
}

impl Default for StreamMap {
    fn default() -> Self {
        StreamMap::new(StreamMap::DEFAULT_MAX_RUNS)
    }
}

impl StreamMap {
    /// Enough runs for a 64 MiB message in full-sized segments.
    pub const DEFAULT_MAX_RUNS: usize = 65_536;

    pub fn new(max_runs: usize) -> StreamMap {
        StreamMap {
            runs: VecDeque::new(),
            max_runs: max_runs.max(1),
            forgotten_before: 0,
        }
    }

    /// Records that `len` stream bytes from `stream_offset` came from `frame`
    /// at `frame_offset`. Runs arrive in stream order.
    pub fn record(&mut self, stream_offset: u64, len: u64, frame: u64, frame_offset: u32) {
        if len == 0 {
            return;
        }
        if let Some(last) = self.runs.back_mut() {
            let contiguous_in_frame = last.frame == frame
                && last.end() == stream_offset
                && u64::from(last.frame_offset).saturating_add(last.len) == u64::from(frame_offset);
            if contiguous_in_frame {
                last.len = last.len.saturating_add(len);
                return;
            }
        }
        if self.runs.len() >= self.max_runs {
            if let Some(dropped) = self.runs.pop_front() {
                self.forgotten_before = dropped.end();
            }
        }
        self.runs.push_back(Run {
            stream_offset,
            len,
            frame,
            frame_offset,
        });
    }

    /// Forgets every run and frees their memory: the stream has ended and no PDU will ask.
    pub fn release(&mut self) {
        self.runs = VecDeque::new();
    }

    /// Forgets runs that end at or before `offset`: no PDU will ask for them.
    pub fn prune_before(&mut self, offset: u64) {
        while self.runs.front().is_some_and(|run| run.end() <= offset) {
            self.runs.pop_front();
        }
    }

    /// The runs overlapping `range`, clipped to it.
    pub fn runs_in(&self, range: Range<u64>) -> Vec<Run> {
        self.clipped(range).collect()
    }

    /// The runs overlapping `range`, clipped to it, without collecting them.
    fn clipped(&self, range: Range<u64>) -> impl Iterator<Item = Run> + '_ {
        let first = self.runs.partition_point(|run| run.end() <= range.start);
        self.runs
            .range(first..)
            .take_while(move |run| run.stream_offset < range.end)
            .map(move |run| {
                let start = run.stream_offset.max(range.start);
                let end = run.end().min(range.end);
                // `start` is at least the run's offset and `end` at least `start` when runs overlap the range.
                let skip = start.saturating_sub(run.stream_offset);
                Run {
                    stream_offset: start,
                    len: end.saturating_sub(start),
                    frame: run.frame,
                    frame_offset: run
                        .frame_offset
                        .saturating_add(u32::try_from(skip).unwrap_or(u32::MAX)),
                }
            })
    }

    /// The frames that carried any byte of `range`, ascending, each once.
    pub fn frames_in(&self, range: Range<u64>) -> Vec<u64> {
        let mut frames = Vec::new();
        self.extend_frames_in(range, &mut frames);
        frames.sort_unstable();
        frames.dedup();
        frames
    }

    /// Appends the frames that carried any byte of `range` to `frames`, in
    /// stream order (a frame can come more than once).
    pub fn extend_frames_in(&self, range: Range<u64>, frames: &mut Vec<u64>) {
        frames.extend(self.clipped(range).map(|run| run.frame));
    }

    /// Whether every byte of `range` is still known (not pruned or forgotten).
    pub fn covers(&self, range: Range<u64>) -> bool {
        range.start >= self.forgotten_before
            && self.clipped(range.clone()).map(|run| run.len).sum::<u64>()
                == range.end.saturating_sub(range.start)
    }

    /// Number of runs held.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_bytes_of_one_frame_merge() {
        let mut map = StreamMap::default();
        map.record(0, 10, 4, 66);
        map.record(10, 5, 4, 76);
        assert_eq!(map.len(), 1);
        map.record(15, 100, 6, 66);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn ranges_map_back_to_frames_and_offsets() {
        let mut map = StreamMap::default();
        map.record(0, 100, 4, 66);
        map.record(100, 100, 6, 66);
        map.record(200, 50, 9, 54);
        assert_eq!(map.frames_in(50..120), vec![4, 6]);
        assert_eq!(
            map.runs_in(150..210),
            vec![
                Run {
                    stream_offset: 150,
                    len: 50,
                    frame: 6,
                    frame_offset: 116
                },
                Run {
                    stream_offset: 200,
                    len: 10,
                    frame: 9,
                    frame_offset: 54
                },
            ]
        );
        assert!(map.covers(0..250));
        assert!(!map.covers(0..251));
    }

    #[test]
    fn gaps_are_not_covered() {
        let mut map = StreamMap::default();
        map.record(0, 10, 1, 0);
        map.record(20, 10, 2, 0);
        assert!(!map.covers(5..25));
        assert_eq!(map.frames_in(5..25), vec![1, 2]);
    }

    #[test]
    fn pruning_and_the_cap_bound_memory() {
        let mut map = StreamMap::new(3);
        for n in 0..10 {
            map.record(n * 10, 10, n, 0);
        }
        assert_eq!(map.len(), 3);
        assert!(!map.covers(0..10));
        assert!(map.covers(70..100));
        map.prune_before(85);
        assert_eq!(map.frames_in(0..100), vec![8, 9]);
    }
}
