//! Runs the stages for each frame, keeping the state that spans frames.
//!
//! A [`Pipeline`] is fed frames in capture order. Decoding one frame is
//! stateless; what crosses frames (IPv4 fragments, TCP connections and their
//! byte streams) lives here, so every view gets the same answers.

use std::net::IpAddr;

use crate::decode::defrag::{
    DefragKey, DefragLimits, DefragOutcome, Defragmenter, Expired, Fragment,
};
use crate::decode::{decode_frame, DecodeProblem, Decoded, Net, Transport};
use crate::dissect::{self, BuildConfig, Dissection, FrameContext, Protocol, Severity, TcpContext};
use crate::flow::reassembly::ReassemblyLimits;
use crate::flow::seq::SeqNumber;
use crate::flow::table::Endpoint;
use crate::flow::tracker::{Step, TcpSegment, Tracker};
use crate::source::RawFrame;

/// The per-capture state and settings of the decoding pipeline.
#[derive(Debug)]
pub struct Pipeline {
    config: BuildConfig,
    defrag: Defragmenter,
    tracker: Tracker,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new(BuildConfig::default())
    }
}

impl Pipeline {
    pub fn new(config: BuildConfig) -> Pipeline {
        Pipeline {
            config,
            defrag: Defragmenter::new(DefragLimits::default()),
            tracker: Tracker::new(ReassemblyLimits::default()),
        }
    }

    /// Decodes one frame into the layered model.
    pub fn dissect(&mut self, frame: &RawFrame<'_>) -> Dissection {
        let datagram: Vec<u8>;
        let mut decoded = decode_frame(frame);
        if let Some((payload, frames)) = self.defragment(frame, &mut decoded) {
            datagram = payload;
            decoded.attach_reassembled(&datagram, frames);
        }
        let step = self.track(frame, &decoded);
        let context = FrameContext {
            tcp: step.as_ref().and_then(|step| {
                let conversation = &self.tracker.connection(step.slot)?.conversation;
                Some(TcpContext {
                    stream: step.stream,
                    direction: step.direction,
                    client: conversation.client,
                    server: conversation.server,
                    roles_guessed: conversation.roles_guessed,
                    class: step.outcome.class,
                })
            }),
        };
        dissect::build(frame, &decoded, &context, &self.config)
    }

    /// The connection tracker, for summaries of every TCP connection.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// Ends the capture: what is still held is released.
    pub fn finish(&mut self) {
        let _ = self.defrag.finish();
        let _ = self.tracker.finish();
    }

