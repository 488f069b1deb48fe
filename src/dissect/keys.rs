//! Field keys: Wireshark display-filter names, so users carry knowledge both ways.
//!
//! Every key a layer emits is a constant here; no other module spells one.
//! Where Wireshark has no field (the physical layer's preamble, for example)
//! the key uses a prefix Wireshark does not (`phy.`).

/// The frame as captured, and the physical layer around it.
pub mod frame {
    pub const NUMBER: &str = "frame.number";
    pub const TIME_EPOCH: &str = "frame.time_epoch";
    pub const LEN: &str = "frame.len";
    pub const CAP_LEN: &str = "frame.cap_len";
    pub const LINK_TYPE: &str = "frame.link_type";
    pub const PREAMBLE: &str = "phy.preamble";
    pub const SFD: &str = "phy.sfd";
    pub const FCS: &str = "phy.fcs";
    pub const IFG: &str = "phy.ifg";
    pub const WIRE_BYTES: &str = "phy.wire_bytes";
    pub const DURATION: &str = "phy.duration_ns";
    pub const LINK_SPEED: &str = "phy.link_speed";
}

pub mod eth {
    pub const DST: &str = "eth.dst";
    pub const DST_LG: &str = "eth.dst.lg";
    pub const DST_IG: &str = "eth.dst.ig";
    pub const SRC: &str = "eth.src";
    pub const SRC_LG: &str = "eth.src.lg";
    pub const SRC_IG: &str = "eth.src.ig";
    pub const TYPE: &str = "eth.type";
    pub const PADDING: &str = "eth.padding";
    pub const TRAILER: &str = "eth.trailer";
}

pub mod vlan {
    pub const PRIORITY: &str = "vlan.priority";
    pub const DEI: &str = "vlan.dei";
    pub const ID: &str = "vlan.id";
    pub const ETYPE: &str = "vlan.etype";
    pub const AD_PRIORITY: &str = "ieee8021ad.priority";
    pub const AD_DEI: &str = "ieee8021ad.dei";
    pub const AD_ID: &str = "ieee8021ad.id";
}

pub mod sll {
    pub const PKTTYPE: &str = "sll.pkttype";
    pub const HATYPE: &str = "sll.hatype";
    pub const HALEN: &str = "sll.halen";
    pub const SRC_ETH: &str = "sll.src.eth";
    pub const SRC_OTHER: &str = "sll.src.other";
    pub const UNUSED: &str = "sll.unused";
    pub const ETYPE: &str = "sll.etype";
    pub const RESERVED: &str = "sll.reserved";
    pub const IFINDEX: &str = "sll.ifindex";
}

pub mod null {
    pub const FAMILY: &str = "null.family";
}

pub mod arp {
    pub const HW_TYPE: &str = "arp.hw.type";
    pub const PROTO_TYPE: &str = "arp.proto.type";
    pub const HW_SIZE: &str = "arp.hw.size";
    pub const PROTO_SIZE: &str = "arp.proto.size";
    pub const OPCODE: &str = "arp.opcode";
    pub const SRC_HW_MAC: &str = "arp.src.hw_mac";
    pub const SRC_PROTO_IPV4: &str = "arp.src.proto_ipv4";
    pub const DST_HW_MAC: &str = "arp.dst.hw_mac";
    pub const DST_PROTO_IPV4: &str = "arp.dst.proto_ipv4";
    pub const SRC_HW: &str = "arp.src.hw";
    pub const SRC_PROTO: &str = "arp.src.proto";
    pub const DST_HW: &str = "arp.dst.hw";
    pub const DST_PROTO: &str = "arp.dst.proto";
}

