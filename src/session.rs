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
//! A live capture ([`Session::capture`]) is indexed the same way from a
//! live source, and keeps a window of the most recent frames
//! ([`SessionLimits::live`]): older frames leave the list, the bytes store,
//! the messages and the connection indexes (frame numbers go on counting,
//! and [`Session::n_evicted`] says how many left). A frame whose connection
//! began before the window is dissected as if the capture had started at
//! the window's first frame.
//!
//! Invariant: this module hands views model records only (`Dissection`,
//! `Row`, `WsMessage`, `StreamSummary`, `DeliveryReport`); views never see the
//! pipeline.

pub mod row;
pub mod window;

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::decode::Decoded;
use crate::dissect::{
    self, keys, AppPduKind, BuildConfig, DeliveryReport, Dissection, FrameContext, FrameNumber,
    PduBytes, StreamSummary, Timestamp, WsMessage,
};
use crate::limits::Limits;
use crate::pipeline::Pipeline;
use crate::source::file::FileSource;
use crate::source::live::LiveControl;
use crate::source::offsets::RecordWalker;
use crate::source::save::PcapngWriter;
use crate::source::{frame_or_stop, CaptureStats, RawFrame, Source, SourceError};

pub use row::{Info, Interner, Row, TcpRow};
use window::Window;

/// Memory bounds of a session (the rest of [`Limits`] bounds its pipelines).
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
    /// Drop the oldest frames to stay within `max_frames` and
    /// `max_frame_bytes` instead of stopping (a live capture's window).
    pub evict: bool,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            max_frame_bytes: 2 << 30,
            max_frames: 20_000_000,
            message_preview: 512,
            cache: 256,
            evict: false,
        }
    }
}

impl SessionLimits {
    /// Frames a live capture keeps for the views unless told otherwise
    /// (`osiscope live --window N`).
    pub const LIVE_WINDOW: usize = 100_000;
    /// Captured bytes a live capture keeps for the views at most.
    pub const LIVE_WINDOW_BYTES: usize = 256 << 20;

    /// A live capture's limits: the most recent `window` frames (and at
    /// most [`SessionLimits::LIVE_WINDOW_BYTES`] of their bytes) are kept.
    pub fn live(window: usize) -> SessionLimits {
        SessionLimits {
            max_frames: window.max(1),
            max_frame_bytes: Self::LIVE_WINDOW_BYTES,
            evict: true,
            ..SessionLimits::default()
        }
    }
}

/// What the views know of a live capture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveStatus {
    /// The interface captured on.
    pub interface: String,
    pub filter: Option<String>,
    /// Where every captured frame is written (`-w`), if anywhere.
    pub write: Option<PathBuf>,
    /// The latest counters (libpcap's and osiscope's).
    pub stats: CaptureStats,
}

/// What [`Session::dissect_for`] got done within its budget.
#[derive(Clone, Debug)]
pub enum Dissecting {
    /// The frame's model (`None` for a frame not indexed or no longer kept).
    Done(Option<Arc<Dissection>>),
    /// The frame is listed but the decoding, which goes in frame order, has
    /// not reached it: `decoded` of the `frames` listed so far are.
    Pending { decoded: u64, frames: u64 },
    /// Still replaying the frame's connection (`tcp.stream`): `fed` of its
    /// `total` frames up to this one.
    Replaying {
        stream: u32,
        fed: usize,
        total: usize,
    },
}

/// Describes a live capture to [`Session::capture`].
#[derive(Clone, Debug, Default)]
pub struct LiveInfo {
    pub interface: String,
    pub filter: Option<String>,
    pub write: Option<PathBuf>,
    /// Stops the capture when the session ends (none for a replayed source).
    pub control: Option<LiveControl>,
}

/// How far indexing has come.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// Frames in the list so far.
    pub frames: u64,
    /// Estimated fraction of the file listed, 0 to 1.
    pub fraction: f64,
    /// Frames decoded so far, in order from the first: their rows, their
    /// connections and messages are complete, and they can be dissected.
    /// A capture file is listed ahead of its decoding (see
    /// [`Session::open`]); everywhere else both go together.
    pub decoded: u64,
    /// Every frame is in the list (the decoding may still go on).
    pub listed: bool,
    /// The loader has finished (the whole file, an error or a limit).
    pub done: bool,
    /// Why indexing ended early, if it did (a truncated file, a limit).
    pub stopped: Option<String>,
}

/// One message from a loader thread.
#[derive(Debug)]
pub enum Update {
    Batch(Box<Batch>),
    /// The listing pass has listed every frame it will (see
    /// [`Session::open`]); the decoding pass goes on.
    Listed {
        /// Why the listing ended early, if it did.
        stopped: Option<String>,
    },
    /// A live capture's counters changed while no frame arrived.
    Stats(CaptureStats),
    Done {
        /// Messages still open when the capture ended.
        messages: Vec<WsMessage>,
        streams: Vec<StreamSummary>,
        /// How messages were delivered (polling, long polling, SSE, WebSocket).
        delivery: Box<DeliveryReport>,
        stopped: Option<String>,
        /// A live capture's final counters.
        stats: Option<CaptureStats>,
    },
}

/// Frames indexed since the previous batch.
#[derive(Debug, Default)]
pub struct Batch {
    /// The rows come from the decoding (otherwise from the frames' own
    /// headers, later replaced).
    decoded: bool,
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
    /// A live capture's counters when the batch was sent.
    stats: Option<CaptureStats>,
}

/// Where a frame's bytes sit in the session's store, and its capture facts.
#[derive(Clone, Copy, Debug)]
struct StoredFrame {
    /// Where the frame's bytes are: in the capture file (`in_file`), read
    /// again from there when asked for (see [`RecordWalker`]), or else in
    /// its batch's chunk of bytes kept in memory. (One offset and a flag:
    /// millions of frames are kept, 40 bytes each.)
    at: u64,
    in_file: bool,
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
    /// The frames before this one have been fed (by number, so the cursor
    /// survives the window moving on).
    next: u64,
    pipeline: Pipeline,
}

/// The captured bytes of one batch of frames.
#[derive(Debug)]
struct Chunk {
    /// The number of the batch's first frame.
    first: u64,
    bytes: Vec<u8>,
}

