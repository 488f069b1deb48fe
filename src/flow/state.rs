//! The RFC 793 state of each side of one TCP connection, as an observer in the middle sees it.
//!
//! A [`Tracker`] owns one connection. It is fed that connection's segments in capture order and
//! returns, per segment, a [`Step`]: the [`Snapshot`] of both sides after the segment and the
//! [`Transition`]s it caused, each with a one-sentence explanation for learners.
//!
//! # The observer's view
//!
//! The capture point sees a segment, not its arrival, so the tracker assumes every captured
//! segment is delivered: a segment moves its sender (what it did) and its receiver (what it
//! learns) at once. A FIN from A moves A to FIN_WAIT_1 and B to CLOSE_WAIT; B's ACK covering
//! that FIN then moves A to FIN_WAIT_2.
//! When one segment carries several events they are applied in the order a receiver processes
//! them (RFC 793 section 3.9): RST first, then SYN, then the acknowledgement, then the FIN.
//! A receiver that goes through two states within one segment (FIN_WAIT_1, ACK of its FIN, then
//! the peer's FIN) is reported as a single transition, here FIN_WAIT_1 to TIME_WAIT.
//!
//! # Start and pick-up
//!
//! Before any segment the client is CLOSED and the server LISTEN.
//! When the first segment is neither a SYN nor a SYN-ACK the capture started after the
//! handshake: both sides start ESTABLISHED and the connection is marked mid-stream.
//! A SYN-ACK as the first segment means only the SYN was missed: the handshake is tracked from
//! there without the mid-stream mark.
//!
//! # Limits of what an observer can know
//!
//! - TIME_WAIT ends after a timer (2 MSL) that no segment shows, so a side stays in TIME_WAIT.
//! - A RST is taken at face value: its sequence number is not checked against the window.
//! - Retransmitted SYNs and FINs cause no transition: their first copy already did.
//! - A side in SYN_SENT or SYN_RECEIVED that sends a plain ACK must have completed its handshake,
//!   so it is moved to ESTABLISHED even when the segment that completed it was not captured.
//!
//! The tracker keeps O(1) state: two states, two ISNs and two FIN positions.

use std::fmt;

use super::seq::SeqNumber;
use super::{Direction, TcpFlags};

/// The RFC 793 state of one side of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpState {
    /// No connection (before it opened, or after it fully closed).
    Closed,
    /// A server waiting for a connection request.
    Listen,
    /// Sent a SYN, waiting for the peer's SYN-ACK.
    SynSent,
    /// Received a SYN and answered it, waiting for the ACK of its own SYN.
    SynReceived,
    /// The handshake is complete; data flows both ways.
    Established,
    /// Sent a FIN, waiting for its ACK (or the peer's FIN).
    FinWait1,
    /// Its FIN was acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// Received the peer's FIN; may still send data until it closes too.
    CloseWait,
    /// Both sides sent a FIN before either was acknowledged.
    Closing,
    /// Sent its FIN after the peer's; waiting for the last ACK.
    LastAck,
    /// Both FINs are acknowledged; waiting 2 MSL before forgetting the connection.
    TimeWait,
    /// CLOSED because a RST aborted the connection.
    ClosedByReset,
}

impl TcpState {
    /// Returns the state's name as RFC 793 writes it (`SYN_SENT`, `CLOSE_WAIT`, ...).
    ///
    /// A connection closed by a RST is `CLOSED`, as in the RFC; see [`TcpState::label`].
    pub const fn name(self) -> &'static str {
        match self {
            TcpState::Closed | TcpState::ClosedByReset => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynReceived => "SYN_RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN_WAIT_1",
            TcpState::FinWait2 => "FIN_WAIT_2",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
        }
    }

    /// Returns the RFC name, followed by ` (reset)` when a RST closed the connection.
    pub const fn label(self) -> &'static str {
        match self {
            TcpState::ClosedByReset => "CLOSED (reset)",
            other => other.name(),
        }
    }

    /// Returns true for the states in which a FIN from this side has been sent.
    const fn has_sent_fin(self) -> bool {
        matches!(
            self,
            TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::Closing
                | TcpState::LastAck
                | TcpState::TimeWait
        )
    }

    /// Returns true for the states from which a new SYN opens a new connection.
    const fn can_open(self) -> bool {
        matches!(
            self,
            TcpState::Closed | TcpState::Listen | TcpState::ClosedByReset | TcpState::TimeWait
        )
    }
}

impl fmt::Display for TcpState {
    /// Prints the RFC name; the alternate form (`{:#}`) adds ` (reset)` after a RST.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.write_str(self.label())
        } else {
            f.write_str(self.name())
        }
    }
}

/// One side of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// The side that opened the connection.
    Client,
    /// The side that accepted it.
    Server,
}

