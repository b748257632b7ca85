//! The life of one connection: environment, admission, routing, the handler, the
//! status report.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tracing::Instrument as _;

use crate::admission::{Admission, AdmissionPolicy};
use crate::call::{Call, CallLimits};
use crate::connection::{Connection, Stream};
use crate::handler::{CatchUnwind, Outcome};
use crate::limits::{Handshake, Handshakes, Held, OpenConnection, ServerStats, Waiting};
use crate::observe::{self, Deadline, Refusal};
use crate::router::{Matched, RouteTable};
use crate::status::{CallStatus, StatusReporting, sanitize_reason};
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
    /// Handlers running at once.
    pub(crate) max_calls: usize,
    /// Refusals being reported at once.
    pub(crate) max_overload_responders: usize,
    /// Connections still sending their environment block.
    pub(crate) max_handshakes: usize,
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
            max_overload_responders: 256,
            max_handshakes: 1_024,
        }
    }
}

/// What a server's sessions run against.
pub(crate) struct App {
    pub(crate) table: RouteTable,
    pub(crate) config: SessionConfig,
    /// Given when a graceful shutdown's grace period is over.
    pub(crate) cut: Cut,
    pub(crate) admission: Option<Arc<dyn AdmissionPolicy>>,
    pub(crate) stats: ServerStats,
    pub(crate) handshakes: Arc<Handshakes>,
}

impl App {
    pub(crate) fn new(
        router: crate::Router<()>,
        config: SessionConfig,
        admission: Option<Arc<dyn AdmissionPolicy>>,
        stats: ServerStats,
    ) -> Arc<App> {
        Arc::new(App {
            table: RouteTable::new(router),
            handshakes: Handshakes::new(config.max_handshakes, config.env_timeout),
            config,
            cut: Cut::default(),
            admission,
            stats,
        })
    }
}

/// The order to cut the calls still running, given once a graceful shutdown's grace
/// period is over.
///
/// A flag a running call reads after each poll of its handler, and the wakers of the
/// calls running, each left once, to wake them all when the order is given. (A
/// `CancellationToken` takes a lock twice at every poll of its future; a `Notify`
/// costs a call several hundred instructions to watch and to leave.)
#[derive(Debug, Default)]
pub(crate) struct Cut {
    given: AtomicBool,
    running: Mutex<RunningCalls>,
    /// Calls cut so far.
    calls: AtomicUsize,
}

/// The wakers of the calls running, in slots reused as calls end.
#[derive(Debug, Default)]
struct RunningCalls {
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Cut {
    /// Cuts every call: each one ends at its next poll.
    pub(crate) fn cancel(&self) {
        self.given.store(true, Ordering::Release);
        // Taken under the lock, woken outside it: a woken call may leave at once.
        let wakers: Vec<Waker> = self.running().wakers.iter_mut().filter_map(Option::take).collect();
        wakers.into_iter().for_each(Waker::wake);
    }

    /// How many calls the cut ended (for the shutdown report).
    pub(crate) fn count(&self) -> usize {
        self.calls.load(Ordering::Acquire)
    }

    fn is_given(&self) -> bool {
        self.given.load(Ordering::Acquire)
    }

    fn running(&self) -> std::sync::MutexGuard<'_, RunningCalls> {
        // The lock guards no invariant a panic could break halfway.
        self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running call's watch for the cut: its task's waker, left with [`Cut`] at the
/// first poll that waits (a task's waker stays valid for its life), taken back on drop.
struct CutWatch<'a> {
    cut: &'a Cut,
    slot: Option<usize>,
}

impl<'a> CutWatch<'a> {
    fn new(cut: &'a Cut) -> Self {
        CutWatch { cut, slot: None }
    }

    /// Whether the cut is given, leaving `waker` first if it was not left yet. Left
    /// before the flag is read: a cut given in between wakes it, or is seen.
    #[inline]
    fn is_cut(&mut self, waker: &Waker) -> bool {
        if self.slot.is_none() {
            self.leave(waker);
        }
        self.cut.is_given()
    }

