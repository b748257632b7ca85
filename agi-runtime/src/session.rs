//! The life of one connection: environment, routing, the handler, the status report.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tracing::Instrument as _;

use crate::call::{Call, CallLimits};
use crate::connection::{Connection, ReadLines, Stream};
use crate::handler::{CatchUnwind, Outcome};
use crate::router::RouteTable;
use crate::status::{CallStatus, StatusReporting, sanitize_reason};
use crate::wire::env::EnvBuilder;
use crate::wire::{AgiEnv, EnvError, EnvLimits};

/// Settings every session of a server shares.
#[derive(Debug, Clone)]
pub(crate) struct SessionConfig {
    pub(crate) env_timeout: Duration,
    pub(crate) env_limits: EnvLimits,
    pub(crate) call_limits: CallLimits,
    pub(crate) status: StatusReporting,
    pub(crate) report_timeout: Duration,
    pub(crate) close_linger: Duration,
    pub(crate) hangup_grace: Option<Duration>,
    /// The call limit, quoted in the `OVERLOADED` reason.
    pub(crate) max_calls: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            env_timeout: Duration::from_secs(5),
            env_limits: EnvLimits::default(),
            call_limits: CallLimits::default(),
            status: StatusReporting::default(),
            report_timeout: Duration::from_secs(5),
            close_linger: Duration::from_secs(2),
            hangup_grace: Some(Duration::from_secs(60)),
            max_calls: 10_000,
        }
    }
}

/// What a server's sessions run against.
pub(crate) struct App {
    pub(crate) table: RouteTable,
    pub(crate) config: SessionConfig,
    /// Cancelled when a graceful shutdown's grace period is over.
    pub(crate) cut: Cut,
}

/// The order to cut the calls still running, given once a graceful shutdown's grace
/// period is over.
///
/// A flag a running call reads after each poll of its handler (a `CancellationToken`
/// takes a lock twice at every poll of its future), and a `Notify` that wakes the
/// calls, each registered once.
#[derive(Debug, Default)]
pub(crate) struct Cut {
    given: AtomicBool,
    notify: Notify,
}

impl Cut {
    /// Cuts every call: each one ends at its next poll.
    pub(crate) fn cancel(&self) {
        self.given.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    fn is_given(&self) -> bool {
        self.given.load(Ordering::Acquire)
    }
}

/// How a session ended, for the server's shutdown report and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SessionEnd {
    /// No usable environment block arrived.
    NoEnvironment,
    /// The call ran (or was refused) and ended with this status.
    Reported(CallStatus),
    /// The server's shutdown deadline cut the handler short.
    Cut,
}

/// Runs one session from the first byte to the close.
///
/// A plain function returning the session's future, so that its arguments are not
/// kept a second time in every call's task.
pub(crate) fn run(
    stream: impl Into<Stream>,
    peer: Option<SocketAddr>,
    app: &App,
    admitted: bool,
) -> impl Future<Output = SessionEnd> + Send + '_ {
    let span = tracing::info_span!(
        "agi_call",
        peer = peer.map(tracing::field::display),
        route = tracing::field::Empty,
        uniqueid = tracing::field::Empty,
        channel = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    // Entering a span no subscriber wants is a test of a field at each poll.
    run_in_span(stream.into(), peer, app, admitted, span.clone()).instrument(span)
}

