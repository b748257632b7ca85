//! Call control: answering, hanging up, channel state, caller id, timers.

use std::fmt::Write as _;
use std::time::Duration;

use crate::call::{Call, Command};
use crate::commands::parse;
use crate::commands::types::InvalidArgument;
use crate::error::{AgiError, AgiResult};
use crate::wire::{Arg, Response};

/// The state of a channel, as `CHANNEL STATUS` reports it (`enum ast_channel_state`).
///
/// Rely on the variant, not on the labels of Asterisk's AGI documentation: those swap
/// the meanings of 4 and 5 and omit 8 and 9, which Asterisk can still return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelState {
    /// 0: down and available.
    Down,
    /// 1: down, but reserved.
    Reserved,
    /// 2: off hook.
    OffHook,
    /// 3: digits (or equivalent) have been dialed.
    Dialing,
    /// 4: an incoming call is ringing here, not yet answered (what an unanswered
    /// inbound channel reports).
    Ring,
    /// 5: the remote end is ringing.
    Ringing,
    /// 6: up (answered).
    Up,
    /// 7: busy.
    Busy,
    /// 8: digits dialed while off hook.
    DialingOffHook,
    /// 9: the channel is about to ring (before the ring indication).
    PreRing,
    /// A value this crate does not know (a newer Asterisk).
    Unknown(i64),
}

impl ChannelState {
    /// The state for a `CHANNEL STATUS` result value.
    pub fn from_code(code: i64) -> ChannelState {
        use ChannelState::*;
        match code {
            0 => Down,
            1 => Reserved,
            2 => OffHook,
            3 => Dialing,
            4 => Ring,
            5 => Ringing,
            6 => Up,
            7 => Busy,
            8 => DialingOffHook,
            9 => PreRing,
            other => Unknown(other),
        }
    }

    /// The numeric value Asterisk uses.
    pub fn code(self) -> i64 {
        use ChannelState::*;
        match self {
            Down => 0,
            Reserved => 1,
            OffHook => 2,
            Dialing => 3,
            Ring => 4,
            Ringing => 5,
            Up => 6,
            Busy => 7,
            DialingOffHook => 8,
            PreRing => 9,
            Unknown(code) => code,
        }
    }
}

/// The mode `TDD MODE` puts a TDD-capable channel (DAHDI) in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TddMode {
    /// TDD on (`on`; Asterisk reads `tdd` the same way).
    On,
    /// TDD off.
    Off,
    /// TDD "mate" mode.
    Mate,
}

impl TddMode {
    fn word(self) -> &'static str {
        match self {
            TddMode::On => "on",
            TddMode::Off => "off",
            TddMode::Mate => "mate",
        }
    }
}

/// Asterisk copies the `SET CALLERID` word into a 256-byte buffer.
const MAX_CALLER_ID: usize = 255;

/// Seconds with microsecond precision, as `SET AUTOHANGUP` reads them (`%lf`), rounded
/// up so that a positive duration never becomes `0` ("cancel").
fn autohangup_seconds(after: Duration) -> String {
    let micros = after.as_nanos().div_ceil(1_000).clamp(1, u128::from(i32::MAX as u32) * 1_000_000);
    let (secs, fraction) = (micros / 1_000_000, micros % 1_000_000);
    let mut text = secs.to_string();
    if fraction != 0 {
        let _ = write!(text, ".{fraction:06}");
        text.truncate(text.trim_end_matches('0').len());
    }
    text
}

impl Call {
    /// `ANSWER`: answers the channel; nothing happens if it is already up.
    ///
    /// `Ok(())` once the channel is up; [`AgiError::Failed`] if Asterisk could not answer
    /// (`result=-1`). Live channel only: after a hangup, [`AgiError::HungUp`] without a
    /// round trip.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.answer().await?;
    /// # Ok(()) }
    /// ```
    pub fn answer(&mut self) -> impl Future<Output = AgiResult<()>> {
        self.typed("ANSWER", false, &[], |reply| parse::expect("ANSWER", reply, 0, Some(-1)))
    }

