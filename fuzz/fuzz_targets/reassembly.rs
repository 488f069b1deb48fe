//! Fuzz target `reassembly`: one direction of TCP stream reassembly under
//! small limits, with lost, reordered, overlapping and conflicting segments.
//!
//! Input layout:
//! - byte 0: settings. Bits 0-1: `max_segments_held` (1, 2, 8, 4096); bits 2-3:
//!   `max_buffered_bytes` (16, 256, 4096, 4 MiB); bit 4: consistent mode, in
//!   which generated payloads are a pattern of the sequence number of each
//!   byte, so every copy of a byte agrees.
//! - bytes 1-4: a big-endian base sequence number.
//! - then records:
//!   - byte 0: flags. Bit 0 SYN, bit 1 FIN, bit 2 RST; bit 3 makes the record
//!     a peer acknowledgement instead of a segment; bit 4 makes the payload
//!     literal (input bytes, not the pattern); bit 5 reads a 4-byte offset
//!     from the base instead of a signed 2-byte one.
//!   - the sequence (or acknowledgement) number as an offset from the base:
//!     a big-endian i16, or a u32 with bit 5.
//!   - segments only: a length byte `n`; literal payloads take `n` input bytes,
//!     generated ones are `4 n` bytes long. Consistent mode ignores bit 4.
//!
//! Checked: the chunks delivered tile the stream from offset 0 with no gap or
//! overlap (each starts where the previous one ended), nothing follows the FIN,
//! and `next_offset` is where the last chunk ended; every data chunk matches the
//! frame bytes it is attributed to (and, in consistent mode, the true stream);
//! each push accounts for every payload byte; held pieces stay within the
//! limits, sorted, apart and after the next offset; `finish` releases
//! everything and delivers an accepted FIN.

#![no_main]

mod common;

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use osiscope::flow::reassembly::{Chunk, Reassembler, ReassemblyLimits, Segment};
use osiscope::flow::seq::SeqNumber;

/// The byte the consistent stream carries at sequence number `seq`.
fn pattern(seq: u32) -> u8 {
    (seq.wrapping_mul(0x9e37_79b1) >> 24) as u8
}

struct Checker {
    limits: ReassemblyLimits,
    consistent: bool,
    /// Each frame's payload and the frame offset where it starts.
    frames: HashMap<u64, (Vec<u8>, u32)>,
    /// Where the next chunk must start.
    expected: u64,
    fin_delivered: bool,
    /// The sequence number of stream offset 0, read before each call.
    start: Option<SeqNumber>,
}

impl Checker {
    fn chunk(&mut self, chunk: &Chunk<'_>) {
        assert!(!self.fin_delivered, "chunk {chunk:?} after the FIN");
        assert_eq!(
            chunk.stream_offset(),
            self.expected,
            "chunk {chunk:?} does not start where the previous one ended"
        );
        match chunk {
            Chunk::Data {
                stream_offset,
                bytes,
                frame,
                frame_offset,
            } => {
                assert!(!bytes.is_empty(), "empty data chunk at {stream_offset}");
                let (payload, base) = self.frames.get(frame).expect("data from a pushed frame");
                let skip = frame_offset
                    .checked_sub(*base)
                    .expect("frame offset within payload");
                let skip = skip as usize;
                assert_eq!(
                    payload.get(skip..skip + bytes.len()),
                    Some(&bytes[..]),
                    "data chunk at {stream_offset} does not match frame {frame}"
                );
                if self.consistent {
                    let start = self.start.expect("data implies a known start");
                    for (i, &b) in bytes.iter().enumerate() {
                        let seq = start.advance(stream_offset + i as u64);
                        assert_eq!(
                            b,
                            pattern(seq.0),
                            "stream byte {} is wrong",
                            stream_offset + i as u64
                        );
                    }
                }
            }
            Chunk::Gap { stream_offset, len } => {
                assert!(*len > 0, "empty gap at {stream_offset}");
            }
            Chunk::Fin { .. } => self.fin_delivered = true,
        }
        self.expected += chunk.stream_len();
    }

