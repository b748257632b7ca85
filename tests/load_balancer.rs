//! Scale-out: two server instances behind a real TCP load balancer (HAProxy, from
//! Debian's `haproxy` package) on loopback. One instance is stopped under load: the
//! calls in flight on it complete, and new calls go to the survivor without a failure.
//!
//! The test needs the `haproxy` binary. Without it, it prints why and passes, unless
//! `AGI_REQUIRE_HAPROXY` is set (as `.ci/run` does after installing it), where a missing
//! binary fails the test.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use agi_runtime::Server;
use support::{PATIENCE, handover, named_router, poll_until, serve};

fn find_haproxy() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("haproxy"))
        .find(|candidate| candidate.is_file())
}

/// The configuration a deployment would use (see `docs/DEPLOYMENT.md`), with short
/// health-check intervals so the test runs fast.
fn config(front: u16, backends: [std::net::SocketAddr; 2]) -> String {
    format!(
        "global
    maxconn 4096

defaults
    mode tcp
    timeout connect 1s
    # A FastAGI session lasts as long as the call: never cut one for being idle.
    timeout client 4h
    timeout server 4h
    # A refused connection (an instance restarting) is retried on another instance.
    retries 3
    option redispatch 1

frontend fastagi
    bind 127.0.0.1:{front}
    default_backend fastagi

backend fastagi
    balance leastconn
    server old {old} check inter 100ms fall 1 rise 2
    server new {new} check inter 100ms fall 1 rise 2
",
        old = backends[0],
        new = backends[1],
    )
}

/// A port free right now on loopback (the balancer needs a number to bind).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behind_haproxy_one_stopped_under_load() {
    let Some(haproxy) = find_haproxy() else {
        assert!(
            std::env::var_os("AGI_REQUIRE_HAPROXY").is_none(),
            "AGI_REQUIRE_HAPROXY is set but no haproxy binary was found"
        );
        println!("skipped: haproxy is not installed (`apt-get install haproxy`; .ci/run installs it)");
        return;
    };
    let old = serve(Server::bind("127.0.0.1:0").await.unwrap().shutdown_grace(PATIENCE), named_router("old"));
    let new = serve(Server::bind("127.0.0.1:0").await.unwrap(), named_router("new"));

    let front = free_port();
    let dir = std::env::temp_dir().join(format!("agi-lb-test-{}-{front}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config_path = dir.join("haproxy.cfg");
    std::fs::write(&config_path, config(front, [old.addr, new.addr])).unwrap();
    let mut balancer = start_haproxy(&haproxy, &config_path);
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], front).into();
    // The balancer is ready once its port accepts; nothing else tells.
    let ready = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = {
        let ready = ready.clone();
        tokio::spawn(async move {
            while tokio::net::TcpStream::connect(addr).await.is_err() {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            ready.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    poll_until("haproxy did not start listening", || ready.load(std::sync::atomic::Ordering::SeqCst)).await;
    probe.await.unwrap();

    let new = handover(addr, old, async move { new }).await;
    new.shutdown().await;
    balancer.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

fn start_haproxy(haproxy: &Path, config: &Path) -> tokio::process::Child {
    tokio::process::Command::new(haproxy)
        .arg("-f")
        .arg(config)
        // Foreground, no master process: the test owns exactly this process.
        .arg("-db")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("haproxy starts")
}
