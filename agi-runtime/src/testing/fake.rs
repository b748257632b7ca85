//! The fake Asterisk: places one call against a server and plays the channel's side of
//! it, byte for byte as Asterisk 22 does.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::time::Duration;

use tokio::time::Instant;

use super::channel::{self, Channel, Data, Reply, Subroutine, external, internal};
use super::peer::{DEFAULT_WAIT, LineEnd, RawLine, ScriptedPeer};
use super::script::{Answer, Script};
use super::{CallSpec, Target, asterisk_words};
use crate::transcript::{Transcript, latin1_string};

/// How long the channel lets a server that is about to send its next command do so
/// before it reports a hangup on its own (see [`FakeAsterisk::hangup_notice_delay`]).
const NOTICE_DELAY: Duration = Duration::from_millis(100);

/// Asterisk plays the channel's side of one call.
///
/// It sends the environment block of its [`CallSpec`], then answers every command the
/// way Asterisk 22 does by default, from a simulated channel: ringing until `ANSWER`,
/// channel variables (with `${…}` expansion), the AstDB and its quirks, the keys the
/// caller presses, the sound files on the host, the sound-file transfer commands, and
/// `510`/`511`/`520` for what Asterisk refuses. Expectations added with
/// [`expect`](Self::expect) answer first, for exact unit tests. When the server closes
/// the connection, the fake sends Asterisk's final `HANGUP` and closes too, and
/// [`call`](Self::call) returns a [`CallReport`].
///
/// ```
/// use agi_runtime::testing::{CallSpec, FakeAsterisk};
/// use agi_runtime::{handler_fn, Digit, EscapeDigits, Playback, Router};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let router: Router = Router::new()
///     .route("/menu", handler_fn(|call| Box::pin(async move {
///         call.answer().await?;
///         if let Playback::Interrupted { digit: Digit::D1, .. } = call.stream_file("menu", EscapeDigits::ANY).await? {
///             call.set_variable("CHOICE", "sales").await?;
///         }
///         Ok::<(), agi_runtime::AgiError>(())
///     })))
///     .unwrap();
/// let report = FakeAsterisk::new(CallSpec::new("/menu")).digits("1").call(router).await.unwrap();
/// assert_eq!(report.variable("CHOICE"), Some("sales"));
/// assert_eq!(report.status(), Some("SUCCESS"));
/// assert_eq!(report.agi_status(), "SUCCESS");
/// # }
/// ```
///
/// # Hang-ups
///
/// The caller can hang up [during the N-th command](Self::hangup_at),
/// [during a given command](Self::hangup_during), or [after a delay](Self::hangup_after).
/// A command that waits on the channel then ends with its failure result (e.g.
/// `200 result=-1 endpos=4000` for `STREAM FILE`), and `HANGUP` follows as Asterisk
/// sends it: after that reply, before the reply to the server's next command (or on its
/// own if the server sends nothing for a moment). From then on, commands that need a
/// live channel get `511`. A wait with no time limit and no key left to press also ends
/// with the caller hanging up.
pub struct FakeAsterisk {
    spec: CallSpec,
    channel: Channel,
    script: Script,
    hangup: HangupPlan,
    dead_from_start: bool,
    exit_on_hangup: bool,
    sighup: bool,
    wait: Duration,
    notice_delay: Duration,
    line_buffer: usize,
    setup_error: Option<String>,
}

impl fmt::Debug for FakeAsterisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeAsterisk").field("script", &self.spec.script()).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default)]
struct HangupPlan {
    at_command: Option<usize>,
    during: Option<Vec<String>>,
    after: Option<Duration>,
}

/// `AGI_BUF_LEN` of an Asterisk version: 8192 from 20.16, 21.11, 22.6 and 23, else 2048.
fn line_buffer(version: &str) -> usize {
    let mut parts = version.split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let large = match major {
        0..=19 => false,
        20 => minor >= 16,
        21 => minor >= 11,
        22 => minor >= 6,
        _ => true,
    };
    if large { 8192 } else { 2048 }
}

