//! Live capture from a network interface through libpcap.
//!
//! A capture thread of its own opens the interface (libpcap handles stay
//! on the thread that opened them), sets the BPF filter, writes every frame
//! to the `-w` file when there is one, and hands a copy of each frame to
//! the reader over a channel. It never waits for decoding: when the frames
//! waiting for the reader pass [`LiveConfig::queue_bytes`], it drops the
//! frame (still written to the file) and counts it as dropped by osiscope.
//! libpcap's statistics (received, dropped by the kernel, dropped by the
//! interface) are read every [`STATS_EVERY`] and at the end. When stopped,
//! the frames already in the kernel's buffer are still read (for at most
//! [`DRAIN_AT_MOST`]), so a capture that fell behind loses nothing unsaid.
//!
//! [`LiveSource`] is the reader's side and a [`Source`] like a file; it
//! waits for frames. The capture ends after `--count` frames, after
//! `--duration`, when stopped ([`LiveControl::stop`], Ctrl-C), or on an
//! error such as the interface going away; the frames before are kept.

use std::fs::File;
use std::io::BufWriter;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::dissect::{FrameNumber, Timestamp};
use crate::source::save::PcapngWriter;
use crate::source::{record_time_and_len, CaptureStats, RawFrame, Source, SourceError};

/// libpcap's read timeout, in milliseconds: how long frames may wait in
/// the kernel when not in immediate mode. (On Linux a read with nothing
/// to deliver may still wait beyond it, so stopping breaks the read.)
const READ_TIMEOUT_MS: i32 = 50;

/// How often the stop watcher checks whether the capture should end.
const WATCH_EVERY: Duration = Duration::from_millis(20);

/// How long frames still in the kernel's buffer are read after a stop.
const DRAIN_AT_MOST: Duration = Duration::from_secs(2);

/// How often libpcap's statistics are read and the `-w` file flushed.
pub const STATS_EVERY: Duration = Duration::from_millis(250);

/// Bytes charged per queued frame on top of its data (its bookkeeping).
const FRAME_OVERHEAD: usize = 64;

/// What to capture and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveConfig {
    /// The interface; `None` picks the one libpcap would pick.
    pub interface: Option<String>,
    /// A BPF capture filter (the tcpdump syntax).
    pub filter: Option<String>,
    /// Bytes kept of each frame.
    pub snaplen: u32,
    /// The kernel's capture buffer, in bytes (libpcap's buffer size).
    pub buffer_size: usize,
    /// Deliver each frame as it arrives instead of in blocks (libpcap's
    /// immediate mode). Off by default: in block mode frames arrive at most
    /// the read timeout (50 ms) late, the kernel's buffer packs small frames
    /// densely (on Linux immediate mode gives every frame a slot as large
    /// as the snaplen allows), and a wake-up serves many frames, so more
    /// frames per second are taken without drops at less CPU
    /// (`scripts/measure-live` compares both).
    pub immediate: bool,
    /// Put the interface in promiscuous mode.
    pub promisc: bool,
    /// Stop after this many frames.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Write every captured frame to this pcapng file.
    pub write: Option<PathBuf>,
    /// Bytes of frames that may wait for the reader before new frames are
    /// dropped (and counted).
    pub queue_bytes: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            interface: None,
            filter: None,
            snaplen: 262_144,
            buffer_size: 32 << 20,
            immediate: false,
            promisc: false,
            count: None,
            duration: None,
            write: None,
            queue_bytes: 64 << 20,
        }
    }
}

/// One network interface as libpcap lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub description: Option<String>,
    /// Addresses with their prefix length when the netmask gives one.
    pub addresses: Vec<(IpAddr, Option<u32>)>,
    pub up: bool,
    pub running: bool,
    pub loopback: bool,
}

/// The interfaces libpcap can capture on, in libpcap's order (the first is
/// the one it picks by default).
pub fn interfaces() -> Result<Vec<Interface>, SourceError> {
    let devices = pcap::Device::list().map_err(|err| SourceError::NoInterface {
        reason: libpcap_reason(&err),
    })?;
    Ok(devices
        .into_iter()
        .map(|device| Interface {
            addresses: device
                .addresses
                .iter()
                .map(|address| (address.addr, address.netmask.and_then(prefix_len)))
                .collect(),
            up: device.flags.is_up(),
            running: device.flags.is_running(),
            loopback: device.flags.is_loopback(),
            description: device.desc,
            name: device.name,
        })
        .collect())
}