/// An opened capture: its index, its frames, and dissections on demand.
#[derive(Debug)]
pub struct Session {
    path: PathBuf,
    limits: SessionLimits,
    /// The limits of the pipelines that index and replay.
    pipeline_limits: Limits,
    config: BuildConfig,
    rows: Window<Row>,
    frames: Window<StoredFrame>,
    chunks: VecDeque<Chunk>,
    /// The capture file, for the frames whose bytes are read again from it.
    file: Option<std::fs::File>,
    /// The number of the oldest frame kept (1 until frames are evicted).
    first: u64,
    /// Captured bytes of the frames kept in memory.
    kept_bytes: usize,
    /// Frames evicted since the indexes were last pruned.
    unpruned: usize,
    /// The first frame's time, the origin of relative times.
    start_ts: Option<Timestamp>,
    messages: Window<WsMessage>,
    streams: Vec<StreamSummary>,
    delivery: Option<DeliveryReport>,
    /// Per `tcp.stream`: its frames in capture order, each as its number
    /// minus one modulo 2^32 (see [`pack`]); entries older than the window
    /// are pruned in bulk, and skipped until then.
    stream_frames: Vec<Vec<u32>>,
    /// Per `tcp.stream`: the frame that completed the opening handshake.
    handshakes: HashMap<u32, FrameNumber>,
    reassembled_in: HashMap<u64, Vec<FrameNumber>>,
    fragments: HashMap<u64, Vec<u64>>,
    progress: Progress,
    /// The last poll ran out of time with updates waiting.
    behind: bool,
    receiver: Option<Receiver<Update>>,
    cursor: Option<Cursor>,
    cache: VecDeque<(u64, Arc<Dissection>)>,
    live: Option<LiveStatus>,
    control: Option<LiveControl>,
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(control) = &self.control {
            control.stop();
        }
    }
}

/// A frame number as the stream lists keep it: number minus one, modulo
/// 2^32. Unambiguous while the window holds fewer than 2^32 frames.
fn pack(number: u64) -> u32 {
    u32::try_from(number.wrapping_sub(1) & u64::from(u32::MAX)).unwrap_or(0)
}

/// How many entries at the front of a stream list are older than `first`.
/// Entries lie within 2^31 frames of `first` either way, so the distance
/// from `first` modulo 2^32 tells older (large) from kept (small).
fn evicted_in(list: &[u32], first: u64) -> usize {
    let base = pack(first);
    list.partition_point(|&packed| packed.wrapping_sub(base) >= 1 << 31)
}

/// A stream list entry's frame number, for an entry not older than `first`.
fn unpack(packed: u32, first: u64) -> FrameNumber {
    FrameNumber(first.saturating_add(u64::from(packed.wrapping_sub(pack(first)))))
}

/// Where a channel of updates leads: unbounded for files (the reader never
/// stops polling), bounded for live captures (a paused reader holds the
/// loader back instead of letting batches pile up).
enum Outbox {
    Unbounded(Sender<Update>),
    Bounded(SyncSender<Update>),
}

impl Outbox {
    /// Sends; false when the session has gone.
    fn send(&self, update: Update) -> bool {
        match self {
            Outbox::Unbounded(sender) => sender.send(update).is_ok(),
            Outbox::Bounded(sender) => sender.send(update).is_ok(),
        }
    }
}

/// Batches a live session lets wait for the reader.
const LIVE_BATCHES_WAITING: usize = 16;

impl Session {
    /// Opens a capture and starts indexing it in the background.
    ///
    /// The file is opened here, so a missing or unreadable file is an error
    /// at once; everything after that arrives through [`Session::poll`].
    ///
    /// A capture file that can be read twice is indexed by two passes on
    /// two threads: a listing pass keeps every frame (where it is in the
    /// file) and sends a row from each frame's own headers
    /// ([`Row::listed`]), so the whole list is there in about the time it
    /// takes to read the file; a decoding pass runs the pipeline in frame
    /// order and replaces each row with the decoded one, adding connections,
    /// messages and the rest. [`Progress::decoded`] says how far it came;
    /// a frame beyond it is [`Dissecting::Pending`]. Anything else (standard
    /// input, a pipe, a file the record walk does not follow) is indexed by
    /// one pass that does both.
    pub fn open(path: &Path, limits: SessionLimits) -> Result<Session, SourceError> {
        Session::open_with(
            path,
            Limits {
                session: limits,
                ..Limits::default()
            },
        )
    }

    /// Opens a capture with every limit given (`limits.session` for the
    /// session itself, the rest for its pipelines) and starts indexing it.
    pub fn open_with(path: &Path, limits: Limits) -> Result<Session, SourceError> {
        let source = FileSource::open(path)?;
        let file_len = std::fs::metadata(path).map_or(0, |meta| meta.len());
        let (sender, receiver) = mpsc::channel();
        let config = BuildConfig::default();
        let loader_config = config.clone();
        let loader_limits = limits.clone();
        let (walker, file) = reopen(path);
        let thread_error = |error: std::io::Error| SourceError::Open {
            path: path.display().to_string(),
            reason: format!("cannot start the indexing thread: {error}"),
        };
        let role = match listing_source(path, walker, file.is_some()) {
            Ok((listing_source, walker)) => {
                let listing = Arc::new(Listing::default());
                let store = FrameStore::new(Some(walker), limits.session);
                let outbox = Outbox::Unbounded(sender.clone());
                let shared = Arc::clone(&listing);
                thread::Builder::new()
                    .name("osiscope-list".into())
                    .spawn(move || list(listing_source, store, file_len, &shared, &outbox))
                    .map_err(thread_error)?;
                Role::Decode(listing)
            }
            Err(walker) => Role::Whole(FrameStore::new(walker, limits.session)),
        };
        thread::Builder::new()
            .name("osiscope-index".into())
            .spawn(move || {
                load(
                    source,
                    role,
                    file_len,
                    loader_limits,
                    loader_config,
                    &Outbox::Unbounded(sender),
                );
            })
            .map_err(thread_error)?;
        let mut session = Session::with_receiver(path, limits, config, receiver);
        session.file = file;
        Ok(session)
    }

