//! Encoding commands into the single line Asterisk reads, injection-proof.
//!
//! Asterisk splits a command line into words with its own rules (AGI-PROTOCOL.md §2.2):
//! blanks separate words, `"` toggles quoting, `\` makes the next byte literal, and there
//! are no other escapes. An argument is written bare when Asterisk would read it back
//! unchanged, and otherwise inside quotes with `\` and `"` escaped. LF, CR and NUL
//! cannot be carried inside a word at all, so they are refused, never stripped.

use std::fmt;
use std::io::Write as _;

/// The line limit of every Asterisk release before 20.16 / 21.11 / 22.6: a 2048-byte
/// buffer holds at most 2047 bytes, the LF included. Longer lines are cut and the rest
/// runs as a second command, so the encoder refuses them.
pub const DEFAULT_MAX_COMMAND_LINE: usize = 2047;

/// The line limit of Asterisk 20.16, 21.11, 22.6, 23.0 and later (8192-byte buffer).
pub const LARGE_MAX_COMMAND_LINE: usize = 8191;

/// How one argument is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg<'a> {
    /// Bare when Asterisk reads it back unchanged, quoted otherwise.
    Text(&'a str),
    /// Always inside quotes (free text, escape-digit sets), which reads better in logs.
    Quoted(&'a str),
    /// An integer, written in decimal.
    Int(i64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(text: &'a str) -> Self {
        Arg::Text(text)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(text: &'a String) -> Self {
        Arg::Text(text)
    }
}

/// Up to `N` arguments on the stack, for commands with optional trailing arguments:
/// building a command allocates nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ArgList<'a, const N: usize> {
    items: [Arg<'a>; N],
    len: usize,
}

impl<'a, const N: usize> ArgList<'a, N> {
    pub(crate) fn new() -> Self {
        ArgList { items: [Arg::Int(0); N], len: 0 }
    }

    /// Appends an argument; `N` is sized per command for its longest form.
    pub(crate) fn push(&mut self, arg: Arg<'a>) {
        debug_assert!(self.len < N, "ArgList of {N} is too small");
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = arg;
            self.len += 1;
        }
    }

    pub(crate) fn as_slice(&self) -> &[Arg<'a>] {
        &self.items[..self.len]
    }
}

impl<'a, const N: usize> Extend<Arg<'a>> for ArgList<'a, N> {
    fn extend<I: IntoIterator<Item = Arg<'a>>>(&mut self, args: I) {
        for arg in args {
            self.push(arg);
        }
    }
}

impl<'a, const N: usize, const M: usize> From<[Arg<'a>; M]> for ArgList<'a, N> {
    fn from(args: [Arg<'a>; M]) -> Self {
        let mut list = ArgList::new();
        list.extend(args);
        list
    }
}

/// A byte that can never travel inside an AGI command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForbiddenByte {
    /// LF: ends the command line; the rest would run as another command.
    LineFeed,
    /// CR: Asterisk keeps it as part of the word; it is never what a caller meant.
    CarriageReturn,
    /// NUL: Asterisk handles the line as a C string and loses track of its length.
    Nul,
}

impl fmt::Display for ForbiddenByte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ForbiddenByte::LineFeed => "a line feed (\\n)",
            ForbiddenByte::CarriageReturn => "a carriage return (\\r)",
            ForbiddenByte::Nul => "a NUL byte",
        })
    }
}

/// Why a command was not sent. Nothing reaches Asterisk when encoding fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// An argument holds LF, CR or NUL.
    #[error(
        "argument {index} of `{command}` contains {byte} at byte {position}: AGI cannot carry it, nothing was sent"
    )]
    ForbiddenByte {
        /// The command's keywords (or first word for raw commands).
        command: String,
        /// 0-based index of the argument after the keywords.
        index: usize,
        /// Which byte.
        byte: ForbiddenByte,
        /// Its offset inside the argument.
        position: usize,
    },
    /// The encoded line is longer than Asterisk's buffer.
    #[error(
        "`{command}` would be a {len}-byte line with its LF, over the limit of {max}: Asterisk would cut it and run the rest as another command, nothing was sent"
    )]
    LineTooLong {
        /// The command's keywords.
        command: String,
        /// The encoded length, LF included.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// A raw command with no words.
    #[error("a command needs at least one word")]
    Empty,
    /// A raw command line that starts with `failure`, Asterisk's end-of-session marker.
    #[error("a command line cannot start with `failure`: Asterisk would end the session, nothing was sent")]
    FailureMarker,
}

