//! The wire format's entry points for property tests and fuzzers.
//!
//! Each function runs exactly the code the server runs on peer input (the bounded line
//! splitter, the environment parser, the reply classifier, the command encoder), minus
//! the socket, so that a property test or a fuzzer can feed it arbitrary bytes.

use crate::wire::encode::{encode_command, encode_raw};
use crate::wire::lines::LineBuffer;
use crate::wire::reply::{Line, classify, ends_usage_block};
use crate::wire::{AgiEnv, Arg, CommandError, EnvError, EnvLimits};

/// Parses an environment block from raw bytes exactly as the server does: bounded line
/// splitting (one CR before the LF dropped), the per-line, per-block and total caps.
///
/// ```
/// use agi_runtime::testing::fuzz::parse_env;
///
/// let env = parse_env(b"agi_network_script: x?y=1\r\nagi_arg_1: \xff\n\n", Default::default()).unwrap();
/// assert_eq!((env.path(), env.query(), env.arg(1)), ("/x", "y=1", Some("\u{fffd}")));
/// assert!(parse_env(b"no end", Default::default()).is_err());
/// ```
pub fn parse_env(bytes: &[u8], limits: EnvLimits) -> Result<AgiEnv, EnvError> {
    crate::wire::env::parse_block(bytes, limits)
}

/// What [`read_replies`] made of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyLine {
    /// `HANGUP`.
    Hangup,
    /// `100 …`, skipped by the reader.
    Trying,
    /// `200 result=…`, with what the accessors extracted.
    Success {
        /// The result value.
        result: String,
        /// The payload in parentheses, up to the last `)`.
        payload: Option<String>,
        /// The tag in parentheses, up to the first `)`.
        tag: Option<String>,
        /// The `endpos=` attribute.
        endpos: Option<String>,
    },
    /// `510`, `511`, `520 …` or another status.
    Status(u16),
    /// A whole `520-` usage block of this many body lines.
    UsageBlock(usize),
    /// Not AGI: the reader stops here.
    Malformed,
    /// A line longer than the cap: the reader stops here.
    TooLong,
}

/// Splits `bytes` into lines (each at most `max_line` bytes) and classifies them as the
/// command reader does, consuming `520-` blocks whole; stops at the first line that
/// would end the session (malformed, too long) and at the end of the bytes.
///
/// ```
/// use agi_runtime::testing::fuzz::{read_replies, ReplyLine};
///
/// let lines = read_replies(b"HANGUP\n520-x\n200 result=1\n520 end\n200 result=1 (a)b) endpos=9\n", 100);
/// assert_eq!(lines[0], ReplyLine::Hangup);
/// assert_eq!(lines[1], ReplyLine::UsageBlock(1));
/// assert!(matches!(&lines[2], ReplyLine::Success { payload: Some(p), tag: Some(t), .. } if p == "a)b" && t == "a"));
/// ```
pub fn read_replies(bytes: &[u8], max_line: usize) -> Vec<ReplyLine> {
    let mut lines = LineBuffer::default();
    lines.read_target(bytes.len()).extend_from_slice(bytes);
    let mut out = Vec::new();
    let mut usage: Option<usize> = None;
    loop {
        let span = match lines.next_line(max_line) {
            Ok(Some(span)) => span,
            Ok(None) => return out,
            Err(_) => {
                out.push(ReplyLine::TooLong);
                return out;
            }
        };
        let text = String::from_utf8_lossy(lines.line(span)).into_owned();
        lines.consume(span);
        if let Some(body) = usage.as_mut() {
            if ends_usage_block(&text) {
                out.push(ReplyLine::UsageBlock(*body));
                usage = None;
            } else {
                *body += 1;
            }
            continue;
        }
        let line = match classify(&text) {
            Line::Hangup => ReplyLine::Hangup,
            Line::Trying => ReplyLine::Trying,
            Line::Success(r) => ReplyLine::Success {
                result: r.result().to_owned(),
                payload: r.payload().map(str::to_owned),
                tag: r.tag().map(str::to_owned),
                endpos: r.attribute("endpos").map(str::to_owned),
            },
            Line::InvalidCommand => ReplyLine::Status(510),
            Line::DeadChannel => ReplyLine::Status(511),
            Line::UsageUnavailable => ReplyLine::Status(520),
            Line::OtherStatus { code, .. } => ReplyLine::Status(code),
            Line::UsageBlockStart => {
                usage = Some(0);
                continue;
            }
            Line::Malformed => {
                out.push(ReplyLine::Malformed);
                return out;
            }
        };
        out.push(line);
    }
}

/// Encodes a typed command: fixed upper-case `keywords`, then the arguments.
///
/// ```
/// use agi_runtime::testing::fuzz::encode;
/// use agi_runtime::wire::Arg;
///
/// assert_eq!(encode("SET VARIABLE", &[Arg::Text("X"), Arg::Text("a b")], 2047).unwrap(), b"SET VARIABLE X \"a b\"\n");
/// ```
pub fn encode(keywords: &str, args: &[Arg<'_>], max_line: usize) -> Result<Vec<u8>, CommandError> {
    let mut line = Vec::new();
    encode_command(&mut line, keywords, args, max_line)?;
    Ok(line)
}

/// Encodes a command whose every word comes from the caller, as
/// [`Call::command`](crate::Call::command) does.
///
/// ```
/// use agi_runtime::testing::fuzz::encode_words;
///
/// assert_eq!(encode_words(&["failure", "x"], 2047).unwrap(), b"\"failure\" x\n");
/// ```
pub fn encode_words(words: &[&str], max_line: usize) -> Result<Vec<u8>, CommandError> {
    let mut line = Vec::new();
    encode_raw(&mut line, words, max_line)?;
    Ok(line)
}
