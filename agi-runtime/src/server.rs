//! The FastAGI server: accept loop, admission, limits, graceful shutdown, restarts.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};

use crate::admission::{Admission, AdmissionPolicy};
use crate::connection::Stream;
use crate::limits::{Handshake, ServerStats};
use crate::observe::{self, Refusal};
use crate::recording::{CallRecording, Recorder};
use crate::router::Router;
use crate::session::{self, App, SessionConfig, SessionEnd};
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
pub struct Server {
    listener: TcpListener,
    config: SessionConfig,
    shutdown_grace: Duration,
    admission: Option<Arc<dyn AdmissionPolicy>>,
    stats: ServerStats,
    recording: Option<CallRecording>,
    max_connections: Option<usize>,
    /// The listener was made here (`bind`, `bind_reuse_port`), not handed in: only then
    /// is its socket this server's alone, to stop its handshakes at shutdown.
    own_listener: bool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .field("config", &self.config)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("admission", &self.admission.is_some())
            .finish_non_exhaustive()
    }
}

/// What a graceful shutdown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShutdownReport {
    /// Calls whose handler was running when the shutdown began.
    pub in_flight: usize,
    /// Of those, calls cut at the end of the grace period.
    pub cut: usize,
}

impl Server {
    /// Binds a listener (`"0.0.0.0:4573"` in production; `"127.0.0.1:0"` in tests).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        Ok(Server { own_listener: true, ..Server::from_listener(TcpListener::bind(addr).await?) })
    }

    /// Binds a listener that shares its port with other processes (`SO_REUSEPORT`),
    /// for restarts without a refused call: start the new version on the same address,
    /// then shut the old one down gracefully. The kernel spreads new connections over
    /// every listener on the port; a listener that closes gets none from then on.
    ///
    /// Every process sharing the port must bind it this way (and as the same user).
    /// `docs/DEPLOYMENT.md` walks through a restart, and explains the kernel setting
    /// (`net.ipv4.tcp_migrate_req`) that hands over connections still queued on the
    /// old listener when it closes.
    ///
    /// ```no_run
    /// # async fn demo(router: agi_runtime::Router) -> std::io::Result<()> {
    /// let server = agi_runtime::Server::bind_reuse_port("0.0.0.0:4573".parse().unwrap())?;
    /// server.serve_with_shutdown(router, async { tokio::signal::ctrl_c().await.ok(); }).await?;
    /// # Ok(()) }
    /// ```
    #[cfg(unix)]
    pub fn bind_reuse_port(addr: SocketAddr) -> io::Result<Server> {
        let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(addr)?;
        Ok(Server { own_listener: true, ..Server::from_listener(socket.listen(LISTEN_BACKLOG)?) })
    }

    /// Serves on a listener created elsewhere (tests, or a socket configured by hand).
    ///
    /// Such a listener may be shared (systemd keeps an activated socket open for the
    /// next process): at shutdown its queue is taken before it is closed, but no filter
    /// is put on its socket (see `docs/DEPLOYMENT.md`).
    pub fn from_listener(listener: TcpListener) -> Server {
        Server {
            listener,
            config: SessionConfig::default(),
            shutdown_grace: Duration::from_secs(30),
            admission: None,
            stats: ServerStats::default(),
            recording: None,
            max_connections: None,
            own_listener: false,
        }
    }

    /// Serves on a standard library listener, e.g. one inherited from systemd socket
    /// activation (see `docs/DEPLOYMENT.md`). Must be called inside a Tokio runtime.
    pub fn from_std_listener(listener: std::net::TcpListener) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        Ok(Server::from_listener(TcpListener::from_std(listener)?))
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Most handlers running at once (default 10,000). At the limit, a new call is not
    /// queued: once its environment block has arrived it is told `OVERLOADED` at once
    /// (see [`max_overload_responders`](Server::max_overload_responders)). Routes can
    /// have limits of their own ([`Router::max_calls_for`]).
    pub fn max_calls(mut self, max: usize) -> Self {
        self.config.max_calls = max.max(1);
        self
    }

    /// Most refused calls being told why at once (default 256): `OVERLOADED`,
    /// `NOT_FOUND` or `DENIED`, each a `SET VARIABLE` or two before the close. Beyond
    /// that, a refused call is closed without a word, which Asterisk reports as
    /// `AGISTATUS=FAILURE` (still at once, never queued).
    pub fn max_overload_responders(mut self, max: usize) -> Self {
        self.config.max_overload_responders = max;
        self
    }

    /// Most connections still sending their environment block at once (default 1,024).
    ///
    /// A connection still silent when `max` newer connections have arrived is closed to
    /// give its slot to the newest: Asterisk sends the whole block as soon as it
    /// connects, so a connection overtaken by that many others is the least likely to be
    /// a call. Connections that say nothing (port scanners, a slowloris attack)
    /// therefore never keep real calls out; each is also closed after the
    /// [`env_timeout`](Server::env_timeout).
    pub fn max_handshakes(mut self, max: usize) -> Self {
        self.config.max_handshakes = max.max(1);
        self
    }

    /// Most open connections in all (default: `max_calls` + `max_handshakes` +
    /// `max_overload_responders`, which admission never exceeds). Accepting pauses while
    /// this many sockets are held, so this bounds the file descriptors a flood can cost;
    /// it is a safety net behind the phased limits above, which refuse calls at once.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max.max(1));
        self
    }

    /// Writes a transcript file of each call matching `recording` (off by default), so
    /// that a production call can be replayed as a test. Files are written after each
    /// call ends, by a task of their own; calls that are not recorded are not slowed.
    pub fn record_calls(mut self, recording: CallRecording) -> Self {
        self.recording = Some(recording);
        self
    }

    /// Decides which peers may connect and which calls may run (default: everyone).
    /// See [`AdmissionPolicy`] and [`IpAllowlist`](crate::IpAllowlist).
    pub fn admission(mut self, policy: impl AdmissionPolicy) -> Self {
        self.admission = Some(Arc::new(policy));
        self
    }

    /// Live counts of this server's connections and calls, readable while it serves.
    pub fn stats(&self) -> ServerStats {
        self.stats.clone()
    }

    /// How long a new connection may take to send its environment block (default 5 s).
    ///
    /// Checked for all connections at once every quarter of it, not by a timer each: a
    /// silent connection is closed between the timeout and a quarter more (at least 1 ms
    /// more).
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
        let Server { listener, config, shutdown_grace, admission, stats, recording, max_connections, own_listener } =
            self;
        let max_calls = config.max_calls;
        let max_connections =
            max_connections.unwrap_or(config.max_calls + config.max_handshakes + config.max_overload_responders);
        let recorder = recording.map(Recorder::start).map(Arc::new);
        stats.set_max_connections(max_connections);
        let app = App::new(router, config, admission, stats);
        let mut acceptor = Acceptor {
            nodelay: NoDelay::for_listener(&listener),
            app: app.clone(),
            denied_peers: Throttle::default(),
            evictions: Throttle::default(),
            accept_errors: Throttle::default(),
            recorder: recorder.clone(),
        };
        tracing::info!(addr = ?listener.local_addr().ok(), max_calls, "FastAGI server listening");
        app.stats.set_accepting(true);

        tokio::pin!(signal);
        let mut backoff = Duration::ZERO;
        loop {
            // No permit is taken before accepting (unlike servers whose clients can wait):
            // a connection left in the kernel's queue is a caller hearing silence, so every
            // connection is accepted and then admitted or refused at once.
            // ... but a connection slot is: the last bound on descriptors, reached only
            // when every phase is full. The accept loop alone opens connections under the
            // cap, so a slot free now is still free once the connection is accepted.
            if !app.stats.has_connection_slot() {
                tokio::select! {
                    biased;
                    () = &mut signal => break,
                    () = app.stats.connection_slot() => {}
                }
            }
            let accepted = tokio::select! {
                biased;
                () = &mut signal => break,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    backoff = Duration::ZERO;
                    acceptor.admit(stream, peer);
                }
                Err(error) => {
                    // Usually EMFILE: back off instead of spinning on the error.
                    backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                    if let Some(count) = acceptor.accept_errors.hit() {
                        tracing::warn!(%error, ?backoff, count, "accept failed (raise the open-files limit?)");
                    }
                    tokio::time::sleep(backoff).await;
                }
            }
        }

        // Connections the kernel completed before the listener closes would be reset with
        // it: take them too, so that a restart refuses no call.
        acceptor.drain_backlog(listener, own_listener).await;
        app.stats.set_accepting(false);
        acceptor.flush_logs();
        // Calls, not connections: a connection still sending its environment (a health
        // check, a port scan) is not a call in flight.
        let in_flight = app.stats.calls();
        tracing::info!(in_flight, grace = ?shutdown_grace, "shutting down: no longer accepting calls");
        // Every session's task ends once its connection is given back: what it held
        // (the socket, the recorder's wrapper) is dropped by then.
        if tokio::time::timeout(shutdown_grace, app.stats.idle()).await.is_err() {
            app.cut.cancel();
            app.stats.idle().await;
        }
        // Every session is over: the last references to the recorder are these two.
        drop(acceptor);
        if let Some(recorder) = recorder.and_then(Arc::into_inner) {
            recorder.finish().await;
        }
        let report = ShutdownReport { in_flight, cut: app.cut.count() };
        tracing::info!(in_flight = report.in_flight, cut = report.cut, "shutdown complete");
        Ok(report)
    }
}

