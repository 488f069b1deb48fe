//! One TCP connection's application layer: which protocol it speaks, and the
//! decoders for both directions, driven by the reassembled byte streams.
//!
//! A connection starts undecided. Its first bytes choose: an HTTP request or
//! response line means HTTP; a TLS record header means TLS; a frame that
//! fits WebSocket's rules (masked from the client, unmasked from the
//! server) means a WebSocket connection picked up mid-stream, marked as
//! guessed. HTTP can turn into WebSocket: after a request asking for the
//! Upgrade, the client's following bytes are held until the server answers;
//! `101 Switching Protocols` hands both directions to WebSocket decoders
//! configured from the handshake (permessage-deflate), any other answer
//! hands the held bytes back to HTTP.
//!
//! HTTP can also turn into a tunnel: after `CONNECT host:port`, the client's
//! following bytes are held the same way; a `2xx` answer from the proxy makes
//! the rest of both directions the bytes of another conversation, between the
//! client and `host:port`, which the proxy copies unchanged. That inner
//! conversation is decided afresh from its own first bytes (an Upgrade, TLS,
//! anything) and decoded like a connection of its own, at the same stream
//! offsets; [`Conversation::tunnel`] says where it starts. A refused
//! `CONNECT` hands the held bytes back to HTTP.

use std::collections::VecDeque;

use crate::application::handshake::{self, Report, Verdict};
use crate::application::http::{self, Head, MessageKind, StartLine};
use crate::application::tls;
use crate::application::websocket::frame::FrameHeader;
use crate::application::websocket::message::{self, Config, MessageAssembler};
use crate::application::websocket::opcode::{Data, OpCode};
use crate::application::websocket::Sender;
use crate::flow::Direction;

/// The most client bytes held while the server's answer to an Upgrade is awaited (the
/// default of [`Limits::max_upgrade_held_len`]).
pub const MAX_HELD_LEN: usize = 64 * 1024;

/// Bounds on the memory of one connection's application decoders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// HTTP heads, bodies, chunk lines, Server-Sent Events.
    pub http: http::Limits,
    /// WebSocket frames, messages and inflation.
    pub websocket: message::Limits,
    /// TLS records and handshake messages.
    pub tls: tls::Limits,
    /// Most client bytes held after an Upgrade request while the server's answer is awaited
    /// (default [`MAX_HELD_LEN`]); later ones are given up as a gap, and said so.
    pub max_upgrade_held_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            http: http::Limits::default(),
            websocket: message::Limits::default(),
            tls: tls::Limits::default(),
            max_upgrade_held_len: MAX_HELD_LEN,
        }
    }
}

/// The most `CONNECT` tunnels nested inside one another that are decoded; the bytes of a
/// tunnel deeper than this are left undecoded (`data`), so a stream of nested `CONNECT`s
/// cannot make the decoders recurse without bound.
pub const MAX_TUNNEL_DEPTH: usize = 4;

/// A `CONNECT` tunnel a proxy opened on this connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tunnel {
    /// The request target of the `CONNECT` (`host:port`), as the client wrote it.
    pub target: String,
    /// The first tunnelled byte of each direction, indexed by [`Direction::index`].
    pub starts: [u64; 2],
}

impl Tunnel {
    /// The target's host (without the brackets of an IPv6 literal) and its port, when the
    /// target has the `host:port` form `CONNECT` requires (RFC 9110 §9.3.6).
    pub fn host_port(&self) -> Option<(&str, u16)> {
        let (host, port) = self.target.rsplit_once(':')?;
        let port = port.parse().ok()?;
        let host = host
            .strip_prefix('[')
            .and_then(|host| host.strip_suffix(']'))
            .unwrap_or(host);
        (!host.is_empty()).then_some((host, port))
    }

    /// Whether a segment of `direction` whose payload is the stream range `range` carries
    /// tunnelled bytes.
    pub fn carries(&self, direction: Direction, range: std::ops::Range<u64>) -> bool {
        let start = self
            .starts
            .get(direction.index())
            .copied()
            .unwrap_or(u64::MAX);
        range.end > start && range.end > range.start
    }
}

/// What a connection turned out to carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppProtocol {
    /// Nothing decided yet (no payload seen).
    Unknown,
    Http,
    /// WebSocket; `guessed` when the opening handshake was not captured.
    WebSocket {
        guessed: bool,
    },
    Tls,
    /// Bytes no decoder recognised.
    Data,
}

impl AppProtocol {
    pub fn name(self) -> &'static str {
        match self {
            AppProtocol::Unknown => "none",
            AppProtocol::Http => "http",
            AppProtocol::WebSocket { guessed: false } => "websocket",
            AppProtocol::WebSocket { guessed: true } => "websocket (guessed)",
            AppProtocol::Tls => "tls",
            AppProtocol::Data => "data",
        }
    }
}

/// Something a direction's decoder found.
#[derive(Clone, Debug)]
pub enum AppEvent {
    Http(http::Event),
    /// The WebSocket opening handshake, checked (once the response is seen).
    Handshake(Box<Report>),
    WebSocket(message::Event),
    Tls(tls::Event),
    /// The connection was recognised as WebSocket without its handshake.
    Guessed {
        compressed: bool,
    },
    /// Client bytes sent after an Upgrade request did not fit in the hold while the server's
    /// answer was awaited: `dropped` bytes were given up as a gap.
    HoldOverflow {
        limit: usize,
        dropped: u64,
    },
}

/// An event and the direction whose bytes produced it.
#[derive(Clone, Debug)]
pub struct DirEvent {
    pub direction: Direction,
    pub event: AppEvent,
}

