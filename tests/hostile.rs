//! The conformance suite of broken and hostile peers.
//!
//! For each misbehaviour: the server stays up (a normal call is served afterwards),
//! other calls are unaffected, every resource is released (the server's connection
//! count returns to zero), and the log says what happened once, not in a loop.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use agi_runtime::testing::{CallSpec, ScriptedPeer};
use agi_runtime::{AgiError, AgiResult, Router, handler_fn};
use support::{Logs, PATIENCE, Raw, normal_call, start, with_normal_route};
use tokio::sync::mpsc;

/// A channel the handlers report into, so tests can assert what a handler saw.
fn probe() -> (Arc<mpsc::UnboundedSender<String>>, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(tx), rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(PATIENCE, rx.recv()).await.expect("the handler reported in time").unwrap()
}

/// `/script`: the session every split test replays. Every command it sends works on a
/// dead channel, so a `HANGUP` anywhere changes no reply.
fn script_router(seen: Arc<mpsc::UnboundedSender<String>>) -> Router {
    let router = Router::new()
        .route(
            "/script",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    call.verbose("hi").await?;
                    call.noop().await?;
                    let usage = match call.command(["DATABASE", "GET", "fam"]).await {
                        Err(AgiError::InvalidSyntax { usage, .. }) => usage,
                        other => Some(format!("unexpected {other:?}")),
                    };
                    let x = call.get_variable("X").await?;
                    seen.send(format!("usage={usage:?} x={x:?} args={:?}", call.env().args().collect::<Vec<_>>()))
                        .unwrap();
                    Ok::<(), AgiError>(())
                })
            }),
        )
        .unwrap();
    with_normal_route(router)
}

const SCRIPT_COMMANDS: [&str; 4] = ["VERBOSE hi 1", "NOOP", "DATABASE GET fam", "GET VARIABLE X"];
const SCRIPT_REPLIES: [&str; 4] = [
    "200 result=1\n",
    "HANGUP\n200 result=0\n",
    "520-Invalid command syntax.  Proper usage follows:\nExample return code: 200 result=1 (v)\n520 End of proper usage.\n",
    "200 result=1 (x)\n",
];
const SCRIPT_SEEN: &str =
    "usage=Some(\"Example return code: 200 result=1 (v)\") x=Some(\"x\") args=[\"one\", \"two words\", \"\"]";

fn script_spec() -> CallSpec {
    CallSpec::new("/script?a=1").args(["one", "two words", ""]).variable("agi_extra", "x: y")
}

/// Plays `/script` with the env block and each reply written by `write`, which may
/// split the bytes as it likes.
async fn play_script<W, F>(addr: std::net::SocketAddr, mut write: W)
where
    W: FnMut(usize, Vec<u8>, Raw) -> F,
    F: Future<Output = Raw>,
{
    let mut raw = Raw::connect(addr).await;
    raw = write(0, script_spec().env_block().into_bytes(), raw).await;
    for (index, (command, reply)) in SCRIPT_COMMANDS.iter().zip(SCRIPT_REPLIES).enumerate() {
        raw.expect(command).await;
        raw = write(index + 1, reply.as_bytes().to_vec(), raw).await;
    }
    raw.expect("SET VARIABLE FASTAGI_STATUS SUCCESS").await;
    raw.send(b"200 result=1\n").await.unwrap();
    assert_eq!(raw.line().await, None, "the server closes after the report");
    raw.send(b"HANGUP\n").await.unwrap();
    raw.eof().await;
}

#[tokio::test]
async fn one_byte_per_write_everywhere() {
    let (seen, mut saw) = probe();
    let server = start(script_router(seen), |s| s).await;
    let (logs, _guard) = Logs::capture();
    play_script(server.addr, |_, bytes, mut raw| async move {
        raw.send_bytewise(&bytes).await.unwrap();
        raw
    })
    .await;
    assert_eq!(next(&mut saw).await, SCRIPT_SEEN);
    server.idle().await;
    assert_eq!(logs.problems(), Vec::<String>::new());
    server.shutdown().await;
}

