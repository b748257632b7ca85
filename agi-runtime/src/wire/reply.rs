//! Lines Asterisk sends after the environment block: replies and `HANGUP` events.

/// One line from Asterisk, classified without interpreting command-specific parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// `HANGUP`: the asynchronous notification, never the reply to a command.
    Hangup,
    /// `100 result=0 Trying...`: a provisional reply (GOSUB); the final one follows.
    Trying,
    /// `200 result=…`: the command ran.
    Success(Response<'a>),
    /// `510 …`: unknown command, or its module is not loaded.
    InvalidCommand,
    /// `511 …`: not permitted on a dead channel (both historical wordings).
    DeadChannel,
    /// `520-…`: first line of a usage block that ends with a `520 ` line.
    UsageBlockStart,
    /// `520 …` outside a block: invalid syntax, no usage text available.
    UsageUnavailable,
    /// Any other `NNN text` status line (e.g. `503 result=-2 Memory allocation failure`).
    OtherStatus {
        /// The three-digit code.
        code: u16,
        /// The text after it.
        text: &'a str,
    },
    /// Anything else: the peer does not speak AGI.
    Malformed,
}

/// Classifies one line (without its LF).
pub(crate) fn classify(line: &str) -> Line<'_> {
    if line == "HANGUP" {
        return Line::Hangup;
    }
    let bytes = line.as_bytes();
    if bytes.len() < 4 || !bytes[..3].iter().all(u8::is_ascii_digit) {
        return Line::Malformed;
    }
    let code = u16::from(bytes[0] - b'0') * 100 + u16::from(bytes[1] - b'0') * 10 + u16::from(bytes[2] - b'0');
    // Byte 3 may start a multi-byte character (the peer sends any bytes): never slice
    // inside it; such a line is malformed below anyway.
    let text = line.get(4..).unwrap_or_default();
    match (code, bytes[3]) {
        (520, b'-') => Line::UsageBlockStart,
        (_, b' ') => match code {
            200 => match Response::parse(text) {
                Some(response) => Line::Success(response),
                None => Line::Malformed,
            },
            100 => Line::Trying,
            510 => Line::InvalidCommand,
            511 => Line::DeadChannel,
            520 => Line::UsageUnavailable,
            _ => Line::OtherStatus { code, text },
        },
        _ => Line::Malformed,
    }
}

/// Whether a line ends a `520-` usage block.
pub(crate) fn ends_usage_block(line: &str) -> bool {
    line.starts_with("520 ")
}

/// A `200 result=<value>[ <rest>]` reply, parsed lazily.
///
/// The value and the rest are kept as text: what they mean depends on the command
/// (`GET DATA` puts digits in the value, `GET VARIABLE` a payload in parentheses,
/// `STREAM FILE` an `endpos=` attribute). Typed commands interpret them; the raw
/// [`Call::command`](crate::Call::command) hands them to the caller.
///
/// ```
/// use agi_runtime::Response;
///
/// let r = Response::parse("result=1 (close)paren)").unwrap();
/// assert_eq!(r.result(), "1");
/// assert_eq!(r.payload(), Some("close)paren"));
///
/// let r = Response::parse("result=35 (dtmf) endpos=6218").unwrap();
/// assert_eq!(r.result_code(), Some(35));
/// assert_eq!(r.tag(), Some("dtmf"));
/// assert_eq!(r.attribute("endpos"), Some("6218"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    // Valid UTF-8 (a reply is checked before it is parsed), kept as bytes so that only
    // the parts a command reads are converted: most read no more than the result code.
    result: &'a [u8],
    rest: &'a [u8],
}

impl std::fmt::Debug for Response<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response").field("result", &self.result()).field("rest", &self.rest()).finish()
    }
}

/// Text known to be UTF-8: a part of a reply that was checked whole, cut at ASCII bytes.
fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