impl FakeAsterisk {
    /// A call with the environment of `spec`, on a ringing channel.
    pub fn new(spec: CallSpec) -> FakeAsterisk {
        let env = crate::AgiEnv::parse(&spec.env_block());
        let setup_error = env.as_ref().err().map(|error| format!("the call spec is not valid: {error}"));
        let env = env.or_else(|_| crate::AgiEnv::parse("agi_network: yes\n\n"));
        let channel = env.as_ref().map(Channel::new).ok();
        let version = env.as_ref().ok().and_then(|env| env.version()).unwrap_or_default().to_owned();
        let (channel, setup_error) = match channel {
            Some(channel) => (channel, setup_error),
            None => (Channel::unnamed(), Some("the call spec is not valid".to_owned())),
        };
        FakeAsterisk {
            line_buffer: line_buffer(&version),
            spec,
            channel,
            script: Script::default(),
            hangup: HangupPlan::default(),
            dead_from_start: false,
            exit_on_hangup: false,
            sighup: true,
            wait: DEFAULT_WAIT,
            notice_delay: NOTICE_DELAY,
            setup_error,
        }
    }

    // --- The caller ---

    /// Keys the caller presses, in order: `0`-`9`, `*`, `#`, `A`-`D`, and `w` for
    /// letting a time limit pass (`"1w23#"`). Each key is pressed when a command listens
    /// for it; a digit a prompt does not accept waits for a later command. An invalid
    /// key makes [`call`](Self::call) fail.
    pub fn digits(mut self, keys: &str) -> Self {
        match channel::keypad::parse(keys) {
            Ok(keys) => self.channel.keypad.push(&keys),
            Err(error) => self.setup_error = Some(error.to_string()),
        }
        self
    }

    /// The caller hangs up during the `n`-th command the server sends (1 for the first).
    pub fn hangup_at(mut self, n: usize) -> Self {
        self.hangup.at_command = Some(n);
        self
    }

    /// The caller hangs up during the first command whose words start with `command`
    /// (case-insensitive, e.g. `"STREAM FILE"` or `"STREAM FILE menu"`).
    pub fn hangup_during(mut self, command: &str) -> Self {
        self.hangup.during = Some(asterisk_words(&internal(command)));
        self
    }

    /// The caller hangs up `delay` after the call starts (Asterisk then sends `HANGUP`
    /// at once, between commands).
    pub fn hangup_after(mut self, delay: Duration) -> Self {
        self.hangup.after = Some(delay);
        self
    }

    /// The call runs on an already hung-up channel (an `AGI()` in the `h` extension):
    /// no `HANGUP` is sent, commands that need a live channel get `511` from the start.
    pub fn dead_from_start(mut self) -> Self {
        self.dead_from_start = true;
        self
    }

    /// `AGIEXITONHANGUP=yes`: on hangup Asterisk sends `HANGUP` twice and closes the
    /// connection itself.
    pub fn exit_on_hangup(mut self) -> Self {
        self.exit_on_hangup = true;
        self
    }

    /// `AGISIGHUP=no`: Asterisk never sends `HANGUP` lines; the server learns of a
    /// hangup only from `-1` results and `511`.
    pub fn no_sighup(mut self) -> Self {
        self.sighup = false;
        self
    }

    // --- The channel and the host ---

    /// The channel is already answered (`CHANNEL STATUS` 6).
    pub fn answered(mut self) -> Self {
        self.channel.answered = true;
        self
    }

    /// A channel variable set before the call (e.g. by the dialplan).
    pub fn variable(mut self, name: &str, value: &str) -> Self {
        self.channel.assign(&internal(name), &internal(value));
        self
    }

    /// An AstDB entry present before the call.
    pub fn database(mut self, family: &str, key: &str, value: &str) -> Self {
        self.channel.db.put(&internal(family), &internal(key), &internal(value));
        self
    }

