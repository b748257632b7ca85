//! Recording calls as transcript files, so that a production call can become a
//! regression test (the `testing` feature replays them).
//!
//! A recorded connection is wrapped in a tee that copies each line it reads and writes
//! into memory; when the connection ends, the transcript is handed to a writer task
//! through a bounded queue and written to disk off the call's path. Calls whose script
//! does not match a configured prefix stop being copied once their environment block
//! has ended, and nothing is wrapped at all when recording is off.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::connection::Transport;
use crate::transcript::{Direction, EOF_MARKER, Recorder as Events, SERVER_CLOSE_MARKER, Transcript};

/// Which calls a [`Server`](crate::Server) records, where, and within which bounds.
///
/// Each recorded call becomes one JSON file in the format of the captures in
/// `tests/agi-test-vectors` (see [`transcript`](crate::transcript)), named after the
/// time and the channel's unique id. The `testing` feature's replay drives a handler
/// with such a file and checks that it sends exactly the recorded commands.
///
/// ```no_run
/// use agi_runtime::{CallRecording, Router, Server};
///
/// # async fn demo(router: Router) -> std::io::Result<()> {
/// Server::bind("0.0.0.0:4573")
///     .await?
///     .record_calls(CallRecording::new("/var/lib/agi/recordings").path_prefix("/GetCallerRecord"))
///     .serve(router)
///     .await
/// # }
/// ```
///
/// Recording is bounded: a call keeps at most [`max_call_bytes`](Self::max_call_bytes)
/// (the rest is cut and the file says so), at most [`max_pending`](Self::max_pending)
/// finished calls wait for the writer (a call finding the queue full is not written,
/// and never waits), and after [`max_files`](Self::max_files) files recording stops.
/// Recordings hold what callers typed and what the dialplan passed: treat the directory
/// as sensitive.
#[derive(Debug, Clone)]
pub struct CallRecording {
    dir: PathBuf,
    prefixes: Vec<String>,
    max_call_bytes: usize,
    max_pending: usize,
    max_files: usize,
}

impl CallRecording {
    /// Records every call into `dir` (created if needed), until a path prefix narrows it.
    pub fn new(dir: impl Into<PathBuf>) -> CallRecording {
        CallRecording {
            dir: dir.into(),
            prefixes: Vec::new(),
            max_call_bytes: 1024 * 1024,
            max_pending: 64,
            max_files: 10_000,
        }
    }

    /// Records only calls whose script path is `prefix` or below it (`"/GetCallerRecord"`
    /// matches `/GetCallerRecord?extension=1` and `/GetCallerRecord/x`, not
    /// `/GetCallerRecords`). Call it again to add prefixes.
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.prefixes.push(if prefix.starts_with('/') { prefix } else { format!("/{prefix}") });
        self
    }

    /// Most bytes kept of one call (default 1 MiB); beyond, the recording is cut.
    pub fn max_call_bytes(mut self, max: usize) -> Self {
        self.max_call_bytes = max;
        self
    }

    /// Most finished calls waiting to be written (default 64); a call that finds the
    /// queue full is dropped from the recording, never delayed.
    pub fn max_pending(mut self, max: usize) -> Self {
        self.max_pending = max.max(1);
        self
    }

    /// Most files written by one server run (default 10,000); then recording stops.
    pub fn max_files(mut self, max: usize) -> Self {
        self.max_files = max;
        self
    }

    /// The directory the files go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn matches(&self, path: &str) -> bool {
        self.prefixes.is_empty()
            || self.prefixes.iter().any(|prefix| {
                path.strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || prefix.ends_with('/'))
            })
    }
}

/// What the connections of one server share: the settings, the queue, the counters.
#[derive(Debug)]
struct Shared {
    config: CallRecording,
    queue: mpsc::Sender<Transcript>,
    files_left: AtomicUsize,
    limit_logged: AtomicBool,
}

/// The recording side of a running server: wraps connections, and owns the writer task.
#[derive(Debug)]
pub(crate) struct Recorder {
    shared: Arc<Shared>,
    writer: JoinHandle<()>,
}

