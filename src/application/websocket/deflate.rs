//! permessage-deflate (RFC 7692): the negotiated parameters and the per-direction inflater.
//!
//! A compressed message has RSV1 set on its first frame (§6). Its payload, joined across
//! fragments, is raw DEFLATE data (RFC 1951) whose trailing `00 00 ff ff` was removed by the
//! sender; the receiver appends those four bytes again and inflates (§7.2.2).
//!
//! With context takeover (the default), the LZ77 window carries over from one message to the
//! next in the same direction, so one [`Inflater`] per direction decodes every compressed
//! message of that direction in order. `server_no_context_takeover` applies to the
//! server-to-client direction and `client_no_context_takeover` to the client-to-server one.
//!
//! Window sizes below 15 bits: the inflater always uses a 32 KiB (15-bit) window. That decodes every conforming stream exactly,
//! because a sender limited to a smaller window never refers further back than the larger window
//! reaches. What it cannot do is notice a sender that refers further back than it negotiated.
//!
//! Deflate bombs: inflation is incremental through a fixed 32 KiB scratch buffer, and output stops
//! at `max_inflated_len` bytes per message. The rest of that message is not inflated.
//!
//! References to unknown history: the decompressor (zlib-rs, through flate2) fails on a
//! back-reference that reaches before the first byte it produced, which is a
//! [`DeflateError::Corrupt`] at the start of the connection or, without context takeover, of
//! any message. After a loss under context takeover the window is unknown but not empty, so the
//! inflater runs a shadow decompressor until it is known again (see [`Inflater`]), which turns
//! references into the lost history into [`InflateSummary::uses_lost_history`].
//!
//! A stream that ends with a BFINAL block (§7.2.3.4) is followed, under context takeover, by a
//! new stream whose window is rebuilt from the last 32 KiB of output, fed as a stored block.

use std::cell::RefCell;
use std::collections::VecDeque;

use flate2::{Decompress, FlushDecompress, Status};
use thiserror::Error;

use crate::application::websocket::handshake::{self, Extension};
use crate::application::websocket::Sender;

/// The extension token.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// The four bytes that the sender removed from the end of every compressed message (§7.2.1).
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The largest LZ77 window (2^15 bytes), which the inflater always uses.
pub const MAX_WINDOW_BITS: u8 = 15;

/// The smallest window size that the parameters may name.
pub const MIN_WINDOW_BITS: u8 = 8;

/// Bytes counted for one DEFLATE decompressor's state (its 32 KiB window and tables).
pub const DECOMPRESSOR_LEN: usize = 48 * 1024;

/// The size of the LZ77 window kept between messages: 2^15 bytes.
const WINDOW_LEN: usize = 1 << 15;

/// The largest size of the scratch buffer that inflated bytes pass through.
const SCRATCH_LEN: usize = 1 << 15;

/// The scratch buffer's first size: small messages (the usual case) never need more, and an
/// open connection costs little memory; it doubles up to [`SCRATCH_LEN`] when filled.
const SCRATCH_START_LEN: usize = 1 << 12;

/// How many decompressors of ended connections are kept for new ones (per thread).
const MAX_SPARE: usize = 64;

thread_local! {
    /// Decompressors of inflaters that were recycled ([`Inflater::recycle`]). Each holds about
    /// 40 KiB (its window and tables); reusing them spares the allocator a large block per
    /// connection, whose churn would otherwise fragment the heap of a long capture.
    static SPARE: RefCell<Vec<Decompress>> = const { RefCell::new(Vec::new()) };
}

/// zlib's message for a back-reference before the first byte of the window.
const TOO_FAR_BACK: &str = "invalid distance too far back";

/// Whether a header value is a client's offer or the server's response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `Sec-WebSocket-Extensions` in the client's request.
    Offer,
    /// `Sec-WebSocket-Extensions` in the server's 101 response: what was agreed.
    Response,
}

/// The permessage-deflate parameters of one offer or response (§7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeflateParams {
    /// The server resets its compression context after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after every message.
    pub client_no_context_takeover: bool,
    /// The server's LZ77 window, as a power of two (8-15).
    pub server_max_window_bits: Option<u8>,
    /// The client's LZ77 window (8-15); `Some(None)` means "offered without a value".
    pub client_max_window_bits: Option<Option<u8>>,
}

/// The parameters that govern the messages of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectionParams {
    /// The sender resets its context after every message, so the receiver does too.
    pub no_context_takeover: bool,
    /// The sender's window size in bits (15 unless negotiated lower).
    pub max_window_bits: u8,
}

