//! The fake Asterisk driving real handlers: the caller's keys, hang-ups at each point a
//! real caller can hang up, scripted expectations, the sound-file module, and servers
//! that misbehave.

use std::time::Duration;

use agi_runtime::prelude::*;
use agi_runtime::testing::{CallEnd, CallSpec, FakeAsterisk, InProcessServer, SimErrorKind, Target};
use agi_runtime::{CallStatus, Playback, StatusReporting};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Plays a menu and records the choice; on a hangup, still logs (dead-channel commands work).
#[agi_route("/menu")]
async fn menu(call: &mut Call) -> AgiResult<()> {
    call.answer().await?;
    let choice = match call.stream_file("menu", EscapeDigits::ANY).await {
        Ok(Playback::Interrupted { digit, .. }) => digit.to_string(),
        Ok(Playback::Completed { .. }) => "none".to_owned(),
        Ok(Playback::Failed { .. }) => "failed".to_owned(),
        Err(error) => return Err(error),
    };
    let outcome = call.set_variable("CHOICE", &choice).await;
    call.verbose(&format!("menu done: {choice}")).await?;
    outcome
}

/// Reads digits with the raw escape hatch (typed GET DATA lives with the command set).
#[agi_route("/pin")]
async fn pin(call: &mut Call) -> AgiResult<()> {
    call.answer().await?;
    let reply = call.command(["GET", "DATA", "enter-pin", "3000", "4"]).await?;
    let pin = format!("{}{}", reply.result(), if reply.tag() == Some("timeout") { " (timeout)" } else { "" });
    let key = call.command(["WAIT", "FOR", "DIGIT", "2000"]).await?.result().to_owned();
    call.set_variable("PIN", &pin).await?;
    call.set_variable("KEY", &key).await
}

/// Waits for the caller to hang up, then records that it noticed.
#[agi_route("/hold")]
async fn hold(call: &mut Call) -> AgiResult<()> {
    call.answer().await?;
    call.hung_up().await;
    call.set_variable("NOTICED", "yes").await
}

/// Never finishes.
#[agi_route("/stuck")]
async fn stuck(call: &mut Call) -> AgiResult<()> {
    call.answer().await?;
    std::future::pending::<()>().await;
    Ok(())
}

/// A command's future made and dropped without a poll, one polled again after it
/// ended, then one dropped after its first poll (sent, no reply read).
#[agi_route("/dropped")]
async fn dropped(call: &mut Call) -> AgiResult<()> {
    drop(call.stream_file("never-sent", EscapeDigits::NONE));
    {
        let mut answered = std::pin::pin!(call.answer());
        answered.as_mut().await?;
        let again = std::future::poll_fn(|cx| answered.as_mut().poll(cx)).await;
        assert!(matches!(again, Err(AgiError::Broken(_))), "{again:?}: no second reply is read");
    }
    {
        let mut sent = std::pin::pin!(call.set_variable("SENT", "1"));
        std::future::poll_fn(|cx| {
            assert!(sent.as_mut().poll(cx).is_pending(), "no reply can be there yet");
            std::task::Poll::Ready(())
        })
        .await;
    }
    match call.noop().await {
        Err(AgiError::Broken(why)) => Err(AgiError::Protocol(why.to_owned())),
        other => other,
    }
}

fn app() -> Router {
    routes![menu, pin, hold, stuck, dropped]
}

#[tokio::test]
async fn a_command_future_dropped_unpolled_sends_nothing_and_one_dropped_in_flight_breaks_the_call() {
    let report = FakeAsterisk::new(CallSpec::new("/dropped")).call(app()).await.unwrap();
    // Nothing of the unpolled `STREAM FILE`; `ANSWER` once; the half-done `SET VARIABLE`
    // went out, and the call, out of step with Asterisk, sent nothing more: no `NOOP`, no
    // status.
    assert_eq!(report.commands(), ["ANSWER", "SET VARIABLE SENT 1"]);
    assert_eq!(report.variable("SENT"), Some("1"));
    assert_eq!(report.status(), None);
}

