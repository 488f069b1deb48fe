//! Streaming UTF-8 validation for text messages (RFC 6455 §5.6, §8.1).
//!
//! A text message is UTF-8 as a whole, but a character may be split between two frames or two
//! TCP chunks. [`Utf8Validator`] keeps at most three bytes of an unfinished character between
//! calls, so it needs no copy of the message and its memory is constant.

use thiserror::Error;

/// The message is not valid UTF-8 (RFC 6455 §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("invalid UTF-8 at byte {message_offset} of the message (RFC 6455 §8.1)")]
pub struct Utf8Error {
    /// The offset, from the start of the message data, of the first byte of the bad sequence.
    pub message_offset: u64,
}

/// Validates a byte sequence given in pieces.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// Bytes of a character that is not complete yet.
    pending: [u8; 4],
    /// How many bytes of `pending` are used.
    n_pending: usize,
    /// The message offset of `pending[0]`.
    pending_offset: u64,
    /// The message offset of the next byte to be pushed.
    next_offset: u64,
    /// The first error found; later input is not examined.
    error: Option<Utf8Error>,
}

impl Utf8Validator {
    /// Checks the next piece of the message.
    ///
    /// Returns the error once, at the call that finds it; later calls return `Ok` and do nothing.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Utf8Error> {
        if self.error.is_some() {
            return Ok(());
        }
        let result = self.check(bytes);
        self.next_offset = self.next_offset.saturating_add(bytes.len() as u64);
        if let Err(error) = result {
            self.error = Some(error);
        }
        result
    }

    /// Declares the end of the message: an unfinished character is an error.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        if self.error.is_some() || self.n_pending == 0 {
            return Ok(());
        }
        let error = Utf8Error {
            message_offset: self.pending_offset,
        };
        self.error = Some(error);
        self.n_pending = 0;
        Err(error)
    }

    /// The first error found so far.
    pub fn error(&self) -> Option<Utf8Error> {
        self.error
    }

    /// The message offset where the unfinished character starts, if there is one.
    pub fn pending_offset(&self) -> Option<u64> {
        (self.n_pending > 0).then_some(self.pending_offset)
    }

    fn check(&mut self, bytes: &[u8]) -> Result<(), Utf8Error> {
        let mut input = bytes;
        let mut base = self.next_offset;
        if self.n_pending > 0 {
            let width = self
                .pending
                .first()
                .map_or(0, |&lead| char_width(lead))
                .clamp(self.n_pending, 4);
            let take = width.saturating_sub(self.n_pending).min(input.len());
            let (head, rest) = input.split_at(take);
            for (slot, byte) in self
                .pending
                .iter_mut()
                .skip(self.n_pending)
                .zip(head.iter())
            {
                *slot = *byte;
            }
            self.n_pending = self.n_pending.saturating_add(take);
            let sequence = self.pending.get(..self.n_pending).unwrap_or_default();
            match std::str::from_utf8(sequence) {
                Ok(_) => self.n_pending = 0,
                Err(error) if error.error_len().is_none() && self.n_pending < width => {
                    // Still a valid beginning of a character: wait for more bytes.
                    return Ok(());
                }
                Err(_) => {
                    return Err(Utf8Error {
                        message_offset: self.pending_offset,
                    })
                }
            }
            input = rest;
            base = base.saturating_add(take as u64);
        }
        match std::str::from_utf8(input) {
            Ok(_) => Ok(()),
            Err(error) => {
                let valid = error.valid_up_to();
                let offset = base.saturating_add(valid as u64);
                match error.error_len() {
                    Some(_) => Err(Utf8Error {
                        message_offset: offset,
                    }),
                    None => {
                        let tail = input.get(valid..).unwrap_or_default();
                        for (slot, byte) in self.pending.iter_mut().zip(tail.iter()) {
                            *slot = *byte;
                        }
                        self.n_pending = tail.len().min(4);
                        self.pending_offset = offset;
                        Ok(())
                    }
                }
            }
        }
    }
}