/// A permessage-deflate rule broken by the parameters or the compressed data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeflateError {
    /// The header value does not follow the extension grammar.
    #[error(transparent)]
    Syntax(#[from] handshake::HandshakeError),
    /// A parameter that RFC 7692 does not define (§7).
    #[error("unknown permessage-deflate parameter {name:?} (RFC 7692 §7)")]
    UnknownParameter {
        /// The parameter name.
        name: String,
    },
    /// A parameter appeared twice (§7).
    #[error("permessage-deflate parameter {name:?} appears more than once (RFC 7692 §7)")]
    DuplicateParameter {
        /// The parameter name.
        name: String,
    },
    /// A `*_no_context_takeover` parameter carried a value (§7.1.1).
    #[error("permessage-deflate parameter {name:?} must not have a value (RFC 7692 §7.1.1)")]
    UnexpectedValue {
        /// The parameter name.
        name: String,
    },
    /// A window-bits parameter lacked its value where one is required (§7.1.2).
    #[error("permessage-deflate parameter {name:?} needs a value (RFC 7692 §7.1.2)")]
    MissingValue {
        /// The parameter name.
        name: String,
    },
    /// A window-bits value is not a decimal 8-15 without leading zeroes (§7.1.2).
    #[error("permessage-deflate parameter {name:?} has invalid value {value:?}: expected 8-15 (RFC 7692 §7.1.2)")]
    InvalidWindowBits {
        /// The parameter name.
        name: String,
        /// The value as sent.
        value: String,
    },
    /// The response accepted permessage-deflate more than once (§7).
    #[error("the response names permessage-deflate more than once (RFC 7692 §7)")]
    MultipleResponses,
    /// The compressed data is not valid DEFLATE (§7.2.2).
    #[error("compressed message is not valid DEFLATE data: {detail} (RFC 7692 §7.2.2)")]
    Corrupt {
        /// The inflater's description of the fault.
        detail: String,
        /// True when an earlier loss had already reset the shared context, so the fault may be
        /// a reference into history that this decoder never saw rather than a sender's error.
        context_lost: bool,
    },
    /// Inflation reached the analyzer's `max_inflated_len` and stopped (not an RFC rule).
    #[error(
        "inflated message reached the limit of {max_inflated_len} bytes; the rest was not inflated"
    )]
    InflatedTooLong {
        /// The limit in force.
        max_inflated_len: usize,
    },
}

/// What one compressed message inflated to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InflateSummary {
    /// Compressed bytes received for the message (the tail not counted).
    pub compressed_len: usize,
    /// Bytes of inflated output for the message.
    pub inflated_len: usize,
    /// Compressed bytes after a final (BFINAL) block, which the inflater ignored.
    pub trailing_len: usize,
    /// True when the data contained a block with BFINAL set (§7.2.3.4 permits it).
    pub final_block: bool,
    /// True when the output copied bytes from history lost in a hole of the stream: those bytes
    /// are unknown, and the output holds placeholders in their place.
    pub uses_lost_history: bool,
}

/// The inflating side of one direction's permessage-deflate context.
///
/// After a loss under context takeover (a hole in the stream, a corrupt message, a message cut
/// at the inflate limit) the LZ77 window is unknown. The inflater then runs a second, *shadow*
/// decompressor in lockstep: the main one starts from a window of 32 KiB of 0x00, the shadow from
/// 32 KiB of 0xFF. DEFLATE's control flow does not depend on the bytes in the window, so both
/// consume and produce the same amounts; their outputs differ exactly where a message copies
/// from the unknown history, which sets [`InflateSummary::uses_lost_history`]. Once the last
/// 32 KiB of output agree, both windows are equal and the shadow is dropped.
pub struct Inflater {
    main: Context,
    shadow: Option<Context>,
    scratch: Vec<u8>,
    shadow_scratch: Vec<u8>,
    params: DirectionParams,
    max_inflated_len: usize,
    /// Why the window is unknown while the shadow runs.
    unknown: Unknown,
    /// How many output bytes at the end of the output agree between main and shadow.
    agree_run: usize,
    message: MessageState,
}

/// Why the inflater cannot vouch for its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unknown {
    /// Nothing came before the first message: a reference there is the sender's error.
    BeforeStart,
    /// History was lost in a hole or a failed message.
    Lost,
}

/// One DEFLATE decompressor and the window it has seen.
struct Context {
    decompress: Decompress,
    /// The last inflated bytes (up to 32 KiB: the window), kept with context takeover so the
    /// window can be rebuilt after a stream that ended with a BFINAL block. A ring, so dropping
    /// the oldest bytes moves nothing; it grows with the output, up to the window.
    history: VecDeque<u8>,
    /// The window holds primed bytes (a rebuilt window or an unknown one), so zlib cannot tell
    /// a reference before the first real byte.
    primed: bool,
    /// The current DEFLATE stream ended with a BFINAL block.
    stream_ended: bool,
}

#[derive(Debug, Default)]
struct MessageState {
    active: bool,
    failed: bool,
    summary: InflateSummary,
}

impl Side {
    /// The RFC 7692 wording for error messages.
    const fn allows_valueless_client_window(self) -> bool {
        matches!(self, Side::Offer)
    }
}

impl DeflateParams {
    /// Finds and validates permessage-deflate in a server response's `Sec-WebSocket-Extensions`.
    ///
    /// Returns `Ok(None)` when the response does not accept permessage-deflate.
    pub fn negotiated(header_value: &str) -> Result<Option<DeflateParams>, DeflateError> {
        let list = handshake::parse_extension_list(header_value)?;
        let mut found = None;
        for extension in list
            .iter()
            .filter(|e| e.name.eq_ignore_ascii_case(EXTENSION_NAME))
        {
            if found.is_some() {
                return Err(DeflateError::MultipleResponses);
            }
            found = Some(DeflateParams::from_extension(extension, Side::Response)?);
        }
        Ok(found)
    }