/// Client bytes held after an Upgrade request, until the server answers.
#[derive(Debug)]
struct Held {
    at: u64,
    bytes: Vec<u8>,
    /// Bytes after the held ones that were not kept (past the limit, or after a hole): once
    /// one is lost, every later byte is only counted, so `bytes` stays contiguous.
    dropped: u64,
}

#[derive(Debug)]
enum Phase {
    Undecided,
    Http {
        requests: Box<http::Parser>,
        responses: Box<http::Parser>,
        /// Requests asking for a WebSocket Upgrade, oldest first, not yet answered.
        upgrades: VecDeque<Head>,
        held: Option<Held>,
        /// Per direction: a hole was met, so the next bytes may be WebSocket
        /// frames whose handshake was lost (a snapshot length cut the 101).
        after_gap: [bool; 2],
        /// The target of the last `CONNECT` request, until it is answered.
        connect: Option<String>,
    },
    WebSocket {
        /// Indexed by [`Direction::index`]; created at a direction's first byte.
        assemblers: Box<[Option<MessageAssembler>; 2]>,
        /// How each direction's assembler is set up.
        configs: [Config; 2],
    },
    Tls(Box<[tls::Decoder; 2]>),
    /// The bytes after a `CONNECT`'s 2xx answer: a conversation of their own.
    Tunnel(Box<Conversation>),
    Opaque,
}

/// The application layer of one connection, or of the bytes inside a tunnel.
#[derive(Debug)]
pub struct Conversation {
    phase: Phase,
    protocol: AppProtocol,
    /// The handshake's report, once checked.
    handshake: Option<Box<Report>>,
    /// Where each direction's bytes start: 0, or inside a tunnel its first byte.
    starts: [u64; 2],
    /// How many tunnels this conversation is inside.
    depth: usize,
    /// The tunnel this conversation's bytes turned into, once a proxy opened it.
    tunnel: Option<Tunnel>,
    limits: Limits,
}

impl Default for Conversation {
    fn default() -> Self {
        Conversation::new(Limits::default())
    }
}

impl Conversation {
    /// A connection not decided yet, whose decoders will respect `limits`.
    pub fn new(limits: Limits) -> Conversation {
        Conversation {
            phase: Phase::Undecided,
            protocol: AppProtocol::Unknown,
            handshake: None,
            starts: [0; 2],
            depth: 0,
            tunnel: None,
            limits,
        }
    }

    /// Bytes the decoders hold for data still coming (partial heads, bodies, frames,
    /// messages, held client bytes), inside a tunnel too.
    pub fn buffered_len(&self) -> usize {
        match &self.phase {
            Phase::Http {
                requests,
                responses,
                upgrades,
                held,
                ..
            } => requests
                .buffered_len()
                .saturating_add(responses.buffered_len())
                .saturating_add(upgrades.iter().map(Head::buffered_len).sum::<usize>())
                .saturating_add(held.as_ref().map_or(0, |held| held.bytes.capacity())),
            Phase::WebSocket { assemblers, .. } => assemblers
                .iter()
                .flatten()
                .map(MessageAssembler::buffered_len)
                .fold(0, usize::saturating_add),
            Phase::Tls(decoders) => decoders
                .iter()
                .map(tls::Decoder::buffered_len)
                .fold(0, usize::saturating_add),
            Phase::Tunnel(inner) => inner.buffered_len(),
            Phase::Undecided | Phase::Opaque => 0,
        }
    }

    /// The conversation inside a tunnel `depth` levels deep whose bytes start at `starts`,
    /// with the same `limits`; past [`MAX_TUNNEL_DEPTH`] its bytes are not decoded.
    fn inside(depth: usize, starts: [u64; 2], limits: Limits) -> Conversation {
        let mut inner = Conversation {
            starts,
            depth,
            ..Conversation::new(limits)
        };
        if depth > MAX_TUNNEL_DEPTH {
            inner.protocol = AppProtocol::Data;
            inner.phase = Phase::Opaque;
        }
        inner
    }

    /// What the connection carries, as far as is known: inside a tunnel, what the
    /// tunnel carries (HTTP until its first byte).
    pub fn protocol(&self) -> AppProtocol {
        match &self.phase {
            Phase::Tunnel(inner) => match inner.protocol() {
                AppProtocol::Unknown => AppProtocol::Http,
                protocol => protocol,
            },
            _ => self.protocol,
        }
    }

    /// The checked opening handshake, if one was seen (inside a tunnel, the tunnel's).
    pub fn handshake(&self) -> Option<&Report> {
        match &self.phase {
            Phase::Tunnel(inner) => inner.handshake(),
            _ => self.handshake.as_deref(),
        }
    }

    /// The `CONNECT` tunnel a proxy opened on this connection, if any (the outermost one
    /// when tunnels are nested).
    pub fn tunnel(&self) -> Option<&Tunnel> {
        self.tunnel.as_ref()
    }

    /// Feeds stream bytes of one direction, starting at `stream_offset`.
    pub fn feed(
        &mut self,
        direction: Direction,
        stream_offset: u64,
        bytes: &[u8],
    ) -> Vec<DirEvent> {
        let mut out = Vec::new();
        if bytes.is_empty() {
            return out;
        }
        if let Phase::Tunnel(inner) = &mut self.phase {
            return inner.feed(direction, stream_offset, bytes);
        }
        if matches!(self.phase, Phase::Undecided) {
            self.decide(direction, bytes, &mut out);
        }
        self.dispatch(direction, stream_offset, bytes, &mut out);
        out
    }