    /// Leaves `waker` with the cut: once per call, out of the path of its other polls.
    #[inline(never)]
    fn leave(&mut self, waker: &Waker) {
        let mut running = self.cut.running();
        let waker = Some(waker.clone());
        let slot = match running.free.pop() {
            Some(slot) => slot,
            None => {
                running.wakers.push(None);
                running.wakers.len() - 1
            }
        };
        if let Some(entry) = running.wakers.get_mut(slot) {
            *entry = waker;
        }
        self.slot = Some(slot);
    }
}

impl Drop for CutWatch<'_> {
    fn drop(&mut self) {
        let Some(slot) = self.slot else { return };
        let waker = {
            let mut running = self.cut.running();
            running.free.push(slot);
            running.wakers.get_mut(slot).and_then(Option::take)
        };
        // Dropped outside the lock.
        drop(waker);
    }
}

/// How a session ended, for the server's shutdown report and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SessionEnd {
    /// No usable environment block arrived.
    NoEnvironment,
    /// The call ran (or was refused) and ended with this status.
    Reported(CallStatus),
    /// Refused with every overload responder busy: closed without a word.
    Dropped,
    /// The server's shutdown deadline cut the handler short.
    Cut,
}

/// `Box::pin(future)`, but with the box allocated before the future is made, so that
/// the future can be written into it in place: `Box::pin` copies the whole of its
/// type's room from the stack, hundreds of bytes of states not started yet, into memory
/// that is not in the cache.
macro_rules! boxed_in_place {
    ($future:expr) => {
        Box::into_pin(Box::write(Box::new_uninit(), $future))
    };
}

/// Runs one session from the first byte to the close. `handshake` is the slot the
/// accept loop took for it among the connections still sending their environment.
///
/// A plain function returning the session's future, so that its arguments are not
/// kept a second time in every call's task. The connection is counted in the server's
/// stats from now until the future and everything it holds are dropped.
pub(crate) fn run(
    stream: impl Into<Stream>,
    peer: Option<SocketAddr>,
    app: Arc<App>,
    handshake: Handshake,
) -> Session<impl Future<Output = SessionEnd> + Send + Unpin + 'static> {
    let span = tracing::info_span!(
        "agi_call",
        peer = peer.map(tracing::field::display),
        route = tracing::field::Empty,
        uniqueid = tracing::field::Empty,
        channel = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let connection = app.stats.open_connection();
    // The call is made at once, with its connection and a room for its environment, and
    // moved into the session's box as it is: the block is then read into that room, and
    // neither is moved again. The call's state is boxed: the task stays a few words, and
    // spawning it copies only those, not the call's state.
    let limits = app.config.call_limits;
    let future = boxed_in_place!(run_in_span(Call::opening(Connection::new(stream), limits, peer), handshake, app))
        .instrument(span);
    Session { future, _connection: connection }
}

/// A session's future with its place in the server's count of connections: a struct's
/// fields are dropped in order, so the connection is given back only once the socket,
/// the call and every reference the session held are gone (a graceful shutdown waits
/// for that count to reach zero).
#[must_use = "a session does nothing unless spawned or awaited"]
pub(crate) struct Session<F> {
    future: F,
    _connection: OpenConnection,
}

impl<F: Future + Unpin> Future for Session<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        Pin::new(&mut self.future).poll(cx)
    }
}

/// Records a field of the call's span: the span this future is instrumented with,
/// looked up rather than kept, since a clone would take room in every call's task.
///
/// Skipped when no subscriber takes `INFO` (the span's level): the span is then
/// disabled, and looking it up would cost a call for nothing.
fn record(field: &str, value: &str) {
    if tracing::level_enabled!(tracing::Level::INFO) {
        record_in_current_span(field, value);
    }
}

