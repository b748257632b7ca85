//! What the server tells the dialplan about each call.

use std::borrow::Cow;
use std::fmt;

/// How a call ended, as reported to the dialplan in a channel variable.
///
/// Asterisk's own `AGISTATUS` is `SUCCESS` whenever the server answered, so the server
/// sets this status (by default in `FASTAGI_STATUS`, with a reason in `FASTAGI_REASON`)
/// for the dialplan to branch on:
///
/// ```text
/// exten => 100,1,AGI(agi://10.0.0.2/GetCallerRecord?extension=${EXTEN})
///  same => n,GotoIf($["${FASTAGI_STATUS}" != "SUCCESS"]?fallback)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallStatus {
    /// The handler finished normally.
    Success,
    /// No route matches the script path.
    NotFound,
    /// The handler's inputs (query, captures, `agi_arg_N`) could not be extracted.
    BadRequest,
    /// The handler returned an error, panicked, or overran a deadline.
    HandlerError,
    /// The server was at its call limit and did not run the handler.
    Overloaded,
    /// The handler stopped because the caller hung up.
    Hangup,
    /// The server's admission policy refused the call; the handler did not run.
    Denied,
}

impl CallStatus {
    /// Every status, for configuration and tests.
    pub const ALL: [CallStatus; 7] = [
        CallStatus::Success,
        CallStatus::NotFound,
        CallStatus::BadRequest,
        CallStatus::HandlerError,
        CallStatus::Overloaded,
        CallStatus::Hangup,
        CallStatus::Denied,
    ];

    /// The value written to the status variable.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Success => "SUCCESS",
            CallStatus::NotFound => "NOT_FOUND",
            CallStatus::BadRequest => "BAD_REQUEST",
            CallStatus::HandlerError => "HANDLER_ERROR",
            CallStatus::Overloaded => "OVERLOADED",
            CallStatus::Hangup => "HANGUP",
            CallStatus::Denied => "DENIED",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for CallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the server reports a call's [`CallStatus`] before it closes the session.
///
/// ```
/// use agi_runtime::{CallStatus, StatusReporting};
///
/// let reporting = StatusReporting::default()
///     .status_variable("MYAPP_STATUS")
///     .failure_marker_for([CallStatus::NotFound, CallStatus::Overloaded]);
/// assert!(reporting.uses_failure_marker(CallStatus::NotFound));
/// assert!(!reporting.uses_failure_marker(CallStatus::Success));
/// ```
#[derive(Debug, Clone)]
pub struct StatusReporting {
    pub(crate) status_variable: Option<Cow<'static, str>>,
    pub(crate) reason_variable: Option<Cow<'static, str>>,
    pub(crate) report_success: bool,
    failure_marker: u8,
}

impl Default for StatusReporting {
    /// `FASTAGI_STATUS` and `FASTAGI_REASON`, every status reported, no failure marker.
    fn default() -> Self {
        StatusReporting {
            status_variable: Some(Cow::Borrowed("FASTAGI_STATUS")),
            reason_variable: Some(Cow::Borrowed("FASTAGI_REASON")),
            report_success: true,
            failure_marker: 0,
        }
    }
}

impl StatusReporting {
    /// Reports nothing: no variables, no failure marker.
    pub fn disabled() -> Self {
        StatusReporting { status_variable: None, reason_variable: None, report_success: false, failure_marker: 0 }
    }

    /// The channel variable that receives the status.
    pub fn status_variable(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.status_variable = Some(name.into());
        self
    }

    /// The channel variable that receives a human-readable reason (not set on success).
    pub fn reason_variable(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.reason_variable = Some(name.into());
        self
    }

    /// Whether `SUCCESS` is reported too (default: yes).
    ///
    /// Skipping it saves one command per call, but a dialplan that runs several AGI
    /// calls on one channel then sees the previous call's status after a success.
    pub fn report_success(mut self, report: bool) -> Self {
        self.report_success = report;
        self
    }

    /// Ends sessions with these statuses with Asterisk's failure marker, so Asterisk
    /// itself sets `AGISTATUS=FAILURE` and a plain `AGISTATUS` fallback works.
    pub fn failure_marker_for(mut self, statuses: impl IntoIterator<Item = CallStatus>) -> Self {
        for status in statuses {
            self.failure_marker |= status.bit();
        }
        self
    }

    /// Whether sessions with `status` end with the failure marker.
    pub fn uses_failure_marker(&self, status: CallStatus) -> bool {
        self.failure_marker & status.bit() != 0
    }
}

/// Makes a reason safe and short enough for one `SET VARIABLE` line: control
/// characters (a caller's raw query can hold any byte) are shown escaped.
pub(crate) fn sanitize_reason(reason: &str, max: usize) -> String {
    let mut out = String::with_capacity(reason.len().min(max));
    for c in reason.chars() {
        let piece: Cow<'_, str> =
            if c.is_control() { c.escape_default().to_string().into() } else { c.to_string().into() };
        if out.len() + piece.len() > max {
            out.push_str("...");
            break;
        }
        out.push_str(&piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_lose_control_characters_and_length() {
        assert_eq!(sanitize_reason("bad\nvalue\0", 100), "bad\\nvalue\\u{0}");
        assert_eq!(sanitize_reason("abcdef", 4), "abcd...");
    }

    #[test]
    fn statuses_have_distinct_bits() {
        let reporting = StatusReporting::default().failure_marker_for(CallStatus::ALL);
        assert!(CallStatus::ALL.iter().all(|s| reporting.uses_failure_marker(*s)));
        assert_eq!(CallStatus::ALL.iter().map(|s| s.bit()).fold(0, |a, b| a | b).count_ones(), 7);
    }
}
