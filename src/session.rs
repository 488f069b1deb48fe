//! An opened capture as the terminal UI sees it: indexed in the background,
//! dissected on demand.
//!
//! [`Session::open`] returns at once; a loader thread reads the file through
//! the pipeline and sends owned [`Update`]s (rows for the packet list, the
//! frames' bytes, WebSocket messages, which frames reassemble which) that
//! [`Session::poll`] applies. Nothing waits for the whole file.
//!
//! The full model of one frame is rebuilt when a view asks for it
//! ([`Session::dissect`]): only that frame's TCP connection is replayed, by a
//! pipeline that numbers the connection as the full pass did, so the answer
//! equals a two-pass decode of the whole capture. Stepping forward through
//! a connection continues the same replay, and recent answers are cached.
//!
//! Invariant: this module hands views model records only (`Dissection`,
//! `Row`, `WsMessage`, `StreamSummary`, `DeliveryReport`); views never see the
//! pipeline.

pub mod row;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread;

use crate::dissect::{
    keys, BuildConfig, DeliveryReport, Dissection, FrameNumber, StreamSummary, Timestamp, WsMessage,
};
use crate::pipeline::Pipeline;
use crate::source::file::FileSource;
use crate::source::{RawFrame, Source, SourceError};

pub use row::{Row, TcpRow};

/// Memory bounds of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// Captured bytes kept in memory for on-demand dissection; indexing
    /// stops, with a notice, when the next frame would pass it.
    pub max_frame_bytes: usize,
    /// Frames indexed at most.
    pub max_frames: usize,
    /// Payload bytes kept per WebSocket message for the messages view.
    pub message_preview: usize,
    /// Dissections kept for quick stepping back.
    pub cache: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            max_frame_bytes: 2 << 30,
            max_frames: 20_000_000,
            message_preview: 4096,
            cache: 256,
        }
    }
}

/// How far indexing has come.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// Frames indexed so far.
    pub frames: u64,
    /// Estimated fraction of the file read, 0 to 1.
    pub fraction: f64,
    /// The loader has finished (the whole file, an error or a limit).
    pub done: bool,
    /// Why indexing ended early, if it did (a truncated file, a limit).
    pub stopped: Option<String>,
}

/// One message from the loader thread.
#[derive(Debug)]
pub enum Update {
    Batch(Box<Batch>),
    Done {
        /// Messages still open when the capture ended.
        messages: Vec<WsMessage>,
        streams: Vec<StreamSummary>,
        /// How messages were delivered (polling, long polling, SSE, WebSocket).
        delivery: Box<DeliveryReport>,
        stopped: Option<String>,
    },
}

/// Frames indexed since the previous batch.
#[derive(Debug, Default)]
pub struct Batch {
    rows: Vec<Row>,
    frames: Vec<StoredFrame>,
    bytes: Vec<u8>,
    messages: Vec<WsMessage>,
    /// (earlier frame, frame whose PDU reassembled its bytes).
    reassembled: Vec<(u64, FrameNumber)>,
    /// Frames whose IPv4 datagram was reassembled from earlier fragments.
    fragments: Vec<(u64, Vec<u64>)>,
    /// Connections whose opening handshake this batch checked: (stream, frame).
    handshakes: Vec<(u32, FrameNumber)>,
    /// Estimated fraction of the file read.
    fraction: f64,
}

/// Where a frame's bytes sit in the session's store, and its capture facts.
#[derive(Clone, Copy, Debug)]
struct StoredFrame {
    offset: usize,
    cap_len: u32,
    orig_len: u32,
    link_type: u32,
    ts: Timestamp,
}

/// A replay in progress: a pipeline that has seen a connection's frames up
/// to a position, ready to go on.
#[derive(Debug)]
struct Cursor {
    stream: u32,
    /// Index into the stream's frame list of the next frame to feed.
    next: usize,
    pipeline: Pipeline,
}