#[tokio::test]
async fn a_key_pressed_during_the_prompt_is_the_choice() {
    let report = FakeAsterisk::new(CallSpec::new("/menu")).digits("3").call(app()).await.unwrap();
    assert_eq!(report.variable("CHOICE"), Some("3"));
    assert_eq!(report.variable("PLAYBACKSTATUS"), Some("FAILED"));
    assert_eq!(report.console(), ["menu done: 3"]);
    assert_eq!(report.status(), Some("SUCCESS"));
    assert_eq!(report.agi_status(), "SUCCESS");
    assert_eq!(report.end(), CallEnd::ServerClosed);
    assert!(report.answered() && !report.hung_up() && report.violations().is_empty());
    assert_eq!(
        report.commands(),
        [
            "ANSWER",
            r#"STREAM FILE menu "0123456789*#""#,
            "SET VARIABLE CHOICE 3",
            r#"VERBOSE "menu done: 3" 1"#,
            "SET VARIABLE FASTAGI_STATUS SUCCESS"
        ]
    );
    let replies: Vec<&str> = report.transcript().after_env().iter().map(|e| e.data.as_str()).collect();
    assert_eq!(replies[1], "200 result=0\n");
    assert_eq!(replies[3], "200 result=51 endpos=4000\n");
    assert_eq!(replies[replies.len() - 3..], ["(server closes socket)", "HANGUP\n", "(EOF)"]);
}

#[tokio::test]
async fn without_keys_the_prompt_plays_to_the_end_and_missing_prompts_fail() {
    let report = FakeAsterisk::new(CallSpec::new("/menu")).sound("menu", 24000).call(app()).await.unwrap();
    assert_eq!(report.variable("CHOICE"), Some("none"));
    assert!(report.transcript().events.iter().any(|e| e.data == "200 result=0 endpos=24000\n"));

    let report = FakeAsterisk::new(CallSpec::new("/menu")).only_known_sounds().call(app()).await.unwrap();
    assert_eq!(report.variable("CHOICE"), Some("failed"));
    assert_eq!(report.variable("PLAYBACKSTATUS"), None, "a missing file leaves it untouched");
    assert_eq!(report.agi_status(), "FAILURE", "a failed playback on a live channel");
}

#[tokio::test]
async fn keys_are_pressed_in_order_and_w_lets_a_timeout_pass() {
    let report = FakeAsterisk::new(CallSpec::new("/pin")).digits("12w*").call(app()).await.unwrap();
    assert_eq!(report.variable("PIN"), Some("12 (timeout)"));
    assert_eq!(report.variable("KEY"), Some("42"));

    let report = FakeAsterisk::new(CallSpec::new("/pin")).digits("1234#").call(app()).await.unwrap();
    assert_eq!((report.variable("PIN"), report.variable("KEY")), (Some("1234"), Some("35")));
    assert_eq!(report.keys_left(), "");

    let error = FakeAsterisk::new(CallSpec::new("/pin")).digits("12x").call(app()).await.unwrap_err();
    assert!(matches!(error.kind(), SimErrorKind::Setup(_)), "{error}");
}

#[tokio::test]
async fn a_caller_hanging_up_during_the_prompt_gets_hangup_after_the_failed_reply() {
    let report = FakeAsterisk::new(CallSpec::new("/menu")).hangup_during("STREAM FILE").call(app()).await.unwrap();
    // STREAM FILE fails, HANGUP arrives before the reply to SET VARIABLE (which a dead
    // channel still runs), the handler carries on with VERBOSE.
    let after: Vec<(&str, &str)> =
        report.transcript().after_env().iter().map(|e| (e.dir.as_str(), e.data.as_str())).collect();
    assert_eq!(
        after[2..8],
        [
            (">>", "STREAM FILE menu \"0123456789*#\"\n"),
            ("<<", "200 result=-1 endpos=4000\n"),
            (">>", "SET VARIABLE CHOICE failed\n"),
            ("<<", "HANGUP\n"),
            ("<<", "200 result=1\n"),
            (">>", "VERBOSE \"menu done: failed\" 1\n"),
        ]
    );
    assert!(report.hung_up());
    assert_eq!(report.agi_status(), "HANGUP");
    assert_eq!(report.status(), Some("SUCCESS"), "the handler ran to its end");
}