    /// `HANGUP`: hangs up this channel.
    ///
    /// Asterisk then sends `HANGUP` and the session continues in dead mode: the
    /// commands that work on a dead channel (variables, database, `EXEC`, `VERBOSE`, …)
    /// still run, the others fail with [`AgiError::HungUp`]. Live channel only.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.hangup().await?;
    /// call.set_variable("DONE", "1").await?;
    /// # Ok(()) }
    /// ```
    pub fn hangup(&mut self) -> impl Future<Output = AgiResult<()>> {
        self.typed("HANGUP", false, &[], |reply| parse::expect("HANGUP", reply, 1, None))
    }

    /// `HANGUP channel`: hangs up another channel, by its full name.
    ///
    /// `Ok(true)` if the channel existed and was asked to hang up, `Ok(false)` if no
    /// channel has that name (`result=-1`). Needs this call's channel to be live.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// if !call.hangup_channel("PJSIP/bob-00000012").await? {
    ///     call.verbose("bob had already gone").await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn hangup_channel(&mut self, channel: &str) -> impl Future<Output = AgiResult<bool>> {
        self.typed("HANGUP", false, &[Arg::Text(channel)], |reply| match reply.result_code() {
            Some(1) => Ok(true),
            Some(-1) => Ok(false),
            _ => Err(AgiError::unexpected("HANGUP", reply)),
        })
    }

    /// `CHANNEL STATUS`: the state of this channel.
    ///
    /// An unanswered inbound call reports [`ChannelState::Ring`], an answered one
    /// [`ChannelState::Up`]. Live channel only (Asterisk answers `511` once the channel
    /// is gone, which is the [`AgiError::HungUp`] error).
    ///
    /// ```
    /// use agi_runtime::ChannelState;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// if call.channel_status().await? != ChannelState::Up {
    ///     call.answer().await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn channel_status(&mut self) -> impl Future<Output = AgiResult<ChannelState>> {
        self.typed("CHANNEL STATUS", false, &[], |reply| match parse::code("CHANNEL STATUS", reply)? {
            -1 => Err(AgiError::unexpected("CHANNEL STATUS", reply)),
            code => Ok(ChannelState::from_code(code)),
        })
    }

    /// `CHANNEL STATUS channel`: the state of another channel, by its full name.
    ///
    /// `Ok(None)` if no channel has that name (`result=-1`). Needs this call's channel to
    /// be live.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// let state = call.channel_status_of("PJSIP/bob-00000012").await?;
    /// # Ok(()) }
    /// ```
    pub fn channel_status_of(&mut self, channel: &str) -> impl Future<Output = AgiResult<Option<ChannelState>>> {
        self.typed("CHANNEL STATUS", false, &[Arg::Text(channel)], |reply| {
            match parse::code("CHANNEL STATUS", reply)? {
                -1 => Ok(None),
                code => Ok(Some(ChannelState::from_code(code))),
            }
        })
    }

    /// `SET AUTOHANGUP seconds`: hangs the channel up after `after`, wherever the call is
    /// by then (a later `SET AUTOHANGUP` replaces the timer).
    ///
    /// Sent in seconds with microsecond precision; a zero duration is sent as one
    /// microsecond, since `0` would cancel the timer (use
    /// [`cancel_autohangup`](Call::cancel_autohangup) for that). Live channel only.
    ///
    /// ```
    /// use std::time::Duration;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.set_autohangup(Duration::from_secs(90)).await?; // sends `SET AUTOHANGUP 90`
    /// # Ok(()) }
    /// ```
    pub fn set_autohangup(&mut self, after: Duration) -> impl Future<Output = AgiResult<()>> {
        let seconds = autohangup_seconds(after);
        self.typed("SET AUTOHANGUP", false, &[Arg::Text(&seconds)], |reply| {
            parse::expect("SET AUTOHANGUP", reply, 0, None)
        })
    }

    /// `SET AUTOHANGUP 0`: cancels the timer set by
    /// [`set_autohangup`](Call::set_autohangup). Live channel only.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.cancel_autohangup().await?;
    /// # Ok(()) }
    /// ```
    pub fn cancel_autohangup(&mut self) -> impl Future<Output = AgiResult<()>> {
        self.typed("SET AUTOHANGUP", false, &[Arg::Int(0)], |reply| parse::expect("SET AUTOHANGUP", reply, 0, None))
    }

    /// `SET CALLERID "name" <number>`: sets the caller-id name and number of this
    /// channel (both; pass `""` to clear one).
    ///
    /// The pair is sent as the single word Asterisk parses, `"name" <number>`, so a
    /// name with spaces survives. Refused with [`AgiError::InvalidArgument`], before
    /// anything is sent: a name containing `"` (Asterisk would cut it there), a number
    /// containing `<` or `>`, or a pair longer than Asterisk's 255-byte buffer. Asterisk
    /// strips `(`, `)`, `-`, `.` and spaces from the number. Live channel only.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.set_caller_id("Support Line", "+15551234").await?; // SET CALLERID "\"Support Line\" <+15551234>"
    /// # Ok(()) }
    /// ```
    pub fn set_caller_id(&mut self, name: &str, number: &str) -> impl Future<Output = AgiResult<()>> {
        let parse = |reply: &Response<'_>| parse::expect("SET CALLERID", reply, 1, None);
        match caller_id_word(name, number) {
            Ok(word) => self.typed("SET CALLERID", false, &[Arg::Text(&word)], parse),
            Err(invalid) => Command::refused(invalid.into(), parse),
        }
    }

    /// `TDD MODE on|off|mate`: switches the channel's TDD (telecommunications device for
    /// the deaf) mode.
    ///
    /// `Ok(true)` if the mode was set, `Ok(false)` if the channel is not TDD-capable
    /// (every channel type but DAHDI). Live channel only.
    ///
    /// ```
    /// use agi_runtime::TddMode;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// let supported = call.set_tdd_mode(TddMode::On).await?;
    /// # Ok(()) }
    /// ```
    pub fn set_tdd_mode(&mut self, mode: TddMode) -> impl Future<Output = AgiResult<bool>> {
        self.typed("TDD MODE", false, &[Arg::Text(mode.word())], |reply| parse::yes_no("TDD MODE", reply))
    }
}