/// The interface libpcap picks when none is named.
pub fn default_interface() -> Result<String, SourceError> {
    match pcap::Device::lookup() {
        Ok(Some(device)) => Ok(device.name),
        Ok(None) => Err(SourceError::NoInterface {
            reason: "libpcap lists none".into(),
        }),
        Err(err) => Err(SourceError::NoInterface {
            reason: libpcap_reason(&err),
        }),
    }
}

/// The prefix length of a netmask with contiguous ones.
fn prefix_len(netmask: IpAddr) -> Option<u32> {
    let (ones, bits) = match netmask {
        IpAddr::V4(mask) => (u32::from(mask).leading_ones(), 32),
        IpAddr::V6(mask) => (u128::from(mask).leading_ones(), 128),
    };
    let total = match netmask {
        IpAddr::V4(mask) => u32::from(mask).count_ones(),
        IpAddr::V6(mask) => u128::from(mask).count_ones(),
    };
    (ones == total && ones <= bits).then_some(ones)
}

/// How the capture thread ended, as it tells the reader.
#[derive(Clone, Debug, PartialEq, Eq)]
enum End {
    /// The count or duration was reached, or the capture was stopped.
    Finished,
    /// libpcap reported an error while reading (the interface went away).
    Failed(String),
    /// The `-w` file could not be written.
    WriteFailed(String),
}

/// One frame copied out of libpcap's buffer.
#[derive(Debug, Default)]
struct Captured {
    ts: Timestamp,
    orig_len: usize,
    data: Vec<u8>,
}

#[derive(Debug)]
enum Event {
    Frame(Captured),
    End(End),
}

/// State shared by the capture thread and its controls: counters only.
#[derive(Debug, Default)]
struct Shared {
    stop: Arc<AtomicBool>,
    captured: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    if_dropped: AtomicU64,
    osiscope_dropped: AtomicU64,
    written: AtomicU64,
    queued_bytes: AtomicUsize,
    /// The capture thread has left its loop.
    ended: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Why the capture ended early, if it did.
    failure: Mutex<Option<String>>,
}

impl Shared {
    fn stats(&self) -> CaptureStats {
        CaptureStats {
            captured: self.captured.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            if_dropped: self.if_dropped.load(Ordering::Relaxed),
            osiscope_dropped: self.osiscope_dropped.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
        }
    }
}

/// A handle to stop a capture and read its counters from another thread.
#[derive(Clone, Debug)]
pub struct LiveControl {
    shared: Arc<Shared>,
}

impl LiveControl {
    /// Asks the capture to end; it does within the read timeout.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }

    /// The flag that stops the capture when set (for a signal handler).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.shared.stop)
    }

    /// Why the capture ended on an error (the interface went away, the
    /// `-w` file could not be written), if it did.
    pub fn failure(&self) -> Option<String> {
        self.shared
            .failure
            .lock()
            .ok()
            .and_then(|slot| slot.clone())
    }

    /// The counters so far.
    pub fn stats(&self) -> CaptureStats {
        self.shared.stats()
    }

    /// Stops the capture, waits until its thread has ended (the `-w` file
    /// is complete then) and returns the final counters.
    pub fn stop_and_wait(&self) -> CaptureStats {
        self.stop();
        self.wait()
    }

    /// Waits until the capture thread has ended and returns the final
    /// counters.
    pub fn wait(&self) -> CaptureStats {
        let handle = self
            .shared
            .thread
            .lock()
            .ok()
            .and_then(|mut slot| slot.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        self.shared.stats()
    }
}

/// A live interface as a [`Source`]: frames as the capture thread hands
/// them over, numbered from 1.
#[derive(Debug)]
pub struct LiveSource {
    interface: String,
    link_type: u32,
    write: Option<PathBuf>,
    events: Receiver<Event>,
    peeked: Option<Event>,
    current: Captured,
    n_delivered: u64,
    finished: bool,
    control: LiveControl,
}