/// Looking the span up and recording, out of line: the code of servers that log no
/// `INFO` span does not carry it in the session's path.
#[inline(never)]
fn record_in_current_span(field: &str, value: &str) {
    tracing::Span::current().record(field, value);
}

/// Records the channel and the unique id in the call's span; their values are not even
/// read when no subscriber takes `INFO`.
fn record_identity(env: &AgiEnv) {
    if tracing::level_enabled!(tracing::Level::INFO) {
        let span = tracing::Span::current();
        span.record("uniqueid", env.uniqueid().unwrap_or_default());
        span.record("channel", env.channel().unwrap_or_default());
    }
}

/// What to do with a call whose environment has arrived.
enum Verdict<'a> {
    /// Run the handler of `matched`, holding the server's and the route's slots.
    Run { matched: Matched<'a>, permits: [Option<Held<'a>>; 2] },
    Refuse {
        status: CallStatus,
        reason: String,
        why: Refusal,
        /// The route that matched, if one did.
        route: &'a str,
    },
}

/// The session's future: an `async` block rather than an `async fn`, whose arguments
/// would be stored twice in the future (as arguments, then as locals), in every call's
/// task.
#[allow(clippy::manual_async_fn)]
fn run_in_span(mut call: Call, handshake: Handshake, app: Arc<App>) -> impl Future<Output = SessionEnd> + Send {
    async move {
        let app = &*app;
        // Read only by the debug lines at the end: no clock read per call otherwise.
        let started = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
        if let Err(end) = open_call(&mut call, app, handshake).await {
            return end;
        }
        let peer = call.peer_addr();
        record_identity(call.env());

        // Taken apart at once, so that none of it keeps room in the task while the
        // handler runs.
        let (entry, permits) = match admit(app, &call, peer) {
            Verdict::Run { matched, permits } => {
                call.set_route(matched.entry.info.clone(), matched.captures);
                (matched.entry, permits)
            }
            Verdict::Refuse { status, reason, why, route } => {
                // Boxed: refusals are rare, and their state would enlarge every call's task.
                let end = Box::pin(refuse_call(&mut call, app, route, status, reason, why)).await;
                if let Some(started) = started {
                    tracing::debug!(elapsed = ?started.elapsed(), "call refused");
                }
                return end;
            }
        };
        let (status, reason, cut) = {
            let active = observe::call_started(&entry.info.pattern);
            let outcome = handler_ended(run_handler(&mut call, &*entry.handler, app).await, app);
            active.completed(outcome.0);
            drop(permits);
            outcome
        };
        record("status", status.as_str());
        if call.is_usable() && wants_report(status, reason.is_some(), &app.config.status) {
            // Boxed: most calls report nothing, and the future of a command is large; kept
            // inline it would enlarge every call's task, and so its memory while it waits.
            Box::pin(report(&mut call, status, reason.as_deref(), &app.config)).await;
        }
        call.close(app.config.close_linger).await;
        if let Some(started) = started {
            tracing::debug!(elapsed = ?started.elapsed(), "call ended");
        }
        if cut { SessionEnd::Cut } else { SessionEnd::Reported(status) }
    }
}

/// Tells a call that will not run why (`OVERLOADED`, `NOT_FOUND`, `DENIED`), when an
/// overload responder is free, and closes it.
async fn refuse_call(
    call: &mut Call,
    app: &App,
    route: &str,
    status: CallStatus,
    reason: String,
    why: Refusal,
) -> SessionEnd {
    observe::refused(route, why);
    record("status", status.as_str());
    let Some(_refusing) = app.stats.try_refusal(app.config.max_overload_responders) else {
        observe::refused(route, Refusal::RespondersBusy);
        tracing::warn!(%status, "{reason}; every overload responder is busy, so the connection is closed without a status");
        call.close(Duration::ZERO).await;
        return SessionEnd::Dropped;
    };
    report(call, status, Some(&reason), &app.config).await;
    call.close(app.config.close_linger).await;
    SessionEnd::Reported(status)
}

