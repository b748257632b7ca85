//! The 95 sessions captured from a real Asterisk 22.10.1 (`agi-test-vectors/`), used as
//! golden data: every environment block must parse to the recorded values, and every
//! session must replay through a real `Call` with the recorded replies giving the
//! recorded results.

mod support;

use std::io::ErrorKind;
use std::sync::{Arc, Mutex};

use agi_runtime::testing::{CallSpec, ScriptedPeer, asterisk_words};
use agi_runtime::{AgiEnv, AgiError, CommandError, Router, Server, StatusReporting, handler_fn};
use support::captures::{captures, env_block, exchanges, expected_result, refused};
use tokio::sync::mpsc;

#[test]
fn there_are_95_captures() {
    assert_eq!(captures().len(), 95);
}

#[test]
fn every_environment_block_parses_to_the_recorded_values() {
    for (name, capture) in captures() {
        let (block, _) = env_block(&capture);
        let env = AgiEnv::parse(&block).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(env.len(), capture.env.len(), "{name}");
        for (key, value) in &capture.env {
            assert_eq!(env.get(key), value.as_str(), "{name}: {key}");
        }
        let (path, query) = capture.script.split_once('?').unwrap_or((&capture.script, ""));
        assert_eq!(env.path(), format!("/{path}"), "{name}");
        assert_eq!(env.query(), query, "{name}");
        assert_eq!(env.network_script(), capture.env.get("agi_network_script").and_then(|v| v.as_str()), "{name}");
        let args: Vec<_> =
            (1..).map_while(|n| capture.env.get(&format!("agi_arg_{n}"))).map(|v| v.as_str().unwrap()).collect();
        assert_eq!(env.args().collect::<Vec<_>>(), args, "{name}");
        // Typed accessors agree with the raw values.
        assert_eq!(env.channel(), env.get("agi_channel"), "{name}");
        assert_eq!(env.uniqueid(), env.get("agi_uniqueid"), "{name}");
        assert_eq!(env.account_code(), Some(""), "{name}: empty values are kept");
        let raw_caller = env.get("agi_callerid").filter(|v| *v != "unknown");
        assert_eq!(env.caller_id_num(), raw_caller, "{name}: `unknown` is no caller id");
        assert_eq!(env.calling_pres(), env.get("agi_callingpres").and_then(|v| v.parse().ok()), "{name}");
    }
}

fn describe(result: Result<agi_runtime::Response<'_>, AgiError>) -> String {
    match result {
        Ok(r) if r.rest().is_empty() => format!("200 result={}", r.result()),
        Ok(r) => format!("200 result={} {}", r.result(), r.rest()),
        Err(AgiError::InvalidCommand { .. }) => "510".to_owned(),
        Err(AgiError::HungUp) => "511".to_owned(),
        Err(AgiError::InvalidSyntax { usage: Some(usage), .. }) => format!("520:{usage}"),
        Err(AgiError::InvalidSyntax { usage: None, .. }) => "520:-".to_owned(),
        Err(AgiError::Command(e)) => format!("refused: {}", refusal_kind(&e)),
        Err(other) => format!("error: {other}"),
    }
}

