//! The comparison of delivery techniques as the model keeps it, for `osiscope compare` and the
//! terminal UI's compare pane: per TCP connection and per technique, the messages delivered to
//! the client and what they cost. `application::delivery` says which messages count and how a
//! connection's technique is decided.

use crate::dissect::{FrameNumber, Timestamp};
use crate::flow::table::Endpoint;

pub use crate::application::delivery::{Technique, HOLD_THRESHOLD_US};

/// One message delivered to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The message's `seq`.
    pub seq: u64,
    /// Its `sent` stamp, in microseconds since the Unix epoch.
    pub sent_us: i64,
    /// The connection's `tcp.stream`.
    pub stream: u32,
    /// The frame that completed its delivery, and when it was captured.
    pub frame: FrameNumber,
    pub ts: Timestamp,
    /// `ts` minus `sent_us`, in microseconds (negative when the clocks disagree).
    pub delay_us: i64,
}

/// One TCP connection that delivered messages.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionDelivery {
    /// Wireshark's `tcp.stream`.
    pub stream: u32,
    pub client: Endpoint,
    pub server: Endpoint,
    pub technique: Technique,
    /// Frames of the connection, both directions, and their bytes on the wire (every header
    /// from the link layer up, as captured in full).
    pub frames: u64,
    pub bytes: u64,
    pub first_frame: FrameNumber,
    pub last_frame: FrameNumber,
    /// HTTP request and response heads (a WebSocket handshake is one of each) and their bytes.
    pub requests: u64,
    pub responses: u64,
    pub head_bytes: u64,
    /// Answers the server held past the threshold, of those whose request was seen.
    pub held_responses: u64,
    pub timed_responses: u64,
    /// The longest the server took to answer, beyond the initial round trip (microseconds).
    pub max_hold_us: i64,
    /// Answers whose body carried no message.
    pub empty_responses: u64,
    /// The messages, in the order their delivery completed.
    pub messages: Vec<Delivery>,
}

/// The connections of one technique, added up.
#[derive(Clone, Debug, PartialEq)]
pub struct TechniqueSummary {
    pub technique: Technique,
    /// The `tcp.stream` of each connection, ascending.
    pub streams: Vec<u32>,
    pub frames: u64,
    pub bytes: u64,
    pub first_frame: FrameNumber,
    pub last_frame: FrameNumber,
    pub requests: u64,
    pub responses: u64,
    pub head_bytes: u64,
    pub held_responses: u64,
    pub timed_responses: u64,
    pub max_hold_us: i64,
    pub empty_responses: u64,
    /// Every message of these connections, in the order their delivery completed.
    pub messages: Vec<Delivery>,
}

impl TechniqueSummary {
    /// Sums the connections of one technique; `None` when there is none.
    pub fn of(technique: Technique, connections: &[ConnectionDelivery]) -> Option<Self> {
        let mine: Vec<&ConnectionDelivery> = connections
            .iter()
            .filter(|c| c.technique == technique)
            .collect();
        let first = mine.first()?;
        let mut summary = TechniqueSummary {
            technique,
            streams: Vec::new(),
            frames: 0,
            bytes: 0,
            first_frame: first.first_frame,
            last_frame: first.last_frame,
            requests: 0,
            responses: 0,
            head_bytes: 0,
            held_responses: 0,
            timed_responses: 0,
            max_hold_us: first.max_hold_us,
            empty_responses: 0,
            messages: Vec::new(),
        };
        for c in mine {
            summary.streams.push(c.stream);
            summary.frames = summary.frames.saturating_add(c.frames);
            summary.bytes = summary.bytes.saturating_add(c.bytes);
            summary.first_frame = summary.first_frame.min(c.first_frame);
            summary.last_frame = summary.last_frame.max(c.last_frame);
            summary.requests = summary.requests.saturating_add(c.requests);
            summary.responses = summary.responses.saturating_add(c.responses);
            summary.head_bytes = summary.head_bytes.saturating_add(c.head_bytes);
            summary.held_responses = summary.held_responses.saturating_add(c.held_responses);
            summary.timed_responses = summary.timed_responses.saturating_add(c.timed_responses);
            summary.max_hold_us = summary.max_hold_us.max(c.max_hold_us);
            summary.empty_responses = summary.empty_responses.saturating_add(c.empty_responses);
            summary.messages.extend_from_slice(&c.messages);
        }
        summary.streams.sort_unstable();
        summary.messages.sort_by_key(|m| (m.frame, m.stream));
        Some(summary)
    }

    /// Connections used.
    pub fn connections(&self) -> usize {
        self.streams.len()
    }

    /// Bytes on the wire per message delivered.
    pub fn bytes_per_message(&self) -> Option<f64> {
        let messages = self.messages.len();
        // Precision loss is fine for a ratio.
        #[allow(clippy::cast_precision_loss)]
        (messages > 0).then(|| self.bytes as f64 / messages as f64)
    }

    /// The median delay in microseconds (the mean of the two middle ones for an even count).
    pub fn median_delay_us(&self) -> Option<i64> {
        let mut delays: Vec<i64> = self.messages.iter().map(|m| m.delay_us).collect();
        delays.sort_unstable();
        let middle = delays.len() / 2;
        match delays.len() {
            0 => None,
            n if n % 2 == 1 => delays.get(middle).copied(),
            _ => {
                let low = *delays.get(middle.checked_sub(1)?)?;
                let high = *delays.get(middle)?;
                Some(low.saturating_add(high.saturating_sub(low) / 2))
            }
        }
    }