#[tokio::test]
async fn after_a_hangup_live_channel_commands_are_refused_with_511() {
    let server = InProcessServer::with_status_reporting(app(), StatusReporting::disabled());
    let report = FakeAsterisk::new(CallSpec::new("/pin")).hangup_at(1).call(&server).await.unwrap();
    let lines: Vec<&str> = report.transcript().after_env().iter().map(|e| e.data.as_str()).collect();
    assert_eq!(
        lines[..5],
        [
            "ANSWER\n",
            "200 result=0\n",
            "GET DATA enter-pin 3000 4\n",
            "HANGUP\n",
            "511 Command Not Permitted on a dead channel or intercept routine\n"
        ]
    );
}

#[tokio::test]
async fn a_timed_hangup_reaches_a_handler_waiting_between_commands() {
    let report =
        FakeAsterisk::new(CallSpec::new("/hold")).hangup_after(Duration::from_millis(20)).call(app()).await.unwrap();
    assert_eq!(report.variable("NOTICED"), Some("yes"));
    assert_eq!(report.agi_status(), "HANGUP");
}

#[tokio::test]
async fn exit_on_hangup_ends_the_session_from_asterisks_side() {
    let report = FakeAsterisk::new(CallSpec::new("/menu")).hangup_at(2).exit_on_hangup().call(app()).await.unwrap();
    assert_eq!(report.end(), CallEnd::AsteriskHungUp);
    let tail: Vec<&str> = report.transcript().after_env().iter().map(|e| e.data.as_str()).collect();
    assert_eq!(tail[3..], ["200 result=-1 endpos=4000\n", "HANGUP\n", "HANGUP\n", "(EOF)", "(server closes socket)"]);
    assert_eq!(report.variable("CHOICE"), None, "the handler learned of the end at its next command");
}

#[tokio::test]
async fn without_sighup_the_server_sees_no_hangup_line() {
    let report = FakeAsterisk::new(CallSpec::new("/menu")).hangup_at(2).no_sighup().call(app()).await.unwrap();
    assert!(report.transcript().events.iter().all(|e| e.data != "HANGUP\n"));
    assert_eq!(report.variable("CHOICE"), Some("failed"));
}

#[tokio::test]
async fn a_call_in_the_h_extension_is_dead_from_the_start() {
    let report = FakeAsterisk::new(CallSpec::new("/menu").extension("h")).dead_from_start().call(app()).await.unwrap();
    assert_eq!(report.commands()[..2], ["ANSWER", "SET VARIABLE FASTAGI_STATUS HANGUP"]);
    assert_eq!(report.agi_status(), "SUCCESS", "no hangup happened during this AGI");
}

#[tokio::test]
async fn expectations_answer_first_and_mix_with_the_simulation() {
    let report = FakeAsterisk::new(CallSpec::new("/menu"))
        .expect(r#"STREAM FILE menu "0123456789*#""#, "200 result=53 endpos=1200")
        .call(app())
        .await
        .unwrap();
    assert_eq!(report.variable("CHOICE"), Some("5"));

    let error =
        FakeAsterisk::new(CallSpec::new("/menu")).expect("HANGUP", "200 result=1").call(app()).await.unwrap_err();
    assert_eq!(error.to_string(), "the server never sent `HANGUP`");

    let error = FakeAsterisk::new(CallSpec::new("/menu"))
        .strict()
        .expect("ANSWER", "200 result=0")
        .expect("STREAM FILE menu \"\"", "200 result=0 endpos=10")
        .call(app())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"expected `STREAM FILE menu ""`, the server sent `STREAM FILE menu "0123456789*#"`"#
    );
    assert_eq!(error.transcript().commands().count(), 2);
}

#[tokio::test]
async fn a_scripted_hangup_line_puts_the_channel_in_dead_mode() {
    let report =
        FakeAsterisk::new(CallSpec::new("/menu")).expect("ANSWER", "200 result=0\nHANGUP").call(app()).await.unwrap();
    assert_eq!(report.status(), Some("HANGUP"), "STREAM FILE was refused without a round trip");
    assert_eq!(
        report.commands(),
        ["ANSWER", "SET VARIABLE FASTAGI_STATUS HANGUP", "SET VARIABLE FASTAGI_REASON \"the caller hung up\""]
    );
}

