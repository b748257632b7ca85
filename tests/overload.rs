//! Overload and admission: silent connections, 5x overload, per-route limits, and the
//! admission policy.
//!
//! The timing tests here assert generous bounds (a loaded 2-core machine must not make
//! them fail) and run one at a time.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agi_runtime::testing::{CallSpec, ScriptedPeer};
use agi_runtime::{Admission, AdmissionPolicy, IpAllowlist, Router, admit_fn, handler_fn};
use support::{Logs, PATIENCE, Raw, normal_call, poll_until, start, with_normal_route};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// The timing tests of this file run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Latency of one call to `/normal`, from connecting to the server's close.
async fn timed_normal_call(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    tokio::time::timeout(PATIENCE, normal_call(addr)).await.expect("a normal call finished in time");
    started.elapsed()
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// The soft limit on open files, raised to the hard limit if that is possible without
/// privileges or `unsafe` (the `prlimit` tool from util-linux, on this very process).
fn open_files_limit() -> usize {
    let read = || -> Option<(usize, usize)> {
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        let mut numbers = line.split_whitespace().filter_map(|w| w.parse::<usize>().ok());
        Some((numbers.next()?, numbers.next().unwrap_or(usize::MAX)))
    };
    let Some((soft, hard)) = read() else { return 1024 };
    if soft < hard {
        let pid = std::process::id().to_string();
        let _ =
            std::process::Command::new("prlimit").args(["--pid", &pid, &format!("--nofile={hard}:{hard}")]).status();
    }
    read().map_or(soft, |(soft, _)| soft)
}

/// 10,000 connections that connect and say nothing, all open at once, while normal
/// calls keep their latency.
///
/// The server keeps at most `max_handshakes` (1,024 by default) of them: each new
/// connection takes the slot of the oldest still silent one. The test process holds
/// both ends of every connection the server keeps, so it needs about 11,200 open files;
/// when the open-files limit cannot be raised that far (its hard limit here is 20,000),
/// the number of silent connections is scaled down to fit, and the test says so.
#[tokio::test]
async fn ten_thousand_silent_connections_do_not_keep_calls_out() {
    let _serial = SERIAL.lock().await;
    let limit = open_files_limit();
    let silent = 10_000.min(limit.saturating_sub(1_024 + 1_200));
    if silent < 10_000 {
        println!("open-files limit {limit}: opening {silent} silent connections instead of 10,000");
    }
    assert!(silent >= 2_000, "the open-files limit ({limit}) is too low for this test");
    let server = start(with_normal_route(Router::new()), |s| s.env_timeout(Duration::from_secs(120))).await;
    let (logs, _guard) = Logs::capture();

    let mut baseline: Vec<Duration> = Vec::new();
    for _ in 0..10 {
        baseline.push(timed_normal_call(server.addr).await);
    }
    let baseline = median(&mut baseline);

    let mut connections = Vec::with_capacity(silent);
    let mut during = Vec::new();
    for i in 0..silent {
        connections.push(TcpStream::connect(server.addr).await.unwrap());
        if i % 500 == 499 {
            during.push(timed_normal_call(server.addr).await);
        }
    }
    // Every silent connection is still open on our side.
    for _ in 0..10 {
        during.push(timed_normal_call(server.addr).await);
    }
    let worst = *during.iter().max().unwrap();
    let typical = median(&mut during);
    println!("baseline {baseline:?}, with {silent} silent connections: median {typical:?}, worst {worst:?}");
    assert!(typical < baseline * 10 + Duration::from_millis(50), "median {typical:?} against {baseline:?}");
    assert!(worst < Duration::from_secs(2), "worst {worst:?}");
    assert!(server.stats.handshakes() <= 1_024, "{} handshakes held", server.stats.handshakes());

    drop(connections);
    server.idle().await;
    logs.once("too many connections without an environment block; closing the longest waiting");
    server.shutdown().await;
}

/// `/work` holds its call for `WORK`, like a handler waiting on a database.
const WORK: Duration = Duration::from_millis(400);

fn work_router() -> Router {
    Router::new()
        .route(
            "/work",
            handler_fn(|call| {
                Box::pin(async move {
                    call.answer().await?;
                    tokio::time::sleep(WORK).await;
                    call.noop().await
                })
            }),
        )
        .unwrap()
}

/// What one caller of `/work` saw, timed from the moment its environment block was
/// sent (connecting and writing the block are the client's costs, not the server's).
#[derive(Debug)]
enum Outcome {
    /// Served, in this long until the server closed.
    Served(Duration),
    /// Told `OVERLOADED` this soon.
    Overloaded(Duration),
}

async fn call_work(addr: SocketAddr) -> Outcome {
    let mut raw = Raw::connect(addr).await;
    raw.send_env(&CallSpec::new("/work")).await;
    let started = Instant::now();
    let outcome = match raw.line().await.as_deref() {
        Some("ANSWER") => {
            raw.send(b"200 result=0\n").await.unwrap();
            raw.expect("NOOP").await;
            raw.send(b"200 result=0\n").await.unwrap();
            raw.expect("SET VARIABLE FASTAGI_STATUS SUCCESS").await;
            raw.send(b"200 result=1\n").await.unwrap();
            assert_eq!(raw.line().await, None);
            Outcome::Served(started.elapsed())
        }
        Some("SET VARIABLE FASTAGI_STATUS OVERLOADED") => {
            let refused = started.elapsed();
            raw.send(b"200 result=1\n").await.unwrap();
            while raw.line().await.is_some() {
                raw.send(b"200 result=1\n").await.unwrap();
            }
            Outcome::Overloaded(refused)
        }
        other => panic!("unexpected first command {other:?}"),
    };
    let _ = raw.send(b"HANGUP\n").await;
    raw.eof().await;
    outcome
}

/// Five times more callers than call slots, all at once: the admitted ones take as long
/// as a call alone, the others are told `OVERLOADED` within milliseconds, and nobody
/// waits in a queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_five_times_overload_admitted_calls_keep_their_latency() {
    let _serial = SERIAL.lock().await;
    const SLOTS: usize = 20;
    let server = start(work_router(), |s| s.max_calls(SLOTS)).await;

    let mut alone = Vec::new();
    for _ in 0..3 {
        match call_work(server.addr).await {
            Outcome::Served(latency) => alone.push(latency),
            other => panic!("a lone call was refused: {other:?}"),
        }
    }
    let alone = median(&mut alone);

    let start_line = Arc::new(Semaphore::new(0));
    let callers: Vec<_> = (0..SLOTS * 5)
        .map(|_| {
            let start_line = start_line.clone();
            let addr = server.addr;
            tokio::spawn(async move {
                let _go = start_line.acquire().await.unwrap();
                tokio::time::timeout(PATIENCE, call_work(addr)).await.expect("every caller gets an answer")
            })
        })
        .collect();
    start_line.add_permits(SLOTS * 5);
    let mut served = Vec::new();
    let mut refused = Vec::new();
    for caller in callers {
        match caller.await.unwrap() {
            Outcome::Served(latency) => served.push(latency),
            Outcome::Overloaded(latency) => refused.push(latency),
        }
    }
    let (served_count, refused_count) = (served.len(), refused.len());
    let served_median = median(&mut served);
    let refused_median = median(&mut refused);
    let refused_worst = *refused.last().unwrap();
    println!(
        "alone {alone:?}; {served_count} served (median {served_median:?}), {refused_count} refused (median {refused_median:?}, worst {refused_worst:?})"
    );
    assert!(served_count >= SLOTS, "{served_count} served");
    assert!(refused_count >= SLOTS * 2, "{refused_count} refused");
    assert!(served_median < alone * 2 + Duration::from_millis(100), "served median {served_median:?} vs {alone:?}");
    // Refusals must not wait for a slot: far below one call's duration.
    assert!(refused_median < WORK / 4, "refused median {refused_median:?}");
    assert!(refused_worst < WORK, "refused worst {refused_worst:?}");
    server.idle().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_route_limit_refuses_only_that_route() {
    let router = Router::new()
        .route(
            "/slow",
            handler_fn(|call| {
                Box::pin(async move {
                    call.answer().await?;
                    call.noop().await
                })
            }),
        )
        .unwrap()
        .max_calls_for("/slow", 2)
        .unwrap();
    let server = start(with_normal_route(router), |s| s).await;
    let (logs, _guard) = Logs::capture();
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("/slow")).await.unwrap();
        peer.exchange("ANSWER", "200 result=0").await.unwrap();
        peer.expect("NOOP").await.unwrap();
        held.push(peer);
    }
    let mut third = ScriptedPeer::connect(server.addr, &CallSpec::new("/slow")).await.unwrap();
    let end = third.finish().await.unwrap();
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("OVERLOADED"));
    assert_eq!(end.variable("FASTAGI_REASON"), Some("route `/slow` is at its limit of 2 concurrent calls"));
    // Other routes are not limited by it.
    normal_call(server.addr).await;
    // A slot freed is a slot taken again.
    let mut first = held.remove(0);
    first.send("200 result=0").await.unwrap();
    assert_eq!(first.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
    let mut again = ScriptedPeer::connect(server.addr, &CallSpec::new("/slow")).await.unwrap();
    again.exchange("ANSWER", "200 result=0").await.unwrap();
    again.exchange("NOOP", "200 result=0").await.unwrap();
    assert_eq!(again.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
    let mut last = held.remove(0);
    last.send("200 result=0").await.unwrap();
    last.finish().await.unwrap();
    server.idle().await;
    logs.once("route `/slow` is at its limit of 2 concurrent calls; call refused");
    server.shutdown().await;
}

#[tokio::test]
async fn refusals_beyond_the_responders_are_closed_at_once() {
    let router = Router::new().route("/hold", handler_fn(|call| Box::pin(async move { call.answer().await }))).unwrap();
    let server = start(router, |s| s.max_calls(1).max_overload_responders(1)).await;
    let mut held = ScriptedPeer::connect(server.addr, &CallSpec::new("/hold")).await.unwrap();
    held.expect("ANSWER").await.unwrap();
    // The one responder is busy telling this call it is refused (it does not answer).
    let mut refused = ScriptedPeer::connect(server.addr, &CallSpec::new("/hold")).await.unwrap();
    refused.expect("SET VARIABLE FASTAGI_STATUS OVERLOADED").await.unwrap();
    // So this one is closed without a word.
    let mut dropped = ScriptedPeer::connect(server.addr, &CallSpec::new("/hold")).await.unwrap();
    let started = Instant::now();
    dropped.expect_close().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "closed after {:?}", started.elapsed());
    refused.send("200 result=1").await.unwrap();
    refused.finish().await.unwrap();
    held.send("200 result=0").await.unwrap();
    held.finish().await.unwrap();
    drop(dropped);
    server.idle().await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_ip_allowlist_closes_strangers_before_reading_and_logs_in_aggregate() {
    let server =
        start(with_normal_route(Router::new()), |s| s.admission(IpAllowlist::new(["10.0.0.0/8"]).unwrap())).await;
    let (logs, _guard) = Logs::capture();
    for _ in 0..50 {
        let mut raw = Raw::connect(server.addr).await;
        // Closed at once, whatever we send.
        let _ = raw.send(CallSpec::new("/normal").env_block().as_bytes()).await;
        assert_eq!(raw.line().await, None);
    }
    server.idle().await;
    assert_eq!(logs.count("connection refused by the admission policy"), 1, "{:#?}", logs.lines());
    assert_eq!(logs.count("127.0.0.1 is not on the IP allowlist"), 1);
    let report = server.shutdown().await;
    assert_eq!(report.in_flight, 0);
    logs.once("connections refused by the admission policy since the last report count=49");
}

#[tokio::test]
async fn an_admission_policy_can_deny_calls_by_their_environment() {
    let policy = IpAllowlist::new(["127.0.0.0/8", "::1"]).unwrap().and(admit_fn(|peer, env| {
        assert!(peer.is_some_and(|p| p.ip().is_loopback()));
        match env.context() {
            Some("blocked") => Admission::deny("context `blocked` may not use this server"),
            _ => Admission::Allow,
        }
    }));
    assert_eq!(policy.check_peer("127.0.0.1:1".parse().unwrap()), Admission::Allow);
    let server = start(with_normal_route(Router::new()), |s| s.admission(policy)).await;
    let (logs, _guard) = Logs::capture();
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("/normal").context("blocked")).await.unwrap();
    let end = peer.finish().await.unwrap();
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("DENIED"));
    assert_eq!(end.variable("FASTAGI_REASON"), Some("context `blocked` may not use this server"));
    normal_call(server.addr).await;
    server.idle().await;
    logs.once("call denied by the admission policy");
    server.shutdown().await;
}