impl<'a> Response<'a> {
    /// Parses the text after `200 `; `None` unless it starts with `result=`.
    pub fn parse(text: &'a str) -> Option<Response<'a>> {
        Response::parse_checked(text.as_bytes())
    }

    /// [`parse`](Response::parse) for bytes the caller has checked to be UTF-8.
    pub(crate) fn parse_checked(text: &'a [u8]) -> Option<Response<'a>> {
        let after = text.strip_prefix(b"result=")?;
        // The value is a few characters: a plain scan beats a searcher's set-up.
        let (result, rest) = match after.iter().position(|&b| b == b' ') {
            Some(space) => (&after[..space], &after[space + 1..]),
            None => (after, &b""[..]),
        };
        Some(Response { result, rest })
    }

    /// The text of `result=`: usually an integer, digits for `GET DATA`, possibly empty.
    pub fn result(&self) -> &'a str {
        text(self.result)
    }

    /// The result as an integer, if it is one.
    pub fn result_code(&self) -> Option<i64> {
        // What `str::parse::<i64>` accepts, without converting the text first.
        let (negative, digits) = match self.result {
            [b'-', digits @ ..] => (true, digits),
            [b'+', digits @ ..] => (false, digits),
            digits => (false, digits),
        };
        if digits.is_empty() {
            return None;
        }
        let mut value: i64 = 0;
        for &byte in digits {
            let digit = i64::from(byte.wrapping_sub(b'0'));
            if digit > 9 {
                return None;
            }
            // Accumulated with its sign, so that `i64::MIN` parses too.
            value = value.checked_mul(10)?;
            value = if negative { value.checked_sub(digit)? } else { value.checked_add(digit)? };
        }
        Some(value)
    }

    /// Everything after the result value, e.g. `(timeout) endpos=0` or `Gosub complete`.
    pub fn rest(&self) -> &'a str {
        text(self.rest)
    }

