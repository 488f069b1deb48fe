//! Capture files read through libpcap: pcap and pcapng, or `-` for stdin.
//!
//! libpcap reads both formats and hands out each record without copying.
//! Errors are turned into [`SourceError`]s that name the file and the cause;
//! frames read before a truncation have already been delivered.

use std::path::Path;

use crate::dissect::FrameNumber;
use crate::source::{record_time_and_len, RawFrame, Source, SourceError};

/// A capture file opened for reading, frame by frame.
pub struct FileSource {
    path: String,
    capture: pcap::Capture<pcap::Offline>,
    link_type: u32,
    n_read: u64,
}

impl FileSource {
    /// Opens `path` (or standard input for `-`), reporting missing files,
    /// permission problems and non-capture files as distinct errors.
    pub fn open(path: &Path) -> Result<FileSource, SourceError> {
        let shown = path.display().to_string();
        if shown != "-" {
            let opened_error = |err: std::io::Error, shown: String| match err.kind() {
                std::io::ErrorKind::NotFound => SourceError::NotFound { path: shown },
                std::io::ErrorKind::PermissionDenied => {
                    SourceError::PermissionDenied { path: shown }
                }
                _ => SourceError::Open {
                    path: shown,
                    reason: err.to_string(),
                },
            };
            let meta = std::fs::metadata(path).map_err(|err| opened_error(err, shown.clone()))?;
            if meta.is_dir() {
                return Err(SourceError::Open {
                    path: shown,
                    reason: "is a directory".to_string(),
                });
            }
            // A trial open tells the causes apart; not for a FIFO, whose
            // writer would lose its reader when the trial one closes.
            if meta.is_file() {
                std::fs::File::open(path).map_err(|err| opened_error(err, shown.clone()))?;
            }
        }
        let capture = pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano)
            .map_err(|err| SourceError::NotACapture {
                path: shown.clone(),
                reason: libpcap_reason(&err),
            })?;
        let link_type = u32::try_from(capture.get_datalink().0).unwrap_or(u32::MAX);
        Ok(FileSource {
            path: shown,
            capture,
            link_type,
            n_read: 0,
        })
    }

    /// The file's link-layer header type.
    pub fn link_type(&self) -> u32 {
        self.link_type
    }

    /// The path as given.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl Source for FileSource {
    fn next_frame(&mut self) -> Result<Option<RawFrame<'_>>, SourceError> {
        match self.capture.next_packet() {
            Ok(packet) => {
                self.n_read += 1;
                let (ts, orig_len) = record_time_and_len(packet.header);
                Ok(Some(RawFrame {
                    number: FrameNumber(self.n_read),
                    ts,
                    orig_len,
                    link_type: self.link_type,
                    data: packet.data,
                }))
            }
            Err(pcap::Error::NoMorePackets) => Ok(None),
            Err(err) => Err(SourceError::Truncated {
                path: self.path.clone(),
                after: self.n_read,
                reason: libpcap_reason(&err),
            }),
        }
    }
}

/// libpcap's own words for an error, without the wrapper's prefix.
fn libpcap_reason(err: &pcap::Error) -> String {
    match err {
        pcap::Error::PcapError(text) if !text.is_empty() => text.clone(),
        other => other.to_string(),
    }
}