    /// Tells one direction's decoder that `len` bytes were never captured.
    pub fn gap(&mut self, direction: Direction, len: u64) -> Vec<DirEvent> {
        let events: Vec<AppEvent> = match &mut self.phase {
            Phase::Http {
                requests,
                responses,
                held,
                after_gap,
                ..
            } => {
                if let Some(flag) = after_gap.get_mut(direction.index()) {
                    *flag = true;
                }
                if direction == Direction::ClientToServer {
                    if let Some(held) = held {
                        held.dropped = held.dropped.saturating_add(len);
                        Vec::new()
                    } else {
                        requests.gap(len).into_iter().map(AppEvent::Http).collect()
                    }
                } else {
                    responses.gap(len).into_iter().map(AppEvent::Http).collect()
                }
            }
            Phase::WebSocket { assemblers, .. } => assemblers
                .get_mut(direction.index())
                .and_then(Option::as_mut)
                .map(|assembler| assembler.gap(len))
                .unwrap_or_default()
                .into_iter()
                .map(AppEvent::WebSocket)
                .collect(),
            Phase::Tls(decoders) => decoders
                .get_mut(direction.index())
                .map(|decoder| decoder.gap(len))
                .unwrap_or_default()
                .into_iter()
                .map(AppEvent::Tls)
                .collect(),
            Phase::Tunnel(inner) => return inner.gap(direction, len),
            Phase::Undecided | Phase::Opaque => Vec::new(),
        };
        tag(direction, events)
    }

    /// Tells one direction's decoder that its sender closed (FIN): an HTTP
    /// body read until the connection closes ends here.
    pub fn fin(&mut self, direction: Direction) -> Vec<DirEvent> {
        if let Phase::Tunnel(inner) = &mut self.phase {
            return inner.fin(direction);
        }
        let Phase::Http {
            requests,
            responses,
            held,
            ..
        } = &mut self.phase
        else {
            return Vec::new();
        };
        let events = match direction {
            Direction::ClientToServer if held.is_none() => requests.finish(),
            Direction::ClientToServer => Vec::new(),
            Direction::ServerToClient => responses.finish(),
        };
        tag(direction, events.into_iter().map(AppEvent::Http).collect())
    }

    /// Frees the decoders' working memory once both directions' streams have ended (both
    /// FINs delivered): no byte can follow, and what is still unfinished is kept for
    /// [`Conversation::finish`].
    pub fn release_ended(&mut self) {
        match &mut self.phase {
            Phase::Tunnel(inner) => inner.release_ended(),
            Phase::WebSocket { assemblers, .. } => {
                for assembler in assemblers.iter_mut().flatten() {
                    assembler.release_if_idle();
                }
                // Idle assemblers have nothing left to report at the end, so the
                // connection needs none of their state.
                if assemblers.iter().flatten().all(MessageAssembler::is_idle) {
                    self.phase = Phase::Opaque;
                    self.handshake = None;
                }
            }
            _ => {}
        }
    }

    /// Ends both directions: unfinished messages are reported.
    pub fn finish(&mut self) -> Vec<DirEvent> {
        let mut out = Vec::new();
        match std::mem::replace(&mut self.phase, Phase::Opaque) {
            Phase::Http {
                mut requests,
                mut responses,
                ..
            } => {
                out.extend(tag(
                    Direction::ClientToServer,
                    requests.finish().into_iter().map(AppEvent::Http).collect(),
                ));
                out.extend(tag(
                    Direction::ServerToClient,
                    responses.finish().into_iter().map(AppEvent::Http).collect(),
                ));
            }
            Phase::WebSocket { assemblers, .. } => {
                let [c2s, s2c] = *assemblers;
                for (direction, assembler) in [
                    (Direction::ClientToServer, c2s),
                    (Direction::ServerToClient, s2c),
                ] {
                    if let Some(assembler) = assembler {
                        out.extend(tag(
                            direction,
                            assembler
                                .finish()
                                .into_iter()
                                .map(AppEvent::WebSocket)
                                .collect(),
                        ));
                    }
                }
            }
            Phase::Tls(decoders) => {
                let [mut c2s, mut s2c] = *decoders;
                out.extend(tag(
                    Direction::ClientToServer,
                    c2s.finish().into_iter().map(AppEvent::Tls).collect(),
                ));
                out.extend(tag(
                    Direction::ServerToClient,
                    s2c.finish().into_iter().map(AppEvent::Tls).collect(),
                ));
            }
            Phase::Tunnel(mut inner) => {
                out.extend(inner.finish());
                // The tunnel stays open to the end, so that `protocol` and `handshake`
                // still tell what it carried.
                self.phase = Phase::Tunnel(inner);
            }
            Phase::Undecided | Phase::Opaque => {}
        }
        out
    }

    /// Chooses the protocol from the first bytes seen.
    fn decide(&mut self, direction: Direction, bytes: &[u8], out: &mut Vec<DirEvent>) {
        let [c2s_start, s2c_start] = self.starts;
        if looks_like_http(bytes) {
            self.protocol = AppProtocol::Http;
            // Mid-stream pickups start the other direction where it is first seen.
            self.phase = Phase::Http {
                requests: Box::new(
                    http::Parser::new(MessageKind::Request, self.limits.http)
                        .starting_at(c2s_start),
                ),
                responses: Box::new(
                    http::Parser::new(MessageKind::Response, self.limits.http)
                        .starting_at(s2c_start),
                ),
                upgrades: VecDeque::new(),
                held: None,
                after_gap: [false; 2],
                connect: None,
            };
        } else if tls::looks_like_tls(bytes) {
            self.protocol = AppProtocol::Tls;
            self.phase = Phase::Tls(Box::new([
                tls::Decoder::new(self.limits.tls).starting_at(c2s_start),
                tls::Decoder::new(self.limits.tls).starting_at(s2c_start),
            ]));
        } else if let Some(header) = plausible_frame(bytes) {
            self.guess_websocket(direction, header.mask.is_some(), header.rsv1, out);
        } else {
            self.protocol = AppProtocol::Data;
            self.phase = Phase::Opaque;
        }
    }

