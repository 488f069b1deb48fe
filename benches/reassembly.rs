#![allow(clippy::indexing_slicing)]

//! Reassembly throughput: `cargo bench --bench reassembly`.
//!
//! A 64 MiB byte stream is cut into 1448-byte segments (a full Ethernet
//! frame's TCP payload) and pushed through one `Reassembler`: once in order,
//! once with 3% of segments held back and delivered later (out of order) and
//! 1% sent twice (retransmissions). Prints the median of 5 runs per case.

use std::hint::black_box;
use std::time::{Duration, Instant};

use osiscope::flow::reassembly::{Chunk, Reassembler, ReassemblyLimits, Segment};
use osiscope::flow::seq::SeqNumber;

const STREAM_LEN: usize = 64 << 20;
const MSS: usize = 1448;
const RUNS: usize = 5;

/// A small, fixed pseudo-random sequence (xorshift), so runs are repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Segment order: (offset, len) pairs, possibly reordered and duplicated.
fn schedule(impaired: bool) -> Vec<(usize, usize)> {
    let mut rng = Rng(0x5eed);
    let mut out = Vec::new();
    let mut held: Vec<(usize, usize)> = Vec::new();
    let mut offset = 0;
    while offset < STREAM_LEN {
        let len = MSS.min(STREAM_LEN - offset);
        let roll = rng.next() % 100;
        if impaired && roll < 3 {
            held.push((offset, len));
        } else {
            out.push((offset, len));
            if impaired && roll == 3 {
                out.push((offset, len));
            }
            // Release held segments a few segments late.
            if held.len() > 2 || (!held.is_empty() && roll > 90) {
                out.append(&mut held);
            }
        }
        offset += len;
    }
    out.append(&mut held);
    out
}

fn run(stream: &[u8], schedule: &[(usize, usize)]) -> (Duration, u64) {
    let mut reassembler = Reassembler::new(ReassemblyLimits::default());
    let isn = SeqNumber(0xFFFF_0000);
    let start = Instant::now();
    let mut delivered = 0u64;
    reassembler.push(
        Segment {
            seq: isn,
            syn: true,
            fin: false,
            rst: false,
            payload: &[],
            frame: 0,
            payload_offset: 0,
        },
        |_| {},
    );
    for (frame, &(offset, len)) in schedule.iter().enumerate() {
        let payload = &stream[offset..offset + len];
        let seq = isn + 1 + u32::try_from(offset).unwrap_or(0);
        reassembler.push(
            Segment {
                seq,
                syn: false,
                fin: false,
                rst: false,
                payload,
                frame: frame as u64 + 1,
                payload_offset: 66,
            },
            |chunk| {
                if let Chunk::Data { bytes, .. } = chunk {
                    delivered += bytes.len() as u64;
                    black_box(&bytes);
                }
            },
        );
    }
    reassembler.finish(|_| {});
    (start.elapsed(), delivered)
}

fn main() {
    let stream: Vec<u8> = (0..STREAM_LEN).map(|i| (i % 251) as u8).collect();
    for (name, impaired) in [("in order", false), ("3% reordered, 1% duplicated", true)] {
        let order = schedule(impaired);
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let (elapsed, delivered) = run(&stream, &order);
            assert_eq!(delivered, STREAM_LEN as u64, "every byte delivered once");
            times.push(elapsed);
        }
        times.sort();
        let median = times[RUNS / 2];
        let mb_s = STREAM_LEN as f64 / 1e6 / median.as_secs_f64();
        let segments_s = order.len() as f64 / median.as_secs_f64();
        println!(
            "reassembly, {name}: {} segments, median {:.1} ms, {mb_s:.0} MB/s, {:.2} M segments/s",
            order.len(),
            median.as_secs_f64() * 1e3,
            segments_s / 1e6
        );
    }
}