fn forbidden(byte: u8) -> Option<ForbiddenByte> {
    match byte {
        b'\n' => Some(ForbiddenByte::LineFeed),
        b'\r' => Some(ForbiddenByte::CarriageReturn),
        0 => Some(ForbiddenByte::Nul),
        _ => None,
    }
}

/// Whether Asterisk would read `text` back unchanged as one bare word.
fn is_bare_word(text: &str) -> bool {
    !text.is_empty() && !text.bytes().any(|b| matches!(b, b' ' | b'\t' | b'"' | b'\\'))
}

/// Whether a line starting with `text` would be Asterisk's `failure` marker (§2.1),
/// which ends the session instead of running a command.
fn looks_like_failure_marker(text: &str) -> bool {
    text.len() >= 7 && text.as_bytes()[..7].eq_ignore_ascii_case(b"failure")
}

/// Writes one command line into a reusable buffer.
///
/// `keywords` are the fixed words of the command (`STREAM FILE`), written as they are;
/// they come from this crate, never from a caller.
pub(crate) fn encode_command(
    buf: &mut Vec<u8>,
    keywords: &str,
    args: &[Arg<'_>],
    max_line: usize,
) -> Result<(), CommandError> {
    buf.clear();
    debug_assert!(is_command_keywords(keywords), "keywords must be fixed upper-case words: {keywords:?}");
    buf.extend_from_slice(keywords.as_bytes());
    for (index, arg) in args.iter().enumerate() {
        buf.push(b' ');
        write_arg(buf, *arg).map_err(|(byte, position)| CommandError::ForbiddenByte {
            command: keywords.to_owned(),
            index,
            byte,
            position,
        })?;
    }
    finish_line(buf, keywords, max_line)
}

/// Writes a command whose every word comes from the caller (the raw escape hatch).
pub(crate) fn encode_raw<I, S>(buf: &mut Vec<u8>, words: I, max_line: usize) -> Result<(), CommandError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    buf.clear();
    let mut first = None;
    for (index, word) in words.into_iter().enumerate() {
        let word = word.as_ref();
        if index > 0 {
            buf.push(b' ');
        }
        // A first word spelling `failure` is quoted, so the line cannot start with it.
        let arg = if index == 0 && looks_like_failure_marker(word) { Arg::Quoted(word) } else { Arg::Text(word) };
        let name = || first.clone().unwrap_or_else(|| word.to_owned());
        write_arg(buf, arg).map_err(|(byte, position)| CommandError::ForbiddenByte {
            command: name(),
            index,
            byte,
            position,
        })?;
        if index == 0 {
            first = Some(word.to_owned());
        }
    }
    let Some(first) = first else { return Err(CommandError::Empty) };
    finish_line(buf, &first, max_line)
}

/// Writes a command line exactly as given (the testing escape hatch that reproduces a
/// recorded line byte for byte): it must be one line, must not be the `failure` marker,
/// and must fit the limit; the caller is responsible for its quoting.
#[cfg(feature = "testing")]
pub(crate) fn encode_line(buf: &mut Vec<u8>, line: &str, max_line: usize) -> Result<(), CommandError> {
    buf.clear();
    let command = line.split(' ').next().unwrap_or_default();
    if let Some((position, byte)) = line.bytes().enumerate().find_map(|(i, b)| forbidden(b).map(|f| (i, f))) {
        return Err(CommandError::ForbiddenByte { command: command.to_owned(), index: 0, byte, position });
    }
    if line.trim_matches([' ', '\t']).is_empty() {
        return Err(CommandError::Empty);
    }
    if looks_like_failure_marker(line) {
        return Err(CommandError::FailureMarker);
    }
    buf.extend_from_slice(line.as_bytes());
    finish_line(buf, command, max_line)
}

