//! The simulated channel: answers each command the way Asterisk 22 does by default.
//!
//! It is a plain state machine with no I/O: a command line's words go in, the reply
//! lines come out (with what the session must do next: a hangup, a data phase). The
//! fake Asterisk ([`FakeAsterisk`](super::FakeAsterisk)) runs it over a connection.
//!
//! Internally every text is a byte string held as Latin-1 (one `char` per byte), so
//! that any byte a server sends is kept exactly; the public accessors convert to UTF-8.

mod astdb;
pub(crate) mod base64;
mod commands;
mod dialplan;
pub(crate) mod keypad;
mod media;
mod sounds;
mod transfer;
mod usage;
mod variables;

use std::collections::BTreeMap;
use std::time::Duration;

pub(crate) use astdb::AstDb;
use commands::{Command, Spec};
pub(crate) use keypad::Keypad;
pub(crate) use sounds::Sounds;
use variables::Variables;

use crate::transcript::{latin1_bytes, latin1_string};

/// The reply to `511`.
pub(crate) const DEAD: &str = "511 Command Not Permitted on a dead channel or intercept routine";
/// The reply to an unknown command.
pub(crate) const UNKNOWN: &str = "510 Invalid or unknown command";

/// A UTF-8 text from the test, as the byte string the channel keeps.
pub(crate) fn internal(text: &str) -> String {
    latin1_string(text.as_bytes())
}

/// A byte string of the channel, as UTF-8 for the test (invalid sequences replaced).
pub(crate) fn external(text: &str) -> String {
    String::from_utf8_lossy(&latin1_bytes(text)).into_owned()
}

/// What one command produced.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reply {
    /// The lines to send, LF not included; the last one is the final reply.
    pub(crate) lines: Vec<String>,
    /// The command failed while the channel was up (Asterisk then reports
    /// `AGISTATUS=FAILURE`).
    pub(crate) failed: bool,
    /// The channel hangs up at the end of this command.
    pub(crate) hangs_up: bool,
    /// Lines to exchange after the reply (the sound-file transfer commands).
    pub(crate) data: Data,
}

/// The data phase of a sound-file transfer.
#[derive(Debug, Clone, Default)]
pub(crate) enum Data {
    #[default]
    None,
    /// `PUT SOUNDFILE`: read this many base64 lines, then reply.
    Upload { file: String, size: usize, lines: usize },
    /// `GET SOUNDFILE`: send these base64 lines after the reply.
    Download(Vec<String>),
}

impl Reply {
    fn line(line: impl Into<String>) -> Reply {
        Reply { lines: vec![line.into()], ..Reply::default() }
    }

    /// `200 result=<rest>`.
    fn ok(rest: impl std::fmt::Display) -> Reply {
        Reply::line(format!("200 result={rest}"))
    }

    fn failed_if(mut self, failed: bool) -> Reply {
        self.failed = failed;
        self
    }

    fn hanging_up(mut self) -> Reply {
        self.hangs_up = true;
        self
    }
}

/// A subroutine `GOSUB` can call.
#[derive(Debug, Clone)]
pub(crate) struct Subroutine {
    pub(crate) context: String,
    pub(crate) extension: String,
    pub(crate) return_value: Option<String>,
}

/// The state of the simulated channel and of the Asterisk around it.
#[derive(Debug, Clone)]
pub(crate) struct Channel {
    pub(crate) name: String,
    pub(crate) uniqueid: String,
    pub(crate) language: String,
    pub(crate) context: String,
    pub(crate) extension: String,
    pub(crate) priority: String,
    pub(crate) caller_number: String,
    pub(crate) caller_name: String,
    pub(crate) answered: bool,
    /// Dead mode: commands that need a live channel get `511`.
    pub(crate) dead: bool,
    pub(crate) variables: Variables,
    pub(crate) db: AstDb,
    pub(crate) keypad: Keypad,
    pub(crate) sounds: Sounds,
    /// The sound-file transfer module is loaded.
    pub(crate) sound_module: bool,
    /// Applications `EXEC` knows beyond the built-in ones, by lower-case name, with the
    /// value they return.
    pub(crate) applications: BTreeMap<String, i64>,
    pub(crate) dial_status: String,
    pub(crate) subroutines: Vec<Subroutine>,
    pub(crate) music: bool,
    /// Set by `SET AUTOHANGUP`, for the session to schedule.
    pub(crate) autohangup: Option<Option<Duration>>,
    /// A command failed while the channel was up.
    failed_while_up: bool,
    /// The channel hung up during the session.
    hung_up: bool,
    /// `SET VARIABLE`s of the session, in order.
    pub(crate) set_by_server: Vec<(String, String)>,
    /// `VERBOSE` messages.
    pub(crate) console: Vec<String>,
}