impl Endpoint {
    /// Returns the endpoint that sends segments travelling in `dir`.
    pub const fn sender_of(dir: Direction) -> Endpoint {
        match dir {
            Direction::ClientToServer => Endpoint::Client,
            Direction::ServerToClient => Endpoint::Server,
        }
    }

    /// Returns the other endpoint.
    pub const fn peer(self) -> Endpoint {
        match self {
            Endpoint::Client => Endpoint::Server,
            Endpoint::Server => Endpoint::Client,
        }
    }

    /// Returns `"client"` or `"server"`.
    pub const fn name(self) -> &'static str {
        match self {
            Endpoint::Client => "client",
            Endpoint::Server => "server",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The header fields of one segment that the state machine needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateSegment {
    /// Which way the segment travels.
    pub dir: Direction,
    /// The control bits.
    pub flags: TcpFlags,
    /// The sequence number.
    pub seq: SeqNumber,
    /// The acknowledgement number (meaningful only with ACK set).
    pub ack: SeqNumber,
    /// Payload bytes on the wire.
    pub payload_len: u32,
}

/// Why one side changed state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// The capture began after the handshake, so the side is assumed established.
    PickedUpMidStream,
    /// The side sent a SYN.
    SentSyn,
    /// The side received a SYN.
    ReceivedSyn,
    /// The side sent a SYN-ACK whose SYN was not captured, or crossed the peer's SYN.
    SentSynAck,
    /// The side received the SYN-ACK answering its SYN.
    ReceivedSynAck,
    /// The side received the ACK of its SYN.
    ReceivedAckOfSyn,
    /// The side sent a plain ACK, which it can only do once its handshake is complete.
    SentAckAfterHandshake,
    /// The side sent a FIN.
    SentFin,
    /// The side sent a FIN that does not acknowledge the peer's FIN: both FINs crossed.
    SentFinCrossingPeerFin,
    /// The side received the peer's FIN.
    ReceivedFin,
    /// The side received the ACK of its FIN.
    ReceivedAckOfFin,
    /// The side received the peer's FIN together with the ACK of its own FIN.
    ReceivedFinAndAck,
    /// The side sent a RST.
    SentRst,
    /// The side received a RST.
    ReceivedRst,
}

/// One side's change of state caused by one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transition {
    /// The side that changed state.
    pub endpoint: Endpoint,
    /// Its state before the segment.
    pub from: TcpState,
    /// Its state after the segment.
    pub to: TcpState,
    /// What in the segment caused the change.
    pub cause: Cause,
}

impl Transition {
    /// Returns one sentence telling a learner what happened and why the side is now in `to`.
    pub fn explanation(&self) -> String {
        let who = self.endpoint.name();
        let peer = self.endpoint.peer().name();
        let to = self.to.name();
        match (self.cause, self.from, self.to) {
            (Cause::PickedUpMidStream, ..) => format!(
                "The capture started after the handshake, so the {who} is assumed to be {to}."
            ),
            (Cause::SentSyn, ..) => format!(
                "The {who} sent a SYN to open a connection and waits in {to} for the {peer}'s SYN-ACK."
            ),
            (Cause::ReceivedSyn, TcpState::SynSent, _) => format!(
                "The {who} received a SYN while its own SYN was unanswered (simultaneous open), so it moves to {to}."
            ),
            (Cause::ReceivedSyn, ..) => format!(
                "The {who} received a SYN, answers with a SYN-ACK and waits in {to} for the ACK of its own SYN."
            ),
            (Cause::SentSynAck, ..) => format!(
                "The {who} sent a SYN-ACK, so it has received a SYN and waits in {to} for the ACK of its own SYN."
            ),
            (Cause::ReceivedSynAck, ..) => format!(
                "The {who} received the SYN-ACK answering its SYN, acknowledges it and is now {to}."
            ),
            (Cause::ReceivedAckOfSyn, ..) => format!(
                "The {who} received the ACK of its SYN: the three-way handshake is complete and it is {to}."
            ),
            (Cause::SentAckAfterHandshake, ..) => format!(
                "The {who} sent a plain ACK, which it only does once its handshake is complete, so it is {to}."
            ),
            (Cause::SentFinCrossingPeerFin, ..) => format!(
                "The {who} sent its FIN before the {peer}'s FIN reached it (simultaneous close), so both FINs crossed and it waits in {to} for the ACK of its own."
            ),
            (Cause::SentFin, TcpState::CloseWait, _) => format!(
                "The {who} sent its own FIN after the {peer}'s and waits in {to} for the last ACK."
            ),
            (Cause::SentFin, ..) => format!(
                "The {who} sent a FIN: it has no more data to send and waits in {to} for the {peer} to acknowledge it."
            ),
            (Cause::ReceivedFin, TcpState::FinWait1, _) => format!(
                "The {who} received the {peer}'s FIN before its own FIN was acknowledged (simultaneous close), so it is {to}."
            ),
            (Cause::ReceivedFin, TcpState::FinWait2, _) => format!(
                "The {who} received the {peer}'s FIN after its own was acknowledged, acknowledges it and waits in {to}."
            ),
            (Cause::ReceivedFin, ..) => format!(
                "The {who} received the {peer}'s FIN: the {peer} will send no more data, and the {who} may still send until it closes ({to})."
            ),
            (Cause::ReceivedAckOfFin, _, TcpState::Closed) => format!(
                "The {who} received the ACK of its FIN, the last segment of the close, so the connection is {to} on its side."
            ),
            (Cause::ReceivedAckOfFin, _, TcpState::TimeWait) => format!(
                "The {who} received the ACK of its FIN after both sides closed, so it waits in {to} for stray segments to die out."
            ),
            (Cause::ReceivedAckOfFin, ..) => format!(
                "The {who} received the ACK of its FIN and waits in {to} for the {peer}'s FIN."
            ),
            (Cause::ReceivedFinAndAck, ..) => format!(
                "The {who} received the {peer}'s FIN together with the ACK of its own FIN, so it goes straight to {to}."
            ),
            (Cause::SentRst, ..) => format!(
                "The {who} sent a RST, aborting the connection at once: it is CLOSED without the FIN exchange."
            ),
            (Cause::ReceivedRst, ..) => format!(
                "The {who} received a RST, so the connection is aborted and CLOSED on its side too."
            ),
        }
    }
}