#[tokio::test]
async fn a_server_that_never_finishes_times_out_with_its_transcript() {
    let error =
        FakeAsterisk::new(CallSpec::new("/stuck")).timeout(Duration::from_millis(50)).call(app()).await.unwrap_err();
    assert!(matches!(error.kind(), SimErrorKind::Timeout(_)));
    assert_eq!(error.to_string(), "the server neither sent a command nor closed the connection within 50ms");
    assert_eq!(error.transcript().commands().collect::<Vec<_>>(), ["ANSWER"]);
}

#[tokio::test]
async fn calls_go_over_tcp_to_a_real_server() {
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let serving = tokio::spawn(server.serve(app()));
    let report = FakeAsterisk::new(CallSpec::new("/menu?from=tcp")).digits("9").call(addr).await.unwrap();
    assert_eq!(report.variable("CHOICE"), Some("9"));
    let error = FakeAsterisk::new(CallSpec::new("/nope")).call(addr).await.unwrap();
    assert_eq!(error.status(), Some(CallStatus::NotFound.as_str()));
    serving.abort();

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let error = FakeAsterisk::new(CallSpec::new("/menu")).call(addr).await.unwrap_err();
    assert!(matches!(error.kind(), SimErrorKind::Connect(_)), "{error}");
}

/// A raw client standing in for a server, to send what no `Call` would.
async fn raw_session(fake: FakeAsterisk, commands: &[&str]) -> (Vec<String>, agi_runtime::testing::CallReport) {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let call = tokio::spawn(fake.call(Target::stream(theirs)));
    let (read, mut write) = tokio::io::split(ours);
    let mut lines = BufReader::new(read).lines();
    while lines.next_line().await.unwrap().is_some_and(|l| !l.is_empty()) {}
    let mut received = Vec::new();
    for command in commands {
        write.write_all(command.as_bytes()).await.unwrap();
        loop {
            let line = lines.next_line().await.unwrap().unwrap();
            let done = ["200 ", "510 ", "511 ", "520 "].iter().any(|c| line.starts_with(c));
            received.push(line);
            if done {
                break;
            }
        }
    }
    write.shutdown().await.unwrap();
    while let Some(line) = lines.next_line().await.unwrap() {
        received.push(line);
    }
    (received, call.await.unwrap().unwrap())
}

#[tokio::test]
async fn the_sound_file_module_uploads_checks_and_downloads() {
    let fake = FakeAsterisk::new(CallSpec::new("/x")).sound_file("prompts/hello.gsm", b"GSM-DATA".to_vec());
    let (received, report) = raw_session(
        fake,
        &[
            "ISEXISTING SOUNDFILE prompts/welcome.gsm\n",
            "PUT SOUNDFILE prompts/welcome.gsm 5\n",
            "aGVsbG8=\n",
            "ISEXISTING SOUNDFILE prompts/welcome.gsm\n",
            "GET SOUNDFILE prompts/hello.gsm\n",
            "STREAM FILE prompts/welcome \"\"\n",
        ],
    )
    .await;
    assert_eq!(
        received,
        [
            "200 result=-1",
            "200 result=0",
            "200 result=0",
            "200 result=0",
            "200 result=0 size=8",
            "R1NNLURBVEE=",
            "200 result=0 endpos=0",
            "HANGUP"
        ]
    );
    assert_eq!(report.sound_file("prompts/welcome.gsm").as_deref(), Some(&b"hello"[..]));
    assert!(report.violations().is_empty());

    let fake = FakeAsterisk::new(CallSpec::new("/x")).without_sound_module();
    let (received, _) = raw_session(fake, &["ISEXISTING SOUNDFILE a.gsm\n", "NOOP\r\n"]).await;
    assert_eq!(received, ["510 Invalid or unknown command", "510 Invalid or unknown command", "HANGUP"]);
}

