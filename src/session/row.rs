//! The packet list's record of one frame: a compact, owned summary taken
//! from the frame's dissection while the capture is indexed.
//!
//! A row keeps what the list and the ladder show (addresses, the highest
//! protocol, an info line like tshark's, the worst problem, and for TCP the
//! connection, direction, flags, numbers and what the segment carried), so
//! those views never need the full model of a frame they do not show.

use crate::dissect::{
    keys, Dissection, Field, FieldValue, FrameNumber, Protocol, Severity, Timestamp,
};
use crate::flow::analysis::key;

/// One frame in the packet list.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub number: FrameNumber,
    pub ts: Timestamp,
    /// Bytes on the wire (tshark's Length column).
    pub len: u32,
    /// Source and destination: IP addresses, or link addresses without IP.
    pub src: Box<str>,
    pub dst: Box<str>,
    /// The highest protocol that decoded (layer 5's state view aside).
    pub protocol: Protocol,
    /// What the frame is, in one line, as tshark's Info column says it.
    pub info: Box<str>,
    pub worst: Option<Severity>,
    pub tcp: Option<TcpRow>,
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
    /// Flag names in tshark's order, such as `SYN, ACK`.
    pub flags: Box<str>,
    /// Relative sequence and acknowledgment numbers, as `tcp.seq`/`tcp.ack`.
    pub seq: u64,
    pub ack: Option<u64>,
    pub len: u64,
    /// What the segment carried for the layers above, in a few words
    /// (`GET /chat`, `101 Switching Protocols`, `text "Hello"`), if anything.
    pub carried: Box<str>,
}

/// Tshark's order of TCP flag names, with the field that holds each.
const FLAG_NAMES: [(&str, &str); 8] = [
    (keys::tcp::FLAGS_FIN, "FIN"),
    (keys::tcp::FLAGS_SYN, "SYN"),
    (keys::tcp::FLAGS_RESET, "RST"),
    (keys::tcp::FLAGS_PUSH, "PSH"),
    (keys::tcp::FLAGS_ACK, "ACK"),
    (keys::tcp::FLAGS_URG, "URG"),
    (keys::tcp::FLAGS_ECE, "ECE"),
    (keys::tcp::FLAGS_CWR, "CWR"),
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

impl Row {
    /// Summarises a dissection.
    pub fn from_dissection(dissection: &Dissection) -> Row {
        let (src, dst) = addresses(dissection);
        let protocol = dissection
            .layers
            .iter()
            .rev()
            .map(|layer| layer.protocol)
            .find(|protocol| !matches!(protocol, Protocol::Session | Protocol::Data))
            .unwrap_or(Protocol::Physical);
        let carried = carried(dissection);
        let tcp = tcp_row(dissection, &carried);
        Row {
            number: dissection.frame.number,
            ts: dissection.frame.ts,
            len: u32::try_from(dissection.frame.orig_len).unwrap_or(u32::MAX),
            src: src.into(),
            dst: dst.into(),
            protocol,
            info: info(dissection, &carried).into(),
            worst: dissection.worst(),
            tcp,
        }
    }
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

fn flag_names(dissection: &Dissection) -> String {
    FLAG_NAMES
        .iter()
        .filter(|(key, _)| uint(dissection, key).unwrap_or(0) != 0)
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The application PDUs of the frame, each in a few words.
fn carried(dissection: &Dissection) -> Vec<String> {
    dissection
        .layers
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
fn tunnel_or_summary(layer: &crate::dissect::Layer) -> String {
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

fn tcp_row(dissection: &Dissection, carried: &[String]) -> Option<TcpRow> {
    let stream = u32::try_from(uint(dissection, keys::tcp::STREAM)?).ok()?;
    let to_server = match dissection
        .layer(Protocol::Tcp)
        .and_then(|layer| layer.find(keys::tcp::DIRECTION))
        .map(|f| &f.value)
    {
        Some(FieldValue::Text(text)) => text == "client-to-server",
        _ => true,
    };
    let flags = flag_names(dissection);
    let ack = (uint(dissection, keys::tcp::FLAGS_ACK).unwrap_or(0) != 0)
        .then(|| uint(dissection, keys::tcp::ACK))
        .flatten();
    Some(TcpRow {
        stream,
        to_server,
        src_port: u16::try_from(uint(dissection, keys::tcp::SRCPORT).unwrap_or(0)).unwrap_or(0),
        dst_port: u16::try_from(uint(dissection, keys::tcp::DSTPORT).unwrap_or(0)).unwrap_or(0),
        flags: flags.into(),
        seq: uint(dissection, keys::tcp::SEQ).unwrap_or(0),
        ack,
        len: uint(dissection, keys::tcp::LEN).unwrap_or(0),
        carried: carried.join(" · ").into(),
    })
}

/// The Info column: what the highest layers said, or the TCP/UDP/ICMP line.
fn info(dissection: &Dissection, carried: &[String]) -> String {
    let tcp = dissection.layer(Protocol::Tcp);
    let analysis: Vec<&str> = match tcp.and_then(|layer| layer.find(keys::tcp::ANALYSIS)) {
        Some(group) => ANALYSIS_LABELS
            .iter()
            .filter(|(key, _)| group.find(key).is_some())
            .map(|(_, label)| *label)
            .collect(),
        None => Vec::new(),
    };
    let mut out = String::new();
    if let Some(number) = uint(dissection, keys::tcp::DUP_ACK_NUM) {
        let acked = uint(dissection, keys::tcp::DUP_ACK_FRAME).unwrap_or(0);
        out.push_str(&format!("[TCP Dup ACK {acked}#{number}] "));
    } else if let Some(label) = analysis.first() {
        out.push_str(&format!("[{label}] "));
    }
    if !carried.is_empty() {
        out.push_str(&carried.join(", "));
        return out;
    }
    if let (Some(src), Some(dst)) = (
        uint(dissection, keys::tcp::SRCPORT),
        uint(dissection, keys::tcp::DSTPORT),
    ) {
        out.push_str(&format!("{src} → {dst} [{}]", flag_names(dissection)));
        if let Some(seq) = uint(dissection, keys::tcp::SEQ) {
            out.push_str(&format!(" Seq={seq}"));
        }
        if uint(dissection, keys::tcp::FLAGS_ACK).unwrap_or(0) != 0 {
            if let Some(ack) = uint(dissection, keys::tcp::ACK) {
                out.push_str(&format!(" Ack={ack}"));
            }
        }
        if let Some(win) = uint(dissection, keys::tcp::WINDOW_SIZE_VALUE) {
            out.push_str(&format!(" Win={win}"));
        }
        out.push_str(&format!(
            " Len={}",
            uint(dissection, keys::tcp::LEN).unwrap_or(0)
        ));
        return out;
    }
    let top = dissection
        .layers
        .iter()
        .rev()
        .find(|layer| !matches!(layer.protocol, Protocol::Session | Protocol::Physical));
    out.push_str(top.map_or("", |layer| layer.summary.as_str()));
    out
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
            &*row.info,
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
            &*row.info,
            "8080 → 40000 [SYN, ACK] Seq=0 Ack=1 Win=65160 Len=0"
        );
        let tcp = row.tcp.unwrap_or_else(|| unreachable!());
        assert_eq!(
            (tcp.stream, tcp.to_server, &*tcp.flags),
            (3, false, "SYN, ACK")
        );
        assert_eq!(row.protocol, Protocol::Tcp);
    }
}