    /// Switches the connection to WebSocket without a handshake: the sender
    /// of a masked frame is the client; RSV1 on a data frame can only mean
    /// permessage-deflate, whose parameters are then unknown (defaults assumed).
    fn guess_websocket(
        &mut self,
        direction: Direction,
        masked: bool,
        compressed: bool,
        out: &mut Vec<DirEvent>,
    ) {
        self.protocol = AppProtocol::WebSocket { guessed: true };
        let limits = self.limits.websocket;
        let config = |sender| {
            let plain = Config::new(sender);
            let mut config = if compressed {
                Config::negotiated(sender, Some("permessage-deflate")).unwrap_or(plain)
            } else {
                plain
            };
            config.limits = limits;
            config
        };
        let sender = if masked {
            Sender::Client
        } else {
            Sender::Server
        };
        let other = if sender == Sender::Client {
            Sender::Server
        } else {
            Sender::Client
        };
        let configs = if direction == Direction::ClientToServer {
            [config(sender), config(other)]
        } else {
            [config(other), config(sender)]
        };
        self.phase = Phase::WebSocket {
            assemblers: Box::new([None, None]),
            configs,
        };
        out.push(DirEvent {
            direction,
            event: AppEvent::Guessed { compressed },
        });
    }

    fn dispatch(
        &mut self,
        direction: Direction,
        stream_offset: u64,
        bytes: &[u8],
        out: &mut Vec<DirEvent>,
    ) {
        match &mut self.phase {
            Phase::Http { .. } => self.feed_http(direction, stream_offset, bytes, out),
            Phase::WebSocket {
                assemblers,
                configs,
            } => {
                let config = configs.get(direction.index()).copied();
                if let (Some(slot), Some(config)) = (assemblers.get_mut(direction.index()), config)
                {
                    let assembler =
                        slot.get_or_insert_with(|| MessageAssembler::new(config, stream_offset));
                    // One pass: a segment of many tiny frames makes many events.
                    assembler.feed_with(bytes, stream_offset, |event| {
                        out.push(DirEvent {
                            direction,
                            event: AppEvent::WebSocket(event),
                        })
                    });
                }
            }
            Phase::Tls(decoders) => {
                if let Some(decoder) = decoders.get_mut(direction.index()) {
                    out.extend(tag(
                        direction,
                        decoder
                            .feed(bytes, stream_offset)
                            .into_iter()
                            .map(AppEvent::Tls)
                            .collect(),
                    ));
                }
            }
            Phase::Tunnel(inner) => out.extend(inner.feed(direction, stream_offset, bytes)),
            Phase::Undecided | Phase::Opaque => {}
        }
    }

    fn feed_http(
        &mut self,
        direction: Direction,
        stream_offset: u64,
        bytes: &[u8],
        out: &mut Vec<DirEvent>,
    ) {
        let Phase::Http {
            requests,
            responses,
            upgrades,
            held,
            after_gap,
            connect,
        } = &mut self.phase
        else {
            return;
        };
        // After a hole, frames of a WebSocket connection whose handshake was
        // cut away show up where HTTP lost its footing.
        if after_gap.get(direction.index()).copied().unwrap_or(false) && !looks_like_http(bytes) {
            if let Some(header) = plausible_frame(bytes) {
                let from_client = header.mask.is_some();
                if from_client == (direction == Direction::ClientToServer) {
                    self.guess_websocket(direction, from_client, header.rsv1, out);
                    self.dispatch(direction, stream_offset, bytes, out);
                    return;
                }
            }
        }
        let max_held = self.limits.max_upgrade_held_len;
        if direction == Direction::ClientToServer {
            if let Some(held) = held {
                hold(held, bytes, max_held);
                return;
            }
            let events = requests.feed(bytes, stream_offset);
            let mut noted = Noted {
                responses,
                upgrades,
                connect,
                held,
                max_held,
            };
            noted.requests(&events, stream_offset, bytes);
            out.extend(tag(
                direction,
                events.into_iter().map(AppEvent::Http).collect(),
            ));
            return;
        }
        let events = responses.feed(bytes, stream_offset);
        let mut switch: Option<u64> = None;
        let mut tunnel: Option<u64> = None;
        let mut refused = false;
        for event in &events {
            match event {
                http::Event::Head(head) if answers_connect(head) => {
                    // A final answer other than 2xx: the proxy refused the tunnel.
                    refused |= head
                        .status()
                        .is_some_and(|status| status >= 200 && !(200..300).contains(&status));
                }
                http::Event::Tunnel { at } => tunnel = Some(*at),
                http::Event::Head(head) => {
                    let upgrade_answer = head
                        .status()
                        .is_some_and(|status| status >= 101 && status != 100);
                    if upgrade_answer {
                        if let Some(request) = upgrades.pop_front() {
                            let report = Box::new(handshake::check(&request, Some(head)));
                            refused =
                                !matches!(report.verdict, Verdict::Accepted | Verdict::Failed);
                            self.handshake = Some(report.clone());
                            out.push(DirEvent {
                                direction,
                                event: AppEvent::Handshake(report),
                            });
                        }
                    }
                }
                http::Event::SwitchedProtocols { at, protocol }
                    if protocol.to_ascii_lowercase().contains("websocket") =>
                {
                    switch = Some(*at);
                }
                _ => {}
            }
        }
        out.extend(tag(
            direction,
            events.into_iter().map(AppEvent::Http).collect(),
        ));
        if let Some(old) = refused.then(|| held.take()).flatten() {
            // The held bytes are requests after all; one of them may ask again.
            let events = requests.resume();
            let mut noted = Noted {
                responses,
                upgrades,
                connect,
                held,
                max_held,
            };
            noted.requests(&events, old.at, &old.bytes);
            out.extend(tag(
                Direction::ClientToServer,
                events.into_iter().map(AppEvent::Http).collect(),
            ));
            if old.dropped > 0 {
                out.push(DirEvent {
                    direction: Direction::ClientToServer,
                    event: AppEvent::HoldOverflow {
                        limit: max_held,
                        dropped: old.dropped,
                    },
                });
            }
        }
        if let Some(at) = tunnel {
            let target = connect.take().unwrap_or_default();
            self.open_tunnel(target, at, stream_offset, bytes, out);
            return;
        }
        let Some(at) = switch else {
            return;
        };
        // Both directions become WebSocket, configured by the handshake.
        let extensions = self
            .handshake
            .as_ref()
            .and_then(|report| report.extensions.clone());
        let limits = self.limits.websocket;
        let config = |sender| {
            let mut config = Config::negotiated(sender, extensions.as_deref())
                .unwrap_or_else(|_| Config::new(sender));
            config.limits = limits;
            config
        };
        let held = held.take();
        let client_at = held.as_ref().map_or(requests.next_offset(), |held| held.at);
        let _ = requests.switch_at(client_at);
        let mut c2s = MessageAssembler::new(config(Sender::Client), client_at);
        let mut s2c = MessageAssembler::new(config(Sender::Server), at);
        if let Some(held) = held {
            out.extend(tag(
                Direction::ClientToServer,
                c2s.feed(&held.bytes, held.at)
                    .into_iter()
                    .map(AppEvent::WebSocket)
                    .collect(),
            ));
            if held.dropped > 0 {
                out.push(DirEvent {
                    direction: Direction::ClientToServer,
                    event: AppEvent::HoldOverflow {
                        limit: max_held,
                        dropped: held.dropped,
                    },
                });
                out.extend(tag(
                    Direction::ClientToServer,
                    c2s.gap(held.dropped)
                        .into_iter()
                        .map(AppEvent::WebSocket)
                        .collect(),
                ));
            }
        }
        let skip = usize::try_from(at.saturating_sub(stream_offset)).unwrap_or(usize::MAX);
        if let Some(rest) = bytes.get(skip..).filter(|rest| !rest.is_empty()) {
            out.extend(tag(
                Direction::ServerToClient,
                s2c.feed(rest, at)
                    .into_iter()
                    .map(AppEvent::WebSocket)
                    .collect(),
            ));
        }
        self.protocol = AppProtocol::WebSocket { guessed: false };
        self.phase = Phase::WebSocket {
            assemblers: Box::new([Some(c2s), Some(s2c)]),
            configs: [config(Sender::Client), config(Sender::Server)],
        };
    }
}

