//! Where each frame's bytes lie in a capture file, so that a session can keep
//! a compact index and read a frame's bytes again when a view asks for them,
//! instead of keeping every captured byte in memory.
//!
//! libpcap reads the file; [`RecordWalker`] walks the same file's record
//! headers alongside it (pcap records; pcapng enhanced, simple and obsolete
//! packet blocks) and checks each frame's bytes against what libpcap
//! delivered. At the first disagreement (a file this walk does not follow,
//! such as a modified pcap format) it stops for good and says so; the
//! session then keeps the remaining frames in memory as before.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// The largest record or block the walk reads (libpcap's own limit for a
/// packet is 256 KiB; pcapng blocks of other kinds may be larger but are few).
const MAX_BLOCK: usize = 16 << 20;

const PCAP_MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const PCAP_HEADER_LEN: usize = 24;
const PCAP_RECORD_LEN: usize = 16;

const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_BYTE_ORDER: u32 = 0x1a2b_3c4d;
const PCAPNG_PB: u32 = 2;
const PCAPNG_SPB: u32 = 3;
const PCAPNG_EPB: u32 = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Pcap,
    Pcapng,
}

/// Walks a capture file's packet records in step with libpcap.
#[derive(Debug)]
pub struct RecordWalker<R: Read = BufReader<File>> {
    reader: R,
    format: Format,
    big_endian: bool,
    /// The file offset of the next byte `reader` gives.
    pos: u64,
    /// The record or block being looked at.
    block: Vec<u8>,
    /// The walk ended (a disagreement, or the file's end): nothing more is read.
    stopped: bool,
}

impl RecordWalker {
    /// Opens a pcap or pcapng file for the walk; `None` when the file cannot
    /// be read or its format is not one the walk follows.
    pub fn open(path: &Path) -> Option<RecordWalker> {
        let file = File::open(path).ok()?;
        RecordWalker::new(BufReader::with_capacity(256 << 10, file))
    }
}

