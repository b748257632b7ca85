//! `agi-sim` run as a program against the `caller-record` example server (served on
//! `127.0.0.1:0`), and against servers that misbehave.

#[allow(dead_code)]
#[path = "../../examples/caller_record.rs"]
mod caller_record;

use std::net::SocketAddr;
use std::process::{Command, Output};

use agi_runtime::Server;
use agi_runtime::testing::Transcript;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Runs `agi-sim` with `args` (on the blocking pool, the server keeps running).
async fn agi_sim(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || Command::new(env!("CARGO_BIN_EXE_agi-sim")).args(args).output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn caller_record_server() -> SocketAddr {
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.serve(caller_record::app()));
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_the_example_server_prints_the_transcript_and_the_status() {
    let addr = caller_record_server().await;
    let url = format!("agi://{addr}/GetCallerRecord?extension=5551212");
    let out = agi_sim(&["call", &url, "--arg", "foo", "--caller-id", "5551212", "--digits", "1#"]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(!stdout.contains('\x1b'), "no colour when not on a terminal");
    for expected in [
        "A: agi_network_script: GetCallerRecord?extension=5551212",
        "A: agi_arg_1: foo",
        "S: ANSWER",
        "A: 200 result=0",
        "S: SET VARIABLE CUSTOMER_NAME \"Alice Martin\"",
        "-- the server closed the connection",
        "A: HANGUP",
        "  CUSTOMER_TIER   gold",
        "  AGISTATUS       SUCCESS  (set by Asterisk when AGI() returns)",
        "  FASTAGI_STATUS  SUCCESS",
        "  keys left       1#",
    ] {
        assert!(stdout.contains(expected), "missing `{expected}` in:\n{stdout}");
    }

    // The caller hanging up during the second command.
    let out = agi_sim(&["call", &url, "--hangup-after", "2", "--color", "always"]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("\x1b[1;31mHANGUP\x1b[0m"), "{stdout}");
    assert!(stdout.contains("(the caller hung up)"), "{stdout}");

    // --json prints the transcript file format.
    let out = agi_sim(&["call", &format!("agi://{addr}/CallerWantsCustomerService?lang=es"), "--json"]).await;
    assert_eq!(out.status.code(), Some(0));
    let transcript = Transcript::from_json(&text(&out.stdout)).unwrap();
    assert_eq!(transcript.script, "CallerWantsCustomerService?lang=es");
    assert_eq!(
        transcript.commands().collect::<Vec<_>>(),
        ["SET VARIABLE SERVICE_QUEUE support-standard-es", "SET VARIABLE FASTAGI_STATUS SUCCESS"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_call_replays_against_the_server() {
    let addr = caller_record_server().await;
    let url = format!("agi://{addr}/GetCallerRecord?extension=5551234");
    let out = agi_sim(&["call", &url, "--json"]).await;
    let file = std::env::temp_dir().join(format!("agi-sim-replay-{}.json", std::process::id()));
    std::fs::write(&file, &out.stdout).unwrap();
    let out = agi_sim(&["replay", file.to_str().unwrap(), &format!("agi://{addr}")]).await;
    let _ = std::fs::remove_file(&file);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).ends_with("replayed 5 commands byte for byte\n"), "{}", text(&out.stdout));
}

/// A server that answers nothing and never closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_closes_fails_the_run() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        // Reads the environment block and everything after, says nothing.
        while stream.read(&mut buf).await.unwrap_or(0) > 0 {}
    });
    let out = agi_sim(&["call", &format!("agi://{addr}/x"), "--timeout", "200ms"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "agi-sim: the server neither sent a command nor closed the connection within 200ms\n"
    );
    silent.abort();
}

/// A server that sends two commands at once: Asterisk would strand the second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_pipelines_commands_fails_the_run() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let rude = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut env = Vec::new();
        let mut byte = [0u8; 1];
        while !env.ends_with(b"\n\n") {
            stream.read_exact(&mut byte).await.unwrap();
            env.push(byte[0]);
        }
        stream.write_all(b"ANSWER\nNOOP\n").await.unwrap();
        let mut buf = [0u8; 256];
        let mut replies = Vec::new();
        while !replies.ends_with(b"200 result=0\n200 result=0\n") {
            let n = stream.read(&mut buf).await.unwrap();
            replies.extend_from_slice(&buf[..n]);
        }
        stream.shutdown().await.unwrap();
    });
    let out = agi_sim(&["call", &format!("agi://{addr}/x")]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains(
            "protocol violation: a command arrived before the reply to the previous one; Asterisk would leave it unread"
        ),
        "{}",
        text(&out.stdout)
    );
    rude.await.unwrap();
}

#[tokio::test]
async fn wrong_command_lines_and_unreachable_servers() {
    let out = agi_sim(&["call"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("agi-sim: call needs the URL of the server"));
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let out = agi_sim(&["call", &format!("agi://{addr}/x"), "--digits", "12x"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "agi-sim: the simulated call is set up wrong: 'X' is not a key: use 0-9, *, #, A-D, or w to wait\n(agi-sim --help shows the usage)\n"
    );
    let out = agi_sim(&["call", &format!("agi://{addr}/x")]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("agi-sim: could not reach the server"), "{}", text(&out.stderr));
    let out = agi_sim(&["--help"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("agi-sim call agi://HOST[:PORT]/SCRIPT[?QUERY] [options]"));
}