impl Conversation {
    /// The proxy answered the `CONNECT` for `target` with 2xx, whose head ends at server
    /// offset `at`: both directions become a tunnel. Its bytes so far (the client's held
    /// bytes, the server's bytes after the answer in `bytes`, which start at
    /// `stream_offset`) go to the conversation inside it.
    fn open_tunnel(
        &mut self,
        target: String,
        at: u64,
        stream_offset: u64,
        bytes: &[u8],
        out: &mut Vec<DirEvent>,
    ) {
        let Phase::Http { requests, held, .. } = &mut self.phase else {
            return;
        };
        let held = held.take();
        let client_at = held.as_ref().map_or(requests.next_offset(), |held| held.at);
        out.extend(tag(
            Direction::ClientToServer,
            requests
                .switch_at(client_at)
                .into_iter()
                .map(AppEvent::Http)
                .collect(),
        ));
        let starts = [client_at, at];
        let depth = self.depth.saturating_add(1);
        if depth > MAX_TUNNEL_DEPTH {
            out.push(DirEvent {
                direction: Direction::ServerToClient,
                event: AppEvent::Http(http::Event::Problem(http::Problem {
                    error: http::Error::TunnelTooDeep {
                        limit: MAX_TUNNEL_DEPTH,
                    },
                    span: http::StreamSpan::at(at, 0),
                })),
            });
        }
        let mut inner = Conversation::inside(depth, starts, self.limits);
        if let Some(held) = held {
            out.extend(inner.feed(Direction::ClientToServer, held.at, &held.bytes));
            if held.dropped > 0 {
                out.push(DirEvent {
                    direction: Direction::ClientToServer,
                    event: AppEvent::HoldOverflow {
                        limit: self.limits.max_upgrade_held_len,
                        dropped: held.dropped,
                    },
                });
                out.extend(inner.gap(Direction::ClientToServer, held.dropped));
            }
        }
        let skip = usize::try_from(at.saturating_sub(stream_offset)).unwrap_or(usize::MAX);
        if let Some(rest) = bytes.get(skip..).filter(|rest| !rest.is_empty()) {
            out.extend(inner.feed(Direction::ServerToClient, at, rest));
        }
        self.tunnel = Some(Tunnel { target, starts });
        self.phase = Phase::Tunnel(Box::new(inner));
    }
}

/// The state of an HTTP conversation that the client's requests update.
struct Noted<'a> {
    responses: &'a mut http::Parser,
    upgrades: &'a mut VecDeque<Head>,
    connect: &'a mut Option<String>,
    held: &'a mut Option<Held>,
    /// The most client bytes held (see [`Limits::max_upgrade_held_len`]).
    max_held: usize,
}

