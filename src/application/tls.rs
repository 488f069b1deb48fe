//! The TLS record layer on one direction of a reassembled TCP stream, without decryption:
//! records (content type, legacy version, length), handshake messages reassembled across
//! records while they are plaintext, the ClientHello and ServerHello fields a learner looks
//! at (versions, cipher suites, server name, ALPN), plaintext alerts, and the point where
//! the records become encrypted.
//!
//! A [`Decoder`] is fed the stream bytes in order, in chunks of any size, and returns
//! [`Event`]s with stream offsets; the events do not depend on how the stream was cut.
//! Records after a ChangeCipherSpec, and after a ServerHello that selects TLS 1.3, are
//! reported as encrypted (length only). Memory is bounded by [`Limits`].

use super::http::StreamSpan;
use std::collections::VecDeque;
use std::fmt;

/// The length of a record header: type, version, length (RFC 8446 §5.1).
pub const RECORD_HEADER_LEN: usize = 5;

/// Bounds on what a [`Decoder`] accepts and keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest record fragment before it is reported as too long (default 2^14 + 2048, the
    /// TLSCiphertext bound of RFC 5246 §6.2.3).
    pub max_record_len: usize,
    /// Longest handshake message kept for parsing (default 64 KiB); longer ones are counted.
    pub max_handshake_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_record_len: (1 << 14) + 2048,
            max_handshake_len: 64 * 1024,
        }
    }
}

/// The rules a TLS stream can break, and the losses a capture can cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The content type is not one TLS defines (RFC 8446 §5.1): not TLS, or framing lost.
    #[error("unknown content type {0}")]
    UnknownContentType(u8),
    /// The record version's major byte is not 3 (RFC 8446 §5.1, legacy_record_version).
    #[error("record version {0:#06x} is not TLS")]
    NotTlsVersion(u16),
    /// A record is longer than `Limits::max_record_len` (RFC 5246 §6.2.3, RFC 8446 §5.2).
    #[error("record of {len} bytes is longer than {limit}")]
    RecordTooLong {
        /// The length field.
        len: u16,
        /// The limit in force.
        limit: usize,
    },
    /// A handshake, alert or ChangeCipherSpec record is empty (RFC 8446 §5.1).
    #[error("empty {0} record")]
    EmptyRecord(ContentType),
    /// A handshake message is longer than `Limits::max_handshake_len`; it is counted only.
    #[error("handshake message of {len} bytes is longer than {limit}")]
    HandshakeTooLarge {
        /// The message length field.
        len: u32,
        /// The limit in force.
        limit: usize,
    },
    /// Another record came between the fragments of a handshake message (RFC 8446 §5.1).
    #[error("handshake message interrupted by another record")]
    HandshakeInterrupted,
    /// A hello message field does not fit the lengths around it (RFC 8446 §4.1.2, §4.1.3).
    #[error("malformed hello: {field}")]
    MalformedHello {
        /// The field that did not fit.
        field: &'static str,
    },
    /// A ChangeCipherSpec record is not the single byte 1 (RFC 5246 §7.1).
    #[error("ChangeCipherSpec is not the single byte 1")]
    BadChangeCipherSpec,
    /// An alert record does not hold whole two-byte alerts (RFC 8446 §6).
    #[error("alert record does not hold whole alerts")]
    BadAlertLength,
    /// Bytes of a record fragment are missing from the capture.
    #[error("record cut by missing bytes")]
    RecordCutByGap,
    /// Bytes of a plaintext handshake record are missing: handshake messages are not
    /// decoded any more on this direction.
    #[error("handshake cut by missing bytes")]
    HandshakeCutByGap,
    /// Missing bytes hide where the next record starts; records are looked for again.
    #[error("record framing lost in missing bytes")]
    FramingLost,
    /// Bytes skipped while looking for a record header.
    #[error("bytes skipped until a record header")]
    UnparsedBytes,
    /// The stream ended inside a record.
    #[error("stream ended inside a record")]
    RecordCutByEnd,
    /// The stream ended inside a handshake message.
    #[error("stream ended inside a handshake message")]
    HandshakeCutByEnd,
}

/// A problem found on the wire, with the bytes it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The rule broken or the loss.
    pub error: Error,
    /// The bytes concerned.
    pub span: StreamSpan,
}

/// A record content type (RFC 8446 §5.1), open to unknown values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentType(pub u8);

impl ContentType {
    /// `change_cipher_spec`.
    pub const CHANGE_CIPHER_SPEC: Self = Self(20);
    /// `alert`.
    pub const ALERT: Self = Self(21);
    /// `handshake`.
    pub const HANDSHAKE: Self = Self(22);
    /// `application_data`.
    pub const APPLICATION_DATA: Self = Self(23);
    /// `heartbeat` (RFC 6520).
    pub const HEARTBEAT: Self = Self(24);

    /// The name Wireshark shows, for known types.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            20 => "Change Cipher Spec",
            21 => "Alert",
            22 => "Handshake",
            23 => "Application Data",
            24 => "Heartbeat",
            _ => return None,
        })
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "Unknown ({})", self.0),
        }
    }
}

/// A protocol version as sent on the wire (`0x0303` is TLS 1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolVersion(pub u16);

impl ProtocolVersion {
    /// TLS 1.0.
    pub const TLS_1_0: Self = Self(0x0301);
    /// TLS 1.2.
    pub const TLS_1_2: Self = Self(0x0303);
    /// TLS 1.3.
    pub const TLS_1_3: Self = Self(0x0304);

    /// The version name, for known versions.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0300 => "SSL 3.0",
            0x0301 => "TLS 1.0",
            0x0302 => "TLS 1.1",
            0x0303 => "TLS 1.2",
            0x0304 => "TLS 1.3",
            value if is_grease(value) => "GREASE",
            _ => return None,
        })
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#06x})", self.0),
            None => write!(f, "Unknown ({:#06x})", self.0),
        }
    }
}

/// A handshake message type (RFC 8446 §4), open to unknown values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandshakeType(pub u8);

impl HandshakeType {
    /// `client_hello`.
    pub const CLIENT_HELLO: Self = Self(1);
    /// `server_hello`.
    pub const SERVER_HELLO: Self = Self(2);
    /// `certificate`.
    pub const CERTIFICATE: Self = Self(11);
    /// `finished`.
    pub const FINISHED: Self = Self(20);

    /// The name Wireshark shows, for known types.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "Hello Request",
            1 => "Client Hello",
            2 => "Server Hello",
            4 => "New Session Ticket",
            5 => "End of Early Data",
            8 => "Encrypted Extensions",
            11 => "Certificate",
            12 => "Server Key Exchange",
            13 => "Certificate Request",
            14 => "Server Hello Done",
            15 => "Certificate Verify",
            16 => "Client Key Exchange",
            20 => "Finished",
            22 => "Certificate Status",
            24 => "Key Update",
            254 => "Message Hash",
            _ => return None,
        })
    }
}

impl fmt::Display for HandshakeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "Unknown ({})", self.0),
        }
    }
}

/// One record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The whole record, header included.
    pub span: StreamSpan,
    /// The five header bytes.
    pub header: StreamSpan,
    /// The content type.
    pub content_type: ContentType,
    /// The legacy record version.
    pub version: ProtocolVersion,
    /// The length field.
    pub length: u16,
    /// The fragment after the header.
    pub fragment: StreamSpan,
    /// Whether the fragment is encrypted (not decoded).
    pub encrypted: bool,
}

/// A plaintext alert (RFC 8446 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// The two alert bytes.
    pub span: StreamSpan,
    /// 1 is warning, 2 is fatal.
    pub level: u8,
    /// The alert description code.
    pub description: u8,
}