    /// Validates the parameters of one permessage-deflate element.
    pub fn from_extension(
        extension: &Extension,
        side: Side,
    ) -> Result<DeflateParams, DeflateError> {
        let mut params = DeflateParams::default();
        let mut seen: Vec<&str> = Vec::new();
        for param in &extension.params {
            let name = param.name.as_str();
            if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                return Err(DeflateError::DuplicateParameter {
                    name: name.to_owned(),
                });
            }
            seen.push(name);
            let value = param.value.as_deref();
            match name.to_ascii_lowercase().as_str() {
                "server_no_context_takeover" => {
                    no_value(name, value)?;
                    params.server_no_context_takeover = true;
                }
                "client_no_context_takeover" => {
                    no_value(name, value)?;
                    params.client_no_context_takeover = true;
                }
                "server_max_window_bits" => {
                    let value = value.ok_or_else(|| DeflateError::MissingValue {
                        name: name.to_owned(),
                    })?;
                    params.server_max_window_bits = Some(window_bits(name, value)?);
                }
                "client_max_window_bits" => {
                    params.client_max_window_bits = Some(match value {
                        Some(value) => Some(window_bits(name, value)?),
                        None if side.allows_valueless_client_window() => None,
                        None => {
                            return Err(DeflateError::MissingValue {
                                name: name.to_owned(),
                            })
                        }
                    });
                }
                _ => {
                    return Err(DeflateError::UnknownParameter {
                        name: name.to_owned(),
                    })
                }
            }
        }
        Ok(params)
    }

    /// The parameters of the messages sent by `sender`.
    pub fn for_sender(&self, sender: Sender) -> DirectionParams {
        match sender {
            Sender::Server => DirectionParams {
                no_context_takeover: self.server_no_context_takeover,
                max_window_bits: self.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
            },
            Sender::Client => DirectionParams {
                no_context_takeover: self.client_no_context_takeover,
                max_window_bits: self
                    .client_max_window_bits
                    .flatten()
                    .unwrap_or(MAX_WINDOW_BITS),
            },
        }
    }
}

impl Default for DirectionParams {
    /// Context takeover with a 15-bit window: what applies when nothing was negotiated.
    fn default() -> Self {
        DirectionParams {
            no_context_takeover: false,
            max_window_bits: MAX_WINDOW_BITS,
        }
    }
}

impl DeflateError {
    /// The name of the broken rule, as used for problem keys.
    pub fn rule(&self) -> &'static str {
        match self {
            DeflateError::Syntax(inner) => inner.rule(),
            DeflateError::UnknownParameter { .. } => "UnknownDeflateParameter",
            DeflateError::DuplicateParameter { .. } => "DuplicateDeflateParameter",
            DeflateError::UnexpectedValue { .. } => "UnexpectedDeflateParameterValue",
            DeflateError::MissingValue { .. } => "MissingDeflateParameterValue",
            DeflateError::InvalidWindowBits { .. } => "InvalidWindowBits",
            DeflateError::MultipleResponses => "MultipleDeflateResponses",
            DeflateError::Corrupt { .. } => "CorruptDeflateData",
            DeflateError::InflatedTooLong { .. } => "InflatedTooLong",
        }
    }

    /// The RFC section that states the rule (empty for the analyzer's own limit).
    pub fn section(&self) -> &'static str {
        match self {
            DeflateError::Syntax(inner) => inner.section(),
            DeflateError::UnknownParameter { .. }
            | DeflateError::DuplicateParameter { .. }
            | DeflateError::MultipleResponses => "RFC 7692 §7",
            DeflateError::UnexpectedValue { .. } => "RFC 7692 §7.1.1",
            DeflateError::MissingValue { .. } | DeflateError::InvalidWindowBits { .. } => {
                "RFC 7692 §7.1.2"
            }
            DeflateError::Corrupt { .. } => "RFC 7692 §7.2.2",
            DeflateError::InflatedTooLong { .. } => "",
        }
    }
}

impl Inflater {
    /// Bytes this inflater holds: its buffers and windows, with [`DECOMPRESSOR_LEN`] for each
    /// decompressor's own state.
    pub fn buffered_len(&self) -> usize {
        let context =
            |context: &Context| DECOMPRESSOR_LEN.saturating_add(context.history.capacity());
        context(&self.main)
            .saturating_add(self.shadow.as_ref().map_or(0, context))
            .saturating_add(self.scratch.capacity())
            .saturating_add(self.shadow_scratch.capacity())
    }

    /// A fresh context for one direction. A reference before the first message is caught by
    /// the decompressor itself, whose window starts empty.
    pub fn new(params: DirectionParams, max_inflated_len: usize) -> Inflater {
        Inflater {
            main: Context::fresh(),
            shadow: None,
            scratch: vec![0; SCRATCH_START_LEN],
            shadow_scratch: Vec::new(),
            params,
            max_inflated_len,
            unknown: Unknown::BeforeStart,
            agree_run: 0,
            message: MessageState::default(),
        }
    }

    /// Ends this inflater, keeping its decompressor for the next one made on this thread.
    pub fn recycle(self) {
        let Inflater { main, .. } = self;
        SPARE.with(|spare| {
            if let Ok(mut spare) = spare.try_borrow_mut() {
                if spare.len() < MAX_SPARE {
                    spare.push(main.decompress);
                }
            }
        });
    }

    /// The parameters this inflater follows.
    pub fn params(&self) -> DirectionParams {
        self.params
    }

    /// True while the shared window holds history lost in a hole (see [`Inflater`]).
    pub fn context_lost(&self) -> bool {
        self.shadow.is_some() && self.unknown == Unknown::Lost
    }

    /// Starts a compressed message. A message left unfinished is abandoned first.
    pub fn begin_message(&mut self) {
        if self.message.active {
            self.abandon_message();
        }
        if self.params.no_context_takeover {
            self.main.reset(None, &mut self.scratch);
        } else {
            if self.main.stream_ended {
                self.main.restart_with_history(&mut self.scratch);
            }
            if let Some(shadow) = self.shadow.as_mut() {
                if shadow.stream_ended {
                    shadow.restart_with_history(&mut self.shadow_scratch);
                }
            }
        }
        self.message = MessageState {
            active: true,
            ..MessageState::default()
        };
    }