impl Channel {
    /// A ringing channel with the identity of the environment block.
    pub(crate) fn new(env: &crate::AgiEnv) -> Channel {
        Channel::with(|name| match name {
            "channel" => env.channel(),
            "uniqueid" => env.uniqueid(),
            "language" => env.language(),
            "context" => env.context(),
            "extension" => env.extension(),
            "priority" => env.priority(),
            "caller_number" => env.caller_id_num(),
            "caller_name" => env.caller_id_name().filter(|n| *n != "unknown"),
            _ => None,
        })
    }

    /// A ringing channel with default names (for a call that cannot start).
    pub(crate) fn unnamed() -> Channel {
        Channel::with(|_| None)
    }

    fn with<'a>(field: impl Fn(&str) -> Option<&'a str>) -> Channel {
        let text = |name: &str, default: &str| internal(field(name).unwrap_or(default));
        Channel {
            name: text("channel", "PJSIP/alice-00000001"),
            uniqueid: text("uniqueid", "1795871406.5"),
            language: text("language", "en"),
            context: text("context", "default"),
            extension: text("extension", "s"),
            priority: text("priority", "1"),
            caller_number: text("caller_number", ""),
            caller_name: text("caller_name", ""),
            answered: false,
            dead: false,
            variables: Variables::default(),
            db: AstDb::default(),
            keypad: Keypad::default(),
            sounds: Sounds::default(),
            sound_module: true,
            applications: BTreeMap::new(),
            dial_status: "ANSWER".to_owned(),
            subroutines: Vec::new(),
            music: false,
            autohangup: None,
            failed_while_up: false,
            hung_up: false,
            set_by_server: Vec::new(),
            console: Vec::new(),
        }
    }

    /// Runs one command. `hanging_up` says that the caller hangs up while it runs:
    /// commands that wait on the channel then end with their failure result.
    pub(crate) fn execute(&mut self, words: &[String], hanging_up: bool) -> Reply {
        let Some(spec) = commands::find(words, self.sound_module) else {
            return Reply::line(UNKNOWN);
        };
        if self.dead && !spec.dead {
            return Reply::line(DEAD);
        }
        let reply = match spec.accepts(words.len()) {
            true => self.run(spec, words, hanging_up),
            false => None,
        };
        let mut reply = reply.unwrap_or_else(|| Reply { lines: usage::lines(spec.command), ..Reply::default() });
        if hanging_up && !self.dead {
            reply.hangs_up = true;
        }
        if reply.failed && !self.dead && !reply.hangs_up {
            self.failed_while_up = true;
        }
        reply
    }

    /// The handler of each command; `None` means "show the usage" (520).
    fn run(&mut self, spec: &Spec, words: &[String], hanging_up: bool) -> Option<Reply> {
        let args = &words[spec.words.len()..];
        let arg = |i: usize| args.get(i).map_or("", String::as_str);
        Some(match spec.command {
            Command::Answer => self.answer(),
            Command::AsyncAgiBreak | Command::Noop => Reply::ok(0),
            Command::ChannelStatus => self.channel_status(args.first()),
            Command::DatabaseDel => Reply::ok(self.db.del(arg(0), arg(1))),
            Command::DatabaseDeltree => Reply::ok(self.db.deltree(arg(0), args.get(1).map(String::as_str))),
            Command::DatabaseGet => match self.db.get(arg(0), arg(1)) {
                Some(value) => Reply::ok(format!("1 ({value})")),
                None => Reply::ok(0),
            },
            Command::DatabasePut => {
                self.db.put(arg(0), arg(1), arg(2));
                Reply::ok(1)
            }
            Command::Exec => self.exec(arg(0), arg(1), hanging_up),
            Command::GetFullVariable => self.get_full_variable(arg(0), args.get(1)),
            Command::GetVariable => self.get_variable(arg(0)),
            Command::Gosub => self.gosub(arg(0), arg(1)),
            Command::Hangup => self.hangup_command(args.first()),
            Command::SetAutohangup => self.set_autohangup(arg(0))?,
            Command::SetCallerid => self.set_callerid(args.first()),
            Command::SetContext => {
                self.context = arg(0).to_owned();
                Reply::ok(0)
            }
            Command::SetExtension => {
                self.extension = arg(0).to_owned();
                Reply::ok(0)
            }
            Command::SetPriority => self.set_priority(arg(0))?,
            Command::SetVariable => self.set_variable_command(arg(0), arg(1)),
            Command::Verbose => {
                self.console.push(arg(0).to_owned());
                Reply::ok(1)
            }
            Command::StreamFile => self.stream_file(arg(0), arg(1), args.get(2), hanging_up)?,
            Command::ControlStreamFile => self.control_stream_file(args, hanging_up)?,
            Command::GetOption => self.get_option(arg(0), arg(1), hanging_up),
            Command::GetData => self.get_data(arg(0), args.get(1), args.get(2), hanging_up),
            Command::WaitForDigit => self.wait_for_digit(arg(0), hanging_up)?,
            Command::SayAlpha => self.say_alpha(arg(0), arg(1), args.get(2), hanging_up)?,
            Command::SayDigits => self.say_digits(arg(0), arg(1), hanging_up)?,
            Command::SayNumber => self.say_number(arg(0), arg(1), hanging_up)?,
            Command::SayPhonetic => self.say(&sounds::phonetic_files(arg(0)), arg(1), hanging_up),
            Command::SayDate | Command::SayTime | Command::SayDatetime => {
                self.say_time(spec.command, arg(0), arg(1), hanging_up)?
            }
            Command::RecordFile => self.record_file(args, hanging_up)?,
            Command::ReceiveChar => Reply::ok("-1 (hangup)").failed_if(true),
            Command::ReceiveText => Reply::ok(-1),
            Command::SendImage | Command::SendText => Reply::ok(0),
            Command::TddMode => Reply::ok(0),
            Command::SetMusic => {
                self.music = arg(0).get(..2).is_some_and(|on| on.eq_ignore_ascii_case("on"));
                Reply::ok(0)
            }
            // No speech engine is loaded: nothing can be created, so every other
            // speech command finds no speech object.
            Command::SpeechCreate
            | Command::SpeechSet
            | Command::SpeechDestroy
            | Command::SpeechLoadGrammar
            | Command::SpeechUnloadGrammar
            | Command::SpeechActivateGrammar
            | Command::SpeechDeactivateGrammar
            | Command::SpeechRecognize => Reply::ok(0),
            Command::PutSoundfile => self.put_soundfile(arg(0), arg(1))?,
            Command::GetSoundfile => self.get_soundfile(arg(0)),
            Command::IsexistingSoundfile => Reply::ok(if self.sounds.exists(arg(0)) { 0 } else { -1 }),
        })
    }

    /// Marks the channel hung up (dead mode from now on).
    pub(crate) fn hang_up(&mut self) {
        if !self.dead {
            self.dead = true;
            self.hung_up = true;
        }
    }

    /// Whether the caller hung up during the session.
    pub(crate) fn hung_up(&self) -> bool {
        self.hung_up
    }

    /// Whether the channel is hung up (or the session started on a dead channel).
    pub(crate) fn is_dead(&self) -> bool {
        self.dead
    }

    /// What Asterisk sets `AGISTATUS` to when the session ends (§4.5).
    pub(crate) fn agi_status(&self, failure_marker: bool) -> &'static str {
        if failure_marker || self.failed_while_up {
            "FAILURE"
        } else if self.hung_up {
            "HANGUP"
        } else {
            "SUCCESS"
        }
    }

    /// `CHANNEL STATUS` of this channel: 4 (ringing) until answered, then 6 (up).
    fn state(&self) -> u8 {
        if self.answered { 6 } else { 4 }
    }
}

/// Parses a leading integer as C's `sscanf("%d")` does (`"42abc"` is 42).
fn leading_int(text: &str) -> Option<i64> {
    let text = text.trim_start();
    let end = text
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(text.len(), |(i, _)| i);
    text[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_integers_parse_like_sscanf() {
        assert_eq!(leading_int("42abc"), Some(42));
        assert_eq!(leading_int(" -7"), Some(-7));
        assert_eq!(leading_int("abc"), None);
        assert_eq!(leading_int(""), None);
        assert_eq!(leading_int("-"), None);
    }
}
