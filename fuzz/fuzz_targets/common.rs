//! A byte cursor shared by the fuzz targets: it turns the fuzzer's input into
//! numbers and slices, and never fails (missing bytes read as zero or empty).

#![allow(dead_code)]

/// Reads the fuzzer's input from the front.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Bytes not read yet.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// The next byte, or `None` at the end.
    pub fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(first)
    }

    /// The next byte, or 0 at the end.
    pub fn u8(&mut self) -> u8 {
        self.byte().unwrap_or(0)
    }

    /// A big-endian u16 (missing bytes read as 0).
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// A big-endian u32 (missing bytes read as 0).
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// A big-endian u64 (missing bytes read as 0).
    pub fn u64(&mut self) -> u64 {
        (u64::from(self.u32()) << 32) | u64::from(self.u32())
    }

    /// Up to `n` bytes (fewer at the end).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }
}

/// The bytes of one stream direction fed so far, by stream offset, so that
/// targets can compare what a parser reports against the real bytes.
#[derive(Default)]
pub struct Stream {
    pieces: std::collections::BTreeMap<u64, Vec<u8>>,
}

impl Stream {
    /// Records `bytes` at `offset`; callers record every byte once.
    pub fn record(&mut self, offset: u64, bytes: &[u8]) {
        if !bytes.is_empty() && offset.checked_add(bytes.len() as u64).is_some() {
            self.pieces.insert(offset, bytes.to_vec());
        }
    }

    /// The bytes at `start..end`, if every one of them was recorded. Ranges
    /// that reach `u64::MAX` were cut by saturation and are never known.
    pub fn get(&self, start: u64, end: u64) -> Option<Vec<u8>> {
        if end == u64::MAX {
            return None;
        }
        let mut out = Vec::new();
        let mut at = start;
        while at < end {
            let (&piece_start, piece) = self.pieces.range(..=at).next_back()?;
            let from = usize::try_from(at - piece_start).ok()?;
            let rest = piece.get(from..).filter(|rest| !rest.is_empty())?;
            let want = usize::try_from(end - at)
                .unwrap_or(usize::MAX)
                .min(rest.len());
            out.extend_from_slice(&rest[..want]);
            at += want as u64;
        }
        Some(out)
    }
}