    /// Inflates the next piece of the message's compressed payload into `out`.
    ///
    /// After an error the message is failed: later pieces are ignored and the error is not
    /// repeated. Output never takes the message past `max_inflated_len` bytes.
    pub fn push(&mut self, compressed: &[u8], out: &mut Vec<u8>) -> Result<(), DeflateError> {
        if !self.message.active || self.message.failed {
            return Ok(());
        }
        let summary = &mut self.message.summary;
        summary.compressed_len = summary.compressed_len.saturating_add(compressed.len());
        let result = self.run(compressed, out);
        if result.is_err() {
            self.fail_message();
        }
        result
    }

    /// Ends the message: appends [`TAIL`] (§7.2.2) and returns what the message inflated to.
    ///
    /// A message with no compressed byte at all inflates to nothing and leaves the context as
    /// it was.
    pub fn end_message(&mut self, out: &mut Vec<u8>) -> Result<InflateSummary, DeflateError> {
        if !self.message.active || self.message.failed || self.message.summary.compressed_len == 0 {
            self.message.active = false;
            return Ok(self.message.summary.clone());
        }
        let trailing_before = self.message.summary.trailing_len;
        let result = self.run(&TAIL, out);
        if result.is_err() {
            self.fail_message();
        }
        result?;
        // Tail bytes that followed a final block are not something the sender sent.
        let summary = &mut self.message.summary;
        let tail_ignored = summary.trailing_len.saturating_sub(trailing_before);
        summary.trailing_len = summary
            .trailing_len
            .saturating_sub(tail_ignored.min(TAIL.len()));
        self.message.active = false;
        Ok(self.message.summary.clone())
    }

    /// Gives up on the current message because part of its data is missing.
    ///
    /// With context takeover the shared window is now unknown (see [`Inflater`]).
    pub fn abandon_message(&mut self) {
        self.fail_message();
        self.message.active = false;
    }

    /// Declares that compressed data may have been lost (a hole in the stream between
    /// messages), so the shared window is unknown.
    pub fn lose_context(&mut self) {
        if self.params.no_context_takeover {
            self.main.reset(None, &mut self.scratch);
        } else {
            self.enter_unknown_window(Unknown::Lost);
        }
    }

    /// A whole message at once: begin, push, end.
    pub fn inflate_message(&mut self, compressed: &[u8]) -> Result<Vec<u8>, DeflateError> {
        let mut out = Vec::new();
        self.begin_message();
        self.push(compressed, &mut out)?;
        self.end_message(&mut out)?;
        Ok(out)
    }

    fn fail_message(&mut self) {
        self.message.failed = true;
        // The decompressor stopped in an unknown state: start over. With context takeover the
        // window it held is now lost.
        self.lose_context();
    }

    fn enter_unknown_window(&mut self, unknown: Unknown) {
        self.unknown = unknown;
        self.main.reset(Some(0x00), &mut self.scratch);
        let mut shadow = Context::fresh();
        if self.shadow_scratch.len() < SCRATCH_LEN {
            self.shadow_scratch = vec![0; SCRATCH_LEN];
        }
        shadow.reset(Some(0xFF), &mut self.shadow_scratch);
        self.shadow = Some(shadow);
        self.agree_run = 0;
    }

    /// The fault the decompressor reported, in the inflater's words.
    fn describe(&self, error: &flate2::DecompressError) -> String {
        let too_far_back = error.message() == Some(TOO_FAR_BACK);
        if too_far_back && !self.main.primed {
            return if self.params.no_context_takeover {
                "a back-reference reaches before the start of the message".to_owned()
            } else {
                "a back-reference reaches before the first compressed message".to_owned()
            };
        }
        error.to_string()
    }

    fn corrupt(&self, detail: String) -> DeflateError {
        DeflateError::Corrupt {
            detail,
            context_lost: self.context_lost(),
        }
    }

    /// Feeds compressed bytes and collects output, bounded by the message limit.
    fn run(&mut self, compressed: &[u8], out: &mut Vec<u8>) -> Result<(), DeflateError> {
        let takeover = !self.params.no_context_takeover;
        let mut input = compressed;
        loop {
            if self.main.stream_ended {
                let summary = &mut self.message.summary;
                summary.trailing_len = summary.trailing_len.saturating_add(input.len());
                return Ok(());
            }
            // Allow one byte past the limit, so that reaching it can be told from exceeding it.
            let room = self
                .max_inflated_len
                .saturating_add(1)
                .saturating_sub(self.message.summary.inflated_len)
                .min(self.scratch.len());
            let scratch = self.scratch.get_mut(..room).unwrap_or_default();
            let step = self.main.step(input, scratch);
            let (consumed, produced, status) =
                step.map_err(|error| self.corrupt(self.describe(&error)))?;
            let new_bytes = self.scratch.get(..produced).unwrap_or_default();
            let allowed = self
                .max_inflated_len
                .saturating_sub(self.message.summary.inflated_len)
                .min(produced);
            let kept = new_bytes.get(..allowed).unwrap_or_default();
            if let Some(shadow) = self.shadow.as_mut() {
                let shadow_out = self.shadow_scratch.get_mut(..room).unwrap_or_default();
                match shadow.step(input, shadow_out) {
                    Ok((c, p, s)) if c == consumed && p == produced && s == status => {
                        let shadow_kept = self.shadow_scratch.get(..allowed).unwrap_or_default();
                        let differs = kept.iter().zip(shadow_kept).rposition(|(a, b)| a != b);
                        shadow.remember(shadow_kept);
                        match differs {
                            Some(last) => {
                                self.agree_run = allowed.saturating_sub(last).saturating_sub(1);
                                if self.unknown == Unknown::BeforeStart {
                                    return Err(self.corrupt(
                                        "a back-reference reaches before the first compressed message"
                                            .to_owned(),
                                    ));
                                }
                                self.message.summary.uses_lost_history = true;
                            }
                            None => self.agree_run = self.agree_run.saturating_add(allowed),
                        }
                    }
                    _ => {
                        // The two runs should never part ways; if they do, nothing can be
                        // said about this output.
                        self.message.summary.uses_lost_history = true;
                        self.agree_run = 0;
                    }
                }
            }
            input = input.get(consumed..).unwrap_or_default();
            out.extend_from_slice(kept);
            if takeover {
                self.main.remember(kept);
            }
            if self.agree_run >= WINDOW_LEN {
                // The last 32 KiB agree, so both windows are the same from here on.
                self.shadow = None;
                self.shadow_scratch = Vec::new();
                self.agree_run = 0;
            }
            let summary = &mut self.message.summary;
            summary.inflated_len = summary.inflated_len.saturating_add(allowed);
            if allowed < produced {
                return Err(DeflateError::InflatedTooLong {
                    max_inflated_len: self.max_inflated_len,
                });
            }
            if status == Status::StreamEnd {
                summary.final_block = true;
                self.main.stream_ended = true;
                if let Some(shadow) = self.shadow.as_mut() {
                    shadow.stream_ended = true;
                }
                continue;
            }
            if produced == room {
                // The scratch buffer is full: more output may be waiting, so a larger one
                // saves calls.
                if self.scratch.len() < SCRATCH_LEN && room == self.scratch.len() {
                    self.scratch.resize(self.scratch.len().saturating_mul(2), 0);
                }
                continue;
            }
            if input.is_empty() {
                return Ok(());
            }
            if consumed == 0 && produced == 0 {
                return Err(self.corrupt("the inflater accepts no more input".to_owned()));
            }
        }
    }
}

