//! Fuzz target `pcap_file`: the capture-file reader path, from file bytes to
//! dissected frames.
//!
//! The input is a whole capture file (pcap or pcapng, however broken). It is
//! written to a uniquely named temporary file (in `/dev/shm` when it exists),
//! opened with `FileSource::open`, and read with `next_frame` until the end, an
//! error, or 10,000 frames; each frame is dissected by one `Pipeline` and
//! written by the text view; then the pipeline is finished.
//!
//! Beside libpcap, the record walk a session uses to read frames again from
//! the file (`RecordWalker`) goes over the same bytes.
//!
//! Checked: no panic and no hang; every frame's captured length is at most what
//! the file held; frame numbers count from 1; the link type is the file's;
//! where the walk places a frame, the file holds that frame's bytes.

#![no_main]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use osiscope::pipeline::Pipeline;
use osiscope::source::offsets::RecordWalker;
use osiscope::source::{FileSource, Source};

const MAX_FRAMES: u64 = 10_000;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A file removed when dropped, even when the target panics.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp_path() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    let dir = if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    };
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("osiscope-fuzz-{}-{n}.cap", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let file = TempFile(temp_path());
    std::fs::write(&file.0, data).expect("the temporary file can be written");
    let Ok(mut source) = FileSource::open(&file.0) else {
        return;
    };
    let link_type = source.link_type();
    let mut pipeline = Pipeline::default();
    let mut text = Vec::new();
    let mut expected = 1u64;
    let mut walker = RecordWalker::new(data);
    while expected <= MAX_FRAMES {
        let frame = match source.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) | Err(_) => break,
        };
        assert_eq!(frame.number.0, expected, "frames are numbered from 1");
        assert_eq!(frame.link_type, link_type);
        assert!(
            frame.data.len() <= data.len(),
            "a frame is longer than its file"
        );
        assert!(frame.ts.nanos < 1_000_000_000);
        if let Some(offset) = walker.as_mut().and_then(|w| w.next_matching(frame.data)) {
            let at = usize::try_from(offset).expect("an offset within the input");
            assert_eq!(
                data.get(at..at + frame.data.len()),
                Some(frame.data),
                "the walk places a frame where the file holds its bytes"
            );
        }
        let dissection = pipeline.dissect(&frame);
        text.clear();
        osiscope::view::text::write_frame(&mut text, &dissection)
            .expect("writing to a Vec succeeds");
        expected += 1;
    }
    let _ = pipeline.finish();
});