pub mod ip {
    pub const VERSION: &str = "ip.version";
    pub const HDR_LEN: &str = "ip.hdr_len";
    pub const DSFIELD: &str = "ip.dsfield";
    pub const DSFIELD_DSCP: &str = "ip.dsfield.dscp";
    pub const DSFIELD_ECN: &str = "ip.dsfield.ecn";
    pub const LEN: &str = "ip.len";
    pub const ID: &str = "ip.id";
    pub const FLAGS: &str = "ip.flags";
    pub const FLAGS_RB: &str = "ip.flags.rb";
    pub const FLAGS_DF: &str = "ip.flags.df";
    pub const FLAGS_MF: &str = "ip.flags.mf";
    pub const FRAG_OFFSET: &str = "ip.frag_offset";
    pub const TTL: &str = "ip.ttl";
    pub const PROTO: &str = "ip.proto";
    pub const CHECKSUM: &str = "ip.checksum";
    pub const CHECKSUM_STATUS: &str = "ip.checksum.status";
    pub const SRC: &str = "ip.src";
    pub const DST: &str = "ip.dst";
    pub const OPTIONS: &str = "ip.options";
}

pub mod ipv6 {
    pub const VERSION: &str = "ipv6.version";
    pub const TCLASS: &str = "ipv6.tclass";
    pub const TCLASS_DSCP: &str = "ipv6.tclass.dscp";
    pub const TCLASS_ECN: &str = "ipv6.tclass.ecn";
    pub const FLOW: &str = "ipv6.flow";
    pub const PLEN: &str = "ipv6.plen";
    pub const NXT: &str = "ipv6.nxt";
    pub const HLIM: &str = "ipv6.hlim";
    pub const SRC: &str = "ipv6.src";
    pub const DST: &str = "ipv6.dst";
    pub const HOPOPTS: &str = "ipv6.hopopts";
    pub const ROUTING: &str = "ipv6.routing";
    pub const FRAGMENT: &str = "ipv6.fragment";
    pub const DSTOPTS: &str = "ipv6.dstopts";
    pub const AUTH: &str = "ah";
    pub const EXT_NXT: &str = "ipv6.opt.nxt";
    pub const FRAGMENT_OFFSET: &str = "ipv6.fragment.offset";
    pub const FRAGMENT_MORE: &str = "ipv6.fragment.more";
    pub const FRAGMENT_ID: &str = "ipv6.fragment.id";
}

pub mod tcp {
    pub const STREAM: &str = "tcp.stream";
    /// Which way the segment went, client to server or back; Wireshark has no such field.
    pub const DIRECTION: &str = "tcp.direction";
    pub const SRCPORT: &str = "tcp.srcport";
    pub const DSTPORT: &str = "tcp.dstport";
    pub const SEQ: &str = "tcp.seq";
    pub const NXTSEQ: &str = "tcp.nxtseq";
    pub const ACK: &str = "tcp.ack";
    pub const ANALYSIS: &str = "tcp.analysis";
    pub const DUP_ACK_NUM: &str = "tcp.analysis.duplicate_ack_num";
    pub const DUP_ACK_FRAME: &str = "tcp.analysis.duplicate_ack_frame";
    pub const ACKS_FRAME: &str = "tcp.analysis.acks_frame";
    pub const ACK_RTT: &str = "tcp.analysis.ack_rtt";
    pub const INITIAL_RTT: &str = "tcp.analysis.initial_rtt";
    /// Each side's TCP state; Wireshark has no such field.
    pub const STATE: &str = "tcp.connection.state";
    pub const SEQ_RAW: &str = "tcp.seq_raw";
    pub const ACK_RAW: &str = "tcp.ack_raw";
    pub const HDR_LEN: &str = "tcp.hdr_len";
    pub const FLAGS: &str = "tcp.flags";
    pub const FLAGS_RES: &str = "tcp.flags.res";
    pub const FLAGS_AE: &str = "tcp.flags.ae";
    pub const FLAGS_CWR: &str = "tcp.flags.cwr";
    pub const FLAGS_ECE: &str = "tcp.flags.ece";
    pub const FLAGS_URG: &str = "tcp.flags.urg";
    pub const FLAGS_ACK: &str = "tcp.flags.ack";
    pub const FLAGS_PUSH: &str = "tcp.flags.push";
    pub const FLAGS_RESET: &str = "tcp.flags.reset";
    pub const FLAGS_SYN: &str = "tcp.flags.syn";
    pub const FLAGS_FIN: &str = "tcp.flags.fin";
    pub const WINDOW_SIZE_VALUE: &str = "tcp.window_size_value";
    pub const CHECKSUM: &str = "tcp.checksum";
    pub const CHECKSUM_STATUS: &str = "tcp.checksum.status";
    pub const URGENT_POINTER: &str = "tcp.urgent_pointer";
    pub const OPTIONS: &str = "tcp.options";
    pub const OPTION_KIND: &str = "tcp.option_kind";
    pub const OPTION_LEN: &str = "tcp.option_len";
    pub const OPT_EOL: &str = "tcp.options.eol";
    pub const OPT_NOP: &str = "tcp.options.nop";
    pub const OPT_MSS: &str = "tcp.options.mss";
    pub const OPT_MSS_VAL: &str = "tcp.options.mss_val";
    pub const OPT_WSCALE: &str = "tcp.options.wscale";
    pub const OPT_WSCALE_SHIFT: &str = "tcp.options.wscale.shift";
    pub const OPT_WSCALE_MULTIPLIER: &str = "tcp.options.wscale.multiplier";
    pub const OPT_SACK_PERM: &str = "tcp.options.sack_perm";
    pub const OPT_SACK: &str = "tcp.options.sack";
    pub const OPT_SACK_LE: &str = "tcp.options.sack_le";
    pub const OPT_SACK_RE: &str = "tcp.options.sack_re";
    pub const OPT_TIMESTAMP: &str = "tcp.options.timestamp";
    pub const OPT_TSVAL: &str = "tcp.options.timestamp.tsval";
    pub const OPT_TSECR: &str = "tcp.options.timestamp.tsecr";
    pub const OPT_UNKNOWN: &str = "tcp.options.unknown";
    pub const LEN: &str = "tcp.len";
    pub const PAYLOAD: &str = "tcp.payload";
    pub const REASSEMBLED_IN: &str = "tcp.reassembled_in";
    /// A problem key: reassembly reached a memory limit.
    pub const REASSEMBLY_LIMIT: &str = "tcp.reassembly.limit";
    /// A problem key: a retransmission whose bytes differ from the first copy.
    pub const CONFLICTING_OVERLAP: &str = "tcp.reassembly.conflicting_overlap";
}