/// An opened capture: its index, its frames, and dissections on demand.
#[derive(Debug)]
pub struct Session {
    path: PathBuf,
    limits: SessionLimits,
    config: BuildConfig,
    rows: Vec<Row>,
    frames: Vec<StoredFrame>,
    bytes: Vec<u8>,
    messages: Vec<WsMessage>,
    streams: Vec<StreamSummary>,
    delivery: Option<DeliveryReport>,
    /// Per `tcp.stream`: its frames, 0-based indexes in capture order.
    stream_frames: Vec<Vec<u32>>,
    /// Per `tcp.stream`: the frame that completed the opening handshake.
    handshakes: HashMap<u32, FrameNumber>,
    reassembled_in: HashMap<u64, Vec<FrameNumber>>,
    fragments: HashMap<u64, Vec<u64>>,
    progress: Progress,
    receiver: Option<Receiver<Update>>,
    cursor: Option<Cursor>,
    cache: VecDeque<(u64, Arc<Dissection>)>,
}

impl Session {
    /// Opens a capture and starts indexing it on a thread of its own.
    ///
    /// The file is opened here, so a missing or unreadable file is an error
    /// at once; everything after that arrives through [`Session::poll`].
    pub fn open(path: &Path, limits: SessionLimits) -> Result<Session, SourceError> {
        let source = FileSource::open(path)?;
        let file_len = std::fs::metadata(path).map_or(0, |meta| meta.len());
        let (sender, receiver) = mpsc::channel();
        let config = BuildConfig::default();
        let loader_config = config.clone();
        thread::Builder::new()
            .name("osiscope-index".into())
            .spawn(move || load(source, file_len, limits, loader_config, &sender))
            .map_err(|error| SourceError::Open {
                path: path.display().to_string(),
                reason: format!("cannot start the indexing thread: {error}"),
            })?;
        Ok(Session::with_receiver(path, limits, config, receiver))
    }

    /// Opens and indexes a capture completely before returning (for tests
    /// and batch use).
    pub fn open_blocking(path: &Path, limits: SessionLimits) -> Result<Session, SourceError> {
        let source = FileSource::open(path)?;
        let file_len = std::fs::metadata(path).map_or(0, |meta| meta.len());
        let (sender, receiver) = mpsc::channel();
        let config = BuildConfig::default();
        load(source, file_len, limits, config.clone(), &sender);
        let mut session = Session::with_receiver(path, limits, config, receiver);
        session.poll();
        Ok(session)
    }

    fn with_receiver(
        path: &Path,
        limits: SessionLimits,
        config: BuildConfig,
        receiver: Receiver<Update>,
    ) -> Session {
        Session {
            path: path.to_path_buf(),
            limits,
            config,
            rows: Vec::new(),
            frames: Vec::new(),
            bytes: Vec::new(),
            messages: Vec::new(),
            streams: Vec::new(),
            delivery: None,
            stream_frames: Vec::new(),
            handshakes: HashMap::new(),
            reassembled_in: HashMap::new(),
            fragments: HashMap::new(),
            progress: Progress::default(),
            receiver: Some(receiver),
            cursor: None,
            cache: VecDeque::new(),
        }
    }

    /// Applies what the loader sent since the last call; returns whether
    /// anything changed. Never blocks.
    pub fn poll(&mut self) -> bool {
        let mut changed = false;
        loop {
            let Some(receiver) = &self.receiver else {
                return changed;
            };
            match receiver.try_recv() {
                Ok(update) => {
                    changed = true;
                    self.apply(update);
                }
                Err(TryRecvError::Empty) => return changed,
                Err(TryRecvError::Disconnected) => {
                    self.receiver = None;
                    if !self.progress.done {
                        self.progress.done = true;
                        self.progress.stopped = Some("the indexing thread stopped".into());
                    }
                    return true;
                }
            }
        }
    }

