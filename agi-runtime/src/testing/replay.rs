//! Replaying a transcript: Asterisk's side of a recorded session is played back to a
//! server, which must send exactly the recorded commands, byte for byte.

use std::fmt;
use std::io;
use std::path::Path;
use std::time::Duration;

use super::channel::external;
use super::fake::{SimError, SimErrorKind};
use super::peer::{DEFAULT_WAIT, LineEnd, ScriptedPeer};
use super::{Target, asterisk_words};
use crate::transcript::{Direction, Event, Transcript, latin1_string};
use crate::wire::DEFAULT_MAX_COMMAND_LINE;

/// The longest recorded line a replay reads from the server.
const MAX_LINE: usize = 1024 * 1024;

/// Why a recorded command cannot be sent by a server built on this crate: the encoder
/// refuses it by design, or the session did something only a broken server does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HazardKind {
    /// Several command lines in one write (pipelining): Asterisk strands all but the
    /// first, and a `Call` sends one command at a time.
    SeveralLines,
    /// A CR in the line: Asterisk keeps it inside the last word; the encoder refuses CR.
    CarriageReturn,
    /// A NUL byte: Asterisk cuts the line there; the encoder refuses NUL.
    Nul,
    /// An empty command line (Asterisk answers `510`); the encoder sends no empty line.
    EmptyLine,
    /// A line longer than the encoder's limit: Asterisk would cut it and run the rest as
    /// another command.
    TooLong {
        /// The line's length with its LF.
        len: usize,
        /// The limit of the encoder.
        max: usize,
    },
    /// A line starting with `failure` (other than the server's own bare `failure`
    /// marker): Asterisk ends the session.
    FailureMarker,
    /// A line without its LF.
    Unterminated,
    /// The command never got its reply because the next one was sent while it was in
    /// flight (input that interrupts media); a `Call` waits for every reply.
    InFlight,
}

impl fmt::Display for HazardKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HazardKind::SeveralLines => {
                f.write_str("several command lines in one write; a server sends one command at a time")
            }
            HazardKind::CarriageReturn => f.write_str("a carriage return in the line, which the encoder refuses"),
            HazardKind::Nul => f.write_str("a NUL byte in the line, which the encoder refuses"),
            HazardKind::EmptyLine => f.write_str("an empty command line, which the encoder never sends"),
            HazardKind::TooLong { len, max } => {
                write!(f, "a {len}-byte line, over the encoder's limit of {max}; Asterisk would cut it in two")
            }
            HazardKind::FailureMarker => f.write_str(
                "a line starting with `failure`, Asterisk's end-of-session marker, which the encoder refuses",
            ),
            HazardKind::Unterminated => f.write_str("a line without its LF"),
            HazardKind::InFlight => {
                f.write_str("the command got no reply: the next command was sent while it was in flight")
            }
        }
    }
}

/// The point where a transcript stops being reproducible, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hazard {
    /// The index of the recorded event (in [`Transcript::events`]).
    pub event: usize,
    /// The recorded bytes of the command (as UTF-8, invalid sequences replaced).
    pub command: String,
    /// Why it cannot be reproduced.
    pub kind: HazardKind,
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.command.chars().take(60).collect();
        let more = if self.command.chars().count() > 60 { "…" } else { "" };
        write!(f, "event {} `{}{more}`: {}", self.event, shown.escape_debug(), self.kind)
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// Asterisk writes these bytes.
    Send(Vec<u8>),
    /// The server must send exactly this line (LF included); the recorded event index.
    Expect(Vec<u8>, usize),
    /// The server must close its side without sending anything more.
    ExpectClose,
    /// Asterisk closes the connection.
    Close,
}

