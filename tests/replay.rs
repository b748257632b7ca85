//! Byte-level replay of the 95 sessions captured from a real Asterisk 22.10.1: for each
//! capture, a handler sends the recorded command lines (through the raw
//! `Call::command_line`), and the replay feeds back the recorded replies and checks
//! every byte the server sends, up to the point a capture stops being reproducible.
//!
//! (`vectors.rs` checks the same captures word by word, through typed results.)

mod support;

use std::sync::Arc;

use agi_runtime::testing::{HazardKind, InProcessServer, Replay};
use agi_runtime::{AgiError, Router, StatusReporting, handler_fn};

/// A server whose one route sends `commands` as recorded, then tries the line that
/// stopped the replay (which the encoder must refuse), then returns.
fn server_for(script: &str, commands: Vec<String>, refused: Option<String>) -> InProcessServer {
    let commands = Arc::new(commands);
    let refused = Arc::new(refused);
    let handler = handler_fn(move |call| {
        let (commands, refused) = (commands.clone(), refused.clone());
        Box::pin(async move {
            for line in commands.iter() {
                match call.command_line(line).await {
                    // 510, 511 and 520 are what some captures are about.
                    Ok(_)
                    | Err(AgiError::InvalidCommand { .. } | AgiError::HungUp | AgiError::InvalidSyntax { .. }) => {}
                    Err(other) => panic!("`{line}`: {other}"),
                }
            }
            if let Some(line) = refused.as_deref() {
                match call.command_line(line).await {
                    Err(AgiError::Command(_)) => {}
                    other => panic!("`{}` should be refused before sending: {other:?}", line.escape_debug()),
                }
            }
            Ok::<(), AgiError>(())
        })
    });
    let path = format!("/{}", script.split('?').next().unwrap_or_default());
    let router = Router::new().route(&path, handler).unwrap();
    InProcessServer::with_status_reporting(router, StatusReporting::disabled())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_capture_replays_byte_for_byte() {
    let mut checked = 0;
    let mut with_commands = 0;
    let mut stops = Vec::new();
    for (name, capture) in support::captures::transcripts() {
        let replay = Replay::new(capture.clone());
        let hazard = replay.hazard().cloned();
        // Lines the encoder refuses are tried (and must be refused); a command left in
        // flight is not: a `Call` cannot send while waiting for a reply.
        let refused = hazard.as_ref().filter(|h| h.kind != HazardKind::InFlight).map(|h| h.command.clone());
        let server = server_for(&capture.script, replay.commands(), refused);
        let report = replay.run(&server).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.commands_checked(), replay.commands().len(), "{name}");
        assert_eq!(report.stopped_at(), hazard.as_ref(), "{name}");
        checked += report.commands_checked();
        with_commands += usize::from(capture.commands().next().is_some());
        if let Some(hazard) = hazard {
            stops.push(format!("{name}: {hazard}"));
        }
    }
    assert_eq!(with_commands, 33, "captures with a server side");
    assert_eq!(checked, 148, "commands checked byte for byte");
    assert_eq!(
        stops,
        [
            "r1-25-invalid.json: event 27 ``: an empty command line, which the encoder never sends",
            "r1-70-pipeline.json: event 25 `NOOP\\nVERBOSE second 1`: several command lines in one write; a server sends one command at a time",
            "r1-73-longline.json: event 25 `VERBOSE AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA…`: a 9011-byte line, over the encoder's limit of 2047; Asterisk would cut it in two",
            "r1-76-interrupt.json: event 25 `STREAM FILE tone10s \\\"\\\"`: the command got no reply: the next command was sent while it was in flight",
            "r1-83-failure.json: event 25 `failure to communicate`: a line starting with `failure`, Asterisk's end-of-session marker, which the encoder refuses",
        ]
    );
}

#[tokio::test]
async fn a_handler_that_strays_from_the_recording_is_caught_at_the_first_different_byte() {
    let (_, capture) =
        support::captures::transcripts().into_iter().find(|(name, _)| name == "r1-01-basic.json").unwrap();
    let replay = Replay::new(capture);
    let mut commands = replay.commands();
    assert_eq!(commands[2], "VERBOSE \"Hello from FastAGI\" 3");
    commands[2] = "VERBOSE \"Hello from FastAGI\" 1".to_owned();
    let error = replay.run(&server_for("basic", commands, None)).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "at recorded event 27, the recording has `VERBOSE \\\"Hello from FastAGI\\\" 3\\n`, but the server sent `VERBOSE \\\"Hello from FastAGI\\\" 1\\n`"
    );
    // What was exchanged until then is kept, for the failure message of a test.
    assert_eq!(error.transcript().commands().last(), Some("VERBOSE \"Hello from FastAGI\" 1"));

    let replay =
        Replay::new(support::captures::transcripts().into_iter().find(|(n, _)| n == "r1-01-basic.json").unwrap().1);
    let fewer = replay.commands()[..2].to_vec();
    let error = replay.run(&server_for("basic", fewer, None)).await.unwrap_err();
    assert!(error.to_string().ends_with("but the server closed the connection"), "{error}");
}
