//! Layer 2: the link-layer header chosen by the capture's link type.
//!
//! Ethernet II and VLAN tags are validated with etherparse; the Linux cooked
//! headers (SLL, SLL2) and BSD loopback are fixed layouts read through their
//! field tables. Every header's byte layout is a table of named ranges, the
//! single source of offsets for both the accessors and the field spans.

use etherparse::{Ethernet2HeaderSlice, SingleVlanHeaderSlice};

use crate::dissect::Protocol;
use crate::source::link_type;

/// EtherType values this decoder acts on.
pub mod ether_type {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN_CTAG: u16 = 0x8100;
    pub const IPV6: u16 = 0x86DD;
    pub const VLAN_STAG: u16 = 0x88A8;
    pub const VLAN_QINQ_OLD: u16 = 0x9100;

    /// A name for well-known EtherTypes.
    pub fn name(value: u16) -> Option<&'static str> {
        Some(match value {
            IPV4 => "IPv4",
            ARP => "ARP",
            VLAN_CTAG => "802.1Q Virtual LAN",
            IPV6 => "IPv6",
            VLAN_STAG => "802.1ad Provider Bridge (Q-in-Q)",
            VLAN_QINQ_OLD => "VLAN double tagging (old)",
            0x8035 => "RARP",
            0x88CC => "LLDP",
            0x8847 => "MPLS unicast",
            0x888E => "802.1X authentication",
            0x88E5 => "MACsec",
            _ => return None,
        })
    }
}

/// Byte layout of an Ethernet II header.
pub mod eth_field {
    use std::ops::Range;
    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const LEN: usize = ETHERTYPE.end;
    /// Frames shorter than this on the wire (without FCS) are padded.
    pub const MIN_FRAME_LEN: usize = 60;
}

/// Byte layout of a VLAN tag (the 4 bytes after the tag's TPID).
pub mod vlan_field {
    use std::ops::Range;
    /// Priority, drop-eligible bit and VLAN ID share these two bytes.
    pub const TCI: Range<usize> = 0..2;
    pub const PCP_MASK: u64 = 0xE000;
    pub const DEI_MASK: u64 = 0x1000;
    pub const VID_MASK: u64 = 0x0FFF;
    pub const ETHERTYPE: Range<usize> = 2..4;
    pub const LEN: usize = ETHERTYPE.end;
}

/// Byte layout of a Linux cooked capture v1 header (link type 113).
pub mod sll_field {
    use std::ops::Range;
    pub const PKTTYPE: Range<usize> = 0..2;
    pub const HATYPE: Range<usize> = 2..4;
    pub const HALEN: Range<usize> = 4..6;
    pub const ADDRESS: Range<usize> = 6..14;
    pub const PROTOCOL: Range<usize> = 14..16;
    pub const LEN: usize = PROTOCOL.end;
}

/// Byte layout of a Linux cooked capture v2 header (link type 276).
pub mod sll2_field {
    use std::ops::Range;
    pub const PROTOCOL: Range<usize> = 0..2;
    pub const RESERVED: Range<usize> = 2..4;
    pub const IFINDEX: Range<usize> = 4..8;
    pub const HATYPE: Range<usize> = 8..10;
    pub const PKTTYPE: Range<usize> = 10..11;
    pub const HALEN: Range<usize> = 11..12;
    pub const ADDRESS: Range<usize> = 12..20;
    pub const LEN: usize = ADDRESS.end;
}

/// Byte layout of the BSD loopback header (link types 0 and 108).
pub mod null_field {
    use std::ops::Range;
    pub const FAMILY: Range<usize> = 0..4;
    pub const LEN: usize = FAMILY.end;
}

