//! The packet list's record of one frame: a compact, owned summary taken
//! from the frame's dissection while the capture is indexed.
//!
//! A row keeps what the list and the ladder show (addresses, the highest
//! protocol, an info line like tshark's, the worst problem, and for TCP the
//! connection, direction, flags, numbers and what the segment carried), so
//! those views never need the full model of a frame they do not show.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use crate::decode::transport::tcp_field;
use crate::decode::{decode_frame, Decoded, Transport};
use crate::dissect::build::{
    analysis_severity, application_layers, pdu_problem, tcp_wire_len, websocket_summary,
};
use crate::dissect::{
    self, keys, AppPdu, AppPduKind, BuildConfig, Dissection, Field, FieldValue, FrameContext,
    FrameNumber, Layer, Protocol, Severity, Timestamp,
};
use crate::flow::analysis::key;
use crate::flow::table::Direction;
use crate::source::RawFrame;

/// One frame in the packet list.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub number: FrameNumber,
    pub ts: Timestamp,
    /// Bytes on the wire (tshark's Length column).
    pub len: u32,
    /// Source and destination: IP addresses, or link addresses without IP
    /// (shared by the rows of a connection, see [`Interner`]).
    pub src: Arc<str>,
    pub dst: Arc<str>,
    /// The highest protocol that decoded (layer 5's state view aside).
    pub protocol: Protocol,
    /// What the frame is, in one line, as tshark's Info column says it
    /// (see [`Row::info`]).
    pub info: Info,
    pub worst: Option<Severity>,
    pub tcp: Option<TcpRow>,
}

/// A row's Info column: its text, or for a listed segment (see
/// [`Row::listed`]) the few facts it is written from when it is shown, so
/// that listing millions of frames writes none of them.
#[derive(Clone, Debug, PartialEq)]
pub enum Info {
    Text(Box<str>),
    Segment {
        src_port: u16,
        dst_port: u16,
        flags: u8,
        window: u16,
        len: u32,
    },
    /// A decoded segment of a known connection: the line is written when
    /// shown from the row's [`TcpRow`] (ports, flag names, relative
    /// numbers, length, or the one PDU it carried) and these, so that a
    /// decoded capture keeps no Info text for most of its rows.
    Tcp {
        window: Option<u16>,
        /// The analysis label in front, as an index into [`ANALYSIS_LABELS`].
        label: Option<u8>,
    },
}

impl From<&str> for Info {
    fn from(text: &str) -> Info {
        Info::Text(text.into())
    }
}

/// What a TCP segment was, for the ladder of its connection.
#[derive(Clone, Debug, PartialEq)]
pub struct TcpRow {
    /// The connection's `tcp.stream`.
    pub stream: u32,
    /// Sent by the client (the end that opened the connection).
    pub to_server: bool,
    pub src_port: u16,
    pub dst_port: u16,
    /// Flag names in tshark's order, such as `SYN, ACK` (shared, see
    /// [`Interner`]).
    pub flags: Arc<str>,
    /// Relative sequence and acknowledgment numbers, as `tcp.seq`/`tcp.ack`.
    pub seq: u64,
    pub ack: Option<u64>,
    pub len: u64,
    /// What the segment carried for the layers above, in a few words
    /// (`GET /chat`, `101 Switching Protocols`, `text "Hello"`), if anything.
    pub carried: Box<str>,
}

/// Keeps one copy of the strings many rows repeat (addresses, flag names),
/// so a row of a long capture costs its own Info line and little more.
#[derive(Debug, Default)]
pub struct Interner {
    kept: HashSet<Arc<str>, foldhash::fast::RandomState>,
    /// Addresses as shown, by address: a row made from parts needs no
    /// formatting. (Hashed with `foldhash`, seeded per process, as the
    /// connection table is: two lookups per row.)
    addresses: HashMap<IpAddr, Arc<str>, foldhash::fast::RandomState>,
    /// The addresses looked up last, most recent first: consecutive frames
    /// mostly repeat a few, found here without hashing.
    recent: [Option<(IpAddr, Arc<str>)>; 4],
    /// Flag names by flag bits (see [`FLAG_NAMES`]).
    flags: HashMap<u8, Arc<str>>,
}

impl Interner {
    /// Distinct strings kept at most; past it the set starts again (rows
    /// keep their copies, later rows share new ones).
    const MAX: usize = 1 << 16;

