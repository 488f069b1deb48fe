//! Command-line flags (clap derive). Parsing only: no I/O happens here.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::limits::{parse_size, Limits};

/// See the protocol stack of real network traffic, layer by layer.
#[derive(Debug, Parser)]
#[command(
    name = "osiscope",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// A capture file to open (pcap or pcapng; `-` reads standard input).
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub ui: UiArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub session_limits: SessionLimitArgs,
}

/// Settings of the terminal UI.
#[derive(Debug, Args, Default)]
pub struct UiArgs {
    /// Colour theme: default, high-contrast or mono (mono is the default when NO_COLOR is set).
    #[arg(long, value_parser = ["default", "high-contrast", "mono"])]
    pub theme: Option<String>,
    /// Append how long each key, click and redraw took (microseconds) to this file.
    #[arg(long, value_name = "FILE", hide = true)]
    pub timing: Option<PathBuf>,
    /// Language of the interface and lessons: en or ja (default: from the locale).
    #[arg(long, value_parser = ["en", "ja"])]
    pub lang: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open a capture in the terminal UI (the default when a terminal is attached).
    Open(OpenArgs),
    /// Print every frame, layer by layer (like `tshark -V`, grouped by OSI layer).
    Dump(DumpArgs),
    /// Print every WebSocket message: one line each, in capture order.
    Messages(MessagesArgs),
    /// Print one row per TCP conversation: endpoints, state, counts, analysis.
    Streams(StreamsArgs),
    /// List the lessons, or check them against their captures.
    Lessons(LessonsArgs),
    /// Open a lesson in the terminal UI (by number, or a lesson file).
    Lesson(LessonArgs),
    /// Compare how polling, long polling, Server-Sent Events and WebSocket delivered messages:
    /// bytes on the wire and delay per message.
    ///
    /// A message is a JSON object with a numeric `seq` and `sent` (the server's clock when it
    /// produced the message, in milliseconds since the Unix epoch) that the server sent as a
    /// WebSocket message, as the data of a Server-Sent Event, or in a response body (alone or
    /// as an item of a JSON array). Each TCP connection that delivered one is classified:
    /// WebSocket (it switched after an Upgrade), Server-Sent Events (a `text/event-stream`
    /// response), long polling (the server held most requests at least 50 ms beyond the
    /// initial round trip) or polling (the other HTTP connections).
    Compare(CompareArgs),
    /// Capture from a network interface into the same views (needs root or
    /// the capture capabilities).
    Live(LiveArgs),
    /// List the interfaces osiscope can capture on.
    Interfaces,
}

#[derive(Debug, Args)]
pub struct LessonsArgs {
    #[command(subcommand)]
    pub action: Option<LessonsAction>,
    /// The lessons folder (default: `lessons/` here or in the source tree).
    #[arg(long, value_name = "DIR", global = true)]
    pub dir: Option<PathBuf>,
    /// Language of the list: en or ja (default: from the locale).
    #[arg(long, value_parser = ["en", "ja"], global = true)]
    pub lang: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LessonsAction {
    /// List the lessons with level, duration and capture (the default).
    List,
    /// Validate lessons against their captures: frames, fields, answers.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Lesson files to check (default: every lesson in the folder).
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LessonArgs {
    /// The lesson's number (as `osiscope lessons` lists it) or its file.
    pub lesson: String,
    /// Presenter mode for a projector: larger, calmer, one step at a time.
    #[arg(long)]
    pub presenter: bool,
    /// The lessons folder (default: `lessons/` here or in the source tree).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub ui: UiArgs,
}

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// The interface (`osiscope interfaces` lists them); without it, the one libpcap picks.
    #[arg(short = 'i', long)]
    pub interface: Option<String>,
    /// A capture filter in tcpdump's syntax, such as "tcp port 8080".
    #[arg(short = 'f', long)]
    pub filter: Option<String>,
    /// Also write every captured frame to this pcapng file.
    #[arg(short = 'w', long, value_name = "FILE.pcapng")]
    pub write: Option<PathBuf>,
    /// Bytes kept of each frame.
    #[arg(long, default_value_t = 262_144, value_parser = clap::value_parser!(u32).range(64..))]
    pub snaplen: u32,
    /// Stop after this many frames.
    #[arg(long)]
    pub count: Option<u64>,
    /// Stop after this many seconds (fractions allowed).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub duration: Option<Duration>,
    /// Frames the terminal UI keeps (older ones leave the list; -w keeps everything).
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub window: u64,
    /// The kernel's capture buffer, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=2047))]
    pub buffer_size: u64,
    /// Take each frame from the kernel as it arrives (libpcap's immediate
    /// mode) instead of in blocks at most 50 ms late: lower latency, but
    /// more CPU and more kernel drops at high rates.
    #[arg(long)]
    pub immediate: bool,
    /// Put the interface in promiscuous mode (see traffic not addressed to this host).
    #[arg(long)]
    pub promisc: bool,
    /// Print every frame layer by layer, as `osiscope dump` does, instead of the terminal UI.
    #[arg(long, conflicts_with = "messages")]
    pub dump: bool,
    /// Print every WebSocket message, as `osiscope messages` does.
    #[arg(long)]
    pub messages: bool,
    /// One JSON object per line (frames, or messages with --messages).
    #[arg(long)]
    pub json: bool,
    /// With --messages --json: add the payload, base64-encoded, as `payload_b64`.
    #[arg(long, requires = "messages", requires = "json")]
    pub payload: bool,
    /// Link speed assumed for layer 1 timing in --dump, e.g. 100M, 1G.
    #[arg(long, default_value = "1G", value_parser = parse_speed)]
    pub link_speed: u64,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub ui: UiArgs,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The capture file (pcap or pcapng; `-` reads standard input).
    pub file: PathBuf,
    /// One JSON object per technique per line instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Parses a number of seconds such as `5` or `0.5`.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|secs| *secs > 0.0)
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("`{text}` is not a number of seconds like 5 or 0.5"))
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// The capture file (pcap or pcapng); without it, the first lesson's capture.
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub ui: UiArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub session_limits: SessionLimitArgs,
}