/// The state of both sides at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Snapshot {
    /// The client's state.
    pub client: TcpState,
    /// The server's state.
    pub server: TcpState,
}

impl Snapshot {
    /// Returns the state of one endpoint.
    pub const fn of(&self, endpoint: Endpoint) -> TcpState {
        match endpoint {
            Endpoint::Client => self.client,
            Endpoint::Server => self.server,
        }
    }

    /// Returns true when the connection is over: a RST aborted it, or both
    /// FINs were sent and acknowledged (each side in TIME_WAIT or CLOSED).
    pub const fn is_finished(&self) -> bool {
        let reset = matches!(self.client, TcpState::ClosedByReset)
            || matches!(self.server, TcpState::ClosedByReset);
        let closed = matches!(self.client, TcpState::TimeWait | TcpState::Closed)
            && matches!(self.server, TcpState::TimeWait | TcpState::Closed);
        let waiting =
            matches!(self.client, TcpState::TimeWait) || matches!(self.server, TcpState::TimeWait);
        reset || (closed && waiting)
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client {:#}, server {:#}", self.client, self.server)
    }
}

/// What one segment did to the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The state of both sides after the segment.
    pub after: Snapshot,
    /// The client's change, if it changed.
    pub client: Option<Transition>,
    /// The server's change, if it changed.
    pub server: Option<Transition>,
}

impl Step {
    /// Iterates over the transitions of this step, client first.
    pub fn transitions(&self) -> impl Iterator<Item = &Transition> {
        self.client.iter().chain(self.server.iter())
    }
}

/// What the tracker knows about one side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Side {
    state: TcpState,
    /// The sequence number of its SYN, once seen.
    isn: Option<SeqNumber>,
    /// The sequence number its FIN occupies, once seen.
    fin_seq: Option<SeqNumber>,
}

impl Side {
    const fn new(state: TcpState) -> Side {
        Side {
            state,
            isn: None,
            fin_seq: None,
        }
    }
}

/// Follows the state of both sides of one connection, segment by segment.
#[derive(Clone, Debug)]
pub struct Tracker {
    client: Side,
    server: Side,
    started: bool,
    mid_stream: bool,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker::new()
    }
}

/// The changes made to one side while applying one segment.
#[derive(Clone, Copy)]
struct Change {
    from: TcpState,
    cause: Option<Cause>,
}

impl Tracker {
    /// Returns a tracker for a connection not yet seen: client CLOSED, server LISTEN.
    pub const fn new() -> Tracker {
        Tracker {
            client: Side::new(TcpState::Closed),
            server: Side::new(TcpState::Listen),
            started: false,
            mid_stream: false,
        }
    }

    /// Returns the current state of both sides.
    pub const fn snapshot(&self) -> Snapshot {
        Snapshot {
            client: self.client.state,
            server: self.server.state,
        }
    }

    /// Returns true when the capture began after the handshake (no SYN or SYN-ACK came first).
    pub const fn is_mid_stream(&self) -> bool {
        self.mid_stream
    }

    fn side_mut(&mut self, endpoint: Endpoint) -> &mut Side {
        match endpoint {
            Endpoint::Client => &mut self.client,
            Endpoint::Server => &mut self.server,
        }
    }

