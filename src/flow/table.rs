//! TCP conversations: which connection a segment belongs to, who is client
//! and who is server, and the Wireshark-compatible stream index.
//!
//! A connection is keyed by its two endpoints regardless of direction. The
//! client is the side that sent the first SYN (without ACK); when no SYN was
//! captured the roles are guessed (the side on the lower, well-known port is
//! taken as the server) and marked as guessed. Stream indexes count from 0 in
//! order of first appearance, as `tcp.stream` does; a new SYN on a finished
//! connection's ports starts a new stream.
//!
//! Slots are reused: when the tracker evicts a connection ([`Table::remove`]),
//! its slot is free for the next new one, so the table's size follows the
//! connections held, not the connections seen. Stream indexes are never reused.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use crate::dissect::Timestamp;

/// One end of a TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    /// `10.0.0.1:80`, or `[fd00::1]:80` for IPv6.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(addr) => write!(f, "{addr}:{}", self.port),
            IpAddr::V6(addr) => write!(f, "[{addr}]:{}", self.port),
        }
    }
}

/// Which way a segment travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    /// 0 for client to server, 1 for server to client.
    pub fn index(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }

    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }

    /// `c2s` or `s2c`.
    pub fn short(self) -> &'static str {
        match self {
            Direction::ClientToServer => "c2s",
            Direction::ServerToClient => "s2c",
        }
    }

    /// An arrow for text views.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::ClientToServer => "→",
            Direction::ServerToClient => "←",
        }
    }
}

/// The facts about a segment the table needs to place it.
#[derive(Clone, Copy, Debug)]
pub struct SegmentInfo {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub syn: bool,
    pub ack: bool,
    pub frame: u64,
    pub ts: Timestamp,
}

/// Where a segment landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The connection's slot in the table (not its stream index).
    pub slot: usize,
    pub direction: Direction,
    /// This segment opened a new connection (a new `tcp.stream`).
    pub new: bool,
}

/// The identity of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    /// Wireshark's `tcp.stream`: 0-based, in order of first appearance.
    pub index: u32,
    pub client: Endpoint,
    pub server: Endpoint,
    /// No SYN was seen, so client and server were guessed.
    pub roles_guessed: bool,
    pub first_frame: u64,
    pub first_ts: Timestamp,
}

/// An unordered pair of endpoints, the table's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key(Endpoint, Endpoint);

impl Key {
    fn new(a: Endpoint, b: Endpoint) -> Key {
        if a <= b {
            Key(a, b)
        } else {
            Key(b, a)
        }
    }
}

/// Finds or creates the conversation of each segment.
#[derive(Debug, Default)]
pub struct Table {
    /// Hashed with `foldhash`, seeded per process: cheaper than SipHash on
    /// these small keys (it showed in profiles), and still not predictable
    /// from a capture.
    by_key: HashMap<Key, usize, foldhash::fast::RandomState>,
    /// By slot; `None` for a free slot.
    conversations: Vec<Option<Conversation>>,
    /// Slots whose connection ended; a new SYN on their ports starts a new stream.
    finished: Vec<bool>,
    /// Free slots, reused before the table grows.
    free: Vec<usize>,
    n_streams: u32,
}

impl Table {
    /// A table whose first new conversation gets stream index `first`: for
    /// replaying one connection's frames with the index a full pass gave it.
    pub fn starting_at(first: u32) -> Table {
        Table {
            n_streams: first,
            ..Table::default()
        }
    }

    /// Places a segment in its conversation, creating one when needed.
    pub fn place(&mut self, segment: &SegmentInfo) -> Placement {
        let key = Key::new(segment.src, segment.dst);
        let syn_only = segment.syn && !segment.ack;
        if let Some(&slot) = self.by_key.get(&key) {
            let finished = self.finished.get(slot).copied().unwrap_or(false);
            if let Some(conversation) = self.conversation(slot) {
                let reused = syn_only && (finished || conversation.server == segment.src);
                if !reused {
                    let direction = if conversation.client == segment.src {
                        Direction::ClientToServer
                    } else {
                        Direction::ServerToClient
                    };
                    return Placement {
                        slot,
                        direction,
                        new: false,
                    };
                }
            }
        }
        let (client, server, guessed) = if syn_only {
            (segment.src, segment.dst, false)
        } else if segment.syn {
            // A SYN-ACK comes from the server.
            (segment.dst, segment.src, false)
        } else if segment.dst.port < segment.src.port {
            (segment.src, segment.dst, true)
        } else {
            (segment.dst, segment.src, true)
        };
        let conversation = Conversation {
            index: self.n_streams,
            client,
            server,
            roles_guessed: guessed,
            first_frame: segment.frame,
            first_ts: segment.ts,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(entry) = self.conversations.get_mut(slot) {
                    *entry = Some(conversation);
                }
                if let Some(flag) = self.finished.get_mut(slot) {
                    *flag = false;
                }
                slot
            }
            None => {
                let slot = self.conversations.len();
                self.conversations.push(Some(conversation));
                self.finished.push(false);
                slot
            }
        };
        self.n_streams = self.n_streams.saturating_add(1);
        self.by_key.insert(key, slot);
        let direction = if client == segment.src {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        Placement {
            slot,
            direction,
            new: true,
        }
    }

    /// Marks a connection as ended (both FINs, or a RST): its ports may be reused.
    pub fn finish(&mut self, slot: usize) {
        if let Some(flag) = self.finished.get_mut(slot) {
            *flag = true;
        }
    }

