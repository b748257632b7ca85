//! The channel's identity and dialplan state: answering and hanging up, variables and
//! functions, `EXEC`, `GOSUB`, and where the dialplan continues.

use std::time::Duration;

use super::variables::{self, Scope};
use super::{Channel, Reply, leading_int};

/// `GET VARIABLE` copies the value into a 1024-byte buffer.
const GET_VARIABLE_MAX: usize = 1023;
/// `GET FULL VARIABLE` expands into a 4096-byte buffer.
const GET_FULL_VARIABLE_MAX: usize = 4095;

fn truncate(mut value: String, max: usize) -> String {
    // Channel texts are Latin-1, one char per byte: char counts are byte counts.
    if let Some((cut, _)) = value.char_indices().nth(max) {
        value.truncate(cut);
    }
    value
}

impl Channel {
    pub(super) fn answer(&mut self) -> Reply {
        self.answered = true;
        Reply::ok(0)
    }

    pub(super) fn channel_status(&self, name: Option<&String>) -> Reply {
        match name {
            Some(name) if *name != self.name => Reply::ok(-1),
            _ => Reply::ok(self.state()),
        }
    }

    pub(super) fn hangup_command(&mut self, name: Option<&String>) -> Reply {
        match name {
            Some(name) if *name != self.name => Reply::ok(-1),
            _ => Reply::ok(1).hanging_up(),
        }
    }

    pub(super) fn get_variable(&self, name: &str) -> Reply {
        match variables::lookup(self, name) {
            Some(value) => Reply::ok(format!("1 ({})", truncate(value, GET_VARIABLE_MAX))),
            None => Reply::ok(0),
        }
    }

    pub(super) fn get_full_variable(&self, expression: &str, channel: Option<&String>) -> Reply {
        match channel {
            Some(name) if *name != self.name => Reply::ok(0),
            _ => Reply::ok(format!("1 ({})", truncate(variables::expand(self, expression), GET_FULL_VARIABLE_MAX))),
        }
    }

    pub(super) fn set_variable_command(&mut self, name: &str, value: &str) -> Reply {
        self.set_by_server.push((name.to_owned(), value.to_owned()));
        self.assign(name, value);
        Reply::ok(1)
    }

    /// Sets a variable, or writes through a function (`CALLERID(num)`, `DB(f/k)`).
    pub(crate) fn assign(&mut self, name: &str, value: &str) {
        match name.strip_suffix(')').and_then(|call| call.split_once('(')) {
            Some((function, args)) => match (function.to_ascii_uppercase().as_str(), args) {
                ("CALLERID", "num" | "number") => self.caller_number = value.to_owned(),
                ("CALLERID", "name") => self.caller_name = value.to_owned(),
                ("CALLERID", "all") => (self.caller_name, self.caller_number) = parse_caller_id(value),
                ("DB", path) => {
                    if let Some((family, key)) = path.split_once('/') {
                        self.db.put(family, key, value);
                    }
                }
                // Asterisk logs an unknown function and still answers 1.
                _ => {}
            },
            None => self.variables.set(name, value),
        }
    }

    pub(super) fn set_callerid(&mut self, value: Option<&String>) -> Reply {
        if let Some(value) = value {
            (self.caller_name, self.caller_number) = parse_caller_id(value);
        }
        Reply::ok(1)
    }

    pub(super) fn set_priority(&mut self, priority: &str) -> Option<Reply> {
        // The simulated dialplan has no labels: only numbers are accepted.
        let number = leading_int(priority)?;
        self.priority = number.to_string();
        Some(Reply::ok(0))
    }

    pub(super) fn set_autohangup(&mut self, seconds: &str) -> Option<Reply> {
        let seconds: f64 = leading_float(seconds)?;
        self.autohangup = Some((seconds > 0.0).then(|| Duration::from_secs_f64(seconds.min(1e9))));
        Some(Reply::ok(0))
    }

    pub(super) fn exec(&mut self, application: &str, options: &str, hanging_up: bool) -> Reply {
        let name = application.to_ascii_lowercase();
        if let Some(&result) = self.applications.get(&name) {
            return Reply::ok(result);
        }
        let known = matches!(
            name.as_str(),
            "answer"
                | "hangup"
                | "noop"
                | "verbose"
                | "log"
                | "wait"
                | "progress"
                | "ringing"
                | "set"
                | "playback"
                | "dial"
        );
        if !known {
            return Reply::ok(-2);
        }
        if hanging_up {
            return Reply::ok(-1);
        }
        match name.as_str() {
            "answer" => self.answer(),
            "hangup" => Reply::ok(-1).hanging_up(),
            "set" => {
                if let Some((name, value)) = options.split_once('=') {
                    self.assign(name.trim(), value);
                }
                Reply::ok(0)
            }
            "playback" => {
                let files = options.split(',').next().unwrap_or_default();
                let played = self.sounds.all_playable(files.split('&'));
                self.variables.set("PLAYBACKSTATUS", if played { "SUCCESS" } else { "FAILED" });
                Reply::ok(0)
            }
            "dial" => {
                let status = self.dial_status.clone();
                self.variables.set("DIALSTATUS", &status);
                Reply::ok(0)
            }
            _ => Reply::ok(0),
        }
    }