impl Alert {
    /// The description name, for common codes.
    pub fn description_name(&self) -> Option<&'static str> {
        Some(match self.description {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            22 => "record_overflow",
            40 => "handshake_failure",
            42 => "bad_certificate",
            45 => "certificate_expired",
            46 => "certificate_unknown",
            47 => "illegal_parameter",
            48 => "unknown_ca",
            50 => "decode_error",
            51 => "decrypt_error",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            109 => "missing_extension",
            110 => "unsupported_extension",
            112 => "unrecognized_name",
            116 => "certificate_required",
            120 => "no_application_protocol",
            _ => return None,
        })
    }
}

/// One extension of a hello message: its type and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension {
    /// The extension type (0 is server_name, 16 is ALPN, 43 is supported_versions).
    pub ext_type: u16,
    /// The length of its data.
    pub len: u16,
}

/// The ClientHello fields a learner looks at (RFC 8446 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// The legacy version (TLS 1.2 for TLS 1.3 clients).
    pub legacy_version: ProtocolVersion,
    /// The length of the legacy session ID.
    pub session_id_len: u8,
    /// The offered cipher suites, in order (GREASE values included).
    pub cipher_suites: Vec<u16>,
    /// The offered compression methods.
    pub compression_methods: Vec<u8>,
    /// The extensions, in order.
    pub extensions: Vec<Extension>,
    /// The host name of the server_name extension (SNI).
    pub server_name: Option<String>,
    /// The protocols of the ALPN extension, in order.
    pub alpn: Vec<String>,
    /// The versions of the supported_versions extension, in order.
    pub supported_versions: Vec<ProtocolVersion>,
}

/// The ServerHello fields a learner looks at (RFC 8446 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// The legacy version.
    pub legacy_version: ProtocolVersion,
    /// The selected cipher suite.
    pub cipher_suite: u16,
    /// The selected compression method.
    pub compression_method: u8,
    /// The extensions, in order.
    pub extensions: Vec<Extension>,
    /// The version selected with supported_versions (TLS 1.3), when present.
    pub selected_version: Option<ProtocolVersion>,
    /// The ALPN protocol (TLS 1.2; TLS 1.3 sends it encrypted).
    pub alpn: Option<String>,
    /// Whether this is a HelloRetryRequest (its random is the RFC 8446 §4.1.3 constant).
    pub hello_retry_request: bool,
}

impl ServerHello {
    /// The negotiated version: the supported_versions selection, else the legacy version.
    pub fn version(&self) -> ProtocolVersion {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// What is decoded of a handshake message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeBody {
    /// A ClientHello.
    ClientHello(ClientHello),
    /// A ServerHello or HelloRetryRequest.
    ServerHello(ServerHello),
    /// Another message, or a hello that did not parse.
    Other,
    /// Longer than `Limits::max_handshake_len`: counted, not kept.
    NotKept,
}

/// A complete plaintext handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeMessage {
    /// The message type.
    pub msg_type: HandshakeType,
    /// The length field (the body after the four header bytes).
    pub length: u32,
    /// From the type byte to the last body byte; record headers in between are included
    /// when the message spans records.
    pub span: StreamSpan,
    /// How many records carry the message.
    pub n_records: usize,
    /// The decoded body.
    pub body: HandshakeBody,
}

/// What a [`Decoder`] found, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A record header; the whole record span is known from its length.
    Record(Record),
    /// A complete plaintext handshake message.
    Handshake(HandshakeMessage),
    /// A plaintext alert.
    Alert(Alert),
    /// A problem.
    Problem(Problem),
}

/// Whether `first_bytes` (at least five) start like a TLS record: a known content type,
/// version 3.x with x at most 4, a length from 1 to 2^14 + 2048, and for a handshake record
/// a known message type when the sixth byte is there.
pub fn looks_like_tls(first_bytes: &[u8]) -> bool {
    let [content_type, major, minor, high, low, rest @ ..] = first_bytes else {
        return false;
    };
    let len = usize::from(u16::from_be_bytes([*high, *low]));
    let known_message = match (content_type, rest.first()) {
        (22, Some(msg_type)) => HandshakeType(*msg_type).name().is_some(),
        _ => true,
    };
    (20..=24).contains(content_type)
        && *major == 3
        && *minor <= 4
        && (1..=Limits::default().max_record_len).contains(&len)
        && known_message
}

/// What a record fragment is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payload {
    Skip,
    Handshake,
    Alert,
    ChangeCipherSpec,
}

#[derive(Debug)]
enum State {
    /// Reading a header; `have` bytes of it are in `header`.
    Header {
        header: [u8; RECORD_HEADER_LEN],
        have: usize,
    },
    /// Reading a fragment.
    Fragment { payload: Payload, remaining: u64 },
    /// Framing lost: looking for a plausible record header; `tail` keeps the last bytes
    /// that may start one.
    Lost { tail: Vec<u8> },
    /// `finish` was called.
    Finished,
}

/// A handshake message longer than the limit, being counted.
#[derive(Debug)]
struct Oversized {
    msg_type: HandshakeType,
    length: u32,
    start: u64,
    first_record: u64,
    remaining: u64,
}

/// Plaintext handshake bytes of the records, in order, with their stream offsets.
#[derive(Debug, Default)]
struct Reassembly {
    buf: Vec<u8>,
    /// The index of `buf[0]` among all handshake bytes of the direction.
    base: u64,
    /// Where each contiguous piece starts: (index, stream offset, record number).
    pieces: VecDeque<(u64, u64, u64)>,
    oversized: Option<Oversized>,
    /// After a gap: handshake bytes are not decoded any more.
    lost: bool,
}

impl Reassembly {
    fn locate(&self, index: u64) -> (u64, u64) {
        let mut found = (index, 0);
        for (start, offset, record) in &self.pieces {
            if *start > index {
                break;
            }
            found = (offset.saturating_add(index.saturating_sub(*start)), *record);
        }
        found
    }

    fn is_partial(&self) -> bool {
        !self.buf.is_empty() || self.oversized.is_some()
    }

    fn clear(&mut self) {
        self.base = self.base.saturating_add(len64(self.buf.len()));
        self.buf.clear();
        self.pieces.clear();
        self.oversized = None;
    }
}

/// A streaming TLS record-layer decoder for one direction of one connection.
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    /// The next stream offset to read.
    pos: u64,
    state: State,
    /// Records from now on are encrypted.
    encrypted: bool,
    /// The current record, for the events of its fragment.
    record_start: u64,
    record_type: ContentType,
    record_count: u64,
    /// Alert or ChangeCipherSpec bytes of the current record (at most a few are kept).
    small: Vec<u8>,
    small_len: u64,
    /// Bytes of the current alert or ChangeCipherSpec record were lost in a gap.
    small_damaged: bool,
    hs: Reassembly,
    /// Where the framing was lost, and why, until a header is found again.
    lost: Option<(u64, Error)>,
}

