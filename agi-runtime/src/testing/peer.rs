//! A scripted Asterisk: the test says which command comes next and what to answer.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::connection::Transport;
use crate::testing::call_spec::CallSpec;
use crate::testing::transcript::{Direction, EOF_MARKER, Event, Recorder, SERVER_CLOSE_MARKER};

/// How long a peer waits for the server before failing the test.
const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// A test's view of Asterisk: it sends the environment block, then the test reads each
/// command and sends each reply, byte for byte.
///
/// ```
/// use agi_runtime::testing::{CallSpec, ScriptedPeer};
/// use agi_runtime::{handler_fn, Router};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let router: Router = Router::new()
///     .route("/hello", handler_fn(|call| Box::pin(async move { call.answer().await })))
///     .unwrap();
/// let mut peer = ScriptedPeer::in_memory(router, &CallSpec::new("/hello")).await?;
/// peer.expect("ANSWER").await?;
/// peer.send("200 result=0").await?;
/// let end = peer.finish().await?;
/// assert_eq!(end.variable("FASTAGI_STATUS"), Some("SUCCESS"));
/// # Ok(()) }
/// ```
pub struct ScriptedPeer {
    stream: Box<dyn Transport>,
    buffer: Vec<u8>,
    recorder: Recorder,
    wait: Duration,
    server_closed: bool,
}

impl std::fmt::Debug for ScriptedPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedPeer").field("events", &self.recorder.events.len()).finish_non_exhaustive()
    }
}

/// What the server did after the script: the end of the session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finished {
    /// Variables set with `SET VARIABLE` during [`ScriptedPeer::finish`].
    pub variables: BTreeMap<String, String>,
    /// Whether the server ended with Asterisk's `failure` marker line.
    pub failure_marker: bool,
}

impl Finished {
    /// A variable the server set while finishing (e.g. `FASTAGI_STATUS`).
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables.get(name).map(String::as_str)
    }
}

fn timeout_error(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("the server did not {what} in time"))
}

