//! One AGI session: the environment, the connection, and the hang-up state.

use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use crate::connection::{Connection, ReadLine, ReadLines};
use crate::error::{AgiError, AgiResult};
use crate::hangup::HangupSignal;
use crate::observe::{self, CommandClock, Deadline};
use crate::router::RouteInfo;
use crate::wire::encode::{encode_command, encode_raw};
use crate::wire::env::EnvBuilder;
use crate::wire::lines::LineSpan;
use crate::wire::reply::{Line, classify, ends_usage_block};
use crate::wire::{AgiEnv, Arg, DEFAULT_MAX_COMMAND_LINE, EnvError, EnvLimits, Response};

/// Caps and timeouts of one call, copied from the server's configuration.
#[derive(Debug, Clone, Copy)]
// In declaration order, the three every command reads first (see `Call`).
#[repr(C)]
pub(crate) struct CallLimits {
    pub(crate) max_reply_line: usize,
    pub(crate) max_command_line: usize,
    pub(crate) command_timeout: Option<Duration>,
    /// The per-line timeout of the data phases of extension commands (§6).
    pub(crate) data_timeout: Duration,
    pub(crate) max_usage_lines: usize,
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits {
            max_command_line: DEFAULT_MAX_COMMAND_LINE,
            // GET VARIABLE is capped at 1023 bytes by Asterisk, but GET FULL VARIABLE and
            // DATABASE GET are not: allow long values, refuse absurd ones.
            max_reply_line: 64 * 1024,
            max_usage_lines: 200,
            command_timeout: None,
            data_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    Ready,
    Disconnected,
    Broken(&'static str),
}

/// Most lines that are not a reply (`HANGUP`, `100 Trying`) accepted in a row; Asterisk
/// sends at most three.
const MAX_LINES_BEFORE_REPLY: usize = 16;

/// What a reply line asks the reader to do, detached from the buffer it was read from.
enum Step {
    Hangup,
    Skip,
    Final,
    Fail(AgiError),
    UsageBlock,
    Malformed(String),
}

/// One AGI session with Asterisk: send commands, read typed results.
///
/// A handler gets `&mut Call`: commands take `&mut self`, so exactly one command is in
/// flight at a time, as AGI requires, and the compiler enforces it.
///
/// # Hang-up semantics
///
/// * A `HANGUP` line can arrive at any time. It is never taken for the reply of a
///   command: a command in flight still gets its own reply, and the call is marked hung
///   up ([`is_hung_up`](Call::is_hung_up), [`hangup_signal`](Call::hangup_signal)).
/// * After the hangup, commands that need a live channel fail with
///   [`AgiError::HungUp`] without a round trip; the ones Asterisk still runs on a dead
///   channel (`GET VARIABLE`, `SET VARIABLE`, `EXEC`, `DATABASE …`, `VERBOSE`, `NOOP`,
///   …) keep working, so `GET VARIABLE DIALSTATUS` after a hangup returns the value.
/// * A command that fails because the caller hung up (`result=-1`) gets its reply
///   *before* Asterisk writes `HANGUP`: right after such a failure `is_hung_up` may still
///   be false. The next command settles it — the `HANGUP` line always precedes its
///   reply — so `call.noop().await?` followed by `call.is_hung_up()` tells a hangup from
///   another failure.
/// * Between commands nobody reads the connection, so a handler busy with its own I/O
///   learns of a hangup at its next command — or at once if it wraps that I/O in
///   [`or_hangup`](Call::or_hangup) or selects on [`hung_up`](Call::hung_up).
///
/// ```
/// use agi_runtime::{AgiResult, Call};
///
/// async fn greet(call: &mut Call) -> AgiResult<()> {
///     call.answer().await?;
///     call.stream_file("welcome", agi_runtime::EscapeDigits::NONE).await?;
///     let status = call.get_variable("DIALSTATUS").await?;
///     call.verbose(&format!("dial status: {status:?}")).await?;
///     Ok(())
/// }
/// ```
// Laid out in declaration order, the fields every command touches first (up to the
// first three limits, under 180 bytes): with many calls waiting at once, a call's state
// has left the processor's cache by the time its reply comes, and these then come back
// in three cache lines.
#[repr(C)]
pub struct Call {
    conn: Connection,
    /// The last final reply, still in the read buffer; consumed before the next read.
    pending: Option<LineSpan>,
    health: Health,
    hung_up: bool,
    /// A command was sent and its reply not read yet.
    in_flight: bool,
    /// The failure marker was sent: no reply comes, Asterisk closes the session.
    marker_sent: bool,
    /// The last reply was not valid UTF-8: `lossy` holds it converted.
    converted: bool,
    limits: CallLimits,
    /// The last reply converted from invalid UTF-8, when `converted`.
    lossy: Option<String>,
    /// Made once the environment is read, on the thread that runs the call (its state
    /// is recycled per thread); `None` before.
    signal: Option<HangupSignal>,
    env: AgiEnv,
    peer: Option<SocketAddr>,
    route: Option<Arc<RouteInfo>>,
    captures: Vec<(u32, u32)>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("path", &self.env.path())
            .field("channel", &self.env.channel())
            .field("uniqueid", &self.env.uniqueid())
            .field("hung_up", &self.hung_up)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// A call over `conn` whose environment has been read already (the testing kit).
    #[cfg(feature = "testing")]
    pub(crate) fn new(conn: Connection, env: AgiEnv, limits: CallLimits, peer: Option<SocketAddr>) -> Call {
        let mut call = Call::opening(conn, limits, peer);
        call.env = env;
        call.conn.environment_read();
        call.signal = Some(HangupSignal::default());
        call
    }

    /// A call whose environment is still to be read ([`environment_reader`]).
    ///
    /// [`environment_reader`]: Call::environment_reader
    pub(crate) fn opening(conn: Connection, limits: CallLimits, peer: Option<SocketAddr>) -> Call {
        Call {
            conn,
            env: AgiEnv::empty(),
            signal: None,
            hung_up: false,
            health: Health::Ready,
            pending: None,
            lossy: None,
            converted: false,
            in_flight: false,
            marker_sent: false,
            limits,
            peer,
            route: None,
            captures: Vec::new(),
        }
    }

    /// A reader of the environment block into the call, where it stays: built in place,
    /// it is never moved (it and the connection are a few hundred bytes).
    pub(crate) fn environment_reader(&mut self, limits: EnvLimits) -> EnvReader<'_> {
        EnvReader {
            max: limits.line_cap(),
            builder: EnvBuilder::new(&mut self.env, limits),
            conn: &mut self.conn,
            signal: &mut self.signal,
        }
    }

    /// Half-closes a connection that will not become a call (no usable environment).
    pub(crate) async fn refuse_connection(&mut self) {
        let _ = self.conn.shutdown().await;
    }

    /// The environment Asterisk sent at the start of the session.
    pub fn env(&self) -> &AgiEnv {
        &self.env
    }

    /// The address Asterisk connected from, when the session runs over TCP.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The route pattern that matched this call (e.g. `/customer/{id}/orders`).
    pub fn route(&self) -> Option<&str> {
        self.route.as_deref().map(|r| r.pattern.as_ref())
    }

    /// A path capture by name, still percent-encoded as Asterisk sent it.
    ///
    /// Handlers written with `#[agi_route]` receive captures as typed parameters instead.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        let route = self.route.as_deref()?;
        let index = route.captures.iter().position(|c| c.as_ref() == name)?;
        self.capture(index)
    }

