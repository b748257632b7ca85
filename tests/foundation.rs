//! End-to-end tests of the server over loopback, with a scripted Asterisk peer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agi_runtime::testing::{CallSpec, ScriptedPeer};
use agi_runtime::{
    AgiError, AgiResult, CallStatus, CommandError, EscapeDigits, Playback, Router, Server, ShutdownReport,
    StatusReporting, handler_fn,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<ShutdownReport>>,
}

impl Running {
    async fn shutdown(mut self) -> ShutdownReport {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.await.unwrap().unwrap()
    }
}

async fn start(router: Router, configure: impl FnOnce(Server) -> Server) -> Running {
    let server = configure(Server::bind("127.0.0.1:0").await.unwrap());
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_with_shutdown(router, async move {
        let _ = stopped.await;
    }));
    Running { addr, stop: Some(stop), task }
}

/// A channel the handlers report into, so tests can assert what a handler saw.
fn probe<T: Send + 'static>() -> (Arc<mpsc::UnboundedSender<T>>, mpsc::UnboundedReceiver<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(tx), rx)
}

#[tokio::test]
async fn a_normal_session_runs_and_reports_success() {
    let router = Router::new()
        .route(
            "/basic",
            handler_fn(|call| {
                Box::pin(async move {
                    call.answer().await?;
                    call.noop().await?;
                    let channel = call.get_variable("CHANNEL").await?;
                    assert_eq!(channel.as_deref(), Some("PJSIP/alice-00000001"));
                    call.verbose("Hello from FastAGI").await?;
                    let playback = call.stream_file("welcome", EscapeDigits::NONE).await?;
                    assert_eq!(playback, Playback::Completed { endpos: 8000 });
                    Ok::<(), AgiError>(())
                })
            }),
        )
        .unwrap();
    let server = start(router, |s| s).await;
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("/basic?from=dialplan")).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.exchange("NOOP", "200 result=0").await.unwrap();
    peer.exchange("GET VARIABLE CHANNEL", "200 result=1 (PJSIP/alice-00000001)").await.unwrap();
    peer.exchange("VERBOSE \"Hello from FastAGI\" 1", "200 result=1").await.unwrap();
    peer.exchange("STREAM FILE welcome \"\"", "200 result=0 endpos=8000").await.unwrap();
    let end = peer.finish().await.unwrap();
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("SUCCESS"));
    assert_eq!(end.variable("FASTAGI_REASON"), None);
    assert!(!end.failure_marker);
    assert_eq!(server.shutdown().await.cut, 0);
}