#[tokio::test]
async fn every_split_position_of_every_part_reads_the_same() {
    let (seen, mut saw) = probe();
    let server = start(script_router(seen), |s| s).await;
    let (logs, _guard) = Logs::capture();
    let parts: Vec<usize> =
        std::iter::once(script_spec().env_block().len()).chain(SCRIPT_REPLIES.iter().map(|r| r.len())).collect();
    let mut sessions = 0;
    for (part, len) in parts.iter().enumerate() {
        for split in 1..*len {
            play_script(server.addr, |index, bytes, mut raw| async move {
                if index == part {
                    raw.send(&bytes[..split]).await.unwrap();
                    tokio::task::yield_now().await;
                    raw.send(&bytes[split..]).await.unwrap();
                } else {
                    raw.send(&bytes).await.unwrap();
                }
                raw
            })
            .await;
            assert_eq!(next(&mut saw).await, SCRIPT_SEEN, "part {part} split at {split}");
            sessions += 1;
        }
    }
    assert!(sessions > 700, "{sessions} sessions");
    server.idle().await;
    assert_eq!(logs.problems(), Vec::<String>::new());
    server.shutdown().await;
}

#[tokio::test]
async fn a_hangup_line_at_every_point_changes_no_reply() {
    let (seen, mut saw) = probe();
    let server = start(script_router(seen), |s| s).await;
    let (logs, _guard) = Logs::capture();
    // Before each reply, after each reply (while no command runs), and before the report.
    for point in 0..SCRIPT_REPLIES.len() * 2 + 1 {
        let mut raw = Raw::connect(server.addr).await;
        raw.send_env(&script_spec()).await;
        for (index, (command, reply)) in SCRIPT_COMMANDS.iter().zip(SCRIPT_REPLIES).enumerate() {
            if point == index * 2 {
                // Unsolicited, before the command is even read.
                raw.send(b"HANGUP\n").await.unwrap();
            }
            raw.expect(command).await;
            if point == index * 2 + 1 {
                raw.send(b"HANGUP\n").await.unwrap();
            }
            raw.send(reply.as_bytes()).await.unwrap();
        }
        assert_eq!(next(&mut saw).await, SCRIPT_SEEN, "HANGUP at point {point}");
        if point == SCRIPT_REPLIES.len() * 2 {
            raw.send(b"HANGUP\n").await.unwrap();
        }
        raw.expect("SET VARIABLE FASTAGI_STATUS SUCCESS").await;
        raw.send(b"HANGUP\n200 result=1\n").await.unwrap();
        assert_eq!(raw.line().await, None);
        raw.eof().await;
    }
    server.idle().await;
    assert_eq!(logs.problems(), Vec::<String>::new());
    server.shutdown().await;
}

/// Where a peer can vanish during `/steps` (ANSWER, NOOP, then the status report).
#[derive(Debug, Clone, Copy)]
enum Step {
    BeforeAnything,
    MidEnvironment,
    AfterEnvironment,
    AwaitingReply,
    MidReply,
    BetweenCommands,
    DuringReport,
    DuringLinger,
}

const STEPS: [Step; 8] = [
    Step::BeforeAnything,
    Step::MidEnvironment,
    Step::AfterEnvironment,
    Step::AwaitingReply,
    Step::MidReply,
    Step::BetweenCommands,
    Step::DuringReport,
    Step::DuringLinger,
];

