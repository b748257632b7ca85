//! The record of a session, in the format of the captures in `agi-test-vectors`.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Who sent the bytes of an [`Event`], with the capture files' notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Asterisk to the server: environment lines, replies, `HANGUP`; `(EOF)` when it closed.
    #[serde(rename = "<<")]
    FromAsterisk,
    /// The server to Asterisk: commands.
    #[serde(rename = ">>")]
    FromServer,
    /// An action of the server, e.g. `(server closes socket)`.
    #[serde(rename = "--")]
    ServerAction,
    /// An observation, e.g. `(no data within 2.0s)`.
    #[serde(rename = "..")]
    Note,
}

/// One entry of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Seconds since the connection opened.
    pub t: f64,
    /// Who sent it.
    pub dir: Direction,
    /// The bytes, as (Latin-1 compatible) text, LF included.
    pub data: String,
}

/// The marker for "Asterisk closed the socket".
pub const EOF_MARKER: &str = "(EOF)";
/// The marker for "the server closed its side".
pub const SERVER_CLOSE_MARKER: &str = "(server closes socket)";

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
    pub(crate) fn push(&mut self, dir: Direction, data: impl Into<String>) {
        let t = (self.start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        self.events.push(Event { t, dir, data: data.into() });
    }
}