/// The session's future: an `async` block rather than an `async fn`, whose arguments
/// would be stored twice in the future (as arguments, then as locals), in every call's
/// task.
#[allow(clippy::manual_async_fn)]
fn run_in_span(
    stream: Stream,
    peer: Option<SocketAddr>,
    app: &App,
    admitted: bool,
    span: tracing::Span,
) -> impl Future<Output = SessionEnd> + Send + '_ {
    async move {
        let config = &app.config;
        // Read only by the debug line at the end: no clock read per call otherwise.
        let started = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
        // Boxed, the environment phase's future is freed once the block is read; inline,
        // the compiler lays it out beside the call's, which would enlarge every call's
        // task, and so its memory while it waits, by about 400 bytes.
        let mut call = match Box::pin(open_call(stream, config)).await {
            Ok((conn, env)) => Call::new(conn, env, config.call_limits, peer),
            Err(end) => return end,
        };
        span.record("uniqueid", call.env().uniqueid().unwrap_or_default());
        span.record("channel", call.env().channel().unwrap_or_default());

        let (status, reason, cut) = if !admitted {
            let reason = format!("the server is at its limit of {} concurrent calls", config.max_calls);
            tracing::warn!(path = call.env().path(), "{reason}; call refused");
            (CallStatus::Overloaded, Some(reason), false)
        } else {
            match app.table.find(call.env().path()) {
                None => {
                    let reason = format!("no route for `{}`", call.env().path());
                    tracing::info!("{reason}");
                    (CallStatus::NotFound, Some(reason), false)
                }
                Some(matched) => {
                    span.record("route", &*matched.entry.info.pattern);
                    call.set_route(matched.entry.info.clone(), matched.captures);
                    let handler = matched.entry.handler.clone();
                    run_handler(&mut call, &*handler, app).await
                }
            }
        };
        span.record("status", status.as_str());
        if call.is_usable() && wants_report(status, reason.is_some(), &config.status) {
            // Boxed: most calls report nothing, and the future of a command is large; kept
            // inline it would enlarge every call's task, and so its memory while it waits.
            Box::pin(report(&mut call, status, reason.as_deref(), config)).await;
        }
        call.close(config.close_linger).await;
        if let Some(started) = started {
            tracing::debug!(elapsed = ?started.elapsed(), "call ended");
        }
        if cut { SessionEnd::Cut } else { SessionEnd::Reported(status) }
    }
}

/// Reads the environment block; without a usable block the connection is closed and
/// the session ends.
///
/// Its own function, so that the connection and the environment, moved into the call,
/// do not keep their own room in the session's future beside the call's.
async fn open_call(stream: Stream, config: &SessionConfig) -> Result<(Connection, AgiEnv), SessionEnd> {
    let mut conn = Connection::new(stream);
    let env = match tokio::time::timeout(config.env_timeout, read_env(&mut conn, config.env_limits)).await {
        Ok(Ok(env)) => env,
        Ok(Err(error)) => return Err(refuse_environment(conn, error).await),
        Err(_) => return Err(refuse_environment(conn, EnvError::Timeout(config.env_timeout)).await),
    };
    Ok((conn, env))
}

/// How the handler's run ended, besides its own outcome.
enum Stopped {
    Handled(Result<Outcome, String>),
    Overran,
    Cut,
}

/// Runs the handler, catching panics, and enforcing the post-hangup and shutdown deadlines.
async fn run_handler(
    call: &mut Call,
    handler: &dyn crate::Handler<()>,
    app: &App,
) -> (CallStatus, Option<String>, bool) {
    let signal = call.hangup_signal();
    let grace = app.config.hangup_grace;
    let mut handled = CatchUnwind(handler.call(call, &()));
    // The call learns of a hangup only while the handler drives it, so a look at the
    // signal after each poll of the handler starts the grace period in time, without
    // registering a waiter. (Boxed: only calls that hang up pay for the timer.)
    let mut overrun: Option<Pin<Box<tokio::time::Sleep>>> = None;
    // Polled once, to leave this task's waker with the `Notify` (a task's waker stays
    // valid for its life); later polls read the flag.
    let cut = app.cut.notify.notified();
    tokio::pin!(cut);
    let mut cut_watched = false;
    let stopped = std::future::poll_fn(|cx| {
        if let Poll::Ready(outcome) = Pin::new(&mut handled).poll(cx) {
            return Poll::Ready(Stopped::Handled(outcome));
        }
        if let Some(grace) = grace
            && signal.is_hung_up()
            && overrun.get_or_insert_with(|| Box::pin(tokio::time::sleep(grace))).as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Stopped::Overran);
        }
        if !cut_watched {
            cut_watched = true;
            let _ = cut.as_mut().poll(cx);
        }
        if app.cut.is_given() {
            return Poll::Ready(Stopped::Cut);
        }
        Poll::Pending
    })
    .await;
    match stopped {
        Stopped::Handled(outcome) => match outcome {
            Ok(Outcome::Success) => (CallStatus::Success, None, false),
            Ok(Outcome::HungUp) => {
                tracing::debug!("handler ended: the caller hung up");
                (CallStatus::Hangup, Some("the caller hung up".to_owned()), false)
            }
            Ok(Outcome::Rejected(rejection)) => {
                tracing::info!(%rejection, "bad request: handler not run");
                (CallStatus::BadRequest, Some(rejection.to_string()), false)
            }
            Ok(Outcome::Failed(error)) => {
                tracing::warn!(%error, "handler failed");
                (CallStatus::HandlerError, Some(error), false)
            }
            Err(panic) => {
                tracing::error!(%panic, "handler panicked");
                (CallStatus::HandlerError, Some(format!("the handler panicked: {panic}")), false)
            }
        },
        Stopped::Overran => {
            let grace = grace.unwrap_or_default();
            tracing::warn!(?grace, "handler still running after the hangup deadline; stopped");
            (
                CallStatus::HandlerError,
                Some(format!("the handler did not return within {grace:?} after the hangup")),
                false,
            )
        }
        Stopped::Cut => {
            tracing::warn!("server shutdown deadline reached; call cut");
            (CallStatus::HandlerError, Some("the server shut down before the handler finished".to_owned()), true)
        }
    }
}