fn protocol_error(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl ScriptedPeer {
    /// Connects to a server over TCP and sends the environment block of `spec`.
    pub async fn connect(addr: SocketAddr, spec: &CallSpec) -> io::Result<ScriptedPeer> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut peer = ScriptedPeer::silent(stream);
        peer.send_env(spec).await?;
        Ok(peer)
    }

    /// Runs `router` in memory for one call and sends the environment block of `spec`.
    pub async fn in_memory(router: crate::Router<()>, spec: &CallSpec) -> io::Result<ScriptedPeer> {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let app = crate::session::App::new(router, Default::default(), None, Default::default());
        tokio::spawn(async move { crate::session::run_in_memory(Box::new(theirs), &app).await });
        let mut peer = ScriptedPeer::silent(ours);
        peer.send_env(spec).await?;
        Ok(peer)
    }

    /// Wraps a connected stream without sending anything (for tests of broken peers).
    pub fn silent(stream: impl Transport) -> ScriptedPeer {
        ScriptedPeer {
            stream: Box::new(stream),
            buffer: Vec::new(),
            recorder: Recorder::default(),
            wait: DEFAULT_WAIT,
            server_closed: false,
        }
    }

    /// How long to wait for the server before an operation fails (default 10 s).
    pub fn set_wait(&mut self, wait: Duration) {
        self.wait = wait;
    }

    /// Sends the environment block of `spec`, one write per line as Asterisk does.
    pub async fn send_env(&mut self, spec: &CallSpec) -> io::Result<()> {
        for line in spec.env_block().split_inclusive('\n') {
            self.send_bytes(line.as_bytes()).await?;
        }
        Ok(())
    }

    /// Sends one line; the LF is added.
    pub async fn send(&mut self, line: &str) -> io::Result<()> {
        self.send_bytes(format!("{line}\n").as_bytes()).await
    }

    /// Sends raw bytes as one write.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.recorder.push(Direction::FromAsterisk, String::from_utf8_lossy(bytes));
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Sends bytes one at a time, each as its own write.
    pub async fn send_bytewise(&mut self, bytes: &[u8]) -> io::Result<()> {
        for byte in bytes {
            self.send_bytes(std::slice::from_ref(byte)).await?;
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    /// Closes the connection the way Asterisk does at the end of a session.
    pub async fn close(&mut self) -> io::Result<()> {
        self.recorder.push(Direction::FromAsterisk, EOF_MARKER);
        self.stream.shutdown().await
    }

    /// The next command line the server sent (without its LF), or `None` once the
    /// server closed its side.
    pub async fn next_command(&mut self) -> io::Result<Option<String>> {
        let wait = self.wait;
        match tokio::time::timeout(wait, self.read_line()).await {
            Ok(result) => result,
            Err(_) => Err(timeout_error("send a command")),
        }
    }

    async fn read_line(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(lf) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=lf).collect();
                let text = String::from_utf8_lossy(&line).into_owned();
                self.recorder.push(Direction::FromServer, text.clone());
                return Ok(Some(text.trim_end_matches('\n').to_owned()));
            }
            if self.server_closed {
                return Ok(None);
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                self.server_closed = true;
                self.recorder.push(Direction::ServerAction, SERVER_CLOSE_MARKER);
                if !self.buffer.is_empty() {
                    let rest = String::from_utf8_lossy(&self.buffer).into_owned();
                    return Err(protocol_error(format!("the server closed after an unterminated line {rest:?}")));
                }
                return Ok(None);
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads the next command and checks it is exactly `command`.
    pub async fn expect(&mut self, command: &str) -> io::Result<()> {
        match self.next_command().await? {
            Some(line) if line == command => Ok(()),
            Some(line) => Err(protocol_error(format!("expected `{command}`, the server sent `{line}`"))),
            None => Err(protocol_error(format!("expected `{command}`, the server closed the connection"))),
        }
    }

    /// Expects `command` and answers `reply`.
    pub async fn exchange(&mut self, command: &str, reply: &str) -> io::Result<()> {
        self.expect(command).await?;
        self.send(reply).await
    }

    /// Checks that the server sends nothing for `quiet` (and has not closed).
    pub async fn expect_silence(&mut self, quiet: Duration) -> io::Result<()> {
        match tokio::time::timeout(quiet, self.read_line()).await {
            Err(_) => {
                self.recorder.push(Direction::Note, format!("(no data within {:.1}s)", quiet.as_secs_f64()));
                Ok(())
            }
            Ok(Ok(Some(line))) => Err(protocol_error(format!("expected silence, the server sent `{line}`"))),
            Ok(Ok(None)) => Err(protocol_error("expected silence, the server closed the connection".to_owned())),
            Ok(Err(e)) => Err(e),
        }
    }

    /// Waits for the server to close its side without sending anything more.
    pub async fn expect_close(&mut self) -> io::Result<()> {
        match self.next_command().await? {
            None => Ok(()),
            Some(line) => Err(protocol_error(format!("expected the server to close, it sent `{line}`"))),
        }
    }

    /// Plays the end of a session as Asterisk does: answers each `SET VARIABLE` with
    /// `200 result=1` (recording it), and once the server closes its side (or sends the
    /// `failure` marker) sends the final `HANGUP` and closes.
    pub async fn finish(&mut self) -> io::Result<Finished> {
        let mut finished = Finished::default();
        loop {
            let Some(line) = self.next_command().await? else { break };
            if line.len() >= 7 && line[..7].eq_ignore_ascii_case("failure") {
                finished.failure_marker = true;
                break;
            }
            let words = asterisk_words(&line);
            match words.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
                ["SET", "VARIABLE", name, value] => {
                    finished.variables.insert((*name).to_owned(), (*value).to_owned());
                    self.send("200 result=1").await?;
                }
                _ => return Err(protocol_error(format!("unexpected command `{line}` at the end of the session"))),
            }
        }
        // The trailing HANGUP may meet a server that already closed: not an error.
        let _ = self.send("HANGUP").await;
        let _ = self.close().await;
        Ok(finished)
    }

    /// Every event so far, in order.
    pub fn transcript(&self) -> &[Event] {
        &self.recorder.events
    }
}

/// Splits a command line into words exactly as Asterisk's `parse_args` does
/// (AGI-PROTOCOL.md §2.2): blanks separate, `"` toggles quoting, `\` escapes the next
/// byte, at most 127 words.
///
/// ```
/// use agi_runtime::testing::asterisk_words;
///
/// assert_eq!(asterisk_words(r#"SET VARIABLE Q1 "a \"quoted\" \\ value""#), ["SET", "VARIABLE", "Q1", r#"a "quoted" \ value"#]);
/// assert_eq!(asterisk_words(r#"SET VARIABLE Q4 ab"c d"e"#), ["SET", "VARIABLE", "Q4", "abc de"]);
/// assert_eq!(asterisk_words(r#"STREAM FILE x """#), ["STREAM", "FILE", "x", ""]);
/// ```
pub fn asterisk_words(line: &str) -> Vec<String> {
    const MAX_WORDS: usize = 127;
    let mut words: Vec<Vec<u8>> = Vec::new();
    let (mut quoted, mut escaped, mut at_word_start) = (false, false, true);
    for &c in line.as_bytes() {
        match c {
            b'"' if !escaped => {
                quoted = !quoted;
                if quoted && at_word_start {
                    if words.len() < MAX_WORDS {
                        words.push(Vec::new());
                    }
                    at_word_start = false;
                }
                escaped = false;
            }
            b' ' | b'\t' if !quoted && !escaped => at_word_start = true,
            b'\\' if !escaped => escaped = true,
            _ => {
                if at_word_start {
                    if words.len() >= MAX_WORDS {
                        continue;
                    }
                    words.push(Vec::new());
                }
                if let Some(word) = words.last_mut() {
                    word.push(c);
                }
                escaped = false;
                at_word_start = false;
            }
        }
    }
    words.into_iter().map(|w| String::from_utf8_lossy(&w).into_owned()).collect()
}