    /// A prompt on the host, `samples` long (8 kHz): name without extension as
    /// `STREAM FILE` gives it, or with one (`prompts/welcome.gsm`) as the transfer
    /// commands give it.
    pub fn sound(mut self, name: &str, samples: u64) -> Self {
        self.channel.sounds.add(&internal(name), samples);
        self
    }

    /// A file on the host with its bytes (name with its extension), for
    /// `GET SOUNDFILE` and `ISEXISTING SOUNDFILE`; playable under its name without
    /// extension too.
    pub fn sound_file(mut self, name: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.channel.sounds.add_bytes(&internal(name), bytes.into());
        self
    }

    /// A prompt that does not exist: playing it fails (`200 result=-1 endpos=0`).
    pub fn missing_sound(mut self, name: &str) -> Self {
        self.channel.sounds.mark_missing(&internal(name));
        self
    }

    /// Only prompts added with [`sound`](Self::sound) or [`sound_file`](Self::sound_file)
    /// (or uploaded, or recorded) play; by default every prompt plays.
    pub fn only_known_sounds(mut self) -> Self {
        self.channel.sounds.strict = true;
        self
    }

    /// A directory where nothing can be written: `RECORD FILE` there answers
    /// `(writefile)`, `PUT SOUNDFILE` answers `-10`.
    pub fn unwritable(mut self, dir: &str) -> Self {
        self.channel.sounds.unwritable.push(internal(dir));
        self
    }

    /// Behaves as if the sound-file transfer module were not loaded: `PUT SOUNDFILE`,
    /// `GET SOUNDFILE` and `ISEXISTING SOUNDFILE` answer `510`.
    pub fn without_sound_module(mut self) -> Self {
        self.channel.sound_module = false;
        self
    }

    /// An application `EXEC` runs, returning `result`. Built in: `Answer`, `Hangup`,
    /// `NoOp`, `Verbose`, `Log`, `Wait`, `Progress`, `Ringing`, `Set`, `Playback` and
    /// `Dial`; any other answers `-2` (not found).
    pub fn application(mut self, name: &str, result: i64) -> Self {
        self.channel.applications.insert(internal(name).to_ascii_lowercase(), result);
        self
    }

    /// What `EXEC Dial` leaves in `DIALSTATUS` (default `ANSWER`).
    pub fn dial_status(mut self, status: &str) -> Self {
        self.channel.dial_status = internal(status);
        self
    }

    /// A subroutine `GOSUB context extension …` finds, optionally setting
    /// `GOSUB_RETVAL`; any other answers `200 result=-1 Gosub label not found`.
    pub fn subroutine(mut self, context: &str, extension: &str, return_value: Option<&str>) -> Self {
        self.channel.subroutines.push(Subroutine {
            context: internal(context),
            extension: internal(extension),
            return_value: return_value.map(internal),
        });
        self
    }

    // --- The script ---

    /// Expects `command` (the exact line, without its LF) as the next scripted command
    /// and answers it with `reply` (one line, or several separated by `\n`: e.g.
    /// `"HANGUP\n200 result=0"`). Commands before it are answered by the simulated
    /// channel, unless the script is [strict](Self::strict); an expectation never met
    /// makes [`call`](Self::call) fail.
    pub fn expect(mut self, command: &str, reply: &str) -> Self {
        self.script.push(command, reply);
        self
    }

    /// Every command must be the next expectation: no simulated answers.
    pub fn strict(mut self) -> Self {
        self.script.strict = true;
        self
    }

    // --- Timing ---