/// How long a closing listener's drain waits, once no new handshake can start, for the
/// handshakes already under way to complete (a round trip: microseconds on loopback, a
/// millisecond or so across a LAN).
const DRAIN_SETTLE: Duration = Duration::from_millis(20);

/// Stops the kernel from starting new handshakes on `listener`: a socket filter that
/// drops the segments with SYN set, so that its queue can be drained to the last
/// connection before it closes. A peer whose SYN is dropped sends it again about a
/// second later, to the instance that has taken the port over, or to a closed port
/// (refused: a balancer tries another instance). Handshakes under way complete, their
/// final ACK carrying no SYN. `false` where this cannot be done.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn stop_new_handshakes(listener: &std::net::TcpListener) -> bool {
    use socket2::SockFilter;
    // Classic BPF over the TCP header: load its flags byte (offset 13); SYN set, drop
    // the segment (keep 0 bytes); else keep it whole.
    const LOAD_BYTE: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const JUMP_IF_SET: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
    const RETURN: u16 = 0x06; // BPF_RET | BPF_K
    const SYN: u32 = 0x02;
    let program = [
        SockFilter::new(LOAD_BYTE, 0, 0, 13),
        SockFilter::new(JUMP_IF_SET, 0, 1, SYN),
        SockFilter::new(RETURN, 0, 0, 0),
        SockFilter::new(RETURN, 0, 0, u32::MAX),
    ];
    socket2::SockRef::from(listener).attach_filter(&program).is_ok()
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn stop_new_handshakes(_listener: &std::net::TcpListener) -> bool {
    false
}