/// The one word `SET CALLERID` takes: `"name" <number>`, refused if Asterisk could not
/// read it back as written.
fn caller_id_word(name: &str, number: &str) -> Result<String, InvalidArgument> {
    if name.contains('"') {
        return Err(InvalidArgument::new("caller-id name", name, "Asterisk cannot carry a `\"` in it"));
    }
    if number.contains(['<', '>']) {
        return Err(InvalidArgument::new("caller-id number", number, "`<` and `>` delimit the number"));
    }
    let word = format!("\"{name}\" <{number}>");
    if word.len() > MAX_CALLER_ID {
        let reason = format!("`\"name\" <number>` must fit in {MAX_CALLER_ID} bytes");
        return Err(InvalidArgument::new("caller id", &word, reason));
    }
    Ok(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autohangup_is_sent_in_seconds() {
        assert_eq!(autohangup_seconds(Duration::from_secs(90)), "90");
        assert_eq!(autohangup_seconds(Duration::from_millis(1500)), "1.5");
        assert_eq!(autohangup_seconds(Duration::from_micros(250)), "0.00025");
        assert_eq!(autohangup_seconds(Duration::ZERO), "0.000001");
        assert_eq!(autohangup_seconds(Duration::from_nanos(1)), "0.000001");
        assert_eq!(autohangup_seconds(Duration::from_secs(u64::MAX)), i32::MAX.to_string());
    }

    #[test]
    fn channel_states_round_trip() {
        for code in -1..12 {
            assert_eq!(ChannelState::from_code(code).code(), code);
        }
        assert_eq!(ChannelState::from_code(9), ChannelState::PreRing);
    }
}
