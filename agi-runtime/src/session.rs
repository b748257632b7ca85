//! The life of one connection: environment, admission, routing, the handler, the
//! status report.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::admission::{Admission, AdmissionPolicy};
use crate::call::{Call, CallLimits};
use crate::connection::{Connection, ReadLine, Transport};
use crate::handler::{CatchUnwind, Outcome};
use crate::limits::{Handshake, Handshakes, Phase, ServerStats};
use crate::observe::{self, Deadline, Refusal};
use crate::router::{Matched, RouteTable};
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
    /// Cancelled when a graceful shutdown's grace period is over.
    pub(crate) cut: CancellationToken,
    pub(crate) admission: Option<Arc<dyn AdmissionPolicy>>,
    pub(crate) stats: ServerStats,
    pub(crate) handshakes: Arc<Handshakes>,
    calls: Arc<Semaphore>,
    responders: Arc<Semaphore>,
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
            calls: Arc::new(Semaphore::new(config.max_calls.clamp(1, Semaphore::MAX_PERMITS))),
            responders: Arc::new(Semaphore::new(config.max_overload_responders.min(Semaphore::MAX_PERMITS))),
            handshakes: Handshakes::new(config.max_handshakes),
            config,
            cut: CancellationToken::new(),
            admission,
            stats,
        })
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

/// Runs one session from the first byte to the close. `handshake` is the slot the
/// accept loop took for it among the connections still sending their environment.
pub(crate) async fn run(
    stream: Box<dyn Transport>,
    peer: Option<SocketAddr>,
    app: &App,
    handshake: Handshake,
) -> SessionEnd {
    let span = tracing::info_span!(
        "agi_call",
        peer = peer.map(tracing::field::display),
        route = tracing::field::Empty,
        uniqueid = tracing::field::Empty,
        channel = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    run_in_span(stream, peer, app, handshake, &span).instrument(span.clone()).await
}

/// What to do with a call whose environment has arrived.
enum Verdict<'a> {
    /// Run the handler of `matched`, holding the server's and the route's slots.
    Run {
        matched: Matched<'a>,
        permits: [Option<OwnedSemaphorePermit>; 2],
    },
    Refuse {
        status: CallStatus,
        reason: String,
        why: Refusal,
    },
}

async fn run_in_span(
    stream: Box<dyn Transport>,
    peer: Option<SocketAddr>,
    app: &App,
    handshake: Handshake,
    span: &tracing::Span,
) -> SessionEnd {
    let config = &app.config;
    let started = Instant::now();
    let _connection = app.stats.enter(Phase::Connection);
    let mut conn = Connection::new(stream);
    let env = {
        let _handshaking = app.stats.enter(Phase::Handshake);
        let read = tokio::time::timeout(config.env_timeout, read_env(&mut conn, config.env_limits));
        tokio::select! {
            read = read => match read {
                Ok(Ok(env)) => env,
                Ok(Err(error)) => return refuse_environment(conn, error).await,
                Err(_) => {
                    observe::timeout(Deadline::Environment);
                    return refuse_environment(conn, EnvError::Timeout(config.env_timeout)).await;
                }
            },
            () = handshake.evicted() => {
                // The accept loop logs evictions in aggregate; one line per connection
                // would turn a flood into a flood of logs.
                tracing::debug!("no environment block yet and a newer connection needed the slot; closed");
                let _ = conn.shutdown().await;
                return SessionEnd::NoEnvironment;
            }
        }
    };
    drop(handshake);
    span.record("uniqueid", env.uniqueid().unwrap_or_default());
    span.record("channel", env.channel().unwrap_or_default());
    let mut call = Call::new(conn, env, config.call_limits, peer);

    let matched = app.table.find(call.env().path());
    let route: &str = match &matched {
        Some(matched) => {
            let entry = matched.entry;
            span.record("route", &*entry.info.pattern);
            &entry.info.pattern
        }
        None => "",
    };
    let verdict = admit(app, &call, peer, matched);

    let (status, reason, cut) = match verdict {
        Verdict::Refuse { status, reason, why } => {
            observe::refused(route, why);
            let Ok(_responder) = app.responders.clone().try_acquire_owned() else {
                observe::refused(route, Refusal::RespondersBusy);
                tracing::warn!(%status, "{reason}; every overload responder is busy, so the connection is closed without a status");
                span.record("status", status.as_str());
                call.close(Duration::ZERO).await;
                return SessionEnd::Dropped;
            };
            let _refusing = app.stats.enter(Phase::Refusal);
            span.record("status", status.as_str());
            report(&mut call, status, Some(&reason), config).await;
            call.close(config.close_linger).await;
            tracing::debug!(elapsed = ?started.elapsed(), "call refused");
            return SessionEnd::Reported(status);
        }
        Verdict::Run { matched, permits } => {
            let _running = app.stats.enter(Phase::Call);
            let active = observe::call_started(route);
            call.set_route(matched.entry.info.clone(), matched.captures);
            let handler = matched.entry.handler.clone();
            let outcome = run_handler(&mut call, &*handler, app).await;
            active.completed(outcome.0);
            drop(permits);
            outcome
        }
    };
    span.record("status", status.as_str());
    report(&mut call, status, reason.as_deref(), config).await;
    call.close(config.close_linger).await;
    tracing::debug!(elapsed = ?started.elapsed(), "call ended");
    if cut { SessionEnd::Cut } else { SessionEnd::Reported(status) }
}