    /// The shared copy of `text`.
    pub fn get(&mut self, text: &Arc<str>) -> Arc<str> {
        if let Some(kept) = self.kept.get(&**text) {
            return Arc::clone(kept);
        }
        if self.kept.len() >= Self::MAX {
            self.kept.clear();
        }
        self.kept.insert(Arc::clone(text));
        Arc::clone(text)
    }

    /// The shared text of an address.
    fn address(&mut self, address: IpAddr) -> Arc<str> {
        let found = self
            .recent
            .iter()
            .position(|entry| entry.as_ref().is_some_and(|(kept, _)| *kept == address));
        let position = match found {
            Some(position) => position,
            None => {
                let text = match self.addresses.get(&address) {
                    Some(kept) => Arc::clone(kept),
                    None => {
                        if self.addresses.len() >= Self::MAX {
                            self.addresses.clear();
                        }
                        let text: Arc<str> = address.to_string().into();
                        self.addresses.insert(address, Arc::clone(&text));
                        text
                    }
                };
                if let Some(last) = self.recent.last_mut() {
                    *last = Some((address, text));
                }
                self.recent.len().saturating_sub(1)
            }
        };
        // The one looked up moves to the front.
        if let Some(slots) = self.recent.get_mut(..=position) {
            slots.rotate_right(1);
        }
        match self.recent.first() {
            Some(Some((_, text))) => Arc::clone(text),
            _ => address.to_string().into(),
        }
    }

    /// The shared names of a segment's flags.
    fn flags(&mut self, bits: u8) -> Arc<str> {
        Arc::clone(
            self.flags
                .entry(bits)
                .or_insert_with(|| flag_names(bits).into()),
        )
    }

    /// Makes a row share the strings it repeats.
    pub fn share(&mut self, row: &mut Row) {
        row.src = self.get(&row.src);
        row.dst = self.get(&row.dst);
        if let Some(tcp) = row.tcp.as_mut() {
            tcp.flags = self.get(&tcp.flags);
        }
    }
}

/// Tshark's order of TCP flag names, with the field and the bit of each.
const FLAG_NAMES: [(&str, u64, &str); 8] = [
    (keys::tcp::FLAGS_FIN, tcp_field::FIN_MASK, "FIN"),
    (keys::tcp::FLAGS_SYN, tcp_field::SYN_MASK, "SYN"),
    (keys::tcp::FLAGS_RESET, tcp_field::RST_MASK, "RST"),
    (keys::tcp::FLAGS_PUSH, tcp_field::PSH_MASK, "PSH"),
    (keys::tcp::FLAGS_ACK, tcp_field::ACK_MASK, "ACK"),
    (keys::tcp::FLAGS_URG, tcp_field::URG_MASK, "URG"),
    (keys::tcp::FLAGS_ECE, tcp_field::ECE_MASK, "ECE"),
    (keys::tcp::FLAGS_CWR, tcp_field::CWR_MASK, "CWR"),
];

/// The analysis flags tshark puts in front of the Info column.
const ANALYSIS_LABELS: [(&str, &str); 9] = [
    (key::SPURIOUS_RETRANSMISSION, "TCP Spurious Retransmission"),
    (key::FAST_RETRANSMISSION, "TCP Fast Retransmission"),
    (key::RETRANSMISSION, "TCP Retransmission"),
    (key::OUT_OF_ORDER, "TCP Out-Of-Order"),
    (key::LOST_SEGMENT, "TCP Previous segment not captured"),
    (key::ACK_LOST_SEGMENT, "TCP ACKed unseen segment"),
    (key::ZERO_WINDOW, "TCP ZeroWindow"),
    (key::WINDOW_FULL, "TCP Window Full"),
    (key::KEEP_ALIVE, "TCP Keep-Alive"),
];

/// What the row says of a TCP segment, read from its model or from what the
/// model is built from: one set of facts, so both ways word it alike.
#[derive(Default)]
struct TcpFacts {
    /// Stream and direction (client to server), known with the connection.
    stream: Option<(u32, bool)>,
    src_port: u16,
    dst_port: u16,
    /// The flags set, as [`FLAG_NAMES`]' masks.
    flags: u8,
    /// Relative numbers, as the model's `tcp.seq` and `tcp.ack` (the latter
    /// only with the ACK flag).
    seq: Option<u64>,
    ack: Option<u64>,
    window: Option<u64>,
    len: u64,
    /// Tshark's `[TCP Dup ACK frame#n]` as (frame, n), or else the first
    /// analysis label (an index into [`ANALYSIS_LABELS`]).
    duplicate_ack: Option<(u64, u64)>,
    label: Option<usize>,
}

