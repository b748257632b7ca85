//! The server's measurement points. With the `metrics` feature they record through the
//! `metrics` facade (names in [`crate::metrics`]); without it they compile to nothing.

#![cfg_attr(not(feature = "metrics"), allow(unused_variables))]

use crate::status::CallStatus;
use crate::wire::CommandError;

/// Why a connection or call was turned away (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    PeerDenied,
    HandshakeLimit,
    Denied,
    NotFound,
    Overloaded,
    RouteLimit,
    RespondersBusy,
}

impl Refusal {
    #[cfg(feature = "metrics")]
    fn as_str(self) -> &'static str {
        match self {
            Refusal::PeerDenied => "peer_denied",
            Refusal::HandshakeLimit => "handshake_limit",
            Refusal::Denied => "denied",
            Refusal::NotFound => "not_found",
            Refusal::Overloaded => "overloaded",
            Refusal::RouteLimit => "route_limit",
            Refusal::RespondersBusy => "responders_busy",
        }
    }
}

/// Which deadline expired (the `phase` label of timeouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deadline {
    Environment,
    Command,
    HangupGrace,
    Shutdown,
}

pub(crate) fn refused(route: &str, reason: Refusal) {
    #[cfg(feature = "metrics")]
    metrics::counter!(crate::metrics::CALLS_REFUSED, "route" => route.to_owned(), "reason" => reason.as_str())
        .increment(1);
}

/// A call was admitted to its handler; the returned guard ends it (also on panic).
pub(crate) fn call_started(route: &str) -> ActiveCall {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(crate::metrics::CALLS_ACCEPTED, "route" => route.to_owned()).increment(1);
        metrics::gauge!(crate::metrics::CALLS_ACTIVE, "route" => route.to_owned()).increment(1.0);
    }
    ActiveCall {
        #[cfg(feature = "metrics")]
        route: route.to_owned(),
    }
}

/// An admitted call, counted in `agi_calls_active` until dropped.
#[derive(Debug)]
pub(crate) struct ActiveCall {
    #[cfg(feature = "metrics")]
    route: String,
}

impl ActiveCall {
    pub(crate) fn completed(&self, status: CallStatus) {
        #[cfg(feature = "metrics")]
        metrics::counter!(crate::metrics::CALLS_COMPLETED, "route" => self.route.clone(), "status" => status.as_str())
            .increment(1);
    }
}

impl Drop for ActiveCall {
    fn drop(&mut self) {
        #[cfg(feature = "metrics")]
        metrics::gauge!(crate::metrics::CALLS_ACTIVE, "route" => std::mem::take(&mut self.route)).decrement(1.0);
    }
}

/// When a command was sent; reading the clock is skipped without the `metrics` feature.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CommandClock {
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
}

pub(crate) fn command_started() -> CommandClock {
    CommandClock {
        #[cfg(feature = "metrics")]
        started: std::time::Instant::now(),
    }
}

pub(crate) fn command_finished(command: &str, clock: CommandClock) {
    #[cfg(feature = "metrics")]
    {
        let seconds = clock.started.elapsed().as_secs_f64();
        match KNOWN_COMMANDS.iter().position(|known| *known == command) {
            Some(index) => {
                static METADATA: metrics::Metadata<'static> =
                    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));
                let key = metrics::Key::from_static_parts(crate::metrics::COMMAND_DURATION, &COMMAND_LABELS[index]);
                metrics::with_recorder(|recorder| recorder.register_histogram(&key, &METADATA).record(seconds));
            }
            None => metrics::histogram!(crate::metrics::COMMAND_DURATION, "command" => command_label(command))
                .record(seconds),
        }
    }
}

#[cold]
pub(crate) fn command_rejected(error: &CommandError) {
    #[cfg(feature = "metrics")]
    {
        let (command, reason) = match error {
            CommandError::ForbiddenByte { command, .. } => (command.as_str(), "forbidden_byte"),
            CommandError::LineTooLong { command, .. } => (command.as_str(), "line_too_long"),
            CommandError::FailureMarker => ("", "failure_marker"),
            CommandError::Empty => ("", "empty"),
        };
        metrics::counter!(crate::metrics::COMMAND_REJECTIONS, "command" => command_label(command), "reason" => reason)
            .increment(1);
    }
}