    pub(super) fn gosub(&mut self, context: &str, extension: &str) -> Reply {
        let found = self.subroutines.iter().find(|s| s.context == context && s.extension == extension).cloned();
        match found {
            Some(subroutine) => {
                if let Some(value) = &subroutine.return_value {
                    self.variables.set("GOSUB_RETVAL", value);
                }
                Reply {
                    lines: vec!["100 result=0 Trying...".to_owned(), "200 result=0 Gosub complete".to_owned()],
                    ..Reply::default()
                }
            }
            None => Reply::ok("-1 Gosub label not found").failed_if(true),
        }
    }

    fn caller_id_all(&self) -> String {
        if self.caller_name.is_empty() {
            self.caller_number.clone()
        } else {
            format!("\"{}\" <{}>", self.caller_name, self.caller_number)
        }
    }
}

/// `"Name" <number>`, `<number>`, a bare number or a bare name.
fn parse_caller_id(text: &str) -> (String, String) {
    if let Some((name, rest)) = text.split_once('<') {
        let number = rest.split('>').next().unwrap_or_default();
        return (name.trim().trim_matches('"').to_owned(), number.to_owned());
    }
    let text = text.trim();
    let is_number = !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || "+*#-() ".contains(c));
    if is_number { (String::new(), text.to_owned()) } else { (text.trim_matches('"').to_owned(), String::new()) }
}

/// Parses a leading decimal number as C's `sscanf("%lf")` does.
fn leading_float(text: &str) -> Option<f64> {
    let text = text.trim_start();
    let end = text
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+'))))
        .map_or(text.len(), |(i, _)| i);
    text[..end].parse().ok()
}

impl Scope for Channel {
    fn variable(&self, name: &str) -> Option<String> {
        let builtin = match name {
            "CHANNEL" => Some(self.name.clone()),
            "UNIQUEID" => Some(self.uniqueid.clone()),
            "CONTEXT" => Some(self.context.clone()),
            "EXTEN" => Some(self.extension.clone()),
            "PRIORITY" => Some(self.priority.clone()),
            "EPOCH" => {
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs().to_string())
            }
            _ => None,
        };
        builtin.or_else(|| self.variables.get(name).map(str::to_owned))
    }

    fn function(&self, name: &str, args: &str) -> Option<String> {
        match name.to_ascii_uppercase().as_str() {
            "LEN" => Some(args.chars().count().to_string()),
            "TOUPPER" => Some(args.to_ascii_uppercase()),
            "TOLOWER" => Some(args.to_ascii_lowercase()),
            "CALLERID" => match args {
                "num" | "number" => Some(self.caller_number.clone()),
                "name" => Some(self.caller_name.clone()),
                "all" => Some(self.caller_id_all()),
                _ => None,
            },
            "DB" => args.split_once('/').and_then(|(family, key)| self.db.get(family, key)).map(str::to_owned),
            "DB_EXISTS" => {
                let exists = args.split_once('/').is_some_and(|(family, key)| self.db.get(family, key).is_some());
                Some(if exists { "1" } else { "0" }.to_owned())
            }
            "CHANNEL" => match args {
                "name" => Some(self.name.clone()),
                "language" => Some(self.language.clone()),
                "uniqueid" => Some(self.uniqueid.clone()),
                "state" => Some(if self.answered { "Up" } else { "Ring" }.to_owned()),
                _ => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_ids_parse_like_asterisk() {
        assert_eq!(parse_caller_id("\"Bob\" <5551234>"), ("Bob".into(), "5551234".into()));
        assert_eq!(parse_caller_id("Bob"), ("Bob".into(), String::new()));
        assert_eq!(parse_caller_id("5551234"), (String::new(), "5551234".into()));
        assert_eq!(leading_float("1.5s"), Some(1.5));
        assert_eq!(leading_float("x"), None);
        assert_eq!(truncate("abcdef".into(), 3), "abc");
    }
}
