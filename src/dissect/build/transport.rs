//! Layer 4 fields: TCP with flags and options, UDP, and ICMP/ICMPv6 summaries.

use crate::decode::link::be16;
use crate::decode::transport::{icmp_field, tcp_field, udp_field, ICMP_ERROR_HEADER_LEN};
use crate::decode::{Icmp, Tcp, TcpOption, Udp};
use crate::dissect::build::network::checksum_fields;
use crate::dissect::build::{bits, bytes_field, field, span_at, uint, with};
use crate::dissect::{
    keys, Field, FieldValue, Layer, Problem, Protocol, Severity, Span, TcpContext,
};
use crate::flow::analysis::{Flag, Severity as AnalysisSeverity};
use crate::flow::table::Direction;

/// The TCP flag bits in the order Wireshark lists them, with their short names.
const FLAG_NAMES: [(u64, &str); 9] = [
    (tcp_field::FIN_MASK, "FIN"),
    (tcp_field::SYN_MASK, "SYN"),
    (tcp_field::RST_MASK, "RST"),
    (tcp_field::PSH_MASK, "PSH"),
    (tcp_field::ACK_MASK, "ACK"),
    (tcp_field::URG_MASK, "URG"),
    (tcp_field::ECE_MASK, "ECE"),
    (tcp_field::CWR_MASK, "CWR"),
    (tcp_field::AE_MASK, "AE"),
];