/// Sends a recorded command line as its words, as a handler would through the encoder.
fn words_of(command: &str) -> Vec<String> {
    if command.contains('\r') {
        // Asterisk keeps a CR inside the last word; so does a caller who passes it.
        vec![command.to_owned()]
    } else {
        asterisk_words(command)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_capture_replays_through_a_call() {
    let mut replayed = 0;
    let mut stops = Vec::new();
    for (name, capture) in captures() {
        let (block, start) = env_block(&capture);
        let (exchanges, before_first, stop) = exchanges(&capture, start);

        let commands: Arc<Vec<String>> = Arc::new(exchanges.iter().map(|e| e.command.clone()).collect());
        let stop_command = stop.clone();
        let (results_tx, mut results) = mpsc::unbounded_channel::<(String, bool)>();
        let at_stop: Arc<Mutex<Option<String>>> = Arc::default();
        let at_stop_seen = at_stop.clone();
        let handler = handler_fn(move |call| {
            let commands = commands.clone();
            let results_tx = results_tx.clone();
            let stop_command = stop_command.clone();
            let at_stop = at_stop.clone();
            Box::pin(async move {
                for command in commands.iter() {
                    let result = describe(call.command(words_of(command)).await);
                    results_tx.send((result, call.is_hung_up())).unwrap();
                }
                if let Some(command) = stop_command {
                    let outcome = if command.to_ascii_lowercase().starts_with("failure") {
                        // Sent through the encoder, the words can never form the marker.
                        describe(call.command(asterisk_words(&command)).await)
                    } else if command.contains('\n') {
                        describe(call.command([command.as_str()]).await)
                    } else if refused(&command) == Some("too long") {
                        describe(call.command(asterisk_words(&command)).await)
                    } else {
                        "not sent: one command in flight".to_owned()
                    };
                    *at_stop.lock().unwrap() = Some(outcome);
                }
                Ok::<(), AgiError>(())
            })
        });
        let router = Router::new().route(&format!("/{}", capture.script.split('?').next().unwrap()), handler).unwrap();
        let server = Server::bind("127.0.0.1:0").await.unwrap().status_reporting(StatusReporting::disabled());
        let addr = server.local_addr().unwrap();
        let serving = tokio::spawn(server.serve(router));

        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut peer = ScriptedPeer::silent(stream);
        for line in block.split_inclusive('\n') {
            peer.send_bytes(line.as_bytes()).await.unwrap();
        }
        let mut hung = false;
        for line in &before_first {
            assert_eq!(line, "HANGUP", "{name}");
            peer.send(line).await.unwrap();
            hung = true;
        }
        for (index, exchange) in exchanges.iter().enumerate() {
            // Once the last command has its reply, the server closes at once; Asterisk's
            // lines still on their way then meet a reset, which Asterisk ignores.
            let last = index + 1 == exchanges.len() && stop.is_none();
            if let Some(reason) = exchange.refused {
                let (got, _) = results.recv().await.unwrap();
                assert_eq!(got, format!("refused: {reason}"), "{name}: `{}`", exchange.command.escape_debug());
                continue;
            }
            let sent = peer.next_command().await.unwrap().unwrap_or_else(|| panic!("{name}: server closed"));
            assert_eq!(asterisk_words(&sent), asterisk_words(&exchange.command), "{name}: `{sent}`");
            for line in &exchange.answer {
                match peer.send(line).await {
                    Ok(()) => {}
                    Err(e) if last && matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => break,
                    Err(e) => panic!("{name}: {e}"),
                }
            }
            let (want, hung_after) = expected_result(&exchange.answer, hung);
            hung = hung_after;
            let (got, got_hung) = results.recv().await.unwrap();
            assert_eq!(got, want, "{name}: `{}`", exchange.command);
            assert_eq!(got_hung, hung, "{name}: hang-up state after `{}`", exchange.command);
            replayed += 1;
        }
        if let Some(command) = stop.as_deref().filter(|c| c.starts_with("failure")) {
            let sent = peer.next_command().await.unwrap().unwrap();
            assert_eq!(sent, format!("\"failure\"{}", &command["failure".len()..]), "{name}");
            peer.send("510 Invalid or unknown command").await.unwrap();
        }
        // The server closes (no status report in this harness), Asterisk says HANGUP, EOF.
        match peer.expect_close().await {
            // The close met lines Asterisk had already sent: a reset, not an error.
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("{name}: {e}"),
        }
        let _ = peer.send("HANGUP").await;
        let _ = peer.close().await;
        let outcome = at_stop_seen.lock().unwrap().clone();
        assert_eq!(outcome.is_some(), stop.is_some(), "{name}");
        if let (Some(command), Some(outcome)) = (stop, outcome) {
            stops.push(format!("{}: {outcome}", command.chars().take(24).collect::<String>().escape_debug()));
        }
        serving.abort();
    }
    assert!(replayed > 150, "only {replayed} commands replayed");
    stops.sort();
    assert_eq!(
        stops,
        [
            "NOOP\\nVERBOSE second 1: refused: forbidden byte",
            "STREAM FILE tone10s \\\"\\\": not sent: one command in flight",
            "VERBOSE AAAAAAAAAAAAAAAA: refused: too long",
            "failure to communicate: 510",
        ]
    );
}

fn refusal_kind(error: &CommandError) -> &'static str {
    match error {
        CommandError::ForbiddenByte { .. } => "forbidden byte",
        CommandError::LineTooLong { .. } => "too long",
        CommandError::Empty => "empty",
        _ => "other",
    }
}

#[test]
fn call_spec_matches_the_layout_asterisk_sends() {
    let (name, capture) = captures().into_iter().find(|(name, _)| name == "r1-04-args.json").unwrap();
    let spec = CallSpec::new(&capture.script)
        .channel("Local/args@agi-tests-00000003;2")
        .uniqueid(capture.env["agi_uniqueid"].as_str().unwrap())
        .context("agi-tests")
        .extension("args")
        .args(["one", "two words", "three,with comma", ""]);
    let ours = AgiEnv::parse(&spec.env_block()).unwrap();
    let theirs = AgiEnv::parse(&env_block(&capture).0).unwrap();
    let names = |env: &AgiEnv| env.iter().map(|(n, _)| n.to_owned()).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&theirs), "{name}: same variables, same order");
    for (key, value) in theirs.iter() {
        if key != "agi_threadid" {
            assert_eq!(ours.get(key), Some(value), "{key}");
        }
    }
}
