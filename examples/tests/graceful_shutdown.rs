//! The graceful-shutdown example: its route driven by the fake Asterisk (in virtual
//! time, so the slow back end costs nothing), and the program itself run as a process,
//! told to stop with SIGTERM in the middle of a call.

#[allow(dead_code)]
#[path = "../graceful_shutdown.rs"]
mod graceful_shutdown;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use agi_runtime::testing::{CallSpec, FakeAsterisk, ScriptedPeer};
use tokio::sync::mpsc;

#[tokio::test(start_paused = true)]
async fn the_lookup_hands_the_balance_to_the_dialplan() {
    let report =
        FakeAsterisk::new(CallSpec::new("/SlowLookup?account=42")).call(graceful_shutdown::app()).await.unwrap();
    assert_eq!(report.variable("BALANCE"), Some("4200"));
    assert_eq!(report.status(), Some("SUCCESS"));
    assert_eq!(report.agi_status(), "SUCCESS");
}

#[tokio::test(start_paused = true)]
async fn a_caller_hanging_up_during_the_lookup_stops_it() {
    let report = FakeAsterisk::new(CallSpec::new("/SlowLookup?account=42"))
        .hangup_after(Duration::from_millis(50))
        .call(graceful_shutdown::app())
        .await
        .unwrap();
    assert_eq!(report.variable("BALANCE"), None, "the back end's answer came too late");
    assert_eq!(report.status(), Some("HANGUP"));
    assert_eq!(report.agi_status(), "HANGUP");
}

#[tokio::test(start_paused = true)]
async fn a_caller_hanging_up_during_the_hold_prompt_is_not_kept_waiting() {
    let report = FakeAsterisk::new(CallSpec::new("/SlowLookup?account=42"))
        .hangup_during("STREAM FILE")
        .call(graceful_shutdown::app())
        .await
        .unwrap();
    assert_eq!(report.variable("BALANCE"), None);
    assert_eq!(report.status(), Some("HANGUP"));
    assert_eq!(report.commands()[..2], ["ANSWER", "STREAM FILE please-hold \"\""]);
}

/// The example running as its own process, its output lines forwarded to the test.
struct Process {
    child: std::process::Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Process {
    fn start() -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_graceful-shutdown-server"))
            .arg("127.0.0.1:0")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Process { child, lines }
    }

    /// Waits for an output line containing `text`, and returns it.
    async fn line_with(&mut self, text: &str) -> String {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(20), self.lines.recv())
                .await
                .unwrap_or_else(|_| panic!("no line with `{text}` in time"))
                .unwrap_or_else(|| panic!("the process ended before printing `{text}`"));
            if line.contains(text) {
                return line;
            }
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Only if the test failed before the process exited on its own.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_call_in_flight_finish_then_the_process_exits_0() {
    let mut process = Process::start();
    let listening = process.line_with("listening on ").await;
    let addr: SocketAddr = listening.trim_start_matches("listening on ").parse().unwrap();

    let mut asterisk = ScriptedPeer::connect(addr, &CallSpec::new("/SlowLookup?account=7")).await.unwrap();
    asterisk.expect("ANSWER").await.unwrap();
    // The call is in flight, waiting for Asterisk's reply: now the service is told to stop.
    process.terminate();
    process.line_with("no longer accepting calls").await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "new calls are refused");

    asterisk.send("200 result=0").await.unwrap();
    asterisk.exchange("STREAM FILE please-hold \"\"", "200 result=0 endpos=8000").await.unwrap();
    asterisk.exchange("SET VARIABLE BALANCE 700", "200 result=1").await.unwrap();
    assert_eq!(asterisk.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));

    process.line_with("stopped: 1 calls were running, 0 were cut").await;
    let status = tokio::task::spawn_blocking(move || process.child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(0));
}
