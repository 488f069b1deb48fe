//! The dissection model: what every view reads and only [`build`] assembles.
//!
//! A [`Dissection`] is one captured frame seen as a stack of [`Layer`]s, from
//! layer 1 (the bits on the wire) up to the highest protocol that decoded.
//! Every [`Field`] knows its Wireshark-style key, its typed value, its display
//! string, the exact bytes it came from ([`Span`]) and, for bit fields, its bit
//! mask, so a view can highlight the bytes of any field without decoding.
//!
//! Bytes live in numbered data sources: source 0 is the captured frame, and
//! later sources are buffers rebuilt from several frames (an IPv4 datagram
//! reassembled from fragments, a TCP stream). A layer lives in exactly one
//! source.
//!
//! Invariant: the model holds owned values and byte ranges, never borrowed
//! packet data, so it can be sent to another thread and kept.

pub mod build;
pub mod conversation;
pub mod delivery;
pub mod keys;
pub mod message;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

pub use build::{
    build, AppPdu, AppPduKind, AppProblem, BuildConfig, FrameContext, PduBytes, TcpContext,
    TunnelContext, WebSocketContext,
};
pub use conversation::StreamSummary;
pub use delivery::DeliveryReport;
pub use message::WsMessage;

/// Lower-case hex of `bytes`, as `hex::encode` writes it, into one buffer
/// at once (`hex::encode` collects a character at a time, which showed in
/// profiles of the JSON views).
pub fn hex_string(bytes: &[u8]) -> String {
    let mut text = vec![0u8; bytes.len().saturating_mul(2)];
    match hex::encode_to_slice(bytes, &mut text) {
        Ok(()) => String::from_utf8(text).unwrap_or_default(),
        Err(_) => hex::encode(bytes),
    }
}

/// A frame's position in its capture: 1-based, exactly as Wireshark counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FrameNumber(pub u64);

impl fmt::Display for FrameNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A capture timestamp: seconds since the Unix epoch plus nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    /// The time as fractional seconds, for arithmetic on durations.
    pub fn as_secs_f64(self) -> f64 {
        // Precision loss is fine: this is for display and relative times.
        #[allow(clippy::cast_precision_loss)]
        let secs = self.secs as f64;
        secs + f64::from(self.nanos) / 1e9
    }
}

impl fmt::Display for Timestamp {
    /// Formats as `seconds.nanoseconds`, the form of tshark's `frame.time_epoch`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}", self.secs, self.nanos)
    }
}

/// A half-open byte range `[start, end)` inside one data source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    /// Builds a span; an inverted range collapses to an empty span at `start`.
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start,
            end: end.max(start),
        }
    }

    /// A span of `len` bytes starting at `start`.
    pub fn at(start: usize, len: usize) -> Span {
        Span::new(start, start.saturating_add(len))
    }

    /// Number of bytes covered.
    pub fn len(self) -> usize {
        self.end - self.start
    }

    /// Whether the span covers no byte.
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// Whether `offset` lies inside the span.
    pub fn contains(self, offset: usize) -> bool {
        self.start <= offset && offset < self.end
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}..{})", self.start, self.end)
    }
}

/// The seven layers of the OSI reference model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Osi {
    Physical = 1,
    DataLink = 2,
    Network = 3,
    Transport = 4,
    Session = 5,
    Presentation = 6,
    Application = 7,
}

impl Osi {
    /// Every layer, bottom to top.
    pub const ALL: [Osi; 7] = [
        Osi::Physical,
        Osi::DataLink,
        Osi::Network,
        Osi::Transport,
        Osi::Session,
        Osi::Presentation,
        Osi::Application,
    ];

    /// The layer number, 1 to 7.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The layer's name as textbooks give it.
    pub fn name(self) -> &'static str {
        match self {
            Osi::Physical => "Physical",
            Osi::DataLink => "Data link",
            Osi::Network => "Network",
            Osi::Transport => "Transport",
            Osi::Session => "Session",
            Osi::Presentation => "Presentation",
            Osi::Application => "Application",
        }
    }
}