    pub(crate) fn capture(&self, index: usize) -> Option<&str> {
        let &(start, end) = self.captures.get(index)?;
        self.env.path().get(start as usize..end as usize)
    }

    pub(crate) fn set_route(&mut self, route: Arc<RouteInfo>, captures: Vec<(u32, u32)>) {
        self.route = Some(route);
        self.captures = captures;
    }

    /// Whether the call has learned that the channel hung up (or Asterisk went away).
    pub fn is_hung_up(&self) -> bool {
        self.hung_up
    }

    /// A cloneable signal that fires when this call learns of the hangup.
    pub fn hangup_signal(&self) -> HangupSignal {
        // A call is handed out only once its environment is read, and so its signal made.
        self.signal.clone().unwrap_or_default()
    }

    /// The per-command reply timeout; `None` (the default) waits as long as Asterisk
    /// needs, since a `Dial` through `EXEC` may last an hour.
    pub fn command_timeout(&self) -> Option<Duration> {
        self.limits.command_timeout
    }

    /// Sets the per-command reply timeout for the rest of this call.
    ///
    /// A command that times out leaves the connection out of step (its reply may still
    /// come), so every later command fails with [`AgiError::Broken`].
    pub fn set_command_timeout(&mut self, timeout: Option<Duration>) {
        self.limits.command_timeout = timeout;
    }

    /// The per-line timeout of data phases (the sound-file transfer's base64 lines): how
    /// long the call waits for each line before it gives up on the connection. Default 10 s.
    pub fn data_timeout(&self) -> Duration {
        self.limits.data_timeout
    }

    /// Sets the per-line timeout of data phases for the rest of this call.
    pub fn set_data_timeout(&mut self, timeout: Duration) {
        self.limits.data_timeout = timeout;
    }

    /// The longest command line this call sends, LF included (default 2047, the limit
    /// of Asterisk before 20.16 / 21.11 / 22.6).
    pub fn max_command_line(&self) -> usize {
        self.limits.max_command_line
    }

