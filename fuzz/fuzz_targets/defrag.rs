//! Fuzz target `defrag`: IPv4 fragment reassembly under small limits.
//!
//! Input layout:
//! - byte 0: limits. Bits 0-2: `max_datagrams_pending` (0-7); bits 3-4:
//!   `max_bytes_pending` (256 B, 2 KiB, 16 KiB, 16 MiB); bits 5-6:
//!   `max_fragments_per_datagram` (1, 4, 16, 512); bit 7: `max_datagram_len`
//!   of 1500 instead of 65535.
//! - byte 1: the timeout, in seconds (0-255).
//! - then fragments, 5 bytes each plus any literal payload:
//!   - byte 0: bits 0-1 pick one of four datagram keys; bit 2 is More
//!     Fragments; bit 3 makes the payload literal; bits 4-7 advance the clock
//!     by that many quarter seconds times 4 (0-60 s), before `expire`.
//!   - bytes 1-2: a big-endian u16 `v`. By its top two bits, the fragment
//!     offset is `u32::MAX - (v & 0x3fff)` (11), `v & 0x3fff` in bytes, often
//!     unaligned (10), or `(v & 0x1fff) * 8` (00 and 01, the wire's 8-byte units).
//!   - byte 3: the payload length: literal payloads take that many bytes from
//!     the input; generated payloads are `len * 8` bytes of a pattern that
//!     depends only on the datagram key and the datagram offset, so copies agree.
//!   - byte 4: the frame offset of the payload within its frame.
//!
//! Checked: the limits are never exceeded; every completed datagram's spans
//! tile its payload and every byte matches the frame it is attributed to;
//! `locate` agrees with the spans; every datagram that was held ends exactly
//! once (completed or expired); expired hole lists add up; `finish` empties
//! the table.

#![no_main]

mod common;

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use osiscope::decode::defrag::{
    DatagramId, DefragKey, DefragLimits, DefragOutcome, Defragmenter, Expired, Fragment,
    Reassembled, MAX_IPV4_DATAGRAM_LEN,
};

const KEYS: [DefragKey; 4] = [
    DefragKey {
        src: Ipv4Addr::new(10, 0, 0, 1),
        dst: Ipv4Addr::new(10, 0, 0, 2),
        protocol: 17,
        identification: 0x1234,
    },
    DefragKey {
        src: Ipv4Addr::new(10, 0, 0, 1),
        dst: Ipv4Addr::new(10, 0, 0, 2),
        protocol: 17,
        identification: 0x1235,
    },
    DefragKey {
        src: Ipv4Addr::new(10, 0, 0, 1),
        dst: Ipv4Addr::new(10, 0, 0, 2),
        protocol: 6,
        identification: 0x1234,
    },
    DefragKey {
        src: Ipv4Addr::new(192, 168, 1, 9),
        dst: Ipv4Addr::new(10, 0, 0, 2),
        protocol: 1,
        identification: 0,
    },
];

/// The pattern byte of a generated payload at `offset` in datagram `key`.
fn pattern(key: usize, offset: u64) -> u8 {
    let x = offset
        .wrapping_add(key as u64 * 977)
        .wrapping_mul(0x9e37_79b9);
    (x >> 13) as u8
}

fn offset(v: u16) -> u32 {
    match v >> 14 {
        0b11 => u32::MAX - u32::from(v & 0x3fff),
        0b10 => u32::from(v & 0x3fff),
        _ => u32::from(v & 0x1fff) * 8,
    }
}

struct Checker {
    limits: DefragLimits,
    /// Each frame's payload and the frame offset where it starts.
    frames: HashMap<u64, (Vec<u8>, u32)>,
    /// Datagrams reported as held and not ended yet.
    live: HashSet<DatagramId>,
    /// Datagrams that ended (completed or expired).
    ended: HashSet<DatagramId>,
}

impl Checker {
    fn table(&self, defrag: &Defragmenter) {
        assert!(defrag.n_pending() <= self.limits.max_datagrams_pending);
        assert!(defrag.bytes_pending() <= self.limits.max_bytes_pending);
    }

    fn end(&mut self, id: DatagramId) {
        assert!(self.ended.insert(id), "datagram {id} ended twice");
        self.live.remove(&id);
    }

    fn expired(&mut self, expired: &[Expired]) {
        for e in expired {
            self.end(e.datagram_id);
            assert!(!e.frames.is_empty(), "an expired datagram had fragments");
            assert!(e.frames.windows(2).all(|w| w[0] < w[1]), "frames ascend");
            let mut prev_end = 0;
            let mut missing = 0u64;
            for hole in &e.missing {
                assert!(hole.start < hole.end, "empty hole {hole:?}");
                assert!(hole.start >= prev_end, "holes are sorted and apart");
                prev_end = hole.end;
                missing += u64::from(hole.end - hole.start);
            }
            if let Some(total) = e.total_len {
                assert!(prev_end <= total, "holes stay within the total length");
                assert_eq!(
                    u64::from(e.bytes_received) + missing,
                    u64::from(total),
                    "received bytes and holes make up the datagram: {e:?}"
                );
            }
        }
    }