    /// Lists a capture file completely, as [`Session::open`]'s first pass
    /// does, and returns the session with every frame listed and none
    /// decoded, and the decoding pass to run (on any thread; the session
    /// applies what it sent at its next [`Session::poll`]). For tests of
    /// the states in between and for batch use; an error for a file that
    /// cannot be listed ahead (see [`Session::open`]).
    pub fn list_blocking_with(
        path: &Path,
        limits: Limits,
    ) -> Result<(Session, Decoding), SourceError> {
        let source = FileSource::open(path)?;
        let file_len = std::fs::metadata(path).map_or(0, |meta| meta.len());
        let (walker, file) = reopen(path);
        let Ok((listing_source, walker)) = listing_source(path, walker, file.is_some()) else {
            return Err(SourceError::Open {
                path: path.display().to_string(),
                reason: "the file cannot be listed ahead of its decoding (it cannot be read twice, or its records are not walked)".into(),
            });
        };
        let (sender, receiver) = mpsc::channel();
        let listing = Arc::new(Listing::default());
        let outbox = Outbox::Unbounded(sender);
        let store = FrameStore::new(Some(walker), limits.session);
        list(listing_source, store, file_len, &listing, &outbox);
        let config = BuildConfig::default();
        let decoding = Decoding {
            source,
            listing,
            file_len,
            limits: limits.clone(),
            config: config.clone(),
            outbox,
        };
        let mut session = Session::with_receiver(path, limits, config, receiver);
        session.file = file;
        session.poll();
        Ok((session, decoding))
    }