#[tokio::test]
async fn hangup_before_the_reply_keeps_the_reply_and_marks_the_call() {
    let (seen, mut saw) = probe::<String>();
    let router = Router::new()
        .route(
            "/hangup_stream",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    call.answer().await?;
                    let playback = call.stream_file("tone3s", EscapeDigits::NONE).await?;
                    seen.send(format!("{playback:?} hung_up={}", call.is_hung_up())).unwrap();
                    call.noop().await?;
                    seen.send(format!("noop ok hung_up={}", call.is_hung_up())).unwrap();
                    // Needs a live channel: refused without a round trip.
                    let refused = call.stream_file("tone1s", EscapeDigits::NONE).await;
                    seen.send(format!("{refused:?}")).unwrap();
                    // Works on a dead channel.
                    let status = call.get_variable("DIALSTATUS").await?;
                    seen.send(format!("{status:?}")).unwrap();
                    call.stream_file("tone1s", EscapeDigits::NONE).await.map(drop)
                })
            }),
        )
        .unwrap();
    let server = start(router, |s| s).await;
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("hangup_stream")).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.exchange("STREAM FILE tone3s \"\"", "200 result=-1 endpos=4160").await.unwrap();
    assert_eq!(saw.recv().await.unwrap(), "Failed { endpos: 4160 } hung_up=false");
    peer.expect("NOOP").await.unwrap();
    peer.send("HANGUP").await.unwrap();
    peer.send("200 result=0").await.unwrap();
    assert_eq!(saw.recv().await.unwrap(), "noop ok hung_up=true");
    assert_eq!(saw.recv().await.unwrap(), "Err(HungUp)");
    peer.exchange("GET VARIABLE DIALSTATUS", "200 result=1 (NOANSWER)").await.unwrap();
    assert_eq!(saw.recv().await.unwrap(), "Some(\"NOANSWER\")");
    let end = peer.finish().await.unwrap();
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("HANGUP"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_511_reply_is_the_hangup_error_and_dead_commands_still_work() {
    let (seen, mut saw) = probe::<String>();
    let router = Router::new()
        .route(
            "/dead",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    let answered = call.answer().await;
                    seen.send(format!("{answered:?} hung_up={}", call.is_hung_up())).unwrap();
                    call.set_variable("X", "1").await?;
                    let x = call.get_variable("X").await?;
                    seen.send(format!("{x:?}")).unwrap();
                    Ok::<(), AgiError>(())
                })
            }),
        )
        .unwrap();
    let server = start(router, |s| s).await;
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("dead").extension("h")).await.unwrap();
    peer.exchange("ANSWER", "511 Command Not Permitted on a dead channel or intercept routine").await.unwrap();
    assert_eq!(saw.recv().await.unwrap(), "Err(HungUp) hung_up=true");
    peer.exchange("SET VARIABLE X 1", "200 result=1").await.unwrap();
    peer.exchange("GET VARIABLE X", "200 result=1 (1)").await.unwrap();
    assert_eq!(saw.recv().await.unwrap(), "Some(\"1\")");
    assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_520_block_is_read_whole_even_with_a_reply_lookalike_inside() {
    let (seen, mut saw) = probe::<String>();
    let router = Router::new()
        .route(
            "/usage",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    match call.command(["DATABASE", "GET", "fam"]).await {
                        Err(AgiError::InvalidSyntax { command, usage }) => {
                            seen.send(format!("{command}|{}", usage.unwrap())).unwrap()
                        }
                        other => seen.send(format!("unexpected: {other:?}")).unwrap(),
                    }
                    // The stream is still in step: the next reply belongs to the next command.
                    let value = call.get_variable("FOO").await?;
                    seen.send(format!("{value:?}")).unwrap();
                    match call.command(["WAIT", "FOR", "DIGIT"]).await {
                        Err(AgiError::InvalidSyntax { usage: None, .. }) => seen.send("no usage".into()).unwrap(),
                        other => seen.send(format!("unexpected: {other:?}")).unwrap(),
                    }
                    Ok::<(), AgiError>(())
                })
            }),
        )
        .unwrap();
    let server = start(router, |s| s).await;
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("usage")).await.unwrap();
    peer.expect("DATABASE GET fam").await.unwrap();
    peer.send_bytes(
        b"520-Invalid command syntax.  Proper usage follows:\n\
          Retrieves an entry in the Asterisk database for a given <replaceable>family</replaceable>.\n\
          Example return code: 200 result=1 (testvariable)\n\
          200 result=1 (a whole line that looks like a reply)\n\
          HANGUP\n\
          520 End of proper usage.\n",
    )
    .await
    .unwrap();
    let usage = saw.recv().await.unwrap();
    assert_eq!(
        usage,
        "DATABASE|Retrieves an entry in the Asterisk database for a given <replaceable>family</replaceable>.\n\
         Example return code: 200 result=1 (testvariable)\n\
         200 result=1 (a whole line that looks like a reply)\nHANGUP"
    );
    peer.exchange("GET VARIABLE FOO", "200 result=1 (bar)").await.unwrap();
    assert_eq!(saw.recv().await.unwrap(), "Some(\"bar\")");
    peer.exchange("WAIT FOR DIGIT", "520 Invalid command syntax.  Proper usage not available.").await.unwrap();
    assert_eq!(saw.recv().await.unwrap(), "no usage");
    // The HANGUP inside the block was usage text, not an event.
    assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
    server.shutdown().await;
}

#[tokio::test]
async fn trying_is_skipped_until_the_final_reply() {
    let (seen, mut saw) = probe::<String>();
    let router = Router::new()
        .route(
            "/gosub",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    let reply = call.command(["GOSUB", "sub-test", "s", "1", "a,b"]).await?;
                    seen.send(format!("{}|{}", reply.result(), reply.rest())).unwrap();
                    Ok::<(), AgiError>(())
                })
            }),
        )
        .unwrap();
    let server = start(router, |s| s).await;
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("gosub")).await.unwrap();
    peer.expect("GOSUB sub-test s 1 a,b").await.unwrap();
    peer.send("100 result=0 Trying...").await.unwrap();
    peer.expect_silence(Duration::from_millis(50)).await.unwrap();
    peer.send("200 result=0 Gosub complete").await.unwrap();
    assert_eq!(saw.recv().await.unwrap(), "0|Gosub complete");
    peer.finish().await.unwrap();
    server.shutdown().await;
}

fn answering_router(ran: Arc<AtomicBool>) -> Router {
    Router::new()
        .route(
            "/answer",
            handler_fn(move |call| {
                let ran = ran.clone();
                Box::pin(async move {
                    ran.store(true, Ordering::SeqCst);
                    call.answer().await
                })
            }),
        )
        .unwrap()
}

