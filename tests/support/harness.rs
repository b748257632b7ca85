//! What the tests of hostile peers, overload and restarts share: a running server, a
//! raw TCP peer that can misbehave in every way, and a capture of the log.

#![allow(dead_code, unreachable_pub)] // each test file uses its own subset

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agi_runtime::testing::{CallSpec, ScriptedPeer};
use agi_runtime::{AgiError, Router, Server, ServerStats, ShutdownReport, handler_fn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

/// How long any single wait in these tests may take before the test fails (generous:
/// the machine may be busy with other builds).
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct Running {
    pub addr: SocketAddr,
    pub stats: ServerStats,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<ShutdownReport>>,
}

impl Running {
    /// Asks for a graceful shutdown without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub async fn shutdown(mut self) -> ShutdownReport {
        self.begin_shutdown();
        tokio::time::timeout(PATIENCE, self.task).await.expect("shutdown in time").unwrap().unwrap()
    }

    /// Waits until the server holds no connection: every resource of every session has
    /// been released.
    pub async fn idle(&self) {
        if tokio::time::timeout(PATIENCE, self.stats.idle()).await.is_err() {
            panic!(
                "the server still holds {} connections ({} handshakes, {} calls, {} refusals)",
                self.stats.connections(),
                self.stats.handshakes(),
                self.stats.calls(),
                self.stats.refusing()
            );
        }
        assert_eq!((self.stats.handshakes(), self.stats.calls(), self.stats.refusing()), (0, 0, 0));
    }
}

/// Starts `server` serving `router` on its own task.
pub fn serve(server: Server, router: Router) -> Running {
    let addr = server.local_addr().unwrap();
    let stats = server.stats();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_with_shutdown(router, async move {
        let _ = stopped.await;
    }));
    Running { addr, stats, stop: Some(stop), task }
}

pub async fn start(router: Router, configure: impl FnOnce(Server) -> Server) -> Running {
    serve(configure(Server::bind("127.0.0.1:0").await.unwrap()), router)
}

/// A route every test server has: `/normal` answers, reads `X`, and returns. Calls to it
/// prove that a misbehaving peer left the others alone.
pub fn with_normal_route(router: Router) -> Router {
    router
        .route(
            "/normal",
            handler_fn(|call| {
                Box::pin(async move {
                    call.answer().await?;
                    let x = call.get_variable("X").await?;
                    assert_eq!(x.as_deref(), Some("x"));
                    Ok::<(), agi_runtime::AgiError>(())
                })
            }),
        )
        .unwrap()
}

/// Runs one call to `/normal` to its end and checks it succeeded.
pub async fn normal_call(addr: SocketAddr) {
    let mut peer = ScriptedPeer::connect(addr, &CallSpec::new("/normal")).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.exchange("GET VARIABLE X", "200 result=1 (x)").await.unwrap();
    let end = peer.finish().await.unwrap();
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("SUCCESS"));
}

/// A TCP peer with no manners: it can send any bytes, stop anywhere, close or reset.
pub struct Raw {
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Raw {
        Raw::try_connect(addr).await.unwrap()
    }

    pub async fn try_connect(addr: SocketAddr) -> std::io::Result<Raw> {
        let stream = tokio::time::timeout(PATIENCE, TcpStream::connect(addr)).await??;
        stream.set_nodelay(true)?;
        Ok(Raw { stream: Some(stream), buffer: Vec::new() })
    }

    fn stream(&mut self) -> &mut TcpStream {
        self.stream.as_mut().expect("the connection is still open")
    }

