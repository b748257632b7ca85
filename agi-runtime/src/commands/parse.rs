//! Parts of `200` replies that several commands share, and the unit conversions of
//! their arguments.

use std::time::Duration;

use crate::commands::types::Digit;
use crate::error::{AgiError, AgiResult};
use crate::wire::Response;

/// How an interruptible prompt ended, before each command adds its own details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// `result=0`.
    Completed,
    /// `result=<ASCII code of a DTMF digit>`.
    Interrupted(Digit),
    /// `result=-1`.
    Failed,
}

/// Reads the `0` / digit code / `-1` result of prompts (STREAM FILE, SAY …, …).
pub(crate) fn ending(command: &str, reply: &Response<'_>) -> AgiResult<Ending> {
    match reply.result_code() {
        Some(0) => Ok(Ending::Completed),
        Some(-1) => Ok(Ending::Failed),
        Some(code) => {
            Digit::from_ascii_code(code).map(Ending::Interrupted).ok_or_else(|| AgiError::unexpected(command, reply))
        }
        None => Err(AgiError::unexpected(command, reply)),
    }
}

/// The integer result every command but `GET DATA` reports.
pub(crate) fn code(command: &str, reply: &Response<'_>) -> AgiResult<i64> {
    reply.result_code().ok_or_else(|| AgiError::unexpected(command, reply))
}

/// An `endpos=` attribute in samples.
pub(crate) fn endpos_samples(command: &str, reply: &Response<'_>) -> AgiResult<u64> {
    reply.attribute("endpos").and_then(|p| p.parse().ok()).ok_or_else(|| AgiError::unexpected(command, reply))
}

/// `Ok(())` for the success value, [`AgiError::Failed`] for the documented failure
/// value (if the command has one), and an unexpected-reply error for anything else.
pub(crate) fn expect(command: &str, reply: &Response<'_>, success: i64, failure: Option<i64>) -> AgiResult<()> {
    match reply.result_code() {
        Some(code) if code == success => Ok(()),
        Some(code) if Some(code) == failure => Err(AgiError::failed(command, reply)),
        _ => Err(AgiError::unexpected(command, reply)),
    }
}

/// A yes/no answer given as `1` / `0`.
pub(crate) fn yes_no(command: &str, reply: &Response<'_>) -> AgiResult<bool> {
    match reply.result_code() {
        Some(1) => Ok(true),
        Some(0) => Ok(false),
        _ => Err(AgiError::unexpected(command, reply)),
    }
}

/// The largest number Asterisk's `atoi` / `%d` arguments hold.
const INT_MAX: u128 = i32::MAX as u128;

/// Milliseconds, rounded up (a 0.2 ms wait must not become "no wait"), capped at what
/// Asterisk's `int` arguments hold.
pub(crate) fn millis(duration: Duration) -> i64 {
    let nanos = duration.as_nanos();
    let ms = nanos.div_ceil(1_000_000);
    ms.min(INT_MAX) as i64
}

/// Milliseconds for a command that reads `0` as "default" or "forever": at least 1.
pub(crate) fn millis_nonzero(duration: Duration) -> i64 {
    millis(duration).max(1)
}

/// Whole seconds, rounded up, at least 1 (for commands that read `0` as "none").
pub(crate) fn seconds_nonzero(duration: Duration) -> i64 {
    let secs = duration.as_nanos().div_ceil(1_000_000_000);
    secs.clamp(1, INT_MAX) as i64
}

/// A sample or millisecond offset for a `%ld` argument.
pub(crate) fn offset(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up_and_cap() {
        assert_eq!(millis(Duration::ZERO), 0);
        assert_eq!(millis(Duration::from_micros(200)), 1);
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
        assert_eq!(millis(Duration::from_secs(u64::MAX)), i64::from(i32::MAX));
        assert_eq!(millis_nonzero(Duration::ZERO), 1);
        assert_eq!(seconds_nonzero(Duration::ZERO), 1);
        assert_eq!(seconds_nonzero(Duration::from_millis(1001)), 2);
        assert_eq!(seconds_nonzero(Duration::from_secs(5)), 5);
        assert_eq!(offset(u64::MAX), i64::MAX);
    }

    #[test]
    fn prompt_endings() {
        let reply = |text| Response::parse(text).unwrap();
        assert_eq!(ending("X", &reply("result=0")).unwrap(), Ending::Completed);
        assert_eq!(ending("X", &reply("result=-1")).unwrap(), Ending::Failed);
        assert_eq!(ending("X", &reply("result=35")).unwrap(), Ending::Interrupted(Digit::Pound));
        assert!(ending("X", &reply("result=1")).is_err());
        assert!(ending("X", &reply("result=")).is_err());
    }
}