impl Row {
    /// Summarises a dissection.
    pub fn from_dissection(dissection: &Dissection) -> Row {
        let (src, dst) = addresses(dissection);
        let protocol = top_protocol(&dissection.layers).unwrap_or(Protocol::Physical);
        let carried = carried(&dissection.layers);
        let (info, tcp) = match tcp_facts(dissection) {
            Some(facts) => (
                segment_info(&facts, &carried),
                tcp_row(&facts, &carried, || flag_names(facts.flags).into()),
            ),
            None => (Info::Text(other_info(dissection, &carried).into()), None),
        };
        Row {
            number: dissection.frame.number,
            ts: dissection.frame.ts,
            len: u32::try_from(dissection.frame.orig_len).unwrap_or(u32::MAX),
            src: src.into(),
            dst: dst.into(),
            protocol,
            info,
            worst: dissection.worst(),
            tcp,
        }
    }

    /// The row of a TCP segment in an IPv4 or IPv6 packet, from what its
    /// model would be built from (the decoded headers and what the pipeline
    /// learned), without building the model: the same row
    /// [`Row::from_dissection`] gives, at a fraction of the cost. `None` for
    /// every other frame (IP fragments, tunnels, bytes left undecoded,
    /// anything but TCP), whose row comes from its model.
    /// Its strings are shared through `interner` (see [`Interner::share`]).
    pub fn from_parts(
        frame: &RawFrame<'_>,
        decoded: &Decoded<'_>,
        context: &FrameContext,
        interner: &mut Interner,
    ) -> Option<Row> {
        let (Some(Transport::Tcp(segment)), Some(tcp)) = (&decoded.transport, &context.tcp) else {
            return None;
        };
        if segment.source != 0
            || decoded.reassembled.is_some()
            || decoded.rest.is_some()
            || context.tunnel.is_some()
        {
            return None;
        }
        let (src, dst) = decoded.ip_addresses()?;
        let (top, carried, app_worst) = application_facts(&context.app);
        let analysis = &tcp.analysis;
        let worst = decoded
            .problems
            .iter()
            .map(|problem| problem.severity)
            .chain(analysis.flags.iter().filter_map(analysis_severity))
            .chain(context.app_problems.iter().map(|problem| problem.severity))
            .chain(app_worst)
            .max();
        let flag_mask = u64::from(segment.flags());
        let has_ack = flag_mask & tcp_field::ACK_MASK != 0;
        let header = &segment.header;
        let flags = analysis.flags;
        let facts = TcpFacts {
            stream: Some((tcp.stream, tcp.direction == Direction::ClientToServer)),
            src_port: header.source_port(),
            dst_port: header.destination_port(),
            flags: flag_bits(flag_mask),
            seq: Some(u64::from(analysis.relative.seq)),
            ack: has_ack.then(|| {
                u64::from(
                    analysis
                        .relative
                        .ack
                        .unwrap_or(header.acknowledgment_number()),
                )
            }),
            window: Some(u64::from(header.window_size())),
            len: tcp_wire_len(decoded, segment) as u64,
            duplicate_ack: analysis
                .duplicate_ack
                .map(|duplicate| (duplicate.frame, u64::from(duplicate.num))),
            // Most segments have no analysis flag: no label to look for.
            label: (!flags.is_empty())
                .then(|| {
                    ANALYSIS_LABELS
                        .iter()
                        .position(|(key, _)| flags.iter().any(|flag| flag.key() == *key))
                })
                .flatten(),
        };
        Some(Row {
            number: frame.number,
            ts: frame.ts,
            len: u32::try_from(frame.orig_len).unwrap_or(u32::MAX),
            src: interner.address(src),
            dst: interner.address(dst),
            protocol: top.unwrap_or(Protocol::Tcp),
            info: segment_info(&facts, &carried),
            worst,
            tcp: tcp_row(&facts, &carried, || interner.flags(facts.flags)),
        })
    }
}