#[derive(Debug, Args)]
pub struct StreamsArgs {
    /// The capture file (pcap or pcapng; `-` reads standard input).
    pub file: PathBuf,
    /// One JSON object per conversation per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Threads that decode a capture file's connections, as for `messages`
    /// [default: the cores, at most 8].
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, Args)]
pub struct MessagesArgs {
    /// The capture file (pcap or pcapng; `-` reads standard input).
    pub file: PathBuf,
    /// One JSON object per message per line instead of text.
    #[arg(long)]
    pub json: bool,
    /// With --json: add the payload, base64-encoded, as `payload_b64`.
    #[arg(long, requires = "json")]
    pub payload: bool,
    /// Threads that decode a capture file's connections, divided between them by address
    /// pair; the limits on all connections together are divided too. 1 decodes them all
    /// on one, as the other commands do [default: the cores, at most 8].
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Limits on memory and work (README.md lists them with their defaults). Sizes take
/// K, M and G suffixes (powers of 1024). Reaching a limit is reported on the frame.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// TCP connections held at once; past it the one idle longest is evicted [default: 10000].
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub max_streams: Option<usize>,
    /// Out-of-order bytes held per TCP direction while waiting for a hole [default: 4M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_stream_buffer: Option<usize>,
    /// Bytes buffered for all TCP connections together (reassembly and the application
    /// decoders); past it the connection buffering the most is evicted [default: 512M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_buffered: Option<usize>,
    /// IPv4 datagrams held incomplete at once [default: 1024].
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub max_fragments: Option<usize>,
    /// Bytes held for all incomplete IPv4 datagrams together [default: 16M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_fragment_bytes: Option<usize>,
    /// Longest HTTP head (request or status line and header fields) [default: 64K].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_http_head: Option<usize>,
    /// Most header fields in one HTTP head [default: 100].
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub max_http_headers: Option<usize>,
    /// WebSocket frame payload kept; longer frames keep a prefix [default: 16M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_ws_frame: Option<usize>,
    /// WebSocket message kept; longer messages keep a prefix [default: 64M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_ws_message: Option<usize>,
    /// Bytes one compressed WebSocket message may inflate to; inflation stops there
    /// (a deflate bomb is not obeyed) [default: 64M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_inflated: Option<usize>,
}

impl LimitArgs {
    /// The given limits applied over `limits`.
    pub fn apply(&self, mut limits: Limits) -> Limits {
        let set = |target: &mut usize, value: Option<usize>| {
            if let Some(value) = value {
                *target = value;
            }
        };
        set(&mut limits.tracker.max_streams, self.max_streams);
        set(
            &mut limits.tracker.reassembly.max_buffered_bytes,
            self.max_stream_buffer,
        );
        set(&mut limits.max_buffered_total, self.max_buffered);
        set(&mut limits.defrag.max_datagrams_pending, self.max_fragments);
        set(
            &mut limits.defrag.max_bytes_pending,
            self.max_fragment_bytes,
        );
        set(&mut limits.app.http.max_head_len, self.max_http_head);
        set(&mut limits.app.http.max_headers, self.max_http_headers);
        set(&mut limits.app.websocket.max_frame_len, self.max_ws_frame);
        set(
            &mut limits.app.websocket.max_message_len,
            self.max_ws_message,
        );
        set(
            &mut limits.app.websocket.max_inflated_len,
            self.max_inflated,
        );
        limits
    }
}