impl Recorder {
    /// Starts the writer task (needs a Tokio runtime).
    pub(crate) fn start(config: CallRecording) -> Recorder {
        let (queue, finished) = mpsc::channel(config.max_pending);
        let dir = config.dir.clone();
        let shared = Arc::new(Shared {
            files_left: AtomicUsize::new(config.max_files),
            config,
            queue,
            limit_logged: AtomicBool::new(false),
        });
        Recorder { shared, writer: tokio::spawn(write_all(dir, finished)) }
    }

    /// Wraps one connection.
    pub(crate) fn wrap<T: Transport>(&self, stream: T) -> RecordingStream<T> {
        RecordingStream {
            inner: stream,
            shared: self.shared.clone(),
            state: State::Deciding,
            events: Events::default(),
            bytes: 0,
            partial: [Vec::new(), Vec::new()],
            path: "/".to_owned(),
            closed: false,
        }
    }

    /// Waits until every recording already queued is written. Call it once every
    /// connection has ended.
    pub(crate) async fn finish(self) {
        let Recorder { shared, writer } = self;
        drop(shared);
        let _ = writer.await;
    }
}

/// The writer task: one file per finished call, written on the blocking pool.
async fn write_all(dir: PathBuf, mut finished: mpsc::Receiver<Transcript>) {
    let mut dir_ready = false;
    while let Some(transcript) = finished.recv().await {
        let target = dir.clone();
        let create_dir = !dir_ready;
        let written = tokio::task::spawn_blocking(move || {
            if create_dir {
                std::fs::create_dir_all(&target)?;
            }
            write_file(&target, &transcript)
        })
        .await;
        match written {
            Ok(Ok(path)) => {
                dir_ready = true;
                tracing::debug!(path = %path.display(), "call recorded");
            }
            Ok(Err(error)) => tracing::warn!(%error, dir = %dir.display(), "could not write a call recording"),
            Err(error) => tracing::warn!(%error, "the call recording writer failed"),
        }
    }
}