    /// How long to wait for each line of the server before failing (default 10 s).
    pub fn timeout(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// After a command during which the caller hung up, how long Asterisk's `HANGUP`
    /// waits for the server's next command, to arrive before that command's reply as in
    /// the captures (default 100 ms); after it, `HANGUP` is sent on its own, as
    /// Asterisk's idle loop does.
    pub fn hangup_notice_delay(mut self, delay: Duration) -> Self {
        self.notice_delay = delay;
        self
    }

    /// Asterisk's command buffer, `AGI_BUF_LEN` (default from the spec's version:
    /// 8192 from 20.16 / 21.11 / 22.6, else 2048). A longer line is cut there and the
    /// rest runs as another command, as Asterisk does.
    pub fn line_buffer(mut self, bytes: usize) -> Self {
        self.line_buffer = bytes.max(2);
        self
    }

    /// Places the call against `target`: a [`Router`](crate::Router) served in this
    /// process, an [`&InProcessServer`](super::InProcessServer), or a server's
    /// [`SocketAddr`](std::net::SocketAddr).
    pub async fn call(self, target: impl Into<Target>) -> Result<CallReport, SimError> {
        let target = target.into();
        if let Some(setup) = &self.setup_error {
            return Err(SimError::new(SimErrorKind::Setup(setup.clone()), Vec::new()));
        }
        let stream = match target.open().await {
            Ok(stream) => stream,
            Err(error) => return Err(SimError::new(SimErrorKind::Connect(error), Vec::new())),
        };
        let mut session = Session::new(self, ScriptedPeer::silent(stream));
        let outcome = session.drive().await;
        session.finish(outcome)
    }
}

/// How the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallEnd {
    /// The server closed the connection (the normal end).
    ServerClosed,
    /// The server sent Asterisk's `failure` marker line.
    FailureMarker,
    /// Asterisk ended the session on hangup (`AGIEXITONHANGUP`).
    AsteriskHungUp,
}

/// Why a simulated call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SimErrorKind {
    /// The call was set up wrong (an invalid key, an invalid call spec).
    Setup(String),
    /// The server could not be reached.
    Connect(io::Error),
    /// The connection failed during the call.
    Io(io::Error),
    /// The server sent nothing (no command, no close) within the time limit.
    Timeout(Duration),
    /// A strict script expected another command.
    Unexpected {
        /// The expected line, if any was left.
        expected: Option<String>,
        /// The line the server sent.
        got: String,
    },
    /// Expectations the server never met.
    Unmet(Vec<String>),
    /// A replayed server did not send what the recording holds.
    Mismatch {
        /// The index of the recorded event (the end of the transcript for its close).
        event: usize,
        /// The recorded line, or `None` where the recording has the server close.
        expected: Option<String>,
        /// What the server sent, or `None` if it closed the connection.
        got: Option<String>,
    },
}

/// A simulated call that could not complete, with what happened until then.
#[derive(Debug)]
pub struct SimError {
    inner: Box<(SimErrorKind, Transcript)>,
}

impl SimError {
    pub(crate) fn new(kind: SimErrorKind, events: Vec<crate::transcript::Event>) -> SimError {
        SimError { inner: Box::new((kind, Transcript::from_events(events))) }
    }

    /// What went wrong.
    pub fn kind(&self) -> &SimErrorKind {
        &self.inner.0
    }

    /// Everything exchanged until the failure.
    pub fn transcript(&self) -> &Transcript {
        &self.inner.1
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            SimErrorKind::Setup(why) => write!(f, "the simulated call is set up wrong: {why}"),
            SimErrorKind::Connect(error) => write!(f, "could not reach the server: {error}"),
            SimErrorKind::Io(error) => write!(f, "the connection failed: {error}"),
            SimErrorKind::Timeout(wait) => {
                write!(f, "the server neither sent a command nor closed the connection within {wait:?}")
            }
            SimErrorKind::Unexpected { expected: Some(expected), got } => {
                write!(f, "expected `{}`, the server sent `{}`", external(expected), external(got))
            }
            SimErrorKind::Unexpected { expected: None, got } => {
                write!(f, "the script is over, the server sent `{}`", external(got))
            }
            SimErrorKind::Mismatch { event, expected, got } => {
                let line = |text: &Option<String>, absent: &str| match text {
                    Some(text) => format!("`{}`", text.escape_debug()),
                    None => absent.to_owned(),
                };
                write!(
                    f,
                    "at recorded event {event}, the recording has {}, but the server {}",
                    line(expected, "the server closing the connection"),
                    match got {
                        Some(_) => format!("sent {}", line(got, "")),
                        None => "closed the connection".to_owned(),
                    }
                )
            }
            SimErrorKind::Unmet(unmet) => {
                let unmet: Vec<String> = unmet.iter().map(|c| format!("`{}`", external(c))).collect();
                write!(f, "the server never sent {}", unmet.join(", "))
            }
        }
    }
}