/// What the terminal UI keeps in memory.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Limits")]
pub struct SessionLimitArgs {
    /// Frames the terminal UI indexes and keeps; indexing stops there, with a notice
    /// [default: 20000000].
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub max_frames: Option<usize>,
    /// Captured bytes the terminal UI keeps in memory for dissecting frames on demand
    /// (frames of a capture file are read again from the file and do not count; a live
    /// capture's and standard input's do) [default: 2G].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_frame_bytes: Option<usize>,
}

impl SessionLimitArgs {
    /// The given limits applied over `limits`.
    pub fn apply(&self, mut limits: Limits) -> Limits {
        if let Some(value) = self.max_frames {
            limits.session.max_frames = value;
        }
        if let Some(value) = self.max_frame_bytes {
            limits.session.max_frame_bytes = value;
        }
        limits
    }
}

/// Parses a positive count such as `10000`.
pub fn parse_count(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(value) => Ok(value),
        Err(_) => Err(format!("`{text}` is not a count like 10000")),
    }
}

#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The capture file (pcap or pcapng; `-` reads standard input).
    pub file: PathBuf,
    /// One JSON object per frame per line instead of text.
    #[arg(long)]
    pub json: bool,
    /// Link speed assumed for layer 1 timing, e.g. 100M, 1G, 10G (bits per second).
    #[arg(long, default_value = "1G", value_parser = parse_speed)]
    pub link_speed: u64,
    /// Read the file twice, like `tshark -2`, so a segment can say in which
    /// later frame its bytes were reassembled (`tcp.reassembled_in`).
    #[arg(short = '2', long)]
    pub two_pass: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Parses a speed such as `1G`, `100M`, `10k` or `1000000` into bits per second.
pub fn parse_speed(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, factor) = match text.char_indices().last() {
        Some((at, 'k' | 'K')) => (text.get(..at), 1_000),
        Some((at, 'm' | 'M')) => (text.get(..at), 1_000_000),
        Some((at, 'g' | 'G')) => (text.get(..at), 1_000_000_000),
        _ => (Some(text), 1),
    };
    let value: u64 = digits
        .unwrap_or("")
        .parse()
        .map_err(|_| format!("`{text}` is not a speed like 100M or 1G"))?;
    value
        .checked_mul(factor)
        .filter(|&bps| bps > 0)
        .ok_or_else(|| format!("`{text}` is not a usable speed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_parse() {
        assert_eq!(parse_speed("1G"), Ok(1_000_000_000));
        assert_eq!(parse_speed("100M"), Ok(100_000_000));
        assert_eq!(parse_speed("9600"), Ok(9600));
        assert!(parse_speed("fast").is_err());
        assert!(parse_speed("0").is_err());
        assert!(parse_speed("99999999999999G").is_err());
    }

    #[test]
    fn seconds_parse() {
        assert_eq!(parse_seconds("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_seconds("0.25"), Ok(Duration::from_millis(250)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
        assert!(parse_seconds("1e30").is_err());
    }

    #[test]
    fn limit_flags_change_only_their_limit() {
        let cli = Cli::parse_from([
            "osiscope",
            "streams",
            "--max-streams",
            "5",
            "--max-inflated",
            "1M",
            "x.pcap",
        ]);
        let Some(Command::Streams(args)) = cli.command else {
            panic!("streams expected");
        };
        let limits = args.limits.apply(Limits::default());
        assert_eq!(limits.tracker.max_streams, 5);
        assert_eq!(limits.app.websocket.max_inflated_len, 1 << 20);
        assert_eq!(
            Limits {
                tracker: crate::flow::tracker::TrackerLimits {
                    max_streams: 10_000,
                    ..limits.tracker
                },
                app: crate::application::conversation::Limits {
                    websocket: crate::application::websocket::message::Limits {
                        max_inflated_len: 64 << 20,
                        ..limits.app.websocket
                    },
                    ..limits.app
                },
                ..limits.clone()
            },
            Limits::default()
        );
        assert!(Cli::try_parse_from(["osiscope", "dump", "--max-streams", "0", "x"]).is_err());
        assert!(Cli::try_parse_from(["osiscope", "dump", "--max-ws-frame", "big", "x"]).is_err());
        let open = Cli::parse_from(["osiscope", "open", "--max-frames", "100", "x.pcap"]);
        let Some(Command::Open(args)) = open.command else {
            panic!("open expected");
        };
        assert_eq!(
            args.session_limits
                .apply(Limits::default())
                .session
                .max_frames,
            100
        );
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