/// Plays Asterisk's side of a transcript to a server and checks that the server sends
/// exactly the recorded commands, byte for byte, with the recorded replies fed back.
///
/// The transcript can be a capture of a real Asterisk (`tests/agi-test-vectors`) or a
/// call the server [recorded](crate::CallRecording). A transcript holding something a
/// server built on this crate never sends (two commands in one write, a CR, a line over
/// the limit, the `failure` marker, a command sent while another is in flight) is
/// replayed up to that point: [`hazard`](Replay::hazard) says where and why.
///
/// ```
/// use agi_runtime::testing::{Replay, Transcript};
/// use agi_runtime::{handler_fn, Router};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let recorded = r#"{"script": "hello", "env": {}, "events": [
///   {"t": 0, "dir": "<<", "data": "agi_network: yes\n"},
///   {"t": 0, "dir": "<<", "data": "agi_network_script: hello\n"},
///   {"t": 0, "dir": "<<", "data": "\n"},
///   {"t": 0, "dir": ">>", "data": "ANSWER\n"},
///   {"t": 0, "dir": "<<", "data": "200 result=0\n"},
///   {"t": 0, "dir": ">>", "data": "SET VARIABLE FASTAGI_STATUS SUCCESS\n"},
///   {"t": 0, "dir": "<<", "data": "200 result=1\n"},
///   {"t": 0, "dir": "--", "data": "(server closes socket)"},
///   {"t": 0, "dir": "<<", "data": "HANGUP\n"},
///   {"t": 0, "dir": "<<", "data": "(EOF)"}]}"#;
/// let replay = Replay::new(Transcript::from_json(recorded).unwrap());
/// let router: Router = Router::new()
///     .route("/hello", handler_fn(|call| Box::pin(async move { call.answer().await })))
///     .unwrap();
/// let report = replay.run(router).await.unwrap();
/// assert_eq!(report.commands_checked(), 2);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Replay {
    transcript: Transcript,
    steps: Vec<Step>,
    hazard: Option<Hazard>,
    wait: Duration,
}

/// What a replay checked.
#[derive(Debug, Clone)]
pub struct ReplayReport {
    transcript: Transcript,
    commands_checked: usize,
    hazard: Option<Hazard>,
}

impl ReplayReport {
    /// What was exchanged during the replay.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// How many recorded commands the server sent byte for byte.
    pub fn commands_checked(&self) -> usize {
        self.commands_checked
    }

    /// Where the replay stopped before the end of the transcript, if it did.
    pub fn stopped_at(&self) -> Option<&Hazard> {
        self.hazard.as_ref()
    }
}

/// Tracks the recorded session to tell replies from unanswered commands.
#[derive(Debug, Default)]
struct Flow {
    /// The step index of the command waiting for its final reply.
    awaiting: Option<(usize, usize)>,
    in_usage_block: bool,
    /// `PUT SOUNDFILE`: data lines announced by the command, and still to come.
    upload_announced: usize,
    upload_left: usize,
}

impl Flow {
    fn reply(&mut self, line: &str) {
        if self.in_usage_block {
            if line.starts_with("520 ") {
                self.in_usage_block = false;
                self.awaiting = None;
            }
            return;
        }
        if line.starts_with("520-") {
            self.in_usage_block = true;
        } else if ["200 ", "503 ", "510 ", "511 ", "520 "].iter().any(|code| line.starts_with(code)) {
            if self.awaiting.is_some() && self.upload_announced > 0 && line == "200 result=0" {
                self.upload_left = std::mem::take(&mut self.upload_announced);
                if self.upload_left > 0 {
                    return;
                }
            }
            self.upload_announced = 0;
            self.awaiting = None;
        }
    }
}

fn hazard_of(bytes: &[u8], max_line: usize) -> Option<HazardKind> {
    let line = match bytes.strip_suffix(b"\n") {
        Some(line) => line,
        None => return Some(HazardKind::Unterminated),
    };
    if line.contains(&b'\n') {
        Some(HazardKind::SeveralLines)
    } else if line.contains(&b'\r') {
        Some(HazardKind::CarriageReturn)
    } else if line.contains(&0) {
        Some(HazardKind::Nul)
    } else if line.iter().all(|&b| b == b' ' || b == b'\t') {
        Some(HazardKind::EmptyLine)
    } else if bytes.len() > max_line {
        Some(HazardKind::TooLong { len: bytes.len(), max: max_line })
    } else if line.len() >= 7 && line[..7].eq_ignore_ascii_case(b"failure") && line != b"failure" {
        Some(HazardKind::FailureMarker)
    } else {
        None
    }
}

impl Replay {
    /// Prepares the replay of `transcript`.
    pub fn new(transcript: Transcript) -> Replay {
        let (steps, hazard) = plan(&transcript.events, DEFAULT_MAX_COMMAND_LINE);
        Replay { transcript, steps, hazard, wait: DEFAULT_WAIT }
    }

    /// The longest command line the server sends, LF included (default 2047, the
    /// server's default): set it to the server's
    /// [`max_command_line`](crate::Server::max_command_line) if that was raised.
    pub fn max_command_line(mut self, max: usize) -> Self {
        (self.steps, self.hazard) = plan(&self.transcript.events, max);
        self
    }

    /// Reads a transcript file and prepares its replay.
    pub fn load(path: impl AsRef<Path>) -> io::Result<Replay> {
        Transcript::load(path).map(Replay::new)
    }