    /// Applies one segment (in capture order) and returns what it changed.
    pub fn observe(&mut self, seg: &StateSegment) -> Step {
        let sender = Endpoint::sender_of(seg.dir);
        let receiver = sender.peer();
        let mut changes = [
            Change {
                from: self.client.state,
                cause: None,
            },
            Change {
                from: self.server.state,
                cause: None,
            },
        ];

        if !self.started {
            self.started = true;
            if !seg.flags.contains(TcpFlags::SYN) {
                self.mid_stream = true;
                for endpoint in [Endpoint::Client, Endpoint::Server] {
                    self.side_mut(endpoint).state = TcpState::Established;
                    record(&mut changes, endpoint, Cause::PickedUpMidStream);
                }
            }
        }

        if seg.flags.contains(TcpFlags::RST) {
            self.apply_rst(sender, &mut changes);
        } else {
            if seg.flags.contains(TcpFlags::SYN) {
                self.apply_syn(seg, sender, &mut changes);
            } else if seg.flags.contains(TcpFlags::ACK) {
                self.apply_sent_ack(sender, &mut changes);
                self.apply_ack(seg.ack, receiver, &mut changes);
            }
            if seg.flags.contains(TcpFlags::FIN) {
                self.apply_fin(seg, sender, &mut changes);
            }
        }

        let after = self.snapshot();
        let transition = |endpoint: Endpoint, change: Change| {
            let to = after.of(endpoint);
            match change.cause {
                Some(cause) if to != change.from => Some(Transition {
                    endpoint,
                    from: change.from,
                    to,
                    cause,
                }),
                _ => None,
            }
        };
        let [client, server] = changes;
        Step {
            after,
            client: transition(Endpoint::Client, client),
            server: transition(Endpoint::Server, server),
        }
    }

    fn apply_rst(&mut self, sender: Endpoint, changes: &mut [Change; 2]) {
        for (endpoint, cause) in [
            (sender, Cause::SentRst),
            (sender.peer(), Cause::ReceivedRst),
        ] {
            let side = self.side_mut(endpoint);
            if !matches!(side.state, TcpState::Closed | TcpState::ClosedByReset) {
                side.state = TcpState::ClosedByReset;
                record(changes, endpoint, cause);
            }
        }
    }

    fn apply_syn(&mut self, seg: &StateSegment, sender: Endpoint, changes: &mut [Change; 2]) {
        let receiver = sender.peer();
        let is_syn_ack = seg.flags.contains(TcpFlags::ACK);
        let sender_side = self.side_mut(sender);
        let new_sender_state = match (is_syn_ack, sender_side.state) {
            (false, state) if state.can_open() => Some((TcpState::SynSent, Cause::SentSyn)),
            (true, state) if state.can_open() || state == TcpState::SynSent => {
                Some((TcpState::SynReceived, Cause::SentSynAck))
            }
            _ => None,
        };
        if let Some((state, cause)) = new_sender_state {
            // A new SYN starts a new incarnation: forget the old FIN.
            sender_side.fin_seq = None;
            sender_side.state = state;
            record(changes, sender, cause);
        }
        if sender_side.isn.is_none() || new_sender_state.is_some() {
            sender_side.isn = Some(seg.seq);
        }

        let receiver_side = self.side_mut(receiver);
        if is_syn_ack {
            let acks_our_syn = receiver_side
                .isn
                .is_none_or(|isn| seg.ack.distance_from(isn) > 0);
            let opening = matches!(
                receiver_side.state,
                TcpState::SynSent | TcpState::SynReceived
            ) || receiver_side.state.can_open();
            if acks_our_syn && opening {
                receiver_side.state = TcpState::Established;
                record(changes, receiver, Cause::ReceivedSynAck);
            }
        } else if receiver_side.state.can_open() || receiver_side.state == TcpState::SynSent {
            receiver_side.fin_seq = None;
            receiver_side.state = TcpState::SynReceived;
            record(changes, receiver, Cause::ReceivedSyn);
        }
    }

    /// A side still opening that sends a plain ACK has finished its handshake.
    fn apply_sent_ack(&mut self, sender: Endpoint, changes: &mut [Change; 2]) {
        let side = self.side_mut(sender);
        if matches!(side.state, TcpState::SynSent | TcpState::SynReceived) {
            side.state = TcpState::Established;
            record(changes, sender, Cause::SentAckAfterHandshake);
        }
    }