/// The backlog asked of the kernel for listeners this crate creates (capped by
/// `net.core.somaxconn`).
const LISTEN_BACKLOG: u32 = 4096;

/// How accepted connections get `TCP_NODELAY`: a call is one short line per command and
/// a wait for the reply, so a write must never wait for an acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoDelay {
    /// Set on the listener; whether connections inherit it is being checked.
    Unconfirmed {
        /// Connections seen without it so far.
        without: u8,
    },
    /// Connections inherit it from the listener (as on Linux): a system call less per call.
    Inherited,
    /// Set on each connection.
    PerConnection,
}

/// Connections seen without the option before inheritance is ruled out: those queued
/// before the listener had it are accepted first.
const NODELAY_CHECKS: u8 = 8;

impl NoDelay {
    fn for_listener(listener: &TcpListener) -> NoDelay {
        let socket = socket2::SockRef::from(listener);
        if socket.set_tcp_nodelay(true).is_err() {
            return NoDelay::PerConnection;
        }
        // A listener sharing its port can be handed connections queued on another
        // process's listener as that one closes (`net.ipv4.tcp_migrate_req`): they carry
        // that listener's options, so each connection is set.
        #[cfg(unix)]
        if socket.reuse_port().unwrap_or(true) {
            return NoDelay::PerConnection;
        }
        NoDelay::Unconfirmed { without: 0 }
    }