/// The link-layer header of a frame.
#[derive(Clone, Debug)]
pub enum Link<'a> {
    Ethernet(Ethernet2HeaderSlice<'a>),
    /// The 16 header bytes of a Linux cooked v1 header.
    LinuxSll(&'a [u8]),
    /// The 20 header bytes of a Linux cooked v2 header.
    LinuxSll2(&'a [u8]),
    /// BSD loopback: the address family, and whether it was stored big-endian.
    Null {
        family: u32,
        big_endian: bool,
    },
    /// No link header: the frame starts with an IP header.
    Raw,
    /// A link type osiscope does not decode; the frame is shown as raw bytes.
    Unknown {
        link_type: u32,
    },
    /// Fewer bytes were captured than the link header needs.
    Truncated {
        protocol: Protocol,
        needed: usize,
    },
}

impl Link<'_> {
    /// The protocol this header belongs to, if it has one.
    pub fn protocol(&self) -> Protocol {
        match self {
            Link::Ethernet(_) => Protocol::Ethernet,
            Link::LinuxSll(_) => Protocol::LinuxSll,
            Link::LinuxSll2(_) => Protocol::LinuxSll2,
            Link::Null { .. } => Protocol::Null,
            Link::Raw | Link::Unknown { .. } => Protocol::Data,
            Link::Truncated { protocol, .. } => *protocol,
        }
    }

    /// Bytes taken by the link header.
    pub fn header_len(&self) -> usize {
        match self {
            Link::Ethernet(_) => eth_field::LEN,
            Link::LinuxSll(_) => sll_field::LEN,
            Link::LinuxSll2(_) => sll2_field::LEN,
            Link::Null { .. } => null_field::LEN,
            Link::Raw | Link::Unknown { .. } | Link::Truncated { .. } => 0,
        }
    }
}

/// A VLAN tag: where it starts (its TPID) and its four bytes after the TPID.
#[derive(Clone, Debug)]
pub struct Vlan<'a> {
    /// Offset of the tag's 4 bytes (TCI and inner EtherType).
    pub offset: usize,
    /// The TPID that announced the tag (0x8100, 0x88A8 or 0x9100).
    pub tpid: u16,
    pub header: SingleVlanHeaderSlice<'a>,
}

/// Reads a big-endian u16 at `range`; zero when out of bounds.
pub(crate) fn be16(data: &[u8], range: std::ops::Range<usize>) -> u16 {
    data.get(range)
        .and_then(|bytes| <[u8; 2]>::try_from(bytes).ok())
        .map_or(0, u16::from_be_bytes)
}

/// Reads a big-endian u32 at `range`; zero when out of bounds.
pub(crate) fn be32(data: &[u8], range: std::ops::Range<usize>) -> u32 {
    data.get(range)
        .and_then(|bytes| <[u8; 4]>::try_from(bytes).ok())
        .map_or(0, u32::from_be_bytes)
}

/// Whether this EtherType announces a VLAN tag.
pub fn is_vlan(value: u16) -> bool {
    matches!(
        value,
        ether_type::VLAN_CTAG | ether_type::VLAN_STAG | ether_type::VLAN_QINQ_OLD
    )
}

/// Decodes a VLAN tag whose 4 bytes start at `offset`; `Err(needed)` if cut short.
pub fn decode_vlan(data: &[u8], offset: usize, tpid: u16) -> Result<Vlan<'_>, usize> {
    let rest = data.get(offset..).unwrap_or(&[]);
    SingleVlanHeaderSlice::from_slice(rest)
        .map(|header| Vlan {
            offset,
            tpid,
            header,
        })
        .map_err(|_| vlan_field::LEN)
}