#[tokio::test]
async fn eof_and_reset_at_every_step_release_everything() {
    let (seen, mut saw) = probe();
    let router = Router::new()
        .route(
            "/steps",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    let result: AgiResult<()> = async {
                        call.answer().await?;
                        call.noop().await
                    }
                    .await;
                    seen.send(format!("{result:?}")).unwrap();
                    result
                })
            }),
        )
        .unwrap();
    let server = start(with_normal_route(router), |s| s).await;
    let (logs, _guard) = Logs::capture();
    let spec = CallSpec::new("/steps");
    let block = spec.env_block();
    for reset in [false, true] {
        for step in STEPS {
            logs.clear();
            let mut raw = Raw::connect(server.addr).await;
            let vanish = |mut raw: Raw| async move {
                if reset {
                    raw.reset();
                } else {
                    raw.eof().await;
                    // The server closes its side too, at once.
                    while raw.line().await.is_some() {}
                }
            };
            let context = format!("{step:?} with {}", if reset { "a reset" } else { "end of stream" });
            match step {
                Step::BeforeAnything => vanish(raw).await,
                Step::MidEnvironment => {
                    raw.send(&block.as_bytes()[..block.len() / 2]).await.unwrap();
                    vanish(raw).await;
                }
                Step::AfterEnvironment => {
                    raw.send(block.as_bytes()).await.unwrap();
                    vanish(raw).await;
                    let seen = next(&mut saw).await;
                    assert!(seen == "Err(Disconnected)", "{context}: {seen}");
                }
                Step::AwaitingReply | Step::MidReply | Step::BetweenCommands => {
                    raw.send(block.as_bytes()).await.unwrap();
                    raw.expect("ANSWER").await;
                    match step {
                        Step::MidReply => raw.send(b"200 res").await.unwrap(),
                        Step::BetweenCommands => raw.send(b"200 result=0\n").await.unwrap(),
                        _ => {}
                    }
                    vanish(raw).await;
                    assert_eq!(next(&mut saw).await, "Err(Disconnected)", "{context}");
                }
                Step::DuringReport | Step::DuringLinger => {
                    raw.send(block.as_bytes()).await.unwrap();
                    raw.expect("ANSWER").await;
                    raw.send(b"200 result=0\n").await.unwrap();
                    raw.expect("NOOP").await;
                    raw.send(b"200 result=0\n").await.unwrap();
                    assert_eq!(next(&mut saw).await, "Ok(())", "{context}");
                    raw.expect("SET VARIABLE FASTAGI_STATUS SUCCESS").await;
                    if matches!(step, Step::DuringLinger) {
                        raw.send(b"200 result=1\n").await.unwrap();
                        assert_eq!(raw.line().await, None, "{context}: the server half-closes");
                    }
                    vanish(raw).await;
                }
            }
            server.idle().await;
            assert!(logs.problems().len() <= 1, "{context}: {:#?}", logs.lines());
            assert_eq!(logs.count("panicked"), 0, "{context}");
            normal_call(server.addr).await;
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_environment_block_that_never_ends_is_timed_out_once() {
    let server = start(with_normal_route(Router::new()), |s| s.env_timeout(Duration::from_millis(200))).await;
    let (logs, _guard) = Logs::capture();
    let mut raw = Raw::connect(server.addr).await;
    raw.send(b"agi_network: yes\nagi_request: agi://x/normal\n").await.unwrap();
    normal_call(server.addr).await;
    let started = Instant::now();
    raw.expect_close().await;
    assert!(started.elapsed() < Duration::from_secs(5), "closed after {:?}", started.elapsed());
    server.idle().await;
    logs.once("no complete environment block within 200ms");
    assert_eq!(logs.problems(), Vec::<String>::new(), "a silent peer is not a problem worth a warning");
    server.shutdown().await;
}

/// Sends `bytes` as an environment block and expects the server to close without
/// running anything, logging `expected` once.
async fn refused_block(bytes: Vec<u8>, expected: &str) {
    let server = start(with_normal_route(Router::new()), |s| s).await;
    let (logs, _guard) = Logs::capture();
    let mut raw = Raw::connect(server.addr).await;
    // The server stops reading mid-way: a write error is expected.
    let _ = raw.send(&bytes).await;
    raw.expect_close().await;
    drop(raw);
    normal_call(server.addr).await;
    server.idle().await;
    logs.once(expected);
    assert_eq!(logs.count("environment block"), 1, "{:#?}", logs.lines());
    server.shutdown().await;
}

#[tokio::test]
async fn an_environment_block_of_100_000_lines_is_refused_at_the_cap() {
    let mut block = Vec::new();
    for i in 0..100_000 {
        block.extend_from_slice(format!("agi_var_{i}: value\n").as_bytes());
    }
    block.push(b'\n');
    refused_block(block, "environment block has more than 256 lines").await;
}

#[tokio::test]
async fn an_environment_line_of_1_mib_is_refused_at_the_cap() {
    let mut block = b"agi_network: yes\nagi_channel: ".to_vec();
    block.extend(std::iter::repeat_n(b'x', 1024 * 1024));
    block.extend_from_slice(b"\n\n");
    refused_block(block, "environment line longer than 8192 bytes").await;
}

#[tokio::test]
async fn an_environment_block_over_its_total_size_is_refused() {
    let mut block = Vec::new();
    for i in 0..20 {
        block.extend_from_slice(format!("agi_arg_{i}: {}\n", "y".repeat(8000)).as_bytes());
    }
    block.push(b'\n');
    refused_block(block, "environment block is larger than 65536 bytes").await;
}

#[tokio::test]
async fn an_environment_line_with_a_nul_in_its_name_is_refused() {
    refused_block(b"agi_network: yes\nagi_\0channel: x\n\n".to_vec(), "environment line 2 is not `name: value`").await;
}

#[tokio::test]
async fn odd_but_valid_environment_blocks_are_served() {
    let (seen, mut saw) = probe();
    let router = Router::new()
        .route(
            "/",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    let env = call.env();
                    let channel = env.channel().unwrap_or_default().to_owned();
                    seen.send(format!("{} {channel:?} {:?} {:?}", env.path(), env.caller_id_name(), env.arg(1)))
                        .unwrap();
                    // A NUL from the peer cannot travel back into a command.
                    let echoed = call.set_variable("CHANNEL_COPY", &channel).await;
                    seen.send(format!("{echoed:?}")).unwrap();
                    Ok::<(), AgiError>(())
                })
            }),
        )
        .unwrap();
    let server = start(with_normal_route(router), |s| s).await;
    let (logs, _guard) = Logs::capture();
    let blocks: [&[u8]; 4] = [
        // CRLF line endings, the empty line too.
        b"agi_network: yes\r\nagi_channel: SIP/a\r\nagi_calleridname: Bob\r\nagi_arg_1: one\r\n\r\n",
        // Invalid UTF-8 and a NUL inside values; no agi_network_script at all.
        b"agi_channel: SIP/\xff\xfe\0x\nagi_calleridname: Jos\xe9\n\n",
        // Duplicate names: the first one counts.
        b"agi_channel: first\nagi_channel: second\nagi_arg_1: a\nagi_arg_1: b\n\n",
        // Only the end of the block.
        b"\n",
    ];
    let expected = [
        ("/ \"SIP/a\" Some(\"Bob\") Some(\"one\")", "Ok(())"),
        ("/ \"SIP/\u{fffd}\u{fffd}\\0x\" Some(\"Jos\u{fffd}\") None", "Err(Command(ForbiddenByte {"),
        ("/ \"first\" None Some(\"a\")", "Ok(())"),
        ("/ \"\" None None", "Ok(())"),
    ];
    for (block, (first, second)) in blocks.iter().zip(expected) {
        let mut peer = ScriptedPeer::silent(tokio::net::TcpStream::connect(server.addr).await.unwrap());
        peer.send_bytes(block).await.unwrap();
        assert_eq!(next(&mut saw).await, first);
        if second == "Ok(())" {
            let command = peer.next_command().await.unwrap().unwrap();
            assert!(command.starts_with("SET VARIABLE CHANNEL_COPY "), "{command}");
            peer.send("200 result=1").await.unwrap();
        }
        let echoed = next(&mut saw).await;
        assert!(echoed.starts_with(second), "{echoed}");
        assert_eq!(peer.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
    }
    server.idle().await;
    assert_eq!(logs.problems(), Vec::<String>::new());
    server.shutdown().await;
}