/// Reads the environment block within the environment timeout, in the handshake phase;
/// without a usable block the connection is closed and the session ends.
///
/// An `async` block rather than an `async fn`, whose arguments would be stored twice.
#[allow(clippy::manual_async_fn)]
fn open_call<'a>(
    call: &'a mut Call,
    app: &'a App,
    mut handshake: Handshake,
) -> impl Future<Output = Result<(), SessionEnd>> + Send + 'a {
    async move {
        let config = &app.config;
        let _handshaking = app.stats.handshaking();
        let opened = {
            let mut reader = call.environment_reader(config.env_limits);
            // Asterisk writes the whole block right after connecting, but a connection
            // is often polled before the block has arrived: it then leaves its waker in
            // its handshake slot, where the ring's sweep (the timeout) or a newer
            // connection (an eviction) finds it. No timer, no clock read and no
            // allocation per connection.
            std::future::poll_fn(|cx| {
                if let Poll::Ready(read) = reader.poll_read(cx) {
                    return Poll::Ready(Opened::Read(read));
                }
                match handshake.waiting(cx.waker()) {
                    Waiting::Yes => Poll::Pending,
                    Waiting::TimedOut => Poll::Ready(Opened::TimedOut),
                    Waiting::Evicted => Poll::Ready(Opened::Evicted),
                }
            })
            .await
        };
        let error = match opened {
            Opened::Read(Ok(())) => {
                drop(handshake);
                return Ok(());
            }
            Opened::Read(Err(error)) => Some(error),
            Opened::TimedOut => {
                observe::timeout(Deadline::Environment);
                Some(EnvError::Timeout(config.env_timeout))
            }
            Opened::Evicted => {
                // The accept loop logs evictions in aggregate; one line per connection
                // would turn a flood into a flood of logs.
                tracing::debug!("no environment block yet and a newer connection needed the slot; closed");
                None
            }
        };
        // Boxed: only refused connections pay for the room of the closing handshake.
        Box::pin(refuse_environment(call, error)).await;
        Err(SessionEnd::NoEnvironment)
    }
}

/// How the environment phase ended.
enum Opened {
    Read(Result<(), EnvError>),
    TimedOut,
    /// A newer connection took the handshake slot.
    Evicted,
}

/// Applies the admission policy, the route table and the concurrency limits, in that
/// order; never waits.
fn admit<'a>(app: &'a App, call: &Call, peer: Option<SocketAddr>) -> Verdict<'a> {
    let matched = app.table.find(call.env().path());
    let route = matched.as_ref().map_or("", |matched| &*matched.entry.info.pattern);
    if !route.is_empty() {
        record("route", route);
    }
    if let Some(policy) = &app.admission
        && let Admission::Deny(reason) = policy.check_call(peer, call.env())
    {
        return refused(route, CallStatus::Denied, Refusal::Denied, reason.into_owned());
    }
    let Some(matched) = matched else {
        let reason = format!("no route for `{}`", call.env().path());
        return refused(route, CallStatus::NotFound, Refusal::NotFound, reason);
    };
    let Some(global) = app.stats.try_call(app.config.max_calls.max(1)) else {
        let reason = format!("the server is at its limit of {} concurrent calls", app.config.max_calls);
        return refused(route, CallStatus::Overloaded, Refusal::Overloaded, reason);
    };
    let limit = match &matched.entry.limit {
        None => None,
        Some(limit) => match limit.try_enter() {
            Some(permit) => Some(permit),
            None => {
                let reason = format!("route `{route}` is at its limit of {} concurrent calls", limit.max);
                return refused(route, CallStatus::Overloaded, Refusal::RouteLimit, reason);
            }
        },
    };
    Verdict::Run { matched, permits: [Some(global), limit] }
}