    /// Indexes a live capture (or any source that waits for frames) on a
    /// thread of its own, keeping the window `limits` set.
    pub fn capture<S: Source + Send + 'static>(
        source: S,
        info: LiveInfo,
        limits: SessionLimits,
    ) -> Result<Session, SourceError> {
        Session::capture_with(
            source,
            info,
            Limits {
                session: limits,
                ..Limits::default()
            },
        )
    }

    /// [`Session::capture`] with every limit given (`limits.session` for the
    /// window, the rest for its pipelines).
    pub fn capture_with<S: Source + Send + 'static>(
        source: S,
        info: LiveInfo,
        limits: Limits,
    ) -> Result<Session, SourceError> {
        let (sender, receiver) = mpsc::sync_channel(LIVE_BATCHES_WAITING);
        let config = BuildConfig::default();
        let loader_config = config.clone();
        let stats = source.capture_stats().unwrap_or_default();
        thread::Builder::new()
            .name("osiscope-index".into())
            .spawn({
                let limits = limits.clone();
                move || {
                    load(
                        source,
                        Role::Whole(FrameStore::new(None, limits.session)),
                        0,
                        limits,
                        loader_config,
                        &Outbox::Bounded(sender),
                    )
                }
            })
            .map_err(|error| SourceError::CaptureOpen {
                interface: info.interface.clone(),
                reason: format!("cannot start the indexing thread: {error}"),
            })?;
        let mut session =
            Session::with_receiver(Path::new(&info.interface), limits, config, receiver);
        session.live = Some(LiveStatus {
            interface: info.interface,
            filter: info.filter,
            write: info.write,
            stats,
        });
        session.control = info.control;
        Ok(session)
    }

    /// Opens and indexes a capture completely before returning (for tests
    /// and batch use).
    pub fn open_blocking(path: &Path, limits: SessionLimits) -> Result<Session, SourceError> {
        Session::open_blocking_with(
            path,
            Limits {
                session: limits,
                ..Limits::default()
            },
        )
    }

    /// [`Session::open_blocking`] with every limit given.
    pub fn open_blocking_with(path: &Path, limits: Limits) -> Result<Session, SourceError> {
        let source = FileSource::open(path)?;
        let file_len = std::fs::metadata(path).map_or(0, |meta| meta.len());
        let (sender, receiver) = mpsc::channel();
        let config = BuildConfig::default();
        let (walker, file) = reopen(path);
        load(
            source,
            Role::Whole(FrameStore::new(walker, limits.session)),
            file_len,
            limits.clone(),
            config.clone(),
            &Outbox::Unbounded(sender),
        );
        let mut session = Session::with_receiver(path, limits, config, receiver);
        session.file = file;
        session.poll();
        Ok(session)
    }

    fn with_receiver(
        path: &Path,
        limits: Limits,
        config: BuildConfig,
        receiver: Receiver<Update>,
    ) -> Session {
        Session {
            path: path.to_path_buf(),
            limits: limits.session,
            pipeline_limits: limits,
            config,
            rows: Window::default(),
            frames: Window::default(),
            chunks: VecDeque::new(),
            file: None,
            first: 1,
            kept_bytes: 0,
            unpruned: 0,
            start_ts: None,
            messages: Window::default(),
            streams: Vec::new(),
            delivery: None,
            stream_frames: Vec::new(),
            handshakes: HashMap::new(),
            reassembled_in: HashMap::new(),
            fragments: HashMap::new(),
            progress: Progress::default(),
            behind: false,
            receiver: Some(receiver),
            cursor: None,
            cache: VecDeque::new(),
            live: None,
            control: None,
        }
    }

    /// Applies what the loaders sent since the last call; returns whether
    /// anything changed. Never blocks.
    pub fn poll(&mut self) -> bool {
        self.poll_for(Duration::MAX)
    }

    /// [`Session::poll`] within a time budget: stops applying updates once
    /// `budget` has passed (one update at least), leaving the rest for the
    /// next call, so a view that polls between keys never holds a key long
    /// while a large file's batches pour in.
    pub fn poll_for(&mut self, budget: Duration) -> bool {
        let deadline = Instant::now().checked_add(budget);
        let mut changed = false;
        self.behind = false;
        loop {
            if changed && deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                self.behind = true;
                return true;
            }
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
                let batch = *batch;
                // A batch of the decoding pass behind a listing has no frames.
                let lists = !batch.frames.is_empty();
                if let (Some(first), true) = (batch.rows.first(), lists) {
                    if self.start_ts.is_none() {
                        self.start_ts = Some(first.ts);
                    }
                    self.chunks.push_back(Chunk {
                        first: first.number.0,
                        bytes: batch.bytes,
                    });
                }
                for frame in batch.frames {
                    if !frame.in_file {
                        self.kept_bytes = self.kept_bytes.saturating_add(frame.cap_len as usize);
                    }
                    self.frames.push(frame);
                }
                for row in batch.rows {
                    if batch.decoded {
                        self.progress.decoded = row.number.0;
                    }
                    if let Some(tcp) = &row.tcp {
                        let index = usize::try_from(tcp.stream).unwrap_or(usize::MAX);
                        if index < self.stream_frames.len().saturating_add(1 << 16) {
                            if self.stream_frames.len() <= index {
                                self.stream_frames.resize_with(index + 1, Vec::new);
                            }
                            if let Some(list) = self.stream_frames.get_mut(index) {
                                list.push(pack(row.number.0));
                            }
                        }
                    }
                    // A decoded row replaces the row its frame was listed with.
                    match self.index_of(row.number) {
                        Some(index) if index < self.rows.len() => {
                            if let Some(listed) = self.rows.as_mut_slice().get_mut(index) {
                                *listed = row;
                            }
                        }
                        Some(index) if index == self.rows.len() => self.rows.push(row),
                        // Rows arrive in frame order, listed before decoded.
                        _ => {}
                    }
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
                if self.limits.evict {
                    self.evict();
                }
                self.progress.frames = self.last_number();
                if lists {
                    self.progress.fraction = batch.fraction;
                }
                if let (Some(live), Some(stats)) = (self.live.as_mut(), batch.stats) {
                    live.stats = stats;
                }
            }
            Update::Stats(stats) => {
                if let Some(live) = self.live.as_mut() {
                    live.stats = stats;
                }
            }
            Update::Listed { stopped } => {
                self.progress.listed = true;
                self.progress.fraction = 1.0;
                self.progress.stopped = stopped;
            }
            Update::Done {
                messages,
                streams,
                delivery,
                stopped,
                stats,
            } => {
                self.messages.extend(messages);
                self.messages
                    .as_mut_slice()
                    .sort_by_key(|message| message.frames.last().copied());
                if self.limits.evict {
                    self.evict();
                }
                self.streams = streams;
                self.delivery = Some(*delivery);
                self.progress.done = true;
                self.progress.listed = true;
                self.progress.fraction = 1.0;
                // The decoding ends where the listing did: the listing's
                // reason (a limit) stands unless the decoding has its own.
                if stopped.is_some() {
                    self.progress.stopped = stopped;
                }
                if let (Some(live), Some(stats)) = (self.live.as_mut(), stats) {
                    live.stats = stats;
                }
                // Dissections made before now lack what later frames taught
                // (the frames their bytes were reassembled in).
                self.cache.clear();
                self.cursor = None;
            }
        }
    }

    /// Drops the oldest frames beyond the window (frames and bytes), with
    /// the messages that ended in them; prunes the indexes in bulk.
    fn evict(&mut self) {
        let frames = self.frames.as_slice();
        let mut n = frames.len().saturating_sub(self.limits.max_frames);
        let mut kept_bytes = self.kept_bytes;
        for frame in frames.get(..n).unwrap_or_default() {
            kept_bytes = kept_bytes.saturating_sub(frame.cap_len as usize);
        }
        while kept_bytes > self.limits.max_frame_bytes {
            let Some(frame) = frames.get(n) else { break };
            kept_bytes = kept_bytes.saturating_sub(frame.cap_len as usize);
            n += 1;
        }
        if n == 0 {
            return;
        }
        self.rows.drop_oldest(n);
        self.frames.drop_oldest(n);
        self.kept_bytes = kept_bytes;
        self.first = self.first.saturating_add(n as u64);
        while self
            .chunks
            .get(1)
            .is_some_and(|next| next.first <= self.first)
        {
            self.chunks.pop_front();
        }
        if self.rows.is_empty() {
            self.chunks.clear();
        }
        let first = self.first;
        let gone = self
            .messages
            .as_slice()
            .iter()
            .take_while(|message| message.frames.last().is_none_or(|last| last.0 < first))
            .count();
        self.messages.drop_oldest(gone);
        self.cache.retain(|(number, _)| *number >= first);
        self.unpruned = self.unpruned.saturating_add(n);
        if self.unpruned >= (self.limits.max_frames / 4).max(4096) {
            self.unpruned = 0;
            for list in &mut self.stream_frames {
                let skip = evicted_in(list, first);
                list.drain(..skip);
                if list.is_empty() {
                    *list = Vec::new();
                }
            }
            self.reassembled_in.retain(|frame, _| *frame >= first);
            self.fragments.retain(|frame, _| *frame >= first);
            self.handshakes.retain(|_, frame| frame.0 >= first);
        }
    }

    /// The last [`Session::poll_for`] left updates waiting.
    pub fn behind(&self) -> bool {
        self.behind
    }

    /// The capture file's path (a live capture's interface).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// A live capture's interface, filter, file and counters; `None` for a
    /// capture file.
    pub fn live(&self) -> Option<&LiveStatus> {
        self.live.as_ref()
    }

    /// Frames that left a live capture's window (the oldest ones).
    pub fn n_evicted(&self) -> u64 {
        self.first.saturating_sub(1)
    }

    /// The number of the newest frame indexed (0 before the first).
    pub fn last_number(&self) -> u64 {
        self.n_evicted().saturating_add(self.rows.len() as u64)
    }

    /// The first frame's time (the origin of relative times), also once it
    /// has left the window.
    pub fn start_time(&self) -> Timestamp {
        self.start_ts.unwrap_or_default()
    }

    /// Stops a live capture and waits until its `-w` file is complete;
    /// returns the final counters (`None` for a capture file).
    pub fn stop_capture(&mut self) -> Option<CaptureStats> {
        let stats = self.control.as_ref()?.stop_and_wait();
        if let Some(live) = self.live.as_mut() {
            live.stats = stats;
        }
        Some(stats)
    }

    /// The packet list so far, oldest kept frame first.
    pub fn rows(&self) -> &[Row] {
        self.rows.as_slice()
    }

    /// The row of a 1-based frame number.
    pub fn row(&self, number: FrameNumber) -> Option<&Row> {
        self.rows.as_slice().get(self.index_of(number)?)
    }

    /// Where a frame sits in [`Session::rows`].
    pub fn index_of(&self, number: FrameNumber) -> Option<usize> {
        usize::try_from(number.0.checked_sub(self.first)?).ok()
    }

    /// Every WebSocket message found so far, in the order they ended.
    pub fn messages(&self) -> &[WsMessage] {
        self.messages.as_slice()
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

    /// The kept frames of one TCP connection, ascending.
    pub fn stream_frames(&self, stream: u32) -> Vec<FrameNumber> {
        let first = self.first;
        self.stream_list(stream)
            .iter()
            .map(|&packed| unpack(packed, first))
            .collect()
    }

    /// A connection's list entries within the window.
    fn stream_list(&self, stream: u32) -> &[u32] {
        let list = usize::try_from(stream)
            .ok()
            .and_then(|index| self.stream_frames.get(index))
            .map_or(&[][..], Vec::as_slice);
        list.get(evicted_in(list, self.first)..).unwrap_or_default()
    }

    /// The frame that carried a connection's handshake answer, if seen and
    /// still kept.
    pub fn handshake_frame(&self, stream: u32) -> Option<FrameNumber> {
        self.handshakes
            .get(&stream)
            .copied()
            .filter(|frame| frame.0 >= self.first)
    }

    /// The captured bytes of a frame: from memory, or read again from the
    /// capture file.
    pub fn frame_bytes(&self, number: FrameNumber) -> Option<Cow<'_, [u8]>> {
        let stored = self.stored(number)?;
        if stored.in_file {
            let mut bytes = vec![0; stored.cap_len as usize];
            self.file
                .as_ref()?
                .read_exact_at(&mut bytes, stored.at)
                .ok()?;
            return Some(Cow::Owned(bytes));
        }
        let offset = usize::try_from(stored.at).ok()?;
        let chunk = self
            .chunks
            .partition_point(|chunk| chunk.first <= number.0)
            .checked_sub(1)?;
        self.chunks
            .get(chunk)?
            .bytes
            .get(offset..offset.saturating_add(stored.cap_len as usize))
            .map(Cow::Borrowed)
    }

    /// When a frame was captured.
    pub fn timestamp(&self, number: FrameNumber) -> Option<Timestamp> {
        self.stored(number).map(|stored| stored.ts)
    }

    fn stored(&self, number: FrameNumber) -> Option<&StoredFrame> {
        self.frames.as_slice().get(self.index_of(number)?)
    }

    /// Hands a frame, as the source gave it, to `f`.
    fn with_raw<T>(&self, number: FrameNumber, f: impl FnOnce(&RawFrame<'_>) -> T) -> Option<T> {
        let stored = self.stored(number)?;
        let data = self.frame_bytes(number)?;
        Some(f(&RawFrame {
            number,
            ts: stored.ts,
            orig_len: stored.orig_len as usize,
            link_type: stored.link_type,
            data: &data,
        }))
    }

    /// Writes the kept frames to a pcapng file; returns how many.
    pub fn save(&self, path: &Path) -> Result<u64, SourceError> {
        let failed = |err: std::io::Error| SourceError::Write {
            path: path.display().to_string(),
            reason: err.to_string(),
        };
        let file = std::fs::File::create(path).map_err(failed)?;
        let interface = self.live.as_ref().map(|live| live.interface.as_str());
        let mut writer =
            PcapngWriter::new(std::io::BufWriter::new(file), 262_144, interface).map_err(failed)?;
        for number in self.first..=self.last_number() {
            let written = self.with_raw(FrameNumber(number), |frame| {
                writer.write(frame.ts, frame.orig_len, frame.link_type, frame.data)
            });
            if let Some(written) = written {
                written.map_err(failed)?;
            }
        }
        let n_written = writer.n_written();
        writer.finish().map_err(failed)?;
        Ok(n_written)
    }

    /// The full model of one frame, as a two-pass decode of the whole
    /// capture gives it; `None` for a frame not indexed yet (or no longer
    /// kept). Replays the frame's connection up to it, however long that
    /// takes: a view that must not wait uses [`Session::dissect_for`].
    pub fn dissect(&mut self, number: FrameNumber) -> Option<Arc<Dissection>> {
        match self.dissect_until(number, None) {
            Dissecting::Done(dissection) => dissection,
            Dissecting::Replaying { .. } | Dissecting::Pending { .. } => None,
        }
    }

    /// [`Session::dissect`] within a time budget: when the frame's
    /// connection takes longer to replay, says how far the replay came; the
    /// next call goes on from there. A budget too long to add to the clock
    /// (`Duration::MAX`) sets no limit. A frame the decoding has not reached
    /// is [`Dissecting::Pending`].
    pub fn dissect_for(&mut self, number: FrameNumber, budget: Duration) -> Dissecting {
        self.dissect_until(number, Instant::now().checked_add(budget))
    }

    fn dissect_until(&mut self, number: FrameNumber, deadline: Option<Instant>) -> Dissecting {
        if let Some((_, dissection)) = self.cache.iter().find(|(n, _)| *n == number.0) {
            return Dissecting::Done(Some(Arc::clone(dissection)));
        }
        let Some(row) = self.row(number) else {
            return Dissecting::Done(None);
        };
        if number.0 > self.progress.decoded {
            return Dissecting::Pending {
                decoded: self.progress.decoded,
                frames: self.progress.frames,
            };
        }
        let dissection = match row.tcp.as_ref().map(|tcp| tcp.stream) {
            Some(stream) => match self.replay(stream, number, deadline) {
                Ok(Some(dissection)) => dissection,
                Ok(None) => return Dissecting::Done(None),
                Err(replaying) => return replaying,
            },
            None => {
                let mut pipeline =
                    Pipeline::with_limits(self.config.clone(), self.pipeline_limits.clone())
                        .with_reassembled_in(self.reassembled_for(&[number.0]));
                self.advance_fragments(&mut pipeline, number);
                let Some(Some(dissection)) =
                    self.with_raw(number, |frame| pipeline.process(frame, true).dissection)
                else {
                    return Dissecting::Done(None);
                };
                dissection
            }
        };
        let dissection = Arc::new(dissection);
        self.cache.push_back((number.0, Arc::clone(&dissection)));
        while self.cache.len() > self.limits.cache.max(1) {
            self.cache.pop_front();
        }
        Dissecting::Done(Some(dissection))
    }

    /// Replays a connection up to `number`, going on from the last replay
    /// when it is the same connection and not past the frame. Past the
    /// deadline it stops, keeps its place, and says how far it came.
    fn replay(
        &mut self,
        stream: u32,
        number: FrameNumber,
        deadline: Option<Instant>,
    ) -> Result<Option<Dissection>, Dissecting> {
        let first = self.first;
        // Within the window, the distance from `first` grows along a list.
        let base = pack(first);
        let distance = |packed: u32| packed.wrapping_sub(base);
        let target = distance(pack(number.0));
        let list = self.stream_list(stream);
        let position = list.partition_point(|&packed| distance(packed) < target);
        if list.get(position).map(|&packed| distance(packed)) != Some(target) {
            return Ok(None);
        }
        let goes_on = self.cursor.as_ref().is_some_and(|cursor| {
            cursor.stream == stream && cursor.next <= number.0 && cursor.next >= first
        });
        let mut cursor = match self.cursor.take() {
            Some(cursor) if goes_on => cursor,
            _ => {
                let frames: Vec<u64> = self
                    .stream_list(stream)
                    .iter()
                    .map(|&packed| unpack(packed, first).0)
                    .collect();
                Cursor {
                    stream,
                    next: first,
                    pipeline: Pipeline::with_limits(
                        self.config.clone(),
                        self.pipeline_limits.clone(),
                    )
                    .starting_at_stream(stream)
                    .with_reassembled_in(self.reassembled_for(&frames)),
                }
            }
        };
        let list = self.stream_list(stream);
        let from = distance(pack(cursor.next));
        let start = list.partition_point(|&packed| distance(packed) < from);
        let Some(steps) = list.get(start..=position) else {
            return Ok(None);
        };
        let steps: Vec<FrameNumber> = steps.iter().map(|&packed| unpack(packed, first)).collect();
        let mut result = None;
        for (done, here) in steps.into_iter().enumerate() {
            // The clock is read every few frames: a frame takes microseconds.
            if done % 64 == 63 && deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                cursor.next = here.0;
                self.cursor = Some(cursor);
                return Err(Dissecting::Replaying {
                    stream,
                    fed: start.saturating_add(done),
                    total: position.saturating_add(1),
                });
            }
            self.advance_fragments(&mut cursor.pipeline, here);
            let fed = self.with_raw(here, |frame| {
                if here == number {
                    result = cursor.pipeline.process(frame, true).dissection;
                } else {
                    cursor.pipeline.advance(frame);
                }
            });
            if fed.is_none() {
                return Ok(None);
            }
        }
        cursor.next = number.0.saturating_add(1);
        self.cursor = Some(cursor);
        Ok(result)
    }

    /// Feeds the fragments an IPv4 datagram of this frame was rebuilt from.
    fn advance_fragments(&self, pipeline: &mut Pipeline, number: FrameNumber) {
        for &fragment in self.fragments.get(&number.0).into_iter().flatten() {
            self.with_raw(FrameNumber(fragment), |frame| pipeline.advance(frame));
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

/// Captured bytes per batch at most (a few frames more for the last one).
const BATCH_BYTES: usize = 4 << 20;

/// A batch is sent at the latest this long after its first frame.
const BATCH_AGE: Duration = Duration::from_millis(100);

/// How long the decoding pass sleeps while it waits for the listing.
const LISTING_WAIT: Duration = Duration::from_millis(2);

/// Frames decoded while the listing goes on (see [`Listing`]).
const DECODED_WHILE_LISTING: u64 = 16_384;

/// How often an idle live loader sends changed counters.
const STATS_IDLE: Duration = Duration::from_millis(250);

/// The walk of a capture file's records, and the file to read frames again
/// from; neither for standard input, a pipe, or a file the walk does not
/// follow (their frames are kept in memory).
fn reopen(path: &Path) -> (Option<RecordWalker>, Option<std::fs::File>) {
    // A pipe (`<(...)`, a FIFO) can be read once, by libpcap: a second
    // reader would take bytes from it.
    let regular = std::fs::metadata(path).is_ok_and(|meta| meta.is_file());
    if path == Path::new("-") || !regular {
        return (None, None);
    }
    match (RecordWalker::open(path), std::fs::File::open(path)) {
        (Some(walker), Ok(file)) => (Some(walker), Some(file)),
        _ => (None, None),
    }
}

/// How far a listing pass has come, shared with the decoding pass behind
/// it: the decoding never sends a frame's row before the listing has sent
/// the frame, so the session always replaces a listed row. Past the first
/// [`DECODED_WHILE_LISTING`] frames (enough for the first screens) the
/// decoding waits for the listing to end: both would compete for the same
/// cores, with the thread that applies their batches. The whole list comes
/// sooner (on the 1 GB capture of `scripts/bench`, 3.7 s against 5.1 s in
/// one run each),
/// and the decoding's end was not measurably later (within run-to-run noise).
#[derive(Debug, Default)]
struct Listing {
    /// Frames the listing has sent to the session.
    sent: AtomicU64,
    /// The listing has ended (the file's end, an error, a limit, or the
    /// session gone): no frame after `sent` will be listed.
    ended: AtomicBool,
}

impl Listing {
    /// Waits until frame `number` may be decoded; false when it was never
    /// listed (the listing stopped before it).
    fn wait_for(&self, number: u64) -> bool {
        loop {
            // `ended` is read first: once it is set, `sent` is final.
            let ended = self.ended.load(Ordering::Acquire);
            let sent = self.sent.load(Ordering::Acquire);
            if ended {
                return sent >= number;
            }
            if sent >= number && number <= DECODED_WHILE_LISTING {
                return true;
            }
            thread::sleep(LISTING_WAIT);
        }
    }
}

/// A decoding pass waiting to run (see [`Session::list_blocking_with`]).
pub struct Decoding {
    source: FileSource,
    listing: Arc<Listing>,
    file_len: u64,
    limits: Limits,
    config: BuildConfig,
    outbox: Outbox,
}

impl std::fmt::Debug for Decoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoding").finish_non_exhaustive()
    }
}