/// `/answer`: answers and reports what ANSWER returned and what the next command did.
fn answer_router(seen: Arc<mpsc::UnboundedSender<String>>, timeout: Option<Duration>) -> Router {
    let router = Router::new()
        .route(
            "/answer",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    call.set_command_timeout(timeout);
                    let answered = call.answer().await;
                    let next = call.noop().await;
                    seen.send(format!("{answered:?} / {next:?}")).unwrap();
                    answered
                })
            }),
        )
        .unwrap();
    with_normal_route(router)
}

#[tokio::test]
async fn a_reply_that_never_comes_times_out_with_a_command_timeout() {
    let (seen, mut saw) = probe();
    let server = start(answer_router(seen, Some(Duration::from_millis(100))), |s| s).await;
    let (logs, _guard) = Logs::capture();
    let mut raw = Raw::connect(server.addr).await;
    raw.send_env(&CallSpec::new("/answer")).await;
    raw.expect("ANSWER").await;
    normal_call(server.addr).await;
    let seen = next(&mut saw).await;
    assert!(seen.starts_with("Err(Timeout { command: \"ANSWER\", timeout: 100ms }) / Err(Broken("), "{seen}");
    // Out of step: nothing more is sent, the server closes.
    assert_eq!(raw.line().await, None);
    drop(raw);
    server.idle().await;
    logs.once("handler failed");
    assert_eq!(logs.problems().len(), 1, "{:#?}", logs.lines());
    server.shutdown().await;
}

