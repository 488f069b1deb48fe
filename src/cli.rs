//! Command-line flags (clap derive). Parsing only: no I/O happens here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
pub struct CompareArgs {
    /// The capture file (pcap or pcapng; `-` reads standard input).
    pub file: PathBuf,
    /// One JSON object per technique per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// The capture file (pcap or pcapng); without it, the first lesson's capture.
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub ui: UiArgs,
}

#[derive(Debug, Args)]
pub struct StreamsArgs {
    /// The capture file (pcap or pcapng; `-` reads standard input).
    pub file: PathBuf,
    /// One JSON object per conversation per line instead of a table.
    #[arg(long)]
    pub json: bool,
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
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