pub mod udp {
    pub const SRCPORT: &str = "udp.srcport";
    pub const DSTPORT: &str = "udp.dstport";
    pub const LENGTH: &str = "udp.length";
    pub const CHECKSUM: &str = "udp.checksum";
    pub const CHECKSUM_STATUS: &str = "udp.checksum.status";
    pub const PAYLOAD: &str = "udp.payload";
}

pub mod icmp {
    pub const TYPE: &str = "icmp.type";
    pub const CODE: &str = "icmp.code";
    pub const CHECKSUM: &str = "icmp.checksum";
    pub const CHECKSUM_STATUS: &str = "icmp.checksum.status";
    pub const IDENT: &str = "icmp.ident";
    pub const SEQ: &str = "icmp.seq";
}

pub mod icmpv6 {
    pub const TYPE: &str = "icmpv6.type";
    pub const CODE: &str = "icmpv6.code";
    pub const CHECKSUM: &str = "icmpv6.checksum";
    pub const CHECKSUM_STATUS: &str = "icmpv6.checksum.status";
    pub const ECHO_ID: &str = "icmpv6.echo.identifier";
    pub const ECHO_SEQ: &str = "icmpv6.echo.sequence_number";
}

pub mod data {
    pub const DATA: &str = "data.data";
    pub const LEN: &str = "data.len";
}