/// With `max_connections` sockets held, the server stops accepting: the next connection
/// waits in the kernel's queue until one is released, then runs. A shutdown asked while
/// the accept loop waits for a free slot ends it.
#[tokio::test]
async fn max_connections_pauses_accepting_until_a_socket_is_released() {
    let _serial = SERIAL.lock().await;
    let server =
        start(with_normal_route(Router::new()), |s| s.max_connections(2).env_timeout(Duration::from_secs(120))).await;
    let first = Raw::connect(server.addr).await;
    let second = Raw::connect(server.addr).await;
    poll_until("the two silent connections are held", || server.stats.connections() == 2).await;

    // Connected by the kernel, but not accepted while both slots are held.
    let third = tokio::spawn(normal_call(server.addr));
    for _ in 0..50 {
        assert!(server.stats.connections() <= 2, "{} connections held", server.stats.connections());
        assert!(!third.is_finished(), "a third connection was served past the cap");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    drop(first);
    tokio::time::timeout(PATIENCE, third).await.expect("the third call ran once a slot was free").unwrap();

    let again = Raw::connect(server.addr).await;
    poll_until("both slots are held again", || server.stats.connections() == 2).await;
    let stats = server.stats.clone();
    let mut server = server;
    server.begin_shutdown();
    poll_until("the accept loop, waiting for a slot, stopped at the shutdown", || !stats.is_accepting()).await;
    drop((second, again));
    let report = server.shutdown().await;
    assert_eq!((report.in_flight, report.cut), (0, 0));
    assert_eq!(stats.connections(), 0);
}