impl Row {
    /// A frame's row from its own headers alone, before its connection is
    /// decoded: what the list can show at once while the capture is decoded
    /// in order behind it (see `Session::open`). A TCP segment's row names
    /// its ports, flags, window and length, but no connection (`tcp` is
    /// `None`) and no relative numbers or analysis, which need the frames
    /// before it; any other frame's row is the one its model gives without
    /// what earlier frames taught (an IPv4 fragment stays a fragment).
    pub fn listed(frame: &RawFrame<'_>, config: &BuildConfig, interner: &mut Interner) -> Row {
        let decoded = decode_frame(frame);
        let (Some(Transport::Tcp(segment)), Some((src, dst)), None) =
            (&decoded.transport, decoded.ip_addresses(), &decoded.rest)
        else {
            let dissection = dissect::build(frame, &decoded, &FrameContext::default(), config);
            let mut row = Row::from_dissection(&dissection);
            interner.share(&mut row);
            return row;
        };
        let header = &segment.header;
        let info = Info::Segment {
            src_port: header.source_port(),
            dst_port: header.destination_port(),
            flags: flag_bits(u64::from(segment.flags())),
            window: header.window_size(),
            len: u32::try_from(tcp_wire_len(&decoded, segment)).unwrap_or(u32::MAX),
        };
        Row {
            number: frame.number,
            ts: frame.ts,
            len: u32::try_from(frame.orig_len).unwrap_or(u32::MAX),
            src: interner.address(src),
            dst: interner.address(dst),
            protocol: Protocol::Tcp,
            info,
            worst: decoded
                .problems
                .iter()
                .map(|problem| problem.severity)
                .max(),
            tcp: None,
        }
    }
}

/// The flags of [`FLAG_NAMES`] among a segment's flag field (all eight fit
/// in its low byte; the ninth, NS, is not named in the Info column).
fn flag_bits(field: u64) -> u8 {
    u8::try_from(field & 0xff).unwrap_or(0)
}

/// Writes flag names in tshark's order, such as `SYN, ACK`.
fn write_flags(out: &mut String, bits: u8) {
    let mut first = true;
    for (_, mask, name) in FLAG_NAMES {
        if u64::from(bits) & mask != 0 {
            if !first {
                out.push_str(", ");
            }
            out.push_str(name);
            first = false;
        }
    }
}

impl Row {
    /// The Info column.
    pub fn info(&self) -> Cow<'_, str> {
        match &self.info {
            Info::Text(text) => Cow::Borrowed(text),
            Info::Segment { .. } | Info::Tcp { .. } => {
                let mut out = String::new();
                self.write_info(&mut out);
                Cow::Owned(out)
            }
        }
    }

    /// The Info column, borrowed, or written into `buffer` (cleared first)
    /// for a row whose Info is written when shown: a search through
    /// millions of rows reuses one buffer.
    pub fn info_in<'a>(&'a self, buffer: &'a mut String) -> &'a str {
        match &self.info {
            Info::Text(text) => text,
            Info::Segment { .. } | Info::Tcp { .. } => {
                buffer.clear();
                self.write_info(buffer);
                buffer
            }
        }
    }

    fn write_info(&self, out: &mut String) {
        match &self.info {
            Info::Text(text) => out.push_str(text),
            &Info::Segment {
                src_port,
                dst_port,
                flags,
                window,
                len,
            } => write_tcp_info(
                out,
                &TcpFacts {
                    src_port,
                    dst_port,
                    flags,
                    window: Some(u64::from(window)),
                    len: u64::from(len),
                    ..TcpFacts::default()
                },
                &[],
            ),
            &Info::Tcp { window, label } => {
                let Some(tcp) = &self.tcp else {
                    return;
                };
                let facts = TcpFacts {
                    src_port: tcp.src_port,
                    dst_port: tcp.dst_port,
                    seq: Some(tcp.seq),
                    ack: tcp.ack,
                    window: window.map(u64::from),
                    len: tcp.len,
                    label: label.map(usize::from),
                    ..TcpFacts::default()
                };
                info_label(out, &facts);
                if tcp.carried.is_empty() {
                    write_segment_line(out, &facts, &tcp.flags);
                } else {
                    out.push_str(&tcp.carried);
                }
            }
        }
    }
}

/// A segment's Info: written when shown (see [`Info::Tcp`]) where the
/// row's [`TcpRow`] holds all it says, else its text now.
fn segment_info(facts: &TcpFacts, carried: &[String]) -> Info {
    let window = facts.window.map(u16::try_from);
    let label = facts.label.map(u8::try_from);
    match (window.transpose(), label.transpose()) {
        (Ok(window), Ok(label))
            if facts.stream.is_some()
                && facts.seq.is_some()
                && facts.duplicate_ack.is_none()
                && carried.len() <= 1
                && carried.iter().all(|said| !said.is_empty()) =>
        {
            Info::Tcp { window, label }
        }
        _ => Info::Text(tcp_info(facts, carried).into()),
    }
}