impl Context {
    fn fresh() -> Context {
        Context {
            decompress: spare_decompress(),
            history: VecDeque::new(),
            primed: false,
            stream_ended: false,
        }
    }

    /// Starts a new stream with an empty window, or with a window of 32 KiB of `fill`.
    fn reset(&mut self, fill: Option<u8>, scratch: &mut [u8]) {
        self.decompress.reset(false);
        self.stream_ended = false;
        self.history.clear();
        self.primed = fill.is_some();
        if let Some(byte) = fill {
            self.history.resize(WINDOW_LEN, byte);
            let (front, back) = self.history.as_slices();
            prime_window(&mut self.decompress, front, back, scratch);
        }
    }

    /// Starts a new stream (after a BFINAL block) whose window holds the kept history.
    fn restart_with_history(&mut self, scratch: &mut [u8]) {
        self.decompress.reset(false);
        self.stream_ended = false;
        self.primed = !self.history.is_empty();
        let (front, back) = self.history.as_slices();
        prime_window(&mut self.decompress, front, back, scratch);
    }

    /// One call to the decompressor: (consumed, produced, status).
    fn step(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize, Status), flate2::DecompressError> {
        let before_in = self.decompress.total_in();
        let before_out = self.decompress.total_out();
        let status = self
            .decompress
            .decompress(input, out, FlushDecompress::Sync)?;
        let consumed = usize::try_from(self.decompress.total_in().saturating_sub(before_in))
            .unwrap_or(usize::MAX)
            .min(input.len());
        let produced = usize::try_from(self.decompress.total_out().saturating_sub(before_out))
            .unwrap_or(usize::MAX)
            .min(out.len());
        Ok((consumed, produced, status))
    }

    /// Appends `bytes` to the kept output, of which the last 32 KiB are the window.
    fn remember(&mut self, bytes: &[u8]) {
        let history = &mut self.history;
        let bytes = bytes
            .get(bytes.len().saturating_sub(WINDOW_LEN)..)
            .unwrap_or_default();
        // The oldest bytes leave the ring first, so it never holds more than the window.
        let excess = history
            .len()
            .saturating_add(bytes.len())
            .saturating_sub(WINDOW_LEN);
        history.drain(..excess.min(history.len()));
        let needed = history.len().saturating_add(bytes.len());
        if needed > history.capacity() {
            // Doubling, but never past the window.
            let target = needed
                .max(history.capacity().saturating_mul(2))
                .min(WINDOW_LEN);
            history.reserve_exact(target.saturating_sub(history.len()));
        }
        history.extend(bytes);
    }

    /// How many bytes of the window are known.
    fn window_len(&self) -> usize {
        self.history.len()
    }
}

/// A raw-DEFLATE decompressor with an empty window: a recycled one if any, else a new one.
fn spare_decompress() -> Decompress {
    let spare = SPARE.with(|spare| {
        spare
            .try_borrow_mut()
            .ok()
            .and_then(|mut spare| spare.pop())
    });
    match spare {
        Some(mut decompress) => {
            decompress.reset(false);
            decompress
        }
        None => Decompress::new(false),
    }
}

/// Feeds the window (`front`, then `back`) to a fresh stream as one stored (uncompressed) block
/// and throws the output away, which leaves exactly those bytes in the decompressor's window.
fn prime_window(decompress: &mut Decompress, front: &[u8], back: &[u8], scratch: &mut [u8]) {
    // One stored block holds up to 65535 bytes; the window is at most 32 KiB.
    let len = u16::try_from(front.len().saturating_add(back.len())).unwrap_or(u16::MAX);
    // Byte 0: BFINAL=0, BTYPE=00 (stored), then padding to the byte boundary; LEN, NLEN follow.
    let [len_lo, len_hi] = len.to_le_bytes();
    let [nlen_lo, nlen_hi] = (!len).to_le_bytes();
    let header = [0x00, len_lo, len_hi, nlen_lo, nlen_hi];
    // The header, then the window's bytes, fed as they are (no copy of the window).
    let from_front = front.len().min(usize::from(len));
    let from_back = usize::from(len).saturating_sub(from_front);
    for piece in [
        &header[..],
        front.get(..from_front).unwrap_or_default(),
        back.get(..from_back).unwrap_or_default(),
    ] {
        if !feed_all(decompress, piece, scratch) {
            return;
        }
    }
    // Output that the decompressor still holds back belongs to the primer too.
    loop {
        let before_out = decompress.total_out();
        if decompress
            .decompress(&[], scratch, FlushDecompress::Sync)
            .is_err()
            || decompress.total_out() == before_out
        {
            return;
        }
    }
}