/// Decodes the link header for `link_type`; returns it and, when a network
/// payload follows, its EtherType and offset.
pub fn decode(link: u32, data: &[u8]) -> (Link<'_>, Option<(u16, usize)>) {
    let truncated = |protocol, needed| (Link::Truncated { protocol, needed }, None);
    match link {
        link_type::ETHERNET => match Ethernet2HeaderSlice::from_slice(data) {
            Ok(header) => {
                let next = header.ether_type().0;
                (Link::Ethernet(header), Some((next, eth_field::LEN)))
            }
            Err(_) => truncated(Protocol::Ethernet, eth_field::LEN),
        },
        link_type::LINUX_SLL => match data.get(..sll_field::LEN) {
            Some(header) => {
                let protocol = be16(data, sll_field::PROTOCOL);
                (Link::LinuxSll(header), Some((protocol, sll_field::LEN)))
            }
            None => truncated(Protocol::LinuxSll, sll_field::LEN),
        },
        link_type::LINUX_SLL2 => match data.get(..sll2_field::LEN) {
            Some(header) => {
                let protocol = be16(data, sll2_field::PROTOCOL);
                (Link::LinuxSll2(header), Some((protocol, sll2_field::LEN)))
            }
            None => truncated(Protocol::LinuxSll2, sll2_field::LEN),
        },
        link_type::NULL | link_type::LOOP => {
            let Some(bytes) = data
                .get(null_field::FAMILY)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
            else {
                return truncated(Protocol::Null, null_field::LEN);
            };
            // LOOP is always big-endian; NULL uses the capturing host's order,
            // and a real family number is small, so the order that gives a
            // small number is the one that was used.
            let big = u32::from_be_bytes(bytes);
            let little = u32::from_le_bytes(bytes);
            let big_endian = link == link_type::LOOP || big <= little;
            let family = if big_endian { big } else { little };
            let next = match family {
                2 => Some((ether_type::IPV4, null_field::LEN)),
                10 | 24 | 28 | 30 => Some((ether_type::IPV6, null_field::LEN)),
                _ => None,
            };
            (Link::Null { family, big_endian }, next)
        }
        link_type::RAW | link_type::RAW_BSD | link_type::IPV4 | link_type::IPV6 => {
            let next = match data.first().map(|b| b >> 4) {
                Some(4) => Some((ether_type::IPV4, 0)),
                Some(6) => Some((ether_type::IPV6, 0)),
                _ => None,
            };
            (Link::Raw, next)
        }
        other => (Link::Unknown { link_type: other }, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Ethernet II: dst 02:00:00:00:00:02, src 02:00:00:00:00:01, type IPv4.
    static ETH: [u8; 14] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];

    #[test]
    fn ethernet_header_gives_ethertype_and_offset() {
        let (link, next) = decode(link_type::ETHERNET, &ETH);
        assert!(matches!(link, Link::Ethernet(_)));
        assert_eq!(next, Some((ether_type::IPV4, 14)));
    }

    #[test]
    fn truncated_ethernet_reports_needed_len() {
        for len in 0..ETH.len() {
            let (link, next) = decode(link_type::ETHERNET, &ETH[..len]);
            assert!(
                matches!(link, Link::Truncated { needed: 14, .. }),
                "len {len}"
            );
            assert_eq!(next, None);
        }
    }

    #[test]
    fn sll_v1_reads_protocol() {
        // Packet type 0 (to us), ARPHRD_ETHER, address length 6, address, IPv6.
        let sll = [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x86, 0xdd, 0x60];
        let (link, next) = decode(link_type::LINUX_SLL, &sll);
        assert!(matches!(link, Link::LinuxSll(_)));
        assert_eq!(next, Some((ether_type::IPV6, 16)));
    }

    #[test]
    fn sll_v2_reads_protocol() {
        // Protocol IPv4, reserved, ifindex 2, ARPHRD_ETHER, outgoing, length 6, address.
        let sll2 = [
            0x08, 0, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0,
        ];
        let (link, next) = decode(link_type::LINUX_SLL2, &sll2);
        assert!(matches!(link, Link::LinuxSll2(_)));
        assert_eq!(next, Some((ether_type::IPV4, 20)));
        assert!(matches!(
            decode(link_type::LINUX_SLL2, &sll2[..19]).0,
            Link::Truncated { needed: 20, .. }
        ));
    }

    #[test]
    fn null_family_in_either_byte_order() {
        let little = [2, 0, 0, 0, 0x45];
        let (link, next) = decode(link_type::NULL, &little);
        assert!(matches!(
            link,
            Link::Null {
                family: 2,
                big_endian: false
            }
        ));
        assert_eq!(next, Some((ether_type::IPV4, 4)));
        let big = [0, 0, 0, 30, 0x60];
        let (link, next) = decode(link_type::LOOP, &big);
        assert!(matches!(
            link,
            Link::Null {
                family: 30,
                big_endian: true
            }
        ));
        assert_eq!(next, Some((ether_type::IPV6, 4)));
    }

    #[test]
    fn raw_ip_uses_version_nibble() {
        assert_eq!(
            decode(link_type::RAW, &[0x45]).1,
            Some((ether_type::IPV4, 0))
        );
        assert_eq!(
            decode(link_type::IPV6, &[0x60]).1,
            Some((ether_type::IPV6, 0))
        );
        assert_eq!(decode(link_type::RAW, &[0x10]).1, None);
        assert_eq!(decode(link_type::RAW, &[]).1, None);
    }

    #[test]
    fn unknown_link_type_is_not_an_error() {
        let (link, next) = decode(147, &[1, 2, 3]);
        assert!(matches!(link, Link::Unknown { link_type: 147 }));
        assert_eq!(next, None);
    }

    #[test]
    fn vlan_tag_decodes_and_truncation_is_reported() {
        // TCI: PCP 3, DEI 0, VID 100; inner type IPv4.
        let tag = [0x60, 0x64, 0x08, 0x00];
        let vlan = decode_vlan(&tag, 0, ether_type::VLAN_CTAG).unwrap();
        assert_eq!(vlan.header.vlan_identifier().value(), 100);
        assert_eq!(vlan.header.ether_type().0, ether_type::IPV4);
        assert_eq!(
            decode_vlan(&tag[..3], 0, ether_type::VLAN_CTAG).err(),
            Some(4)
        );
    }
}