impl std::error::Error for SimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self.kind() {
            SimErrorKind::Connect(error) | SimErrorKind::Io(error) => Some(error),
            _ => None,
        }
    }
}

/// What a simulated call did: the transcript, the channel at the end, and what Asterisk
/// would report.
#[derive(Debug, Clone)]
pub struct CallReport {
    transcript: Transcript,
    end: CallEnd,
    agi_status: &'static str,
    variables: BTreeMap<String, String>,
    set_by_server: Vec<(String, String)>,
    database: BTreeMap<String, String>,
    console: Vec<String>,
    dialplan: (String, String, String),
    answered: bool,
    hung_up: bool,
    keys_left: String,
    violations: Vec<String>,
    sounds: channel::Sounds,
}

impl CallReport {
    /// Everything exchanged, in order, in the capture file format.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// The command lines the server sent, in order (as UTF-8).
    pub fn commands(&self) -> Vec<String> {
        self.transcript.commands().map(external).collect()
    }

    /// How the session ended.
    pub fn end(&self) -> CallEnd {
        self.end
    }

    /// What Asterisk sets `AGISTATUS` to when `AGI()` returns: `SUCCESS`, `FAILURE`
    /// (the failure marker, or a command failed while the channel was up) or `HANGUP`.
    pub fn agi_status(&self) -> &str {
        self.agi_status
    }

    /// The status the server reported in `FASTAGI_STATUS`, if it did.
    pub fn status(&self) -> Option<&str> {
        self.variable("FASTAGI_STATUS")
    }

    /// A channel variable at the end of the call.
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables.get(name).map(String::as_str)
    }

    /// Every channel variable at the end of the call.
    pub fn variables(&self) -> &BTreeMap<String, String> {
        &self.variables
    }

    /// The `SET VARIABLE` commands of the call, in order.
    pub fn set_by_server(&self) -> &[(String, String)] {
        &self.set_by_server
    }

    /// An AstDB entry at the end of the call.
    pub fn database(&self, family: &str, key: &str) -> Option<&str> {
        self.database.get(&format!("{family}/{key}")).map(String::as_str)
    }

    /// The `VERBOSE` messages of the call.
    pub fn console(&self) -> &[String] {
        &self.console
    }

    /// Where the dialplan continues: context, extension and priority (changed by
    /// `SET CONTEXT`, `SET EXTENSION`, `SET PRIORITY`).
    pub fn dialplan(&self) -> (&str, &str, &str) {
        (&self.dialplan.0, &self.dialplan.1, &self.dialplan.2)
    }

    /// Whether the channel was answered.
    pub fn answered(&self) -> bool {
        self.answered
    }

    /// Whether the caller hung up during the call.
    pub fn hung_up(&self) -> bool {
        self.hung_up
    }

    /// The keys the caller did not get to press.
    pub fn keys_left(&self) -> &str {
        &self.keys_left
    }

    /// The bytes of a file on the simulated host (uploaded with `PUT SOUNDFILE`,
    /// recorded, or given).
    pub fn sound_file(&self, name: &str) -> Option<Vec<u8>> {
        self.sounds.bytes(&internal(name))
    }

    /// Every file on the simulated host the call added or was given (uploaded,
    /// recorded, or set up with [`FakeAsterisk::sound`]), with its size in bytes.
    pub fn sound_files(&self) -> Vec<(String, u64)> {
        self.sounds.listing().map(|(name, size)| (external(name), size)).collect()
    }

    /// What the server did that Asterisk would not handle well: a command sent before
    /// the previous reply, a line cut at Asterisk's buffer size, a CR before the LF, a
    /// NUL byte, an unterminated last line, a malformed data phase. Empty for a server
    /// that behaves.
    pub fn violations(&self) -> &[String] {
        &self.violations
    }
}