    /// A payload in parentheses: from the first `(` to the **last** `)` of the line.
    ///
    /// Values (`GET VARIABLE`, `DATABASE GET`, …) are not escaped by Asterisk and may
    /// themselves contain parentheses, so the last `)` is the only safe end.
    pub fn payload(&self) -> Option<&'a str> {
        let inner = self.rest.strip_prefix(b"(")?;
        let end = memchr::memrchr(b')', inner)?;
        Some(text(&inner[..end]))
    }

    /// A reason tag in parentheses, up to the **first** `)`: `timeout`, `dtmf`,
    /// `hangup`, `speech`, … (tags never contain `)`).
    pub fn tag(&self) -> Option<&'a str> {
        let inner = self.rest.strip_prefix(b"(")?;
        let end = inner.iter().position(|&b| b == b')')?;
        Some(text(&inner[..end]))
    }

    /// The text after the tag (or the whole rest when there is none), trimmed.
    pub fn after_tag(&self) -> &'a str {
        match self.after_tag_bytes() {
            Some(after) => text(after).trim_start(),
            None => self.rest(),
        }
    }

    /// The bytes after the tag's `)`, untrimmed; `None` without a tag.
    fn after_tag_bytes(&self) -> Option<&'a [u8]> {
        let inner = self.rest.strip_prefix(b"(")?;
        let end = inner.iter().position(|&b| b == b')')?;
        Some(&inner[end + 1..])
    }

    /// The value of a `key=value` attribute after the tag, e.g. `endpos`.
    pub fn attribute(&self, key: &str) -> Option<&'a str> {
        let after = self.after_tag_bytes().unwrap_or(self.rest);
        // Words split at spaces, byte by byte: a `char` searcher's set-up costs more than
        // these few bytes. Only the value found is converted; text that starts with
        // something other than ASCII takes the exact `str` path.
        let words = match after.trim_ascii_start() {
            trimmed if trimmed.first().is_some_and(|b| !b.is_ascii()) => self.after_tag().as_bytes(),
            trimmed => trimmed,
        };
        let value =
            words.split(|&b| b == b' ').find_map(|word| word.strip_prefix(key.as_bytes())?.strip_prefix(b"="))?;
        Some(text(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn success(line: &str) -> Response<'_> {
        match classify(line) {
            Line::Success(r) => r,
            other => panic!("{line:?} classified as {other:?}"),
        }
    }

    #[test]
    fn classifies_every_form_asterisk_sends() {
        assert_eq!(classify("HANGUP"), Line::Hangup);
        assert_eq!(classify("100 result=0 Trying..."), Line::Trying);
        assert_eq!(classify("510 Invalid or unknown command"), Line::InvalidCommand);
        assert_eq!(classify("511 Command Not Permitted on a dead channel or intercept routine"), Line::DeadChannel);
        assert_eq!(classify("511 Command Not Permitted on a dead channel"), Line::DeadChannel);
        assert_eq!(classify("520-Invalid command syntax.  Proper usage follows:"), Line::UsageBlockStart);
        assert_eq!(classify("520 Invalid command syntax.  Proper usage not available."), Line::UsageUnavailable);
        assert_eq!(
            classify("503 result=-2 Memory allocation failure"),
            Line::OtherStatus { code: 503, text: "result=-2 Memory allocation failure" }
        );
        assert!(ends_usage_block("520 End of proper usage."));
        assert!(!ends_usage_block("Example return code: 200 result=1 (testvariable)"));
    }

    #[test]
    fn rejects_what_is_not_agi() {
        for line in
            ["", "HANGUP ", "hangup", "200", "200result=1", "2x0 result=1", "200 res=1", "HTTP/1.1 200 OK", "200-x"]
        {
            assert_eq!(classify(line), Line::Malformed, "{line:?}");
        }
        // Found by the `replies` fuzz target: a multi-byte character right after the code.
        assert_eq!(classify("222\u{fffd}\u{fffd}"), Line::Malformed);
        assert_eq!(classify("200é result=1"), Line::Malformed);
    }

    #[test]
    fn result_codes_parse_as_integers_do() {
        let texts = [
            "0",
            "1",
            "-1",
            "+7",
            "-0",
            "35",
            "",
            "-",
            "+",
            "1a",
            "0x1",
            "٣",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "-9223372036854775809",
            "00012",
        ];
        for text in texts {
            let line = format!("result={text}");
            let response = Response::parse(&line).unwrap();
            assert_eq!(response.result_code(), text.parse::<i64>().ok(), "{text:?}");
        }
    }

    #[test]
    fn parses_values_payloads_tags_and_attributes() {
        let r = success("200 result=0");
        assert_eq!((r.result(), r.rest(), r.result_code()), ("0", "", Some(0)));
        let r = success("200 result=-1 endpos=4160");
        assert_eq!((r.result_code(), r.attribute("endpos"), r.tag()), (Some(-1), Some("4160"), None));
        let r = success("200 result= (timeout)");
        assert_eq!((r.result(), r.tag(), r.result_code()), ("", Some("timeout"), None));
        let r = success("200 result=");
        assert_eq!((r.result(), r.rest()), ("", ""));
        let r = success("200 result=12 (timeout)");
        assert_eq!((r.result(), r.tag()), ("12", Some("timeout")));
        let r = success("200 result=1 (a \"quoted\" \\ value)");
        assert_eq!(r.payload(), Some("a \"quoted\" \\ value"));
        let r = success("200 result=1 ()");
        assert_eq!(r.payload(), Some(""));
        let r = success("200 result=1 (we\"ird \\ (paren) ${X} ; \"x\")");
        assert_eq!(r.payload(), Some("we\"ird \\ (paren) ${X} ; \"x\""));
        let r = success("200 result=0 (timeout) endpos=16160");
        assert_eq!((r.tag(), r.attribute("endpos")), (Some("timeout"), Some("16160")));
        let r = success("200 result=0 Gosub complete (abnormal exit)");
        assert_eq!((r.rest(), r.tag()), ("Gosub complete (abnormal exit)", None));
        let r = success("200 result=1 (speech) endpos=0 results=1 score0=900 text0=\"a (b)\" grammar0=g");
        assert_eq!((r.tag(), r.attribute("results"), r.attribute("grammar0")), (Some("speech"), Some("1"), Some("g")));
        assert_eq!(r.attribute("endpo"), None);
    }
}