/// Flag names in tshark's order, such as `SYN, ACK`.
fn flag_names(bits: u8) -> String {
    let mut out = String::new();
    write_flags(&mut out, bits);
    out
}

/// What a segment's application PDUs tell the packet list: the highest
/// protocol, what each carried, the worst problem; the same as from their
/// layers, without building a WebSocket frame's fields.
fn application_facts(pdus: &[AppPdu]) -> (Option<Protocol>, Vec<String>, Option<Severity>) {
    let mut top = None;
    let mut said = Vec::with_capacity(pdus.len());
    for pdu in pdus {
        if let AppPduKind::WsFrame(frame, message) = &pdu.kind {
            top = Some(Protocol::WebSocket);
            said.push(websocket_summary(frame, message.as_deref()));
        } else {
            let (layers, _) = application_layers(std::slice::from_ref(pdu));
            top = top_protocol(&layers).or(top);
            said.extend(carried(&layers));
        }
    }
    let worst = pdus
        .iter()
        .filter_map(pdu_problem)
        .map(|problem| problem.severity)
        .max();
    (top, said, worst)
}

/// The highest protocol of a stack of layers (layer 5's state view and
/// undecoded data aside).
fn top_protocol(layers: &[Layer]) -> Option<Protocol> {
    layers
        .iter()
        .rev()
        .map(|layer| layer.protocol)
        .find(|protocol| !matches!(protocol, Protocol::Session | Protocol::Data))
}

fn addresses(dissection: &Dissection) -> (String, String) {
    for (protocol, src, dst) in [
        (Protocol::Ipv6, keys::ipv6::SRC, keys::ipv6::DST),
        (Protocol::Ipv4, keys::ip::SRC, keys::ip::DST),
        (Protocol::Ethernet, keys::eth::SRC, keys::eth::DST),
    ] {
        let Some(layer) = dissection.layer(protocol) else {
            continue;
        };
        if let (Some(src), Some(dst)) = (layer.find(src), layer.find(dst)) {
            return (src.display.clone(), dst.display.clone());
        }
    }
    (String::new(), String::new())
}

/// A number or flag of the frame's TCP layer (where every key looked up
/// here lives, so no other layer is searched).
fn uint(dissection: &Dissection, key: &str) -> Option<u64> {
    let layer = dissection.layer(Protocol::Tcp)?;
    let field = layer.fields.iter().find_map(|field| {
        if field.key == key {
            Some(field)
        } else {
            field.children.iter().find(|child| child.key == key)
        }
    });
    match field.map(|field| &field.value) {
        Some(FieldValue::UInt(value)) => Some(*value),
        Some(FieldValue::Bool(value)) => Some(u64::from(*value)),
        _ => None,
    }
}

/// The facts of the frame's TCP layer, if it has one with ports.
fn tcp_facts(dissection: &Dissection) -> Option<TcpFacts> {
    let port = |key| u16::try_from(uint(dissection, key)?).ok();
    let (src_port, dst_port) = (port(keys::tcp::SRCPORT)?, port(keys::tcp::DSTPORT)?);
    let stream = uint(dissection, keys::tcp::STREAM)
        .and_then(|stream| u32::try_from(stream).ok())
        .map(|stream| {
            let to_server = match dissection
                .layer(Protocol::Tcp)
                .and_then(|layer| layer.find(keys::tcp::DIRECTION))
                .map(|f| &f.value)
            {
                Some(FieldValue::Text(text)) => text == "client-to-server",
                _ => true,
            };
            (stream, to_server)
        });
    let label = dissection
        .layer(Protocol::Tcp)
        .and_then(|layer| layer.find(keys::tcp::ANALYSIS))
        .and_then(|group| {
            ANALYSIS_LABELS
                .iter()
                .position(|(key, _)| group.find(key).is_some())
        });
    Some(TcpFacts {
        stream,
        src_port,
        dst_port,
        flags: FLAG_NAMES
            .iter()
            .filter(|(key, _, _)| uint(dissection, key).unwrap_or(0) != 0)
            .fold(0, |bits, (_, mask, _)| bits | flag_bits(*mask)),
        seq: uint(dissection, keys::tcp::SEQ),
        ack: (uint(dissection, keys::tcp::FLAGS_ACK).unwrap_or(0) != 0)
            .then(|| uint(dissection, keys::tcp::ACK))
            .flatten(),
        window: uint(dissection, keys::tcp::WINDOW_SIZE_VALUE),
        len: uint(dissection, keys::tcp::LEN).unwrap_or(0),
        duplicate_ack: uint(dissection, keys::tcp::DUP_ACK_NUM).map(|number| {
            (
                uint(dissection, keys::tcp::DUP_ACK_FRAME).unwrap_or(0),
                number,
            )
        }),
        label,
    })
}