/// What the main loop waits for.
enum Next {
    Line(RawLine),
    Closed,
    TimedHangup,
    NoticeDue,
}

/// One call in progress.
struct Session {
    peer: ScriptedPeer,
    channel: Channel,
    script: Script,
    spec: CallSpec,
    plan: HangupPlan,
    exit_on_hangup: bool,
    sighup: bool,
    wait: Duration,
    notice_delay: Duration,
    max_line: usize,
    commands: usize,
    /// When the caller hangs up on a timer.
    hangup_at: Option<Instant>,
    /// A `HANGUP` owed to the server, and when it goes out on its own.
    notice_at: Option<Instant>,
    failure_marker: bool,
    violations: Vec<String>,
}

impl Session {
    fn new(fake: FakeAsterisk, peer: ScriptedPeer) -> Session {
        let mut channel = fake.channel;
        channel.dead |= fake.dead_from_start;
        Session {
            peer,
            channel,
            script: fake.script,
            spec: fake.spec,
            hangup_at: fake.hangup.after.and_then(|d| Instant::now().checked_add(d)),
            plan: fake.hangup,
            exit_on_hangup: fake.exit_on_hangup,
            sighup: fake.sighup,
            wait: fake.wait,
            notice_delay: fake.notice_delay,
            max_line: fake.line_buffer - 1,
            commands: 0,
            notice_at: None,
            failure_marker: false,
            violations: Vec::new(),
        }
    }

    async fn drive(&mut self) -> Result<CallEnd, SimErrorKind> {
        self.peer.send_env(&self.spec).await.map_err(SimErrorKind::Io)?;
        loop {
            match self.next().await? {
                Next::TimedHangup => {
                    self.hangup_at = None;
                    self.channel.hang_up();
                    if self.exit_on_hangup {
                        return self.asterisk_hangs_up().await;
                    }
                    self.send_hangup().await?;
                }
                Next::NoticeDue => {
                    self.notice_at = None;
                    self.send_hangup().await?;
                }
                Next::Closed => return self.server_closed(CallEnd::ServerClosed).await,
                Next::Line(line) => {
                    if let Some(end) = self.command(line).await? {
                        return Ok(end);
                    }
                }
            }
        }
    }

    /// Waits for the next line of the server, or for a timer.
    async fn next(&mut self) -> Result<Next, SimErrorKind> {
        let hangup_at = self.hangup_at.filter(|_| !self.channel.is_dead());
        let notice_at = self.notice_at;
        let wait = self.wait;
        let read = self.peer.read_raw_line(self.max_line);
        tokio::select! {
            biased;
            line = read => match line {
                Ok(Some(line)) => Ok(Next::Line(line)),
                Ok(None) => Ok(Next::Closed),
                Err(error) => Err(SimErrorKind::Io(error)),
            },
            () = sleep_until(hangup_at) => Ok(Next::TimedHangup),
            () = sleep_until(notice_at) => Ok(Next::NoticeDue),
            () = tokio::time::sleep(wait) => Err(SimErrorKind::Timeout(wait)),
        }
    }