/// The protocols osiscope decodes, each placed at one OSI layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The physical signal: what the wire carried around the captured bytes.
    Physical,
    Ethernet,
    /// An IEEE 802.1Q (customer) or 802.1ad (service) VLAN tag.
    Vlan,
    /// Linux "cooked" capture header, version 1 (link type 113).
    LinuxSll,
    /// Linux "cooked" capture header, version 2 (link type 276).
    LinuxSll2,
    /// BSD loopback encapsulation (link types 0 and 108).
    Null,
    Arp,
    Ipv4,
    Ipv6,
    Icmp,
    Icmpv6,
    Tcp,
    Udp,
    Http,
    WebSocket,
    /// The TLS record layer (wss://): what stays visible of encrypted traffic.
    Tls,
    /// Not a header: the state of the connection and session after the frame.
    Session,
    /// Bytes no decoder claimed.
    Data,
}

impl Protocol {
    /// The OSI layer this protocol is taught at.
    pub fn osi(self) -> Osi {
        match self {
            Protocol::Physical => Osi::Physical,
            Protocol::Ethernet
            | Protocol::Vlan
            | Protocol::LinuxSll
            | Protocol::LinuxSll2
            | Protocol::Null => Osi::DataLink,
            Protocol::Arp | Protocol::Ipv4 | Protocol::Ipv6 | Protocol::Icmp | Protocol::Icmpv6 => {
                Osi::Network
            }
            Protocol::Tcp | Protocol::Udp => Osi::Transport,
            // WebSocket is placed at layer 7 here, as most references do;
            // some teaching material puts its connection handling at layer 5.
            Protocol::Http | Protocol::WebSocket | Protocol::Data => Osi::Application,
            Protocol::Session => Osi::Session,
            Protocol::Tls => Osi::Presentation,
        }
    }

    /// The name of the unit of data at this layer (its PDU).
    pub fn pdu(self) -> &'static str {
        match self {
            Protocol::Physical => "bits",
            Protocol::Ethernet
            | Protocol::Vlan
            | Protocol::LinuxSll
            | Protocol::LinuxSll2
            | Protocol::Null => "frame",
            Protocol::Ipv4 | Protocol::Ipv6 => "packet",
            Protocol::Arp | Protocol::Icmp | Protocol::Icmpv6 => "message",
            Protocol::Tcp => "segment",
            Protocol::Udp => "datagram",
            Protocol::Http => "message",
            Protocol::WebSocket => "frame",
            Protocol::Session => "state",
            Protocol::Tls => "record",
            Protocol::Data => "data",
        }
    }

    /// The protocol's short name as Wireshark spells its filter prefix.
    pub fn short_name(self) -> &'static str {
        match self {
            Protocol::Physical => "frame",
            Protocol::Ethernet => "eth",
            Protocol::Vlan => "vlan",
            Protocol::LinuxSll | Protocol::LinuxSll2 => "sll",
            Protocol::Null => "null",
            Protocol::Arp => "arp",
            Protocol::Ipv4 => "ip",
            Protocol::Ipv6 => "ipv6",
            Protocol::Icmp => "icmp",
            Protocol::Icmpv6 => "icmpv6",
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Http => "http",
            Protocol::WebSocket => "websocket",
            Protocol::Session => "session",
            Protocol::Tls => "tls",
            Protocol::Data => "data",
        }
    }

    /// The protocol's display name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Physical => "Physical",
            Protocol::Ethernet => "Ethernet II",
            Protocol::Vlan => "802.1Q VLAN",
            Protocol::LinuxSll => "Linux cooked capture v1",
            Protocol::LinuxSll2 => "Linux cooked capture v2",
            Protocol::Null => "BSD loopback",
            Protocol::Arp => "ARP",
            Protocol::Ipv4 => "IPv4",
            Protocol::Ipv6 => "IPv6",
            Protocol::Icmp => "ICMP",
            Protocol::Icmpv6 => "ICMPv6",
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Http => "HTTP/1.1",
            Protocol::WebSocket => "WebSocket",
            Protocol::Session => "Connection state",
            Protocol::Tls => "TLS",
            Protocol::Data => "Data",
        }
    }
}

/// A typed field value. Unknown wire values are kept as numbers, never lost.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    /// A group of fields with no value of its own.
    None,
    Bool(bool),
    UInt(u64),
    Int(i64),
    Float(f64),
    Mac([u8; 6]),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    Bytes(Vec<u8>),
    Text(String),
}

