//! The captures of a real Asterisk 22.10.1 in `agi-test-vectors/`, split into the
//! exchanges a `Call` can replay.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(crate) struct Capture {
    pub(crate) script: String,
    pub(crate) env: serde_json::Map<String, serde_json::Value>,
    pub(crate) events: Vec<Event>,
}

#[derive(Debug, Deserialize, Clone)]
pub(crate) struct Event {
    pub(crate) dir: String,
    pub(crate) data: String,
}

/// The capture files, sorted by name.
pub(crate) fn capture_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("agi-test-vectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Every capture as the runtime's own transcript type, with its file name.
pub(crate) fn transcripts() -> Vec<(String, agi_runtime::testing::Transcript)> {
    capture_files()
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, agi_runtime::testing::Transcript::load(&path).unwrap())
        })
        .collect()
}

/// Every capture, parsed for the exchange-level replays, with its file name.
pub(crate) fn captures() -> Vec<(String, Capture)> {
    capture_files()
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let capture = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            (name, capture)
        })
        .collect()
}

/// The environment block as Asterisk sent it, and the index of the first event after it.
pub(crate) fn env_block(capture: &Capture) -> (String, usize) {
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

/// One command of a capture and the lines Asterisk answered with.
#[derive(Debug, Clone)]
pub(crate) struct Exchange {
    pub(crate) command: String,
    pub(crate) answer: Vec<String>,
    /// Why the encoder cannot send this command, if it cannot.
    pub(crate) refused: Option<&'static str>,
}

/// Commands a capture sent on purpose that the encoder refuses by construction.
pub(crate) fn refused(command: &str) -> Option<&'static str> {
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
pub(crate) fn exchanges(capture: &Capture, start: usize) -> (Vec<Exchange>, Vec<String>, Option<String>) {
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

pub(crate) fn is_final(line: &str) -> bool {
    line.starts_with("200 ") || line.starts_with("510 ") || line.starts_with("511 ") || line.starts_with("520 ")
}

/// The result a `Call` must produce for a recorded answer, in the harness's notation.
pub(crate) fn expected_result(answer: &[String], hung_before: bool) -> (String, bool) {
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
