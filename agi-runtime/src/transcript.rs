//! The record of a session, in the format of the captures in `tests/agi-test-vectors`.
//!
//! ```json
//! {
//!  "script": "stream_dtmf?from=dialplan",
//!  "env": { "agi_network": "yes", "agi_network_script": "stream_dtmf?from=dialplan", ... },
//!  "events": [
//!   {"t": 0.000, "dir": "<<", "data": "agi_network: yes\n"},
//!   {"t": 0.501, "dir": ">>", "data": "ANSWER\n"},
//!   ...
//!  ]
//! }
//! ```
//!
//! `data` holds the bytes as Latin-1 text: each character is one byte (so any byte
//! sequence survives the round trip, valid UTF-8 or not). The server writes this format
//! when it [records calls](crate::CallRecording); the `testing` feature reads it back to
//! replay a call.

use std::fmt::Write as _;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Who sent the bytes of an [`Event`], with the capture files' notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    /// `<<`: Asterisk to the server: environment lines, replies, `HANGUP`; `(EOF)` when
    /// it closed.
    #[serde(rename = "<<")]
    FromAsterisk,
    /// `>>`: the server to Asterisk: commands.
    #[serde(rename = ">>")]
    FromServer,
    /// `--`: an action of the server, e.g. `(server closes socket)`.
    #[serde(rename = "--")]
    ServerAction,
    /// `..`: an observation, e.g. `(no data within 2.0s)`.
    #[serde(rename = "..")]
    Note,
}

impl Direction {
    /// The notation of the capture files: `<<`, `>>`, `--` or `..`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::FromAsterisk => "<<",
            Direction::FromServer => ">>",
            Direction::ServerAction => "--",
            Direction::Note => "..",
        }
    }
}

/// One entry of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Seconds since the connection opened.
    pub t: f64,
    /// Who sent it.
    pub dir: Direction,
    /// The bytes as Latin-1 text (one character per byte), LF included; or a marker
    /// such as [`EOF_MARKER`].
    pub data: String,
}

impl Event {
    /// The bytes this event stands for.
    pub fn bytes(&self) -> Vec<u8> {
        latin1_bytes(&self.data)
    }

    /// The data as readable text: without its final LF, decoded as UTF-8 where it is
    /// UTF-8, with control bytes shown as `<CR>`, `<TAB>`, `<LF>` or `<0x01>`.
    pub fn readable(&self) -> String {
        let bytes = self.bytes();
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        let mut out = String::with_capacity(bytes.len());
        for c in String::from_utf8_lossy(bytes).chars() {
            match c {
                '\r' => out.push_str("<CR>"),
                '\t' => out.push_str("<TAB>"),
                '\n' => out.push_str("<LF>"),
                c if c.is_control() => {
                    let _ = write!(out, "<0x{:02x}>", c as u32);
                }
                c => out.push(c),
            }
        }
        out
    }

    /// Whether this is the "Asterisk closed the socket" marker.
    pub fn is_eof(&self) -> bool {
        self.dir == Direction::FromAsterisk && self.data == EOF_MARKER
    }

    /// Whether this is the "server closed its side" marker.
    pub fn is_server_close(&self) -> bool {
        self.dir == Direction::ServerAction && self.data == SERVER_CLOSE_MARKER
    }
}

/// The marker for "Asterisk closed the socket".
pub const EOF_MARKER: &str = "(EOF)";
/// The marker for "the server closed its side".
pub const SERVER_CLOSE_MARKER: &str = "(server closes socket)";

/// A whole session: the script, the environment block, and every event in order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Transcript {
    /// `agi_network_script` of the session (empty when Asterisk omitted it).
    pub script: String,
    /// The environment block, parsed, in the order Asterisk sent it.
    #[serde(with = "ordered_map")]
    pub env: Vec<(String, String)>,
    /// Everything that happened, in order.
    pub events: Vec<Event>,
}

impl Transcript {
    /// A transcript of `events`, taking the script and the environment from the
    /// leading environment lines.
    pub fn from_events(events: Vec<Event>) -> Transcript {
        let mut env = Vec::new();
        for event in events.iter().take_while(|e| e.dir == Direction::FromAsterisk) {
            let line = event.data.strip_suffix('\n').unwrap_or(&event.data);
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(": ").or_else(|| line.split_once(':')).unwrap_or((line, ""));
            env.push((name.to_owned(), value.to_owned()));
        }
        let script =
            env.iter().find(|(name, _)| name == "agi_network_script").map(|(_, v)| v.clone()).unwrap_or_default();
        Transcript { script, env, events }
    }

    /// The value of an environment variable.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The command lines the server sent, without their LF, in order.
    pub fn commands(&self) -> impl Iterator<Item = &str> {
        self.events
            .iter()
            .filter(|e| e.dir == Direction::FromServer)
            .map(|e| e.data.strip_suffix('\n').unwrap_or(&e.data))
    }

    /// The events after the environment block (its final empty line included in the block).
    pub fn after_env(&self) -> &[Event] {
        let end =
            self.events.iter().position(|e| e.dir == Direction::FromAsterisk && e.data == "\n").map_or(0, |i| i + 1);
        &self.events[end..]
    }

