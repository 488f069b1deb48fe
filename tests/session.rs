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
fn indexed_rows_equal_the_rows_of_full_models() {
    for path in common::captures() {
        let session = Session::open_blocking(&path, SessionLimits::default()).unwrap();
        if let Some(difference) = common::rows_differ(&session, &path) {
            panic!("{difference}");
        }
    }
}

/// The session keeps no captured bytes of a file in memory: the walk of the
/// file's records finds every frame libpcap reads, pcap and pcapng alike, so
/// each is read again from the file when a view asks for it.
#[test]
fn every_frame_of_every_capture_is_found_in_its_file() {
    use osiscope::source::offsets::RecordWalker;
    for path in common::captures() {
        let mut walker = RecordWalker::open(&path).expect("the walk follows pcap and pcapng");
        let mut source = FileSource::open(&path).unwrap();
        let mut n = 0;
        while let Ok(Some(frame)) = source.next_frame() {
            n += 1;
            assert!(
                walker.next_matching(frame.data).is_some(),
                "{}: frame {n} not found by the walk",
                path.display()
            );
        }
        assert!(n > 0);
    }
}

/// A long connection is replayed a budget at a time: each call comes
/// further, and the model it ends with is the one a plain call gives.
#[test]
fn a_replay_within_a_budget_goes_on_where_it_stopped() {
    use osiscope::session::Dissecting;
    let path = common::capture("ws-large.pcapng");
    let mut session = Session::open_blocking(&path, SessionLimits::default()).unwrap();
    let last = FrameNumber(session.rows().len() as u64);
    let mut progress = Vec::new();
    let got = loop {
        match session.dissect_for(last, std::time::Duration::ZERO) {
            Dissecting::Done(dissection) => break dissection.unwrap(),
            Dissecting::Replaying { stream, fed, total } => {
                assert_eq!(stream, 0);
                assert!(fed < total, "{fed} of {total}");
                progress.push(fed);
            }
            Dissecting::Pending { .. } => panic!("an opened session has decoded every frame"),
        }
        assert!(
            progress.len() < 10_000,
            "the replay does not come to an end"
        );
    };
    assert!(progress.len() > 10, "a zero budget stops every 64 frames");
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    let mut fresh = Session::open_blocking(&path, SessionLimits::default()).unwrap();
    assert!(*got == *fresh.dissect(last).unwrap());
}

/// A classic pcap of Ethernet frames, written for a test.
fn write_pcap(path: &std::path::Path, frames: &[Vec<u8>]) {
    let mut file = Vec::new();
    file.extend(0xa1b2_c3d4u32.to_le_bytes());
    file.extend([2, 0, 4, 0]);
    file.extend([0; 8]);
    file.extend(65_535u32.to_le_bytes());
    file.extend(1u32.to_le_bytes());
    for (i, frame) in frames.iter().enumerate() {
        file.extend((1_700_000_000 + i as u32).to_le_bytes());
        file.extend(0u32.to_le_bytes());
        file.extend((frame.len() as u32).to_le_bytes());
        file.extend((frame.len() as u32).to_le_bytes());
        file.extend(frame);
    }
    std::fs::write(path, file).unwrap();
}