    fn apply(&mut self, update: Update) {
        match update {
            Update::Batch(batch) => {
                let base = self.bytes.len();
                self.bytes.extend_from_slice(&batch.bytes);
                for mut frame in batch.frames {
                    frame.offset = frame.offset.saturating_add(base);
                    self.frames.push(frame);
                }
                for row in batch.rows {
                    if let Some(tcp) = &row.tcp {
                        let index = usize::try_from(tcp.stream).unwrap_or(usize::MAX);
                        if index < self.stream_frames.len().saturating_add(1 << 16) {
                            if self.stream_frames.len() <= index {
                                self.stream_frames.resize_with(index + 1, Vec::new);
                            }
                            if let Some(list) = self.stream_frames.get_mut(index) {
                                list.push(
                                    u32::try_from(row.number.0.saturating_sub(1))
                                        .unwrap_or(u32::MAX),
                                );
                            }
                        }
                    }
                    self.rows.push(row);
                }
                self.messages.extend(batch.messages);
                for (frame, here) in batch.reassembled {
                    let list = self.reassembled_in.entry(frame).or_default();
                    if !list.contains(&here) {
                        list.push(here);
                    }
                }
                self.fragments.extend(batch.fragments);
                self.handshakes.extend(batch.handshakes);
                self.progress.frames = self.rows.len() as u64;
                self.progress.fraction = batch.fraction;
            }
            Update::Done {
                messages,
                streams,
                delivery,
                stopped,
            } => {
                self.messages.extend(messages);
                self.messages
                    .sort_by_key(|message| message.frames.last().copied());
                self.streams = streams;
                self.delivery = Some(*delivery);
                self.progress.done = true;
                self.progress.fraction = 1.0;
                self.progress.stopped = stopped;
                // Dissections made before now lack what later frames taught
                // (the frames their bytes were reassembled in).
                self.cache.clear();
                self.cursor = None;
            }
        }
    }

    /// The capture file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// The packet list so far, frame 1 first.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The row of a 1-based frame number.
    pub fn row(&self, number: FrameNumber) -> Option<&Row> {
        let index = usize::try_from(number.0.checked_sub(1)?).ok()?;
        self.rows.get(index)
    }

    /// Every WebSocket message found so far, in the order they ended.
    pub fn messages(&self) -> &[WsMessage] {
        &self.messages
    }

    /// The TCP connections, once indexing is done.
    pub fn streams(&self) -> &[StreamSummary] {
        &self.streams
    }

    /// How the capture's messages were delivered, per technique, once
    /// indexing is done (see `osiscope compare`).
    pub fn delivery(&self) -> Option<&DeliveryReport> {
        self.delivery.as_ref()
    }