    /// Runs one command line; `Some` when the session is over.
    async fn command(&mut self, line: RawLine) -> Result<Option<CallEnd>, SimErrorKind> {
        let text = self.check(&line);
        if line.bytes.len() >= 7 && line.bytes[..7].eq_ignore_ascii_case(b"failure") {
            self.failure_marker = true;
            return self.server_closed(CallEnd::FailureMarker).await.map(Some);
        }
        self.commands += 1;
        let words = asterisk_words(&text);
        let hanging_up = !self.channel.is_dead() && self.hangs_up_during(&words);
        // The hangup of the previous command reaches the server before this reply.
        if self.notice_at.take().is_some() {
            self.send_hangup().await?;
        }
        let reply = match self.script.answer(&text) {
            Answer::Scripted(lines) => {
                if lines.iter().any(|l| l == "HANGUP") {
                    self.channel.hang_up();
                }
                // A planned hangup still happens during a scripted command.
                Reply { lines, hangs_up: hanging_up, ..Reply::default() }
            }
            Answer::Unexpected { expected } => return Err(SimErrorKind::Unexpected { expected, got: text }),
            Answer::Simulated => self.channel.execute(&words, hanging_up),
        };
        for line in &reply.lines {
            self.send(line).await?;
        }
        match reply.data {
            Data::None => {}
            Data::Download(lines) => {
                for line in &lines {
                    self.send(line).await?;
                }
            }
            Data::Upload { file, size, lines } => {
                if let Some(end) = self.upload(&file, size, lines).await? {
                    return Ok(Some(end));
                }
            }
        }
        match self.channel.autohangup.take() {
            Some(Some(delay)) => self.hangup_at = Instant::now().checked_add(delay),
            Some(None) => self.hangup_at = None,
            None => {}
        }
        if reply.hangs_up {
            self.channel.hang_up();
            if self.exit_on_hangup {
                return self.asterisk_hangs_up().await.map(Some);
            }
            if self.sighup {
                self.notice_at = Some(Instant::now().checked_add(self.notice_delay).unwrap_or_else(Instant::now));
            }
        }
        Ok(None)
    }

    /// The line as Asterisk reads it, noting what a well-behaved server never sends.
    fn check(&mut self, line: &RawLine) -> String {
        let mut bytes = line.bytes.as_slice();
        match line.end {
            LineEnd::Cut => self.violation(format!(
                "a command line longer than {} bytes was cut there; Asterisk runs the rest as another command",
                self.max_line
            )),
            LineEnd::Eof => self.violation("the connection was closed in the middle of a command line".to_owned()),
            LineEnd::Lf if line.ahead => self.violation(
                "a command arrived before the reply to the previous one; Asterisk would leave it unread".to_owned(),
            ),
            LineEnd::Lf => {}
        }
        if bytes.last() == Some(&b'\r') {
            self.violation("a command line ends with CR LF; Asterisk keeps the CR in the last word".to_owned());
        }
        if let Some(nul) = bytes.iter().position(|&b| b == 0) {
            self.violation("a command line holds a NUL byte; Asterisk ignores what follows it".to_owned());
            bytes = &bytes[..nul];
        }
        latin1_string(bytes)
    }

    fn violation(&mut self, message: String) {
        self.peer.note(format!("(violation: {message})"));
        self.violations.push(message);
    }

    fn hangs_up_during(&self, words: &[String]) -> bool {
        self.plan.at_command == Some(self.commands)
            || self.plan.during.as_ref().is_some_and(|during| {
                !during.is_empty()
                    && during.len() <= words.len()
                    && during.iter().zip(words).all(|(a, b)| a.eq_ignore_ascii_case(b))
            })
    }

    /// The data phase of `PUT SOUNDFILE`; `Some` if the server closed during it.
    async fn upload(&mut self, file: &str, size: usize, count: usize) -> Result<Option<CallEnd>, SimErrorKind> {
        let mut lines = Vec::with_capacity(count.min(4096));
        for _ in 0..count {
            let read = tokio::time::timeout(self.wait, self.peer.read_raw_line(self.max_line)).await;
            match read {
                Err(_) => return Err(SimErrorKind::Timeout(self.wait)),
                Ok(Err(error)) => return Err(SimErrorKind::Io(error)),
                Ok(Ok(None)) => {
                    self.violation(format!("the connection was closed during the data of `PUT SOUNDFILE {file}`"));
                    return self.server_closed(CallEnd::ServerClosed).await.map(Some);
                }
                Ok(Ok(Some(line))) => lines.push(latin1_string(&line.bytes)),
            }
        }
        let reply = match self.channel.finish_upload(file, size, &lines) {
            Ok(reply) => reply,
            Err(problem) => {
                self.violation(problem);
                Reply { lines: vec!["200 result=-1".to_owned()], ..Reply::default() }
            }
        };
        for line in &reply.lines {
            self.send(line).await?;
        }
        Ok(None)
    }