/// The verdict for a call refused at admission, logged. Out of line and cold, with the
/// messages' formatting at its callers' cold ends: none of it sits in the path of a
/// call that runs.
#[cold]
#[inline(never)]
fn refused(route: &str, status: CallStatus, why: Refusal, reason: String) -> Verdict<'_> {
    match status {
        CallStatus::Denied => tracing::warn!(%reason, "call denied by the admission policy"),
        CallStatus::NotFound => tracing::info!("{reason}"),
        _ => tracing::warn!("{reason}; call refused"),
    }
    Verdict::Refuse { status, reason, why, route }
}

/// How the handler's run ended, besides its own outcome.
enum Stopped {
    Handled(Result<Outcome, String>),
    Overran,
    Cut,
}

/// Runs the handler, catching panics, and enforcing the post-hangup and shutdown deadlines.
///
/// A plain function returning a `poll_fn` rather than an `async fn`: the session awaits
/// the closure's state itself, without the state machine of one more `async` layer
/// (its own state, in a line of memory of its own, read at every poll).
fn run_handler<'a>(
    call: &'a mut Call,
    handler: &'a dyn crate::Handler<()>,
    app: &'a App,
) -> impl Future<Output = Stopped> + Send + 'a {
    let grace = app.config.hangup_grace;
    let signal = call.hangup_signal();
    let mut handled = CatchUnwind::start(|| handler.call(call, &()));
    // The call learns of a hangup only while the handler drives it, so a look at the
    // signal after each poll of the handler starts the grace period in time, without
    // registering a waiter. (Boxed: only calls that hang up pay for the timer.)
    let mut overrun: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let mut cut = CutWatch::new(&app.cut);
    // All moved into the closure: its state is then kept once, not beside references to it.
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(outcome) = Pin::new(&mut handled).poll(cx) {
            return Poll::Ready(Stopped::Handled(outcome));
        }
        if let Some(grace) = grace
            && signal.is_hung_up()
            && overrun.get_or_insert_with(|| Box::pin(tokio::time::sleep(grace))).as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Stopped::Overran);
        }
        if cut.is_cut(cx.waker()) {
            return Poll::Ready(Stopped::Cut);
        }
        Poll::Pending
    })
}

/// What the session reports for a handler's run.
fn handler_ended(stopped: Stopped, app: &App) -> (CallStatus, Option<String>, bool) {
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
            let grace = app.config.hangup_grace.unwrap_or_default();
            observe::timeout(Deadline::HangupGrace);
            tracing::warn!(?grace, "handler still running after the hangup deadline; stopped");
            (
                CallStatus::HandlerError,
                Some(format!("the handler did not return within {grace:?} after the hangup")),
                false,
            )
        }
        Stopped::Cut => {
            app.cut.calls.fetch_add(1, Ordering::AcqRel);
            observe::timeout(Deadline::Shutdown);
            tracing::warn!("server shutdown deadline reached; call cut");
            (CallStatus::HandlerError, Some("the server shut down before the handler finished".to_owned()), true)
        }
    }
}