impl Noted<'_> {
    /// Notes what the client's request `events` announce: each request's method for the
    /// response parser, the Upgrade requests, the target of a `CONNECT`, and where the client's
    /// bytes start being held after a request that asks to switch; `bytes` are the client's
    /// bytes from `stream_offset` on, which the held bytes are taken from.
    fn requests(&mut self, events: &[http::Event], stream_offset: u64, bytes: &[u8]) {
        for event in events {
            match event {
                http::Event::Head(head) => {
                    if let Some(method) = head.method() {
                        let _ = self.responses.expect_response_to(method);
                    }
                    if head.has_token("upgrade", "websocket") {
                        self.upgrades.push_back(head.clone());
                    }
                    if let StartLine::Request { method, target, .. } = &head.start_line {
                        if method.eq_ignore_ascii_case("CONNECT") {
                            *self.connect = Some(target.clone());
                        }
                    }
                }
                http::Event::AwaitingSwitch { at, .. } => {
                    let skip =
                        usize::try_from(at.saturating_sub(stream_offset)).unwrap_or(usize::MAX);
                    let mut new = Held {
                        at: *at,
                        bytes: Vec::new(),
                        dropped: 0,
                    };
                    hold(&mut new, bytes.get(skip..).unwrap_or(&[]), self.max_held);
                    *self.held = Some(new);
                }
                _ => {}
            }
        }
    }
}

/// Whether a response head answers a `CONNECT` request.
fn answers_connect(head: &Head) -> bool {
    head.request_method
        .as_deref()
        .is_some_and(|method| method.eq_ignore_ascii_case("CONNECT"))
}

fn tag(direction: Direction, events: Vec<AppEvent>) -> Vec<DirEvent> {
    events
        .into_iter()
        .map(|event| DirEvent { direction, event })
        .collect()
}

/// Holds client bytes up to `max_len`; past it, or once bytes were lost, they are counted.
fn hold(held: &mut Held, bytes: &[u8], max_len: usize) {
    let room = if held.dropped > 0 {
        0
    } else {
        max_len.saturating_sub(held.bytes.len())
    };
    let keep = room.min(bytes.len());
    held.bytes
        .extend_from_slice(bytes.get(..keep).unwrap_or(&[]));
    let lost = u64::try_from(bytes.len().saturating_sub(keep)).unwrap_or(u64::MAX);
    held.dropped = held.dropped.saturating_add(lost);
}

/// Whether bytes start like an HTTP/1.x request or response line.
fn looks_like_http(bytes: &[u8]) -> bool {
    const METHODS: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"TRACE ",
    ];
    bytes.starts_with(b"HTTP/1.") || METHODS.iter().any(|method| bytes.starts_with(method))
}