    /// Completes when the call learns of the hangup, watching the connection meanwhile.
    ///
    /// Use it in `tokio::select!` beside your own I/O; it is cancel-safe. It also
    /// completes if Asterisk closes the connection or sends something that is not AGI.
    pub async fn hung_up(&mut self) {
        self.release_pending();
        while !self.hung_up {
            match self.conn.read_line(self.limits.max_reply_line).await {
                Ok(ReadLine::Line(span)) => {
                    let hangup = self.conn.line(span) == b"HANGUP";
                    let text = if hangup { String::new() } else { lossy(self.conn.line(span)).into_owned() };
                    self.conn.consume(span);
                    if hangup {
                        self.mark_hung_up();
                    } else if self.health == Health::Ready && !self.in_flight {
                        // Not AGI: the call cannot go on, so stop waiting as for a hangup.
                        self.protocol_error(format!(
                            "Asterisk sent `{}` while no command was running",
                            text.escape_debug()
                        ));
                        self.mark_hung_up();
                    }
                }
                Ok(ReadLine::TooLong(_)) => {
                    self.health = Health::Broken("Asterisk sent an over-long line");
                    self.mark_hung_up();
                }
                Ok(ReadLine::Eof) | Err(_) => {
                    self.disconnected();
                }
            }
        }
    }