/// The application PDUs of a stack of layers, each in a few words.
fn carried(layers: &[Layer]) -> Vec<String> {
    layers
        .iter()
        .filter(|layer| {
            matches!(
                layer.protocol,
                Protocol::Http | Protocol::WebSocket | Protocol::Tls
            )
        })
        .map(|layer| match layer.protocol {
            Protocol::Http => [keys::http::REQUEST_LINE, keys::http::RESPONSE_LINE]
                .iter()
                .find_map(|key| layer.find(key))
                .map_or_else(|| tunnel_or_summary(layer), http_line),
            _ => layer.summary.clone(),
        })
        .collect()
}

/// A `CONNECT` tunnel's layer in a few words (`CONNECT tunnel to HOST:PORT`), any other
/// layer's summary.
fn tunnel_or_summary(layer: &Layer) -> String {
    let tunnel = layer.find(keys::http::PROXY_CONNECT_HOST).is_some();
    match layer.summary.strip_prefix("Hypertext Transfer Protocol: ") {
        Some(short) if tunnel => short.to_string(),
        _ => layer.summary.clone(),
    }
}

/// `GET /chat HTTP/1.1` from a request line field.
fn http_line(field: &Field) -> String {
    match &field.value {
        FieldValue::Text(text) => text.trim_end().to_string(),
        _ => field.display.clone(),
    }
}

/// The ladder's record of a segment (`flags` gives the flag names), for a
/// segment whose connection is known.
fn tcp_row(
    facts: &TcpFacts,
    carried: &[String],
    flags: impl FnOnce() -> Arc<str>,
) -> Option<TcpRow> {
    let (stream, to_server) = facts.stream?;
    Some(TcpRow {
        stream,
        to_server,
        src_port: facts.src_port,
        dst_port: facts.dst_port,
        flags: flags(),
        seq: facts.seq.unwrap_or(0),
        ack: facts.ack,
        len: facts.len,
        carried: carried.join(" · ").into(),
    })
}

/// The analysis label in front of the Info column, if any.
fn info_label(out: &mut String, facts: &TcpFacts) {
    if let Some((acked, number)) = facts.duplicate_ack {
        out.push_str(&format!("[TCP Dup ACK {acked}#{number}] "));
    } else if let Some((_, label)) = facts.label.and_then(|index| ANALYSIS_LABELS.get(index)) {
        out.push('[');
        out.push_str(label);
        out.push_str("] ");
    }
}

/// The Info column of a TCP segment: what the layers above said, or the
/// TCP line.
fn tcp_info(facts: &TcpFacts, carried: &[String]) -> String {
    let mut out = String::new();
    write_tcp_info(&mut out, facts, carried);
    out
}

/// Writes [`tcp_info`]'s line onto `out`.
fn write_tcp_info(out: &mut String, facts: &TcpFacts, carried: &[String]) {
    info_label(out, facts);
    if !carried.is_empty() {
        out.push_str(&carried.join(", "));
        return;
    }
    let mut names = String::new();
    write_flags(&mut names, facts.flags);
    write_segment_line(out, facts, &names);
}

/// The TCP line of the Info column (`PORT → PORT [FLAGS] Seq=… Ack=… Win=…
/// Len=…`), given the flag names.
fn write_segment_line(out: &mut String, facts: &TcpFacts, flag_names: &str) {
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{} → {} [{flag_names}]",
        facts.src_port, facts.dst_port
    );
    if let Some(seq) = facts.seq {
        let _ = write!(out, " Seq={seq}");
    }
    if let Some(ack) = facts.ack {
        let _ = write!(out, " Ack={ack}");
    }
    if let Some(window) = facts.window {
        let _ = write!(out, " Win={window}");
    }
    let _ = write!(out, " Len={}", facts.len);
}