impl LiveSource {
    /// Opens the interface, sets the filter and starts capturing. Returns
    /// once libpcap is capturing with the filter in place, or with the
    /// error that prevented it (no permission, no such interface, a bad
    /// filter, an unwritable `-w` file); nothing is captured then.
    pub fn open(config: &LiveConfig) -> Result<LiveSource, SourceError> {
        let interface = match &config.interface {
            Some(name) => name.clone(),
            None => default_interface()?,
        };
        let shared = Arc::new(Shared::default());
        let (events, receiver) = mpsc::channel();
        let (ready, setup) = mpsc::channel();
        let thread_config = config.clone();
        let thread_interface = interface.clone();
        let thread_shared = Arc::clone(&shared);
        let handle = thread::Builder::new()
            .name("osiscope-capture".into())
            .spawn(move || {
                capture_thread(
                    &thread_interface,
                    &thread_config,
                    thread_shared,
                    &ready,
                    &events,
                );
            })
            .map_err(|err| SourceError::CaptureOpen {
                interface: interface.clone(),
                reason: format!("cannot start the capture thread: {err}"),
            })?;
        let link_type = match setup.recv() {
            Ok(Ok(link_type)) => link_type,
            Ok(Err(err)) => {
                let _ = handle.join();
                return Err(err);
            }
            Err(_) => {
                let _ = handle.join();
                return Err(SourceError::CaptureOpen {
                    interface,
                    reason: "the capture thread stopped while opening".into(),
                });
            }
        };
        if let Ok(mut slot) = shared.thread.lock() {
            *slot = Some(handle);
        }
        Ok(LiveSource {
            interface,
            link_type,
            write: config.write.clone(),
            events: receiver,
            peeked: None,
            current: Captured::default(),
            n_delivered: 0,
            finished: false,
            control: LiveControl { shared },
        })
    }

    /// The interface captured on.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The interface's link-layer header type.
    pub fn link_type(&self) -> u32 {
        self.link_type
    }

    /// A handle to stop the capture and read its counters.
    pub fn control(&self) -> LiveControl {
        self.control.clone()
    }

    /// Stops capturing, waits for the capture thread (the `-w` file is
    /// complete after this) and returns the final counters.
    pub fn finish(&mut self) -> CaptureStats {
        self.control.stop_and_wait()
    }

    fn stopped_error(&self, reason: String) -> SourceError {
        SourceError::CaptureStopped {
            interface: self.interface.clone(),
            after: self.control.stats().captured,
            reason,
            kept: self
                .write
                .as_ref()
                .map(|path| format!(" (and written to {})", path.display()))
                .unwrap_or_default(),
        }
    }
}

impl Drop for LiveSource {
    fn drop(&mut self) {
        self.control.stop();
    }
}

impl Source for LiveSource {
    fn next_frame(&mut self) -> Result<Option<RawFrame<'_>>, SourceError> {
        if self.finished {
            return Ok(None);
        }
        let event = match self.peeked.take() {
            Some(event) => event,
            None => self.events.recv().unwrap_or(Event::End(End::Finished)),
        };
        match event {
            Event::Frame(captured) => {
                self.control.shared.queued_bytes.fetch_sub(
                    captured.data.len().saturating_add(FRAME_OVERHEAD),
                    Ordering::Relaxed,
                );
                self.current = captured;
                self.n_delivered = self.n_delivered.saturating_add(1);
                Ok(Some(RawFrame {
                    number: FrameNumber(self.n_delivered),
                    ts: self.current.ts,
                    orig_len: self.current.orig_len,
                    link_type: self.link_type,
                    data: &self.current.data,
                }))
            }
            Event::End(end) => {
                self.finished = true;
                match end {
                    End::Finished => Ok(None),
                    End::Failed(reason) => Err(self.stopped_error(reason)),
                    End::WriteFailed(reason) => Err(SourceError::Write {
                        path: self
                            .write
                            .as_ref()
                            .map(|path| path.display().to_string())
                            .unwrap_or_default(),
                        reason,
                    }),
                }
            }
        }
    }

    fn wait(&mut self, timeout: Duration) -> bool {
        if self.finished || self.peeked.is_some() {
            return true;
        }
        let event = if timeout.is_zero() {
            match self.events.try_recv() {
                Ok(event) => event,
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return true,
            }
        } else {
            match self.events.recv_timeout(timeout) {
                Ok(event) => event,
                Err(RecvTimeoutError::Timeout) => return false,
                Err(RecvTimeoutError::Disconnected) => return true,
            }
        };
        self.peeked = Some(event);
        true
    }

    fn capture_stats(&self) -> Option<CaptureStats> {
        Some(self.control.stats())
    }
}

/// What the capture thread does with each frame: write it to the `-w`
/// file, then hand a copy to the reader unless too much is waiting.
struct Taker<'a> {
    config: &'a LiveConfig,
    shared: &'a Shared,
    events: &'a Sender<Event>,
    writer: Option<Writer>,
    link_type: u32,
}