    /// Applies an acknowledgement number to the side that receives it.
    fn apply_ack(&mut self, ack: SeqNumber, receiver: Endpoint, changes: &mut [Change; 2]) {
        let side = self.side_mut(receiver);
        let covers = |seq: Option<SeqNumber>| seq.is_some_and(|s| ack.distance_from(s) > 0);
        let new_state = match side.state {
            TcpState::SynReceived if covers(side.isn) => {
                Some((TcpState::Established, Cause::ReceivedAckOfSyn))
            }
            TcpState::FinWait1 if covers(side.fin_seq) => {
                Some((TcpState::FinWait2, Cause::ReceivedAckOfFin))
            }
            TcpState::Closing if covers(side.fin_seq) => {
                Some((TcpState::TimeWait, Cause::ReceivedAckOfFin))
            }
            TcpState::LastAck if covers(side.fin_seq) => {
                Some((TcpState::Closed, Cause::ReceivedAckOfFin))
            }
            _ => None,
        };
        if let Some((state, cause)) = new_state {
            side.state = state;
            record(changes, receiver, cause);
        }
    }

    fn apply_fin(&mut self, seg: &StateSegment, sender: Endpoint, changes: &mut [Change; 2]) {
        let receiver = sender.peer();
        let syn_len = u32::from(seg.flags.contains(TcpFlags::SYN));
        // Sequence numbers advance modulo 2^32.
        let fin_seq = seg
            .seq
            .advance(u64::from(seg.payload_len))
            .advance(u64::from(syn_len));

        let sender_side = self.side_mut(sender);
        if !sender_side.state.has_sent_fin() {
            sender_side.fin_seq = Some(fin_seq);
        }
        let new_sender_state = match sender_side.state {
            TcpState::Established | TcpState::SynReceived => Some(TcpState::FinWait1),
            TcpState::CloseWait => Some(TcpState::LastAck),
            _ => None,
        };

        let receiver_side = self.side_mut(receiver);
        // A FIN sent from CLOSE_WAIT acknowledges the peer's FIN; when it does not, the sender
        // had not yet received that FIN: the FINs crossed and this is a simultaneous close.
        let acks_peer_fin = seg.flags.contains(TcpFlags::ACK)
            && receiver_side
                .fin_seq
                .is_some_and(|fin| seg.ack.distance_from(fin) > 0);
        let new_sender_state = match new_sender_state {
            Some(TcpState::LastAck) if !acks_peer_fin => {
                Some((TcpState::Closing, Cause::SentFinCrossingPeerFin))
            }
            other => other.map(|state| (state, Cause::SentFin)),
        };
        if let Some((state, cause)) = new_sender_state {
            self.side_mut(sender).state = state;
            record(changes, sender, cause);
        }

        let receiver_side = self.side_mut(receiver);
        let new_receiver_state = match receiver_side.state {
            TcpState::Established | TcpState::SynReceived => Some(TcpState::CloseWait),
            TcpState::FinWait1 => Some(TcpState::Closing),
            TcpState::FinWait2 => Some(TcpState::TimeWait),
            _ => None,
        };
        if let Some(state) = new_receiver_state {
            receiver_side.state = state;
            // FIN_WAIT_1 -> FIN_WAIT_2 (this segment's ACK) -> TIME_WAIT is one step for a learner.
            let index = endpoint_index(receiver);
            let acked_first = changes
                .get(index)
                .is_some_and(|c| c.cause == Some(Cause::ReceivedAckOfFin));
            let cause = if acked_first {
                Cause::ReceivedFinAndAck
            } else {
                Cause::ReceivedFin
            };
            record(changes, receiver, cause);
        }
    }
}

const fn endpoint_index(endpoint: Endpoint) -> usize {
    match endpoint {
        Endpoint::Client => 0,
        Endpoint::Server => 1,
    }
}