impl Decoder {
    /// A decoder for one direction.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            pos: 0,
            state: State::Header {
                header: [0; RECORD_HEADER_LEN],
                have: 0,
            },
            encrypted: false,
            record_start: 0,
            record_type: ContentType(0),
            record_count: 0,
            small: Vec::new(),
            small_len: 0,
            small_damaged: false,
            hs: Reassembly::default(),
            lost: None,
        }
    }

    /// The same decoder reading a stream whose first byte is at `offset` (the first byte
    /// inside a `CONNECT` tunnel). Call it before the first [`Decoder::feed`].
    pub fn starting_at(mut self, offset: u64) -> Self {
        self.pos = offset;
        self.record_start = offset;
        self
    }

    /// The stream offset the next [`Decoder::feed`] is expected to start at.
    pub fn next_offset(&self) -> u64 {
        self.pos
    }

    /// Whether records from now on are reported as encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    /// Tells the decoder that records from now on are encrypted (for example when the other
    /// direction's ServerHello selected TLS 1.3).
    pub fn mark_encrypted(&mut self) {
        self.encrypted = true;
    }

    /// Reads the stream bytes starting at `stream_offset`; bytes already read are skipped
    /// and a jump forward is read as a gap.
    pub fn feed(&mut self, bytes: &[u8], stream_offset: u64) -> Vec<Event> {
        let mut out = Vec::new();
        let mut bytes = bytes;
        if stream_offset > self.pos {
            self.gap_inner(stream_offset.saturating_sub(self.pos), &mut out);
        } else if stream_offset < self.pos {
            let seen = self.pos.saturating_sub(stream_offset);
            match usize::try_from(seen)
                .ok()
                .and_then(|seen| bytes.get(seen..))
            {
                Some(rest) => bytes = rest,
                None => return out,
            }
        }
        while !bytes.is_empty() && !matches!(self.state, State::Finished) {
            let used = self.step(bytes, &mut out).clamp(1, bytes.len());
            bytes = bytes.get(used..).unwrap_or_default();
            self.pos = self.pos.saturating_add(len64(used));
        }
        out
    }

    /// Reads a gap of `len` missing bytes.
    pub fn gap(&mut self, len: u64) -> Vec<Event> {
        let mut out = Vec::new();
        self.gap_inner(len, &mut out);
        out
    }

    /// Ends the stream; anything cut short is reported.
    pub fn finish(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        let state = std::mem::replace(&mut self.state, State::Finished);
        match state {
            State::Header { have, .. } if have > 0 => {
                let start = self.pos.saturating_sub(len64(have));
                problem(
                    &mut out,
                    Error::RecordCutByEnd,
                    StreamSpan::new(start, self.pos),
                );
            }
            State::Fragment { remaining, .. } => {
                problem(
                    &mut out,
                    Error::RecordCutByEnd,
                    StreamSpan::at(self.pos, remaining),
                );
            }
            State::Lost { .. } => self.flush_lost(self.pos, &mut out),
            State::Header { .. } | State::Finished => {}
        }
        if self.hs.is_partial() {
            let start = self.hs_start();
            problem(
                &mut out,
                Error::HandshakeCutByEnd,
                StreamSpan::new(start, self.pos),
            );
            self.hs.clear();
        }
        out
    }

    /// Reads one step from `input`; returns the bytes used (at least one is always used).
    fn step(&mut self, input: &[u8], out: &mut Vec<Event>) -> usize {
        match &mut self.state {
            State::Header { header, have } => {
                let want = RECORD_HEADER_LEN.saturating_sub(*have);
                let take = want.min(input.len());
                for (slot, byte) in header.iter_mut().skip(*have).zip(input.iter().take(take)) {
                    *slot = *byte;
                }
                *have = have.saturating_add(take);
                if *have == RECORD_HEADER_LEN {
                    let header = *header;
                    let start = self
                        .pos
                        .saturating_add(len64(take))
                        .saturating_sub(len64(RECORD_HEADER_LEN));
                    self.on_header(header, start, out);
                }
                take
            }
            State::Fragment { payload, remaining } => {
                let payload = *payload;
                let take =
                    usize::try_from(*remaining).map_or(input.len(), |left| left.min(input.len()));
                *remaining = remaining.saturating_sub(len64(take));
                let done = *remaining == 0;
                let data = input.get(..take).unwrap_or_default();
                self.on_fragment(payload, data, out);
                if done {
                    self.end_record(payload, out);
                }
                take
            }
            State::Lost { tail } => {
                let mut window = std::mem::take(tail);
                let tail_len = window.len();
                window.extend(input.iter().take(RECORD_HEADER_LEN));
                // A header may start in the kept tail...
                for at in 0..tail_len {
                    if let Some(header) =
                        plausible_header(window.get(at..).unwrap_or_default(), &self.limits)
                    {
                        let have = tail_len.saturating_sub(at);
                        let from_input = RECORD_HEADER_LEN.saturating_sub(have);
                        let start = self.pos.saturating_sub(len64(have));
                        self.flush_lost(start, out);
                        self.state = State::Header {
                            header: [0; RECORD_HEADER_LEN],
                            have: RECORD_HEADER_LEN,
                        };
                        self.on_header(header, start, out);
                        return from_input;
                    }
                }
                // ...or in the input.
                for at in 0..input.len() {
                    if let Some(header) =
                        plausible_header(input.get(at..).unwrap_or_default(), &self.limits)
                    {
                        if at > 0 {
                            // Skip to the header; it is read on the next step.
                            self.state = State::Lost { tail: Vec::new() };
                            return at;
                        }
                        self.flush_lost(self.pos, out);
                        self.on_header(header, self.pos, out);
                        return RECORD_HEADER_LEN;
                    }
                }
                let keep = input.len().min(RECORD_HEADER_LEN.saturating_sub(1));
                let mut tail = window;
                tail.truncate(tail_len);
                tail.extend_from_slice(
                    input
                        .get(input.len().saturating_sub(keep)..)
                        .unwrap_or_default(),
                );
                let excess = tail
                    .len()
                    .saturating_sub(RECORD_HEADER_LEN.saturating_sub(1));
                tail.drain(..excess);
                self.state = State::Lost { tail };
                input.len()
            }
            State::Finished => input.len(),
        }
    }

    /// Reads a complete header that starts at `start`.
    fn on_header(&mut self, header: [u8; RECORD_HEADER_LEN], start: u64, out: &mut Vec<Event>) {
        let [content_type, major, minor, high, low] = header;
        let content_type = ContentType(content_type);
        let version = ProtocolVersion(u16::from_be_bytes([major, minor]));
        let length = u16::from_be_bytes([high, low]);
        let header_span = StreamSpan::at(start, len64(RECORD_HEADER_LEN));
        if content_type.name().is_none() || major != 3 {
            let error = if content_type.name().is_none() {
                Error::UnknownContentType(content_type.0)
            } else {
                Error::NotTlsVersion(version.0)
            };
            self.lost.get_or_insert((start, error));
            // The bytes after the bad first byte may still start a record.
            self.state = State::Lost {
                tail: header.get(1..).unwrap_or_default().to_vec(),
            };
            return;
        }
        let encrypted = content_type == ContentType::APPLICATION_DATA
            || (self.encrypted && content_type != ContentType::CHANGE_CIPHER_SPEC);
        let fragment = StreamSpan::at(header_span.end(), u64::from(length));
        out.push(Event::Record(Record {
            span: StreamSpan::new(start, fragment.end()),
            header: header_span,
            content_type,
            version,
            length,
            fragment,
            encrypted,
        }));
        if usize::from(length) > self.limits.max_record_len {
            problem(
                out,
                Error::RecordTooLong {
                    len: length,
                    limit: self.limits.max_record_len,
                },
                header_span,
            );
        }
        let payload = match content_type {
            _ if encrypted => Payload::Skip,
            ContentType::HANDSHAKE => Payload::Handshake,
            ContentType::ALERT => Payload::Alert,
            ContentType::CHANGE_CIPHER_SPEC => Payload::ChangeCipherSpec,
            _ => Payload::Skip,
        };
        if payload != Payload::Handshake && self.hs.is_partial() && !self.hs.lost {
            let span = StreamSpan::new(self.hs_start(), start);
            problem(out, Error::HandshakeInterrupted, span);
            self.hs.clear();
        }
        if length == 0 && payload != Payload::Skip {
            problem(out, Error::EmptyRecord(content_type), header_span);
        }
        self.record_start = start;
        self.record_type = content_type;
        self.record_count = self.record_count.saturating_add(1);
        self.small.clear();
        self.small_len = 0;
        self.small_damaged = false;
        self.state = if length == 0 {
            self.end_record(payload, out);
            State::Header {
                header: [0; RECORD_HEADER_LEN],
                have: 0,
            }
        } else {
            State::Fragment {
                payload,
                remaining: u64::from(length),
            }
        };
    }

    fn on_fragment(&mut self, payload: Payload, data: &[u8], out: &mut Vec<Event>) {
        match payload {
            Payload::Skip => {}
            Payload::Handshake => self.handshake_bytes(data, out),
            Payload::Alert | Payload::ChangeCipherSpec => {
                // Alerts are two bytes each; more than a few bytes is already an error.
                let room = 64_usize.saturating_sub(self.small.len());
                self.small.extend(data.iter().take(room));
                self.small_len = self.small_len.saturating_add(len64(data.len()));
            }
        }
    }

    /// Ends the current record (its last byte was just read).
    fn end_record(&mut self, payload: Payload, out: &mut Vec<Event>) {
        let fragment_start = self.record_start.saturating_add(len64(RECORD_HEADER_LEN));
        let payload = match payload {
            // Damaged alerts are not decoded; the gap was reported.
            Payload::Alert if self.small_damaged => Payload::Skip,
            Payload::ChangeCipherSpec if self.small_damaged => {
                self.encrypted = true;
                Payload::Skip
            }
            other => other,
        };
        match payload {
            Payload::Alert => {
                let mut pairs = self.small.chunks_exact(2);
                let mut offset = fragment_start;
                for pair in pairs.by_ref() {
                    if let [level, description] = pair {
                        out.push(Event::Alert(Alert {
                            span: StreamSpan::at(offset, 2),
                            level: *level,
                            description: *description,
                        }));
                    }
                    offset = offset.saturating_add(2);
                }
                if !self.small_len.is_multiple_of(2) || self.small_len > len64(self.small.len()) {
                    problem(
                        out,
                        Error::BadAlertLength,
                        StreamSpan::at(fragment_start, self.small_len),
                    );
                }
            }
            Payload::ChangeCipherSpec => {
                if self.small != [1] {
                    problem(
                        out,
                        Error::BadChangeCipherSpec,
                        StreamSpan::at(fragment_start, self.small_len),
                    );
                }
                self.encrypted = true;
            }
            Payload::Handshake | Payload::Skip => {}
        }
        self.small.clear();
        self.small_len = 0;
        self.small_damaged = false;
        self.state = State::Header {
            header: [0; RECORD_HEADER_LEN],
            have: 0,
        };
    }

    /// The stream offset of the first byte of the partial handshake message.
    fn hs_start(&self) -> u64 {
        match &self.hs.oversized {
            Some(oversized) => oversized.start,
            None => self.hs.locate(self.hs.base).0,
        }
    }

    /// Adds plaintext handshake bytes that start at `self.pos` and reads every complete
    /// message.
    fn handshake_bytes(&mut self, data: &[u8], out: &mut Vec<Event>) {
        if self.hs.lost {
            return;
        }
        let mut data = data;
        let mut offset = self.pos;
        if let Some(oversized) = self.hs.oversized.as_mut() {
            let take = usize::try_from(oversized.remaining)
                .map_or(data.len(), |left| left.min(data.len()));
            oversized.remaining = oversized.remaining.saturating_sub(len64(take));
            offset = offset.saturating_add(len64(take));
            data = data.get(take..).unwrap_or_default();
            if oversized.remaining == 0 {
                let n_records = usize::try_from(
                    self.record_count
                        .saturating_sub(oversized.first_record)
                        .saturating_add(1),
                )
                .unwrap_or(usize::MAX);
                out.push(Event::Handshake(HandshakeMessage {
                    msg_type: oversized.msg_type,
                    length: oversized.length,
                    span: StreamSpan::new(oversized.start, offset),
                    n_records,
                    body: HandshakeBody::NotKept,
                }));
                self.hs.oversized = None;
            }
        }
        if data.is_empty() {
            return;
        }
        let index = self.hs.base.saturating_add(len64(self.hs.buf.len()));
        let contiguous = self
            .hs
            .pieces
            .back()
            .is_some_and(|(start, stream, record)| {
                *record == self.record_count
                    && stream.saturating_add(index.saturating_sub(*start)) == offset
            });
        if !contiguous {
            self.hs.pieces.push_back((index, offset, self.record_count));
        }
        self.hs.buf.extend_from_slice(data);
        self.extract_messages(out);
    }

    fn extract_messages(&mut self, out: &mut Vec<Event>) {
        while self.hs.oversized.is_none() {
            let Some([msg_type, a, b, c]) = self.hs.buf.first_chunk::<4>().copied() else {
                return;
            };
            let length = u32::from_be_bytes([0, a, b, c]);
            let total = usize::try_from(length)
                .unwrap_or(usize::MAX)
                .saturating_add(4);
            let (start, first_record) = self.hs.locate(self.hs.base);
            let oversized = total > self.limits.max_handshake_len;
            if oversized {
                problem(
                    out,
                    Error::HandshakeTooLarge {
                        len: length,
                        limit: self.limits.max_handshake_len,
                    },
                    StreamSpan::at(start, 4),
                );
                let have = self.hs.buf.len();
                if have < total {
                    self.hs.clear();
                    self.hs.oversized = Some(Oversized {
                        msg_type: HandshakeType(msg_type),
                        length,
                        start,
                        first_record,
                        remaining: len64(total.saturating_sub(have)),
                    });
                    return;
                }
            }
            let Some(message) = self.hs.buf.get(..total) else {
                return;
            };
            let last = self.hs.base.saturating_add(len64(total)).saturating_sub(1);
            let (last_offset, last_record) = self.hs.locate(last);
            let msg_type = HandshakeType(msg_type);
            let body_bytes = message.get(4..).unwrap_or_default();
            let body = match msg_type {
                _ if oversized => HandshakeBody::NotKept,
                HandshakeType::CLIENT_HELLO => match parse_client_hello(body_bytes) {
                    Ok(hello) => HandshakeBody::ClientHello(hello),
                    Err(field) => {
                        problem(
                            out,
                            Error::MalformedHello { field },
                            StreamSpan::new(start, last_offset.saturating_add(1)),
                        );
                        HandshakeBody::Other
                    }
                },
                HandshakeType::SERVER_HELLO => match parse_server_hello(body_bytes) {
                    Ok(hello) => HandshakeBody::ServerHello(hello),
                    Err(field) => {
                        problem(
                            out,
                            Error::MalformedHello { field },
                            StreamSpan::new(start, last_offset.saturating_add(1)),
                        );
                        HandshakeBody::Other
                    }
                },
                _ => HandshakeBody::Other,
            };
            if let HandshakeBody::ServerHello(hello) = &body {
                if hello.selected_version == Some(ProtocolVersion::TLS_1_3)
                    && !hello.hello_retry_request
                {
                    // TLS 1.3 encrypts every record after the ServerHello.
                    self.encrypted = true;
                }
            }
            out.push(Event::Handshake(HandshakeMessage {
                msg_type,
                length,
                span: StreamSpan::new(start, last_offset.saturating_add(1)),
                n_records: usize::try_from(
                    last_record.saturating_sub(first_record).saturating_add(1),
                )
                .unwrap_or(usize::MAX),
                body,
            }));
            self.hs.buf.drain(..total);
            self.hs.base = self.hs.base.saturating_add(len64(total));
            while self
                .hs
                .pieces
                .get(1)
                .is_some_and(|(start, _, _)| *start <= self.hs.base)
            {
                self.hs.pieces.pop_front();
            }
        }
    }

    fn flush_lost(&mut self, end: u64, out: &mut Vec<Event>) {
        if let Some((start, error)) = self.lost.take() {
            if end > start || error != Error::UnparsedBytes {
                problem(out, error, StreamSpan::new(start, end));
            }
        }
    }

    fn gap_inner(&mut self, len: u64, out: &mut Vec<Event>) {
        if len == 0 {
            return;
        }
        let span = StreamSpan::at(self.pos, len);
        let state = std::mem::replace(&mut self.state, State::Finished);
        self.state = match state {
            State::Fragment { payload, remaining } => {
                let error = if payload == Payload::Handshake && !self.hs.lost {
                    self.hs.clear();
                    self.hs.lost = true;
                    Error::HandshakeCutByGap
                } else {
                    Error::RecordCutByGap
                };
                if payload == Payload::Alert || payload == Payload::ChangeCipherSpec {
                    self.small_damaged = true;
                }
                if len < remaining {
                    problem(out, error, span);
                    State::Fragment {
                        payload,
                        remaining: remaining.saturating_sub(len),
                    }
                } else {
                    let record_end = self.pos.saturating_add(remaining);
                    problem(out, error, StreamSpan::new(self.pos, record_end));
                    self.end_record(payload, out);
                    if len == remaining {
                        State::Header {
                            header: [0; RECORD_HEADER_LEN],
                            have: 0,
                        }
                    } else {
                        problem(
                            out,
                            Error::FramingLost,
                            StreamSpan::new(record_end, span.end()),
                        );
                        self.lost = Some((span.end(), Error::UnparsedBytes));
                        State::Lost { tail: Vec::new() }
                    }
                }
            }
            State::Header { have, .. } => {
                let start = self.pos.saturating_sub(len64(have));
                problem(out, Error::FramingLost, StreamSpan::new(start, span.end()));
                self.lost = Some((span.end(), Error::UnparsedBytes));
                State::Lost { tail: Vec::new() }
            }
            State::Lost { .. } => State::Lost { tail: Vec::new() },
            State::Finished => State::Finished,
        };
        if !matches!(self.state, State::Finished) {
            self.pos = self.pos.saturating_add(len);
        }
    }
}

