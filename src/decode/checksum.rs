//! Internet checksums (RFC 1071): verification with an honest verdict.
//!
//! A checksum is only judged when every byte it covers was captured. Linux
//! hands segments to the NIC with the checksum field holding only the
//! pseudo-header sum when transmit offload is on, so a capture taken on the
//! sending host shows "wrong" checksums that the hardware later fixed; that
//! case is recognised and reported as offloaded, not as corruption.

/// The outcome of checking a checksum field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumStatus {
    /// The field matches the data.
    Good,
    /// The field does not match; `expected` is what it should have been.
    Bad { expected: u16 },
    /// The field holds only the pseudo-header sum: left for the network card
    /// to finish (transmit checksum offload), so it cannot be judged.
    Offloaded,
    /// Not every covered byte was captured, so the field cannot be judged.
    Unverified,
    /// The field is zero, which for UDP over IPv4 means "no checksum".
    Absent,
}

impl ChecksumStatus {
    /// The value tshark gives `*.checksum.status`: 0 bad, 1 good, 2 unverified.
    pub fn tshark_status(self) -> u64 {
        match self {
            ChecksumStatus::Bad { .. } => 0,
            ChecksumStatus::Good => 1,
            ChecksumStatus::Offloaded | ChecksumStatus::Unverified | ChecksumStatus::Absent => 2,
        }
    }

    /// A short phrase for displays.
    pub fn describe(self) -> String {
        match self {
            ChecksumStatus::Good => "correct".to_string(),
            ChecksumStatus::Bad { expected } => format!("incorrect, should be 0x{expected:04x}"),
            ChecksumStatus::Offloaded => {
                "not yet computed: left to the network card (transmit offload)".to_string()
            }
            ChecksumStatus::Unverified => "unverified: not all bytes were captured".to_string(),
            ChecksumStatus::Absent => "none (zero means no checksum)".to_string(),
        }
    }
}

/// A running RFC 1071 sum: big-endian 16-bit words added with end-around carry.
#[derive(Clone, Copy, Debug, Default)]
struct Sum(u16);

impl Sum {
    /// Adds bytes as big-endian 16-bit words; an odd last byte is padded with zero.
    /// The words are summed wide and folded once at the end: ones' complement
    /// addition is associative, and a wide sum lets the compiler add many
    /// words at a time (a segment's payload is most of what is summed).
    fn add(self, bytes: &[u8]) -> Sum {
        // Eight bytes at a time as two 32-bit words: 2^16 is 1 modulo
        // 2^16 - 1, so a 32-bit word counts as its two 16-bit halves.
        let mut blocks = bytes.chunks_exact(8);
        let mut wide: u64 = blocks
            .by_ref()
            .map(|block| {
                let value = u64::from_be_bytes(block.try_into().unwrap_or_default());
                (value >> 32).wrapping_add(value & 0xFFFF_FFFF)
            })
            .fold(0u64, u64::wrapping_add);
        // A block adds less than 2^33: 2^31 blocks (16 GiB) fit in 64 bits, far
        // more than any frame or datagram.
        let mut words = blocks.remainder().chunks_exact(2);
        for word in words.by_ref() {
            if let [hi, lo] = word {
                wide = wide.wrapping_add(u64::from(u16::from_be_bytes([*hi, *lo])));
            }
        }
        if let [last] = words.remainder() {
            wide = wide.wrapping_add(u64::from(u16::from_be_bytes([*last, 0])));
        }
        wide = wide.wrapping_add(u64::from(self.0));
        while wide > 0xFFFF {
            wide = (wide & 0xFFFF).wrapping_add(wide >> 16);
        }
        Sum(u16::try_from(wide).unwrap_or(u16::MAX))
    }

    /// Adds one word with end-around carry, so the sum never leaves 16 bits.
    fn word(self, word: u16) -> Sum {
        let (sum, carry) = self.0.overflowing_add(word);
        // After a carry `sum` is at most 0xFFFE, so adding the carry back cannot wrap.
        Sum(sum.wrapping_add(u16::from(carry)))
    }

    /// The folded 16-bit ones' complement sum (not yet complemented).
    fn folded(self) -> u16 {
        self.0
    }
}

/// Verifies a header checksum covering exactly `bytes` (the IPv4 header, ICMP).
pub fn verify(bytes: &[u8], field: u16) -> ChecksumStatus {
    judge(Sum::default().add(bytes), field)
}

/// A sum over data that includes the checksum field is all ones when correct.
fn judge(total: Sum, field: u16) -> ChecksumStatus {
    if total.folded() == 0xFFFF {
        return ChecksumStatus::Good;
    }
    // Take the field back out to say what it should have been.
    let without = total.word(!field);
    ChecksumStatus::Bad {
        expected: !without.folded(),
    }
}