async fn read_env(conn: &mut Connection, limits: EnvLimits) -> Result<AgiEnv, EnvError> {
    let mut builder = EnvBuilder::new(limits);
    match conn.read_lines(limits.max_line, |line| builder.push_line(line)).await? {
        ReadLines::Done => Ok(builder.finish()),
        ReadLines::Eof => Err(EnvError::Truncated { lines: builder.lines() }),
        ReadLines::TooLong(too_long) => Err(EnvError::LineTooLong { max: too_long.max }),
    }
}

async fn refuse_environment(mut conn: Connection, error: EnvError) -> SessionEnd {
    // Port scanners and health checks connect and say nothing: not worth more than debug.
    match &error {
        EnvError::Truncated { lines: 0 } | EnvError::Timeout(_) => tracing::debug!(%error, "no environment block"),
        _ => tracing::info!(%error, "environment block refused"),
    }
    let _ = conn.shutdown().await;
    SessionEnd::NoEnvironment
}

/// Whether `report` has anything to send for this status.
fn wants_report(status: CallStatus, has_reason: bool, reporting: &StatusReporting) -> bool {
    let failed = status != CallStatus::Success;
    ((failed || reporting.report_success) && reporting.status_variable.is_some())
        || (failed && has_reason && reporting.reason_variable.is_some())
        || reporting.uses_failure_marker(status)
}

/// Tells the dialplan how the call ended, if the connection still allows it.
async fn report(call: &mut Call, status: CallStatus, reason: Option<&str>, config: &SessionConfig) {
    let reporting = &config.status;
    if !call.is_usable() {
        return;
    }
    call.set_command_timeout(Some(config.report_timeout));
    let report_status = status != CallStatus::Success || reporting.report_success;
    if report_status
        && let Some(variable) = &reporting.status_variable
        && let Err(error) = call.set_variable(variable, status.as_str()).await
    {
        tracing::debug!(%error, "could not report the status");
        return;
    }
    if let (false, Some(variable), Some(reason)) = (status == CallStatus::Success, &reporting.reason_variable, reason) {
        let reason = sanitize_reason(reason, 512);
        if let Err(error) = call.set_variable(variable, &reason).await {
            tracing::debug!(%error, "could not report the reason");
            return;
        }
    }
    if reporting.uses_failure_marker(status) && call.is_usable() {
        let _ = call.send_failure_marker().await;
    }
}

/// Builds the shared state of a server (or of the in-memory test harness).
pub(crate) fn app(router: crate::Router<()>, config: SessionConfig) -> Arc<App> {
    Arc::new(App { table: RouteTable::new(router), config, cut: Cut::default() })
}
