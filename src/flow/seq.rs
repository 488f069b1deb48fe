//! TCP sequence numbers as a type: the modular 2^32 sequence space with wrap-aware ordering.
//!
//! TCP numbers every byte (plus the SYN and FIN flags) with a 32-bit counter that wraps around.
//! Two sequence numbers are compared by their wrapping difference read as a signed 32-bit value
//! (serial number arithmetic, RFC 1982 style): `a` is after `b` when `a - b`, taken modulo 2^32,
//! lies in `1..2^31`.
//! This order only means something for numbers less than 2^31 apart, so `SeqNumber` implements
//! `PartialOrd` but not `Ord`, and two numbers exactly 2^31 apart are incomparable.
//! Never use it as a key of an ordered collection: convert to a 64-bit stream offset first.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A TCP sequence (or acknowledgement) number in the modular 2^32 space.
///
/// `seq + n` wraps, `a - b` is the signed distance from `b` to `a` (an `i32`), and `<`/`>` are
/// wrap-aware.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct SeqNumber(pub u32);

/// A sequence number shown relative to the initial sequence number, as Wireshark shows it.
///
/// Built by [`SeqNumber::relative_to_isn`]; its `Display` prints the forward distance from the ISN
/// (the SYN has relative number 0 and the first data byte relative number 1).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RelativeSeq {
    /// The sequence number being shown.
    pub seq: SeqNumber,
    /// The initial sequence number it is measured from.
    pub isn: SeqNumber,
}

impl SeqNumber {
    /// Half of the sequence space: numbers this far apart are incomparable.
    pub const HALF_SPACE: u32 = 1 << 31;

    /// Returns the raw 32-bit value as carried on the wire.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Returns the signed distance from `earlier` to `self` (positive when `self` is after it).
    ///
    /// Numbers exactly 2^31 apart give `i32::MIN`.
    pub const fn distance_from(self, earlier: SeqNumber) -> i32 {
        // Reinterpreting the wrapped difference as two's complement is the definition of the order.
        i32::from_ne_bytes(self.0.wrapping_sub(earlier.0).to_ne_bytes())
    }

    /// Returns the forward distance from `base` to `self`, modulo 2^32.
    pub const fn forward_from(self, base: SeqNumber) -> u32 {
        self.0.wrapping_sub(base.0)
    }

    /// Returns `self` plus `n`, modulo 2^32.
    pub const fn wrapping_add(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }

    /// Returns `self` minus `n`, modulo 2^32.
    pub const fn wrapping_sub(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(n))
    }

    /// Returns `self` advanced by `n`, modulo 2^32 (only the low 32 bits of `n` matter).
    pub const fn advance(self, n: u64) -> SeqNumber {
        // Truncation is the modular reduction: 2^32 divides every higher bit of `n`.
        let low = (n & 0xFFFF_FFFF) as u32;
        SeqNumber(self.0.wrapping_add(low))
    }

    /// Returns a value whose `Display` prints `self` relative to `isn`.
    pub const fn relative_to_isn(self, isn: SeqNumber) -> RelativeSeq {
        RelativeSeq { seq: self, isn }
    }
}

impl From<u32> for SeqNumber {
    fn from(raw: u32) -> Self {
        SeqNumber(raw)
    }
}

impl From<SeqNumber> for u32 {
    fn from(seq: SeqNumber) -> Self {
        seq.0
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.0.wrapping_sub(other.0) {
            0 => Some(Ordering::Equal),
            Self::HALF_SPACE => None,
            d if d < Self::HALF_SPACE => Some(Ordering::Greater),
            _ => Some(Ordering::Less),
        }
    }
}

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;

    fn add(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }
}

impl AddAssign<u32> for SeqNumber {
    fn add_assign(&mut self, n: u32) {
        self.0 = self.0.wrapping_add(n);
    }
}

impl Sub<u32> for SeqNumber {
    type Output = SeqNumber;

    fn sub(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(n))
    }
}

impl Sub<SeqNumber> for SeqNumber {
    type Output = i32;

    /// Returns the signed wrap-aware distance `self - earlier`, as [`SeqNumber::distance_from`].
    fn sub(self, earlier: SeqNumber) -> i32 {
        self.distance_from(earlier)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for RelativeSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.seq.forward_from(self.isn))
    }
}