/// The pseudo-header that TCP, UDP and ICMPv6 checksums cover.
#[derive(Clone, Copy, Debug)]
pub enum Pseudo {
    V4 { src: [u8; 4], dst: [u8; 4] },
    V6 { src: [u8; 16], dst: [u8; 16] },
}

impl Pseudo {
    fn sum(self, protocol: u8, len: u32) -> Sum {
        let sum = match self {
            Pseudo::V4 { src, dst } => Sum::default().add(&src).add(&dst),
            Pseudo::V6 { src, dst } => Sum::default().add(&src).add(&dst),
        };
        sum.add(&[0, protocol]).add(&len.to_be_bytes())
    }
}

/// Verifies a transport checksum over `segment` (header and payload, checksum
/// field included) whose field holds `field`.
pub fn verify_transport(
    pseudo: Pseudo,
    protocol: u8,
    segment: &[u8],
    field: u16,
) -> ChecksumStatus {
    let Ok(len) = u32::try_from(segment.len()) else {
        return ChecksumStatus::Unverified;
    };
    let header = pseudo.sum(protocol, len);
    let status = judge(header.add(segment), field);
    // Offload leaves the pseudo-header sum (not complemented) in the field.
    let partial = header.folded();
    if matches!(status, ChecksumStatus::Bad { .. }) && (field == partial || field == !partial) {
        return ChecksumStatus::Offloaded;
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 as written: one word at a time, with end-around carry.
    fn word_by_word(start: u16, bytes: &[u8]) -> u16 {
        let mut sum = Sum(start);
        let mut words = bytes.chunks_exact(2);
        for word in &mut words {
            if let [hi, lo] = word {
                sum = sum.word(u16::from_be_bytes([*hi, *lo]));
            }
        }
        if let [last] = words.remainder() {
            sum = sum.word(u16::from_be_bytes([*last, 0]));
        }
        sum.folded()
    }

    proptest::proptest! {
        #[test]
        fn the_wide_sum_is_the_word_by_word_sum(
            start: u16,
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
        ) {
            proptest::prop_assert_eq!(Sum(start).add(&bytes).folded(), word_by_word(start, &bytes));
        }
    }

    #[test]
    fn the_wide_sum_keeps_zero_and_all_ones_apart() {
        assert_eq!(Sum::default().add(&[0; 64]).folded(), 0);
        assert_eq!(Sum::default().add(&[0xFF; 64]).folded(), 0xFFFF);
        assert_eq!(
            Sum::default().add(&[0xFF; 3]).folded(),
            word_by_word(0, &[0xFF; 3])
        );
        assert_eq!(Sum(0xFFFF).add(&[0, 1]).folded(), 1);
    }

    // An IPv4 header from RFC 1071-style examples: checksum 0xb861 is correct.
    static IPV4_HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    #[test]
    fn good_header_checksum() {
        assert_eq!(verify(&IPV4_HEADER, 0xb861), ChecksumStatus::Good);
    }

    #[test]
    fn bad_header_checksum_says_expected() {
        let mut header = IPV4_HEADER;
        header[10] = 0x12;
        header[11] = 0x34;
        assert_eq!(
            verify(&header, 0x1234),
            ChecksumStatus::Bad { expected: 0xb861 }
        );
    }

    #[test]
    fn offloaded_transport_checksum_is_recognised() {
        let pseudo = Pseudo::V4 {
            src: [10, 0, 0, 1],
            dst: [10, 0, 0, 2],
        };
        // A UDP header (ports 1 -> 2, length 8) whose field holds the pseudo sum.
        let partial = pseudo.sum(17, 8).folded();
        let [hi, lo] = partial.to_be_bytes();
        let segment = [0, 1, 0, 2, 0, 8, hi, lo];
        assert_eq!(
            verify_transport(pseudo, 17, &segment, partial),
            ChecksumStatus::Offloaded
        );
    }

    #[test]
    fn correct_transport_checksum() {
        let pseudo = Pseudo::V6 {
            src: [0; 16],
            dst: [1; 16],
        };
        let mut segment = [0u8, 1, 0, 2, 0, 8, 0, 0];
        let sum = !pseudo.sum(17, 8).add(&segment).folded();
        segment[6..8].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(
            verify_transport(pseudo, 17, &segment, sum),
            ChecksumStatus::Good
        );
        segment[7] ^= 0xff;
        let field = u16::from_be_bytes([segment[6], segment[7]]);
        assert_eq!(
            verify_transport(pseudo, 17, &segment, field),
            ChecksumStatus::Bad { expected: sum }
        );
    }
}
