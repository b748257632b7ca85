//! The FastAGI server: accept loop, call limit, overload policy, graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::router::Router;
use crate::session::{self, SessionConfig, SessionEnd};
use crate::status::StatusReporting;
use crate::wire::EnvLimits;

/// A FastAGI server bound to a TCP address.
///
/// Each call runs as its own task. Configure with the builder methods, then
/// [`serve`](Server::serve) a [`Router`].
///
/// ```no_run
/// use agi_runtime::{handler_fn, Router, Server};
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let router = Router::new()
///         .route("/hello", handler_fn(|call| Box::pin(async move { call.answer().await })))?;
///     Server::bind("0.0.0.0:4573").await?.max_calls(2_000).serve(router).await?;
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    config: SessionConfig,
    max_overload_responders: usize,
    shutdown_grace: Duration,
}

/// What a graceful shutdown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShutdownReport {
    /// Calls running when the shutdown began.
    pub in_flight: usize,
    /// Of those, calls cut at the end of the grace period.
    pub cut: usize,
}

impl Server {
    /// Binds a listener (`"0.0.0.0:4573"` in production; `"127.0.0.1:0"` in tests).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        Ok(Server::from_listener(TcpListener::bind(addr).await?))
    }

    /// Serves on a listener created elsewhere (socket activation, tests).
    pub fn from_listener(listener: TcpListener) -> Server {
        Server {
            listener,
            config: SessionConfig::default(),
            max_overload_responders: 256,
            shutdown_grace: Duration::from_secs(30),
        }
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Most calls running at once (default 10,000). At the limit, new calls are not
    /// queued: they are told `OVERLOADED` at once (see
    /// [`max_overload_responders`](Server::max_overload_responders)).
    pub fn max_calls(mut self, max: usize) -> Self {
        self.config.max_calls = max.max(1);
        self
    }

    /// Most over-limit calls being refused at once with the `OVERLOADED` status (default
    /// 256). Beyond that, connections are closed as soon as they are accepted, which
    /// Asterisk reports as `AGISTATUS=FAILURE`.
    pub fn max_overload_responders(mut self, max: usize) -> Self {
        self.max_overload_responders = max;
        self
    }

    /// How long a new connection may take to send its environment block (default 5 s).
    pub fn env_timeout(mut self, timeout: Duration) -> Self {
        self.config.env_timeout = timeout;
        self
    }

    /// Caps on the environment block.
    pub fn env_limits(mut self, limits: EnvLimits) -> Self {
        self.config.env_limits = limits;
        self
    }

    /// Default per-command reply timeout of every call (default: none, since an
    /// `EXEC Dial` may last an hour). Handlers can change it per call.
    pub fn command_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.call_limits.command_timeout = timeout;
        self
    }

    /// Longest command line sent, LF included (default 2047, the limit of Asterisk
    /// before 20.16 / 21.11 / 22.6; 8191 is safe when every Asterisk is newer).
    pub fn max_command_line(mut self, max: usize) -> Self {
        self.config.call_limits.max_command_line = max;
        self
    }

    /// Longest reply line accepted (default 64 KiB).
    pub fn max_reply_line(mut self, max: usize) -> Self {
        self.config.call_limits.max_reply_line = max;
        self
    }

    /// How the status of each call is reported to the dialplan.
    pub fn status_reporting(mut self, reporting: StatusReporting) -> Self {
        self.config.status = reporting;
        self
    }

    /// How long a handler may keep running once the call learned of the hangup (default
    /// 60 s); `None` lets it run forever. A handler that overruns is dropped.
    pub fn hangup_grace(mut self, grace: Option<Duration>) -> Self {
        self.config.hangup_grace = grace;
        self
    }

    /// How long a graceful shutdown lets calls finish before cutting them (default 30 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Serves calls until the process ends.
    pub async fn serve(self, router: Router<()>) -> io::Result<()> {
        self.serve_with_shutdown(router, std::future::pending()).await.map(drop)
    }

    /// Serves calls until `signal` completes, then shuts down gracefully: stops
    /// accepting, lets calls in flight finish within the shutdown grace, cuts the rest.
    ///
    /// ```no_run
    /// # async fn demo(server: agi_runtime::Server, router: agi_runtime::Router) -> std::io::Result<()> {
    /// let report = server
    ///     .serve_with_shutdown(router, async { tokio::signal::ctrl_c().await.ok(); })
    ///     .await?;
    /// println!("{} calls were still running, {} were cut", report.in_flight, report.cut);
    /// # Ok(()) }
    /// ```
    pub async fn serve_with_shutdown<F>(self, router: Router<()>, signal: F) -> io::Result<ShutdownReport>
    where
        F: Future<Output = ()> + Send,
    {
        let Server { listener, config, max_overload_responders, shutdown_grace } = self;
        let max_calls = config.max_calls;
        let app = session::app(router, config);
        let calls = Arc::new(Semaphore::new(max_calls));
        let responders = Arc::new(Semaphore::new(max_overload_responders));
        let tracker = TaskTracker::new();
        let cut = Arc::new(AtomicUsize::new(0));
        tracing::info!(addr = ?listener.local_addr().ok(), max_calls, "FastAGI server listening");

        tokio::pin!(signal);
        let mut backoff = Duration::ZERO;
        loop {
            // The permit is taken before accepting, so the limit holds at every instant.
            let permit = calls.clone().try_acquire_owned().ok();
            let accepted = tokio::select! {
                biased;
                () = &mut signal => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => {
                    backoff = Duration::ZERO;
                    pair
                }
                Err(error) => {
                    // Usually EMFILE: back off instead of spinning on the error.
                    backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                    tracing::warn!(%error, ?backoff, "accept failed");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            };
            // Over the limit, a call is told OVERLOADED at once by a responder of its own,
            // never queued; with the responders busy too, it is closed right away.
            let (permit, admitted) = match permit {
                Some(permit) => (permit, true),
                None => match responders.clone().try_acquire_owned() {
                    Ok(permit) => (permit, false),
                    Err(_) => {
                        tracing::warn!(%peer, "over the call limit with every overload responder busy; connection closed");
                        continue;
                    }
                },
            };
            let app = app.clone();
            let cut = cut.clone();
            tracker.spawn(async move {
                let end = serve_tcp(stream, peer, &app, admitted).await;
                drop(permit);
                if end == SessionEnd::Cut {
                    cut.fetch_add(1, Ordering::Relaxed);
                }
            });
        }

        drop(listener);
        tracker.close();
        let in_flight = tracker.len();
        tracing::info!(in_flight, grace = ?shutdown_grace, "shutting down: no longer accepting calls");
        if tokio::time::timeout(shutdown_grace, tracker.wait()).await.is_err() {
            app.cut.cancel();
            tracker.wait().await;
        }
        let report = ShutdownReport { in_flight, cut: cut.load(Ordering::Relaxed) };
        tracing::info!(in_flight = report.in_flight, cut = report.cut, "shutdown complete");
        Ok(report)
    }
}

/// A plain function, so that its arguments are not kept a second time in every task.
fn serve_tcp(
    stream: TcpStream,
    peer: SocketAddr,
    app: &session::App,
    admitted: bool,
) -> impl Future<Output = SessionEnd> + Send + '_ {
    // One small line per command and a wait for the reply: never delay a write.
    let _ = stream.set_nodelay(true);
    session::run(stream, Some(peer), app, admitted)
}