    /// Feeds an IPv4 fragment to the defragmenter; returns the datagram's
    /// payload and frames when this fragment completes it.
    fn defragment(
        &mut self,
        frame: &RawFrame<'_>,
        decoded: &mut Decoded<'_>,
    ) -> Option<(Vec<u8>, Vec<u64>)> {
        let ts_micros = u64::try_from(frame.ts.secs)
            .unwrap_or(0)
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(frame.ts.nanos / 1000));
        for expired in self.defrag.expire(ts_micros) {
            report_expired(decoded, &expired);
        }
        let Some(Net::Ipv4(ip)) = &decoded.net else {
            return None;
        };
        if !ip.is_fragment() {
            return None;
        }
        let header = ip.header;
        let payload = decoded
            .data
            .get(ip.payload.start..ip.payload.end)
            .unwrap_or(&[]);
        let pushed = self.defrag.push(Fragment {
            key: DefragKey {
                src: header.source_addr(),
                dst: header.destination_addr(),
                protocol: header.protocol().0,
                identification: header.identification(),
            },
            frag_offset: u32::from(header.fragments_offset().value()) * 8,
            more_fragments: header.more_fragments(),
            payload,
            frame: frame.number.0,
            frame_offset: u32::try_from(ip.payload.start).unwrap_or(u32::MAX),
            ts_micros,
        });
        for expired in &pushed.evicted {
            report_expired(decoded, expired);
        }
        if let Some(problem) = pushed
            .overlap
            .as_ref()
            .and_then(|overlap| overlap.problem())
        {
            decoded.problems.push(DecodeProblem {
                protocol: Protocol::Ipv4,
                severity: Severity::Warning,
                key: "ip.fragment.overlap.conflict",
                message: problem.to_string(),
                span: Some(ip_payload_span(decoded)),
            });
        }
        match pushed.outcome {
            DefragOutcome::Held { .. } => None,
            DefragOutcome::Complete(datagram) => {
                let frames = datagram.frames().to_vec();
                Some((datagram.into_payload(), frames))
            }
            DefragOutcome::Problem { problem, .. } => {
                decoded.problems.push(DecodeProblem {
                    protocol: Protocol::Ipv4,
                    severity: Severity::Error,
                    key: "ip.fragment.error",
                    message: problem.to_string(),
                    span: None,
                });
                None
            }
        }
    }

    /// Places a TCP segment in its connection and reassembles its stream.
    fn track<'a>(&mut self, frame: &RawFrame<'_>, decoded: &Decoded<'a>) -> Option<Step<'a>> {
        let Some(Transport::Tcp(tcp)) = &decoded.transport else {
            return None;
        };
        let (src, dst) = match &decoded.net {
            Some(Net::Ipv4(ip)) => (
                IpAddr::from(ip.header.source_addr()),
                IpAddr::from(ip.header.destination_addr()),
            ),
            Some(Net::Ipv6(ip)) => (
                IpAddr::from(ip.header.source_addr()),
                IpAddr::from(ip.header.destination_addr()),
            ),
            _ => return None,
        };
        let bytes = if tcp.source == 0 {
            decoded.data
        } else {
            decoded.reassembled.as_ref().map_or(&[][..], |r| r.bytes)
        };
        let payload = bytes.get(tcp.payload.start..tcp.payload.end).unwrap_or(&[]);
        let header = &tcp.header;
        let wire_len = match &decoded.net {
            Some(Net::Ipv4(ip)) if tcp.source == 0 && ip.header.total_len() != 0 => {
                usize::from(ip.header.total_len())
                    .saturating_sub(ip.header.slice().len() + header.slice().len())
            }
            _ => payload.len(),
        };
        self.tracker.segment(&TcpSegment {
            frame: frame.number.0,
            ts: frame.ts,
            src: Endpoint {
                addr: src,
                port: header.source_port(),
            },
            dst: Endpoint {
                addr: dst,
                port: header.destination_port(),
            },
            seq: SeqNumber(header.sequence_number()),
            ack: SeqNumber(header.acknowledgment_number()),
            syn: header.syn(),
            ack_flag: header.ack(),
            fin: header.fin(),
            rst: header.rst(),
            payload,
            wire_len: wire_len.max(payload.len()),
            payload_offset: if tcp.source == 0 {
                u32::try_from(tcp.payload.start).unwrap_or(u32::MAX)
            } else {
                0
            },
        })
    }
}

fn ip_payload_span(decoded: &Decoded<'_>) -> crate::dissect::Span {
    match &decoded.net {
        Some(Net::Ipv4(ip)) => ip.payload,
        _ => crate::dissect::Span::default(),
    }
}

/// Says on the current frame that a datagram was given up.
fn report_expired(decoded: &mut Decoded<'_>, expired: &Expired) {
    let frames: Vec<String> = expired.frames.iter().map(|f| format!("#{f}")).collect();
    decoded.problems.push(DecodeProblem {
        protocol: Protocol::Ipv4,
        severity: Severity::Warning,
        key: "ip.fragment.incomplete",
        message: format!(
            "IPv4 datagram 0x{:04x} from {} to {} never completed ({:?}); fragments in frames {}, {} bytes received",
            expired.key.identification,
            expired.key.src,
            expired.key.dst,
            expired.reason,
            frames.join(", "),
            expired.bytes_received
        ),
        span: None,
    });
}