#[tokio::test]
async fn eof_inside_the_environment_block_runs_nothing_and_the_server_stays_up() {
    let ran = Arc::new(AtomicBool::new(false));
    let server = start(answering_router(ran.clone()), |s| s).await;
    let block = CallSpec::new("answer").env_block();
    let mut peer = ScriptedPeer::silent(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    peer.send_bytes(&block.as_bytes()[..block.len() / 2]).await.unwrap();
    peer.close().await.unwrap();
    peer.expect_close().await.unwrap();
    assert!(!ran.load(Ordering::SeqCst));

    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("answer")).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
    assert!(ran.load(Ordering::SeqCst));
    server.shutdown().await;
}

#[tokio::test]
async fn eof_inside_a_reply_is_the_disconnected_error() {
    let (seen, mut saw) = probe::<String>();
    let router = Router::new()
        .route(
            "/eof",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    let result = call.answer().await;
                    seen.send(format!("{result:?} hung_up={}", call.is_hung_up())).unwrap();
                    result
                })
            }),
        )
        .unwrap();
    let server = start(router, |s| s).await;
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("eof")).await.unwrap();
    peer.expect("ANSWER").await.unwrap();
    peer.send_bytes(b"200 res").await.unwrap();
    peer.close().await.unwrap();
    assert_eq!(saw.recv().await.unwrap(), "Err(Disconnected) hung_up=true");
    // Nothing more is sent on a closed connection: no status report, just the close.
    peer.expect_close().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn an_environment_block_sent_one_byte_at_a_time_is_parsed() {
    let (seen, mut saw) = probe::<String>();
    let router = Router::new()
        .route(
            "/bytes",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    let env = call.env();
                    seen.send(format!("{}|{}|{:?}", env.path(), env.query(), env.args().collect::<Vec<_>>())).unwrap();
                    Ok::<(), AgiError>(())
                })
            }),
        )
        .unwrap();
    let server = start(router, |s| s).await;
    let spec = CallSpec::new("bytes?x=1&y=two").args(["one", "two words", "three,with comma", ""]);
    let mut peer = ScriptedPeer::silent(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    peer.send_bytewise(spec.env_block().as_bytes()).await.unwrap();
    assert_eq!(saw.recv().await.unwrap(), "/bytes|x=1&y=two|[\"one\", \"two words\", \"three,with comma\", \"\"]");
    peer.finish().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn values_are_quoted_and_a_newline_is_refused_before_anything_is_sent() {
    let (seen, mut saw) = probe::<String>();
    let router = Router::new()
        .route(
            "/quoting",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    call.set_variable("Q1", "a \"quoted\" \\ value").await?;
                    let refused = call.set_variable("Q2", "line1\nline2").await;
                    match refused {
                        Err(AgiError::Command(CommandError::ForbiddenByte { index, position, .. })) => {
                            seen.send(format!("refused arg {index} at {position}")).unwrap()
                        }
                        other => seen.send(format!("unexpected: {other:?}")).unwrap(),
                    }
                    call.set_variable("Q3", "").await?;
                    Ok::<(), AgiError>(())
                })
            }),
        )
        .unwrap();
    let server = start(router, |s| s).await;
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("quoting")).await.unwrap();
    peer.exchange(r#"SET VARIABLE Q1 "a \"quoted\" \\ value""#, "200 result=1").await.unwrap();
    assert_eq!(saw.recv().await.unwrap(), "refused arg 1 at 5");
    // The refused command never reached the wire: the next line is Q3.
    peer.exchange(r#"SET VARIABLE Q3 """#, "200 result=1").await.unwrap();
    peer.finish().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_silent_peer_is_timed_out() {
    let ran = Arc::new(AtomicBool::new(false));
    let server = start(answering_router(ran.clone()), |s| s.env_timeout(Duration::from_millis(100))).await;
    let mut peer = ScriptedPeer::silent(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    peer.set_wait(Duration::from_secs(5));
    let started = std::time::Instant::now();
    peer.expect_close().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "closed after {:?}", started.elapsed());
    assert!(!ran.load(Ordering::SeqCst));
    server.shutdown().await;
}

/// A handler written by hand that panics before it has a future to return.
struct PanicsAtOnce;

impl agi_runtime::Handler<()> for PanicsAtOnce {
    fn call<'a>(
        &'a self,
        _call: &'a mut agi_runtime::Call,
        _state: &'a (),
    ) -> agi_runtime::BoxFuture<'a, agi_runtime::Outcome> {
        panic!("no future for you")
    }
}

