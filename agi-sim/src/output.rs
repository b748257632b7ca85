//! Printing a transcript and a call's outcome for people, coloured on a terminal.

use std::fmt::Write as _;

use agi_runtime::testing::{CallEnd, CallReport, Direction, Event, Transcript};

/// ANSI styles, or none.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    pub(crate) colour: bool,
}

const DIM: &str = "2";
const SERVER: &str = "1;36";
const ASTERISK: &str = "32";
const ALERT: &str = "1;31";
const REFUSAL: &str = "33";

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.colour { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    /// A heading.
    pub(crate) fn paint_title(self, text: &str) -> String {
        self.paint("1", text)
    }
}

/// How an Asterisk line reads: notifications and refusals stand out.
fn reply_style(text: &str) -> &'static str {
    if text == "HANGUP" {
        ALERT
    } else if text.starts_with('5') {
        REFUSAL
    } else {
        ASTERISK
    }
}

fn line(out: &mut String, style: Style, event: &Event, in_env: bool) {
    let time = style.paint(DIM, &format!("{:7.3}", event.t));
    let (who, code, text) = match event.dir {
        _ if event.is_eof() => ("--", DIM, "Asterisk closed the connection".to_owned()),
        _ if event.is_server_close() => ("--", DIM, "the server closed the connection".to_owned()),
        Direction::FromAsterisk if in_env => ("A:", DIM, event.readable()),
        Direction::FromAsterisk => {
            let text = event.readable();
            ("A:", reply_style(&text), text)
        }
        Direction::FromServer => ("S:", SERVER, event.readable()),
        Direction::ServerAction => ("--", DIM, event.readable()),
        Direction::Note if event.data.starts_with("(violation") => ("!!", ALERT, event.readable()),
        Direction::Note => ("..", DIM, event.readable()),
    };
    let _ = writeln!(out, "{time} {} {}", style.paint(code, who), style.paint(code, &text));
}

/// Every event, one line each, with its time.
pub(crate) fn transcript(style: Style, transcript: &Transcript) -> String {
    let mut out = String::new();
    let mut in_env = true;
    for event in &transcript.events {
        line(&mut out, style, event, in_env);
        if in_env && event.dir == Direction::FromAsterisk && event.data == "\n" {
            in_env = false;
        }
    }
    out
}

/// The end of the call: the variables the server set, and what Asterisk would report.
pub(crate) fn summary(style: Style, report: &CallReport) -> String {
    let mut out = String::from("\n");
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in report.set_by_server() {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    if !names.is_empty() {
        let _ = writeln!(out, "{}", style.paint_title("Variables set by the server"));
        let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
        for name in names {
            let value = report.variable(name).unwrap_or_default();
            let _ = writeln!(out, "  {name:width$}  {value}");
        }
    }
    let _ = writeln!(out, "{}", style.paint_title("Status"));
    let agi_status = report.agi_status();
    let agi_code = if agi_status == "SUCCESS" { ASTERISK } else { ALERT };
    let _ =
        writeln!(out, "  AGISTATUS       {}  (set by Asterisk when AGI() returns)", style.paint(agi_code, agi_status));
    match report.status() {
        Some(status) => {
            let code = if status == "SUCCESS" { ASTERISK } else { ALERT };
            let _ = writeln!(out, "  FASTAGI_STATUS  {}", style.paint(code, status));
        }
        None => {
            let _ = writeln!(out, "  FASTAGI_STATUS  (not set)");
        }
    }
    if let Some(reason) = report.variable("FASTAGI_REASON") {
        let _ = writeln!(out, "  FASTAGI_REASON  {reason}");
    }
    let ended = match report.end() {
        CallEnd::ServerClosed => "the server closed the connection",
        CallEnd::FailureMarker => "the server sent the failure marker",
        CallEnd::AsteriskHungUp => "Asterisk ended the session on hangup",
        _ => "the session ended",
    };
    let _ = writeln!(out, "  ended           {ended}{}", if report.hung_up() { " (the caller hung up)" } else { "" });
    let (context, extension, priority) = report.dialplan();
    let _ = writeln!(out, "  dialplan        continues after {context},{extension},{priority}");
    if !report.keys_left().is_empty() {
        let _ = writeln!(out, "  keys left       {}", report.keys_left());
    }
    for violation in report.violations() {
        let _ = writeln!(out, "{} {violation}", style.paint(ALERT, "protocol violation:"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_when_asked() {
        assert_eq!(Style { colour: false }.paint(SERVER, "ANSWER"), "ANSWER");
        assert_eq!(Style { colour: true }.paint(SERVER, "ANSWER"), "\x1b[1;36mANSWER\x1b[0m");
        assert_eq!(reply_style("HANGUP"), ALERT);
        assert_eq!(reply_style("511 Command Not Permitted"), REFUSAL);
        assert_eq!(reply_style("200 result=0"), ASTERISK);
    }
}