#[tokio::test]
async fn a_reply_that_never_comes_waits_without_a_timeout_until_the_peer_goes() {
    let (seen, mut saw) = probe();
    let server = start(answer_router(seen, None), |s| s.hangup_grace(Some(Duration::from_millis(100)))).await;
    let (logs, _guard) = Logs::capture();

    // The peer goes away: the wait ends with the connection.
    let mut raw = Raw::connect(server.addr).await;
    raw.send_env(&CallSpec::new("/answer")).await;
    raw.expect("ANSWER").await;
    normal_call(server.addr).await;
    assert_eq!(server.stats.calls(), 1, "the waiting call still runs");
    raw.eof().await;
    assert_eq!(next(&mut saw).await, "Err(Disconnected) / Err(Disconnected)");
    server.idle().await;

    // The peer says HANGUP but never replies: the hangup grace ends the wait.
    let mut raw = Raw::connect(server.addr).await;
    raw.send_env(&CallSpec::new("/answer")).await;
    raw.expect("ANSWER").await;
    raw.send(b"HANGUP\n").await.unwrap();
    assert_eq!(raw.line().await, None, "closed once the grace is over");
    drop(raw);
    server.idle().await;
    logs.once("handler still running after the hangup deadline; stopped");
    assert_eq!(logs.problems().len(), 1, "{:#?}", logs.lines());
    server.shutdown().await;
}

#[tokio::test]
async fn replies_to_no_command_are_protocol_errors_logged_once() {
    let (seen, mut saw) = probe();
    let server = start(answer_router(seen, None), |s| s).await;
    let (logs, _guard) = Logs::capture();

    // A reply before any command was sent.
    let mut raw = Raw::connect(server.addr).await;
    let mut bytes = CallSpec::new("/answer").env_block().into_bytes();
    bytes.extend_from_slice(b"200 result=0\n");
    raw.send(&bytes).await.unwrap();
    let seen = next(&mut saw).await;
    assert!(seen.starts_with("Err(Protocol(\"Asterisk sent `200 result=0` while no command was running\""), "{seen}");
    assert_eq!(raw.line().await, None);
    drop(raw);
    server.idle().await;
    logs.once("WARN protocol error detail=");

    // Two replies to one command: the second is noticed before the next command.
    logs.clear();
    let mut raw = Raw::connect(server.addr).await;
    raw.send_env(&CallSpec::new("/answer")).await;
    raw.expect("ANSWER").await;
    raw.send(b"200 result=0\n200 result=0\n").await.unwrap();
    let seen = next(&mut saw).await;
    assert!(seen.starts_with("Ok(()) / Err(Protocol(\"Asterisk sent `200 result=0`"), "{seen}");
    assert_eq!(raw.line().await, None, "the call is out of step: no report, just the close");
    drop(raw);
    server.idle().await;
    logs.once("WARN protocol error detail=");
    normal_call(server.addr).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_stream_of_hangup_lines_cannot_keep_a_command_waiting() {
    let (seen, mut saw) = probe();
    let server = start(answer_router(seen, None), |s| s).await;
    let (logs, _guard) = Logs::capture();
    let mut raw = Raw::connect(server.addr).await;
    raw.send_env(&CallSpec::new("/answer")).await;
    raw.expect("ANSWER").await;
    let flood = "HANGUP\n".repeat(1000);
    let _ = raw.send(flood.as_bytes()).await;
    let seen = next(&mut saw).await;
    assert!(seen.starts_with("Err(Protocol(\"`ANSWER` got 17 lines that are not its reply\")"), "{seen}");
    drop(raw);
    server.idle().await;
    logs.once("WARN protocol error detail=");
    normal_call(server.addr).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_usage_block_that_never_ends_is_cut() {
    let (seen, mut saw) = probe();
    let router = Router::new()
        .route(
            "/usage",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    if call.env().arg(1) == Some("timeout") {
                        call.set_command_timeout(Some(Duration::from_millis(100)));
                    }
                    let result = call.command(["DATABASE", "GET"]).await.map(drop);
                    seen.send(format!("{result:?}")).unwrap();
                    result
                })
            }),
        )
        .unwrap();
    let server = start(with_normal_route(router), |s| s).await;
    let (logs, _guard) = Logs::capture();

    // Lines forever: cut after the cap on usage lines.
    let mut raw = Raw::connect(server.addr).await;
    raw.send_env(&CallSpec::new("/usage")).await;
    raw.expect("DATABASE GET").await;
    let block = format!("520-Invalid command syntax.  Proper usage follows:\n{}", "usage line\n".repeat(1000));
    let _ = raw.send(block.as_bytes()).await;
    let seen = next(&mut saw).await;
    assert!(seen.starts_with("Err(Protocol(\"a 520 usage block did not end within 200 lines\""), "{seen}");
    drop(raw);
    server.idle().await;
    logs.once("WARN protocol error detail=");

    // A block that stops: the command timeout ends the wait.
    let mut raw = Raw::connect(server.addr).await;
    raw.send_env(&CallSpec::new("/usage").arg("timeout")).await;
    raw.expect("DATABASE GET").await;
    raw.send(b"520-Invalid command syntax.  Proper usage follows:\nsome usage\n").await.unwrap();
    let seen = next(&mut saw).await;
    assert!(seen.starts_with("Err(Timeout { command: \"DATABASE\""), "{seen}");
    drop(raw);
    server.idle().await;
    normal_call(server.addr).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_stray_line_ends_a_wait_for_the_hangup() {
    let (seen, mut saw) = probe();
    let router = Router::new()
        .route(
            "/wait",
            handler_fn(move |call| {
                let seen = seen.clone();
                Box::pin(async move {
                    call.answer().await?;
                    let waited = call.or_hangup(std::future::pending::<()>()).await;
                    let next = call.noop().await;
                    seen.send(format!("{waited:?} / {next:?}")).unwrap();
                    next
                })
            }),
        )
        .unwrap();
    let server = start(with_normal_route(router), |s| s).await;
    let (logs, _guard) = Logs::capture();
    let mut raw = Raw::connect(server.addr).await;
    raw.send_env(&CallSpec::new("/wait")).await;
    raw.expect("ANSWER").await;
    raw.send(b"200 result=0\n").await.unwrap();
    raw.send(b"this is not AGI\n").await.unwrap();
    let seen = next(&mut saw).await;
    assert!(seen.starts_with("Err(HungUp) / Err(Broken("), "{seen}");
    assert_eq!(raw.line().await, None);
    drop(raw);
    server.idle().await;
    logs.once("WARN protocol error detail=");
    server.shutdown().await;
}