    /// Sends bytes; errors are returned, not unwrapped (the server may have closed).
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream().write_all(bytes).await
    }

    /// Sends each byte as its own write, yielding in between.
    pub async fn send_bytewise(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        for byte in bytes {
            self.send(std::slice::from_ref(byte)).await?;
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    pub async fn send_env(&mut self, spec: &CallSpec) {
        self.send(spec.env_block().as_bytes()).await.unwrap();
    }

    /// The next line from the server (without LF), or `None` at its close.
    pub async fn line(&mut self) -> Option<String> {
        tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(lf) = self.buffer.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = self.buffer.drain(..=lf).collect();
                    return Some(String::from_utf8_lossy(&line[..lf]).into_owned());
                }
                let mut chunk = [0u8; 4096];
                match self.stream().read(&mut chunk).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await
        .expect("the server said something or closed in time")
    }

    /// Expects exactly `command` as the next line.
    pub async fn expect(&mut self, command: &str) {
        assert_eq!(self.line().await.as_deref(), Some(command));
    }

    /// Reads until the server closes (or resets) the connection.
    pub async fn expect_close(&mut self) {
        while let Some(line) = self.line().await {
            assert!(line.starts_with("SET VARIABLE FASTAGI_"), "unexpected line before the close: {line:?}");
        }
    }

    /// Closes our sending side: the server reads end of stream.
    pub async fn eof(&mut self) {
        let _ = self.stream().shutdown().await;
    }

    /// Resets the connection (RST): `SO_LINGER` 0, then close.
    pub fn reset(&mut self) {
        if let Some(stream) = self.stream.take() {
            stream.set_zero_linger().unwrap();
            drop(stream);
        }
    }
}

/// `/work` names the server that ran it, then waits for the caller's reply to a
/// `NOOP`: the caller decides how long the call lasts.
pub fn named_router(name: &'static str) -> Router {
    Router::new()
        .route(
            "/work",
            handler_fn(move |call| {
                Box::pin(async move {
                    call.set_variable("SERVER", name).await?;
                    call.noop().await?;
                    Ok::<(), AgiError>(())
                })
            }),
        )
        .unwrap()
}

/// A caller of `/work`: returns the server that ran the call, or what went wrong.
pub struct Caller {
    raw: Raw,
    pub server: String,
}

impl Caller {
    /// Connects and reads the server's name; the call then waits in its `NOOP`.
    pub async fn start(addr: SocketAddr) -> Result<Caller, String> {
        let mut raw = Raw::try_connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        raw.send(CallSpec::new("/work").env_block().as_bytes()).await.map_err(|e| format!("env: {e}"))?;
        let line = raw.line().await.ok_or("closed before the first command")?;
        let server = line.strip_prefix("SET VARIABLE SERVER ").ok_or(format!("unexpected {line:?}"))?.to_owned();
        raw.send(b"200 result=1\n").await.map_err(|e| format!("reply: {e}"))?;
        match raw.line().await.as_deref() {
            Some("NOOP") => Ok(Caller { raw, server }),
            other => Err(format!("expected NOOP, got {other:?}")),
        }
    }

    /// Answers the `NOOP` and plays the end of the session.
    pub async fn finish(mut self) -> Result<String, String> {
        self.raw.send(b"200 result=0\n").await.map_err(|e| format!("reply: {e}"))?;
        match self.raw.line().await.as_deref() {
            Some("SET VARIABLE FASTAGI_STATUS SUCCESS") => {}
            other => return Err(format!("expected the status, got {other:?}")),
        }
        self.raw.send(b"200 result=1\n").await.map_err(|e| format!("reply: {e}"))?;
        if let Some(line) = self.raw.line().await {
            return Err(format!("expected the close, got {line:?}"));
        }
        let _ = self.raw.send(b"HANGUP\n").await;
        self.raw.eof().await;
        Ok(self.server)
    }
}

/// Calls in a loop until `stop`, counting who served them and every failure.
#[derive(Default)]
pub struct Tally {
    /// Calls served, by server name.
    pub served: Mutex<std::collections::BTreeMap<String, usize>>,
    /// Calls started after `closed` was set and served by the server named `closing`.
    pub late: AtomicUsize,
    pub failures: Mutex<Vec<String>>,
}

impl Tally {
    pub fn served_by(&self, name: &str) -> usize {
        self.served.lock().unwrap().get(name).copied().unwrap_or(0)
    }

    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().unwrap().clone()
    }
}