/// A record header at the start of `bytes` that is plausible enough to resynchronize on:
/// a known content type other than heartbeat, version 3.1 to 3.3, length 1 to the limit.
fn plausible_header(bytes: &[u8], limits: &Limits) -> Option<[u8; RECORD_HEADER_LEN]> {
    let header = *bytes.first_chunk::<RECORD_HEADER_LEN>()?;
    let [content_type, major, minor, high, low] = header;
    let len = usize::from(u16::from_be_bytes([high, low]));
    ((20..=23).contains(&content_type)
        && major == 3
        && (1..=3).contains(&minor)
        && (1..=limits.max_record_len).contains(&len))
    .then_some(header)
}

/// A bounds-checked reader over a hello body.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], &'static str> {
        let taken = self.data.get(..len).ok_or(field)?;
        self.data = self.data.get(len..).unwrap_or_default();
        Ok(taken)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, &'static str> {
        let [byte] = *self.take(1, field)? else {
            return Err(field);
        };
        Ok(byte)
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, &'static str> {
        let [high, low] = *self.take(2, field)? else {
            return Err(field);
        };
        Ok(u16::from_be_bytes([high, low]))
    }

    /// A vector with a one-byte length.
    fn vec8(&mut self, field: &'static str) -> Result<&'a [u8], &'static str> {
        let len = self.u8(field)?;
        self.take(usize::from(len), field)
    }

    /// A vector with a two-byte length.
    fn vec16(&mut self, field: &'static str) -> Result<&'a [u8], &'static str> {
        let len = self.u16(field)?;
        self.take(usize::from(len), field)
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// The random of a HelloRetryRequest: SHA-256 of "HelloRetryRequest" (RFC 8446 §4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// Reads the extensions block that ends a hello, if any; calls `each` with type and data.
fn read_extensions<'a>(
    reader: &mut Reader<'a>,
    mut each: impl FnMut(u16, &'a [u8]) -> Result<(), &'static str>,
) -> Result<Vec<Extension>, &'static str> {
    let mut extensions = Vec::new();
    if reader.is_empty() {
        return Ok(extensions);
    }
    let mut block = Reader {
        data: reader.vec16("extensions")?,
    };
    if !reader.is_empty() {
        return Err("extensions");
    }
    while !block.is_empty() {
        let ext_type = block.u16("extension type")?;
        let data = block.vec16("extension length")?;
        extensions.push(Extension {
            ext_type,
            len: u16::try_from(data.len()).unwrap_or(u16::MAX),
        });
        each(ext_type, data)?;
    }
    Ok(extensions)
}