    /// The server closed (or sent the failure marker): Asterisk's last words.
    async fn server_closed(&mut self, end: CallEnd) -> Result<CallEnd, SimErrorKind> {
        if self.notice_at.take().is_some() {
            let _ = self.send_hangup().await;
        }
        if self.sighup {
            // The server may be gone already: not an error.
            let _ = self.send("HANGUP").await;
        }
        let _ = self.peer.close().await;
        Ok(end)
    }

    /// `AGIEXITONHANGUP`: Asterisk reports the hangup, ends the session, closes, and
    /// then sees what the server still sends.
    async fn asterisk_hangs_up(&mut self) -> Result<CallEnd, SimErrorKind> {
        self.notice_at = None;
        if self.sighup {
            self.send("HANGUP").await?;
            self.send("HANGUP").await?;
        }
        let _ = self.peer.close().await;
        loop {
            match tokio::time::timeout(self.wait, self.peer.read_raw_line(self.max_line)).await {
                Err(_) => return Err(SimErrorKind::Timeout(self.wait)),
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None) | Err(_)) => return Ok(CallEnd::AsteriskHungUp),
            }
        }
    }

    async fn send_hangup(&mut self) -> Result<(), SimErrorKind> {
        if self.sighup { self.send("HANGUP").await } else { Ok(()) }
    }

    async fn send(&mut self, line: &str) -> Result<(), SimErrorKind> {
        let mut bytes = crate::transcript::latin1_bytes(line);
        bytes.push(b'\n');
        self.peer.send_bytes(&bytes).await.map_err(SimErrorKind::Io)
    }

    fn finish(mut self, outcome: Result<CallEnd, SimErrorKind>) -> Result<CallReport, SimError> {
        let events = self.peer.take_transcript();
        let end = match outcome {
            Ok(end) => end,
            Err(kind) => return Err(SimError::new(kind, events)),
        };
        let unmet = self.script.unmet();
        if !unmet.is_empty() {
            return Err(SimError::new(SimErrorKind::Unmet(unmet), events));
        }
        let channel = self.channel;
        let pairs = |items: &mut dyn Iterator<Item = (&str, &str)>| -> BTreeMap<String, String> {
            items.map(|(k, v)| (external(k), external(v))).collect()
        };
        Ok(CallReport {
            transcript: Transcript::from_events(events),
            end,
            agi_status: channel.agi_status(self.failure_marker),
            variables: pairs(&mut channel.variables.iter()),
            set_by_server: channel.set_by_server.iter().map(|(k, v)| (external(k), external(v))).collect(),
            database: pairs(&mut channel.db.entries()),
            console: channel.console.iter().map(|m| external(m)).collect(),
            dialplan: (external(&channel.context), external(&channel.extension), external(&channel.priority)),
            answered: channel.answered,
            hung_up: channel.hung_up(),
            keys_left: channel.keypad.remaining(),
            violations: std::mem::take(&mut self.violations),
            sounds: channel.sounds,
        })
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_buffer_follows_the_version() {
        assert_eq!(line_buffer("22.10.1"), 8192);
        assert_eq!(line_buffer("22.5.2"), 2048);
        assert_eq!(line_buffer("20.16.0"), 8192);
        assert_eq!(line_buffer("21.10.0"), 2048);
        assert_eq!(line_buffer("18.9-cert1"), 2048);
        assert_eq!(line_buffer("23.0.0"), 8192);
        assert_eq!(line_buffer(""), 2048);
    }
}
