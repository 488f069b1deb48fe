//! The terminal UI's session against a plain decode of the whole capture:
//! a frame dissected on demand (only its connection replayed) must equal
//! what a two-pass run over every frame gives, in any order of access.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use osiscope::dissect::{Dissection, FrameNumber};
use osiscope::pipeline::Pipeline;
use osiscope::session::{Session, SessionLimits};
use osiscope::source::file::FileSource;
use osiscope::source::Source;

/// Every frame's model from a two-pass run (like `dump -2`).
fn two_pass(path: &std::path::Path) -> Vec<Dissection> {
    let mut map = HashMap::new();
    let mut source = FileSource::open(path).unwrap();
    let mut first = Pipeline::default();
    while let Ok(Some(frame)) = source.next_frame() {
        if let Some(dissection) = first.process(&frame, true).dissection {
            Pipeline::note_reassembly(&dissection, &mut map);
        }
    }
    let mut source = FileSource::open(path).unwrap();
    let mut second = Pipeline::default().with_reassembled_in(map);
    let mut out = Vec::new();
    while let Ok(Some(frame)) = source.next_frame() {
        out.extend(second.process(&frame, true).dissection);
    }
    out
}

#[test]
fn on_demand_dissections_equal_a_two_pass_decode() {
    for path in common::captures() {
        let expected = two_pass(&path);
        let mut session = Session::open_blocking(&path, SessionLimits::default()).unwrap();
        assert!(session.progress().done);
        assert_eq!(session.rows().len(), expected.len(), "{}", path.display());
        // Forward (the replay goes on), then backward and strided (it restarts).
        let n = expected.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.extend((0..n).rev().step_by(7));
        order.extend((0..n).step_by(13));
        for index in order {
            let number = FrameNumber(index as u64 + 1);
            let got = session.dissect(number).unwrap();
            assert!(
                *got == expected[index],
                "{}: frame {number} differs from the two-pass decode",
                path.display()
            );
        }
    }
}

#[test]
fn rows_carry_the_list_and_ladder_facts() {
    let mut session = Session::open_blocking(
        &common::capture("ws-basic.pcapng"),
        SessionLimits::default(),
    )
    .unwrap();
    let rows = session.rows().to_vec();
    let syn = &rows[0];
    assert_eq!((&*syn.src, &*syn.dst), ("10.77.0.1", "10.77.0.2"));
    assert!(syn.info.contains("[SYN]"), "{}", syn.info);
    let tcp = syn.tcp.as_ref().unwrap();
    assert!(tcp.to_server);
    assert_eq!(&*tcp.flags, "SYN");
    let upgrade = rows
        .iter()
        .find(|row| row.info.contains("GET /chat"))
        .unwrap();
    assert_eq!(upgrade.protocol.short_name(), "http");
    let answer = rows.iter().find(|row| row.info.contains("101")).unwrap();
    assert!(!answer.tcp.as_ref().unwrap().to_server);
    assert_eq!(session.handshake_frame(0), Some(answer.number));
    let text = rows
        .iter()
        .find(|row| row.info.contains("Hello, server!"))
        .unwrap();
    assert_eq!(text.protocol.short_name(), "websocket");
    assert_eq!(session.messages().len(), 10);
    assert!(session.stream_frames(0).len() == rows.len());
    let first = session.dissect(FrameNumber(1)).unwrap();
    assert_eq!(first.frame.number, FrameNumber(1));
    assert!(session.dissect(FrameNumber(10_000)).is_none());
}

#[test]
fn limits_stop_indexing_with_a_notice() {
    let limits = SessionLimits {
        max_frames: 5,
        ..SessionLimits::default()
    };
    let session = Session::open_blocking(&common::capture("ws-basic.pcapng"), limits).unwrap();
    assert_eq!(session.rows().len(), 5);
    let stopped = session.progress().stopped.clone().unwrap();
    assert!(stopped.contains("after 5 frames"), "{stopped}");
}

#[test]
fn a_missing_file_fails_at_open() {
    let error = Session::open(
        std::path::Path::new("/nonexistent/x.pcap"),
        SessionLimits::default(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("no such file"), "{error}");
}