/// Feeds all of `input` to the decompressor, throwing the output away; false when it stops
/// taking input.
fn feed_all(decompress: &mut Decompress, mut input: &[u8], scratch: &mut [u8]) -> bool {
    while !input.is_empty() {
        let before_in = decompress.total_in();
        let before_out = decompress.total_out();
        if decompress
            .decompress(input, scratch, FlushDecompress::Sync)
            .is_err()
        {
            return false;
        }
        let consumed =
            usize::try_from(decompress.total_in().saturating_sub(before_in)).unwrap_or(usize::MAX);
        let produced = decompress.total_out().saturating_sub(before_out);
        if consumed == 0 && produced == 0 {
            return false;
        }
        input = input.get(consumed..).unwrap_or_default();
    }
    true
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("params", &self.params)
            .field("max_inflated_len", &self.max_inflated_len)
            .field("history_len", &self.main.window_len())
            .field("stream_ended", &self.main.stream_ended)
            .field("shadow", &self.shadow.as_ref().map(|_| self.unknown))
            .field("message", &self.message)
            .finish()
    }
}

fn no_value(name: &str, value: Option<&str>) -> Result<(), DeflateError> {
    match value {
        None => Ok(()),
        Some(_) => Err(DeflateError::UnexpectedValue {
            name: name.to_owned(),
        }),
    }
}

/// A decimal 8-15 without leading zeroes (§7.1.2.1, §7.1.2.2).
fn window_bits(name: &str, value: &str) -> Result<u8, DeflateError> {
    let invalid = || DeflateError::InvalidWindowBits {
        name: name.to_owned(),
        value: value.to_owned(),
    };
    if value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match value.parse::<u8>() {
        Ok(bits) if (MIN_WINDOW_BITS..=MAX_WINDOW_BITS).contains(&bits) => Ok(bits),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#[allow(
    clippy::arithmetic_side_effects,
    reason = "test arithmetic on known small values"
)]
mod tests {
    use flate2::{Compress, Compression, FlushCompress};
    use proptest::prelude::*;

    use super::*;

    /// RFC 7692 §7.2.3.1: "Hello" compressed into one block.
    const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    /// RFC 7692 §7.2.3.2: the second "Hello" with the first one in the shared window.
    const HELLO_AGAIN_TAKEOVER: [u8; 5] = [0xf2, 0x00, 0x11, 0x00, 0x00];
    /// RFC 7692 §7.2.3.3: "Hello" in a block with no compression.
    const HELLO_STORED: [u8; 11] = [
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    /// RFC 7692 §7.2.3.4: "Hello" in a block with BFINAL set.
    const HELLO_BFINAL: [u8; 8] = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    /// RFC 7692 §7.2.3.5: "Hello" in two blocks, the first ended by a sync flush.
    const HELLO_TWO_BLOCKS: [u8; 13] = [
        0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];

    fn takeover() -> Inflater {
        Inflater::new(DirectionParams::default(), 1 << 20)
    }

    fn no_takeover() -> Inflater {
        Inflater::new(
            DirectionParams {
                no_context_takeover: true,
                max_window_bits: 15,
            },
            1 << 20,
        )
    }

    /// Compresses like a permessage-deflate sender: sync flush, then drop the tail.
    fn compress_message(compress: &mut Compress, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 64);
        let mut input = data;
        loop {
            out.reserve(1024);
            let before = compress.total_in();
            compress
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .unwrap();
            let consumed = (compress.total_in() - before) as usize;
            input = &input[consumed..];
            if input.is_empty() && out.capacity() > out.len() {
                break;
            }
        }
        // With nothing pending (an empty message right after a flush) the
        // compressor writes nothing: a sender then sends the empty block's
        // one byte (RFC 7692 §7.2.3.6).
        if out.is_empty() {
            return vec![0x00];
        }
        assert!(out.ends_with(&TAIL));
        out.truncate(out.len() - 4);
        out
    }

    #[test]
    fn rfc_7692_single_block_hello() {
        assert_eq!(takeover().inflate_message(&HELLO).unwrap(), b"Hello");
    }

    #[test]
    fn rfc_7692_fragmented_hello_inflates_across_pushes() {
        // §7.2.3.1 splits the payload as f2 48 cd | c9 c9 07 00.
        let mut inflater = takeover();
        let mut out = Vec::new();
        inflater.begin_message();
        inflater.push(&HELLO[..3], &mut out).unwrap();
        inflater.push(&HELLO[3..], &mut out).unwrap();
        let summary = inflater.end_message(&mut out).unwrap();
        assert_eq!(out, b"Hello");
        assert_eq!(summary.inflated_len, 5);
        assert!(!summary.final_block);
    }

    #[test]
    fn rfc_7692_shared_window_second_hello() {
        let mut inflater = takeover();
        assert_eq!(inflater.inflate_message(&HELLO).unwrap(), b"Hello");
        assert_eq!(
            inflater.inflate_message(&HELLO_AGAIN_TAKEOVER).unwrap(),
            b"Hello"
        );
    }