/// Calls `/work` at `addr` in a loop until `stop`. `closing` names a server that is
/// being stopped: once `closed` is set, every call it still serves is counted as late.
pub async fn caller_loop(
    addr: SocketAddr,
    closing: &'static str,
    stop: Arc<AtomicBool>,
    closed: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    while !stop.load(Ordering::SeqCst) {
        let started_after_close = closed.load(Ordering::SeqCst);
        let result = match Caller::start(addr).await {
            Ok(caller) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                caller.finish().await
            }
            Err(error) => Err(error),
        };
        match result {
            Ok(server) => {
                if started_after_close && server == closing {
                    tally.late.fetch_add(1, Ordering::SeqCst);
                }
                *tally.served.lock().unwrap().entry(server).or_default() += 1;
            }
            Err(error) => tally.failures.lock().unwrap().push(error),
        }
    }
}
/// Stops the server named `old` under a steady stream of calls to `addr` while the one
/// named `new` (started by `start_new`, at once or already running) takes over, and
/// checks that no call failed, that calls started after the old listener closed all
/// went to the new server, and that a call in flight on the old one across the whole
/// handover completed. Returns the new server, still running.
pub async fn handover<F>(addr: SocketAddr, old: Running, start_new: F) -> Running
where
    F: Future<Output = Running>,
{
    let mut old = old;
    // A call in flight on the old server across the whole handover.
    let mut in_flight = Caller::start(addr).await.unwrap();
    while in_flight.server != "old" {
        in_flight.finish().await.unwrap();
        in_flight = Caller::start(addr).await.unwrap();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let old_closed = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let callers: Vec<_> = (0..4)
        .map(|_| tokio::spawn(caller_loop(addr, "old", stop.clone(), old_closed.clone(), tally.clone())))
        .collect();
    poll_until("the old server never served a call", || tally.served_by("old") > 0).await;

    let new = start_new.await;
    poll_until("the new server never got a call", || tally.served_by("new") > 0).await;

    // The old one stops accepting and drains. Its listener closes within one turn of
    // its accept loop; the flag is polled because nothing else can tell.
    old.begin_shutdown();
    poll_until("the old server kept accepting", || !old.stats.is_accepting()).await;
    old_closed.store(true, Ordering::SeqCst);
    let served_by_new = tally.served_by("new");
    poll_until("the new server stopped taking calls", || tally.served_by("new") >= served_by_new + 50).await;

    // The call in flight on the old server completes; then the old server is done.
    assert_eq!(in_flight.finish().await.unwrap(), "old");
    let report = old.shutdown().await;
    assert_eq!(report.cut, 0);
    assert!(report.in_flight >= 1, "{report:?}");

    stop.store(true, Ordering::SeqCst);
    for caller in callers {
        caller.await.unwrap();
    }
    println!(
        "served by the old server: {}, by the new one: {}, failures: {:?}",
        tally.served_by("old"),
        tally.served_by("new"),
        tally.failures()
    );
    assert_eq!(tally.failures(), Vec::<String>::new(), "calls failed during the handover");
    assert_eq!(tally.late.load(Ordering::SeqCst), 0, "the old server took calls after it stopped");
    new.idle().await;
    new
}

/// Polls `done` every millisecond until it holds, failing after [`PATIENCE`]: for
/// conditions that nothing signals.
pub async fn poll_until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Everything logged while a [`Logs`] guard is alive on this thread (use with the
/// current-thread runtime, where every task of the test runs on this thread).
#[derive(Clone, Default)]
pub struct Logs {
    lines: Arc<Mutex<Vec<String>>>,
}

impl Logs {
    /// Starts capturing everything at `debug` level and above on this thread.
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::registry().with(Capture(logs.clone()));
        let guard = tracing::subscriber::set_default(subscriber);
        (logs, guard)
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Lines containing `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.lines().iter().filter(|l| l.contains(needle)).count()
    }

    /// Lines at `WARN` or `ERROR`.
    pub fn problems(&self) -> Vec<String> {
        self.lines().into_iter().filter(|l| l.starts_with("WARN") || l.starts_with("ERROR")).collect()
    }

    /// Asserts that `needle` was logged exactly once.
    pub fn once(&self, needle: &str) {
        let count = self.count(needle);
        assert_eq!(count, 1, "expected one log line with {needle:?}, got {count}:\n{}", self.lines().join("\n"));
    }

    pub fn clear(&self) {
        self.lines.lock().unwrap().clear();
    }
}

/// A layer that renders each event as `LEVEL message field=value…` and each closed
/// `agi_call` span as `SPAN agi_call field=value…`.
struct Capture(Logs);

#[derive(Default)]
struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value}");
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(fields);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.0.lines.lock().unwrap().push(format!("{}{}", event.metadata().level(), fields.0));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && span.name() == "agi_call"
        {
            let fields = span.extensions().get::<Fields>().map(|f| f.0.clone()).unwrap_or_default();
            self.0.lines.lock().unwrap().push(format!("SPAN agi_call{fields}"));
        }
    }
}