#[tokio::test]
async fn a_handler_panicking_before_its_future_exists_is_reported_like_any_panic() {
    let router = Router::new().route("/early", PanicsAtOnce).unwrap();
    let server = start(router, |s| s).await;
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("early")).await.unwrap();
    let end = peer.finish().await.unwrap();
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("HANDLER_ERROR"));
    assert_eq!(end.variable("FASTAGI_REASON"), Some("the handler panicked: no future for you"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_panicking_handler_ends_only_its_own_call() {
    let router = Router::new()
        .route(
            "/panic",
            handler_fn(|call| {
                Box::pin(async move {
                    call.answer().await?;
                    if call.env().arg(1) == Some("boom") {
                        panic!("handler bug");
                    }
                    Ok::<(), AgiError>(())
                })
            }),
        )
        .unwrap();
    let server = start(router, |s| s).await;
    let mut doomed = ScriptedPeer::connect(server.addr, &CallSpec::new("panic").arg("boom")).await.unwrap();
    let mut healthy = ScriptedPeer::connect(server.addr, &CallSpec::new("panic").arg("fine")).await.unwrap();
    doomed.exchange("ANSWER", "200 result=0").await.unwrap();
    let end = doomed.finish().await.unwrap();
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("HANDLER_ERROR"));
    assert_eq!(end.variable("FASTAGI_REASON"), Some("the handler panicked: handler bug"));
    healthy.exchange("ANSWER", "200 result=0").await.unwrap();
    assert_eq!(healthy.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
    server.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_lets_a_call_in_flight_complete() {
    let router = Router::new().route("/slow", handler_fn(|call| Box::pin(async move { call.answer().await }))).unwrap();
    let server = start(router, |s| s.shutdown_grace(Duration::from_secs(10))).await;
    let addr = server.addr;
    let mut peer = ScriptedPeer::connect(addr, &CallSpec::new("slow")).await.unwrap();
    peer.expect("ANSWER").await.unwrap();
    let stop = server.stop;
    stop.unwrap().send(()).unwrap();
    // No new calls once the shutdown has begun. The listener closes within one turn of
    // the accept loop and nothing tells the test when: poll, bounded.
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "the listener still accepts after shutdown began");
    peer.send("200 result=0").await.unwrap();
    assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
    let report = server.task.await.unwrap().unwrap();
    assert_eq!(report, ShutdownReport { in_flight: 1, cut: 0 });
}

#[tokio::test]
async fn graceful_shutdown_cuts_calls_that_overrun_the_grace() {
    let router =
        Router::new().route("/stuck", handler_fn(|call| Box::pin(async move { call.answer().await }))).unwrap();
    let server = start(router, |s| s.shutdown_grace(Duration::from_millis(100))).await;
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("stuck")).await.unwrap();
    peer.expect("ANSWER").await.unwrap();
    let report = server.shutdown().await;
    assert_eq!(report, ShutdownReport { in_flight: 1, cut: 1 });
    // ANSWER's reply never came, so nothing more can be said: the server just closes.
    peer.expect_close().await.unwrap();
}

#[tokio::test]
async fn unknown_routes_get_not_found_and_optionally_the_failure_marker() {
    let router = Router::new().route("/known", handler_fn(|call| Box::pin(async move { call.noop().await }))).unwrap();
    let server =
        start(router, |s| s.status_reporting(StatusReporting::default().failure_marker_for([CallStatus::NotFound])))
            .await;
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("unknown?x=1")).await.unwrap();
    let end = peer.finish().await.unwrap();
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("NOT_FOUND"));
    assert_eq!(end.variable("FASTAGI_REASON"), Some("no route for `/unknown`"));
    assert!(end.failure_marker);
    server.shutdown().await;
}