fn finish_line(buf: &mut Vec<u8>, command: &str, max_line: usize) -> Result<(), CommandError> {
    buf.push(b'\n');
    if buf.len() > max_line {
        let len = buf.len();
        buf.clear();
        return Err(CommandError::LineTooLong { command: command.to_owned(), len, max: max_line });
    }
    debug_assert!(!looks_like_failure_marker(std::str::from_utf8(buf).unwrap_or("")));
    Ok(())
}

fn write_arg(buf: &mut Vec<u8>, arg: Arg<'_>) -> Result<(), (ForbiddenByte, usize)> {
    let (text, always_quote) = match arg {
        Arg::Int(n) => {
            let _ = write!(buf, "{n}");
            return Ok(());
        }
        Arg::Text(text) => (text, false),
        Arg::Quoted(text) => (text, true),
    };
    // One pass refuses LF, CR and NUL and notes whether the word must be quoted; most
    // bytes are above `"` and not `\`, and need neither test.
    let mut bare = !always_quote && !text.is_empty();
    for (position, &b) in text.as_bytes().iter().enumerate() {
        if b > b'"' && b != b'\\' {
            continue;
        }
        if let Some(byte) = forbidden(b) {
            return Err((byte, position));
        }
        bare &= !matches!(b, b' ' | b'\t' | b'"' | b'\\');
    }
    debug_assert_eq!(bare, !always_quote && is_bare_word(text));
    if bare {
        buf.extend_from_slice(text.as_bytes());
        return Ok(());
    }
    buf.push(b'"');
    for &b in text.as_bytes() {
        if b == b'"' || b == b'\\' {
            buf.push(b'\\');
        }
        buf.push(b);
    }
    buf.push(b'"');
    Ok(())
}

fn is_command_keywords(keywords: &str) -> bool {
    !keywords.is_empty()
        && keywords.split(' ').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_uppercase()))
        && !looks_like_failure_marker(keywords)
}

