//! Servers taking turns under one load generator: each session is counted once, against
//! the server that played it, and each server is measured for the time asked.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use agi_bench::load::{self, RunConfig, Target};
use agi_runtime::StatusReporting;
use agi_runtime::prelude::*;
use tokio::net::TcpListener;

/// Calls each server has played, and is playing now.
static PLAYED: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static PLAYING: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
/// Set when a server plays a call while the other one is playing one: turns overlapped.
static OVERLAPPED: AtomicBool = AtomicBool::new(false);

async fn script(call: &mut Call, server: usize) -> AgiResult<()> {
    PLAYED[server].fetch_add(1, Ordering::SeqCst);
    PLAYING[server].fetch_add(1, Ordering::SeqCst);
    if PLAYING[1 - server].load(Ordering::SeqCst) > 0 {
        OVERLAPPED.store(true, Ordering::SeqCst);
    }
    let result = async {
        call.answer().await?;
        // A call that lasts (a prompt playing): the turn ends while calls are running.
        tokio::time::sleep(Duration::from_millis(20)).await;
        call.get_variable("CALLERID(num)").await?;
        call.stream_file("welcome", EscapeDigits::NONE).await?;
        call.set_variable("RESULT", "ok").await?;
        call.hangup().await
    }
    .await;
    PLAYING[server].fetch_sub(1, Ordering::SeqCst);
    result
}

#[agi_route("/bench")]
async fn first(call: &mut Call, extension: u32) -> AgiResult<()> {
    assert_eq!(extension, agi_bench::scenario::EXTENSION);
    script(call, 0).await
}

#[agi_route("/bench")]
async fn second(call: &mut Call, extension: u32) -> AgiResult<()> {
    assert_eq!(extension, agi_bench::scenario::EXTENSION);
    script(call, 1).await
}

async fn start(router: Router) -> Target {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::from_listener(listener).status_reporting(StatusReporting::default().report_success(false));
    tokio::spawn(server.serve(router));
    Target { addr, pid: None, alloc_stats: None }
}

#[tokio::test]
async fn each_session_counts_for_the_server_that_played_it() {
    let targets = vec![start(routes![first]).await, start(routes![second]).await];
    let measured = Duration::from_millis(300);
    let config = RunConfig {
        targets,
        concurrency: 8,
        warmup: Duration::from_millis(100),
        duration: Some(measured),
        turn: Duration::from_millis(50),
        sessions: 0,
        reply_delay: Duration::ZERO,
        env_delay: Duration::ZERO,
        session_timeout: Duration::from_secs(10),
    };
    let reports =
        tokio::time::timeout(Duration::from_secs(60), load::run(config)).await.expect("the run ended").unwrap();
    assert_eq!(reports.len(), 2);
    assert!(!OVERLAPPED.load(Ordering::SeqCst), "a server played a call during the other's turn");
    for (report, played) in reports.iter().zip(&PLAYED) {
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert!(report.sessions > 0);
        // The warm-up's calls are played, not counted.
        assert!(report.sessions < played.load(Ordering::SeqCst), "{} calls counted", report.sessions);
        assert_eq!(report.commands, 5 * report.sessions);
        // Six turns of 50 ms, each ending when its last session has (a few ms later).
        assert!(
            report.elapsed >= measured && report.elapsed < measured + Duration::from_secs(5),
            "{:?}",
            report.elapsed
        );
    }
}

#[tokio::test]
async fn several_servers_need_a_duration() {
    let target = Target { addr: ([127, 0, 0, 1], 9).into(), pid: None, alloc_stats: None };
    let config = RunConfig {
        targets: vec![target.clone(), target],
        concurrency: 1,
        warmup: Duration::ZERO,
        duration: None,
        turn: Duration::from_millis(50),
        sessions: 1,
        reply_delay: Duration::ZERO,
        env_delay: Duration::ZERO,
        session_timeout: Duration::from_secs(1),
    };
    assert!(load::run(config).await.is_err());
}