    /// The longest delay in microseconds.
    pub fn max_delay_us(&self) -> Option<i64> {
        self.messages.iter().map(|m| m.delay_us).max()
    }
}

/// Every technique found in a capture.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeliveryReport {
    /// The connections that delivered messages, in `tcp.stream` order.
    pub connections: Vec<ConnectionDelivery>,
    /// One summary per technique present, in [`Technique::ALL`] order.
    pub techniques: Vec<TechniqueSummary>,
    /// Messages found but not kept, past the observer's limit.
    pub dropped: u64,
}

impl DeliveryReport {
    /// Builds the report from its connections.
    pub fn new(connections: Vec<ConnectionDelivery>, dropped: u64) -> DeliveryReport {
        let techniques = Technique::ALL
            .iter()
            .filter_map(|t| TechniqueSummary::of(*t, &connections))
            .collect();
        DeliveryReport {
            connections,
            techniques,
            dropped,
        }
    }

    /// The summary of one technique, if the capture has it.
    pub fn technique(&self, technique: Technique) -> Option<&TechniqueSummary> {
        self.techniques.iter().find(|t| t.technique == technique)
    }

    /// A technique's bytes per message, and its median delay, each divided by WebSocket's;
    /// `None` where either is missing or WebSocket's is not positive.
    pub fn ratios_vs_websocket(&self, summary: &TechniqueSummary) -> (Option<f64>, Option<f64>) {
        let Some(websocket) = self.technique(Technique::WebSocket) else {
            return (None, None);
        };
        let bytes = match (summary.bytes_per_message(), websocket.bytes_per_message()) {
            (Some(mine), Some(theirs)) if theirs > 0.0 => Some(mine / theirs),
            _ => None,
        };
        // Precision loss is fine for a ratio.
        #[allow(clippy::cast_precision_loss)]
        let delay = match (summary.median_delay_us(), websocket.median_delay_us()) {
            (Some(mine), Some(theirs)) if theirs > 0 => Some(mine as f64 / theirs as f64),
            _ => None,
        };
        (bytes, delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn endpoint(port: u16) -> Endpoint {
        Endpoint {
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port,
        }
    }

    fn connection(
        stream: u32,
        technique: Technique,
        bytes: u64,
        delays: &[i64],
    ) -> ConnectionDelivery {
        ConnectionDelivery {
            stream,
            client: endpoint(40000),
            server: endpoint(8080),
            technique,
            frames: 10,
            bytes,
            first_frame: FrameNumber(u64::from(stream) * 10 + 1),
            last_frame: FrameNumber(u64::from(stream) * 10 + 10),
            requests: 1,
            responses: 1,
            head_bytes: 100,
            held_responses: 0,
            timed_responses: 1,
            max_hold_us: 5,
            empty_responses: 0,
            messages: delays
                .iter()
                .enumerate()
                .map(|(i, delay)| Delivery {
                    seq: i as u64 + 1,
                    sent_us: 0,
                    stream,
                    frame: FrameNumber(u64::from(stream) * 10 + 2 + i as u64),
                    ts: Timestamp::default(),
                    delay_us: *delay,
                })
                .collect(),
        }
    }

    #[test]
    fn connections_of_a_technique_add_up_in_technique_order() {
        let report = DeliveryReport::new(
            vec![
                connection(0, Technique::WebSocket, 1000, &[100, 300]),
                connection(1, Technique::Polling, 3000, &[5000]),
                connection(2, Technique::Polling, 5000, &[1000, 9000]),
            ],
            0,
        );
        let order: Vec<Technique> = report.techniques.iter().map(|t| t.technique).collect();
        assert_eq!(order, vec![Technique::Polling, Technique::WebSocket]);
        let polling = report.technique(Technique::Polling).unwrap();
        assert_eq!(polling.streams, vec![1, 2]);
        assert_eq!(polling.connections(), 2);
        assert_eq!((polling.bytes, polling.requests), (8000, 2));
        assert_eq!(
            (polling.first_frame, polling.last_frame),
            (FrameNumber(11), FrameNumber(30))
        );
        assert_eq!(polling.messages.len(), 3);
        assert_eq!(polling.bytes_per_message(), Some(8000.0 / 3.0));
        assert_eq!(polling.median_delay_us(), Some(5000));
        assert_eq!(polling.max_delay_us(), Some(9000));
        let websocket = report.technique(Technique::WebSocket).unwrap();
        // An even count: the mean of the two middle delays.
        assert_eq!(websocket.median_delay_us(), Some(200));
        let (bytes, delay) = report.ratios_vs_websocket(polling);
        assert_eq!(bytes, Some((8000.0 / 3.0) / 500.0));
        assert_eq!(delay, Some(25.0));
        assert_eq!(
            report.ratios_vs_websocket(websocket),
            (Some(1.0), Some(1.0))
        );
    }

    #[test]
    fn without_websocket_there_are_no_ratios() {
        let report = DeliveryReport::new(vec![connection(0, Technique::LongPolling, 10, &[1])], 0);
        let summary = report.technique(Technique::LongPolling).unwrap();
        assert_eq!(report.ratios_vs_websocket(summary), (None, None));
        assert_eq!(DeliveryReport::default().techniques, Vec::new());
    }
}