impl Taker<'_> {
    fn count_reached(&self) -> bool {
        self.config
            .count
            .is_some_and(|count| self.shared.captured.load(Ordering::Relaxed) >= count)
    }

    /// Takes one frame; an `End` when capturing must stop (the file cannot
    /// be written, or the reader has gone).
    fn take(&mut self, packet: &pcap::Packet<'_>) -> Result<(), End> {
        let shared = self.shared;
        shared.captured.fetch_add(1, Ordering::Relaxed);
        let (ts, orig_len) = record_time_and_len(packet.header);
        if let Some(writer) = self.writer.as_mut() {
            // The link type cannot change during a live capture.
            writer
                .write(ts, orig_len, self.link_type, packet.data)
                .map_err(|err| End::WriteFailed(err.to_string()))?;
            shared.written.fetch_add(1, Ordering::Relaxed);
        }
        let charge = packet.data.len().saturating_add(FRAME_OVERHEAD);
        let queued = shared.queued_bytes.load(Ordering::Relaxed);
        if queued.saturating_add(charge) > self.config.queue_bytes {
            shared.osiscope_dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        shared.queued_bytes.fetch_add(charge, Ordering::Relaxed);
        let frame = Captured {
            ts,
            orig_len,
            data: packet.data.to_vec(),
        };
        // A reader that has gone wants no more frames.
        self.events
            .send(Event::Frame(frame))
            .map_err(|_| End::Finished)
    }
}

/// After a stop: reads the frames already in the kernel's buffer (they
/// arrived before the stop), without waiting for new ones and for at most
/// [`DRAIN_AT_MOST`]. In block mode the last block is handed over only
/// after the read timeout, so an empty read is tried once more after it.
fn drain_buffer(capture: &mut pcap::Capture<pcap::Active>, taker: &mut Taker<'_>) -> Option<End> {
    let until = Instant::now().checked_add(DRAIN_AT_MOST)?;
    let mut waited = false;
    while Instant::now() < until && !taker.count_reached() {
        match capture.next_packet() {
            Ok(packet) => {
                if let Err(end) = taker.take(&packet) {
                    return Some(end);
                }
            }
            Err(pcap::Error::NoMorePackets) => {}
            Err(pcap::Error::TimeoutExpired) if !waited => {
                waited = true;
                thread::sleep(
                    Duration::from_millis(READ_TIMEOUT_MS.unsigned_abs().into()) + WATCH_EVERY,
                );
            }
            Err(_) => return None,
        }
    }
    None
}

/// Breaks libpcap's blocking read when the capture is asked to stop or its
/// duration is over; ends when the capture thread has left its loop.
fn watch_for_stop(shared: &Shared, deadline: Option<Instant>, breaker: &pcap::BreakLoop) {
    while !shared.ended.load(Ordering::Relaxed) {
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            shared.stop.store(true, Ordering::Relaxed);
        }
        if shared.stop.load(Ordering::Relaxed) {
            breaker.breakloop();
        }
        thread::sleep(WATCH_EVERY);
    }
}