/// Applies the admission policy, the route table and the concurrency limits, in that
/// order; never waits.
fn admit<'a>(app: &App, call: &Call, peer: Option<SocketAddr>, matched: Option<Matched<'a>>) -> Verdict<'a> {
    if let Some(policy) = &app.admission
        && let Admission::Deny(reason) = policy.check_call(peer, call.env())
    {
        tracing::warn!(%reason, "call denied by the admission policy");
        return Verdict::Refuse { status: CallStatus::Denied, reason: reason.into_owned(), why: Refusal::Denied };
    }
    let Some(matched) = matched else {
        let reason = format!("no route for `{}`", call.env().path());
        tracing::info!("{reason}");
        return Verdict::Refuse { status: CallStatus::NotFound, reason, why: Refusal::NotFound };
    };
    let Ok(global) = app.calls.clone().try_acquire_owned() else {
        let reason = format!("the server is at its limit of {} concurrent calls", app.config.max_calls);
        tracing::warn!("{reason}; call refused");
        return Verdict::Refuse { status: CallStatus::Overloaded, reason, why: Refusal::Overloaded };
    };
    let entry = matched.entry;
    let route = match &entry.limit {
        None => None,
        Some(limit) => match limit.try_enter() {
            Some(permit) => Some(permit),
            None => {
                let reason =
                    format!("route `{}` is at its limit of {} concurrent calls", entry.info.pattern, limit.max);
                tracing::warn!("{reason}; call refused");
                return Verdict::Refuse { status: CallStatus::Overloaded, reason, why: Refusal::RouteLimit };
            }
        },
    };
    Verdict::Run { matched, permits: [Some(global), route] }
}

/// Runs the handler, catching panics, and enforcing the post-hangup and shutdown deadlines.
async fn run_handler(
    call: &mut Call,
    handler: &dyn crate::Handler<()>,
    app: &App,
) -> (CallStatus, Option<String>, bool) {
    let signal = call.hangup_signal();
    let grace = app.config.hangup_grace;
    let handled = CatchUnwind(handler.call(call, &()));
    let overran = async {
        match grace {
            Some(grace) => {
                signal.wait().await;
                tokio::time::sleep(grace).await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        outcome = handled => match outcome {
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
        () = overran => {
            let grace = grace.unwrap_or_default();
            observe::timeout(Deadline::HangupGrace);
            tracing::warn!(?grace, "handler still running after the hangup deadline; stopped");
            (CallStatus::HandlerError, Some(format!("the handler did not return within {grace:?} after the hangup")), false)
        }
        () = app.cut.cancelled() => {
            observe::timeout(Deadline::Shutdown);
            tracing::warn!("server shutdown deadline reached; call cut");
            (CallStatus::HandlerError, Some("the server shut down before the handler finished".to_owned()), true)
        }
    }
}

async fn read_env(conn: &mut Connection, limits: EnvLimits) -> Result<AgiEnv, EnvError> {
    let mut builder = EnvBuilder::new(limits);
    loop {
        match conn.read_line(limits.max_line).await? {
            ReadLine::Line(span) => {
                let done = builder.push_line(conn.line(span))?;
                conn.consume(span);
                if done {
                    return Ok(builder.finish());
                }
            }
            ReadLine::Eof => return Err(EnvError::Truncated { lines: builder.lines() }),
            ReadLine::TooLong(too_long) => return Err(EnvError::LineTooLong { max: too_long.max }),
        }
    }
}

async fn refuse_environment(mut conn: Connection, error: EnvError) -> SessionEnd {
    // Port scanners and health checks connect and say nothing: not worth more than debug.
    match &error {
        EnvError::Truncated { lines: 0 } | EnvError::Timeout(_) => tracing::debug!(%error, "no environment block"),
        EnvError::Truncated { .. } | EnvError::Io(_) => tracing::info!(%error, "environment block cut short"),
        _ => {
            observe::protocol_error(true);
            tracing::info!(%error, "environment block refused");
        }
    }
    let _ = conn.shutdown().await;
    SessionEnd::NoEnvironment
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
pub(crate) async fn run_in_memory(stream: Box<dyn Transport>, app: &App) -> SessionEnd {
    let (handshake, _) = app.handshakes.enter();
    run(stream, None, app, handshake).await
}