    /// The file format, one event per line.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256 + self.events.iter().map(|e| e.data.len() + 40).sum::<usize>());
        out.push_str("{\n \"script\": ");
        json_string(&mut out, &self.script);
        out.push_str(",\n \"env\": {");
        for (i, (name, value)) in self.env.iter().enumerate() {
            out.push_str(if i == 0 { "\n  " } else { ",\n  " });
            json_string(&mut out, name);
            out.push_str(": ");
            json_string(&mut out, value);
        }
        out.push_str(if self.env.is_empty() { "},\n \"events\": [" } else { "\n },\n \"events\": [" });
        for (i, event) in self.events.iter().enumerate() {
            out.push_str(if i == 0 { "\n  " } else { ",\n  " });
            let t = if event.t.is_finite() { event.t } else { 0.0 };
            let _ = write!(out, "{{\"t\": {t:.3}, \"dir\": \"{}\", \"data\": ", event.dir.as_str());
            json_string(&mut out, &event.data);
            out.push('}');
        }
        out.push_str(if self.events.is_empty() { "]\n}\n" } else { "\n ]\n}\n" });
        out
    }

    /// Reads the file format.
    #[cfg(feature = "testing")]
    pub fn from_json(json: &str) -> Result<Transcript, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// Reads a transcript file (a capture, or a call the server recorded).
    #[cfg(feature = "testing")]
    pub fn load(path: impl AsRef<std::path::Path>) -> std::io::Result<Transcript> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)?;
        Transcript::from_json(&text).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: not a transcript: {e}", path.display()))
        })
    }
}

/// One line per event: `<<`, `>>`, `--` or `..`, then the [readable](Event::readable)
/// data.
impl std::fmt::Display for Transcript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for event in &self.events {
            writeln!(f, "{} {}", event.dir.as_str(), event.readable())?;
        }
        Ok(())
    }
}

/// Writes `text` as a JSON string literal.
fn json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Bytes as Latin-1 text: each byte becomes the character of the same number.
pub fn latin1_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Latin-1 text back to bytes. A character above U+00FF (not Latin-1, e.g. typed by
/// hand into a file) is taken as its UTF-8 bytes.
pub fn latin1_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(byte) => out.push(byte),
            Err(_) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out
}

/// Collects events with their time since the start.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    start: Instant,
    pub(crate) events: Vec<Event>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder { start: Instant::now(), events: Vec::new() }
    }
}

impl Recorder {
    /// Records `bytes` (kept as Latin-1 text).
    pub(crate) fn push(&mut self, dir: Direction, bytes: &[u8]) {
        self.push_text(dir, latin1_string(bytes));
    }

    /// Records a marker or a note.
    pub(crate) fn push_text(&mut self, dir: Direction, data: impl Into<String>) {
        let t = (self.start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        self.events.push(Event { t, dir, data: data.into() });
    }
}

/// Serializes `Vec<(String, String)>` as a JSON object, keeping the order.
mod ordered_map {
    use std::fmt;

    use serde::de::{MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(pairs: &[(String, String)], serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(pairs.len()))?;
        for (name, value) in pairs {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, String)>, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Vec<(String, String)>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(256));
                while let Some(pair) = map.next_entry::<String, String>()? {
                    pairs.push(pair);
                }
                Ok(pairs)
            }
        }
        deserializer.deserialize_map(Pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_keeps_every_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(latin1_bytes(&latin1_string(&bytes)), bytes);
        assert_eq!(latin1_bytes("caf\u{e9} \u{20ac}"), b"caf\xe9 \xe2\x82\xac");
    }

    #[test]
    fn the_environment_comes_from_the_leading_lines() {
        let mut recorder = Recorder::default();
        for line in ["agi_network: yes\n", "agi_network_script: x?y=1\n", "agi_accountcode: \n", "\n"] {
            recorder.push(Direction::FromAsterisk, line.as_bytes());
        }
        recorder.push(Direction::FromServer, b"ANSWER\n");
        let transcript = Transcript::from_events(recorder.events);
        assert_eq!(transcript.script, "x?y=1");
        assert_eq!(transcript.env_var("agi_accountcode"), Some(""));
        assert_eq!(transcript.env.len(), 3);
        assert_eq!(transcript.commands().collect::<Vec<_>>(), ["ANSWER"]);
        assert_eq!(transcript.after_env().len(), 1);
    }

    #[test]
    fn events_read_as_text_with_visible_control_bytes() {
        let event = |data: &[u8]| Event { t: 0.0, dir: Direction::FromServer, data: latin1_string(data) };
        assert_eq!(event(b"NOOP\r\n").readable(), "NOOP<CR>");
        assert_eq!(event("caf\u{e9}\tx\n".as_bytes()).readable(), "caf\u{e9}<TAB>x");
        assert_eq!(event(b"a\nb\x01\n").readable(), "a<LF>b<0x01>");
        let transcript = Transcript::from_events(vec![event(b"ANSWER\n")]);
        assert_eq!(transcript.to_string(), ">> ANSWER\n");
    }

    #[test]
    fn json_escapes_control_characters() {
        let mut out = String::new();
        json_string(&mut out, "a\"b\\c\n\r\t\u{1}\u{e9}");
        assert_eq!(out, r#""a\"b\\c\n\r\t\u0001é""#);
    }
}
