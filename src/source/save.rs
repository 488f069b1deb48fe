//! Frames written back to disk as pcapng: the live capture's own copy
//! (`osiscope live -w FILE`) and the terminal UI's "save what was kept".
//!
//! The writer emits one section: a Section Header Block, an Interface
//! Description Block for each link type as it first appears (nanosecond
//! time stamps, the interface's name when known), then one Enhanced Packet
//! Block per frame, all little-endian (the section header's byte-order
//! magic says so). Wireshark, tshark and libpcap read the result.

use std::io::{self, Write};

use crate::dissect::Timestamp;

/// Block types of pcapng (draft-ietf-opsawg-pcapng).
mod block {
    pub const SECTION_HEADER: u32 = 0x0A0D_0D0A;
    pub const INTERFACE_DESCRIPTION: u32 = 0x0000_0001;
    pub const ENHANCED_PACKET: u32 = 0x0000_0006;
}

/// Option codes used in the blocks written here.
mod option {
    pub const END: u16 = 0;
    pub const SHB_USERAPPL: u16 = 4;
    pub const IF_NAME: u16 = 2;
    pub const IF_TSRESOL: u16 = 9;
}

/// The byte-order magic of a section header.
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// `if_tsresol` value for nanoseconds (10^-9).
const NANOSECONDS: u8 = 9;

/// A pcapng file being written, frame by frame.
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    out: W,
    /// Interfaces described so far: their link types, by interface id.
    interfaces: Vec<u32>,
    snaplen: u32,
    if_name: Option<String>,
    n_written: u64,
}

impl<W: Write> PcapngWriter<W> {
    /// Starts a file: writes the section header. `if_name` names the
    /// interface in the interface description (a live capture's device).
    pub fn new(mut out: W, snaplen: u32, if_name: Option<&str>) -> io::Result<PcapngWriter<W>> {
        let mut options = Vec::new();
        push_option(
            &mut options,
            option::SHB_USERAPPL,
            format!("osiscope {}", env!("CARGO_PKG_VERSION")).as_bytes(),
        )?;
        push_option(&mut options, option::END, &[])?;
        let mut body = Vec::with_capacity(16 + options.len());
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        // The section's length is not known in advance.
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        body.extend_from_slice(&options);
        write_block(&mut out, block::SECTION_HEADER, &body)?;
        Ok(PcapngWriter {
            out,
            interfaces: Vec::new(),
            snaplen,
            if_name: if_name.map(str::to_string),
            n_written: 0,
        })
    }

    /// Appends one frame: its capture time, length on the wire, link type
    /// and captured bytes.
    pub fn write(
        &mut self,
        ts: Timestamp,
        orig_len: usize,
        link_type: u32,
        data: &[u8],
    ) -> io::Result<()> {
        let interface = self.interface(link_type)?;
        let cap_len = u32::try_from(data.len()).map_err(|_| too_long())?;
        let orig_len = u32::try_from(orig_len).unwrap_or(u32::MAX).max(cap_len);
        let nanos = u64::try_from(ts.secs)
            .unwrap_or(0)
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(ts.nanos));
        let mut body = Vec::with_capacity(20 + data.len() + 3);
        body.extend_from_slice(&interface.to_le_bytes());
        body.extend_from_slice(&((nanos >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&((nanos & 0xFFFF_FFFF) as u32).to_le_bytes());
        body.extend_from_slice(&cap_len.to_le_bytes());
        body.extend_from_slice(&orig_len.to_le_bytes());
        body.extend_from_slice(data);
        pad(&mut body);
        write_block(&mut self.out, block::ENHANCED_PACKET, &body)?;
        self.n_written += 1;
        Ok(())
    }

    /// Frames written so far.
    pub fn n_written(&self) -> u64 {
        self.n_written
    }

    /// Pushes buffered bytes to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and hands back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    /// The interface id for a link type, describing a new interface the
    /// first time the link type appears.
    fn interface(&mut self, link_type: u32) -> io::Result<u32> {
        if let Some(id) = self.interfaces.iter().position(|lt| *lt == link_type) {
            return u32::try_from(id).map_err(|_| too_long());
        }
        let code = u16::try_from(link_type).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("link type {link_type} does not fit a pcapng interface description"),
            )
        })?;
        let mut options = Vec::new();
        if let Some(name) = &self.if_name {
            push_option(&mut options, option::IF_NAME, name.as_bytes())?;
        }
        push_option(&mut options, option::IF_TSRESOL, &[NANOSECONDS])?;
        push_option(&mut options, option::END, &[])?;
        let mut body = Vec::with_capacity(8 + options.len());
        body.extend_from_slice(&code.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&self.snaplen.to_le_bytes());
        body.extend_from_slice(&options);
        write_block(&mut self.out, block::INTERFACE_DESCRIPTION, &body)?;
        self.interfaces.push(link_type);
        u32::try_from(self.interfaces.len() - 1).map_err(|_| too_long())
    }
}