/// The Info column of any other frame: what the highest layers said, or the
/// top layer's summary.
fn other_info(dissection: &Dissection, carried: &[String]) -> String {
    if !carried.is_empty() {
        return carried.join(", ");
    }
    let top = dissection
        .layers
        .iter()
        .rev()
        .find(|layer| !matches!(layer.protocol, Protocol::Session | Protocol::Physical));
    top.map_or_else(String::new, |layer| layer.summary.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{Layer, Span};

    fn field(key: &'static str, value: FieldValue) -> Field {
        Field {
            key,
            label: "",
            display: String::new(),
            value,
            span: Span::default(),
            mask: None,
            explain: "",
            children: Vec::new(),
        }
    }

    #[test]
    fn a_tunnelled_request_names_its_tunnel_then_itself() {
        let mut dissection = crate::session::tests::empty_dissection();
        let http = |summary: &str, fields: Vec<Field>| Layer {
            protocol: Protocol::Http,
            source: 0,
            span: Span::default(),
            payload: None,
            summary: summary.to_string(),
            did: String::new(),
            fields,
        };
        dissection.layers.push(http(
            "Hypertext Transfer Protocol: CONNECT tunnel to 10.77.0.2:8080",
            vec![
                field(
                    keys::http::PROXY_CONNECT_HOST,
                    FieldValue::Text("10.77.0.2".into()),
                ),
                field(keys::http::PROXY_CONNECT_PORT, FieldValue::UInt(8080)),
            ],
        ));
        dissection.layers.push(http(
            "Hypertext Transfer Protocol: GET /proxied",
            vec![field(
                keys::http::REQUEST_LINE,
                FieldValue::Text("GET /proxied HTTP/1.1\r\n".into()),
            )],
        ));
        let row = Row::from_dissection(&dissection);
        assert_eq!(
            &*row.info(),
            "CONNECT tunnel to 10.77.0.2:8080, GET /proxied HTTP/1.1"
        );
        assert_eq!(row.protocol, Protocol::Http);
    }

    #[test]
    fn flags_follow_tsharks_order() {
        let mut dissection = crate::session::tests::empty_dissection();
        dissection.layers.push(Layer {
            protocol: Protocol::Tcp,
            source: 0,
            span: Span::default(),
            payload: None,
            summary: String::new(),
            did: String::new(),
            fields: vec![
                field(keys::tcp::STREAM, FieldValue::UInt(3)),
                field(keys::tcp::SRCPORT, FieldValue::UInt(8080)),
                field(keys::tcp::DSTPORT, FieldValue::UInt(40000)),
                field(keys::tcp::SEQ, FieldValue::UInt(0)),
                field(keys::tcp::ACK, FieldValue::UInt(1)),
                field(keys::tcp::FLAGS_ACK, FieldValue::Bool(true)),
                field(keys::tcp::FLAGS_SYN, FieldValue::Bool(true)),
                field(keys::tcp::WINDOW_SIZE_VALUE, FieldValue::UInt(65160)),
                field(keys::tcp::LEN, FieldValue::UInt(0)),
                field(
                    keys::tcp::DIRECTION,
                    FieldValue::Text("server-to-client".into()),
                ),
            ],
        });
        let row = Row::from_dissection(&dissection);
        assert_eq!(
            &*row.info(),
            "8080 → 40000 [SYN, ACK] Seq=0 Ack=1 Win=65160 Len=0"
        );
        let tcp = row.tcp.unwrap_or_else(|| unreachable!());
        assert_eq!(
            (tcp.stream, tcp.to_server, &*tcp.flags),
            (3, false, "SYN, ACK")
        );
        assert_eq!(row.protocol, Protocol::Tcp);
    }

    #[test]
    fn a_decoded_segment_writes_the_same_info_when_shown() {
        let base = TcpFacts {
            stream: Some((3, true)),
            src_port: 41248,
            dst_port: 8080,
            flags: flag_bits(tcp_field::SYN_MASK | tcp_field::ACK_MASK),
            seq: Some(7),
            ack: Some(1),
            window: Some(64240),
            len: 0,
            duplicate_ack: None,
            label: None,
        };
        let one = vec!["WebSocket text, 5 bytes \"Hello\"".to_string()];
        let two = vec![
            "GET /chat HTTP/1.1".to_string(),
            "WebSocket ping".to_string(),
        ];
        let cases = [
            (TcpFacts { ..base }, Vec::new(), true),
            (
                TcpFacts {
                    label: Some(2),
                    ..base
                },
                Vec::new(),
                true,
            ),
            (
                TcpFacts {
                    ack: None,
                    window: None,
                    ..base
                },
                Vec::new(),
                true,
            ),
            (
                TcpFacts {
                    label: Some(0),
                    ..base
                },
                one.clone(),
                true,
            ),
            (TcpFacts { ..base }, one, true),
            // Written now: two PDUs (the ladder joins them otherwise), a
            // duplicate ACK's frame, no connection, an empty summary.
            (TcpFacts { ..base }, two, false),
            (
                TcpFacts {
                    duplicate_ack: Some((12, 3)),
                    ..base
                },
                Vec::new(),
                false,
            ),
            (
                TcpFacts {
                    stream: None,
                    ..base
                },
                Vec::new(),
                false,
            ),
            (TcpFacts { ..base }, vec![String::new()], false),
        ];
        for (facts, carried, deferred) in cases {
            let row = Row {
                number: FrameNumber(1),
                ts: Timestamp::default(),
                len: 54,
                src: "10.0.0.1".into(),
                dst: "10.0.0.2".into(),
                protocol: Protocol::Tcp,
                info: segment_info(&facts, &carried),
                worst: None,
                tcp: tcp_row(&facts, &carried, || flag_names(facts.flags).into()),
            };
            assert_eq!(
                matches!(row.info, Info::Tcp { .. }),
                deferred,
                "{carried:?}"
            );
            assert_eq!(row.info(), tcp_info(&facts, &carried), "{carried:?}");
            let mut buffer = String::from("left over");
            assert_eq!(row.info_in(&mut buffer), tcp_info(&facts, &carried));
        }
    }

    /// An Ethernet + IPv4 + TCP frame with no payload.
    fn segment(flags: u8, window: u16) -> Vec<u8> {
        let mut frame = vec![0u8; 12];
        frame.extend([0x08, 0x00]);
        // Checksums left zero: the row does not depend on them.
        frame.extend([
            0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        let mut tcp = vec![0xc0, 0x00, 0x1f, 0x90, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags];
        tcp.extend(window.to_be_bytes());
        tcp.extend([0, 0, 0, 0]);
        frame.extend(tcp);
        frame
    }

    #[test]
    fn a_listed_segment_writes_its_info_when_shown() {
        let data = segment(0x12, 512);
        let frame = RawFrame {
            number: FrameNumber(3),
            ts: Timestamp::default(),
            orig_len: data.len(),
            link_type: 1,
            data: &data,
        };
        let mut interner = Interner::default();
        let row = Row::listed(&frame, &BuildConfig::default(), &mut interner);
        assert!(matches!(row.info, Info::Segment { .. }));
        assert_eq!(row.info(), "49152 → 8080 [SYN, ACK] Win=512 Len=0");
        assert_eq!((&*row.src, &*row.dst), ("10.0.0.1", "10.0.0.2"));
        assert_eq!((row.protocol, row.tcp.is_none()), (Protocol::Tcp, true));
        assert_eq!(row.len, 54);
    }

    #[test]
    fn addresses_beyond_the_recent_ones_keep_their_own_text() {
        let mut interner = Interner::default();
        let addresses: Vec<IpAddr> = (1..=9u8)
            .map(|i| std::net::Ipv4Addr::new(192, 0, 2, i).into())
            .chain([std::net::Ipv6Addr::LOCALHOST.into()])
            .collect();
        for round in 0..3 {
            for (i, address) in addresses.iter().enumerate() {
                // Walks forwards, then backwards, then in a stride.
                let address = match round {
                    0 => *address,
                    1 => addresses[addresses.len() - 1 - i],
                    _ => addresses[(i * 3) % addresses.len()],
                };
                assert_eq!(*interner.address(address), address.to_string());
            }
        }
        let first = interner.address(addresses[0]);
        assert!(Arc::ptr_eq(&first, &interner.address(addresses[0])));
    }

    #[test]
    fn flag_names_are_shared_and_in_tsharks_order() {
        let mut interner = Interner::default();
        let all = interner.flags(0xff);
        assert_eq!(&*all, "FIN, SYN, RST, PSH, ACK, URG, ECE, CWR");
        assert!(Arc::ptr_eq(&all, &interner.flags(0xff)));
        assert_eq!(&*interner.flags(0), "");
        assert_eq!(flag_bits(0x0fff), 0xff);
    }
}