    fn complete(&mut self, datagram: &Reassembled, frame: u64) {
        self.end(datagram.datagram_id());
        assert_eq!(datagram.reassembled_in(), frame);
        let payload = datagram.payload();
        assert!(payload.len() <= self.limits.max_datagram_len.min(MAX_IPV4_DATAGRAM_LEN));
        let frames = datagram.frames();
        assert!(frames.windows(2).all(|w| w[0] < w[1]), "frames ascend");
        assert!(frames.contains(&frame));
        let mut at = 0u32;
        for span in datagram.spans() {
            assert_eq!(span.datagram_range.start, at, "spans tile the payload");
            assert!(
                span.datagram_range.start < span.datagram_range.end,
                "empty span"
            );
            at = span.datagram_range.end;
            assert!(frames.contains(&span.frame), "span from an unlisted frame");
            let (bytes, base) = &self.frames[&span.frame];
            let skip = (span.frame_offset - base) as usize;
            let len = (span.datagram_range.end - span.datagram_range.start) as usize;
            let range = span.datagram_range.start as usize..span.datagram_range.end as usize;
            assert_eq!(
                &payload[range],
                &bytes[skip..skip + len],
                "payload bytes match the frame they are attributed to"
            );
            for probe in [span.datagram_range.start, span.datagram_range.end - 1] {
                assert_eq!(
                    datagram.locate(probe),
                    Some((
                        span.frame,
                        span.frame_offset + (probe - span.datagram_range.start)
                    ))
                );
            }
        }
        assert_eq!(at as usize, payload.len(), "spans cover the payload");
        assert_eq!(datagram.locate(at), None);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = common::Input::new(data);
    let config = input.u8();
    let limits = DefragLimits {
        max_datagrams_pending: usize::from(config & 7),
        max_bytes_pending: [256, 2048, 16 << 10, 16 << 20][usize::from((config >> 3) & 3)],
        max_fragments_per_datagram: [1, 4, 16, 512][usize::from((config >> 5) & 3)],
        max_datagram_len: if config & 0x80 != 0 {
            1500
        } else {
            MAX_IPV4_DATAGRAM_LEN
        },
        timeout: Duration::from_secs(u64::from(input.u8())),
    };
    let mut defrag = Defragmenter::new(limits.clone());
    let mut checker = Checker {
        limits,
        frames: HashMap::new(),
        live: HashSet::new(),
        ended: HashSet::new(),
    };
    let mut now = 0u64;
    let mut frame = 0u64;
    let mut generated = Vec::new();
    while let Some(head) = input.byte() {
        frame += 1;
        let key_index = usize::from(head & 3);
        let key = KEYS[key_index];
        let more_fragments = head & 4 != 0;
        now += u64::from(head >> 4) * 1_000_000;
        let frag_offset = offset(input.u16());
        let len = input.u8();
        let frame_offset = u32::from(input.u8());
        let payload: &[u8] = if head & 8 != 0 {
            input.take(usize::from(len))
        } else {
            generated.clear();
            generated.extend(
                (0..u64::from(len) * 8).map(|i| pattern(key_index, u64::from(frag_offset) + i)),
            );
            &generated
        };
        checker
            .frames
            .insert(frame, (payload.to_vec(), frame_offset));

        let expired = defrag.expire(now);
        checker.expired(&expired);
        checker.table(&defrag);

        let pushed = defrag.push(Fragment {
            key,
            frag_offset,
            more_fragments,
            payload,
            frame,
            frame_offset,
            ts_micros: now,
        });
        checker.expired(&pushed.evicted);
        match &pushed.outcome {
            DefragOutcome::Held { datagram_id } => {
                assert!(
                    !checker.ended.contains(datagram_id),
                    "ended datagram held again"
                );
                checker.live.insert(*datagram_id);
            }
            DefragOutcome::Complete(datagram) => checker.complete(datagram, frame),
            DefragOutcome::Problem { datagram_id, .. } => {
                if let Some(id) = datagram_id {
                    assert!(
                        checker.live.contains(id),
                        "problem names a datagram not held"
                    );
                }
                assert!(
                    pushed.overlap.is_none(),
                    "a rejected fragment has no overlap"
                );
            }
        }
        checker.table(&defrag);
    }
    let expired = defrag.finish();
    checker.expired(&expired);
    assert!(
        checker.live.is_empty(),
        "held datagrams never ended: {:?}",
        checker.live
    );
    assert_eq!(defrag.n_pending(), 0);
    assert_eq!(defrag.bytes_pending(), 0);
});