#[tokio::test]
async fn calls_over_the_limit_are_told_overloaded_at_once() {
    let router = Router::new().route("/hold", handler_fn(|call| Box::pin(async move { call.answer().await }))).unwrap();
    let server = start(router, |s| s.max_calls(1)).await;
    let mut held = ScriptedPeer::connect(server.addr, &CallSpec::new("hold")).await.unwrap();
    held.expect("ANSWER").await.unwrap();
    let mut refused = ScriptedPeer::connect(server.addr, &CallSpec::new("hold")).await.unwrap();
    let end = refused.finish().await.unwrap();
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("OVERLOADED"));
    assert_eq!(end.variable("FASTAGI_REASON"), Some("the server is at its limit of 1 concurrent calls"));
    held.send("200 result=0").await.unwrap();
    assert_eq!(held.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
    // The slot frees once the held session has closed; the peer cannot observe that
    // instant, so poll for it (each attempt is refused at once while the slot is taken).
    let mut attempts = 0;
    loop {
        let mut again = ScriptedPeer::connect(server.addr, &CallSpec::new("hold")).await.unwrap();
        match again.next_command().await.unwrap().as_deref() {
            Some("ANSWER") => {
                again.send("200 result=0").await.unwrap();
                assert_eq!(again.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
                break;
            }
            Some("SET VARIABLE FASTAGI_STATUS OVERLOADED") if attempts < 100 => {
                again.send("200 result=1").await.unwrap();
                again.finish().await.unwrap();
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => panic!("unexpected {other:?} after {attempts} attempts"),
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_command_timeout_breaks_the_call_with_a_typed_error() {
    let (seen, mut saw) = probe::<String>();
    let router = Router::new()
        .route(
            "/timeout",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    call.set_command_timeout(Some(Duration::from_millis(50)));
                    let first = call.answer().await;
                    let second = call.noop().await;
                    seen.send(format!("{first:?} / {second:?}")).unwrap();
                    first
                })
            }),
        )
        .unwrap();
    let server = start(router, |s| s).await;
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("timeout")).await.unwrap();
    peer.expect("ANSWER").await.unwrap();
    let seen = saw.recv().await.unwrap();
    assert!(seen.starts_with("Err(Timeout { command: \"ANSWER\", timeout: 50ms }) / Err(Broken("), "{seen}");
    // The connection is out of step: no status report, just the close.
    peer.expect_close().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn or_hangup_stops_waiting_when_the_caller_leaves() {
    let (seen, mut saw) = probe::<String>();
    let router = Router::new()
        .route(
            "/lookup",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    call.answer().await?;
                    let signal = call.hangup_signal();
                    let watcher = tokio::spawn(async move { signal.wait().await });
                    let slow_lookup = std::future::pending::<()>();
                    let result = call.or_hangup(slow_lookup).await;
                    watcher.await.unwrap();
                    seen.send(format!("{result:?}")).unwrap();
                    call.set_variable("CLEANUP", "done").await
                })
            }),
        )
        .unwrap();
    let server = start(router, |s| s).await;
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("lookup")).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.expect_silence(Duration::from_millis(50)).await.unwrap();
    peer.send("HANGUP").await.unwrap();
    assert_eq!(saw.recv().await.unwrap(), "Err(HungUp)");
    peer.exchange("SET VARIABLE CLEANUP done", "200 result=1").await.unwrap();
    assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_hangup_signal_asked_for_after_the_hangup_has_fired_already() {
    let (seen, mut saw) = probe::<(bool, bool)>();
    let router = Router::new()
        .route(
            "/late",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    let before = call.hangup_signal();
                    call.answer().await?;
                    call.hung_up().await;
                    let after = call.hangup_signal();
                    after.wait().await;
                    seen.send((before.is_hung_up(), after.is_hung_up())).unwrap();
                    AgiResult::Ok(())
                })
            }),
        )
        .unwrap();
    let server = start(router, |s| s).await;
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("late")).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.send("HANGUP").await.unwrap();
    assert_eq!(saw.recv().await.unwrap(), (true, true), "both handles see the hangup");
    peer.finish().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_handler_stuck_after_hangup_is_stopped_after_the_grace() {
    let router = Router::new()
        .route(
            "/stuck",
            handler_fn(|call| {
                Box::pin(async move {
                    call.answer().await?;
                    call.hung_up().await;
                    std::future::pending::<AgiResult<()>>().await
                })
            }),
        )
        .unwrap();
    let server = start(router, |s| s.hangup_grace(Some(Duration::from_millis(50)))).await;
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("stuck")).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.send("HANGUP").await.unwrap();
    let end = peer.finish().await.unwrap();
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("HANDLER_ERROR"));
    assert_eq!(end.variable("FASTAGI_REASON"), Some("the handler did not return within 50ms after the hangup"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_line_sent_while_no_command_runs_is_a_protocol_error() {
    let (seen, mut saw) = probe::<String>();
    let router = Router::new()
        .route(
            "/stray",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    call.answer().await?;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let result = call.noop().await;
                    seen.send(format!("{result:?}")).unwrap();
                    result
                })
            }),
        )
        .unwrap();
    let server = start(router, |s| s).await;
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("stray")).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.send("200 result=0").await.unwrap();
    let seen = saw.recv().await.unwrap();
    assert!(seen.starts_with("Err(Protocol(\"Asterisk sent `200 result=0` while no command was running\""), "{seen}");
    peer.expect_close().await.unwrap();
    server.shutdown().await;
}