/// Notes the latest cause of an endpoint's change; its starting state stays recorded.
fn record(changes: &mut [Change; 2], endpoint: Endpoint, cause: Cause) {
    if let Some(change) = changes.get_mut(endpoint_index(endpoint)) {
        change.cause = Some(cause);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{ClientToServer as C2S, ServerToClient as S2C};
    use TcpState::*;

    const CLIENT_ISN: u32 = 1000;
    const SERVER_ISN: u32 = 5000;

    /// Builds a segment; `seq` and `ack` are absolute.
    fn seg(dir: Direction, flags: TcpFlags, seq: u32, ack: u32, len: u32) -> StateSegment {
        StateSegment {
            dir,
            flags,
            seq: SeqNumber(seq),
            ack: SeqNumber(ack),
            payload_len: len,
        }
    }

    const SYN: TcpFlags = TcpFlags::SYN;
    const ACK: TcpFlags = TcpFlags::ACK;
    const FIN: TcpFlags = TcpFlags::FIN;
    const RST: TcpFlags = TcpFlags::RST;

    /// Feeds segments and returns the snapshot after each.
    fn run(tracker: &mut Tracker, segs: &[StateSegment]) -> Vec<(TcpState, TcpState)> {
        segs.iter()
            .map(|s| {
                let step = tracker.observe(s);
                (step.after.client, step.after.server)
            })
            .collect()
    }

    fn handshake() -> Vec<StateSegment> {
        vec![
            seg(C2S, SYN, CLIENT_ISN, 0, 0),
            seg(S2C, SYN | ACK, SERVER_ISN, CLIENT_ISN + 1, 0),
            seg(C2S, ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 0),
        ]
    }

    #[test]
    fn starts_with_client_closed_and_server_listening() {
        let tracker = Tracker::new();
        assert_eq!(
            tracker.snapshot().to_string(),
            "client CLOSED, server LISTEN"
        );
    }

    #[test]
    fn normal_open_and_close() {
        let mut t = Tracker::new();
        let mut segs = handshake();
        segs.extend([
            // The client sends 10 bytes, the server acknowledges them.
            seg(C2S, ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 10),
            seg(S2C, ACK, SERVER_ISN + 1, CLIENT_ISN + 11, 0),
            // Active close by the client.
            seg(C2S, FIN | ACK, CLIENT_ISN + 11, SERVER_ISN + 1, 0),
            seg(S2C, ACK, SERVER_ISN + 1, CLIENT_ISN + 12, 0),
            seg(S2C, FIN | ACK, SERVER_ISN + 1, CLIENT_ISN + 12, 0),
            seg(C2S, ACK, CLIENT_ISN + 12, SERVER_ISN + 2, 0),
        ]);
        let states = run(&mut t, &segs);
        assert_eq!(
            states,
            vec![
                (SynSent, SynReceived),
                (Established, SynReceived),
                (Established, Established),
                (Established, Established),
                (Established, Established),
                (FinWait1, CloseWait),
                (FinWait2, CloseWait),
                (TimeWait, LastAck),
                (TimeWait, Closed),
            ]
        );
        assert!(!t.is_mid_stream());
    }

    #[test]
    fn a_connection_is_finished_when_both_fins_are_acknowledged_or_on_a_reset() {
        let finished = |client, server| Snapshot { client, server }.is_finished();
        assert!(!finished(Closed, Listen));
        assert!(!finished(Established, Established));
        assert!(!finished(TimeWait, LastAck));
        assert!(finished(TimeWait, Closed));
        assert!(finished(Closed, TimeWait));
        assert!(finished(TimeWait, TimeWait));
        assert!(finished(ClosedByReset, ClosedByReset));
        assert!(finished(SynSent, ClosedByReset));
    }

    #[test]
    fn transitions_carry_causes_and_sentences() {
        let mut t = Tracker::new();
        let step = t.observe(&seg(C2S, SYN, CLIENT_ISN, 0, 0));
        let client = step.client.unwrap();
        assert_eq!(
            (client.from, client.to, client.cause),
            (Closed, SynSent, Cause::SentSyn)
        );
        assert_eq!(
            client.explanation(),
            "The client sent a SYN to open a connection and waits in SYN_SENT for the server's SYN-ACK."
        );
        let server = step.server.unwrap();
        assert_eq!((server.from, server.to), (Listen, SynReceived));
        assert!(server
            .explanation()
            .starts_with("The server received a SYN"));
        assert_eq!(step.transitions().count(), 2);
        // A retransmitted SYN changes nothing.
        let again = t.observe(&seg(C2S, SYN, CLIENT_ISN, 0, 0));
        assert_eq!(again.transitions().count(), 0);
    }

    #[test]
    fn fin_ack_in_one_segment_goes_from_fin_wait_1_to_time_wait() {
        let mut t = Tracker::new();
        run(&mut t, &handshake());
        t.observe(&seg(C2S, FIN | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 0));
        // The server's FIN also acknowledges the client's FIN.
        let step = t.observe(&seg(S2C, FIN | ACK, SERVER_ISN + 1, CLIENT_ISN + 2, 0));
        assert_eq!((step.after.client, step.after.server), (TimeWait, LastAck));
        let client = step.client.unwrap();
        assert_eq!(
            (client.from, client.to, client.cause),
            (FinWait1, TimeWait, Cause::ReceivedFinAndAck)
        );
        let server = step.server.unwrap();
        assert_eq!((server.from, server.to), (CloseWait, LastAck));
        assert!(server.explanation().contains("last ACK"));
    }

    #[test]
    fn simultaneous_close_passes_through_closing() {
        let mut t = Tracker::new();
        run(&mut t, &handshake());
        let states = run(
            &mut t,
            &[
                // Both FINs cross on the wire: neither acknowledges the other's FIN.
                seg(C2S, FIN | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 0),
                seg(S2C, FIN | ACK, SERVER_ISN + 1, CLIENT_ISN + 1, 0),
                seg(C2S, ACK, CLIENT_ISN + 2, SERVER_ISN + 2, 0),
                seg(S2C, ACK, SERVER_ISN + 2, CLIENT_ISN + 2, 0),
            ],
        );
        assert_eq!(
            states,
            vec![
                (FinWait1, CloseWait),
                // The server's FIN does not acknowledge the client's: it was sent before the
                // client's FIN arrived, so both sides are CLOSING.
                (Closing, Closing),
                (Closing, TimeWait),
                (TimeWait, TimeWait),
            ]
        );
        let step = t.observe(&seg(S2C, ACK, SERVER_ISN + 2, CLIENT_ISN + 2, 0));
        assert_eq!(step.transitions().count(), 0);
    }

    #[test]
    fn crossing_fins_are_explained_as_a_simultaneous_close() {
        let mut t = Tracker::new();
        run(&mut t, &handshake());
        t.observe(&seg(C2S, FIN | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 0));
        let step = t.observe(&seg(S2C, FIN | ACK, SERVER_ISN + 1, CLIENT_ISN + 1, 0));
        let server = step.server.unwrap();
        assert_eq!(server.cause, Cause::SentFinCrossingPeerFin);
        assert!(server.explanation().contains("simultaneous close"));
        let client = step.client.unwrap();
        assert_eq!(
            (client.from, client.to, client.cause),
            (FinWait1, Closing, Cause::ReceivedFin)
        );
        assert!(client.explanation().contains("simultaneous close"));
    }

    #[test]
    fn rst_closes_both_sides_and_says_so() {
        let mut t = Tracker::new();
        run(&mut t, &handshake());
        let step = t.observe(&seg(S2C, RST | ACK, SERVER_ISN + 1, CLIENT_ISN + 1, 0));
        assert_eq!(
            (step.after.client, step.after.server),
            (ClosedByReset, ClosedByReset)
        );
        assert_eq!(step.after.client.to_string(), "CLOSED");
        assert_eq!(format!("{:#}", step.after.client), "CLOSED (reset)");
        assert_eq!(step.server.unwrap().cause, Cause::SentRst);
        assert_eq!(step.client.unwrap().cause, Cause::ReceivedRst);
        assert!(step.server.unwrap().explanation().contains("RST"));
        // A second RST changes nothing.
        let again = t.observe(&seg(C2S, RST, CLIENT_ISN + 1, 0, 0));
        assert_eq!(again.transitions().count(), 0);
    }

    #[test]
    fn rst_answering_a_syn_refuses_the_connection() {
        let mut t = Tracker::new();
        t.observe(&seg(C2S, SYN, CLIENT_ISN, 0, 0));
        let step = t.observe(&seg(S2C, RST | ACK, 0, CLIENT_ISN + 1, 0));
        assert_eq!(
            (step.after.client, step.after.server),
            (ClosedByReset, ClosedByReset)
        );
    }

    #[test]
    fn half_close_lets_the_other_side_keep_sending() {
        let mut t = Tracker::new();
        run(&mut t, &handshake());
        let states = run(
            &mut t,
            &[
                // The client closes its direction.
                seg(C2S, FIN | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 0),
                seg(S2C, ACK, SERVER_ISN + 1, CLIENT_ISN + 2, 0),
                // The server still sends 100 bytes, which the client acknowledges.
                seg(S2C, ACK, SERVER_ISN + 1, CLIENT_ISN + 2, 100),
                seg(C2S, ACK, CLIENT_ISN + 2, SERVER_ISN + 101, 0),
                // Then the server closes too.
                seg(S2C, FIN | ACK, SERVER_ISN + 101, CLIENT_ISN + 2, 0),
                seg(C2S, ACK, CLIENT_ISN + 2, SERVER_ISN + 102, 0),
            ],
        );
        assert_eq!(
            states,
            vec![
                (FinWait1, CloseWait),
                (FinWait2, CloseWait),
                (FinWait2, CloseWait),
                (FinWait2, CloseWait),
                (TimeWait, LastAck),
                (TimeWait, Closed),
            ]
        );
    }

    #[test]
    fn an_ack_of_data_before_the_fin_does_not_ack_the_fin() {
        let mut t = Tracker::new();
        run(&mut t, &handshake());
        t.observe(&seg(C2S, ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 50));
        t.observe(&seg(C2S, FIN | ACK, CLIENT_ISN + 51, SERVER_ISN + 1, 0));
        // This ACK covers the 50 data bytes but not the FIN at CLIENT_ISN + 51.
        let step = t.observe(&seg(S2C, ACK, SERVER_ISN + 1, CLIENT_ISN + 51, 0));
        assert_eq!(step.after.client, FinWait1);
        let step = t.observe(&seg(S2C, ACK, SERVER_ISN + 1, CLIENT_ISN + 52, 0));
        assert_eq!(step.after.client, FinWait2);
    }

    #[test]
    fn mid_stream_pickup_starts_established() {
        let mut t = Tracker::new();
        let step = t.observe(&seg(S2C, ACK, 77_000, 12_000, 1400));
        assert!(t.is_mid_stream());
        assert_eq!(
            (step.after.client, step.after.server),
            (Established, Established)
        );
        let client = step.client.unwrap();
        assert_eq!(
            (client.from, client.cause),
            (Closed, Cause::PickedUpMidStream)
        );
        assert_eq!(
            client.explanation(),
            "The capture started after the handshake, so the client is assumed to be ESTABLISHED."
        );
        // A FIN picked up mid-stream then closes normally.
        let step = t.observe(&seg(C2S, FIN | ACK, 12_000, 78_400, 0));
        assert_eq!(
            (step.after.client, step.after.server),
            (FinWait1, CloseWait)
        );
    }

    #[test]
    fn a_fin_as_first_segment_is_a_mid_stream_close() {
        let mut t = Tracker::new();
        let step = t.observe(&seg(C2S, FIN | ACK, 10, 20, 0));
        assert!(t.is_mid_stream());
        assert_eq!(
            (step.after.client, step.after.server),
            (FinWait1, CloseWait)
        );
        assert_eq!(step.client.unwrap().from, Closed);
    }

    #[test]
    fn missed_syn_is_not_mid_stream() {
        let mut t = Tracker::new();
        let states = run(
            &mut t,
            &[
                seg(S2C, SYN | ACK, SERVER_ISN, CLIENT_ISN + 1, 0),
                seg(C2S, ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 0),
            ],
        );
        assert!(!t.is_mid_stream());
        assert_eq!(
            states,
            vec![(Established, SynReceived), (Established, Established)]
        );
    }

    #[test]
    fn simultaneous_open_meets_in_syn_received() {
        let mut t = Tracker::new();
        let states = run(
            &mut t,
            &[
                seg(C2S, SYN, CLIENT_ISN, 0, 0),
                seg(S2C, SYN, SERVER_ISN, 0, 0),
                seg(C2S, SYN | ACK, CLIENT_ISN, SERVER_ISN + 1, 0),
                seg(S2C, SYN | ACK, SERVER_ISN, CLIENT_ISN + 1, 0),
            ],
        );
        assert_eq!(
            states,
            vec![
                (SynSent, SynReceived),
                // Both sides have now sent and received a SYN.
                (SynReceived, SynReceived),
                (SynReceived, Established),
                (Established, Established),
            ]
        );
    }

    #[test]
    fn lost_final_ack_is_inferred_from_the_client_sending() {
        let mut t = Tracker::new();
        t.observe(&seg(C2S, SYN, CLIENT_ISN, 0, 0));
        t.observe(&seg(S2C, SYN | ACK, SERVER_ISN, CLIENT_ISN + 1, 0));
        // The client's data acknowledges the server's SYN: the server is established.
        let step = t.observe(&seg(C2S, ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 20));
        assert_eq!(step.after.server, Established);
        assert_eq!(step.server.unwrap().cause, Cause::ReceivedAckOfSyn);
    }

    #[test]
    fn a_new_syn_after_time_wait_reopens() {
        let mut t = Tracker::new();
        run(&mut t, &handshake());
        run(
            &mut t,
            &[
                seg(C2S, FIN | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 0),
                seg(S2C, FIN | ACK, SERVER_ISN + 1, CLIENT_ISN + 2, 0),
                seg(C2S, ACK, CLIENT_ISN + 2, SERVER_ISN + 2, 0),
            ],
        );
        assert_eq!(
            t.snapshot(),
            Snapshot {
                client: TimeWait,
                server: Closed
            }
        );
        let step = t.observe(&seg(C2S, SYN, 90_000, 0, 0));
        assert_eq!(
            (step.after.client, step.after.server),
            (SynSent, SynReceived)
        );
    }

    #[test]
    fn every_state_has_its_rfc_name() {
        let names: Vec<_> = [
            Closed,
            Listen,
            SynSent,
            SynReceived,
            Established,
            FinWait1,
            FinWait2,
            CloseWait,
            Closing,
            LastAck,
            TimeWait,
            ClosedByReset,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            names,
            [
                "CLOSED",
                "LISTEN",
                "SYN_SENT",
                "SYN_RECEIVED",
                "ESTABLISHED",
                "FIN_WAIT_1",
                "FIN_WAIT_2",
                "CLOSE_WAIT",
                "CLOSING",
                "LAST_ACK",
                "TIME_WAIT",
                "CLOSED"
            ]
        );
    }
}