impl Decoding {
    /// Decodes every listed frame, sending the rows, messages and the rest
    /// to the session.
    pub fn run(self) {
        load(
            self.source,
            Role::Decode(self.listing),
            self.file_len,
            self.limits,
            self.config,
            &self.outbox,
        );
    }
}

/// A second reader of a capture file for its listing pass, with the record
/// walk it needs; the walk back (if any) when the file cannot be listed
/// ahead (not a regular file, or not walked).
fn listing_source(
    path: &Path,
    walker: Option<RecordWalker>,
    regular: bool,
) -> Result<(FileSource, RecordWalker), Option<RecordWalker>> {
    match (walker, regular) {
        (Some(walker), true) => match FileSource::open(path) {
            Ok(source) => Ok((source, walker)),
            Err(_) => Err(Some(walker)),
        },
        (walker, _) => Err(walker),
    }
}

/// Marks the listing ended however its thread leaves.
struct EndListing(Arc<Listing>);

impl Drop for EndListing {
    fn drop(&mut self) {
        self.0.ended.store(true, Ordering::Release);
    }
}

/// What the loader of a pass does besides decoding.
enum Role {
    /// Keeps every frame (or where it is in the file) and decodes it: the
    /// one pass over a pipe, standard input, a live capture, or a file
    /// opened with [`Session::open_blocking`].
    Whole(FrameStore),
    /// Decodes the frames a listing pass (which keeps them) has sent.
    Decode(Arc<Listing>),
}