    fn apply(&mut self, stream: &TcpStream) {
        if let NoDelay::Unconfirmed { without } = self {
            match stream.nodelay() {
                Ok(true) => *self = NoDelay::Inherited,
                Ok(false) if *without + 1 >= NODELAY_CHECKS => *self = NoDelay::PerConnection,
                Ok(false) => *without += 1,
                // A connection already gone tells nothing.
                Err(_) => {}
            }
        }
        if *self != NoDelay::Inherited {
            let _ = stream.set_nodelay(true);
        }
    }
}

/// The accept loop's side of admission: peer checks, handshake slots, spawning.
struct Acceptor {
    nodelay: NoDelay,
    app: Arc<App>,
    denied_peers: Throttle,
    evictions: Throttle,
    accept_errors: Throttle,
    recorder: Option<Arc<Recorder>>,
}

impl Acceptor {
    fn admit(&mut self, stream: TcpStream, peer: SocketAddr) {
        self.nodelay.apply(&stream);
        if let Some(policy) = &self.app.admission
            && let Admission::Deny(reason) = policy.check_peer(peer)
        {
            observe::refused("", Refusal::PeerDenied);
            if let Some(count) = self.denied_peers.hit() {
                tracing::info!(%peer, %reason, count, "connection refused by the admission policy");
            }
            return;
        }
        let (handshake, evicted) = self.app.handshakes.enter();
        if evicted {
            observe::refused("", Refusal::HandshakeLimit);
            if let Some(count) = self.evictions.hit() {
                tracing::warn!(
                    max = self.app.config.max_handshakes,
                    count,
                    "too many connections without an environment block; closing the longest waiting"
                );
            }
        }
        // The whole task is the session's future, moved in as built: a wrapper around
        // it would keep a second copy of its state.
        tokio::spawn(serve_tcp(stream, peer, self.app.clone(), handshake, self.recorder.as_deref()));
    }

    /// Admits every connection already waiting in the listener's queue, then closes it.
    ///
    /// The queue is read with plain non-blocking `accept` calls until the kernel says it
    /// is empty: Tokio's readiness may not have caught up with connections that arrived
    /// since the reactor last ran, and any connection left in the queue would be reset
    /// when the listener closes. When the socket is this server's alone (`own`) and new
    /// handshakes can be stopped ([`stop_new_handshakes`]), the queue is read again once
    /// the handshakes already under way have had [`DRAIN_SETTLE`] to complete, so that
    /// none completes between the last `accept` and the close: its peer would have sent
    /// its environment block into a connection about to be reset.
    async fn drain_backlog(&mut self, listener: TcpListener, own: bool) {
        let listener = match listener.into_std() {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "could not take the queued connections before closing the listener");
                return;
            }
        };
        let stopped = own && stop_new_handshakes(&listener);
        self.accept_queued(&listener);
        if stopped {
            tokio::time::sleep(DRAIN_SETTLE).await;
            self.accept_queued(&listener);
        }
    }

    /// Admits the connections in the listener's queue until it is empty.
    fn accept_queued(&mut self, listener: &std::net::TcpListener) {
        loop {
            match listener.accept() {
                Ok((stream, peer)) => {
                    let stream = stream.set_nonblocking(true).and_then(|()| TcpStream::from_std(stream));
                    match stream {
                        // Bounded by the listener's queue: taken past the cap on connections.
                        Ok(stream) => self.admit(stream, peer),
                        Err(error) => tracing::warn!(%error, %peer, "could not take a queued connection"),
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Logs what the throttles held back, so a burst's count is never lost.
    fn flush_logs(&mut self) {
        for (throttle, what) in [
            (&mut self.denied_peers, "connections refused by the admission policy"),
            (&mut self.evictions, "connections closed at the handshake limit"),
            (&mut self.accept_errors, "accept errors"),
        ] {
            if let Some(count) = throttle.flush() {
                tracing::info!(count, "{what} since the last report");
            }
        }
    }
}

/// Logs the first of a run of events, then at most one summary per interval: a flood
/// of bad connections must not become a flood of log lines.
#[derive(Debug, Default)]
struct Throttle {
    last: Option<Instant>,
    /// Events since the last line logged.
    held: u64,
}

impl Throttle {
    const INTERVAL: Duration = Duration::from_secs(10);

    /// Counts one event; `Some(count)` when a line should be logged now, with the number
    /// of events it stands for.
    fn hit(&mut self) -> Option<u64> {
        self.held += 1;
        let now = Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < Self::INTERVAL => None,
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.held))
            }
        }
    }

    fn flush(&mut self) -> Option<u64> {
        (self.held > 0).then(|| std::mem::take(&mut self.held))
    }
}