    fn state(&self, r: &Reassembler) {
        assert_eq!(
            r.next_offset(),
            self.expected,
            "next offset is where delivery stopped"
        );
        assert_eq!(r.is_fin_delivered(), self.fin_delivered);
        if self.fin_delivered {
            assert_eq!(
                r.fin_offset(),
                Some(self.expected),
                "the FIN ends the stream"
            );
        }
        assert!(r.held_bytes() <= self.limits.max_buffered_bytes, "{r}");
        assert!(r.n_held_segments() <= self.limits.max_segments_held, "{r}");
        let mut prev_end = r.next_offset();
        let mut sum = 0u64;
        let mut n = 0;
        for (start, end) in r.held_ranges() {
            // The first piece starts after a hole; later ones may touch their neighbour.
            let apart = if n == 0 {
                start > prev_end
            } else {
                start >= prev_end
            };
            assert!(apart, "held pieces overlap, or one is deliverable: {r}");
            assert!(start < end, "empty held piece: {r}");
            if let Some(fin) = r.fin_offset() {
                assert!(end <= fin, "held bytes after the FIN: {r}");
            }
            prev_end = end;
            sum += end - start;
            n += 1;
        }
        assert_eq!(n, r.n_held_segments());
        assert_eq!(sum, r.held_bytes() as u64);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = common::Input::new(data);
    let settings = input.u8();
    let limits = ReassemblyLimits {
        max_segments_held: [1, 2, 8, 4096][usize::from(settings & 3)],
        max_buffered_bytes: [16, 256, 4096, 4 << 20][usize::from((settings >> 2) & 3)],
    };
    let base = input.u32();
    let mut r = Reassembler::new(limits);
    let mut checker = Checker {
        limits,
        consistent: settings & 0x10 != 0,
        frames: HashMap::new(),
        expected: 0,
        fin_delivered: false,
        start: None,
    };
    let mut frame = 0u64;
    let mut generated = Vec::new();
    while let Some(flags) = input.byte() {
        let delta = if flags & 0x20 != 0 {
            input.u32()
        } else {
            input.u16() as i16 as i32 as u32
        };
        let seq = SeqNumber(base.wrapping_add(delta));
        checker.start = r.start_seq();
        if flags & 0x08 != 0 {
            r.peer_ack(seq, |chunk| checker.chunk(&chunk));
            checker.state(&r);
            continue;
        }
        frame += 1;
        let syn = flags & 1 != 0;
        let len = input.u8();
        let payload: &[u8] = if flags & 0x10 != 0 && !checker.consistent {
            input.take(usize::from(len))
        } else {
            let data_seq = seq.0.wrapping_add(u32::from(syn));
            generated.clear();
            generated.extend((0..u32::from(len) * 4).map(|i| pattern(data_seq.wrapping_add(i))));
            &generated
        };
        let payload_offset = 54 + (frame % 13) as u32;
        checker
            .frames
            .insert(frame, (payload.to_vec(), payload_offset));
        let segment = Segment {
            seq,
            syn,
            fin: flags & 2 != 0,
            rst: flags & 4 != 0,
            payload,
            frame,
            payload_offset,
        };
        let start_before = r.start_seq();
        let mut chunks = Vec::new();
        let outcome = r.push(segment, |chunk| chunks.push(chunk));
        checker.start = r.start_seq();
        if let Some(before) = start_before {
            assert_eq!(r.start_seq(), Some(before), "the stream's start moved");
        }
        for chunk in &chunks {
            checker.chunk(chunk);
        }
        assert_eq!(
            payload.len() as u64,
            outcome.n_delivered + outcome.n_held + outcome.n_duplicate + outcome.n_dropped,
            "every payload byte is accounted for: {outcome:?}"
        );
        assert!(outcome.n_conflicting <= outcome.n_duplicate, "{outcome:?}");
        if checker.consistent {
            assert_eq!(
                outcome.n_conflicting, 0,
                "consistent copies conflict: {outcome:?}"
            );
        }
        checker.state(&r);
    }
    checker.start = r.start_seq();
    r.finish(|chunk| checker.chunk(&chunk));
    checker.state(&r);
    assert_eq!(r.held_bytes(), 0, "finish releases every held byte");
    if r.fin_offset().is_some() {
        assert!(r.is_fin_delivered(), "finish delivers an accepted FIN");
    }
});