#[tokio::test]
async fn a_panicking_handler_is_logged_once_and_releases_its_slot() {
    let router = Router::new()
        .route(
            "/panic",
            handler_fn(|call| {
                Box::pin(async move {
                    call.answer().await?;
                    panic!("handler bug");
                    #[allow(unreachable_code)]
                    Ok::<(), AgiError>(())
                })
            }),
        )
        .unwrap();
    let server = start(with_normal_route(router), |s| s.max_calls(1)).await;
    let (logs, _guard) = Logs::capture();
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("/panic")).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    let end = peer.finish().await.unwrap();
    assert_eq!(end.variable("FASTAGI_REASON"), Some("the handler panicked: handler bug"));
    server.idle().await;
    logs.once("ERROR handler panicked");
    // With a limit of one call, this proves the panicking call gave its slot back.
    normal_call(server.addr).await;
    server.shutdown().await;
}

/// How `/busy` keeps its worker busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Busy {
    /// A loop that never awaits.
    Spin,
    /// The same loop, yielding to the runtime every few thousand iterations.
    Yielding,
    /// The same loop on the blocking thread pool, awaited.
    Blocking,
}

/// Spins until `release` is set (or a bounded deadline passes), the way `mode` says.
async fn busy_work(mode: Busy, release: Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::Ordering::SeqCst;
    let deadline = Instant::now() + PATIENCE;
    let done = move || release.load(SeqCst) || Instant::now() >= deadline;
    match mode {
        Busy::Spin => {
            while !done() {
                std::hint::spin_loop();
            }
        }
        Busy::Yielding => {
            let mut iterations = 0u64;
            while !done() {
                iterations += 1;
                if iterations.is_multiple_of(4096) {
                    tokio::task::yield_now().await;
                }
            }
        }
        Busy::Blocking => {
            tokio::task::spawn_blocking(move || {
                while !done() {
                    std::hint::spin_loop();
                }
            })
            .await
            .unwrap();
        }
    }
}

fn busy_router(
    mode: Busy,
    busy: Arc<std::sync::atomic::AtomicBool>,
    release: Arc<std::sync::atomic::AtomicBool>,
) -> Router {
    let router = Router::new()
        .route(
            "/busy",
            handler_fn(move |call| {
                let (busy, release) = (busy.clone(), release.clone());
                Box::pin(async move {
                    call.answer().await?;
                    busy.store(true, std::sync::atomic::Ordering::SeqCst);
                    busy_work(mode, release).await;
                    busy.store(false, std::sync::atomic::Ordering::SeqCst);
                    call.noop().await
                })
            }),
        )
        .unwrap();
    with_normal_route(router)
}