    #[test]
    fn rfc_7692_without_takeover_each_message_stands_alone() {
        let mut inflater = no_takeover();
        assert_eq!(inflater.inflate_message(&HELLO).unwrap(), b"Hello");
        assert_eq!(inflater.inflate_message(&HELLO).unwrap(), b"Hello");
        // The takeover form refers to the previous message, which this context has forgotten.
        assert_eq!(
            inflater.inflate_message(&HELLO_AGAIN_TAKEOVER).unwrap_err(),
            DeflateError::Corrupt {
                detail: "a back-reference reaches before the start of the message".to_owned(),
                context_lost: false
            }
        );
    }

    #[test]
    fn reference_before_the_first_message_is_corrupt() {
        // With context takeover, the second "Hello" form as the very first message refers to
        // history that never existed.
        let error = takeover()
            .inflate_message(&HELLO_AGAIN_TAKEOVER)
            .unwrap_err();
        assert_eq!(
            error,
            DeflateError::Corrupt {
                detail: "a back-reference reaches before the first compressed message".to_owned(),
                context_lost: false
            }
        );
    }

    #[test]
    fn rfc_7692_uncompressed_block() {
        assert_eq!(takeover().inflate_message(&HELLO_STORED).unwrap(), b"Hello");
    }

    #[test]
    fn rfc_7692_bfinal_block() {
        let mut inflater = takeover();
        let mut out = Vec::new();
        inflater.begin_message();
        inflater.push(&HELLO_BFINAL, &mut out).unwrap();
        let summary = inflater.end_message(&mut out).unwrap();
        assert_eq!(out, b"Hello");
        assert!(summary.final_block);
        // The 0x00 after the final block is ignored.
        assert_eq!(summary.trailing_len, 1);
    }

    #[test]
    fn takeover_after_bfinal_keeps_the_window() {
        let mut inflater = takeover();
        assert_eq!(inflater.inflate_message(&HELLO_BFINAL).unwrap(), b"Hello");
        // A new stream that refers back to the previous message still decodes.
        assert_eq!(
            inflater.inflate_message(&HELLO_AGAIN_TAKEOVER).unwrap(),
            b"Hello"
        );
    }

    #[test]
    fn rfc_7692_two_blocks_in_one_message() {
        assert_eq!(
            takeover().inflate_message(&HELLO_TWO_BLOCKS).unwrap(),
            b"Hello"
        );
    }

    #[test]
    fn empty_compressed_messages() {
        let mut inflater = takeover();
        // A single 0x00 byte: an empty stored block's start, completed by the tail.
        assert_eq!(inflater.inflate_message(&[0x00]).unwrap(), b"");
        // No payload at all.
        assert_eq!(inflater.inflate_message(&[]).unwrap(), b"");
        // The context is still usable.
        assert_eq!(inflater.inflate_message(&HELLO).unwrap(), b"Hello");
    }

    #[test]
    fn corrupt_data_is_reported() {
        // BTYPE=11 is reserved in DEFLATE.
        let error = takeover().inflate_message(&[0xff, 0xff]).unwrap_err();
        assert_eq!(error.rule(), "CorruptDeflateData");
        assert_eq!(error.section(), "RFC 7692 §7.2.2");
    }

    #[test]
    fn deflate_bomb_stops_at_the_cap() {
        let zeros = vec![0u8; 10 << 20];
        let mut compress = Compress::new(Compression::best(), false);
        let bomb = compress_message(&mut compress, &zeros);
        assert!(bomb.len() < 20_000, "{}", bomb.len());
        let cap = 100_000;
        let mut inflater = Inflater::new(DirectionParams::default(), cap);
        let mut out = Vec::new();
        inflater.begin_message();
        let error = inflater.push(&bomb, &mut out).unwrap_err();
        assert_eq!(
            error,
            DeflateError::InflatedTooLong {
                max_inflated_len: cap
            }
        );
        assert_eq!(out.len(), cap);
        // The rest of the message is ignored rather than inflated.
        assert_eq!(inflater.end_message(&mut out).unwrap().inflated_len, cap);
        assert_eq!(out.len(), cap);
    }

    #[test]
    fn output_of_exactly_the_cap_is_accepted() {
        let mut inflater = Inflater::new(DirectionParams::default(), 5);
        assert_eq!(inflater.inflate_message(&HELLO).unwrap(), b"Hello");
        let mut inflater = Inflater::new(DirectionParams::default(), 4);
        assert_eq!(
            inflater.inflate_message(&HELLO),
            Err(DeflateError::InflatedTooLong {
                max_inflated_len: 4
            })
        );
    }

    #[test]
    fn output_copied_from_lost_history_is_flagged() {
        let mut inflater = takeover();
        assert_eq!(inflater.inflate_message(&HELLO).unwrap(), b"Hello");
        inflater.lose_context();
        assert!(inflater.context_lost());
        let mut out = Vec::new();
        inflater.begin_message();
        inflater.push(&HELLO_AGAIN_TAKEOVER, &mut out).unwrap();
        let summary = inflater.end_message(&mut out).unwrap();
        // "H" is a literal; "ello" was copied from the lost first message.
        assert!(summary.uses_lost_history);
        assert_eq!(out[0], b'H');
        // A message that needs no history is exact.
        let mut out = Vec::new();
        inflater.begin_message();
        inflater.push(&HELLO, &mut out).unwrap();
        let summary = inflater.end_message(&mut out).unwrap();
        assert!(!summary.uses_lost_history);
        assert_eq!(out, b"Hello");
    }