pub mod http {
    pub const REQUEST_LINE: &str = "http.request.line";
    pub const RESPONSE_LINE: &str = "http.response.line";
    pub const REQUEST_METHOD: &str = "http.request.method";
    pub const REQUEST_URI: &str = "http.request.uri";
    pub const REQUEST_VERSION: &str = "http.request.version";
    pub const RESPONSE_VERSION: &str = "http.response.version";
    pub const RESPONSE_CODE: &str = "http.response.code";
    pub const RESPONSE_PHRASE: &str = "http.response.phrase";
    pub const HOST: &str = "http.host";
    pub const UPGRADE: &str = "http.upgrade";
    pub const CONNECTION: &str = "http.connection";
    pub const CONTENT_LENGTH: &str = "http.content_length_header";
    pub const CONTENT_TYPE: &str = "http.content_type";
    pub const WS_KEY: &str = "http.sec_websocket_key";
    pub const WS_ACCEPT: &str = "http.sec_websocket_accept";
    pub const WS_VERSION: &str = "http.sec_websocket_version";
    pub const WS_EXTENSIONS: &str = "http.sec_websocket_extensions";
    pub const WS_PROTOCOL: &str = "http.sec_websocket_protocol";
    /// On a frame whose bytes travel inside a `CONNECT` tunnel: where the proxy connected it.
    pub const PROXY_CONNECT_HOST: &str = "http.proxy_connect_host";
    pub const PROXY_CONNECT_PORT: &str = "http.proxy_connect_port";
    /// Any other header line.
    pub const HEADER: &str = "http.header";
    /// Server-Sent Events; Wireshark has no such fields.
    pub const SSE_EVENT: &str = "http.sse.event";
    pub const SSE_DATA: &str = "http.sse.data";
    pub const SSE_ID: &str = "http.sse.id";
    /// Problem keys for the stream decoders.
    pub const PROBLEM: &str = "http.problem";
}

/// The WebSocket opening handshake as osiscope checks it; Wireshark has no
/// such fields.
pub mod handshake {
    pub const CHECK: &str = "websocket.handshake";
    pub const KEY: &str = "websocket.handshake.key";
    pub const CONCATENATED: &str = "websocket.handshake.concatenated";
    pub const SHA1: &str = "websocket.handshake.sha1";
    pub const EXPECTED_ACCEPT: &str = "websocket.handshake.expected_accept";
    pub const ACCEPT_MATCH: &str = "websocket.handshake.accept_match";
    pub const RULE: &str = "websocket.handshake.rule";
}

pub mod websocket {
    pub const FIN: &str = "websocket.fin";
    pub const RSV: &str = "websocket.rsv";
    pub const PMC: &str = "websocket.pmc";
    pub const OPCODE: &str = "websocket.opcode";
    pub const MASK: &str = "websocket.mask";
    pub const PAYLOAD_LENGTH: &str = "websocket.payload_length";
    pub const PAYLOAD_LENGTH_16: &str = "websocket.payload_length_ext_16";
    pub const PAYLOAD_LENGTH_64: &str = "websocket.payload_length_ext_64";
    pub const MASKING_KEY: &str = "websocket.masking_key";
    pub const MASKED_PAYLOAD: &str = "websocket.masked_payload";
    pub const PAYLOAD: &str = "websocket.payload";
    pub const TEXT: &str = "websocket.payload.text";
    pub const CLOSE_CODE: &str = "websocket.payload.close.status_code";
    pub const CLOSE_REASON: &str = "websocket.payload.close.reason";
    /// The whole message this frame ends; Wireshark has no such field.
    pub const MESSAGE: &str = "websocket.message";
    pub const MESSAGE_LENGTH: &str = "websocket.message.length";
    pub const MESSAGE_FRAMES: &str = "websocket.message.frames";
    /// The WebSocket connection's state after a frame; Wireshark has no such field.
    pub const STATE: &str = "websocket.state";
    /// A problem key: the frame was recognised without the handshake.
    pub const GUESSED: &str = "websocket.handshake_missing";
    /// A problem key: an RFC 6455 rule broken on the wire.
    pub const VIOLATION: &str = "websocket.violation";
    /// A problem key: a hole, a skip or an early end in the stream.
    pub const STREAM: &str = "websocket.stream";
    /// A problem key: an analysis limit was reached.
    pub const LIMIT: &str = "websocket.limit";
}

pub mod tls {
    pub const CONTENT_TYPE: &str = "tls.record.content_type";
    pub const VERSION: &str = "tls.record.version";
    pub const LENGTH: &str = "tls.record.length";
    pub const ENCRYPTED: &str = "tls.app_data";
    pub const HANDSHAKE_TYPE: &str = "tls.handshake.type";
    pub const SNI: &str = "tls.handshake.extensions_server_name";
    pub const ALPN: &str = "tls.handshake.extensions_alpn_str";
    pub const CIPHER_SUITES: &str = "tls.handshake.cipher_suites_length";
    pub const SELECTED_VERSION: &str = "tls.handshake.extensions.supported_version";
}