pub(crate) fn hangup() {
    #[cfg(feature = "metrics")]
    metrics::counter!(crate::metrics::HANGUPS).increment(1);
}

/// A peer sent something that is not AGI, in the environment block or during the call.
pub(crate) fn protocol_error(in_environment: bool) {
    #[cfg(feature = "metrics")]
    metrics::counter!(crate::metrics::PROTOCOL_ERRORS, "phase" => if in_environment { "environment" } else { "call" })
        .increment(1);
}

pub(crate) fn timeout(deadline: Deadline) {
    #[cfg(feature = "metrics")]
    {
        let phase = match deadline {
            Deadline::Environment => "environment",
            Deadline::Command => "command",
            Deadline::HangupGrace => "hangup_grace",
            Deadline::Shutdown => "shutdown",
        };
        metrics::counter!(crate::metrics::TIMEOUTS, "phase" => phase).increment(1);
    }
}

/// The commands this crate sends by name, with their latency labels built at compile
/// time: recording a typed command's latency allocates nothing.
#[cfg(feature = "metrics")]
macro_rules! known_commands {
    ($($name:literal),* $(,)?) => {
        const KNOWN_COMMANDS: &[&str] = &[$($name),*];
        static COMMAND_LABELS: &[[metrics::Label; 1]] = &[$([metrics::Label::from_static_parts("command", $name)]),*];
    };
}

#[cfg(feature = "metrics")]
known_commands!(
    "ANSWER",
    "ASYNCAGI BREAK",
    "CHANNEL STATUS",
    "CONTROL STREAM FILE",
    "DATABASE DEL",
    "DATABASE DELTREE",
    "DATABASE GET",
    "DATABASE PUT",
    "EXEC",
    "GET DATA",
    "GET FULL VARIABLE",
    "GET OPTION",
    "GET SOUNDFILE",
    "GET VARIABLE",
    "GOSUB",
    "HANGUP",
    "ISEXISTING SOUNDFILE",
    "NOOP",
    "PUT SOUNDFILE",
    "RECEIVE CHAR",
    "RECEIVE TEXT",
    "RECORD FILE",
    "SAY ALPHA",
    "SAY DATE",
    "SAY DATETIME",
    "SAY DIGITS",
    "SAY NUMBER",
    "SAY PHONETIC",
    "SAY TIME",
    "SEND IMAGE",
    "SEND TEXT",
    "SET AUTOHANGUP",
    "SET CALLERID",
    "SET CONTEXT",
    "SET EXTENSION",
    "SET MUSIC",
    "SET PRIORITY",
    "SET VARIABLE",
    "SPEECH ACTIVATE GRAMMAR",
    "SPEECH CREATE",
    "SPEECH DEACTIVATE GRAMMAR",
    "SPEECH DESTROY",
    "SPEECH LOAD GRAMMAR",
    "SPEECH RECOGNIZE",
    "SPEECH SET",
    "SPEECH UNLOAD GRAMMAR",
    "STREAM FILE",
    "TDD MODE",
    "VERBOSE",
    "WAIT FOR DIGIT",
);

/// Typed commands' keywords are fixed and labelled without allocating; a raw command's
/// first word comes from the handler, so only a plain upper-case word is used as a
/// label (bounded cardinality).
#[cfg(feature = "metrics")]
fn command_label(command: &str) -> metrics::SharedString {
    if let Some(known) = KNOWN_COMMANDS.iter().find(|known| **known == command) {
        return metrics::SharedString::const_str(known);
    }
    let plain = |word: &str| !word.is_empty() && word.len() <= 24 && word.bytes().all(|b| b.is_ascii_uppercase());
    if command.split(' ').all(plain) && command.len() <= 48 {
        metrics::SharedString::from_owned(command.to_owned())
    } else {
        metrics::SharedString::const_str("OTHER")
    }
}

#[cfg(all(test, feature = "metrics"))]
mod tests {
    use super::*;

    #[test]
    fn raw_command_labels_stay_bounded() {
        assert_eq!(&*command_label("STREAM FILE"), "STREAM FILE");
        assert_eq!(&*command_label("SOME"), "SOME");
        assert_eq!(&*command_label("some"), "OTHER");
        assert_eq!(&*command_label("X\"Y"), "OTHER");
        assert_eq!(&*command_label(&"A".repeat(25)), "OTHER");
        assert_eq!(&*command_label(""), "OTHER");
    }
}