    /// Runs `work` (your database or HTTP call) unless the caller hangs up first.
    ///
    /// Returns [`AgiError::HungUp`] at once if the call already knows it is hung up, and
    /// as soon as a `HANGUP` arrives otherwise; `work` is then dropped.
    ///
    /// ```
    /// # async fn lookup(_: &str) -> Option<String> { None }
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// let ext = call.env().extension().unwrap_or_default().to_owned();
    /// let record = call.or_hangup(lookup(&ext)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn or_hangup<F: Future>(&mut self, work: F) -> AgiResult<F::Output> {
        if self.hung_up {
            return Err(AgiError::HungUp);
        }
        tokio::select! {
            output = work => Ok(output),
            () = self.hung_up() => Err(AgiError::HungUp),
        }
    }

    /// Sends any command, for those that third-party modules add.
    ///
    /// Every word goes through the same encoder as the typed commands: a word that needs
    /// it is quoted, and LF, CR or NUL are refused, so no word can become a second
    /// command. The reply is returned as a [`Response`] to interpret.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// let reply = call.command(["SOME", "NEW", "COMMAND", "an argument"]).await?;
    /// let code = reply.result_code();
    /// # Ok(()) }
    /// ```
    pub async fn command<I, S>(&mut self, words: I) -> AgiResult<Response<'_>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        // Unknown commands may or may not work on a dead channel: let Asterisk decide.
        self.prepare(true)?;
        encode_raw(&mut self.conn.out, words, self.limits.max_command_line).inspect_err(observe::command_rejected)?;
        let name = first_word(&self.conn.out);
        self.round_trip(&name, true, self.limits.command_timeout).await?;
        self.response(&name)
    }

    /// Sends a command line exactly as written, to reproduce a recorded line byte for
    /// byte (`testing` feature only).
    ///
    /// The line is sent as is, so its quoting is yours: handlers should use
    /// [`command`](Call::command), which quotes each word. It is still refused, with
    /// nothing sent, if it holds LF, CR or NUL, is empty, starts with Asterisk's `failure`
    /// marker, or is longer than the command line limit.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// let reply = call.command_line(r#"SET VARIABLE Q9 "close)paren""#).await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "testing")]
    pub async fn command_line(&mut self, line: &str) -> AgiResult<Response<'_>> {
        self.prepare(true)?;
        crate::wire::encode::encode_line(&mut self.conn.out, line, self.limits.max_command_line)?;
        let name = first_word(&self.conn.out);
        self.round_trip(&name, true, self.limits.command_timeout).await?;
        self.response(&name)
    }

    /// Sends one typed command and reads its final reply.
    ///
    /// `dead_ok` says whether Asterisk runs the command on a hung-up channel (§4.3).
    pub(crate) async fn execute(
        &mut self,
        keywords: &'static str,
        dead_ok: bool,
        args: &[Arg<'_>],
    ) -> AgiResult<Response<'_>> {
        self.ready_command(keywords, dead_ok, args)?;
        self.round_trip(keywords, true, self.limits.command_timeout).await?;
        self.response(keywords)
    }

    /// Checks that a typed command may be sent now and encodes it into `out`.
    fn ready_command(&mut self, keywords: &'static str, dead_ok: bool, args: &[Arg<'_>]) -> AgiResult<()> {
        self.prepare(dead_ok)?;
        encode_command(&mut self.conn.out, keywords, args, self.limits.max_command_line)
            .inspect_err(observe::command_rejected)?;
        Ok(())
    }

    /// Reads one more final reply to a command whose reply was already read, for the
    /// few commands that answer twice (a data phase's closing status, `EXEC`'s usage
    /// block when the application returned 1).
    pub(crate) async fn read_reply(
        &mut self,
        command: &'static str,
        timeout: Option<Duration>,
    ) -> AgiResult<Response<'_>> {
        self.release_pending();
        self.round_trip(command, false, timeout).await?;
        self.response(command)
    }

    /// Checks that a command may be sent now, and notices what arrived meanwhile.
    fn prepare(&mut self, dead_ok: bool) -> AgiResult<()> {
        self.release_pending();
        if self.in_flight {
            self.health = Health::Broken("a command future was dropped before its reply arrived");
            self.in_flight = false;
        }
        match self.health {
            Health::Ready => {}
            Health::Disconnected => return Err(AgiError::Disconnected),
            Health::Broken(why) => return Err(AgiError::Broken(why)),
        }
        self.take_unsolicited()?;
        if self.hung_up && !dead_ok {
            return Err(AgiError::HungUp);
        }
        Ok(())
    }

    /// Handles what Asterisk sent while no command was running, without waiting: `HANGUP`
    /// lines mark the call, end of stream disconnects it, anything else is a protocol error.
    ///
    /// Asking the socket costs no extra system call over a session: the read that would
    /// otherwise find nothing right after the command is sent happens here instead.
    fn take_unsolicited(&mut self) -> AgiResult<()> {
        let mut hangups = 0;
        loop {
            loop {
                match self.conn.buffered_line(self.limits.max_reply_line) {
                    Ok(Some(span)) => {
                        let line = self.conn.line(span);
                        if line == b"HANGUP" {
                            self.conn.consume(span);
                            self.mark_hung_up();
                            // This loop does not yield: a peer streaming `HANGUP` must not keep it spinning.
                            hangups += 1;
                            if hangups > MAX_LINES_BEFORE_REPLY {
                                return Err(self.protocol_error(format!("{hangups} `HANGUP` lines in a row")));
                            }
                        } else {
                            let text = lossy(line).into_owned();
                            self.conn.consume(span);
                            return Err(self.protocol_error(format!(
                                "Asterisk sent `{}` while no command was running",
                                text.escape_debug()
                            )));
                        }
                    }
                    Ok(None) => break,
                    Err(too_long) => {
                        return Err(self.protocol_error(format!("line longer than {} bytes", too_long.max)));
                    }
                }
            }
            match self.conn.read_now() {
                Ok(None) => return Ok(()),
                Ok(Some(0)) => return Err(self.disconnected()),
                Ok(Some(_)) => continue,
                Err(e) => return Err(self.io_failed(e)),
            }
        }
    }

    /// Sends the encoded command (when `send`) and reads its final reply, under `timeout`;
    /// the reply stays pending in the buffer. The command counts as in flight from the
    /// future's first poll.
    fn round_trip<'c>(&'c mut self, command: &'c str, send: bool, timeout: Option<Duration>) -> Exchange<'c> {
        if send && tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug!(command = %lossy(strip_lf(&self.conn.out)), "send");
        }
        Exchange {
            clock: observe::command_started(),
            call: self,
            command,
            started: false,
            sending: send,
            written: 0,
            skipped: 0,
            usage: None,
            timeout,
            timer: None,
        }
    }

    /// A typed command: checked and encoded now, sent at the first poll of the future
    /// returned, its final reply interpreted by `parse`.
    ///
    /// `dead_ok` says whether Asterisk runs the command on a hung-up channel (§4.3).
    pub(crate) fn typed<'c, T, F>(
        &'c mut self,
        keywords: &'static str,
        dead_ok: bool,
        args: &[Arg<'_>],
        parse: F,
    ) -> Command<'c, F>
    where
        F: FnOnce(&Response<'_>) -> AgiResult<T> + Unpin,
    {
        Command { state: self.start_typed(keywords, dead_ok, args), parse: Some(parse) }
    }

    /// The part of [`typed`](Self::typed) that does not depend on the reply's type: one
    /// copy of its code, called by every command, rather than one inlined in each.
    #[inline(never)]
    fn start_typed<'c>(&'c mut self, keywords: &'static str, dead_ok: bool, args: &[Arg<'_>]) -> CommandState<'c> {
        match self.ready_command(keywords, dead_ok, args) {
            Ok(()) => CommandState::Running(self.round_trip(keywords, true, self.limits.command_timeout)),
            Err(error) => CommandState::Refused(Some(error)),
        }
    }

    /// Whether `span` is the usual final reply, `200 result=` in ASCII: known without
    /// converting it, as ASCII is UTF-8 as it is.
    fn is_final_reply(&mut self, span: LineSpan) -> bool {
        let line = self.conn.line(span);
        if !(line.starts_with(b"200 result=") && line.is_ascii()) {
            return false;
        }
        if tracing::level_enabled!(tracing::Level::DEBUG) {
            log_final_reply(line);
        }
        self.forget_converted();
        true
    }

    /// Decides what a line means for the command in flight, once it is known not to be
    /// the usual final reply ([`is_final_reply`](Call::is_final_reply)).
    fn step(&mut self, span: LineSpan, command: &str) -> Step {
        let line = self.conn.line(span);
        let text = lossy(line);
        tracing::trace!(reply = %text, "receive");
        match classify(&text) {
            Line::Hangup => Step::Hangup,
            Line::Trying => Step::Skip,
            Line::Success(_) => {
                if tracing::enabled!(tracing::Level::DEBUG) {
                    tracing::debug!(reply = %text, "reply");
                }
                self.lossy = match text {
                    Cow::Borrowed(_) => None,
                    Cow::Owned(text) => Some(text),
                };
                self.converted = self.lossy.is_some();
                Step::Final
            }
            Line::InvalidCommand => Step::Fail(AgiError::InvalidCommand { command: command.to_owned() }),
            Line::DeadChannel => Step::Fail(AgiError::HungUp),
            Line::UsageBlockStart => Step::UsageBlock,
            Line::UsageUnavailable => Step::Fail(AgiError::InvalidSyntax { command: command.to_owned(), usage: None }),
            Line::OtherStatus { code, text } => {
                Step::Fail(AgiError::Status { command: command.to_owned(), code, text: text.to_owned() })
            }
            Line::Malformed => Step::Malformed(text.into_owned()),
        }
    }

    async fn next_line(&mut self) -> AgiResult<LineSpan> {
        std::future::poll_fn(|cx| self.poll_next_line(cx)).await
    }

    fn poll_next_line(&mut self, cx: &mut Context<'_>) -> Poll<AgiResult<LineSpan>> {
        Poll::Ready(match ready!(self.conn.poll_read_line(cx, self.limits.max_reply_line)) {
            Ok(ReadLine::Line(span)) => Ok(span),
            Ok(ReadLine::Eof) => Err(self.disconnected()),
            Ok(ReadLine::TooLong(too_long)) => {
                Err(self.protocol_error(format!("reply line longer than {} bytes", too_long.max)))
            }
            Err(e) => Err(self.io_failed(e)),
        })
    }

    fn response(&self, command: &str) -> AgiResult<Response<'_>> {
        // Without a converted copy, the reply in the buffer was found to be UTF-8 when
        // it was read (`step`): it is not checked again.
        let text = match (self.converted, self.pending) {
            (true, _) => self.lossy.as_deref().unwrap_or_default().as_bytes(),
            (false, Some(span)) => self.conn.line(span),
            (false, None) => b"",
        };
        text.strip_prefix(b"200 ").and_then(Response::parse_checked).ok_or_else(|| no_reply(command))
    }

    fn release_pending(&mut self) {
        if let Some(span) = self.pending.take() {
            self.conn.consume(span);
        }
        self.forget_converted();
    }

    /// Drops the converted copy of the last reply, if there is one: the field is not
    /// even read otherwise (it is out of the lines every command touches).
    fn forget_converted(&mut self) {
        if self.converted {
            self.converted = false;
            self.lossy = None;
        }
    }

    fn mark_hung_up(&mut self) {
        if !self.hung_up {
            observe::hangup();
            tracing::debug!("channel hung up");
            self.hung_up = true;
            if let Some(signal) = &self.signal {
                signal.fire();
            }
        }
    }

    #[cold]
    fn disconnected(&mut self) -> AgiError {
        self.in_flight = false;
        if self.health == Health::Ready {
            self.health = Health::Disconnected;
        }
        self.mark_hung_up();
        AgiError::Disconnected
    }

    #[cold]
    fn io_failed(&mut self, error: std::io::Error) -> AgiError {
        match AgiError::from(error) {
            AgiError::Disconnected => self.disconnected(),
            other => {
                self.in_flight = false;
                self.health = Health::Broken("an I/O error interrupted a command");
                other
            }
        }
    }

    #[cold]
    fn protocol_error(&mut self, message: String) -> AgiError {
        observe::protocol_error(false);
        tracing::warn!(detail = %message, "protocol error");
        self.in_flight = false;
        self.health = Health::Broken("Asterisk sent something that is not AGI");
        AgiError::Protocol(message)
    }

    /// Marks the connection unusable: the byte stream is no longer framed as AGI expects.
    pub(crate) fn mark_broken(&mut self, why: &'static str) {
        self.in_flight = false;
        if self.health == Health::Ready {
            self.health = Health::Broken(why);
        }
    }

    /// Whether commands can still be sent (not disconnected, not out of step).
    pub(crate) fn is_usable(&self) -> bool {
        self.health == Health::Ready && !self.in_flight
    }

    /// Ends the session with Asterisk's failure marker, so it sets `AGISTATUS=FAILURE`.
    ///
    /// The bytes are fixed here; no caller text can ever reach this line.
    pub(crate) async fn send_failure_marker(&mut self) -> std::io::Result<()> {
        self.marker_sent = true;
        self.conn.send_raw(b"failure\n").await
    }

    /// Ends the connection.
    ///
    /// When every command sent has had its reply, nothing can be lost: the connection is
    /// closed at once, as soon as the call is dropped. (Asterisk's final `HANGUP`, if it
    /// crosses the close, is answered by a reset, which Asterisk takes as the end of the
    /// session it already is: AGI-PROTOCOL.md §4.2.)
    ///
    /// Otherwise (the failure marker was the last line sent, or a command still waits
    /// for its reply) it half-closes and waits, up to `linger`, for Asterisk to close its
    /// side, so that Asterisk reads everything sent before the connection goes away.
    pub(crate) async fn close(&mut self, linger: Duration) {
        self.release_pending();
        if self.health == Health::Disconnected || (self.is_usable() && !self.marker_sent) {
            return;
        }
        // Boxed: most calls close at once, and the timer would enlarge every call's task.
        Box::pin(async {
            if self.conn.shutdown().await.is_ok() {
                let _ = tokio::time::timeout(linger, self.conn.drain_to_eof()).await;
            }
        })
        .await;
    }
}