/// An IPv4 fragment in an Ethernet frame (checksums left zero).
fn ipv4_fragment(protocol: u8, id: u16, offset: usize, more: bool, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = (20 + payload.len()) as u16;
    let flags = (if more { 0x2000 } else { 0 }) | (offset / 8) as u16;
    frame.extend([0x45, 0]);
    frame.extend(total.to_be_bytes());
    frame.extend(id.to_be_bytes());
    frame.extend(flags.to_be_bytes());
    frame.extend([64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    frame.extend(payload);
    frame
}

/// Datagrams rebuilt from IPv4 fragments (a TCP segment, a UDP datagram,
/// fragments of one interleaved with another connection's segment) are
/// dissected on demand as a two-pass decode gives them.
#[test]
fn frames_rebuilt_from_ipv4_fragments_dissect_like_a_two_pass_decode() {
    let mut tcp = vec![
        0x9c, 0x40, 0x1f, 0x90, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff,
    ];
    tcp.extend([0, 0, 0, 0]);
    tcp.extend(b"GET /chat HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2));
    let mut udp = vec![0x13, 0x88, 0x13, 0x89, 0, 72, 0, 0];
    udp.extend([b'u'; 64]);
    let mut other = vec![
        0x9c, 0x41, 0x1f, 0x90, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff,
    ];
    other.extend([0, 0, 0, 0]);
    other.extend(b"hello");
    let frames = vec![
        ipv4_fragment(6, 7, 0, true, &tcp[..40]),
        ipv4_fragment(6, 9, 0, false, &other),
        ipv4_fragment(17, 8, 0, true, &udp[..32]),
        ipv4_fragment(6, 7, 40, false, &tcp[40..]),
        ipv4_fragment(17, 8, 32, false, &udp[32..]),
    ];
    let dir = std::env::temp_dir().join(format!("osiscope-session-frag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fragments.pcap");
    write_pcap(&path, &frames);
    let expected = two_pass(&path);
    let mut session = Session::open_blocking(&path, SessionLimits::default()).unwrap();
    assert_eq!(session.rows().len(), frames.len());
    if let Some(difference) = common::rows_differ(&session, &path) {
        panic!("{difference}");
    }
    for index in (0..frames.len()).rev() {
        let number = FrameNumber(index as u64 + 1);
        let got = session.dissect(number).unwrap();
        assert!(*got == expected[index], "frame {number} differs");
    }
    let rebuilt = expected[3]
        .sources
        .iter()
        .any(|source| source.frames.contains(&FrameNumber(1)));
    assert!(
        rebuilt,
        "frame 4 holds the TCP segment rebuilt from frames 1 and 4"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A capture read from a pipe is read once, by libpcap: its frames are kept
/// in memory, and every one of them is there.
#[test]
fn a_capture_from_a_pipe_is_indexed_whole() {
    let source = common::capture("ws-large.pcapng");
    let dir = std::env::temp_dir().join(format!("osiscope-session-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("capture.pcapng");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|status| status.success()) {
        eprintln!("SKIPPED a_capture_from_a_pipe_is_indexed_whole: mkfifo failed");
        return;
    }
    let writer = {
        let (source, fifo) = (source.clone(), fifo.clone());
        std::thread::spawn(move || {
            let bytes = std::fs::read(source).unwrap();
            std::fs::write(fifo, bytes).unwrap();
        })
    };
    let mut session = Session::open_blocking(&fifo, SessionLimits::default()).unwrap();
    writer.join().unwrap();
    let expected = common::model_rows(&source);
    assert_eq!(session.rows().len(), expected.len());
    assert!(session.progress().stopped.is_none());
    let last = FrameNumber(expected.len() as u64);
    assert!(session.dissect(last).is_some());
    std::fs::remove_dir_all(&dir).unwrap();
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
    assert!(syn.info().contains("[SYN]"), "{}", syn.info());
    let tcp = syn.tcp.as_ref().unwrap();
    assert!(tcp.to_server);
    assert_eq!(&*tcp.flags, "SYN");
    let upgrade = rows
        .iter()
        .find(|row| row.info().contains("GET /chat"))
        .unwrap();
    assert_eq!(upgrade.protocol.short_name(), "http");
    let answer = rows.iter().find(|row| row.info().contains("101")).unwrap();
    assert!(!answer.tcp.as_ref().unwrap().to_server);
    assert_eq!(session.handshake_frame(0), Some(answer.number));
    let text = rows
        .iter()
        .find(|row| row.info().contains("Hello, server!"))
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

/// A live session keeps a window of the newest frames: older rows, bytes,
/// messages and connection indexes go; frame numbers go on; what is kept
/// still dissects, and what is gone does not.
#[test]
fn a_live_window_keeps_the_newest_frames_only() {
    let path = common::capture("ws-large.pcapng");
    let (source, mut feed) = common::replay(&path);
    let total = feed.frames.len() as u64;
    let window = 100usize;
    let info = osiscope::session::LiveInfo {
        interface: "lo".into(),
        ..Default::default()
    };
    let mut session = Session::capture(source, info, SessionLimits::live(window)).unwrap();
    feed.send(feed.frames.len());
    feed.end();
    let started = std::time::Instant::now();
    while !session.progress().done {
        session.poll();
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(session.last_number(), total);
    assert_eq!(session.rows().len(), window);
    assert_eq!(session.n_evicted(), total - window as u64);
    let first = FrameNumber(total - window as u64 + 1);
    assert_eq!(session.rows()[0].number, first);
    assert!(session.row(FrameNumber(first.0 - 1)).is_none());
    assert!(session.dissect(FrameNumber(1)).is_none());
    for (index, frame) in feed.frames.iter().enumerate().skip(first.0 as usize - 1) {
        let number = FrameNumber(index as u64 + 1);
        assert_eq!(session.frame_bytes(number).unwrap(), &frame.data[..]);
        let dissection = session.dissect(number).unwrap();
        assert_eq!(dissection.frame.number, number);
    }
    for message in session.messages() {
        assert!(message.frames.last().unwrap().0 >= first.0);
    }
    for stream in 0..4 {
        assert!(session.stream_frames(stream).iter().all(|n| n.0 >= first.0));
    }
    let kept: usize = (0..4).map(|s| session.stream_frames(s).len()).sum();
    assert!(kept <= window);
    assert_eq!(session.start_time(), feed.frames[0].ts);

    // What is kept can be saved, and reads back frame for frame.
    let saved = std::env::temp_dir().join(format!("osiscope-window-{}.pcapng", std::process::id()));
    assert_eq!(session.save(&saved).unwrap(), window as u64);
    let mut file = FileSource::open(&saved).unwrap();
    let mut n = 0;
    while let Some(frame) = file.next_frame().unwrap() {
        let original = &feed.frames[first.0 as usize - 1 + n];
        assert_eq!(frame.data, &original.data[..]);
        assert_eq!(frame.ts, original.ts);
        n += 1;
    }
    assert_eq!(n, window);
    std::fs::remove_file(&saved).unwrap();
}

/// Waits until a session opened in the background has decoded every frame.
fn wait_done(session: &mut Session) {
    let started = std::time::Instant::now();
    while !session.progress().done {
        session.poll();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "indexing did not end"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    session.poll();
}

/// What two sessions of the same capture must agree on once indexed.
fn assert_same_index(listed: &mut Session, one: &mut Session, path: &std::path::Path) {
    let name = path.display();
    assert!(listed.progress().listed, "{name}");
    assert_eq!(listed.progress().decoded, one.progress().decoded, "{name}");
    assert_eq!(listed.progress().frames, one.progress().frames, "{name}");
    assert_eq!(listed.progress().stopped, one.progress().stopped, "{name}");
    assert!(listed.rows() == one.rows(), "{name}: rows differ");
    assert!(
        listed.messages() == one.messages(),
        "{name}: messages differ"
    );
    assert!(listed.streams() == one.streams(), "{name}: streams differ");
    assert!(
        listed.delivery() == one.delivery(),
        "{name}: delivery differs"
    );
    for stream in 0..one.streams().len() as u32 {
        assert_eq!(
            listed.stream_frames(stream),
            one.stream_frames(stream),
            "{name}: tcp.stream {stream}"
        );
        assert_eq!(
            listed.handshake_frame(stream),
            one.handshake_frame(stream),
            "{name}: tcp.stream {stream}"
        );
    }
    let n = one.rows().len() as u64;
    for number in (1..=n).map(FrameNumber) {
        assert_eq!(
            listed.frame_bytes(number),
            one.frame_bytes(number),
            "{name}: frame {number}"
        );
        assert_eq!(
            listed.timestamp(number),
            one.timestamp(number),
            "{name}: frame {number}"
        );
    }
    // Models come from the indexes compared above; a sample of them, in order.
    for number in (1..=n).filter(|k| k % 5 == 1 || *k == n).map(FrameNumber) {
        let (a, b) = (
            listed.dissect(number).unwrap(),
            one.dissect(number).unwrap(),
        );
        assert!(*a == *b, "{name}: frame {number}");
    }
}

/// A capture file is listed ahead of its decoding by a second thread
/// (`Session::open`); once both are done the session is the one a single
/// pass gives: rows, messages, connections, bytes and models.
#[test]
fn a_file_listed_ahead_ends_as_one_pass_does() {
    for path in common::captures() {
        let mut one = Session::open_blocking(&path, SessionLimits::default()).unwrap();
        let mut listed = Session::open(&path, SessionLimits::default()).unwrap();
        wait_done(&mut listed);
        assert_same_index(&mut listed, &mut one, &path);
    }
}

/// Between the two passes: every frame is listed from its own headers, none
/// is decoded, and a frame's model waits for the decoding, which then
/// replaces every row.
#[test]
fn listed_frames_wait_for_their_decoding() {
    use osiscope::limits::Limits;
    use osiscope::session::Dissecting;
    let path = common::capture("ws-basic.pcapng");
    let mut one = Session::open_blocking(&path, SessionLimits::default()).unwrap();
    let (mut session, decoding) = Session::list_blocking_with(&path, Limits::default()).unwrap();
    let progress = session.progress().clone();
    assert!(progress.listed && !progress.done, "{progress:?}");
    assert_eq!(progress.decoded, 0);
    assert_eq!(progress.frames, one.rows().len() as u64);
    for (listed, decoded) in session.rows().iter().zip(one.rows()) {
        assert_eq!(
            (
                listed.number,
                listed.ts,
                listed.len,
                &listed.src,
                &listed.dst
            ),
            (
                decoded.number,
                decoded.ts,
                decoded.len,
                &decoded.src,
                &decoded.dst
            )
        );
        // No connection yet: no stream, no relative numbers.
        assert!(listed.tcp.is_none());
        let tcp = decoded.tcp.as_ref().unwrap();
        let info = listed.info();
        assert!(
            info.starts_with(&format!(
                "{} → {} [{}]",
                tcp.src_port, tcp.dst_port, tcp.flags
            )),
            "{info}"
        );
        assert!(info.ends_with(&format!(" Len={}", tcp.len)), "{info}");
        assert!(!info.contains("Seq="), "{info}");
    }
    match session.dissect_for(FrameNumber(1), std::time::Duration::from_secs(1)) {
        Dissecting::Pending { decoded, frames } => {
            assert_eq!((decoded, frames), (0, progress.frames));
        }
        other => panic!("frame 1 is not decoded yet: {other:?}"),
    }
    assert!(session.dissect(FrameNumber(1)).is_none());
    decoding.run();
    session.poll();
    assert!(session.progress().done);
    assert_same_index(&mut session, &mut one, &path);
}

/// The listing enforces the session's limits and meets a truncated file's
/// end; the decoding stops where it did, with the same reason.
#[test]
fn a_listing_stops_where_one_pass_stops() {
    let limits = SessionLimits {
        max_frames: 7,
        ..SessionLimits::default()
    };
    let path = common::capture("ws-basic.pcapng");
    let mut one = Session::open_blocking(&path, limits).unwrap();
    let mut listed = Session::open(&path, limits).unwrap();
    wait_done(&mut listed);
    assert_eq!(listed.rows().len(), 7);
    assert_same_index(&mut listed, &mut one, &path);

    let bytes = std::fs::read(&path).unwrap();
    let dir = std::env::temp_dir().join(format!("osiscope-listing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.pcapng");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let mut one = Session::open_blocking(&cut, SessionLimits::default()).unwrap();
    let mut listed = Session::open(&cut, SessionLimits::default()).unwrap();
    wait_done(&mut listed);
    assert!(one.progress().stopped.is_some());
    assert_same_index(&mut listed, &mut one, &cut);
    std::fs::remove_dir_all(&dir).unwrap();
}