/// Keeps the frames for the session: where each is in the capture file
/// (found by the record walk), or its bytes; stops at the session's limits.
struct FrameStore {
    walker: Option<RecordWalker>,
    limits: SessionLimits,
    /// Captured bytes kept in memory so far.
    stored_bytes: usize,
    n_frames: usize,
    /// Bytes of the file read so far, for the progress bar.
    read_estimate: u64,
}

impl FrameStore {
    fn new(walker: Option<RecordWalker>, limits: SessionLimits) -> FrameStore {
        FrameStore {
            walker,
            limits,
            stored_bytes: 0,
            n_frames: 0,
            read_estimate: 0,
        }
    }

    /// Adds the frame to the batch, or says why indexing stops before it.
    fn store(&mut self, frame: &RawFrame<'_>, batch: &mut Batch) -> Result<(), String> {
        // A frame the walk finds in the file is read again from there;
        // after the first it does not find, the walk is over.
        let file_offset = self
            .walker
            .as_mut()
            .and_then(|walker| walker.next_matching(frame.data));
        if file_offset.is_none() {
            self.walker = None;
        }
        let in_memory = if file_offset.is_some() {
            0
        } else {
            frame.data.len()
        };
        let limits = &self.limits;
        if !limits.evict
            && (self.n_frames >= limits.max_frames
                || self.stored_bytes.saturating_add(in_memory) > limits.max_frame_bytes)
        {
            return Err(format!(
                "indexing stopped after {} frames: the session keeps at most {} frames and {} MiB of captured bytes (--max-frames, --max-frame-bytes)",
                self.n_frames,
                limits.max_frames,
                limits.max_frame_bytes >> 20
            ));
        }
        self.n_frames += 1;
        self.stored_bytes = self.stored_bytes.saturating_add(in_memory);
        self.read_estimate = self
            .read_estimate
            .saturating_add(frame.data.len() as u64 + 16);
        batch.frames.push(StoredFrame {
            at: file_offset.unwrap_or(batch.bytes.len() as u64),
            in_file: file_offset.is_some(),
            cap_len: u32::try_from(frame.data.len()).unwrap_or(u32::MAX),
            orig_len: u32::try_from(frame.orig_len).unwrap_or(u32::MAX),
            link_type: frame.link_type,
            ts: frame.ts,
        });
        if file_offset.is_none() {
            batch.bytes.extend_from_slice(frame.data);
        }
        Ok(())
    }
}