    /// How long to wait for each line of the server (default 10 s).
    pub fn timeout(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The transcript being replayed.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Where the transcript stops being reproducible, if it does.
    pub fn hazard(&self) -> Option<&Hazard> {
        self.hazard.as_ref()
    }

    /// The command lines the server must send, without their LF (up to the hazard).
    pub fn commands(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter_map(|step| match step {
                Step::Expect(bytes, _) => Some(external(&latin1_string(bytes.strip_suffix(b"\n").unwrap_or(bytes)))),
                _ => None,
            })
            .collect()
    }

    /// Plays the transcript against `target` (a [`Router`](crate::Router), an
    /// [`&InProcessServer`](super::InProcessServer), a server's address).
    ///
    /// Captures of a real Asterisk hold only the handler's commands: serve them with
    /// [`StatusReporting::disabled`](crate::StatusReporting::disabled) (through an
    /// [`InProcessServer`](super::InProcessServer)), or the status report is a mismatch.
    pub async fn run(&self, target: impl Into<Target>) -> Result<ReplayReport, SimError> {
        let stream = match target.into().open().await {
            Ok(stream) => stream,
            Err(error) => return Err(SimError::new(SimErrorKind::Connect(error), Vec::new())),
        };
        let mut peer = ScriptedPeer::silent(stream);
        match self.play(&mut peer).await {
            Ok(commands_checked) => Ok(ReplayReport {
                transcript: Transcript::from_events(peer.take_transcript()),
                commands_checked,
                hazard: self.hazard.clone(),
            }),
            Err(kind) => Err(SimError::new(kind, peer.take_transcript())),
        }
    }

    async fn play(&self, peer: &mut ScriptedPeer) -> Result<usize, SimErrorKind> {
        let mut checked = 0;
        let mut server_closed = false;
        for step in &self.steps {
            match step {
                // Asterisk's writes may meet a server that is gone: what matters is
                // what the server sends, checked by the next step.
                Step::Send(bytes) => {
                    let _ = peer.send_bytes(bytes).await;
                }
                Step::Close => {
                    let _ = peer.close().await;
                }
                Step::Expect(expected, event) => {
                    let got = self.read(peer).await?;
                    let got_bytes = got.as_ref().map(|(bytes, _)| bytes.clone());
                    if got_bytes.as_deref() != Some(expected.as_slice()) {
                        return Err(mismatch(*event, Some(expected), got_bytes.as_deref()));
                    }
                    checked += 1;
                }
                Step::ExpectClose => {
                    if let Some((bytes, _)) = self.read(peer).await? {
                        return Err(mismatch(self.transcript.events.len(), None, Some(&bytes)));
                    }
                    server_closed = true;
                }
            }
        }
        if !server_closed && let Some((bytes, _)) = self.read(peer).await? {
            return Err(mismatch(self.transcript.events.len(), None, Some(&bytes)));
        }
        Ok(checked)
    }

    /// The next line of the server with its LF (if it had one), or `None` at its close.
    async fn read(&self, peer: &mut ScriptedPeer) -> Result<Option<(Vec<u8>, LineEnd)>, SimErrorKind> {
        match tokio::time::timeout(self.wait, peer.read_raw_line(MAX_LINE)).await {
            Err(_) => Err(SimErrorKind::Timeout(self.wait)),
            Ok(Err(error)) => Err(SimErrorKind::Io(error)),
            Ok(Ok(None)) => Ok(None),
            Ok(Ok(Some(mut line))) => {
                if line.end == LineEnd::Lf {
                    line.bytes.push(b'\n');
                }
                Ok(Some((line.bytes, line.end)))
            }
        }
    }
}

fn mismatch(event: usize, expected: Option<&[u8]>, got: Option<&[u8]>) -> SimErrorKind {
    let text = |bytes: &[u8]| external(&latin1_string(bytes));
    SimErrorKind::Mismatch { event, expected: expected.map(text), got: got.map(text) }
}

/// Turns recorded events into steps, up to the first hazard.
fn plan(events: &[Event], max_line: usize) -> (Vec<Step>, Option<Hazard>) {
    let mut steps = Vec::new();
    let mut flow = Flow::default();
    let mut hazard = None;
    for (index, event) in events.iter().enumerate() {
        match event.dir {
            Direction::FromAsterisk if event.is_eof() => steps.push(Step::Close),
            Direction::FromAsterisk => {
                let bytes = event.bytes();
                flow.reply(&event.data.strip_suffix('\n').unwrap_or(&event.data).replace('\n', " "));
                steps.push(Step::Send(bytes));
            }
            Direction::ServerAction if event.is_server_close() => steps.push(Step::ExpectClose),
            Direction::ServerAction | Direction::Note => {}
            Direction::FromServer => {
                let bytes = event.bytes();
                if flow.upload_left > 0 {
                    flow.upload_left -= 1;
                    steps.push(Step::Expect(bytes, index));
                    continue;
                }
                if let Some((step, command)) = flow.awaiting {
                    let bytes = events[command].bytes();
                    hazard = Some(Hazard { event: command, command: text_of(&bytes), kind: HazardKind::InFlight });
                    steps.truncate(step);
                    break;
                }
                if let Some(kind) = hazard_of(&bytes, max_line) {
                    hazard = Some(Hazard { event: index, command: text_of(&bytes), kind });
                    break;
                }
                let words = asterisk_words(&event.data);
                if words.len() == 4
                    && words[0].eq_ignore_ascii_case("PUT")
                    && words[1].eq_ignore_ascii_case("SOUNDFILE")
                {
                    flow.upload_announced = words[3].trim().parse::<usize>().map_or(0, |size| size.div_ceil(57));
                }
                if bytes != b"failure\n" {
                    flow.awaiting = Some((steps.len(), index));
                }
                steps.push(Step::Expect(bytes, index));
            }
        }
    }
    if hazard.is_some() {
        // Past the hazard, end the session as Asterisk does when the server closes.
        steps.extend([Step::ExpectClose, Step::Send(b"HANGUP\n".to_vec()), Step::Close]);
    }
    (steps, hazard)
}

fn text_of(bytes: &[u8]) -> String {
    external(&latin1_string(bytes.strip_suffix(b"\n").unwrap_or(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Recorder;

    fn events(script: &[(Direction, &str)]) -> Vec<Event> {
        let mut recorder = Recorder::default();
        for (dir, data) in script {
            recorder.push(*dir, data.as_bytes());
        }
        recorder.events
    }

    use Direction::{FromAsterisk as A, FromServer as S};

    #[test]
    fn finds_each_hazard() {
        assert_eq!(hazard_of(b"NOOP\n", 2047), None);
        assert_eq!(hazard_of(b"failure\n", 2047), None);
        assert_eq!(hazard_of(b"NOOP\r\n", 2047), Some(HazardKind::CarriageReturn));
        assert_eq!(hazard_of(b"NOOP\nNOOP\n", 2047), Some(HazardKind::SeveralLines));
        assert_eq!(hazard_of(b"\n", 2047), Some(HazardKind::EmptyLine));
        assert_eq!(hazard_of(b"NOOP", 2047), Some(HazardKind::Unterminated));
        assert_eq!(hazard_of(b"failure to communicate\n", 2047), Some(HazardKind::FailureMarker));
        assert_eq!(hazard_of(b"N\0\n", 2047), Some(HazardKind::Nul));
        let long = format!("VERBOSE {}\n", "A".repeat(3000));
        assert!(matches!(hazard_of(long.as_bytes(), 2047), Some(HazardKind::TooLong { len: 3009, max: 2047 })));
        assert_eq!(hazard_of(long.as_bytes(), 8191), None);
    }

    #[test]
    fn an_unanswered_command_stops_the_plan_before_it() {
        let (steps, hazard) = plan(
            &events(&[
                (A, "\n"),
                (S, "ANSWER\n"),
                (A, "200 result=0\n"),
                (S, "STREAM FILE tone10s \"\"\n"),
                (S, "NOOP\n"),
                (A, "200 result=0\n"),
            ]),
            2047,
        );
        let hazard = hazard.unwrap();
        assert_eq!((hazard.event, hazard.kind), (3, HazardKind::InFlight));
        assert_eq!(steps.iter().filter(|s| matches!(s, Step::Expect(..))).count(), 1);
    }

    #[test]
    fn usage_blocks_hangups_and_uploads_are_replies() {
        let (steps, hazard) = plan(
            &events(&[
                (A, "\n"),
                (S, "WAIT FOR DIGIT\n"),
                (A, "520-Invalid command syntax.  Proper usage follows:\n"),
                (A, "Example return code: 200 result=1 (testvariable)\n"),
                (A, "520 End of proper usage.\n"),
                (S, "GOSUB a b 1\n"),
                (A, "100 result=0 Trying...\n"),
                (A, "HANGUP\n"),
                (A, "200 result=0 Gosub complete\n"),
                (S, "PUT SOUNDFILE x.gsm 60\n"),
                (A, "200 result=0\n"),
                (S, "AAAA\n"),
                (S, "AAAA\n"),
                (A, "200 result=0\n"),
                (S, "NOOP\n"),
                (A, "200 result=0\n"),
            ]),
            2047,
        );
        assert_eq!(hazard, None);
        assert_eq!(steps.iter().filter(|s| matches!(s, Step::Expect(..))).count(), 6);
    }
}