impl<R: Read> RecordWalker<R> {
    /// Starts a walk at the beginning of a capture.
    pub fn new(mut reader: R) -> Option<RecordWalker<R>> {
        let mut magic = [0u8; 4];
        reader.read_exact(&mut magic).ok()?;
        let (format, big_endian) = match (u32::from_le_bytes(magic), u32::from_be_bytes(magic)) {
            (PCAP_MAGIC_MICROS | PCAP_MAGIC_NANOS, _) => (Format::Pcap, false),
            (_, PCAP_MAGIC_MICROS | PCAP_MAGIC_NANOS) => (Format::Pcap, true),
            // A section header block: its byte-order magic is read with it.
            (PCAPNG_SHB, _) => (Format::Pcapng, false),
            _ => return None,
        };
        let mut walker = RecordWalker {
            reader,
            format,
            big_endian,
            pos: 4,
            block: Vec::new(),
            stopped: false,
        };
        match format {
            Format::Pcap => {
                let mut rest = [0u8; PCAP_HEADER_LEN - 4];
                walker.reader.read_exact(&mut rest).ok()?;
                walker.pos = PCAP_HEADER_LEN as u64;
            }
            Format::Pcapng => {
                // Back to the block's start: the walk reads it whole.
                walker.block.extend_from_slice(&magic);
            }
        }
        Some(walker)
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let bytes: [u8; 4] = self.block.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        })
    }

    /// Reads `n` more bytes onto the end of `block`.
    fn read_more(&mut self, n: usize) -> Option<()> {
        if n > MAX_BLOCK {
            return None;
        }
        let start = self.block.len();
        self.block.resize(start.checked_add(n)?, 0);
        self.reader.read_exact(self.block.get_mut(start..)?).ok()?;
        self.pos = self.pos.checked_add(u64::try_from(n).ok()?)?;
        Some(())
    }

    /// The next packet record: the offset of its bytes in the file, and
    /// where they are in `block` (offset and length as the record says).
    fn next_record(&mut self) -> Option<(u64, usize, usize)> {
        match self.format {
            Format::Pcap => {
                self.block.clear();
                let start = self.pos;
                self.read_more(PCAP_RECORD_LEN)?;
                let len = usize::try_from(self.u32_at(8)?).ok()?;
                self.read_more(len)?;
                Some((
                    start.checked_add(PCAP_RECORD_LEN as u64)?,
                    PCAP_RECORD_LEN,
                    len,
                ))
            }
            Format::Pcapng => loop {
                // `block` may already hold the first four bytes (the file's start).
                let start = self
                    .pos
                    .checked_sub(u64::try_from(self.block.len()).ok()?)?;
                self.read_more(8usize.checked_sub(self.block.len())?)?;
                let kind = u32::from_le_bytes(self.block.get(..4)?.try_into().ok()?);
                if kind == PCAPNG_SHB {
                    // The byte-order magic after the length sets this section's order.
                    self.read_more(4)?;
                    let magic: [u8; 4] = self.block.get(8..12)?.try_into().ok()?;
                    self.big_endian = match u32::from_le_bytes(magic) {
                        PCAPNG_BYTE_ORDER => false,
                        _ if u32::from_be_bytes(magic) == PCAPNG_BYTE_ORDER => true,
                        _ => return None,
                    };
                }
                let kind = self.u32_at(0)?;
                let total = usize::try_from(self.u32_at(4)?).ok()?;
                if total < 12 || total % 4 != 0 {
                    return None;
                }
                self.read_more(total.checked_sub(self.block.len())?)?;
                let found = match kind {
                    PCAPNG_EPB | PCAPNG_PB => {
                        Some((28usize, usize::try_from(self.u32_at(20)?).ok()?))
                    }
                    // A simple packet block says only the original length; its
                    // captured bytes are what the block holds of it.
                    PCAPNG_SPB => Some((
                        12,
                        usize::try_from(self.u32_at(8)?)
                            .ok()?
                            .min(total.checked_sub(16)?),
                    )),
                    _ => None,
                };
                if let Some((at, len)) = found {
                    if at.checked_add(len)? > total.checked_sub(4)? {
                        return None;
                    }
                    return Some((start.checked_add(u64::try_from(at).ok()?)?, at, len));
                }
                self.block.clear();
            },
        }
    }

    /// The file offset of the next frame's bytes, if they are the bytes
    /// libpcap delivered for it (`data`); `None` once the walk and libpcap
    /// disagree or the file ends, and from then on.
    pub fn next_matching(&mut self, data: &[u8]) -> Option<u64> {
        if self.stopped {
            return None;
        }
        let found = self.next_record().and_then(|(offset, at, len)| {
            // libpcap may deliver fewer bytes than a record holds (cut to
            // the snapshot length): those must be the record's first ones.
            let record = self.block.get(at..at.checked_add(len)?)?;
            (record.get(..data.len()) == Some(data)).then_some(offset)
        });
        self.block.clear();
        self.stopped = found.is_none();
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(value: u32) -> [u8; 4] {
        value.to_le_bytes()
    }

    fn pcap(records: &[&[u8]]) -> Vec<u8> {
        let mut file = Vec::new();
        file.extend(le(PCAP_MAGIC_MICROS));
        file.extend([2, 0, 4, 0]);
        file.extend([0; 8]);
        file.extend(le(65_535));
        file.extend(le(1));
        for record in records {
            file.extend([0; 8]);
            file.extend(le(record.len() as u32));
            file.extend(le(record.len() as u32));
            file.extend(*record);
        }
        file
    }

    fn pcapng_block(kind: u32, body: &[u8]) -> Vec<u8> {
        let padded = body.len().div_ceil(4) * 4;
        let total = (12 + padded) as u32;
        let mut block = Vec::new();
        block.extend(le(kind));
        block.extend(le(total));
        block.extend(body);
        block.resize(8 + padded, 0);
        block.extend(le(total));
        block
    }

    fn epb(data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(le(0));
        body.extend([0; 8]);
        body.extend(le(data.len() as u32));
        body.extend(le(data.len() as u32));
        body.extend(data);
        pcapng_block(PCAPNG_EPB, &body)
    }

    fn pcapng(blocks: &[Vec<u8>]) -> Vec<u8> {
        let mut shb_body = Vec::new();
        shb_body.extend(le(PCAPNG_BYTE_ORDER));
        shb_body.extend([1, 0, 0, 0]);
        shb_body.extend([0xff; 8]);
        let mut idb_body = Vec::new();
        idb_body.extend([1, 0, 0, 0]);
        idb_body.extend(le(65_535));
        let mut file = pcapng_block(PCAPNG_SHB, &shb_body);
        file.extend(pcapng_block(1, &idb_body));
        for block in blocks {
            file.extend(block);
        }
        file
    }

    #[test]
    fn pcap_records_are_found_in_order() {
        let file = pcap(&[b"abc", b"", b"hello"]);
        let mut walker = RecordWalker::new(&file[..]).unwrap();
        assert_eq!(walker.next_matching(b"abc"), Some(40));
        assert_eq!(walker.next_matching(b""), Some(59));
        assert_eq!(walker.next_matching(b"hello"), Some(75));
        assert_eq!(&file[75..80], b"hello");
        assert_eq!(walker.next_matching(b"more"), None);
    }

    #[test]
    fn pcapng_packet_blocks_are_found_past_other_blocks() {
        let mut spb_body = Vec::new();
        spb_body.extend(le(3));
        spb_body.extend(b"xyz");
        let file = pcapng(&[
            epb(b"first"),
            pcapng_block(5, &[0; 8]),
            pcapng_block(PCAPNG_SPB, &spb_body),
        ]);
        let mut walker = RecordWalker::new(&file[..]).unwrap();
        let first = walker.next_matching(b"first").unwrap() as usize;
        assert_eq!(&file[first..first + 5], b"first");
        let second = walker.next_matching(b"xyz").unwrap() as usize;
        assert_eq!(&file[second..second + 3], b"xyz");
        assert_eq!(walker.next_matching(b"none"), None);
    }

    #[test]
    fn a_disagreement_ends_the_walk() {
        let file = pcap(&[b"abc", b"def"]);
        let mut walker = RecordWalker::new(&file[..]).unwrap();
        assert_eq!(walker.next_matching(b"abd"), None);
        assert_eq!(walker.next_matching(b"def"), None, "the walk stays ended");
    }

    #[test]
    fn other_files_and_absurd_lengths_are_not_walked() {
        assert!(RecordWalker::new(&b"not a capture"[..]).is_none());
        let mut file = pcap(&[b"abc"]);
        file[32..36].copy_from_slice(&le(u32::MAX));
        let mut walker = RecordWalker::new(&file[..]).unwrap();
        assert_eq!(walker.next_matching(b"abc"), None);
        let mut bad = pcapng(&[epb(b"abc")]);
        let at = bad.len() - epb(b"abc").len() + 4;
        bad[at..at + 4].copy_from_slice(&le(13));
        let mut walker = RecordWalker::new(&bad[..]).unwrap();
        assert_eq!(walker.next_matching(b"abc"), None);
    }
}
