//! The 95 sessions captured from a real Asterisk 22.10.1 (`agi-test-vectors/`), used as
//! golden data: every environment block must parse to the recorded values, and every
//! session must replay through a real `Call` with the recorded replies giving the
//! recorded results.

use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use agi_runtime::testing::{CallSpec, ScriptedPeer, asterisk_words};
use agi_runtime::{AgiEnv, AgiError, CommandError, Router, Server, StatusReporting, handler_fn};
use serde::Deserialize;
use tokio::sync::mpsc;

#[derive(Debug, Deserialize)]
struct Capture {
    script: String,
    env: serde_json::Map<String, serde_json::Value>,
    events: Vec<Event>,
}

#[derive(Debug, Deserialize, Clone)]
struct Event {
    dir: String,
    data: String,
}

fn captures() -> Vec<(String, Capture)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("agi-test-vectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let capture = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            (name, capture)
        })
        .collect()
}

/// The environment block as Asterisk sent it, and the index of the first event after it.
fn env_block(capture: &Capture) -> (String, usize) {
    let mut block = String::new();
    for (i, event) in capture.events.iter().enumerate() {
        assert_eq!(event.dir, "<<");
        block.push_str(&event.data);
        if event.data == "\n" {
            return (block, i + 1);
        }
    }
    panic!("no end of environment block");
}

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

/// One command of a capture and the lines Asterisk answered with.
#[derive(Debug, Clone)]
struct Exchange {
    command: String,
    answer: Vec<String>,
    /// Why the encoder cannot send this command, if it cannot.
    refused: Option<&'static str>,
}

/// Commands a capture sent on purpose that the encoder refuses by construction.
fn refused(command: &str) -> Option<&'static str> {
    if command.is_empty() {
        Some("empty")
    } else if command.contains('\r') || command.contains('\n') {
        Some("forbidden byte")
    } else if command.len() + 1 > agi_runtime::wire::DEFAULT_MAX_COMMAND_LINE {
        Some("too long")
    } else {
        None
    }
}

/// Splits a capture after its environment block into exchanges, up to the first point
/// a `Call` cannot reproduce: a refused command that changed the session (two commands
/// in one write, an over-long line cut in two), the `failure` marker, or a command sent
/// before the previous one was answered (input interrupting media).
fn exchanges(capture: &Capture, start: usize) -> (Vec<Exchange>, Vec<String>, Option<String>) {
    let mut exchanges: Vec<Exchange> = Vec::new();
    let mut before_first = Vec::new();
    let mut stop = None;
    for event in &capture.events[start..] {
        match event.dir.as_str() {
            ">>" => {
                let command = event.data.strip_suffix('\n').unwrap_or(&event.data).to_owned();
                if exchanges.last().is_some_and(|last| !last.answer.iter().any(|l| is_final(l))) {
                    // The unanswered command cannot be replayed either.
                    stop = exchanges.pop().map(|e| e.command);
                    break;
                }
                let refusal = refused(&command);
                let changes_session = command.contains('\n') || refusal == Some("too long");
                if changes_session || command.to_ascii_lowercase().starts_with("failure") {
                    stop = Some(command);
                    break;
                }
                exchanges.push(Exchange { command, answer: Vec::new(), refused: refusal });
            }
            "<<" if event.data != "(EOF)" => {
                let line = event.data.strip_suffix('\n').unwrap().to_owned();
                match exchanges.last_mut() {
                    Some(last) => last.answer.push(line),
                    None => before_first.push(line),
                }
            }
            _ => {}
        }
    }
    (exchanges, before_first, stop)
}

fn is_final(line: &str) -> bool {
    line.starts_with("200 ") || line.starts_with("510 ") || line.starts_with("511 ") || line.starts_with("520 ")
}

/// The result a `Call` must produce for a recorded answer, in the harness's notation.
fn expected_result(answer: &[String], hung_before: bool) -> (String, bool) {
    let mut hung = hung_before;
    let mut usage: Option<Vec<&str>> = None;
    for line in answer {
        if let Some(body) = usage.as_mut() {
            if line.starts_with("520 ") {
                return (format!("520:{}", body.join("\n")), hung);
            }
            body.push(line);
            continue;
        }
        match line.as_str() {
            "HANGUP" => hung = true,
            l if l.starts_with("100 ") => {}
            l if l.starts_with("520-") => usage = Some(Vec::new()),
            l if l.starts_with("200 ") => return (l.to_owned(), hung),
            l if l.starts_with("510 ") => return ("510".to_owned(), hung),
            l if l.starts_with("511 ") => return ("511".to_owned(), true),
            l if l.starts_with("520 ") => return ("520:-".to_owned(), hung),
            other => panic!("unexpected answer line {other:?}"),
        }
    }
    panic!("no final reply in {answer:?}")
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