/// The names of the flags that are set, such as "PSH, ACK".
pub fn flag_names(flags: u16) -> String {
    let names: Vec<&str> = FLAG_NAMES
        .iter()
        .filter(|(mask, _)| u64::from(flags) & mask != 0)
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

fn option_field(option: &TcpOption, data: &[u8]) -> Field {
    let span = option.span();
    let kind_len = |kind: u64| {
        vec![
            uint(
                keys::tcp::OPTION_KIND,
                "Kind",
                kind,
                Span::at(span.start, 1),
                "Which option this is.",
            ),
            uint(
                keys::tcp::OPTION_LEN,
                "Length",
                span.len() as u64,
                Span::at(span.start + 1, 1),
                "Bytes in this option, kind and length included.",
            ),
        ]
    };
    let kind_only = |kind: u64| {
        uint(
            keys::tcp::OPTION_KIND,
            "Kind",
            kind,
            Span::at(span.start, 1),
            "Which option this is.",
        )
    };
    let group = |key, label, display: String, explain, children| {
        with(
            field(key, label, FieldValue::None, display, span, explain),
            children,
        )
    };
    match option {
        TcpOption::EndOfList { .. } => group(
            keys::tcp::OPT_EOL,
            "End of option list",
            format!("{} byte(s)", span.len()),
            "Marks the end of the options; the rest is padding.",
            vec![kind_only(0)],
        ),
        TcpOption::Nop { .. } => group(
            keys::tcp::OPT_NOP,
            "No-operation",
            "1 byte".into(),
            "A filler byte that aligns the next option.",
            vec![kind_only(1)],
        ),
        TcpOption::Mss { value, .. } => {
            let mut children = kind_len(2);
            children.push(uint(
                keys::tcp::OPT_MSS_VAL,
                "MSS value",
                u64::from(*value),
                Span::new(span.start + 2, span.end),
                "The largest segment payload this side wants to receive, in bytes.",
            ));
            group(
                keys::tcp::OPT_MSS,
                "Maximum segment size",
                format!("{value} bytes"),
                "Sent in SYNs: the biggest payload per segment this side accepts.",
                children,
            )
        }
        TcpOption::WindowScale { shift, .. } => {
            let multiplier = 1u64.checked_shl(u32::from(*shift)).unwrap_or(0);
            let mut children = kind_len(3);
            children.push(uint(
                keys::tcp::OPT_WSCALE_SHIFT,
                "Shift count",
                u64::from(*shift),
                Span::at(span.start + 2, 1),
                "The window field is multiplied by 2 to this power.",
            ));
            children.push(uint(
                keys::tcp::OPT_WSCALE_MULTIPLIER,
                "Multiplier",
                multiplier,
                Span::at(span.start + 2, 1),
                "What the window field is multiplied by.",
            ));
            group(
                keys::tcp::OPT_WSCALE,
                "Window scale",
                format!("{shift} (multiply by {multiplier})"),
                "Sent in SYNs: lets windows grow beyond 65535 bytes.",
                children,
            )
        }
        TcpOption::SackPermitted { .. } => group(
            keys::tcp::OPT_SACK_PERM,
            "SACK permitted",
            "yes".into(),
            "Sent in SYNs: this side understands selective acknowledgements.",
            kind_len(4),
        ),
        TcpOption::Sack { blocks, .. } => {
            let mut children = kind_len(5);
            for (n, (left, right)) in blocks.iter().enumerate() {
                let at = span.start + 2 + n * 8;
                children.push(uint(
                    keys::tcp::OPT_SACK_LE,
                    "Left edge",
                    u64::from(*left),
                    Span::at(at, 4),
                    "First sequence number of a block received beyond a hole.",
                ));
                children.push(uint(
                    keys::tcp::OPT_SACK_RE,
                    "Right edge",
                    u64::from(*right),
                    Span::at(at + 4, 4),
                    "The sequence number just after that block.",
                ));
            }
            group(
                keys::tcp::OPT_SACK,
                "SACK",
                format!("{} block(s)", blocks.len()),
                "Tells the sender which later data arrived, so only the holes are resent.",
                children,
            )
        }
        TcpOption::Timestamp { tsval, tsecr, .. } => {
            let mut children = kind_len(8);
            children.push(uint(
                keys::tcp::OPT_TSVAL,
                "Timestamp value",
                u64::from(*tsval),
                Span::at(span.start + 2, 4),
                "The sender's clock when it sent this segment.",
            ));
            children.push(uint(keys::tcp::OPT_TSECR, "Timestamp echo reply", u64::from(*tsecr), Span::at(span.start + 6, 4), "The latest timestamp received from the other side, echoed to measure round-trip time."));
            group(
                keys::tcp::OPT_TIMESTAMP,
                "Timestamps",
                format!("TSval {tsval}, TSecr {tsecr}"),
                "Used to measure round-trip time and to protect against wrapped sequence numbers.",
                children,
            )
        }
        TcpOption::Other { kind, .. } | TcpOption::Malformed { kind, .. } => {
            let bytes = data.get(span.start..span.end).unwrap_or(&[]);
            // A kind in the header's last byte has no length byte after it.
            let children = if span.len() >= 2 {
                kind_len(u64::from(*kind))
            } else {
                vec![kind_only(u64::from(*kind))]
            };
            with(
                bytes_field(
                    keys::tcp::OPT_UNKNOWN,
                    "Option",
                    bytes,
                    span,
                    "An option osiscope does not decode.",
                ),
                children,
            )
        }
    }
}

/// The `tcp.analysis` group: the flags tshark would raise, and the numbers behind them.
fn analysis_field(context: &TcpContext, offset: usize) -> Option<Field> {
    let analysis = &context.analysis;
    let here = Span::at(offset, 0);
    let mut children = Vec::new();
    for flag in analysis.flags.iter() {
        children.push(field(
            flag.key(),
            flag.summary(),
            FieldValue::Bool(true),
            flag.summary().to_string(),
            here,
            flag.explanation(),
        ));
    }
    if let Some(duplicate) = analysis.duplicate_ack {
        children.push(uint(
            keys::tcp::DUP_ACK_NUM,
            "Duplicate ACK number",
            u64::from(duplicate.num),
            here,
            "How many times in a row this acknowledgment was repeated.",
        ));
        children.push(uint(
            keys::tcp::DUP_ACK_FRAME,
            "Duplicate of the ACK in frame",
            duplicate.frame,
            here,
            "The frame whose acknowledgment this one repeats.",
        ));
    }
    if let Some(frame) = analysis.acks_frame {
        children.push(uint(
            keys::tcp::ACKS_FRAME,
            "This is an ACK to the segment in frame",
            frame,
            here,
            "The segment this acknowledgment confirms.",
        ));
    }
    if let Some(rtt) = analysis.ack_rtt {
        children.push(field(
            keys::tcp::ACK_RTT,
            "Round-trip time to this ACK",
            FieldValue::Float(rtt.as_secs_f64()),
            format!("{:.6} s", rtt.as_secs_f64()),
            here,
            "Time between the segment and its acknowledgment.",
        ));
    }
    if let Some(rtt) = analysis.initial_rtt {
        children.push(field(
            keys::tcp::INITIAL_RTT,
            "Initial round-trip time",
            FieldValue::Float(rtt.as_secs_f64()),
            format!("{:.6} s", rtt.as_secs_f64()),
            here,
            "Time from the SYN to the ACK that completed the handshake.",
        ));
    }
    if children.is_empty() {
        return None;
    }
    Some(with(
        field(
            keys::tcp::ANALYSIS,
            "SEQ/ACK analysis",
            FieldValue::None,
            format!("{} item(s)", children.len()),
            here,
            "What osiscope, like Wireshark, concludes about this segment from the ones before it.",
        ),
        children,
    ))
}

/// The analysis flags that are problems (expert info), on the TCP layer.
pub(crate) fn analysis_problems(
    context: &TcpContext,
    layers: &[Layer],
    problems: &mut Vec<Problem>,
) {
    let Some(layer) = layers
        .iter()
        .rposition(|layer| layer.protocol == Protocol::Tcp)
    else {
        return;
    };
    for flag in context.analysis.flags.iter() {
        let Some(severity) = analysis_severity(flag) else {
            continue;
        };
        problems.push(Problem {
            severity,
            key: flag.key(),
            message: format!("{}: {}", flag.summary(), flag.explanation()),
            layer: Some(layer),
            span: None,
        });
    }
}

/// The severity of the problem an analysis flag raises; `None` for the flags
/// that are only noted (chat), which raise none.
pub fn analysis_severity(flag: Flag) -> Option<Severity> {
    match flag.severity() {
        AnalysisSeverity::Warning => Some(Severity::Warning),
        AnalysisSeverity::Note => Some(Severity::Note),
        AnalysisSeverity::Chat => None,
    }
}

/// What a TCP segment did, in one sentence.
fn tcp_did(flags: u16, src: u16, dst: u16, seq: u32, ack: u32, len: usize) -> String {
    let has = |mask: u64| u64::from(flags) & mask != 0;
    if has(tcp_field::RST_MASK) {
        return format!("Aborted the connection between ports {src} and {dst} at once (RST): no goodbye, data in flight is thrown away.");
    }
    if has(tcp_field::SYN_MASK) && has(tcp_field::ACK_MASK) {
        return format!("Accepted the connection from port {dst} (SYN-ACK): its own byte numbering starts at {seq}, and it expects byte {ack} next. Step 2 of the three-way handshake.");
    }
    if has(tcp_field::SYN_MASK) {
        return format!("Asked to open a connection from port {src} to port {dst} (SYN), numbering its bytes from {seq}. Step 1 of the three-way handshake.");
    }
    let data = if len > 0 {
        format!("Carried {len} bytes from port {src} to port {dst} (sequence {seq})")
    } else {
        format!("Sent no data from port {src} to port {dst}")
    };
    let acked = if has(tcp_field::ACK_MASK) {
        format!(" and acknowledged everything before byte {ack}")
    } else {
        String::new()
    };
    let fin = if has(tcp_field::FIN_MASK) {
        "; FIN: this side has nothing more to send"
    } else {
        ""
    };
    format!("{data}{acked}{fin}.")
}

/// Builds the TCP layer; `wire_payload` counts payload bytes on the wire,
/// including any that were not captured.
pub(crate) fn tcp(
    tcp: &Tcp<'_>,
    data: &[u8],
    wire_payload: usize,
    context: Option<&TcpContext>,
) -> Layer {
    let offset = tcp.offset;
    let header = &tcp.header;
    let bytes = header.slice();
    let header_len = bytes.len();
    let at = |range| span_at(offset, range);
    let off_flags = u64::from(be16(bytes, tcp_field::OFFSET_FLAGS));
    let flags = tcp.flags();
    let (src, dst) = (header.source_port(), header.destination_port());
    let (seq, ack) = (header.sequence_number(), header.acknowledgment_number());
    let flags_span = at(tcp_field::OFFSET_FLAGS);
    let flag = |key, label, mask, explain| bits(key, label, off_flags, mask, flags_span, explain);
    let mut fields = Vec::with_capacity(16);
    if let Some(context) = context {
        let roles = if context.roles_guessed {
            " (roles guessed: no SYN seen)"
        } else {
            ""
        };
        fields.push(field(
            keys::tcp::STREAM,
            "Stream index",
            FieldValue::UInt(u64::from(context.stream)),
            format!(
                "{} ({} {} {}{roles})",
                context.stream,
                context.client,
                if context.direction == Direction::ClientToServer {
                    "→"
                } else {
                    "←"
                },
                context.server
            ),
            Span::at(offset, 0),
            "Numbers the TCP connections of the capture from 0, in order of first appearance.",
        ));
        let to_server = context.direction == Direction::ClientToServer;
        fields.push(field(
            keys::tcp::DIRECTION,
            "Direction",
            FieldValue::Text(if to_server { "client-to-server" } else { "server-to-client" }.into()),
            if to_server { "client → server" } else { "server → client" }.into(),
            Span::at(offset, 0),
            "Which end sent this segment: the client opened the connection, the server accepted it.",
        ));
    }
    fields.extend([
        uint(
            keys::tcp::SRCPORT,
            "Source port",
            u64::from(src),
            at(tcp_field::SRC_PORT),
            "The sending program's port; with the address it names one end of the connection.",
        ),
        uint(
            keys::tcp::DSTPORT,
            "Destination port",
            u64::from(dst),
            at(tcp_field::DST_PORT),
            "The receiving program's port (servers listen on well-known ones).",
        ),
    ]);
    if let Some(context) = context {
        let relative = context.analysis.relative;
        fields.push(uint(keys::tcp::SEQ, "Sequence number", u64::from(relative.seq), at(tcp_field::SEQ), "The sequence number counted from this side's first one (its SYN is 0), as Wireshark shows it."));
        fields.push(uint(keys::tcp::NXTSEQ, "Next sequence number", u64::from(relative.nxtseq), Span::at(offset, 0), "The sequence number this side will use next: this one plus the payload length (SYN and FIN count one)."));
    }
    fields.extend([uint(
        keys::tcp::SEQ_RAW,
        "Sequence number (raw)",
        u64::from(seq),
        at(tcp_field::SEQ),
        "The number of the first payload byte in this segment; SYN and FIN each use up one number.",
    )]);
    if let Some(context) = context {
        // Without the ACK flag Wireshark shows the raw field here.
        let ack = context
            .analysis
            .relative
            .ack
            .unwrap_or(header.acknowledgment_number());
        fields.push(uint(
            keys::tcp::ACK,
            "Acknowledgment number",
            u64::from(ack),
            at(tcp_field::ACK),
            "The next byte expected from the other side, counted from its first sequence number.",
        ));
    }
    fields.extend([
        uint(keys::tcp::ACK_RAW, "Acknowledgment number (raw)", u64::from(ack), at(tcp_field::ACK), "With ACK set: the next byte this side expects, so everything before it arrived."),
        Field {
            value: FieldValue::UInt(header_len as u64),
            display: format!("{header_len} bytes ({})", header_len / 4),
            ..bits(keys::tcp::HDR_LEN, "Header length", off_flags, tcp_field::HDR_LEN_MASK, flags_span, "Header size in 4-byte words: 5 (20 bytes) plus options.")
        },
        with(
            Field {
                mask: Some(tcp_field::FLAGS_MASK),
                ..field(keys::tcp::FLAGS, "Flags", FieldValue::UInt(u64::from(flags)), format!("0x{flags:03x} ({})", flag_names(flags)), flags_span, "Control bits: SYN opens, FIN closes, RST aborts, ACK acknowledges, PSH delivers now.")
            },
            vec![
                flag(keys::tcp::FLAGS_RES, "Reserved", tcp_field::RES_MASK, "Must be zero."),
                flag(keys::tcp::FLAGS_AE, "Accurate ECN", tcp_field::AE_MASK, "Used by accurate congestion feedback (formerly the ECN nonce)."),
                flag(keys::tcp::FLAGS_CWR, "Congestion window reduced", tcp_field::CWR_MASK, "The sender slowed down after a congestion signal."),
                flag(keys::tcp::FLAGS_ECE, "ECN-Echo", tcp_field::ECE_MASK, "Reports that a router marked congestion."),
                flag(keys::tcp::FLAGS_URG, "Urgent", tcp_field::URG_MASK, "The urgent pointer is valid (rarely used)."),
                flag(keys::tcp::FLAGS_ACK, "Acknowledgment", tcp_field::ACK_MASK, "The acknowledgment number is valid; set on every segment after the first SYN."),
                flag(keys::tcp::FLAGS_PUSH, "Push", tcp_field::PSH_MASK, "Asks the receiver to hand the data to the application now."),
                flag(keys::tcp::FLAGS_RESET, "Reset", tcp_field::RST_MASK, "Aborts the connection."),
                flag(keys::tcp::FLAGS_SYN, "Syn", tcp_field::SYN_MASK, "Synchronize: opens a connection and sets the first sequence number."),
                flag(keys::tcp::FLAGS_FIN, "Fin", tcp_field::FIN_MASK, "Finish: this side has no more data to send."),
            ],
        ),
        uint(keys::tcp::WINDOW_SIZE_VALUE, "Window size value", u64::from(header.window_size()), at(tcp_field::WINDOW), "How many more bytes the sender of this segment can receive (before window scaling)."),
    ]);
    fields.extend(checksum_fields(
        keys::tcp::CHECKSUM,
        keys::tcp::CHECKSUM_STATUS,
        header.checksum(),
        tcp.checksum,
        at(tcp_field::CHECKSUM),
        "Protects header and payload (with the IP addresses) against corruption.",
    ));
    fields.push(uint(
        keys::tcp::URGENT_POINTER,
        "Urgent pointer",
        u64::from(header.urgent_pointer()),
        at(tcp_field::URGENT),
        "Only meaningful with URG set.",
    ));
    if header_len > tcp_field::MIN_LEN {
        let options_span = at(tcp_field::options(header_len));
        let children = tcp
            .options
            .iter()
            .map(|option| option_field(option, data))
            .collect();
        fields.push(with(
            field(
                keys::tcp::OPTIONS,
                "Options",
                FieldValue::Bytes(header.options().to_vec()),
                format!("{} bytes", options_span.len()),
                options_span,
                "Extras negotiated or reported by the endpoints.",
            ),
            children,
        ));
    }
    fields.push(uint(
        keys::tcp::LEN,
        "Segment data length",
        wire_payload as u64,
        tcp.payload,
        "How many payload bytes this segment carries.",
    ));
    if !tcp.payload.is_empty() {
        let payload = data.get(tcp.payload.start..tcp.payload.end).unwrap_or(&[]);
        fields.push(bytes_field(
            keys::tcp::PAYLOAD,
            "TCP payload",
            payload,
            tcp.payload,
            "The bytes TCP carries for the application.",
        ));
    }
    if let Some(context) = context {
        if let Some(analysis) = analysis_field(context, offset) {
            fields.push(analysis);
        }
    }
    let mut summary = format!(
        "Transmission Control Protocol, Src Port: {src}, Dst Port: {dst}, Seq: {seq}, Len: {wire_payload}"
    );
    if u64::from(flags) & tcp_field::ACK_MASK != 0 {
        summary = format!(
            "Transmission Control Protocol, Src Port: {src}, Dst Port: {dst}, Seq: {seq}, Ack: {ack}, Len: {wire_payload}"
        );
    }
    Layer {
        protocol: Protocol::Tcp,
        source: tcp.source,
        span: Span::at(offset, header_len),
        payload: Some(tcp.payload),
        summary,
        did: tcp_did(flags, src, dst, seq, ack, wire_payload),
        fields,
    }
}

pub(crate) fn udp(udp: &Udp<'_>, data: &[u8]) -> Layer {
    let offset = udp.offset;
    let header = &udp.header;
    let at = |range| span_at(offset, range);
    let (src, dst) = (header.source_port(), header.destination_port());
    let mut fields = vec![
        uint(
            keys::udp::SRCPORT,
            "Source port",
            u64::from(src),
            at(udp_field::SRC_PORT),
            "The sending program's port.",
        ),
        uint(
            keys::udp::DSTPORT,
            "Destination port",
            u64::from(dst),
            at(udp_field::DST_PORT),
            "The receiving program's port.",
        ),
        uint(
            keys::udp::LENGTH,
            "Length",
            u64::from(header.length()),
            at(udp_field::LENGTH),
            "Header and payload, in bytes.",
        ),
    ];
    fields.extend(checksum_fields(
        keys::udp::CHECKSUM,
        keys::udp::CHECKSUM_STATUS,
        header.checksum(),
        udp.checksum,
        at(udp_field::CHECKSUM),
        "Protects header and payload; optional (zero) over IPv4.",
    ));
    if !udp.payload.is_empty() {
        let payload = data.get(udp.payload.start..udp.payload.end).unwrap_or(&[]);
        fields.push(bytes_field(
            keys::udp::PAYLOAD,
            "UDP payload",
            payload,
            udp.payload,
            "The bytes UDP carries for the application.",
        ));
    }
    Layer {
        protocol: Protocol::Udp,
        source: udp.source,
        span: Span::at(offset, udp_field::LEN),
        payload: Some(udp.payload),
        summary: format!("User Datagram Protocol, Src Port: {src}, Dst Port: {dst}"),
        did: format!(
            "Carried one datagram of {} bytes from port {src} to port {dst}, with no connection, order or retransmission.",
            udp.payload.len()
        ),
        fields,
    }
}

fn icmp_type_name(v6: bool, kind: u8, code: u8) -> &'static str {
    match (v6, kind, code) {
        (false, 0, _) => "Echo (ping) reply",
        (false, 3, 3) => "Destination unreachable (port unreachable)",
        (false, 3, 4) => "Destination unreachable (fragmentation needed)",
        (false, 3, _) => "Destination unreachable",
        (false, 5, _) => "Redirect",
        (false, 8, _) => "Echo (ping) request",
        (false, 11, _) => "Time exceeded",
        (true, 1, _) => "Destination unreachable",
        (true, 2, _) => "Packet too big",
        (true, 3, _) => "Time exceeded",
        (true, 128, _) => "Echo (ping) request",
        (true, 129, _) => "Echo (ping) reply",
        (true, 133, _) => "Router solicitation",
        (true, 134, _) => "Router advertisement",
        (true, 135, _) => "Neighbor solicitation",
        (true, 136, _) => "Neighbor advertisement",
        _ => "Other",
    }
}

