//! Payload masking (RFC 6455 §5.3): every client payload byte is XORed with the masking key.
//!
//! Byte `i` of a payload uses `key[i % 4]`. Masking and unmasking are the same operation.
//! Payloads arrive in chunks, so both functions take `key_offset`, the position of `data[0]`
//! within the payload: byte `i` of `data` uses `key[(key_offset + i) % 4]`.
//!
//! [`unmask`] is the plain loop that states the rule; [`unmask_by_word`] does the same work
//! eight bytes at a time and is what the assembler uses. Tests hold them equal.

/// Unmasks (or masks) `data` in place, one byte at a time.
pub fn unmask(data: &mut [u8], key: [u8; 4], key_offset: usize) {
    for (i, byte) in data.iter_mut().enumerate() {
        // Wrapping is modulo 2^64, which 4 divides, so the key index is exact.
        let index = key_offset.wrapping_add(i) % 4;
        if let Some(k) = key.get(index) {
            *byte ^= k;
        }
    }
}

/// Unmasks (or masks) `data` in place, eight bytes at a time.
///
/// The key is first rotated so that it starts at `key_offset`, then repeated twice to fill a
/// 64-bit word. Each eight-byte chunk is read with `from_ne_bytes`, XORed and written back;
/// native byte order is right here because the same order is used for the key and the data.
/// Eight is a multiple of four, so the key lines up again at every chunk, and the tail shorter
/// than eight bytes goes through [`unmask`] with the same offset.
pub fn unmask_by_word(data: &mut [u8], key: [u8; 4], key_offset: usize) {
    let rotated = rotate_key(key, key_offset);
    let [a, b, c, d] = rotated;
    let key_word = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        if let Ok(bytes) = <[u8; 8]>::try_from(&*chunk) {
            let word = u64::from_ne_bytes(bytes) ^ key_word;
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
    }
    // The tail starts at a multiple of eight, so `rotated` with offset 0 lines up with it.
    unmask(chunks.into_remainder(), rotated, 0);
}

/// The key as seen from payload position `key_offset`: `rotated[i] == key[(key_offset + i) % 4]`.
pub fn rotate_key(key: [u8; 4], key_offset: usize) -> [u8; 4] {
    let mut rotated = key;
    rotated.rotate_left(key_offset % 4);
    rotated
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

    /// RFC 6455 §5.7: the masking key of the masked "Hello" example.
    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    /// RFC 6455 §5.7: "Hello" masked with [`KEY`].
    const MASKED_HELLO: [u8; 5] = [0x7f, 0x9f, 0x4d, 0x51, 0x58];

    #[test]
    fn rfc_masked_hello_unmasks() {
        let mut data = MASKED_HELLO;
        unmask(&mut data, KEY, 0);
        assert_eq!(&data, b"Hello");
        let mut data = MASKED_HELLO;
        unmask_by_word(&mut data, KEY, 0);
        assert_eq!(&data, b"Hello");
    }

    #[test]
    fn unmasking_continues_across_chunks() {
        let mut data = MASKED_HELLO;
        let (first, second) = data.split_at_mut(3);
        unmask_by_word(first, KEY, 0);
        unmask_by_word(second, KEY, 3);
        assert_eq!(&data, b"Hello");
    }

    #[test]
    fn masking_twice_restores_the_data() {
        let original: Vec<u8> = (0u8..=255).collect();
        let mut data = original.clone();
        unmask_by_word(&mut data, KEY, 1);
        assert_ne!(data, original);
        unmask_by_word(&mut data, KEY, 1);
        assert_eq!(data, original);
    }

    #[test]
    fn word_version_matches_plain_loop_for_every_length_and_offset() {
        let source: Vec<u8> = (0u8..64)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect();
        for len in 0..64 {
            for offset in 0..8 {
                let mut plain = source[..len].to_vec();
                let mut word = plain.clone();
                unmask(&mut plain, KEY, offset);
                unmask_by_word(&mut word, KEY, offset);
                assert_eq!(plain, word, "len {len} offset {offset}");
                // Byte i uses key[(offset + i) % 4].
                for (i, byte) in plain.iter().enumerate() {
                    assert_eq!(*byte, source[i] ^ KEY[(offset + i) % 4]);
                }
            }
        }
    }

    #[test]
    fn huge_offset_does_not_overflow() {
        let mut data = [0u8; 3];
        unmask(&mut data, KEY, usize::MAX);
        // usize::MAX % 4 == 3, so the bytes use key[3], key[0], key[1].
        assert_eq!(data, [KEY[3], KEY[0], KEY[1]]);
    }

    proptest! {
        #[test]
        fn split_anywhere_gives_the_same_result(
            data in proptest::collection::vec(any::<u8>(), 0..200),
            key in any::<[u8; 4]>(),
            split in 0usize..200,
        ) {
            let split = split.min(data.len());
            let mut whole = data.clone();
            unmask(&mut whole, key, 0);
            let mut parts = data;
            let (a, b) = parts.split_at_mut(split);
            unmask_by_word(a, key, 0);
            unmask_by_word(b, key, split);
            prop_assert_eq!(whole, parts);
        }
    }
}