/// A field's place in the model: what it is, what it says, which bytes it owns.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Wireshark-style filter name, such as `tcp.flags.syn`.
    pub key: &'static str,
    /// Short human label, such as "Source port".
    pub label: &'static str,
    pub value: FieldValue,
    /// The value as shown to a person (already free of control characters).
    pub display: String,
    /// The bytes in the layer's data source that hold this field.
    pub span: Span,
    /// For bit fields: which bits of the span's bytes (big-endian) hold it.
    pub mask: Option<u64>,
    /// One sentence for learners on what the field means.
    pub explain: &'static str,
    pub children: Vec<Field>,
}

impl Field {
    /// Looks up this field or a descendant by key, depth first.
    pub fn find(&self, key: &str) -> Option<&Field> {
        if self.key == key {
            return Some(self);
        }
        self.children.iter().find_map(|child| child.find(key))
    }

    /// This field and all its descendants, depth first.
    pub fn walk(&self) -> Vec<&Field> {
        let mut out = vec![self];
        for child in &self.children {
            out.extend(child.walk());
        }
        out
    }
}

/// One protocol layer of a frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub protocol: Protocol,
    /// The data source holding this layer's bytes (0 is the frame).
    pub source: usize,
    /// The bytes this layer owns: its header (and trailer), not its payload.
    pub span: Span,
    /// The bytes it carries for the layer above, if any.
    pub payload: Option<Span>,
    /// A one-line summary, like the root line of a Wireshark protocol tree.
    pub summary: String,
    /// One plain sentence on what this layer did for this frame.
    pub did: String,
    pub fields: Vec<Field>,
}

impl Layer {
    /// The OSI layer this protocol sits at.
    pub fn osi(&self) -> Osi {
        self.protocol.osi()
    }

    /// Looks up a field of this layer by key.
    pub fn find(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find_map(|field| field.find(key))
    }
}

/// How serious a problem is, as tshark's expert info grades it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Normal but noteworthy.
    Note,
    /// Unusual; may be a problem.
    Warning,
    /// Malformed or invalid.
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Something wrong or noteworthy about a frame, located where possible.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub severity: Severity,
    /// A stable key naming the kind of problem, such as `ip.checksum.bad`.
    pub key: &'static str,
    pub message: String,
    /// Index into [`Dissection::layers`] of the layer it concerns, if any.
    pub layer: Option<usize>,
    /// The bytes concerned, in that layer's data source.
    pub span: Option<Span>,
}

/// A buffer of bytes that layers point into.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSource {
    /// "Frame (74 bytes)", "Reassembled IPv4 (3000 bytes)".
    pub name: String,
    pub bytes: Vec<u8>,
    /// Frames that contributed bytes; empty for the frame itself.
    pub frames: Vec<FrameNumber>,
}

/// General facts about a captured frame.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameInfo {
    pub number: FrameNumber,
    pub ts: Timestamp,
    /// Bytes stored in the capture file.
    pub cap_len: usize,
    /// Bytes the frame had on the wire.
    pub orig_len: usize,
    /// The capture's link-layer header type (LINKTYPE_* value).
    pub link_type: u32,
}

/// A frame dissected into layers: the one model every view reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Dissection {
    pub frame: FrameInfo,
    /// Source 0 is the frame; later ones were rebuilt from several frames.
    pub sources: Vec<DataSource>,
    /// Bottom to top; the first layer is always the physical one.
    pub layers: Vec<Layer>,
    pub problems: Vec<Problem>,
}

impl Dissection {
    /// The captured bytes of the frame.
    pub fn bytes(&self) -> &[u8] {
        self.sources.first().map_or(&[], |source| &source.bytes)
    }

    /// The highest layer that decoded.
    pub fn top(&self) -> Option<&Layer> {
        self.layers.last()
    }

    /// The first layer of the given protocol.
    pub fn layer(&self, protocol: Protocol) -> Option<&Layer> {
        self.layers.iter().find(|layer| layer.protocol == protocol)
    }

    /// Looks up a field by key in any layer, bottom to top.
    pub fn find(&self, key: &str) -> Option<&Field> {
        self.layers.iter().find_map(|layer| layer.find(key))
    }

    /// The most severe problem, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.problems.iter().map(|problem| problem.severity).max()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_string_is_what_the_hex_crate_writes() {
        for bytes in [
            &[][..],
            &[0x00],
            &[0xde, 0xad, 0xbe, 0xef, 0x01, 0x7f, 0x80, 0xff],
        ] {
            assert_eq!(super::hex_string(bytes), hex::encode(bytes));
        }
    }
}