fn parse_client_hello(body: &[u8]) -> Result<ClientHello, &'static str> {
    let mut reader = Reader { data: body };
    let legacy_version = ProtocolVersion(reader.u16("legacy_version")?);
    reader.take(32, "random")?;
    let session_id = reader.vec8("session_id")?;
    let suites = reader.vec16("cipher_suites")?;
    if !suites.len().is_multiple_of(2) {
        return Err("cipher_suites");
    }
    let cipher_suites = suites
        .chunks_exact(2)
        .map(|pair| match pair {
            [high, low] => u16::from_be_bytes([*high, *low]),
            _ => 0,
        })
        .collect();
    let compression_methods = reader.vec8("compression_methods")?.to_vec();
    let mut server_name = None;
    let mut alpn = Vec::new();
    let mut supported_versions = Vec::new();
    let extensions = read_extensions(&mut reader, |ext_type, data| {
        let mut ext = Reader { data };
        match ext_type {
            EXT_SERVER_NAME => {
                let mut list = Reader {
                    data: ext.vec16("server_name")?,
                };
                while !list.is_empty() {
                    let name_type = list.u8("server_name")?;
                    let name = list.vec16("server_name")?;
                    if name_type == 0 && server_name.is_none() {
                        server_name = Some(String::from_utf8_lossy(name).into_owned());
                    }
                }
            }
            EXT_ALPN => {
                let mut list = Reader {
                    data: ext.vec16("application_layer_protocol_negotiation")?,
                };
                while !list.is_empty() {
                    let protocol = list.vec8("application_layer_protocol_negotiation")?;
                    alpn.push(String::from_utf8_lossy(protocol).into_owned());
                }
            }
            EXT_SUPPORTED_VERSIONS => {
                let list = ext.vec8("supported_versions")?;
                if !list.len().is_multiple_of(2) {
                    return Err("supported_versions");
                }
                supported_versions.extend(list.chunks_exact(2).map(|pair| match pair {
                    [high, low] => ProtocolVersion(u16::from_be_bytes([*high, *low])),
                    _ => ProtocolVersion(0),
                }));
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(ClientHello {
        legacy_version,
        session_id_len: u8::try_from(session_id.len()).unwrap_or(u8::MAX),
        cipher_suites,
        compression_methods,
        extensions,
        server_name,
        alpn,
        supported_versions,
    })
}

fn parse_server_hello(body: &[u8]) -> Result<ServerHello, &'static str> {
    let mut reader = Reader { data: body };
    let legacy_version = ProtocolVersion(reader.u16("legacy_version")?);
    let random = reader.take(32, "random")?;
    reader.vec8("session_id")?;
    let cipher_suite = reader.u16("cipher_suite")?;
    let compression_method = reader.u8("compression_method")?;
    let mut selected_version = None;
    let mut alpn = None;
    let extensions = read_extensions(&mut reader, |ext_type, data| {
        let mut ext = Reader { data };
        match ext_type {
            EXT_SUPPORTED_VERSIONS => {
                selected_version = Some(ProtocolVersion(ext.u16("supported_versions")?))
            }
            EXT_ALPN => {
                let mut list = Reader {
                    data: ext.vec16("application_layer_protocol_negotiation")?,
                };
                let protocol = list.vec8("application_layer_protocol_negotiation")?;
                alpn = Some(String::from_utf8_lossy(protocol).into_owned());
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(ServerHello {
        legacy_version,
        cipher_suite,
        compression_method,
        extensions,
        selected_version,
        alpn,
        hello_retry_request: random == HELLO_RETRY_RANDOM,
    })
}

/// Whether `value` is a GREASE value (RFC 8701): 0x?A?A with both bytes equal.
fn is_grease(value: u16) -> bool {
    let [high, low] = value.to_be_bytes();
    high == low && high & 0x0f == 0x0a
}

fn problem(out: &mut Vec<Event>, error: Error, span: StreamSpan) {
    out.push(Event::Problem(Problem { error, span }));
}

fn len64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn span(start: u64, end: u64) -> StreamSpan {
        StreamSpan::new(start, end)
    }

    /// A ClientHello body: TLS 1.2 legacy version, 3 cipher suites, SNI example.com,
    /// ALPN h2 and http/1.1, supported_versions TLS 1.3 and 1.2.
    fn client_hello_body() -> Vec<u8> {
        let mut body = vec![0x03, 0x03]; // legacy_version
        body.extend([0x11; 32]); // random
        body.push(0); // session_id: empty
        body.extend([0x00, 0x06, 0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f]); // cipher_suites
        body.extend([0x01, 0x00]); // compression_methods: null
        let mut ext = Vec::new();
        // server_name (0), 16 bytes: list of 14, host_name (0) of 11 bytes.
        ext.extend([0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x00, 0x0b]);
        ext.extend(b"example.com");
        // ALPN (16), 14 bytes: list of 12: "h2", "http/1.1".
        ext.extend([0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02]);
        ext.extend(b"h2");
        ext.push(0x08);
        ext.extend(b"http/1.1");
        // supported_versions (43), 5 bytes: list of 4: TLS 1.3, TLS 1.2.
        ext.extend([0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03]);
        body.extend(u16::try_from(ext.len()).unwrap().to_be_bytes());
        body.extend(ext);
        body
    }

    /// A ServerHello body with the given random and extensions.
    fn server_hello_body(random: [u8; 32], extensions: &[u8]) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend(random);
        body.push(0); // session_id
        body.extend([0x13, 0x01]); // TLS_AES_128_GCM_SHA256
        body.push(0); // compression
        body.extend(u16::try_from(extensions.len()).unwrap().to_be_bytes());
        body.extend(extensions);
        body
    }

    /// supported_versions selecting TLS 1.3.
    const SELECT_TLS13: [u8; 6] = [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];

    fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
        let len = u32::try_from(body.len()).unwrap().to_be_bytes();
        let mut bytes = vec![msg_type, len[1], len[2], len[3]];
        bytes.extend(body);
        bytes
    }

    fn record(content_type: u8, version: u16, fragment: &[u8]) -> Vec<u8> {
        let mut bytes = vec![content_type];
        bytes.extend(version.to_be_bytes());
        bytes.extend(u16::try_from(fragment.len()).unwrap().to_be_bytes());
        bytes.extend(fragment);
        bytes
    }

    fn run_with(limits: Limits, pieces: &[&[u8]]) -> Vec<Event> {
        let mut decoder = Decoder::new(limits);
        let mut events = Vec::new();
        let mut offset = 0;
        for piece in pieces {
            events.extend(decoder.feed(piece, offset));
            offset += piece.len() as u64;
        }
        events.extend(decoder.finish());
        events
    }

    fn run(pieces: &[&[u8]]) -> Vec<Event> {
        run_with(Limits::default(), pieces)
    }

    fn records(events: &[Event]) -> Vec<&Record> {
        events
            .iter()
            .filter_map(|event| match event {
                Event::Record(record) => Some(record),
                _ => None,
            })
            .collect()
    }

    fn messages(events: &[Event]) -> Vec<&HandshakeMessage> {
        events
            .iter()
            .filter_map(|event| match event {
                Event::Handshake(message) => Some(message),
                _ => None,
            })
            .collect()
    }

    fn problems(events: &[Event]) -> Vec<(Error, StreamSpan)> {
        events
            .iter()
            .filter_map(|event| match event {
                Event::Problem(problem) => Some((problem.error.clone(), problem.span)),
                _ => None,
            })
            .collect()
    }

    fn client_hello_record() -> Vec<u8> {
        record(22, 0x0301, &handshake(1, &client_hello_body()))
    }

    #[test]
    fn client_hello_fields_and_spans() {
        let bytes = client_hello_record();
        let events = run(&[&bytes]);
        let end = bytes.len() as u64;
        assert_eq!(
            records(&events),
            [&Record {
                span: span(0, end),
                header: span(0, 5),
                content_type: ContentType::HANDSHAKE,
                version: ProtocolVersion::TLS_1_0,
                length: u16::try_from(end - 5).unwrap(),
                fragment: span(5, end),
                encrypted: false,
            }]
        );
        let message = messages(&events)[0];
        assert_eq!(message.msg_type, HandshakeType::CLIENT_HELLO);
        assert_eq!(message.span, span(5, end));
        assert_eq!(message.n_records, 1);
        let HandshakeBody::ClientHello(hello) = &message.body else {
            panic!("not a ClientHello: {:?}", message.body);
        };
        assert_eq!(hello.legacy_version, ProtocolVersion::TLS_1_2);
        assert_eq!(hello.cipher_suites, [0x1301, 0x1302, 0xc02f]);
        assert_eq!(hello.server_name.as_deref(), Some("example.com"));
        assert_eq!(hello.alpn, ["h2", "http/1.1"]);
        assert_eq!(
            hello.supported_versions,
            [ProtocolVersion::TLS_1_3, ProtocolVersion::TLS_1_2]
        );
        let types: Vec<u16> = hello.extensions.iter().map(|ext| ext.ext_type).collect();
        assert_eq!(types, [0, 16, 43]);
        assert!(problems(&events).is_empty());
        assert_eq!(ProtocolVersion::TLS_1_3.to_string(), "TLS 1.3 (0x0304)");
        assert_eq!(message.msg_type.to_string(), "Client Hello (1)");
    }

    #[test]
    fn a_decoder_can_start_inside_a_stream() {
        // A ClientHello inside a CONNECT tunnel whose first byte is stream offset 39.
        let bytes = client_hello_record();
        let mut decoder = Decoder::new(Limits::default()).starting_at(39);
        assert_eq!(decoder.next_offset(), 39);
        let events = decoder.feed(&bytes, 39);
        let end = 39 + bytes.len() as u64;
        assert_eq!(records(&events)[0].span, span(39, end));
        assert_eq!(messages(&events)[0].span, span(44, end));
        assert!(problems(&events).is_empty());
    }

    #[test]
    fn every_split_of_a_flight_gives_the_same_events() {
        let mut bytes = client_hello_record();
        bytes.extend(record(21, 0x0303, &[1, 0]));
        bytes.extend(record(23, 0x0303, b"opaque"));
        let whole = run(&[&bytes]);
        assert_eq!(records(&whole).len(), 3);
        for cut in 0..=bytes.len() {
            assert_eq!(run(&[&bytes[..cut], &bytes[cut..]]), whole, "cut at {cut}");
        }
    }

    #[test]
    fn handshake_message_spanning_two_records_is_reassembled() {
        let message = handshake(1, &client_hello_body());
        let (first, second) = message.split_at(30);
        let mut bytes = record(22, 0x0301, first);
        bytes.extend(record(22, 0x0301, second));
        let events = run(&[&bytes]);
        assert_eq!(records(&events).len(), 2);
        let found = messages(&events);
        assert_eq!(found.len(), 1);
        // From the type byte in the first record to the last byte of the second one,
        // across the second record header.
        assert_eq!(found[0].span, span(5, bytes.len() as u64));
        assert_eq!(found[0].n_records, 2);
        assert!(matches!(found[0].body, HandshakeBody::ClientHello(_)));
        // The four-byte message header itself can be split across records.
        let (first, second) = message.split_at(2);
        let mut bytes = record(22, 0x0301, first);
        bytes.extend(record(22, 0x0301, second));
        assert!(matches!(
            messages(&run(&[&bytes]))[0].body,
            HandshakeBody::ClientHello(_)
        ));
    }

    #[test]
    fn tls13_server_flight_is_encrypted_after_the_server_hello() {
        let mut bytes = record(
            22,
            0x0303,
            &handshake(2, &server_hello_body([7; 32], &SELECT_TLS13)),
        );
        bytes.extend(record(20, 0x0303, &[1])); // middlebox compatibility ChangeCipherSpec
        bytes.extend(record(23, 0x0303, &[0xaa; 40])); // EncryptedExtensions and more
        bytes.extend(record(22, 0x0303, &[0xbb; 8])); // would be garbage if parsed
        let events = run(&[&bytes]);
        let found = messages(&events);
        assert_eq!(found.len(), 1);
        let HandshakeBody::ServerHello(hello) = &found[0].body else {
            panic!("not a ServerHello");
        };
        assert_eq!(hello.version(), ProtocolVersion::TLS_1_3);
        assert!(!hello.hello_retry_request);
        let encrypted: Vec<bool> = records(&events)
            .iter()
            .map(|record| record.encrypted)
            .collect();
        assert_eq!(encrypted, [false, false, true, true]);
        assert!(problems(&events).is_empty());
    }

    #[test]
    fn hello_retry_request_keeps_the_handshake_plaintext() {
        let mut bytes = record(
            22,
            0x0303,
            &handshake(2, &server_hello_body(HELLO_RETRY_RANDOM, &SELECT_TLS13)),
        );
        bytes.extend(record(
            22,
            0x0303,
            &handshake(2, &server_hello_body([7; 32], &SELECT_TLS13)),
        ));
        let events = run(&[&bytes]);
        let found = messages(&events);
        assert_eq!(found.len(), 2);
        assert!(
            matches!(&found[0].body, HandshakeBody::ServerHello(hello) if hello.hello_retry_request)
        );
        assert!(records(&events).iter().all(|record| !record.encrypted));
    }

    #[test]
    fn tls12_flight_with_several_messages_then_change_cipher_spec() {
        // ALPN "h2" in a TLS 1.2 ServerHello.
        let alpn = [0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, b'h', b'2'];
        let mut flight = handshake(2, &server_hello_body([7; 32], &alpn));
        flight.extend(handshake(11, &[0, 0, 0])); // empty Certificate
        flight.extend(handshake(14, &[])); // ServerHelloDone
        let mut bytes = record(22, 0x0303, &flight);
        bytes.extend(record(20, 0x0303, &[1]));
        bytes.extend(record(22, 0x0303, &[0x5a; 40])); // encrypted Finished
        let events = run(&[&bytes]);
        let types: Vec<u8> = messages(&events)
            .iter()
            .map(|message| message.msg_type.0)
            .collect();
        assert_eq!(types, [2, 11, 14]);
        let HandshakeBody::ServerHello(hello) = &messages(&events)[0].body else {
            panic!("not a ServerHello");
        };
        assert_eq!(hello.alpn.as_deref(), Some("h2"));
        assert_eq!(hello.version(), ProtocolVersion::TLS_1_2);
        let encrypted: Vec<bool> = records(&events)
            .iter()
            .map(|record| record.encrypted)
            .collect();
        assert_eq!(encrypted, [false, false, true]);
    }

    #[test]
    fn plaintext_alert_is_decoded() {
        let events = run(&[&record(21, 0x0303, &[2, 40])]);
        let alert = events
            .iter()
            .find_map(|event| match event {
                Event::Alert(alert) => Some(alert),
                _ => None,
            })
            .unwrap();
        assert_eq!((alert.level, alert.description), (2, 40));
        assert_eq!(alert.description_name(), Some("handshake_failure"));
        assert_eq!(alert.span, span(5, 7));
        let events = run(&[&record(21, 0x0303, &[2])]);
        assert_eq!(problems(&events), [(Error::BadAlertLength, span(5, 6))]);
    }

    #[test]
    fn bad_change_cipher_spec_and_empty_records_are_reported() {
        let events = run(&[&record(20, 0x0303, &[2])]);
        assert_eq!(
            problems(&events),
            [(Error::BadChangeCipherSpec, span(5, 6))]
        );
        let events = run(&[&record(22, 0x0303, &[])]);
        assert_eq!(
            problems(&events),
            [(Error::EmptyRecord(ContentType::HANDSHAKE), span(0, 5))]
        );
        // Empty application data is allowed.
        assert!(problems(&run(&[&record(23, 0x0303, &[])])).is_empty());
    }

    #[test]
    fn record_longer_than_the_limit_is_reported_and_still_framed() {
        let mut bytes = record(23, 0x0303, &vec![0; 18433]);
        bytes.extend(record(23, 0x0303, b"x"));
        let events = run(&[&bytes]);
        assert_eq!(
            problems(&events),
            [(
                Error::RecordTooLong {
                    len: 18433,
                    limit: 18432
                },
                span(0, 5)
            )]
        );
        assert_eq!(records(&events).len(), 2);
    }

    #[test]
    fn non_tls_bytes_are_skipped_until_a_record_header() {
        let mut bytes = b"GET / HTTP/1.1\r\n".to_vec();
        bytes.extend(record(23, 0x0303, b"data"));
        let events = run(&[&bytes]);
        assert_eq!(
            problems(&events),
            [(Error::UnknownContentType(b'G'), span(0, 16))]
        );
        assert_eq!(records(&events)[0].span, span(16, 25));
        // Split everywhere, the header found in the kept tail gives the same events.
        for cut in 0..=bytes.len() {
            assert_eq!(run(&[&bytes[..cut], &bytes[cut..]]), events, "cut at {cut}");
        }
        let events = run(&[&[0x16, 0x02, 0x00, 0x00, 0x05]]);
        assert_eq!(
            problems(&events),
            [(Error::NotTlsVersion(0x0200), span(0, 5))]
        );
    }

    #[test]
    fn gap_inside_encrypted_record_keeps_the_framing() {
        let mut bytes = record(23, 0x0303, &[0xaa; 20]);
        bytes.extend(record(23, 0x0303, &[0xbb; 4]));
        let mut decoder = Decoder::new(Limits::default());
        let mut events = decoder.feed(&bytes[..10], 0);
        events.extend(decoder.gap(5));
        events.extend(decoder.feed(&bytes[15..], 15));
        events.extend(decoder.finish());
        assert_eq!(problems(&events), [(Error::RecordCutByGap, span(10, 15))]);
        assert_eq!(records(&events).len(), 2);
    }

    #[test]
    fn gap_over_a_header_loses_and_finds_the_framing_again() {
        let mut bytes = record(23, 0x0303, &[0xaa; 20]);
        bytes.extend(record(23, 0x0303, &[0xbb; 4]));
        bytes.extend(record(23, 0x0303, &[0xcc; 4]));
        let mut decoder = Decoder::new(Limits::default());
        let mut events = decoder.feed(&bytes[..20], 0);
        // The gap covers the end of the first record and the whole second one.
        events.extend(decoder.feed(&bytes[34..], 34));
        events.extend(decoder.finish());
        assert_eq!(
            problems(&events),
            [
                (Error::RecordCutByGap, span(20, 25)),
                (Error::FramingLost, span(25, 34))
            ]
        );
        assert_eq!(records(&events)[1].span, span(34, 43));
    }

    #[test]
    fn gap_in_a_handshake_record_stops_handshake_decoding() {
        let bytes = client_hello_record();
        let mut decoder = Decoder::new(Limits::default());
        let mut events = decoder.feed(&bytes[..20], 0);
        events.extend(decoder.gap(4));
        events.extend(decoder.feed(&bytes[24..], 24));
        events.extend(decoder.feed(&client_hello_record(), bytes.len() as u64));
        events.extend(decoder.finish());
        assert_eq!(
            problems(&events),
            [(Error::HandshakeCutByGap, span(20, 24))]
        );
        assert!(messages(&events).is_empty());
        assert_eq!(records(&events).len(), 2);
    }

    #[test]
    fn truncated_streams_report_what_is_cut() {
        let bytes = client_hello_record();
        let events = run(&[&bytes[..3]]);
        assert_eq!(problems(&events), [(Error::RecordCutByEnd, span(0, 3))]);
        let end = bytes.len() as u64;
        let events = run(&[&bytes[..20]]);
        assert_eq!(
            problems(&events),
            [
                (Error::RecordCutByEnd, span(20, end)),
                (Error::HandshakeCutByEnd, span(5, 20))
            ]
        );
    }

    #[test]
    fn another_record_inside_a_handshake_message_is_reported() {
        let message = handshake(1, &client_hello_body());
        let mut bytes = record(22, 0x0301, &message[..10]);
        bytes.extend(record(21, 0x0303, &[1, 0]));
        let events = run(&[&bytes]);
        assert_eq!(
            problems(&events),
            [(Error::HandshakeInterrupted, span(5, 15))]
        );
    }

    #[test]
    fn handshake_message_beyond_the_limit_is_counted_not_kept() {
        let limits = Limits {
            max_handshake_len: 64,
            ..Limits::default()
        };
        let message = handshake(11, &[0x42; 100]);
        let (first, second) = message.split_at(50);
        let mut bytes = record(22, 0x0303, first);
        bytes.extend(record(22, 0x0303, second));
        bytes.extend(record(22, 0x0303, &handshake(14, &[])));
        let events = run_with(limits, &[&bytes]);
        let found = messages(&events);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].body, HandshakeBody::NotKept);
        assert_eq!(found[0].length, 100);
        assert_eq!(found[0].span, span(5, 114));
        assert_eq!(found[0].n_records, 2);
        assert_eq!(found[1].msg_type.0, 14);
        assert_eq!(
            problems(&events),
            [(
                Error::HandshakeTooLarge {
                    len: 100,
                    limit: 64
                },
                span(5, 9)
            )]
        );
        // Whole inside one record, the oversized message is reported at once.
        let mut bytes = record(22, 0x0303, &message);
        bytes.extend(record(22, 0x0303, &handshake(14, &[])));
        assert_eq!(messages(&run_with(limits, &[&bytes])).len(), 2);
    }

    #[test]
    fn malformed_client_hello_is_reported() {
        let mut body = client_hello_body();
        body[35] = 0x05; // the cipher_suites length becomes odd
        let events = run(&[&record(22, 0x0301, &handshake(1, &body))]);
        assert_eq!(
            problems(&events)[0].0,
            Error::MalformedHello {
                field: "cipher_suites"
            }
        );
        assert_eq!(messages(&events)[0].body, HandshakeBody::Other);
        let events = run(&[&record(22, 0x0301, &handshake(1, &body[..20]))]);
        assert_eq!(
            problems(&events)[0].0,
            Error::MalformedHello { field: "random" }
        );
    }

    #[test]
    fn detector_accepts_tls_and_refuses_other_protocols() {
        assert!(looks_like_tls(&client_hello_record()));
        assert!(looks_like_tls(&[23, 3, 3, 0, 10]));
        assert!(!looks_like_tls(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_tls(b"SSH-2.0-x"));
        assert!(!looks_like_tls(&[22, 3, 1, 0]));
        assert!(!looks_like_tls(&[22, 3, 1, 0, 0]));
        assert!(!looks_like_tls(&[22, 3, 1, 0xff, 0xff]));
        assert!(!looks_like_tls(&[22, 3, 1, 0, 5, 99]));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..2000),
            cut in 0_usize..2000,
            gap in 0_u64..50,
        ) {
            let limits = Limits { max_handshake_len: 32, max_record_len: 100 };
            let cut = cut % (bytes.len() + 1);
            let mut decoder = Decoder::new(limits);
            decoder.feed(&bytes[..cut], 0);
            decoder.gap(gap);
            decoder.feed(&bytes[cut..], cut as u64 + gap);
            decoder.finish();
        }

        #[test]
        fn truncated_flights_report_a_cut_record_unless_cut_between_records(cut in 0_usize..400) {
            let mut bytes = client_hello_record();
            let boundary_one = bytes.len();
            bytes.extend(record(22, 0x0303, &handshake(2, &server_hello_body([7; 32], &SELECT_TLS13))));
            let boundary_two = bytes.len();
            bytes.extend(record(23, 0x0303, &[1, 2, 3]));
            let cut = cut % (bytes.len() + 1);
            let events = run(&[&bytes[..cut]]);
            let cut_record = problems(&events).iter().any(|(error, _)| *error == Error::RecordCutByEnd);
            let at_boundary = [0, boundary_one, boundary_two, bytes.len()].contains(&cut);
            prop_assert_eq!(cut_record, !at_boundary);
        }

        #[test]
        fn mutated_flights_never_panic_and_report_only_seen_bytes(
            cut in 0_usize..400,
            flips in proptest::collection::vec((0_usize..400, any::<u8>()), 1..4),
        ) {
            let mut bytes = client_hello_record();
            bytes.extend(record(22, 0x0303, &handshake(2, &server_hello_body([7; 32], &SELECT_TLS13))));
            bytes.extend(record(23, 0x0303, &[1, 2, 3]));
            for (at, value) in flips {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            let cut = cut % (bytes.len() + 1);
            for (_, span) in problems(&run(&[&bytes[..cut]])) {
                prop_assert!(span.start() <= cut as u64);
            }
        }

        #[test]
        fn record_shaped_bytes_give_the_same_events_whatever_the_chunking(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(vec![22_u8, 3, 1, 0, 6]),
                    Just(vec![23, 3, 3, 0, 2]),
                    Just(vec![20, 3, 3, 0, 1, 1]),
                    Just(vec![21, 3, 3, 0, 2, 2, 40]),
                    Just(vec![1, 0, 0, 2]),
                    Just(vec![2, 0, 0, 40]),
                    Just(vec![0x42]),
                    Just(vec![3]),
                ],
                0..40,
            ),
            cuts in proptest::collection::vec(0_usize..300, 0..8),
            gap_at in 0_usize..300,
            gap_len in 0_u64..6,
        ) {
            let bytes: Vec<u8> = parts.concat();
            let limits = Limits { max_handshake_len: 24, max_record_len: 64 };
            let gap_at = gap_at % (bytes.len() + 1);
            let mut results = Vec::new();
            for chunked in [false, true] {
                let mut decoder = Decoder::new(limits);
                let mut events = Vec::new();
                let mut offset = 0;
                for (index, part) in [&bytes[..gap_at], &bytes[gap_at..]].into_iter().enumerate() {
                    let mut pieces = vec![part];
                    if chunked {
                        let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (part.len() + 1)).collect();
                        cuts.sort_unstable();
                        pieces.clear();
                        let mut start = 0;
                        for cut in cuts {
                            pieces.push(&part[start..cut]);
                            start = cut;
                        }
                        pieces.push(&part[start..]);
                    }
                    for piece in pieces {
                        events.extend(decoder.feed(piece, offset));
                        offset += piece.len() as u64;
                    }
                    if index == 0 {
                        events.extend(decoder.gap(gap_len));
                        offset += gap_len;
                    }
                }
                events.extend(decoder.finish());
                results.push(events);
            }
            prop_assert_eq!(&results[0], &results[1]);
        }

        #[test]
        fn random_chunking_of_a_valid_flight_gives_the_same_events(
            cuts in proptest::collection::vec(0_usize..500, 0..10),
        ) {
            let message = handshake(1, &client_hello_body());
            let mut bytes = record(22, 0x0301, &message[..40]);
            bytes.extend(record(22, 0x0301, &message[40..]));
            bytes.extend(record(21, 0x0303, &[1, 0]));
            bytes.extend(record(20, 0x0303, &[1]));
            bytes.extend(record(22, 0x0303, &[9; 30]));
            let whole = run(&[&bytes]);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|cut| cut % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut start = 0;
            for cut in cuts {
                pieces.push(&bytes[start..cut]);
                start = cut;
            }
            pieces.push(&bytes[start..]);
            prop_assert_eq!(run(&pieces), whole);
        }
    }
}