/// A plain function, so that its arguments are not kept a second time in every task.
fn serve_tcp(
    stream: TcpStream,
    peer: SocketAddr,
    app: Arc<App>,
    handshake: Handshake,
    recorder: Option<&Recorder>,
) -> impl Future<Output = SessionEnd> + Send + 'static {
    // Unrecorded calls keep the stream unboxed.
    let stream = match recorder {
        Some(recorder) => Stream::from(Box::new(recorder.wrap(stream))),
        None => Stream::from(stream),
    };
    session::run(stream, Some(peer), app, handshake)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Once new handshakes are stopped, a connect goes unanswered, while a connection
    /// already queued is still accepted and works.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn a_draining_listener_starts_no_new_handshake_and_keeps_the_queued_ones() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = std::net::TcpStream::connect(addr).unwrap();
        assert!(stop_new_handshakes(&listener));
        let late = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200));
        assert_eq!(late.map(drop).map_err(|e| e.kind()), Err(io::ErrorKind::TimedOut));
        listener.set_nonblocking(true).unwrap();
        let (mut accepted, _) = listener.accept().unwrap();
        assert_eq!(listener.accept().map(drop).map_err(|e| e.kind()), Err(io::ErrorKind::WouldBlock));
        queued.write_all(b"agi_network: yes\n").unwrap();
        let mut got = [0; 17];
        accepted.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"agi_network: yes\n");
    }

    #[tokio::test]
    async fn every_accepted_connection_has_nodelay() {
        async fn accept(listener: &TcpListener, nodelay: &mut NoDelay) -> TcpStream {
            let _client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            nodelay.apply(&stream);
            assert!(stream.nodelay().unwrap(), "{nodelay:?}");
            stream
        }

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut nodelay = NoDelay::for_listener(&listener);
        assert_eq!(nodelay, NoDelay::Unconfirmed { without: 0 });
        for _ in 0..2 {
            accept(&listener, &mut nodelay).await;
        }
        if cfg!(target_os = "linux") {
            assert_eq!(nodelay, NoDelay::Inherited);
        }

        // Connections without it: set on each, and after a few, no longer checked.
        let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut per_connection = NoDelay::Unconfirmed { without: 0 };
        for _ in 0..NODELAY_CHECKS {
            assert_ne!(per_connection, NoDelay::PerConnection);
            accept(&plain, &mut per_connection).await;
        }
        assert_eq!(per_connection, NoDelay::PerConnection);
        accept(&plain, &mut per_connection).await;

        // A listener sharing its port can be handed other listeners' connections.
        #[cfg(unix)]
        {
            let shared = Server::bind_reuse_port("127.0.0.1:0".parse().unwrap()).unwrap().listener;
            let mut nodelay = NoDelay::for_listener(&shared);
            assert_eq!(nodelay, NoDelay::PerConnection);
            accept(&shared, &mut nodelay).await;
        }
    }

    #[test]
    fn a_throttle_logs_the_first_event_then_summaries() {
        let mut throttle = Throttle::default();
        assert_eq!(throttle.hit(), Some(1));
        assert_eq!(throttle.hit(), None);
        assert_eq!(throttle.hit(), None);
        assert_eq!(throttle.flush(), Some(2));
        assert_eq!(throttle.flush(), None);
        throttle.last = Some(Instant::now() - Throttle::INTERVAL);
        assert_eq!(throttle.hit(), Some(1));
    }
}