/// Reads the environment block into a call ([`Call::environment_reader`]); polled by hand
/// by the session, which watches the environment's deadline beside it.
pub(crate) struct EnvReader<'c> {
    conn: &'c mut Connection,
    builder: EnvBuilder<'c>,
    signal: &'c mut Option<HangupSignal>,
    max: usize,
}

impl EnvReader<'_> {
    /// Reads until the block is complete; then the call is ready for commands.
    pub(crate) fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), EnvError>> {
        Poll::Ready(match ready!(self.conn.poll_read_lines(cx, self.max, &mut self.builder))? {
            ReadLines::Done => {
                self.builder.finish();
                self.conn.environment_read();
                *self.signal = Some(HangupSignal::default());
                Ok(())
            }
            ReadLines::Eof => Err(EnvError::Truncated { lines: self.builder.lines() }),
            ReadLines::TooLong(too_long) => Err(EnvError::LineTooLong { max: too_long.max }),
        })
    }
}

/// One command's round trip: the command line sent, then lines read until its final
/// reply, within the command timeout if one is set. Written by hand rather than as an
/// `async fn`: it runs for every command, and the nested state machines of `async` code
/// cost instructions and code size at each of its two polls (one sends and finds no
/// reply yet, one reads it).
///
/// The command is in flight from the first poll. Dropped before it ends, the future
/// leaves it so, and the next command finds the call out of step (`prepare`).
pub(crate) struct Exchange<'c> {
    call: &'c mut Call,
    command: &'c str,
    /// Polled at least once: the command is in flight.
    started: bool,
    /// The command line is still being sent.
    sending: bool,
    /// Bytes of the command line written so far.
    written: usize,
    /// Lines read that were not the reply (`HANGUP`, `100 Trying`); a few at most.
    skipped: u8,
    /// The body of a `520-` usage block, once its first line came (boxed: rare, and
    /// the future of every command would carry its room).
    usage: Option<Box<UsageBlock>>,
    /// The command timeout, if any: its timer is armed at the first poll that waits
    /// (boxed: only calls with a timeout pay for its room).
    timeout: Option<Duration>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    clock: CommandClock,
}