/// Quotes one argument the way the encoder would, for display and tests.
///
/// ```
/// use agi_runtime::wire::quote_arg;
///
/// assert_eq!(quote_arg("welcome").unwrap(), "welcome");
/// assert_eq!(quote_arg("").unwrap(), "\"\"");
/// assert_eq!(quote_arg("a \"quoted\" \\ value").unwrap(), r#""a \"quoted\" \\ value""#);
/// assert!(quote_arg("two\nlines").is_err());
/// ```
pub fn quote_arg(text: &str) -> Result<String, ForbiddenByte> {
    let mut buf = Vec::with_capacity(text.len() + 2);
    write_arg(&mut buf, Arg::Text(text)).map_err(|(byte, _)| byte)?;
    Ok(String::from_utf8(buf).expect("quoting keeps UTF-8 intact"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(keywords: &str, args: &[Arg<'_>]) -> String {
        let mut buf = Vec::new();
        encode_command(&mut buf, keywords, args, DEFAULT_MAX_COMMAND_LINE).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn matches_the_captured_command_lines() {
        assert_eq!(line("ANSWER", &[]), "ANSWER\n");
        assert_eq!(line("STREAM FILE", &[Arg::Text("tone1s"), Arg::Quoted("")]), "STREAM FILE tone1s \"\"\n");
        assert_eq!(
            line("STREAM FILE", &[Arg::Text("tone3s"), Arg::Quoted(""), Arg::Int(16000)]),
            "STREAM FILE tone3s \"\" 16000\n"
        );
        assert_eq!(line("SET VARIABLE", &[Arg::Text("FOO"), Arg::Text("bar baz")]), "SET VARIABLE FOO \"bar baz\"\n");
        assert_eq!(
            line("SET VARIABLE", &[Arg::Text("Q1"), Arg::Text("a \"quoted\" \\ value")]),
            "SET VARIABLE Q1 \"a \\\"quoted\\\" \\\\ value\"\n"
        );
        assert_eq!(line("SET VARIABLE", &[Arg::Text("Q3"), Arg::Text("")]), "SET VARIABLE Q3 \"\"\n");
        assert_eq!(line("SET VARIABLE", &[Arg::Text("X"), Arg::Text("1")]), "SET VARIABLE X 1\n");
        assert_eq!(line("GET VARIABLE", &[Arg::Text("LEN(hello)")]), "GET VARIABLE LEN(hello)\n");
        assert_eq!(line("GET FULL VARIABLE", &[Arg::Quoted("${CHANNEL}")]), "GET FULL VARIABLE \"${CHANNEL}\"\n");
        assert_eq!(
            line("VERBOSE", &[Arg::Text("Hello from FastAGI"), Arg::Int(3)]),
            "VERBOSE \"Hello from FastAGI\" 3\n"
        );
        assert_eq!(line("WAIT FOR DIGIT", &[Arg::Int(-1)]), "WAIT FOR DIGIT -1\n");
    }

    #[test]
    fn refuses_line_breaks_and_nul_without_sending_anything() {
        let mut buf = b"stale".to_vec();
        let err = encode_command(&mut buf, "SET VARIABLE", &[Arg::Text("X"), Arg::Text("a\nb")], 2047).unwrap_err();
        assert_eq!(
            err,
            CommandError::ForbiddenByte {
                command: "SET VARIABLE".into(),
                index: 1,
                byte: ForbiddenByte::LineFeed,
                position: 1
            }
        );
        assert!(!buf.ends_with(b"\n"));
        for (text, byte) in [("\r", ForbiddenByte::CarriageReturn), ("a\0", ForbiddenByte::Nul)] {
            let err = encode_command(&mut buf, "NOOP", &[Arg::Quoted(text)], 2047).unwrap_err();
            assert!(matches!(err, CommandError::ForbiddenByte { byte: b, .. } if b == byte));
        }
    }

    #[test]
    fn refuses_lines_over_the_limit_counting_the_lf() {
        let mut buf = Vec::new();
        let fits = "A".repeat(2047 - "VERBOSE ".len() - 1);
        encode_command(&mut buf, "VERBOSE", &[Arg::Text(&fits)], 2047).unwrap();
        assert_eq!(buf.len(), 2047);
        let over = format!("{fits}A");
        let err = encode_command(&mut buf, "VERBOSE", &[Arg::Text(&over)], 2047).unwrap_err();
        assert_eq!(err, CommandError::LineTooLong { command: "VERBOSE".into(), len: 2048, max: 2047 });
        assert!(buf.is_empty());
        // Escaping counts: 1000 quotes become 2002 bytes.
        let quotes = "\"".repeat(1020);
        assert!(encode_command(&mut buf, "NOOP", &[Arg::Text(&quotes)], 2047).is_err());
    }

    #[test]
    fn raw_commands_quote_words_and_never_start_with_failure() {
        let mut buf = Vec::new();
        encode_raw(&mut buf, ["SOME", "NEW", "COMMAND", "with space"], 2047).unwrap();
        assert_eq!(buf, b"SOME NEW COMMAND \"with space\"\n");
        encode_raw(&mut buf, ["FAILURE", "x"], 2047).unwrap();
        assert_eq!(buf, b"\"FAILURE\" x\n");
        encode_raw(&mut buf, ["failure:oops"], 2047).unwrap();
        assert_eq!(buf, b"\"failure:oops\"\n");
        assert_eq!(encode_raw(&mut buf, Vec::<&str>::new(), 2047), Err(CommandError::Empty));
        assert!(matches!(
            encode_raw(&mut buf, ["NOOP", "x\ny"], 2047),
            Err(CommandError::ForbiddenByte { index: 1, .. })
        ));
    }
}