    /// Forgets the connection in a slot and frees the slot. A later segment
    /// on its endpoints starts a new conversation with a new stream index.
    pub fn remove(&mut self, slot: usize) -> Option<Conversation> {
        let conversation = self.conversations.get_mut(slot)?.take()?;
        let key = Key::new(conversation.client, conversation.server);
        // After a port reuse the key already names the newer connection.
        if self.by_key.get(&key) == Some(&slot) {
            self.by_key.remove(&key);
        }
        if let Some(flag) = self.finished.get_mut(slot) {
            *flag = false;
        }
        self.free.push(slot);
        Some(conversation)
    }

    /// The conversation in a slot.
    pub fn conversation(&self, slot: usize) -> Option<&Conversation> {
        self.conversations.get(slot)?.as_ref()
    }

    /// How many conversations are held (slots in use).
    pub fn len(&self) -> usize {
        self.conversations.len().saturating_sub(self.free.len())
    }

    /// Whether no conversation is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stream index the next new conversation will get.
    pub fn next_stream(&self) -> u32 {
        self.n_streams
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// Host 10.0.0.`last`, at a port (shared with the tracker's tests).
    pub(crate) fn ep(last: u8, port: u16) -> Endpoint {
        Endpoint {
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
            port,
        }
    }

    fn seg(src: Endpoint, dst: Endpoint, syn: bool, ack: bool, frame: u64) -> SegmentInfo {
        SegmentInfo {
            src,
            dst,
            syn,
            ack,
            frame,
            ts: Timestamp::default(),
        }
    }

    #[test]
    fn syn_sender_is_the_client() {
        let mut table = Table::default();
        let (c, s) = (ep(1, 40000), ep(2, 80));
        let first = table.place(&seg(c, s, true, false, 1));
        assert!(first.new);
        assert_eq!(first.direction, Direction::ClientToServer);
        let reply = table.place(&seg(s, c, true, true, 2));
        assert_eq!(reply.slot, first.slot);
        assert_eq!(reply.direction, Direction::ServerToClient);
        let conversation = table.conversation(first.slot).unwrap();
        assert_eq!((conversation.client, conversation.server), (c, s));
        assert!(!conversation.roles_guessed);
        assert_eq!(conversation.index, 0);
    }

    #[test]
    fn mid_stream_roles_are_guessed_from_ports() {
        let mut table = Table::default();
        let placed = table.place(&seg(ep(2, 8080), ep(1, 51000), false, true, 1));
        assert_eq!(placed.direction, Direction::ServerToClient);
        let conversation = table.conversation(placed.slot).unwrap();
        assert!(conversation.roles_guessed);
        assert_eq!(conversation.server, ep(2, 8080));
    }

    #[test]
    fn stream_indexes_follow_first_appearance_and_port_reuse() {
        let mut table = Table::default();
        let (c, s) = (ep(1, 40000), ep(2, 80));
        let a = table.place(&seg(c, s, true, false, 1));
        let b = table.place(&seg(ep(3, 1234), s, true, false, 2));
        assert_eq!(table.conversation(b.slot).unwrap().index, 1);
        table.finish(a.slot);
        let again = table.place(&seg(c, s, true, false, 3));
        assert!(again.new);
        assert_eq!(table.conversation(again.slot).unwrap().index, 2);
        // A retransmitted SYN of an open connection is not a new stream.
        let retry = table.place(&seg(c, s, true, false, 4));
        assert!(!retry.new);
    }

    #[test]
    fn removed_slots_are_reused_but_stream_indexes_are_not() {
        let mut table = Table::default();
        let a = table.place(&seg(ep(1, 40000), ep(2, 80), true, false, 1));
        let b = table.place(&seg(ep(3, 40000), ep(2, 80), true, false, 2));
        assert_eq!(table.len(), 2);
        let removed = table.remove(a.slot).unwrap();
        assert_eq!(removed.index, 0);
        assert_eq!(table.len(), 1);
        assert!(table.conversation(a.slot).is_none());
        // A later segment of the removed connection starts a new stream in the freed slot.
        let again = table.place(&seg(ep(2, 80), ep(1, 40000), false, true, 3));
        assert!(again.new);
        assert_eq!(again.slot, a.slot);
        assert_eq!(table.conversation(again.slot).unwrap().index, 2);
        assert!(table.conversation(again.slot).unwrap().roles_guessed);
        assert_eq!(table.conversation(b.slot).unwrap().index, 1);
        assert_eq!(table.next_stream(), 3);
    }

    #[test]
    fn removing_an_old_connection_keeps_the_newer_one_on_its_ports() {
        let mut table = Table::default();
        let (c, s) = (ep(1, 40000), ep(2, 80));
        let old = table.place(&seg(c, s, true, false, 1));
        table.finish(old.slot);
        let new = table.place(&seg(c, s, true, false, 2));
        assert_ne!(old.slot, new.slot);
        table.remove(old.slot);
        let next = table.place(&seg(s, c, true, true, 3));
        assert_eq!(next.slot, new.slot);
        assert!(!next.new);
    }

    #[test]
    fn endpoints_print_like_urls() {
        let v6 = Endpoint {
            addr: "fd77::1".parse().unwrap(),
            port: 8080,
        };
        assert_eq!(v6.to_string(), "[fd77::1]:8080");
        assert_eq!(ep(1, 80).to_string(), "10.0.0.1:80");
    }
}