/// The capture thread: opens, reports readiness, then reads until told to
/// stop or until an error.
fn capture_thread(
    interface: &str,
    config: &LiveConfig,
    shared: Arc<Shared>,
    ready: &Sender<Result<u32, SourceError>>,
    events: &Sender<Event>,
) {
    let (mut capture, mut writer) = match open_capture(interface, config) {
        Ok(opened) => opened,
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    let link_type = u32::try_from(capture.get_datalink().0).unwrap_or(u32::MAX);
    let started = Instant::now();
    let deadline = config
        .duration
        .and_then(|duration| started.checked_add(duration));
    let breaker = capture.breakloop_handle();
    let watched = Arc::clone(&shared);
    let watcher = thread::Builder::new()
        .name("osiscope-stop".into())
        .spawn(move || watch_for_stop(&watched, deadline, &breaker));
    let watcher = match watcher {
        Ok(watcher) => watcher,
        Err(err) => {
            let _ = ready.send(Err(SourceError::CaptureOpen {
                interface: interface.to_string(),
                reason: format!("cannot start the capture thread: {err}"),
            }));
            return;
        }
    };
    if ready.send(Ok(link_type)).is_err() {
        shared.ended.store(true, Ordering::Relaxed);
        let _ = watcher.join();
        return;
    }
    let mut last_stats = started;
    let mut taker = Taker {
        config,
        shared: &shared,
        events,
        writer: writer.take(),
        link_type,
    };
    let (end, drain) = loop {
        if taker.count_reached() {
            break (End::Finished, false);
        }
        if shared.stop.load(Ordering::Relaxed)
            || deadline.is_some_and(|deadline| Instant::now() >= deadline)
        {
            break (End::Finished, true);
        }
        if last_stats.elapsed() >= STATS_EVERY {
            last_stats = Instant::now();
            record_stats(&mut capture, &shared);
            if let Some(writer) = taker.writer.as_mut() {
                if let Err(err) = writer.flush() {
                    break (End::WriteFailed(err.to_string()), false);
                }
            }
        }
        match capture.next_packet() {
            Ok(packet) => {
                if let Err(end) = taker.take(&packet) {
                    break (end, false);
                }
            }
            Err(pcap::Error::TimeoutExpired | pcap::Error::NoMorePackets) => {}
            Err(err) => break (End::Failed(libpcap_reason(&err)), false),
        }
    };
    // The watcher lets go of libpcap's handle before it is closed.
    shared.ended.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    record_stats(&mut capture, &shared);
    let end = if drain {
        match capture.setnonblock() {
            Ok(mut capture) => {
                let end = drain_buffer(&mut capture, &mut taker).unwrap_or(end);
                record_stats(&mut capture, &shared);
                end
            }
            Err(_) => end,
        }
    } else {
        drop(capture);
        end
    };
    let writer = taker.writer.take();
    let mut end = end;
    if let Some(writer) = writer {
        if let Err(err) = writer.finish() {
            end = End::WriteFailed(err.to_string());
        }
    }
    let failure = match &end {
        End::Finished => None,
        End::Failed(reason) => Some(reason.clone()),
        End::WriteFailed(reason) => Some(format!(
            "cannot write {}: {reason}",
            config
                .write
                .as_ref()
                .map(|path| path.display().to_string())
                .unwrap_or_default()
        )),
    };
    if let (Some(failure), Ok(mut slot)) = (failure, shared.failure.lock()) {
        *slot = Some(failure);
    }
    let _ = events.send(Event::End(end));
}

type Writer = PcapngWriter<BufWriter<File>>;

/// Opens the interface with the configured settings and filter, then the
/// `-w` file (only once the filter is accepted).
fn open_capture(
    interface: &str,
    config: &LiveConfig,
) -> Result<(pcap::Capture<pcap::Active>, Option<Writer>), SourceError> {
    let open_failed = |err: &pcap::Error| {
        let exists = pcap::Device::list()
            .ok()
            .map(|list| list.iter().any(|device| device.name == interface));
        open_error(interface, &libpcap_reason(err), exists, &binary_path())
    };
    let inactive = pcap::Capture::from_device(interface).map_err(|err| open_failed(&err))?;
    let mut capture = inactive
        .snaplen(i32::try_from(config.snaplen).unwrap_or(i32::MAX))
        .buffer_size(i32::try_from(config.buffer_size).unwrap_or(i32::MAX))
        .promisc(config.promisc)
        .immediate_mode(config.immediate)
        .timeout(READ_TIMEOUT_MS)
        .precision(pcap::Precision::Nano)
        .open()
        .map_err(|err| open_failed(&err))?;
    if let Some(filter) = &config.filter {
        capture
            .filter(filter, true)
            .map_err(|err| SourceError::BadFilter {
                filter: filter.clone(),
                reason: libpcap_reason(&err),
            })?;
    }
    let writer = match &config.write {
        Some(path) => Some(create_writer(path, config.snaplen, interface)?),
        None => None,
    };
    Ok((capture, writer))
}

fn create_writer(path: &Path, snaplen: u32, interface: &str) -> Result<Writer, SourceError> {
    let failed = |err: std::io::Error| SourceError::Write {
        path: path.display().to_string(),
        reason: err.to_string(),
    };
    let file = File::create(path).map_err(failed)?;
    PcapngWriter::new(
        BufWriter::with_capacity(1 << 20, file),
        snaplen,
        Some(interface),
    )
    .map_err(failed)
}

fn record_stats(capture: &mut pcap::Capture<pcap::Active>, shared: &Shared) {
    if let Ok(stat) = capture.stats() {
        shared
            .received
            .store(u64::from(stat.received), Ordering::Relaxed);
        shared
            .dropped
            .store(u64::from(stat.dropped), Ordering::Relaxed);
        shared
            .if_dropped
            .store(u64::from(stat.if_dropped), Ordering::Relaxed);
    }
}

/// This program's path, for the `setcap` hint.
fn binary_path() -> String {
    std::env::current_exe().map_or_else(|_| "osiscope".into(), |path| path.display().to_string())
}

/// What an interface that would not open means, from libpcap's words:
/// no permission, no such interface, or something else. `exists` says
/// whether libpcap lists the interface, when known (libpcap sometimes
/// gives no text).
pub fn open_error(
    interface: &str,
    reason: &str,
    exists: Option<bool>,
    binary: &str,
) -> SourceError {
    let lower = reason.to_ascii_lowercase();
    let permission = [
        "permission",
        "not permitted",
        "cap_net_raw",
        "eperm",
        "eacces",
        "access denied",
    ]
    .iter()
    .any(|word| lower.contains(word));
    let missing = [
        "no such device",
        "no such interface",
        "doesn't exist",
        "does not exist",
    ]
    .iter()
    .any(|word| lower.contains(word));
    let reason = if reason.trim().is_empty() {
        "libpcap gave no reason".to_string()
    } else {
        reason.trim().to_string()
    };
    if permission {
        SourceError::CapturePermission {
            interface: interface.to_string(),
            reason,
            binary: binary.to_string(),
        }
    } else if missing || exists == Some(false) {
        SourceError::NoSuchInterface {
            interface: interface.to_string(),
            reason,
        }
    } else {
        SourceError::CaptureOpen {
            interface: interface.to_string(),
            reason,
        }
    }
}

/// libpcap's own words for an error, without the wrapper's prefix.
fn libpcap_reason(err: &pcap::Error) -> String {
    match err {
        pcap::Error::PcapError(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINARY: &str = "/usr/local/bin/osiscope";

    /// libpcap 1.10 on Linux, without CAP_NET_RAW.
    #[test]
    fn libpcaps_permission_errors_say_how_to_grant_it() {
        for text in [
            "socket: Operation not permitted",
            "Attempt to create packet socket failed - CAP_NET_RAW may be required",
            "You don't have permission to perform this capture on that device (socket: Operation not permitted)",
            "lo: You don't have permission to capture on that device ((cannot open BPF device) /dev/bpf0: Permission denied)",
        ] {
            let err = open_error("lo", text, Some(true), BINARY);
            assert!(
                matches!(err, SourceError::CapturePermission { .. }),
                "{text}: {err:?}"
            );
            let message = err.to_string();
            assert!(message.contains("cannot capture on lo: permission denied"));
            assert!(message.contains(text));
            assert!(message.contains("root"));
            assert!(message.contains(
                "sudo setcap cap_net_raw,cap_net_admin=eip /usr/local/bin/osiscope"
            ));
            assert!(message.contains("open a capture file instead: osiscope FILE.pcapng"));
        }
    }

    #[test]
    fn a_missing_interface_is_named_as_such() {
        for (text, exists) in [
            ("SIOCGIFINDEX: No such device", None),
            ("No such device exists", Some(false)),
            ("", Some(false)),
        ] {
            let err = open_error("nope0", text, exists, BINARY);
            assert!(
                matches!(err, SourceError::NoSuchInterface { .. }),
                "{text}: {err:?}"
            );
            assert!(err.to_string().contains("osiscope interfaces"));
        }
    }

    #[test]
    fn other_failures_keep_libpcaps_words() {
        let err = open_error("eth0", "That device is not up", Some(true), BINARY);
        assert_eq!(
            err.to_string(),
            "cannot capture on eth0: That device is not up"
        );
        let err = open_error("eth0", " ", Some(true), BINARY);
        assert_eq!(
            err.to_string(),
            "cannot capture on eth0: libpcap gave no reason"
        );
    }

    #[test]
    fn netmasks_give_prefix_lengths() {
        assert_eq!(
            prefix_len("255.0.0.0".parse().unwrap_or(IpAddr::from([0; 4]))),
            Some(8)
        );
        assert_eq!(
            prefix_len("255.255.255.255".parse().unwrap_or(IpAddr::from([0; 4]))),
            Some(32)
        );
        assert_eq!(
            prefix_len("255.0.255.0".parse().unwrap_or(IpAddr::from([0; 4]))),
            None
        );
        assert_eq!(
            prefix_len(
                "ffff:ffff:ffff:ffff::"
                    .parse()
                    .unwrap_or(IpAddr::from([0; 4]))
            ),
            Some(64)
        );
    }
}