impl Batch {
    /// An empty batch with room for a full one's rows (and frames, for a
    /// pass that keeps them).
    fn new(decoded: bool, keeps_frames: bool) -> Batch {
        Batch {
            decoded,
            rows: Vec::with_capacity(BATCH_FRAMES),
            frames: Vec::with_capacity(if keeps_frames { BATCH_FRAMES } else { 0 }),
            ..Batch::default()
        }
    }
}

/// Whether a batch is due: full, or its first frame waited long enough
/// (the clock is read for each of a batch's first frames, then for every
/// 64th: a frame takes microseconds).
fn batch_due(batch: &Batch, started: Instant) -> bool {
    let n = batch.rows.len();
    n >= BATCH_FRAMES
        || batch.bytes.len() >= BATCH_BYTES
        || ((n < 64 || n.is_multiple_of(64)) && started.elapsed() >= BATCH_AGE)
}

/// The listing pass over a capture file: keeps every frame (see
/// [`FrameStore`]) and sends the rows its own headers give
/// ([`Row::listed`]), so the whole list is there in about the time it takes
/// to read the file; the decoding pass replaces each row behind it.
fn list(
    source: FileSource,
    store: FrameStore,
    file_len: u64,
    listing: &Arc<Listing>,
    outbox: &Outbox,
) {
    let _end = EndListing(Arc::clone(listing));
    let mut source = source;
    let mut store = store;
    let config = BuildConfig::default();
    let mut interner = Interner::default();
    let mut batch = Batch::new(false, true);
    let mut started = Instant::now();
    let mut n_listed = 0u64;
    let mut stopped = None;
    // A read error ends indexing like a limit does, and is said the same way.
    let mut failure = None;
    let send = |batch: Batch, n_listed: u64| {
        let sent = outbox.send(Update::Batch(Box::new(batch)));
        listing.sent.store(n_listed, Ordering::Release);
        sent
    };
    while let Some(frame) = frame_or_stop(&mut source, &mut failure) {
        if let Err(reason) = store.store(&frame, &mut batch) {
            stopped = Some(reason);
            break;
        }
        if batch.rows.is_empty() {
            started = Instant::now();
        }
        batch.rows.push(Row::listed(&frame, &config, &mut interner));
        n_listed = frame.number.0;
        if batch_due(&batch, started) {
            batch.fraction = fraction(store.read_estimate, file_len);
            // Each batch its own shared strings: the session drops a batch's
            // rows as the decoding replaces them, and would otherwise keep
            // touching the counts of the strings this thread is sharing.
            interner = Interner::default();
            if !send(
                std::mem::replace(&mut batch, Batch::new(false, true)),
                n_listed,
            ) {
                return;
            }
        }
    }
    batch.fraction = fraction(store.read_estimate, file_len);
    if send(batch, n_listed) {
        let stopped = stopped.or(failure.map(|error| error.to_string()));
        let _ = outbox.send(Update::Listed { stopped });
    }
}