/// A `520-` usage block being read: its body lines are kept, not interpreted (they can
/// look like replies: `Example return code: 200 result=1`).
struct UsageBlock {
    text: String,
    lines: usize,
}

impl Future for Exchange<'_> {
    type Output = AgiResult<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<AgiResult<()>> {
        let this = self.get_mut();
        if !this.started {
            this.started = true;
            this.call.in_flight = true;
        }
        if let Poll::Ready(result) = this.poll_exchange(cx) {
            // Only a reply from Asterisk measures the command; a lost connection does not.
            if this.call.health == Health::Ready {
                observe::command_finished(this.command, this.clock);
            }
            return Poll::Ready(result);
        }
        match this.timeout {
            None => Poll::Pending,
            Some(timeout) => this.poll_timeout(timeout, cx),
        }
    }
}

impl Exchange<'_> {
    /// The command timeout's timer, armed at the first poll that waits. Out of line and
    /// cold: most calls set no timeout, and this would take room in every command's path.
    #[cold]
    #[inline(never)]
    fn poll_timeout(&mut self, timeout: Duration, cx: &mut Context<'_>) -> Poll<AgiResult<()>> {
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(timer.as_mut().poll(cx));
        observe::timeout(Deadline::Command);
        self.call.in_flight = false;
        self.call.health = Health::Broken("a command timed out; its reply may still arrive");
        Poll::Ready(Err(AgiError::Timeout { command: self.command.to_owned(), timeout }))
    }

    /// The exchange itself, without its timeout.
    fn poll_exchange(&mut self, cx: &mut Context<'_>) -> Poll<AgiResult<()>> {
        if self.sending {
            let call = &mut *self.call;
            if let Err(e) = ready!(call.conn.poll_send_out(cx, &mut self.written)) {
                return Poll::Ready(Err(call.io_failed(e)));
            }
            self.sending = false;
        }
        loop {
            let call = &mut *self.call;
            let span = ready!(call.poll_next_line(cx))?;
            if self.usage.is_none() && call.is_final_reply(span) {
                call.in_flight = false;
                call.pending = Some(span);
                return Poll::Ready(Ok(()));
            }
            if let Some(end) = self.take_other_line(span) {
                return Poll::Ready(end);
            }
        }
    }

    /// Takes a line that is not the usual final reply: a `HANGUP`, a `100 Trying`, a
    /// line of a `520` usage block, any other status. `Some` when it ends the exchange.
    ///
    /// Out of line and marked cold: most commands get their reply at once, and these
    /// cases would otherwise take room in the code every reply runs through.
    #[cold]
    #[inline(never)]
    fn take_other_line(&mut self, span: LineSpan) -> Option<AgiResult<()>> {
        let call = &mut *self.call;
        if let Some(usage) = &mut self.usage {
            let line = lossy(call.conn.line(span)).into_owned();
            call.conn.consume(span);
            if ends_usage_block(&line) {
                call.in_flight = false;
                let usage = std::mem::take(&mut usage.text);
                return Some(Err(AgiError::InvalidSyntax { command: self.command.to_owned(), usage: Some(usage) }));
            }
            usage.lines += 1;
            if usage.lines > call.limits.max_usage_lines {
                let max = call.limits.max_usage_lines;
                return Some(Err(call.protocol_error(format!("a 520 usage block did not end within {max} lines"))));
            }
            if !usage.text.is_empty() {
                usage.text.push('\n');
            }
            usage.text.push_str(&line);
            return None;
        }
        let step = call.step(span, self.command);
        if matches!(step, Step::Hangup | Step::Skip) {
            // Asterisk sends at most two `HANGUP` lines and one `100`: more is a
            // peer keeping the command from ever ending.
            self.skipped = self.skipped.saturating_add(1);
            if usize::from(self.skipped) > MAX_LINES_BEFORE_REPLY {
                call.conn.consume(span);
                let message = format!("`{}` got {} lines that are not its reply", self.command, self.skipped);
                return Some(Err(call.protocol_error(message)));
            }
        }
        match step {
            Step::Final => {
                call.in_flight = false;
                call.pending = Some(span);
                return Some(Ok(()));
            }
            Step::Hangup => {
                call.conn.consume(span);
                call.mark_hung_up();
            }
            Step::Skip => call.conn.consume(span),
            Step::Fail(error) => {
                call.conn.consume(span);
                call.in_flight = false;
                if matches!(error, AgiError::HungUp) {
                    call.mark_hung_up();
                }
                return Some(Err(error));
            }
            Step::UsageBlock => {
                call.conn.consume(span);
                self.usage = Some(Box::new(UsageBlock { text: String::new(), lines: 0 }));
            }
            Step::Malformed(text) => {
                call.conn.consume(span);
                let message = format!("`{}` got a reply that is not AGI: `{}`", self.command, text.escape_debug());
                return Some(Err(call.protocol_error(message)));
            }
        }
        None
    }
}

