//! Servers taking turns under one load generator: each session is counted once, against
//! the server that played it, and each server is measured for the time asked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agi_bench::load::{self, RunConfig, Target};
use agi_runtime::StatusReporting;
use agi_runtime::prelude::*;
use tokio::net::TcpListener;

static PLAYED_BY_FIRST: AtomicU64 = AtomicU64::new(0);
static PLAYED_BY_SECOND: AtomicU64 = AtomicU64::new(0);

async fn script(call: &mut Call) -> AgiResult<()> {
    call.answer().await?;
    call.get_variable("CALLERID(num)").await?;
    call.stream_file("welcome", EscapeDigits::NONE).await?;
    call.set_variable("RESULT", "ok").await?;
    call.hangup().await?;
    Ok(())
}

#[agi_route("/bench")]
async fn first(call: &mut Call, extension: u32) -> AgiResult<()> {
    assert_eq!(extension, agi_bench::scenario::EXTENSION);
    PLAYED_BY_FIRST.fetch_add(1, Ordering::Relaxed);
    script(call).await
}

#[agi_route("/bench")]
async fn second(call: &mut Call, extension: u32) -> AgiResult<()> {
    assert_eq!(extension, agi_bench::scenario::EXTENSION);
    PLAYED_BY_SECOND.fetch_add(1, Ordering::Relaxed);
    script(call).await
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
        warmup: Duration::ZERO,
        duration: Some(measured),
        turn: Duration::from_millis(50),
        sessions: 0,
        reply_delay: Duration::ZERO,
        session_timeout: Duration::from_secs(10),
    };
    let reports = load::run(config).await.unwrap();
    assert_eq!(reports.len(), 2);
    for (report, played) in reports.iter().zip([&PLAYED_BY_FIRST, &PLAYED_BY_SECOND]) {
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert!(report.sessions > 0);
        assert_eq!(report.sessions, played.load(Ordering::Relaxed));
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
        session_timeout: Duration::from_secs(1),
    };
    assert!(load::run(config).await.is_err());
}