pub(crate) fn icmp(icmp: &Icmp<'_>) -> Layer {
    let offset = icmp.offset;
    let bytes = icmp.bytes;
    let at = |range| span_at(offset, range);
    let kind = bytes.first().copied().unwrap_or(0);
    let code = bytes.get(1).copied().unwrap_or(0);
    let name = icmp_type_name(icmp.v6, kind, code);
    let (k_type, k_code, k_sum, k_status, k_id, k_seq, protocol) = if icmp.v6 {
        (
            keys::icmpv6::TYPE,
            keys::icmpv6::CODE,
            keys::icmpv6::CHECKSUM,
            keys::icmpv6::CHECKSUM_STATUS,
            keys::icmpv6::ECHO_ID,
            keys::icmpv6::ECHO_SEQ,
            Protocol::Icmpv6,
        )
    } else {
        (
            keys::icmp::TYPE,
            keys::icmp::CODE,
            keys::icmp::CHECKSUM,
            keys::icmp::CHECKSUM_STATUS,
            keys::icmp::IDENT,
            keys::icmp::SEQ,
            Protocol::Icmp,
        )
    };
    let mut fields = vec![
        field(
            k_type,
            "Type",
            FieldValue::UInt(u64::from(kind)),
            format!("{kind} ({name})"),
            at(icmp_field::TYPE),
            "What kind of message this is.",
        ),
        uint(
            k_code,
            "Code",
            u64::from(code),
            at(icmp_field::CODE),
            "Refines the type, for example why a destination is unreachable.",
        ),
    ];
    fields.extend(checksum_fields(
        k_sum,
        k_status,
        be16(bytes, icmp_field::CHECKSUM),
        icmp.checksum,
        at(icmp_field::CHECKSUM),
        "Protects the whole message.",
    ));
    let echo = matches!((icmp.v6, kind), (false, 0 | 8) | (true, 128 | 129));
    if echo {
        fields.push(uint(
            k_id,
            "Identifier",
            u64::from(be16(bytes, icmp_field::IDENT)),
            at(icmp_field::IDENT),
            "Matches replies to the program that pinged.",
        ));
        fields.push(uint(
            k_seq,
            "Sequence number",
            u64::from(be16(bytes, icmp_field::SEQ)),
            at(icmp_field::SEQ),
            "Counts the pings, so lost ones show up.",
        ));
    }
    let quoted_start = offset + ICMP_ERROR_HEADER_LEN;
    if let Some(original) = &icmp.original {
        fields.extend(super::quoted_fields(original, quoted_start));
    }
    let header_len = if echo || icmp.original.is_some() {
        ICMP_ERROR_HEADER_LEN
    } else {
        4
    }
    .min(bytes.len());
    Layer {
        protocol,
        source: icmp.source,
        span: Span::at(offset, header_len),
        payload: Some(Span::new(offset + header_len, offset + bytes.len())),
        summary: format!("{} {name}", protocol.name()),
        did: format!(
            "Carried a control message of the IP layer: {}.",
            name.to_lowercase()
        ),
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_names_in_wireshark_order() {
        assert_eq!(flag_names(0x018), "PSH, ACK");
        assert_eq!(flag_names(0x012), "SYN, ACK");
        assert_eq!(flag_names(0), "none");
    }

    #[test]
    fn did_sentences_follow_flags() {
        assert!(tcp_did(0x002, 1, 2, 0, 0, 0).contains("Step 1"));
        assert!(tcp_did(0x012, 1, 2, 0, 1, 0).contains("Step 2"));
        assert!(tcp_did(0x004, 1, 2, 0, 0, 0).contains("RST"));
        assert!(tcp_did(0x018, 1, 2, 5, 9, 10).contains("Carried 10 bytes"));
        assert!(tcp_did(0x011, 1, 2, 5, 9, 0).contains("FIN"));
    }
}