/// The future of a typed command ([`Call::typed`]): its round trip, then its reply
/// interpreted. Hand-written, like [`Exchange`], so that a command method adds no
/// `async` layer of its own to the handler's future.
pub(crate) struct Command<'c, F> {
    state: CommandState<'c>,
    parse: Option<F>,
}

enum CommandState<'c> {
    /// Refused before anything was sent (a dead channel, an argument that cannot be
    /// encoded, a call out of step); the error is handed at the first poll.
    Refused(Option<AgiError>),
    Running(Exchange<'c>),
}

impl<F> Command<'_, F> {
    /// A command refused before anything was sent: `error` is its outcome.
    pub(crate) fn refused(error: AgiError, parse: F) -> Self {
        Command { state: CommandState::Refused(Some(error)), parse: Some(parse) }
    }
}

impl<T, F> Future for Command<'_, F>
where
    F: FnOnce(&Response<'_>) -> AgiResult<T> + Unpin,
{
    type Output = AgiResult<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<AgiResult<T>> {
        let this = self.get_mut();
        if this.parse.is_none() {
            // Ended already: a second reply must not be read for it.
            return Poll::Ready(Err(AgiError::Broken(POLLED_AFTER_END)));
        }
        let result = ready!(this.state.poll_reply(cx));
        // Taken on every end, so that a later poll ends at the check above.
        let parse = this.parse.take();
        Poll::Ready(result.and_then(|reply| match parse {
            Some(parse) => parse(&reply),
            None => Err(AgiError::Broken(POLLED_AFTER_END)),
        }))
    }
}

impl CommandState<'_> {
    /// The final reply, once it has come: the part of [`Command`]'s poll that does not
    /// depend on the reply's type, kept out of line for the same reason as
    /// [`Call::start_typed`].
    #[inline(never)]
    fn poll_reply(&mut self, cx: &mut Context<'_>) -> Poll<AgiResult<Response<'_>>> {
        Poll::Ready(match self {
            CommandState::Refused(error) => Err(refusal(error)),
            CommandState::Running(exchange) => {
                ready!(Pin::new(&mut *exchange).poll(cx)).and_then(|()| exchange.call.response(exchange.command))
            }
        })
    }
}

const POLLED_AFTER_END: &str = "a command's future was polled after it had ended";

/// The outcome of a command refused before it was sent (cold: out of every command's path).
#[cold]
#[inline(never)]
fn refusal(error: &mut Option<AgiError>) -> AgiError {
    error.take().unwrap_or(AgiError::Broken(POLLED_AFTER_END))
}

/// A final reply that is not there to read (cold: out of every command's path).
#[cold]
#[inline(never)]
fn no_reply(command: &str) -> AgiError {
    AgiError::Protocol(format!("no reply to `{command}` is available"))
}

/// Logs the usual final reply, when the debug log is on (cold and out of line: the
/// logging code would otherwise sit in every command's path).
#[cold]
#[inline(never)]
fn log_final_reply(line: &[u8]) {
    tracing::trace!(reply = %lossy(line), "receive");
    tracing::debug!(reply = %lossy(line), "reply");
}

/// The data phases of extension commands (AGI-PROTOCOL.md §6): lines that are not AGI
/// replies, written and read while the command is still in flight.
impl Call {
    /// Starts a data phase. Until [`end_data_phase`](Self::end_data_phase) the command
    /// counts as in flight, so dropping its future leaves the call broken: the stream
    /// would be cut between two data lines.
    pub(crate) fn begin_data_phase(&mut self) {
        self.release_pending();
        self.in_flight = true;
    }

    /// Ends a data phase that left the stream in step.
    pub(crate) fn end_data_phase(&mut self) {
        self.in_flight = false;
    }

    /// Writes data lines (LF-terminated, built by the caller) within the data timeout.
    pub(crate) async fn write_data(&mut self, command: &str, bytes: &[u8]) -> AgiResult<()> {
        self.release_pending();
        match tokio::time::timeout(self.limits.data_timeout, self.conn.send_raw(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.io_failed(e)),
            Err(_) => Err(self.data_timed_out(command)),
        }
    }

    /// Reads one data line within the data timeout and hands it to `read`. `HANGUP`
    /// lines (never valid base64: six characters) are recorded and skipped.
    pub(crate) async fn read_data_line<R>(&mut self, command: &str, read: impl FnOnce(&[u8]) -> R) -> AgiResult<R> {
        self.release_pending();
        loop {
            let span = match tokio::time::timeout(self.limits.data_timeout, self.next_line()).await {
                Ok(span) => span?,
                Err(_) => return Err(self.data_timed_out(command)),
            };
            let line = self.conn.line(span);
            if line == b"HANGUP" {
                self.conn.consume(span);
                self.mark_hung_up();
                continue;
            }
            let result = read(line);
            self.conn.consume(span);
            return Ok(result);
        }
    }

    /// Puts the stream back in step after a data phase whose end Asterisk does not mark
    /// (§6.3): sends `GET FULL VARIABLE "<fresh token>"` and drops every line before
    /// Asterisk's echo of the token, handing each to `dropped`. Gives up, leaving the
    /// call broken, after `max_dropped` lines.
    pub(crate) async fn resynchronize(
        &mut self,
        command: &str,
        max_dropped: usize,
        mut dropped: impl FnMut(&[u8]),
    ) -> AgiResult<()> {
        let token = fresh_token();
        encode_command(&mut self.conn.out, "GET FULL VARIABLE", &[Arg::Quoted(&token)], self.limits.max_command_line)?;
        tracing::debug!(command = %lossy(strip_lf(&self.conn.out)), "resynchronize");
        match tokio::time::timeout(self.limits.data_timeout, self.conn.send_out()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(self.io_failed(e)),
            Err(_) => return Err(self.data_timed_out(command)),
        }
        let echo = format!("200 result=1 ({token})");
        for _ in 0..=max_dropped {
            let found = self
                .read_data_line(command, |line| {
                    let found = line == echo.as_bytes();
                    if !found {
                        dropped(line);
                    }
                    found
                })
                .await?;
            if found {
                return Ok(());
            }
        }
        Err(self.protocol_error(format!("`{command}`: Asterisk did not echo the resynchronisation token")))
    }

    fn data_timed_out(&mut self, command: &str) -> AgiError {
        self.mark_broken("a data phase stalled; the stream is no longer framed");
        AgiError::Timeout { command: command.to_owned(), timeout: self.limits.data_timeout }
    }
}

/// A token no peer can predict, for [`Call::resynchronize`].
fn fresh_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};

    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    format!("agi-sync-{:016x}", hasher.finish())
}

fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    crate::wire::lines::lossy(bytes)
}

fn strip_lf(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

fn first_word(line: &[u8]) -> String {
    let line = strip_lf(line);
    let end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    lossy(&line[..end]).into_owned()
}