/// Reads the source through the pipeline, sending batches: full ones, and
/// whatever is there as soon as a live source has nothing more waiting.
fn load<S: Source>(
    mut source: S,
    mut role: Role,
    file_len: u64,
    pipeline_limits: Limits,
    config: BuildConfig,
    outbox: &Outbox,
) {
    let limits = pipeline_limits.session;
    // The delivery comparison keeps a record per message: a file's
    // capture has an end, a live capture (which evicts) does not.
    let mut pipeline = if limits.evict {
        Pipeline::with_limits(config.clone(), pipeline_limits)
    } else {
        Pipeline::with_limits(config.clone(), pipeline_limits).observing_delivery()
    };
    let keeps_frames = matches!(role, Role::Whole(_));
    let mut batch = Batch::new(true, keeps_frames);
    let mut batch_started = Instant::now();
    let mut stopped = None;
    // A read error ends indexing like a limit does, and is said the same way.
    let mut failure = None;
    let mut interner = Interner::default();
    let mut sent_stats = source.capture_stats();
    loop {
        if !source.wait(Duration::ZERO) {
            if !batch.rows.is_empty() {
                batch.stats = source.capture_stats();
                sent_stats = batch.stats;
                let full = std::mem::replace(
                    &mut batch,
                    Batch {
                        decoded: true,
                        ..Batch::default()
                    },
                );
                if !outbox.send(Update::Batch(Box::new(full))) {
                    return;
                }
            }
            while !source.wait(STATS_IDLE) {
                let stats = source.capture_stats();
                if stats != sent_stats {
                    sent_stats = stats;
                    if let Some(stats) = stats {
                        if !outbox.send(Update::Stats(stats)) {
                            return;
                        }
                    }
                }
            }
        }
        let Some(frame) = frame_or_stop(&mut source, &mut failure) else {
            break;
        };
        match &mut role {
            Role::Whole(store) => {
                if let Err(reason) = store.store(&frame, &mut batch) {
                    stopped = Some(reason);
                    break;
                }
                batch.fraction = fraction(store.read_estimate, file_len);
            }
            // The listing ended before this frame (a limit): so does the decoding.
            Role::Decode(listing) => {
                if !listing.wait_for(frame.number.0) {
                    break;
                }
            }
        }
        let (indexed, messages) = pipeline.process_with(&frame, |decoded, context| {
            Indexed::of(&frame, decoded, context, &config, &mut interner)
        });
        let Some(Indexed {
            row,
            handshake,
            sources,
            fragments,
        }) = indexed
        else {
            continue;
        };
        let number = frame.number.0;
        if let Some(tcp) = &row.tcp {
            if handshake {
                batch.handshakes.push((tcp.stream, frame.number));
            }
        }
        // Each earlier frame whose bytes this one reassembled, once.
        let mut earlier: Vec<u64> = sources
            .iter()
            .flatten()
            .map(|f| f.0)
            .filter(|f| *f != number)
            .collect();
        earlier.sort_unstable();
        earlier.dedup();
        batch
            .reassembled
            .extend(earlier.iter().map(|f| (*f, frame.number)));
        if !fragments.is_empty() {
            batch.fragments.push((number, fragments));
        }
        if batch.rows.is_empty() {
            batch_started = Instant::now();
        }
        batch.rows.push(row);
        batch.messages.extend(
            messages
                .into_iter()
                .map(|message| preview(message, limits.message_preview)),
        );
        if batch_due(&batch, batch_started) {
            batch.stats = source.capture_stats();
            sent_stats = batch.stats;
            let full = std::mem::replace(&mut batch, Batch::new(true, keeps_frames));
            if !outbox.send(Update::Batch(Box::new(full))) {
                return;
            }
        }
    }
    batch.stats = source.capture_stats();
    if !outbox.send(Update::Batch(Box::new(batch))) {
        return;
    }
    let messages = pipeline
        .finish()
        .into_iter()
        .map(|message| preview(message, limits.message_preview))
        .collect();
    let _ = outbox.send(Update::Done {
        messages,
        streams: pipeline.summaries(),
        delivery: Box::new(pipeline.delivery().unwrap_or_default()),
        stopped: stopped.or(failure.map(|error| error.to_string())),
        stats: source.capture_stats(),
    });
}

/// What the index keeps of a frame: its row, whether it carries a
/// handshake check, the frames of each reassembled data source its model
/// would have (after the frame's own bytes), and the earlier frames whose
/// IPv4 fragments its datagram was rebuilt from.
struct Indexed {
    row: Row,
    handshake: bool,
    sources: Vec<Vec<FrameNumber>>,
    fragments: Vec<u64>,
}

impl Indexed {
    /// From what the frame's model is built from; the model itself is built
    /// only for the frames whose row needs it (see [`Row::from_parts`]).
    fn of(
        frame: &RawFrame<'_>,
        decoded: &Decoded<'_>,
        context: &FrameContext,
        config: &BuildConfig,
        interner: &mut Interner,
    ) -> Indexed {
        if let Some(row) = Row::from_parts(frame, decoded, context, interner) {
            let handshake = context
                .app
                .iter()
                .any(|pdu| matches!(&pdu.kind, AppPduKind::HttpHead(_, Some(_))));
            let sources = context
                .app
                .iter()
                .filter_map(|pdu| match &pdu.bytes {
                    PduBytes::InFrame { .. } => None,
                    PduBytes::Reassembled { frames, .. } => Some(frames.clone()),
                    PduBytes::Unavailable => Some(Vec::new()),
                })
                .collect();
            // The row is made this way only for frames not rebuilt from fragments.
            return Indexed {
                row,
                handshake,
                sources,
                fragments: Vec::new(),
            };
        }
        let dissection = dissect::build(frame, decoded, context, config);
        let number = frame.number.0;
        let mut row = Row::from_dissection(&dissection);
        interner.share(&mut row);
        Indexed {
            fragments: decoded
                .reassembled
                .as_ref()
                .map(|datagram| {
                    datagram
                        .frames
                        .iter()
                        .copied()
                        .filter(|f| *f < number)
                        .collect()
                })
                .unwrap_or_default(),
            row,
            handshake: dissection.find(keys::handshake::CHECK).is_some(),
            sources: dissection
                .sources
                .into_iter()
                .skip(1)
                .map(|source| source.frames)
                .collect(),
        }
    }
}

fn preview(mut message: WsMessage, keep: usize) -> WsMessage {
    if message.payload.len() > keep {
        message.payload.truncate(keep);
        message.payload_complete = false;
    }
    // Kept for the whole session: no room reserved for bytes that are not there.
    message.payload.shrink_to_fit();
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

    #[test]
    fn a_kept_frame_costs_40_bytes() {
        assert_eq!(std::mem::size_of::<super::StoredFrame>(), 40);
    }

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