/// Closes a connection without a usable environment block: `error` says why, `None`
/// when a newer connection took its handshake slot.
async fn refuse_environment(call: &mut Call, error: Option<EnvError>) {
    // Port scanners and health checks connect and say nothing: not worth more than debug.
    match &error {
        None => {}
        Some(error @ (EnvError::Truncated { lines: 0 } | EnvError::Timeout(_))) => {
            tracing::debug!(%error, "no environment block")
        }
        Some(error @ (EnvError::Truncated { .. } | EnvError::Io(_))) => {
            tracing::info!(%error, "environment block cut short")
        }
        Some(error) => {
            observe::protocol_error(true);
            tracing::info!(%error, "environment block refused");
        }
    }
    call.refuse_connection().await;
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

/// Runs a session over an in-memory stream (the test harness), taking its handshake
/// slot itself.
#[cfg(feature = "testing")]
pub(crate) async fn run_in_memory(stream: Box<dyn crate::Transport>, app: Arc<App>) -> SessionEnd {
    let (handshake, _) = app.handshakes.enter();
    run(stream, None, app, handshake).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    use super::{Cut, CutWatch};

    use std::future::Future as _;

    /// A transport that notes, as it is dropped, how many connections the server's
    /// stats still count.
    struct NotingDrop {
        inner: tokio::io::DuplexStream,
        stats: super::ServerStats,
        counted_at_drop: Arc<AtomicUsize>,
    }

    impl Drop for NotingDrop {
        fn drop(&mut self) {
            self.counted_at_drop.store(self.stats.connections(), Ordering::SeqCst);
        }
    }

    impl tokio::io::AsyncRead for NotingDrop {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl tokio::io::AsyncWrite for NotingDrop {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
        }

        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// A graceful shutdown waits for the count of connections to reach zero, and then
    /// takes everything sessions held as gone (the recorder's last references): the
    /// count must be given back only after the session's transport is dropped.
    #[tokio::test]
    async fn a_session_is_counted_from_its_making_until_its_transport_is_dropped() {
        let stats = super::ServerStats::default();
        let app = super::App::new(crate::Router::new(), super::SessionConfig::default(), None, stats.clone());
        let (client, server) = tokio::io::duplex(1024);
        let counted_at_drop = Arc::new(AtomicUsize::new(usize::MAX));
        let transport = NotingDrop { inner: server, stats: stats.clone(), counted_at_drop: counted_at_drop.clone() };
        let (handshake, _) = app.handshakes.enter();
        let session = super::run(Box::new(transport) as Box<dyn crate::Transport>, None, app.clone(), handshake);
        assert_eq!(stats.connections(), 1, "counted as soon as the session is made");
        // The peer goes away before sending its environment: the session ends.
        drop(client);
        assert_eq!(session.await, super::SessionEnd::NoEnvironment);
        assert_eq!(counted_at_drop.load(Ordering::SeqCst), 1, "still counted while its transport was dropped");
        assert_eq!(stats.connections(), 0);
        stats.idle().await;

        // The same when the session is dropped before it ends (a runtime shutting down).
        let (_client, server) = tokio::io::duplex(1024);
        let counted_at_drop = Arc::new(AtomicUsize::new(usize::MAX));
        let transport = NotingDrop { inner: server, stats: stats.clone(), counted_at_drop: counted_at_drop.clone() };
        let (handshake, _) = app.handshakes.enter();
        let mut session = super::run(Box::new(transport) as Box<dyn crate::Transport>, None, app, handshake);
        let waker = Waker::from(Arc::new(CountingWaker::default()));
        let polled = std::pin::Pin::new(&mut session).poll(&mut std::task::Context::from_waker(&waker));
        assert!(polled.is_pending(), "waiting for its environment");
        drop(session);
        assert_eq!(counted_at_drop.load(Ordering::SeqCst), 1, "still counted while its transport was dropped");
        assert_eq!(stats.connections(), 0);
    }

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_cut_wakes_the_calls_watching_and_only_them() {
        let cut = Cut::default();
        let counter = || Arc::new(CountingWaker::default());
        let (first, second, gone) = (counter(), counter(), counter());
        let mut watch_first = CutWatch::new(&cut);
        assert!(!watch_first.is_cut(&Waker::from(first.clone())));
        {
            let mut watch_gone = CutWatch::new(&cut);
            assert!(!watch_gone.is_cut(&Waker::from(gone.clone())));
        }
        let mut watch_second = CutWatch::new(&cut);
        assert!(!watch_second.is_cut(&Waker::from(second.clone())));
        assert_eq!(cut.running().wakers.len(), 2, "the slot of the call that ended is reused");

        cut.cancel();
        assert_eq!(first.0.load(Ordering::SeqCst), 1);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
        assert_eq!(gone.0.load(Ordering::SeqCst), 0);
        assert!(watch_first.is_cut(&Waker::from(first.clone())));
        let mut late = CutWatch::new(&cut);
        assert!(late.is_cut(&Waker::from(gone.clone())), "a call watching after the cut sees it");
    }
}