#[cfg(test)]
#[allow(
    clippy::arithmetic_side_effects,
    reason = "test arithmetic on known small values"
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn addition_wraps_past_the_top_of_the_space() {
        // 0xFFFF_FFF0 + 0x20 crosses 2^32 and lands on 0x10.
        assert_eq!(SeqNumber(0xFFFF_FFF0) + 0x20, SeqNumber(0x10));
        let mut s = SeqNumber(u32::MAX);
        s += 1;
        assert_eq!(s, SeqNumber(0));
        assert_eq!(SeqNumber(5) - 10, SeqNumber(0xFFFF_FFFB));
    }

    #[test]
    fn advance_uses_only_the_low_32_bits() {
        assert_eq!(SeqNumber(7).advance(1 << 32), SeqNumber(7));
        assert_eq!(SeqNumber(0xFFFF_FFFF).advance((1 << 33) + 2), SeqNumber(1));
    }

    #[test]
    fn ordering_is_wrap_aware() {
        // 0x10 comes after 0xFFFF_FFF0 because it is 0x20 bytes further on.
        assert!(SeqNumber(0x10) > SeqNumber(0xFFFF_FFF0));
        assert!(SeqNumber(0xFFFF_FFF0) < SeqNumber(0x10));
        assert_eq!(SeqNumber(0x10) - SeqNumber(0xFFFF_FFF0), 0x20);
        assert_eq!(SeqNumber(0xFFFF_FFF0) - SeqNumber(0x10), -0x20);
    }

    #[test]
    fn numbers_half_the_space_apart_are_incomparable() {
        let a = SeqNumber(3);
        let b = SeqNumber(3 + SeqNumber::HALF_SPACE);
        assert_eq!(a.partial_cmp(&b), None);
        assert_eq!(b.partial_cmp(&a), None);
        // Neither is before the other, and they are not equal.
        let (before, after) = (a < b, a > b);
        assert!(!before && !after && a != b);
        assert_eq!(b - a, i32::MIN);
    }

    #[test]
    fn relative_display_counts_from_the_isn() {
        let isn = SeqNumber(0xFFFF_FFFE);
        // The SYN is relative 0, the first data byte relative 1, and wrapping does not show.
        assert_eq!(isn.relative_to_isn(isn).to_string(), "0");
        assert_eq!((isn + 1).relative_to_isn(isn).to_string(), "1");
        assert_eq!((isn + 1000).relative_to_isn(isn).to_string(), "1000");
        assert_eq!(SeqNumber(42).to_string(), "42");
    }

    proptest! {
        #[test]
        fn adding_a_distance_and_subtracting_gives_it_back(
            a in any::<u32>(),
            d in (i32::MIN + 1)..=i32::MAX,
        ) {
            let a = SeqNumber(a);
            let b = SeqNumber(a.0.wrapping_add_signed(d));
            prop_assert_eq!(b - a, d);
            prop_assert_eq!(a - b, -d);
        }

        #[test]
        fn order_follows_the_sign_of_the_distance(
            a in prop_oneof![any::<u32>(), (u32::MAX - 1000)..=u32::MAX],
            n in 1u32..SeqNumber::HALF_SPACE,
        ) {
            let a = SeqNumber(a);
            let b = a + n;
            prop_assert!(b > a);
            prop_assert!(a < b);
            prop_assert_eq!(a.partial_cmp(&b), b.partial_cmp(&a).map(Ordering::reverse));
            prop_assert_eq!(b.forward_from(a), n);
            prop_assert_eq!(a.advance(u64::from(n)), b);
        }

        #[test]
        fn ordering_is_consistent_with_equality(a in any::<u32>(), b in any::<u32>()) {
            let (a, b) = (SeqNumber(a), SeqNumber(b));
            prop_assert_eq!(a.partial_cmp(&b) == Some(Ordering::Equal), a == b);
        }

        #[test]
        fn consecutive_numbers_stay_ordered_across_the_wrap(start in (u32::MAX - 64)..=u32::MAX) {
            // A window of numbers straddling 2^32 is totally ordered by position.
            let base = SeqNumber(start);
            for i in 0u32..128 {
                for j in 0u32..128 {
                    prop_assert_eq!((base + i).partial_cmp(&(base + j)), Some(i.cmp(&j)));
                }
            }
        }
    }
}
