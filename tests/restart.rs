//! Zero-downtime restart: a new server binds the same port (`SO_REUSEPORT`) while the
//! old one drains, under a steady stream of calls, and no call is refused.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agi_runtime::testing::CallSpec;
use agi_runtime::{AgiError, Router, Server, handler_fn};
use support::{PATIENCE, Raw, serve};

/// `/work` names the server that ran it, then waits for the caller's reply to a
/// `NOOP`: the caller decides how long the call lasts.
fn router(name: &'static str) -> Router {
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
struct Caller {
    raw: Raw,
    server: String,
}

impl Caller {
    /// Connects and reads the server's name; the call then waits in its `NOOP`.
    async fn start(addr: SocketAddr) -> Result<Caller, String> {
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
    async fn finish(mut self) -> Result<String, String> {
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
struct Tally {
    old: AtomicUsize,
    new: AtomicUsize,
    /// Calls started after the old server stopped accepting, served by the old one.
    late_on_old: AtomicUsize,
    failures: std::sync::Mutex<Vec<String>>,
}

async fn caller_loop(addr: SocketAddr, stop: Arc<AtomicBool>, old_closed: Arc<AtomicBool>, tally: Arc<Tally>) {
    while !stop.load(Ordering::SeqCst) {
        let started_after_close = old_closed.load(Ordering::SeqCst);
        let result = match Caller::start(addr).await {
            Ok(caller) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                caller.finish().await
            }
            Err(error) => Err(error),
        };
        match result.as_deref() {
            Ok("old") => {
                tally.old.fetch_add(1, Ordering::SeqCst);
                if started_after_close {
                    tally.late_on_old.fetch_add(1, Ordering::SeqCst);
                }
            }
            Ok("new") => {
                tally.new.fetch_add(1, Ordering::SeqCst);
            }
            Ok(other) => tally.failures.lock().unwrap().push(format!("served by {other:?}")),
            Err(error) => tally.failures.lock().unwrap().push(error.to_owned()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_server_takes_over_the_port_while_the_old_one_drains_and_no_call_is_refused() {
    let old = Server::bind_reuse_port("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = old.local_addr().unwrap();
    let mut old = serve(old.shutdown_grace(PATIENCE), router("old"));

    // A call in flight on the old server across the whole handover.
    let in_flight = Caller::start(addr).await.unwrap();
    assert_eq!(in_flight.server, "old");

    let stop = Arc::new(AtomicBool::new(false));
    let old_closed = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let callers: Vec<_> =
        (0..4).map(|_| tokio::spawn(caller_loop(addr, stop.clone(), old_closed.clone(), tally.clone()))).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(tally.old.load(Ordering::SeqCst) > 0, "the old server served before the handover");

    // The new version starts on the same port; the kernel spreads calls over both.
    let new = serve(Server::bind_reuse_port(addr).unwrap(), router("new"));
    let deadline = Instant::now() + PATIENCE;
    while tally.new.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the new server never got a call");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The old one stops accepting and drains. Its listener closes within one turn of
    // its accept loop; the flag is polled because nothing else can tell.
    old.begin_shutdown();
    let deadline = Instant::now() + PATIENCE;
    while old.stats.is_accepting() {
        assert!(Instant::now() < deadline, "the old server kept accepting");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    old_closed.store(true, Ordering::SeqCst);
    let served_by_new = tally.new.load(Ordering::SeqCst);
    let deadline = Instant::now() + PATIENCE;
    while tally.new.load(Ordering::SeqCst) < served_by_new + 50 {
        assert!(Instant::now() < deadline, "the new server stopped taking calls");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The call in flight on the old server completes; then the old server is done.
    assert_eq!(in_flight.finish().await.unwrap(), "old");
    let report = old.shutdown().await;
    assert_eq!(report.cut, 0);
    assert!(report.in_flight >= 1, "{report:?}");

    stop.store(true, Ordering::SeqCst);
    for caller in callers {
        caller.await.unwrap();
    }
    let failures = tally.failures.lock().unwrap().clone();
    println!(
        "served by the old server: {}, by the new one: {}, failures: {failures:?}",
        tally.old.load(Ordering::SeqCst),
        tally.new.load(Ordering::SeqCst)
    );
    assert_eq!(failures, Vec::<String>::new(), "calls were refused during the handover");
    assert_eq!(tally.late_on_old.load(Ordering::SeqCst), 0, "the old server took calls after it stopped");
    new.idle().await;
    new.shutdown().await;
}