#[tokio::test]
async fn the_simulated_channel_keeps_variables_the_astdb_and_the_dialplan() {
    let fake = FakeAsterisk::new(CallSpec::new("/x").caller_id("5551212", "Alice"))
        .variable("PRESET", "1")
        .database("cust", "5551212", "gold")
        .subroutine("sub-lookup", "s", Some("found"));
    let (received, report) = raw_session(
        fake,
        &[
            "GET FULL VARIABLE \"${CALLERID(num)}-${PRESET}-${DB(cust/${CALLERID(num)})}\"\n",
            "SET VARIABLE CALLERID(name) Bob\n",
            "GET VARIABLE CALLERID(all)\n",
            "DATABASE DELTREE cust\n",
            "GOSUB sub-lookup s 1\n",
            "SET CONTEXT after\n",
            "SET PRIORITY 5\n",
            "EXEC Dial PJSIP/bob\n",
            "GET VARIABLE DIALSTATUS\n",
            "SET AUTOHANGUP x\n",
        ],
    )
    .await;
    assert_eq!(
        received[..9],
        [
            "200 result=1 (5551212-1-gold)",
            "200 result=1",
            "200 result=1 (\"Bob\" <5551212>)",
            "200 result=0",
            "100 result=0 Trying...",
            "200 result=0 Gosub complete",
            "200 result=0",
            "200 result=0",
            "200 result=0",
        ]
    );
    assert_eq!(received[10], "520 Invalid command syntax.  Proper usage not available.");
    assert_eq!(report.variable("GOSUB_RETVAL"), Some("found"));
    assert_eq!(report.database("cust", "5551212"), None);
    assert_eq!(report.dialplan(), ("after", "s", "5"));
    assert_eq!(report.set_by_server(), [("CALLERID(name)".to_owned(), "Bob".to_owned())]);
}

#[tokio::test]
async fn set_autohangup_schedules_the_hangup() {
    let fake = FakeAsterisk::new(CallSpec::new("/x"));
    let (ours, theirs) = tokio::io::duplex(1024);
    let call = tokio::spawn(fake.call(Target::stream(theirs)));
    let (read, mut write) = tokio::io::split(ours);
    let mut lines = BufReader::new(read).lines();
    while lines.next_line().await.unwrap().is_some_and(|l| !l.is_empty()) {}
    write.write_all(b"SET AUTOHANGUP 0.01\n").await.unwrap();
    assert_eq!(lines.next_line().await.unwrap().unwrap(), "200 result=0");
    // Nothing more is sent until the channel hangs up on its own.
    assert_eq!(lines.next_line().await.unwrap().unwrap(), "HANGUP");
    write.shutdown().await.unwrap();
    assert_eq!(call.await.unwrap().unwrap().agi_status(), "HANGUP");
}

#[tokio::test]
async fn a_hostile_server_gets_asterisks_answers_and_a_list_of_violations() {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let call = tokio::spawn(FakeAsterisk::new(CallSpec::new("/x")).call(Target::stream(theirs)));
    let (mut read, mut write) = tokio::io::split(ours);
    let mut garbage = Vec::new();
    garbage.extend_from_slice(b"\xff\xfeSET VARIABLE \xe9 \"${${${x}}\n");
    garbage.extend_from_slice(b"NOOP\0 ignored\n");
    garbage.extend_from_slice(format!("GET FULL VARIABLE \"{}\"\n", "${".repeat(2000)).as_bytes());
    garbage.extend_from_slice(&[b'A'; 9000]);
    garbage.extend_from_slice(b"\nfailur\xe9\nVERBOSE x");
    write.write_all(&garbage).await.unwrap();
    write.shutdown().await.unwrap();
    let mut everything = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut read, &mut everything).await.unwrap();
    let report = call.await.unwrap().unwrap();
    let replies = String::from_utf8_lossy(&everything);
    assert!(replies.ends_with("510 Invalid or unknown command\n200 result=1\nHANGUP\n"), "{replies}");
    assert_eq!(
        report.violations(),
        [
            "a command arrived before the reply to the previous one; Asterisk would leave it unread",
            "a command arrived before the reply to the previous one; Asterisk would leave it unread",
            "a command line holds a NUL byte; Asterisk ignores what follows it",
            "a command arrived before the reply to the previous one; Asterisk would leave it unread",
            "a command line longer than 8191 bytes was cut there; Asterisk runs the rest as another command",
            "a command arrived before the reply to the previous one; Asterisk would leave it unread",
            "a command arrived before the reply to the previous one; Asterisk would leave it unread",
            "the connection was closed in the middle of a command line",
        ]
    );
}