    /// The frames of one TCP connection, ascending.
    pub fn stream_frames(&self, stream: u32) -> Vec<FrameNumber> {
        usize::try_from(stream)
            .ok()
            .and_then(|index| self.stream_frames.get(index))
            .map(|list| {
                list.iter()
                    .map(|&i| FrameNumber(u64::from(i) + 1))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The frame that carried a connection's handshake answer, if seen.
    pub fn handshake_frame(&self, stream: u32) -> Option<FrameNumber> {
        self.handshakes.get(&stream).copied()
    }

    /// The captured bytes of a frame.
    pub fn frame_bytes(&self, number: FrameNumber) -> Option<&[u8]> {
        let stored = self.stored(number)?;
        self.bytes
            .get(stored.offset..stored.offset.saturating_add(stored.cap_len as usize))
    }

    /// When a frame was captured.
    pub fn timestamp(&self, number: FrameNumber) -> Option<Timestamp> {
        self.stored(number).map(|stored| stored.ts)
    }

    fn stored(&self, number: FrameNumber) -> Option<&StoredFrame> {
        let index = usize::try_from(number.0.checked_sub(1)?).ok()?;
        self.frames.get(index)
    }

    fn raw(&self, number: FrameNumber) -> Option<RawFrame<'_>> {
        let stored = self.stored(number)?;
        Some(RawFrame {
            number,
            ts: stored.ts,
            orig_len: stored.orig_len as usize,
            link_type: stored.link_type,
            data: self.frame_bytes(number)?,
        })
    }

    /// The full model of one frame, as a two-pass decode of the whole
    /// capture gives it; `None` for a frame not indexed yet.
    pub fn dissect(&mut self, number: FrameNumber) -> Option<Arc<Dissection>> {
        if let Some((_, dissection)) = self.cache.iter().find(|(n, _)| *n == number.0) {
            return Some(Arc::clone(dissection));
        }
        let row = self.row(number)?;
        let dissection = match row.tcp.as_ref().map(|tcp| tcp.stream) {
            Some(stream) => self.replay(stream, number)?,
            None => {
                let mut pipeline = Pipeline::new(self.config.clone())
                    .with_reassembled_in(self.reassembled_for(&[number.0]));
                self.advance_fragments(&mut pipeline, number);
                let frame = self.raw(number)?;
                pipeline.process(&frame, true).dissection?
            }
        };
        let dissection = Arc::new(dissection);
        self.cache.push_back((number.0, Arc::clone(&dissection)));
        while self.cache.len() > self.limits.cache.max(1) {
            self.cache.pop_front();
        }
        Some(dissection)
    }

    /// Replays a connection up to `number`, going on from the last replay
    /// when it is the same connection and not past the frame.
    fn replay(&mut self, stream: u32, number: FrameNumber) -> Option<Dissection> {
        let list = self.stream_frames.get(usize::try_from(stream).ok()?)?;
        let target = u32::try_from(number.0.checked_sub(1)?).ok()?;
        let position = list.binary_search(&target).ok()?;
        let mut cursor = match self.cursor.take() {
            Some(cursor) if cursor.stream == stream && cursor.next <= position => cursor,
            _ => {
                let frames: Vec<u64> = list.iter().map(|&i| u64::from(i) + 1).collect();
                Cursor {
                    stream,
                    next: 0,
                    pipeline: Pipeline::new(self.config.clone())
                        .starting_at_stream(stream)
                        .with_reassembled_in(self.reassembled_for(&frames)),
                }
            }
        };
        let list = self.stream_frames.get(usize::try_from(stream).ok()?)?;
        let mut result = None;
        for &index in list.get(cursor.next..=position)? {
            let here = FrameNumber(u64::from(index) + 1);
            self.advance_fragments(&mut cursor.pipeline, here);
            let frame = self.raw(here)?;
            if here == number {
                result = cursor.pipeline.process(&frame, true).dissection;
            } else {
                cursor.pipeline.advance(&frame);
            }
        }
        cursor.next = position + 1;
        self.cursor = Some(cursor);
        result
    }

    /// Feeds the fragments an IPv4 datagram of this frame was rebuilt from.
    fn advance_fragments(&self, pipeline: &mut Pipeline, number: FrameNumber) {
        for &fragment in self.fragments.get(&number.0).into_iter().flatten() {
            if let Some(frame) = self.raw(FrameNumber(fragment)) {
                pipeline.advance(&frame);
            }
        }
    }

    fn reassembled_for(&self, frames: &[u64]) -> HashMap<u64, Vec<FrameNumber>> {
        frames
            .iter()
            .filter_map(|frame| Some((*frame, self.reassembled_in.get(frame)?.clone())))
            .collect()
    }
}

/// Frames per batch sent to the UI thread.
const BATCH_FRAMES: usize = 4096;

/// Reads the whole source through the pipeline, sending batches.
fn load(
    mut source: FileSource,
    file_len: u64,
    limits: SessionLimits,
    config: BuildConfig,
    sender: &Sender<Update>,
) {
    let mut pipeline = Pipeline::new(config).observing_delivery();
    let mut batch = Batch::default();
    let mut stored_bytes = 0usize;
    let mut read_estimate = 0u64;
    let mut n_frames = 0usize;
    let mut stopped = None;
    let mut stream_of: HashMap<u64, u32> = HashMap::new();
    loop {
        let frame = match source.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(error) => {
                stopped = Some(error.to_string());
                break;
            }
        };
        if n_frames >= limits.max_frames
            || stored_bytes.saturating_add(frame.data.len()) > limits.max_frame_bytes
        {
            stopped = Some(format!(
                "indexing stopped after {n_frames} frames: the session keeps at most {} frames and {} MiB of captured bytes",
                limits.max_frames,
                limits.max_frame_bytes >> 20
            ));
            break;
        }
        n_frames += 1;
        stored_bytes += frame.data.len();
        read_estimate = read_estimate.saturating_add(frame.data.len() as u64 + 16);
        let output = pipeline.process(&frame, true);
        let Some(dissection) = output.dissection else {
            continue;
        };
        let row = Row::from_dissection(&dissection);
        let number = frame.number.0;
        if let Some(tcp) = &row.tcp {
            stream_of.insert(number, tcp.stream);
            if dissection.find(keys::handshake::CHECK).is_some() {
                batch.handshakes.push((tcp.stream, frame.number));
            }
        }
        let mut noted = HashMap::new();
        Pipeline::note_reassembly(&dissection, &mut noted);
        for (earlier, heres) in noted {
            for here in heres {
                batch.reassembled.push((earlier, here));
            }
        }
        let own_stream = row.tcp.as_ref().map(|tcp| tcp.stream);
        let fragments: Vec<u64> = dissection
            .sources
            .iter()
            .skip(1)
            .flat_map(|source| source.frames.iter().map(|f| f.0))
            .filter(|f| {
                *f < number && (own_stream.is_none() || stream_of.get(f).copied() != own_stream)
            })
            .collect();
        if !fragments.is_empty() {
            batch.fragments.push((number, fragments));
        }
        batch.frames.push(StoredFrame {
            offset: batch.bytes.len(),
            cap_len: u32::try_from(frame.data.len()).unwrap_or(u32::MAX),
            orig_len: u32::try_from(frame.orig_len).unwrap_or(u32::MAX),
            link_type: frame.link_type,
            ts: frame.ts,
        });
        batch.bytes.extend_from_slice(frame.data);
        batch.rows.push(row);
        batch.messages.extend(
            output
                .messages
                .into_iter()
                .map(|message| preview(message, limits.message_preview)),
        );
        if batch.rows.len() >= BATCH_FRAMES {
            batch.fraction = fraction(read_estimate, file_len);
            let full = std::mem::take(&mut batch);
            if sender.send(Update::Batch(Box::new(full))).is_err() {
                return;
            }
        }
    }
    batch.fraction = fraction(read_estimate, file_len);
    let _ = sender.send(Update::Batch(Box::new(batch)));
    let messages = pipeline
        .finish()
        .into_iter()
        .map(|message| preview(message, limits.message_preview))
        .collect();
    let _ = sender.send(Update::Done {
        messages,
        streams: pipeline.summaries(),
        delivery: Box::new(pipeline.delivery().unwrap_or_default()),
        stopped,
    });
}

fn preview(mut message: WsMessage, keep: usize) -> WsMessage {
    if message.payload.len() > keep {
        message.payload.truncate(keep);
        message.payload_complete = false;
    }
    message
}

fn fraction(read: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    // Precision loss is fine for a progress bar.
    #[allow(clippy::cast_precision_loss)]
    let value = read as f64 / total as f64;
    value.clamp(0.0, 1.0)
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::dissect::{Dissection, FrameInfo, FrameNumber, Timestamp};

    pub(crate) fn empty_dissection() -> Dissection {
        Dissection {
            frame: FrameInfo {
                number: FrameNumber(1),
                ts: Timestamp::default(),
                cap_len: 0,
                orig_len: 0,
                link_type: 1,
            },
            sources: Vec::new(),
            layers: Vec::new(),
            problems: Vec::new(),
        }
    }
}