fn write_file(dir: &Path, transcript: &Transcript) -> io::Result<PathBuf> {
    use std::io::Write as _;
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let id: String = transcript
        .env_var("agi_uniqueid")
        .unwrap_or("call")
        .chars()
        .take(64)
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    let json = transcript.to_json();
    for attempt in 0..100 {
        let name = if attempt == 0 { format!("{millis}-{id}.json") } else { format!("{millis}-{id}-{attempt}.json") };
        let path = dir.join(name);
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                file.write_all(json.as_bytes())?;
                return Ok(path);
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free file name for the recording"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the environment block, to learn the script path.
    Deciding,
    Recording,
    /// Over the byte limit: what was kept is written, nothing more is added.
    Cut,
    /// Not recorded: bytes pass through untouched.
    Off,
}

/// A connection whose lines are copied into a transcript.
#[derive(Debug)]
pub(crate) struct RecordingStream<T> {
    inner: T,
    shared: Arc<Shared>,
    state: State,
    events: Events,
    bytes: usize,
    /// The unterminated end of what was read (`[0]`) and written (`[1]`).
    partial: [Vec<u8>; 2],
    /// The script path, once the environment block named it.
    path: String,
    closed: bool,
}

fn slot(dir: Direction) -> usize {
    usize::from(dir == Direction::FromServer)
}

impl<T> RecordingStream<T> {
    fn copying(&self) -> bool {
        matches!(self.state, State::Deciding | State::Recording)
    }

    /// Copies `bytes` into whole-line events.
    fn feed(&mut self, dir: Direction, bytes: &[u8]) {
        if !self.copying() || bytes.is_empty() {
            return;
        }
        self.bytes += bytes.len();
        if self.bytes > self.shared.config.max_call_bytes {
            self.cut();
            return;
        }
        let mut rest = bytes;
        while let Some(lf) = rest.iter().position(|&b| b == b'\n') {
            let partial = &mut self.partial[slot(dir)];
            partial.extend_from_slice(&rest[..=lf]);
            let line = std::mem::take(partial);
            rest = &rest[lf + 1..];
            if self.state == State::Deciding && dir == Direction::FromAsterisk {
                self.decide_on(&line);
            }
            if self.copying() {
                self.events.push(dir, &line);
            }
        }
        if self.copying() {
            self.partial[slot(dir)].extend_from_slice(rest);
        }
    }

    /// Learns the script path from the environment block, and decides at its end.
    fn decide_on(&mut self, line: &[u8]) {
        if let Some(script) = line.strip_prefix(b"agi_network_script: ") {
            let script = String::from_utf8_lossy(script.strip_suffix(b"\n").unwrap_or(script));
            self.path = format!("/{}", script.split('?').next().unwrap_or_default());
        } else if line == b"\n" {
            if self.shared.config.matches(&self.path) && self.take_file_slot() {
                self.state = State::Recording;
            } else {
                self.stop();
            }
        }
    }

    fn take_file_slot(&self) -> bool {
        let taken = self.shared.files_left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if taken.is_err() && !self.shared.limit_logged.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                max_files = self.shared.config.max_files,
                "call recording limit reached; no more calls are recorded"
            );
        }
        taken.is_ok()
    }

    fn stop(&mut self) {
        self.state = State::Off;
        self.events = Events::default();
        self.partial = [Vec::new(), Vec::new()];
    }

    fn cut(&mut self) {
        if self.state == State::Deciding {
            self.stop();
            return;
        }
        let max = self.shared.config.max_call_bytes;
        self.flush_partials();
        self.events.push_text(Direction::Note, format!("(recording cut: over {max} bytes)"));
        self.state = State::Cut;
    }

    fn flush_partials(&mut self) {
        for dir in [Direction::FromAsterisk, Direction::FromServer] {
            let partial = std::mem::take(&mut self.partial[slot(dir)]);
            if !partial.is_empty() {
                self.events.push(dir, &partial);
            }
        }
    }

    fn mark(&mut self, dir: Direction, marker: &str) {
        if self.copying() {
            self.flush_partials();
            self.events.push_text(dir, marker);
        }
    }
}

impl<T> Drop for RecordingStream<T> {
    fn drop(&mut self) {
        if !matches!(self.state, State::Recording | State::Cut) {
            return;
        }
        // A session whose every command was answered is closed at once, without a
        // half-close: the drop is the server's close.
        if !self.closed {
            self.closed = true;
            self.mark(Direction::ServerAction, SERVER_CLOSE_MARKER);
        }
        self.flush_partials();
        let transcript = Transcript::from_events(std::mem::take(&mut self.events.events));
        if self.shared.queue.try_send(transcript).is_err() {
            tracing::warn!("the call recording queue is full; this call is not recorded");
        }
    }
}

impl<T: Transport> AsyncRead for RecordingStream<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let had_room = buf.remaining() > 0;
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && this.copying()
        {
            let read = &buf.filled()[before..];
            if read.is_empty() && had_room {
                this.mark(Direction::FromAsterisk, EOF_MARKER);
            } else {
                this.feed(Direction::FromAsterisk, read);
            }
        }
        polled
    }
}

impl<T: Transport> AsyncWrite for RecordingStream<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            this.feed(Direction::FromServer, &buf[..n]);
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        if polled.is_ready() && !this.closed {
            this.closed = true;
            this.mark(Direction::ServerAction, SERVER_CLOSE_MARKER);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments() {
        let config = CallRecording::new("x").path_prefix("/GetCallerRecord").path_prefix("admin/");
        assert!(config.matches("/GetCallerRecord"));
        assert!(config.matches("/GetCallerRecord/x"));
        assert!(!config.matches("/GetCallerRecords"));
        assert!(config.matches("/admin/users"));
        assert!(!config.matches("/"));
        assert!(CallRecording::new("x").matches("/anything"));
    }
}