fn too_long() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "a frame or a count too large for pcapng",
    )
}

/// Appends an option (code, length, value padded to 4 bytes).
fn push_option(options: &mut Vec<u8>, code: u16, value: &[u8]) -> io::Result<()> {
    let len = u16::try_from(value.len()).map_err(|_| too_long())?;
    options.extend_from_slice(&code.to_le_bytes());
    options.extend_from_slice(&len.to_le_bytes());
    options.extend_from_slice(value);
    pad(options);
    Ok(())
}

/// Pads to a multiple of 4 bytes with zeros.
fn pad(bytes: &mut Vec<u8>) {
    let rest = bytes.len() % 4;
    if rest != 0 {
        bytes.resize(bytes.len() + 4 - rest, 0);
    }
}

/// Writes a block: type, total length, body (already padded), total length.
fn write_block<W: Write>(out: &mut W, block_type: u32, body: &[u8]) -> io::Result<()> {
    let total = body
        .len()
        .checked_add(12)
        .and_then(|len| u32::try_from(len).ok())
        .ok_or_else(too_long)?;
    out.write_all(&block_type.to_le_bytes())?;
    out.write_all(&total.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&total.to_le_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::source::{link_type, FileSource, Source};

    #[test]
    fn section_header_is_little_endian_pcapng() {
        let out = PcapngWriter::new(Vec::new(), 65535, None)
            .unwrap()
            .finish()
            .unwrap();
        // Block type, then a total length repeated at the block's end.
        assert_eq!(&out[..4], &[0x0A, 0x0D, 0x0D, 0x0A]);
        let total = u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize;
        assert_eq!(total, out.len());
        assert_eq!(&out[8..12], &[0x4D, 0x3C, 0x2B, 0x1A]);
        assert_eq!(&out[total - 4..], &out[4..8]);
    }

    #[test]
    fn frames_written_read_back_through_libpcap() {
        let dir = std::env::temp_dir().join(format!("osiscope-save-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("frames.pcapng");
        let file = std::fs::File::create(&path).unwrap();
        let mut writer = PcapngWriter::new(file, 262_144, Some("lo")).unwrap();
        let frames: [(Timestamp, usize, &[u8]); 3] = [
            (
                Timestamp {
                    secs: 1_700_000_000,
                    nanos: 123_456_789,
                },
                5,
                b"abcde",
            ),
            (
                Timestamp {
                    secs: 1_700_000_001,
                    nanos: 1,
                },
                100,
                b"xy",
            ),
            (Timestamp::default(), 0, b""),
        ];
        for (ts, orig_len, data) in frames {
            writer
                .write(ts, orig_len, link_type::ETHERNET, data)
                .unwrap();
        }
        assert_eq!(writer.n_written(), 3);
        writer.finish().unwrap();
        let mut source = FileSource::open(&path).unwrap();
        assert_eq!(source.link_type(), link_type::ETHERNET);
        for (ts, orig_len, data) in frames {
            let frame = source.next_frame().unwrap().unwrap();
            assert_eq!(frame.ts, ts);
            assert_eq!(frame.orig_len, orig_len.max(data.len()));
            assert_eq!(frame.data, data);
        }
        assert!(source.next_frame().unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_link_type_too_wide_for_pcapng_is_an_error() {
        let mut writer = PcapngWriter::new(Vec::new(), 65535, None).unwrap();
        assert!(writer.write(Timestamp::default(), 1, 70_000, b"x").is_err());
    }
}