    #[test]
    fn lost_context_clears_after_32_kib_of_agreeing_output() {
        let mut compress = Compress::new(Compression::default(), false);
        let mut inflater = takeover();
        inflater.lose_context();
        let data: Vec<u8> = (0..40_000u32).map(|i| (i % 13) as u8).collect();
        // A fresh compressor refers only to data of its own, so nothing is lost.
        let compressed = compress_message(&mut compress, &data);
        let mut out = Vec::new();
        inflater.begin_message();
        inflater.push(&compressed, &mut out).unwrap();
        let summary = inflater.end_message(&mut out).unwrap();
        assert!(!summary.uses_lost_history);
        assert_eq!(out, data);
        assert!(!inflater.context_lost());
        // The next message may refer into the first one.
        let again = compress_message(&mut compress, &data);
        assert_eq!(inflater.inflate_message(&again).unwrap(), data);
    }

    #[test]
    fn failed_message_loses_the_context() {
        let mut inflater = takeover();
        assert!(inflater.inflate_message(&[0xff, 0xff]).is_err());
        assert!(inflater.context_lost());
        assert_eq!(inflater.inflate_message(&HELLO).unwrap(), b"Hello");
    }

    #[test]
    fn long_messages_with_takeover_decode() {
        let mut compress = Compress::new(Compression::default(), false);
        let mut inflater = takeover();
        for round in 0..4u8 {
            let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8 ^ round).collect();
            let compressed = compress_message(&mut compress, &data);
            assert_eq!(inflater.inflate_message(&compressed).unwrap(), data);
        }
    }

    #[test]
    fn negotiated_parameters_are_read() {
        let params = DeflateParams::negotiated(
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
        )
        .unwrap()
        .unwrap();
        assert!(params.server_no_context_takeover);
        assert!(!params.client_no_context_takeover);
        assert_eq!(params.client_max_window_bits, Some(Some(10)));
        assert_eq!(
            params.for_sender(Sender::Server),
            DirectionParams {
                no_context_takeover: true,
                max_window_bits: 15
            }
        );
        assert_eq!(
            params.for_sender(Sender::Client),
            DirectionParams {
                no_context_takeover: false,
                max_window_bits: 10
            }
        );
        assert_eq!(DeflateParams::negotiated("x-other").unwrap(), None);
        assert_eq!(
            DeflateParams::negotiated("Permessage-Deflate; SERVER_MAX_WINDOW_BITS=\"9\"")
                .unwrap()
                .unwrap()
                .server_max_window_bits,
            Some(9)
        );
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        let cases = [
            ("permessage-deflate; foo", "UnknownDeflateParameter"),
            (
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                "DuplicateDeflateParameter",
            ),
            (
                "permessage-deflate; client_no_context_takeover=1",
                "UnexpectedDeflateParameterValue",
            ),
            (
                "permessage-deflate; server_max_window_bits",
                "MissingDeflateParameterValue",
            ),
            (
                "permessage-deflate; client_max_window_bits",
                "MissingDeflateParameterValue",
            ),
            (
                "permessage-deflate; server_max_window_bits=7",
                "InvalidWindowBits",
            ),
            (
                "permessage-deflate; server_max_window_bits=16",
                "InvalidWindowBits",
            ),
            (
                "permessage-deflate; server_max_window_bits=010",
                "InvalidWindowBits",
            ),
            (
                "permessage-deflate; client_max_window_bits=x",
                "InvalidWindowBits",
            ),
            (
                "permessage-deflate, permessage-deflate",
                "MultipleDeflateResponses",
            ),
            ("permessage-deflate; =", "ExtensionSyntax"),
        ];
        for (value, rule) in cases {
            let error = DeflateParams::negotiated(value).unwrap_err();
            assert_eq!(error.rule(), rule, "{value}");
        }
    }

    #[test]
    fn an_offer_may_name_client_window_bits_without_value() {
        let list =
            handshake::parse_extension_list("permessage-deflate; client_max_window_bits").unwrap();
        let params = DeflateParams::from_extension(&list[0], Side::Offer).unwrap();
        assert_eq!(params.client_max_window_bits, Some(None));
        assert_eq!(params.for_sender(Sender::Client).max_window_bits, 15);
    }

    proptest! {
        #[test]
        fn random_compressed_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            cut in 0usize..300,
        ) {
            let mut inflater = Inflater::new(DirectionParams::default(), 4096);
            let mut out = Vec::new();
            inflater.begin_message();
            let cut = cut.min(bytes.len());
            let _ = inflater.push(&bytes[..cut], &mut out);
            let _ = inflater.push(&bytes[cut..], &mut out);
            let _ = inflater.end_message(&mut out);
            prop_assert!(out.len() <= 4096);
            // Garbage may leave the stream inside a block; after a declared loss the inflater
            // decodes a valid message again.
            inflater.lose_context();
            prop_assert_eq!(inflater.inflate_message(&HELLO_STORED).unwrap(), b"Hello");
        }

        #[test]
        fn messages_round_trip_in_any_pieces(
            messages in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..2000), 1..4),
            cut in 0usize..2000,
            no_context_takeover in any::<bool>(),
        ) {
            let mut compress = Compress::new(Compression::default(), false);
            let params = DirectionParams { no_context_takeover, max_window_bits: 15 };
            let mut inflater = Inflater::new(params, 1 << 20);
            for data in &messages {
                if no_context_takeover {
                    compress.reset();
                }
                let compressed = compress_message(&mut compress, data);
                let cut = cut.min(compressed.len());
                let mut out = Vec::new();
                inflater.begin_message();
                inflater.push(&compressed[..cut], &mut out).unwrap();
                inflater.push(&compressed[cut..], &mut out).unwrap();
                inflater.end_message(&mut out).unwrap();
                prop_assert_eq!(&out, data);
            }
        }
    }
}