/// A first frame header that fits WebSocket's rules for one sender or the other.
fn plausible_frame(bytes: &[u8]) -> Option<FrameHeader> {
    let (header, _) = FrameHeader::parse_lax(bytes)?;
    let sender = if header.mask.is_some() {
        Sender::Client
    } else {
        Sender::Server
    };
    let rules = crate::application::websocket::check::HeaderRules {
        sender,
        deflate: true,
        other_extensions: false,
    };
    // A plain byte stream rarely starts with a valid header of a known,
    // message-starting opcode and a sane length.
    let fits = header.payload_len <= 16 * 1024 * 1024;
    let starts_message = header.opcode != OpCode::Data(Data::Continue);
    (rules.is_plausible(&header) && fits && starts_message).then_some(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    // RFC 6455 §5.7: a masked "Hello" from the client, an unmasked one from the server.
    const MASKED_HELLO: &[u8] = &[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    const HELLO: &[u8] = &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];

    fn messages(events: &[DirEvent]) -> Vec<(Direction, Vec<u8>)> {
        events
            .iter()
            .filter_map(|event| match &event.event {
                AppEvent::WebSocket(message::Event::Message(m)) => {
                    Some((event.direction, m.payload.clone()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn upgrade_hands_both_directions_to_websocket() {
        let mut conversation = Conversation::default();
        let mut events = conversation.feed(Direction::ClientToServer, 0, REQUEST);
        // The client's first frame arrives before the server's answer: it is held.
        events.extend(conversation.feed(
            Direction::ClientToServer,
            REQUEST.len() as u64,
            MASKED_HELLO,
        ));
        assert!(messages(&events).is_empty());
        let mut response = RESPONSE.to_vec();
        response.extend_from_slice(HELLO);
        events.extend(conversation.feed(Direction::ServerToClient, 0, &response));
        assert_eq!(
            conversation.protocol(),
            AppProtocol::WebSocket { guessed: false }
        );
        assert!(matches!(
            conversation.handshake().map(|r| &r.verdict),
            Some(Verdict::Accepted)
        ));
        let got = messages(&events);
        assert_eq!(
            got,
            vec![
                (Direction::ClientToServer, b"Hello".to_vec()),
                (Direction::ServerToClient, b"Hello".to_vec()),
            ]
        );
    }

    #[test]
    fn refused_upgrade_stays_http() {
        let mut conversation = Conversation::default();
        conversation.feed(Direction::ClientToServer, 0, REQUEST);
        let events = conversation.feed(
            Direction::ServerToClient,
            0,
            b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(conversation.protocol(), AppProtocol::Http);
        assert!(events
            .iter()
            .any(|e| matches!(e.event, AppEvent::Handshake(_))));
        assert!(matches!(
            conversation.handshake().map(|r| &r.verdict),
            Some(Verdict::Refused { status: 426 })
        ));
    }

    #[test]
    fn mid_stream_frames_are_recognised_and_marked_guessed() {
        let mut conversation = Conversation::default();
        let events = conversation.feed(Direction::ServerToClient, 5000, HELLO);
        assert_eq!(
            conversation.protocol(),
            AppProtocol::WebSocket { guessed: true }
        );
        let mut all = events;
        all.extend(conversation.feed(Direction::ClientToServer, 9000, MASKED_HELLO));
        assert_eq!(messages(&all).len(), 2);
    }

    /// The `CONNECT` request and the proxy's answer of the tunnel tests: 57 and 39 bytes.
    const CONNECT: &[u8] = b"CONNECT 10.77.0.2:8080 HTTP/1.1\r\nHost: 10.77.0.2:8080\r\n\r\n";
    const ESTABLISHED: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";

    fn len(bytes: &[u8]) -> u64 {
        bytes.len() as u64
    }

    #[test]
    fn connect_tunnel_carries_an_upgrade_and_websocket_frames() {
        let mut conversation = Conversation::default();
        let mut events = conversation.feed(Direction::ClientToServer, 0, CONNECT);
        events.extend(conversation.feed(Direction::ServerToClient, 0, ESTABLISHED));
        assert_eq!(conversation.protocol(), AppProtocol::Http);
        let tunnel = conversation.tunnel().cloned();
        assert_eq!(
            tunnel,
            Some(Tunnel {
                target: "10.77.0.2:8080".to_string(),
                starts: [57, 39],
            })
        );
        assert_eq!(
            tunnel.as_ref().and_then(Tunnel::host_port),
            Some(("10.77.0.2", 8080))
        );
        // Inside the tunnel: the Upgrade, the 101 and a frame each way, at the stream
        // offsets of the proxy connection.
        events.extend(conversation.feed(Direction::ClientToServer, 57, REQUEST));
        let mut answer = RESPONSE.to_vec();
        answer.extend_from_slice(HELLO);
        events.extend(conversation.feed(Direction::ServerToClient, 39, &answer));
        events.extend(conversation.feed(
            Direction::ClientToServer,
            57 + len(REQUEST),
            MASKED_HELLO,
        ));
        assert_eq!(
            conversation.protocol(),
            AppProtocol::WebSocket { guessed: false }
        );
        assert!(matches!(
            conversation.handshake().map(|r| &r.verdict),
            Some(Verdict::Accepted)
        ));
        let heads: Vec<(Direction, u64)> = events
            .iter()
            .filter_map(|event| match &event.event {
                AppEvent::Http(http::Event::Head(head)) => {
                    Some((event.direction, head.span.start()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            heads,
            [
                (Direction::ClientToServer, 0),
                (Direction::ServerToClient, 0),
                (Direction::ClientToServer, 57),
                (Direction::ServerToClient, 39),
            ]
        );
        assert_eq!(
            messages(&events),
            [
                (Direction::ServerToClient, b"Hello".to_vec()),
                (Direction::ClientToServer, b"Hello".to_vec()),
            ]
        );
        let frame_starts: Vec<u64> = events
            .iter()
            .filter_map(|event| match &event.event {
                AppEvent::WebSocket(message::Event::Frame(frame)) => Some(frame.header_range.start),
                _ => None,
            })
            .collect();
        assert_eq!(frame_starts, [39 + len(RESPONSE), 57 + len(REQUEST)]);
        // No problem anywhere: no gap before the tunnel's first byte.
        assert!(!events.iter().any(|event| matches!(
            event.event,
            AppEvent::Http(http::Event::Problem(_))
                | AppEvent::WebSocket(message::Event::Problem(_))
        )));
    }

    #[test]
    fn client_bytes_sent_before_the_proxy_answers_go_into_the_tunnel() {
        let mut conversation = Conversation::default();
        let mut early = CONNECT.to_vec();
        early.extend_from_slice(REQUEST);
        let mut events = conversation.feed(Direction::ClientToServer, 0, &early);
        assert!(!events.iter().any(|event| matches!(
            &event.event,
            AppEvent::Http(http::Event::Head(head)) if head.method() == Some("GET")
        )));
        events.extend(conversation.feed(Direction::ServerToClient, 0, ESTABLISHED));
        let get = events.iter().find_map(|event| match &event.event {
            AppEvent::Http(http::Event::Head(head)) if head.method() == Some("GET") => {
                Some(head.span)
            }
            _ => None,
        });
        assert_eq!(get.map(|span| span.start()), Some(57));
        assert_eq!(conversation.tunnel().map(|t| t.starts), Some([57, 39]));
    }

    #[test]
    fn connect_tunnel_carrying_tls_is_read_as_tls() {
        let mut conversation = Conversation::default();
        conversation.feed(
            Direction::ClientToServer,
            0,
            b"CONNECT example.com:443 HTTP/1.1\r\n\r\n",
        );
        // The proxy's answer and the server's first record in one segment.
        let mut answer = ESTABLISHED.to_vec();
        answer.extend_from_slice(b"\x16\x03\x03\x00\x04\x02\x00\x00\x00");
        let events = conversation.feed(Direction::ServerToClient, 0, &answer);
        assert_eq!(conversation.protocol(), AppProtocol::Tls);
        assert_eq!(
            conversation.tunnel().and_then(Tunnel::host_port),
            Some(("example.com", 443))
        );
        let record = events.iter().find_map(|event| match &event.event {
            AppEvent::Tls(tls::Event::Record(record)) => Some(record.span),
            _ => None,
        });
        assert_eq!(
            record.map(|span| (span.start(), span.end())),
            Some((39, 48))
        );
    }

    #[test]
    fn other_bytes_in_a_tunnel_are_data() {
        let mut conversation = Conversation::default();
        conversation.feed(Direction::ClientToServer, 0, CONNECT);
        conversation.feed(Direction::ServerToClient, 0, ESTABLISHED);
        conversation.feed(Direction::ClientToServer, 57, b"\x00\x00\x00\x00 binary");
        assert_eq!(conversation.protocol(), AppProtocol::Data);
    }

    #[test]
    fn refused_connect_reads_the_held_bytes_as_http() {
        let mut conversation = Conversation::default();
        let second = b"CONNECT 10.77.0.2:8080 HTTP/1.1\r\nProxy-Authorization: Basic eA==\r\n\r\n";
        let mut bytes = CONNECT.to_vec();
        bytes.extend_from_slice(second);
        conversation.feed(Direction::ClientToServer, 0, &bytes);
        let refusal = b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n";
        let events = conversation.feed(Direction::ServerToClient, 0, refusal);
        // The second CONNECT, held until the answer, is read now.
        assert!(events.iter().any(|event| matches!(
            &event.event,
            AppEvent::Http(http::Event::Head(head)) if head.span.start() == 57
        )));
        assert!(conversation.tunnel().is_none());
        conversation.feed(Direction::ServerToClient, len(refusal), ESTABLISHED);
        assert_eq!(
            conversation.tunnel().map(|t| t.starts),
            Some([len(&bytes), len(refusal) + 39])
        );
    }

    #[test]
    fn tunnels_nested_deeper_than_the_limit_are_left_undecoded() {
        let mut conversation = Conversation::default();
        let (mut c2s, mut s2c) = (0, 0);
        let mut too_deep = 0;
        for level in 1..=MAX_TUNNEL_DEPTH + 1 {
            conversation.feed(Direction::ClientToServer, c2s, CONNECT);
            let events = conversation.feed(Direction::ServerToClient, s2c, ESTABLISHED);
            too_deep += events
                .iter()
                .filter(|event| {
                    matches!(
                        &event.event,
                        AppEvent::Http(http::Event::Problem(problem))
                            if problem.error == http::Error::TunnelTooDeep { limit: MAX_TUNNEL_DEPTH }
                    )
                })
                .count();
            c2s += len(CONNECT);
            s2c += len(ESTABLISHED);
            let expected = if level <= MAX_TUNNEL_DEPTH {
                AppProtocol::Http
            } else {
                AppProtocol::Data
            };
            // The innermost tunnel has no byte yet: HTTP until then, data past the limit.
            let events = conversation.feed(Direction::ClientToServer, c2s, b"");
            assert!(events.is_empty());
            if level > MAX_TUNNEL_DEPTH {
                assert_eq!(conversation.protocol(), expected, "level {level}");
            }
        }
        // The next CONNECT is not read at all, and reaching the limit was reported once.
        assert_eq!(too_deep, 1);
        let events = conversation.feed(Direction::ClientToServer, c2s, CONNECT);
        assert!(events.is_empty());
        assert_eq!(conversation.protocol(), AppProtocol::Data);
        assert_eq!(conversation.tunnel().map(|t| t.starts), Some([57, 39]));
    }

    #[test]
    fn other_bytes_are_data() {
        let mut conversation = Conversation::default();
        conversation.feed(
            Direction::ClientToServer,
            0,
            b"\x00\x00\x00\x00 binary protocol",
        );
        assert_eq!(conversation.protocol(), AppProtocol::Data);
    }

    #[test]
    fn client_bytes_past_the_hold_limit_become_a_reported_gap() {
        let mut conversation = Conversation::new(Limits {
            max_upgrade_held_len: 8,
            ..Limits::default()
        });
        let at = REQUEST.len() as u64;
        let mut events = conversation.feed(Direction::ClientToServer, 0, REQUEST);
        // Two masked frames (11 bytes each) before the answer: 8 bytes fit in the hold.
        let mut early = MASKED_HELLO.to_vec();
        early.extend_from_slice(MASKED_HELLO);
        events.extend(conversation.feed(Direction::ClientToServer, at, &early));
        events.extend(conversation.feed(Direction::ServerToClient, 0, RESPONSE));
        let overflow = events.iter().find_map(|event| match event.event {
            AppEvent::HoldOverflow { limit, dropped } => Some((limit, dropped)),
            _ => None,
        });
        assert_eq!(overflow, Some((8, 14)));
        // The held prefix is not glued to later bytes: its frame ends in the gap, incomplete.
        let ended: Vec<(Vec<u8>, bool)> = events
            .iter()
            .filter_map(|event| match &event.event {
                AppEvent::WebSocket(message::Event::Message(m)) => {
                    Some((m.payload.clone(), m.complete))
                }
                _ => None,
            })
            .collect();
        assert_eq!(ended, vec![(b"He".to_vec(), false)]);
        // After the gap the client's stream is found again at the next frames.
        let later = MASKED_HELLO.repeat(3);
        let mut next =
            conversation.feed(Direction::ClientToServer, at + early.len() as u64, &later);
        next.extend(conversation.finish());
        let found = messages(&next);
        assert!(!found.is_empty(), "{next:?}");
        assert!(found
            .iter()
            .all(|m| *m == (Direction::ClientToServer, b"Hello".to_vec())));
    }

    #[test]
    fn the_websocket_limits_given_are_used() {
        let mut conversation = Conversation::new(Limits {
            websocket: message::Limits {
                max_message_len: 3,
                ..message::Limits::default()
            },
            ..Limits::default()
        });
        conversation.feed(Direction::ClientToServer, 0, REQUEST);
        let mut response = RESPONSE.to_vec();
        response.extend_from_slice(HELLO);
        let events = conversation.feed(Direction::ServerToClient, 0, &response);
        assert_eq!(
            messages(&events),
            vec![(Direction::ServerToClient, b"Hel".to_vec())]
        );
    }

    #[test]
    fn a_partial_head_counts_as_buffered() {
        let mut conversation = Conversation::default();
        assert_eq!(conversation.buffered_len(), 0);
        let partial = REQUEST.get(..40).unwrap();
        conversation.feed(Direction::ClientToServer, 0, partial);
        assert!(conversation.buffered_len() >= 40);
        conversation.feed(Direction::ClientToServer, 40, REQUEST.get(40..).unwrap());
        // The Upgrade request waits for its answer.
        assert!(conversation.buffered_len() >= REQUEST.len());
    }
}