/// A handler that computes without ever awaiting holds the worker thread that polls it,
/// and more: Tokio polls the I/O driver only from a worker that is about to park, and
/// the worker that picked up the handler was the one driving I/O, so until the handler
/// returns to the runtime, other calls may make no progress at all, whatever the number
/// of workers. No deadline of the server (hangup grace, shutdown cut) can preempt it
/// either: cancellation happens only at an `.await`. What this test checks is that the
/// server recovers: once the loop ends, the delayed call and the busy one both finish.
/// The mitigations are in the next test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_never_awaits_delays_calls_but_breaks_nothing() {
    let busy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = start(busy_router(Busy::Spin, busy.clone(), release.clone()), |s| s).await;
    let mut spinner = ScriptedPeer::connect(server.addr, &CallSpec::new("/busy")).await.unwrap();
    spinner.exchange("ANSWER", "200 result=0").await.unwrap();
    let other = tokio::spawn(normal_call(server.addr));
    // Ends the loop from a plain thread: the runtime's timers may be stalled by it.
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        release.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    spinner.exchange("NOOP", "200 result=0").await.unwrap();
    assert_eq!(spinner.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
    tokio::time::timeout(PATIENCE, other).await.expect("the delayed call finished").unwrap();
    releaser.join().unwrap();
    server.idle().await;
    server.shutdown().await;
}

/// The mitigations for CPU-bound work in a handler: `tokio::task::spawn_blocking` (or a
/// thread pool of your own), or `tokio::task::yield_now().await` (or
/// `tokio::task::consume_budget().await`) every few thousand iterations of a loop that
/// must stay on the runtime. With either, other calls are served while the work runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yielding_or_blocking_pool_work_leaves_other_calls_served() {
    for mode in [Busy::Yielding, Busy::Blocking] {
        let busy = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let server = start(busy_router(mode, busy.clone(), release.clone()), |s| s).await;
        let mut worker = ScriptedPeer::connect(server.addr, &CallSpec::new("/busy")).await.unwrap();
        worker.exchange("ANSWER", "200 result=0").await.unwrap();
        // The handler sets the flag right after ANSWER's reply; observing it is a bounded
        // poll, since it signals nothing else.
        let deadline = Instant::now() + PATIENCE;
        while !busy.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "{mode:?}: the handler never got busy");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for _ in 0..5 {
            normal_call(server.addr).await;
        }
        assert!(busy.load(std::sync::atomic::Ordering::SeqCst), "{mode:?}: other calls waited for the busy handler");
        release.store(true, std::sync::atomic::Ordering::SeqCst);
        worker.exchange("NOOP", "200 result=0").await.unwrap();
        assert_eq!(worker.finish().await.unwrap().variable("FASTAGI_STATUS"), Some("SUCCESS"));
        server.idle().await;
        server.shutdown().await;
    }
}

#[tokio::test]
async fn a_handler_that_ignores_the_hangup_is_stopped_after_the_grace_and_released() {
    let router = Router::new()
        .route(
            "/stubborn",
            handler_fn(|call| {
                Box::pin(async move {
                    call.answer().await?;
                    let signal = call.hangup_signal();
                    // Learns of the hangup, then keeps going as if nothing happened.
                    let _ = call.or_hangup(std::future::pending::<()>()).await;
                    assert!(signal.is_hung_up());
                    std::future::pending::<AgiResult<()>>().await
                })
            }),
        )
        .unwrap();
    let server = start(with_normal_route(router), |s| s.hangup_grace(Some(Duration::from_millis(100)))).await;
    let (logs, _guard) = Logs::capture();
    let mut peer = ScriptedPeer::connect(server.addr, &CallSpec::new("/stubborn")).await.unwrap();
    peer.exchange("ANSWER", "200 result=0").await.unwrap();
    peer.send("HANGUP").await.unwrap();
    let end = peer.finish().await.unwrap();
    assert_eq!(end.variable("FASTAGI_STATUS"), Some("HANDLER_ERROR"));
    server.idle().await;
    logs.once("handler still running after the hangup deadline");
    normal_call(server.addr).await;
    server.shutdown().await;
}