/// The length of the character that a lead byte starts, or 0 when it cannot start one.
const fn char_width(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn validate_in_pieces(bytes: &[u8], cuts: &[usize]) -> Result<(), Utf8Error> {
        let mut validator = Utf8Validator::default();
        let mut start = 0;
        let mut first_error = None;
        for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
            let cut = cut.clamp(start, bytes.len());
            if let Err(error) = validator.push(&bytes[start..cut]) {
                first_error.get_or_insert(error);
            }
            start = cut;
        }
        if let Err(error) = validator.finish() {
            first_error.get_or_insert(error);
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    #[test]
    fn character_split_across_pieces_is_valid() {
        // "€" is E2 82 AC; every split of "a€b" is valid.
        let text = "a€b".as_bytes();
        for cut in 0..=text.len() {
            assert_eq!(validate_in_pieces(text, &[cut]), Ok(()), "cut {cut}");
        }
        // Byte by byte.
        let cuts: Vec<usize> = (1..text.len()).collect();
        assert_eq!(validate_in_pieces(text, &cuts), Ok(()));
    }

    #[test]
    fn invalid_byte_is_located() {
        let bytes = b"Hel\xFFlo";
        assert_eq!(
            validate_in_pieces(bytes, &[2]),
            Err(Utf8Error { message_offset: 3 })
        );
    }

    #[test]
    fn bad_continuation_after_split_is_located_at_the_lead_byte() {
        // E2 82 then 'x': the sequence starting at offset 1 is broken.
        let bytes = b"a\xE2\x82x";
        assert_eq!(
            validate_in_pieces(bytes, &[2]),
            Err(Utf8Error { message_offset: 1 })
        );
    }

    #[test]
    fn unfinished_character_at_the_end_is_an_error() {
        let bytes = b"ok\xF0\x9F";
        assert_eq!(
            validate_in_pieces(bytes, &[3]),
            Err(Utf8Error { message_offset: 2 })
        );
    }

    #[test]
    fn surrogates_and_overlong_forms_are_rejected_even_when_split() {
        // ED A0 80 encodes a surrogate; C0 80 is an overlong NUL.
        assert!(validate_in_pieces(b"\xED\xA0\x80", &[1]).is_err());
        assert!(validate_in_pieces(b"\xED\xA0\x80", &[2]).is_err());
        assert!(validate_in_pieces(b"\xC0\x80", &[1]).is_err());
        assert!(validate_in_pieces(b"\xF4\x90\x80\x80", &[1]).is_err());
    }

    #[test]
    fn error_is_reported_once() {
        let mut validator = Utf8Validator::default();
        assert!(validator.push(b"\xFF").is_err());
        assert_eq!(validator.push(b"\xFF"), Ok(()));
        assert_eq!(validator.finish(), Ok(()));
        assert_eq!(validator.error(), Some(Utf8Error { message_offset: 0 }));
    }

    proptest! {
        #[test]
        fn pieces_agree_with_whole_validation(
            bytes in proptest::collection::vec(any::<u8>(), 0..40),
            cuts in proptest::collection::vec(0usize..40, 0..6),
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let whole = std::str::from_utf8(&bytes);
            let pieces = validate_in_pieces(&bytes, &cuts);
            match whole {
                Ok(_) => prop_assert_eq!(pieces, Ok(())),
                Err(error) => prop_assert_eq!(
                    pieces,
                    Err(Utf8Error { message_offset: error.valid_up_to() as u64 })
                ),
            }
        }

        #[test]
        fn valid_text_in_pieces_is_valid(
            text in "\\PC{0,20}",
            cuts in proptest::collection::vec(0usize..80, 0..6),
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            prop_assert_eq!(validate_in_pieces(text.as_bytes(), &cuts), Ok(()));
        }
    }
}
