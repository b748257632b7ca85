//! Input: collecting digits, waiting for one, recording, receiving text.

use std::time::Duration;

use crate::call::Call;
use crate::commands::parse;
use crate::commands::types::{Digit, DigitTimeout, Digits, EscapeDigits, IntoSoundFile, InvalidArgument};
use crate::error::{AgiError, AgiResult};
use crate::wire::encode::ArgList;
use crate::wire::{Arg, Response};

/// What `GET DATA` collected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DataInput {
    /// Input ended normally: the maximum number of digits was reached, or the caller
    /// pressed `#` (which is not included; `#` alone gives no digits).
    Complete(Digits),
    /// The timeout passed; the digits typed before it, possibly none (Asterisk then
    /// answers `200 result= (timeout)`, an empty result).
    TimedOut(Digits),
    /// The prompt is missing, or the channel hung up (`result=-1`).
    Failed,
}

impl DataInput {
    /// The digits, whether input completed or timed out.
    pub fn digits(&self) -> Option<&Digits> {
        match self {
            DataInput::Complete(digits) | DataInput::TimedOut(digits) => Some(digits),
            DataInput::Failed => None,
        }
    }
}

/// What `WAIT FOR DIGIT` saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigitWait {
    /// A digit was pressed.
    Digit(Digit),
    /// No digit within the timeout (`result=0`).
    TimedOut,
    /// The channel hung up, or waiting failed (`result=-1`).
    Failed,
    /// The wait was cut short by input on the AGI connection (`result=1`). A `Call`
    /// never sends while a command runs, so this only appears if another program
    /// shares the connection.
    Interrupted,
}

/// How `RECORD FILE` ended. Positions (`endpos`) are in samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recording {
    /// `(dtmf)`: stopped by an escape digit; the tone's start is cut from the file.
    Interrupted {
        /// The digit pressed.
        digit: Digit,
        /// Length of the recording.
        endpos: u64,
    },
    /// `(timeout)`: the time limit or the silence limit was reached. (The number
    /// Asterisk puts in `result=` here is an internal wait value, not a status.)
    Completed {
        /// Length of the recording (silence at the end trimmed).
        endpos: u64,
    },
    /// `(hangup)`: the channel hung up during the recording; what was recorded is kept.
    HungUp {
        /// Length of the recording.
        endpos: u64,
    },
    /// `(randomerror)` with a digit: the caller pressed an escape digit during the beep,
    /// before recording started; nothing was recorded.
    InterruptedDuringBeep {
        /// The digit pressed.
        digit: Digit,
    },
    /// The recording could not be made.
    Failed(RecordFailure),
}

/// Why `RECORD FILE` could not record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordFailure {
    /// `(writefile)`: the file could not be created (missing directory, permissions,
    /// unknown format).
    CannotWrite,
    /// `(randomerror)` with `-1`: the beep could not be played.
    Beep,
    /// `(waitfor)`: waiting for audio failed; the file holds `endpos` samples.
    Wait {
        /// Length of the recording so far.
        endpos: u64,
    },
    /// A bare `result=-1`: the silence detector could not be set up.
    SilenceDetection,
}

/// Options of `RECORD FILE`: no time limit, no beep, no silence detection, a new file.
///
/// ```
/// use std::time::Duration;
/// use agi_runtime::RecordOptions;
///
/// let options = RecordOptions::new()
///     .max_duration(Duration::from_secs(60))
///     .beep()
///     .silence(Duration::from_secs(3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RecordOptions {
    max_duration: Option<Duration>,
    append_at: Option<u64>,
    beep: bool,
    silence: Option<Duration>,
}

impl RecordOptions {
    /// No limit, no beep, no silence detection.
    pub fn new() -> RecordOptions {
        RecordOptions::default()
    }

    /// Stops after `limit` (sent in milliseconds). Without it, recording stops only on
    /// an escape digit, silence or hangup.
    pub fn max_duration(mut self, limit: Duration) -> Self {
        self.max_duration = Some(limit);
        self
    }

    /// Keeps the existing file and records from `sample` on (0 appends at the start).
    pub fn append_at(mut self, sample: u64) -> Self {
        self.append_at = Some(sample);
        self
    }

    /// Plays `beep` before recording.
    pub fn beep(mut self) -> Self {
        self.beep = true;
        self
    }

    /// Stops after this much silence (sent in whole seconds, rounded up).
    pub fn silence(mut self, silence: Duration) -> Self {
        self.silence = Some(silence);
        self
    }
}

/// The largest `maxdigits` Asterisk's 1024-byte `GET DATA` buffer holds.
const MAX_GET_DATA_DIGITS: u16 = 1023;

fn data_input(reply: &Response<'_>) -> AgiResult<DataInput> {
    if reply.result() == "-1" {
        return Ok(DataInput::Failed);
    }
    let digits: Digits = reply.result().parse().map_err(|_| AgiError::unexpected("GET DATA", reply))?;
    match reply.tag() {
        Some("timeout") => Ok(DataInput::TimedOut(digits)),
        None if reply.rest().is_empty() => Ok(DataInput::Complete(digits)),
        _ => Err(AgiError::unexpected("GET DATA", reply)),
    }
}

fn recording(reply: &Response<'_>) -> AgiResult<Recording> {
    const COMMAND: &str = "RECORD FILE";
    let unexpected = || AgiError::unexpected(COMMAND, reply);
    let code = parse::code(COMMAND, reply)?;
    let endpos = || parse::endpos_samples(COMMAND, reply);
    let digit = || Digit::from_ascii_code(code).ok_or_else(unexpected);
    Ok(match (reply.tag(), code) {
        (Some("dtmf"), _) => Recording::Interrupted { digit: digit()?, endpos: endpos()? },
        (Some("timeout"), _) => Recording::Completed { endpos: endpos()? },
        (Some("hangup"), _) => Recording::HungUp { endpos: endpos()? },
        (Some("writefile"), _) => Recording::Failed(RecordFailure::CannotWrite),
        (Some("randomerror"), -1) => Recording::Failed(RecordFailure::Beep),
        (Some("randomerror"), _) => Recording::InterruptedDuringBeep { digit: digit()? },
        (Some("waitfor"), _) => Recording::Failed(RecordFailure::Wait { endpos: endpos()? }),
        (None, -1) if reply.rest().is_empty() => Recording::Failed(RecordFailure::SilenceDetection),
        _ => return Err(unexpected()),
    })
}

impl Call {
    /// `GET DATA file [timeout] [maxdigits]`: plays a prompt (any digit interrupts it)
    /// and collects digits until `#`, the timeout, or `max_digits`.
    ///
    /// With [`DigitTimeout::Default`] Asterisk waits 6 s for the first digit and 2 s
    /// between digits (or the channel's `TIMEOUT(response)` / `TIMEOUT(digit)`);
    /// `After(d)` uses `d` for every digit (a zero duration is sent as 1 ms, since 0
    /// means the default). `max_digits` is at most 1023 (Asterisk's buffer);
    /// `None` leaves it to `#` and the timeout. Live channel only.
    ///
    /// Note the trap this handles: on a timeout Asterisk answers
    /// `200 result=<digits> (timeout)` with possibly **no** digits at all.
    ///
    /// ```
    /// use std::time::Duration;
    /// use agi_runtime::{DataInput, DigitTimeout};
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// let pin = call.get_data("enter-pin", DigitTimeout::After(Duration::from_secs(5)), Some(4)).await?;
    /// match pin {
    ///     DataInput::Complete(digits) => call.verbose(&format!("PIN {digits}")).await?,
    ///     DataInput::TimedOut(partial) if partial.is_empty() => call.verbose("nothing typed").await?,
    ///     DataInput::TimedOut(_) | DataInput::Failed => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get_data<'f>(
        &mut self,
        file: impl IntoSoundFile<'f>,
        timeout: DigitTimeout,
        max_digits: Option<u16>,
    ) -> AgiResult<DataInput> {
        let file = file.into_sound_file()?;
        if let Some(max) = max_digits.filter(|max| !(1..=MAX_GET_DATA_DIGITS).contains(max)) {
            let reason = format!("it must be between 1 and {MAX_GET_DATA_DIGITS}");
            return Err(InvalidArgument::new("maximum digit count", &max.to_string(), reason).into());
        }
        let mut args = ArgList::<3>::from([Arg::Text(file.as_str())]);
        let timeout = match timeout {
            DigitTimeout::Default => 0,
            DigitTimeout::After(wait) => parse::millis_nonzero(wait),
            DigitTimeout::Forever => -1,
        };
        if timeout != 0 || max_digits.is_some() {
            args.push(Arg::Int(timeout));
        }
        if let Some(max) = max_digits {
            args.push(Arg::Int(i64::from(max)));
        }
        let reply = self.execute("GET DATA", false, args.as_slice()).await?;
        data_input(&reply)
    }

    /// `WAIT FOR DIGIT timeout`: waits for one DTMF digit.
    ///
    /// `None` waits until a digit comes or the caller hangs up; `Some(Duration::ZERO)`
    /// only looks for a digit already pressed. Live channel only.
    ///
    /// ```
    /// use std::time::Duration;
    /// use agi_runtime::{Digit, DigitWait};
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// match call.wait_for_digit(Some(Duration::from_secs(5))).await? {
    ///     DigitWait::Digit(Digit::Star) => { /* back to the menu */ }
    ///     DigitWait::Digit(other) => { /* … */ }
    ///     DigitWait::TimedOut => { /* repeat the prompt */ }
    ///     DigitWait::Failed | DigitWait::Interrupted => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub fn wait_for_digit(&mut self, timeout: Option<Duration>) -> impl Future<Output = AgiResult<DigitWait>> {
        let timeout = timeout.map_or(-1, parse::millis);
        self.typed("WAIT FOR DIGIT", false, &[Arg::Int(timeout)], |reply| match parse::code("WAIT FOR DIGIT", reply)? {
            0 => Ok(DigitWait::TimedOut),
            -1 => Ok(DigitWait::Failed),
            1 => Ok(DigitWait::Interrupted),
            code => Digit::from_ascii_code(code)
                .map(DigitWait::Digit)
                .ok_or_else(|| AgiError::unexpected("WAIT FOR DIGIT", reply)),
        })
    }

    /// `RECORD FILE file format escape_digits timeout [offset] [BEEP] [s=silence]`:
    /// records the caller into `file`.`format` (`wav`, `gsm`, `ulaw`, …).
    ///
    /// The file name has no extension (the format adds it); a relative name goes under
    /// Asterisk's sounds directory. The result says how the recording ended (see
    /// [`Recording`]); failures other than a hangup make Asterisk report
    /// `AGISTATUS=FAILURE`. Live channel only.
    ///
    /// ```
    /// use std::time::Duration;
    /// use agi_runtime::{EscapeDigits, RecordOptions, Recording};
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// let options = RecordOptions::new().max_duration(Duration::from_secs(120)).beep().silence(Duration::from_secs(4));
    /// match call.record_file("/var/spool/asterisk/voicemail/msg42", "wav", "#".parse().unwrap(), options).await? {
    ///     Recording::Interrupted { endpos, .. } | Recording::Completed { endpos } => { /* endpos samples */ }
    ///     other => call.verbose(&format!("recording ended: {other:?}")).await?,
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn record_file<'f>(
        &mut self,
        file: impl IntoSoundFile<'f>,
        format: &str,
        escape: EscapeDigits,
        options: RecordOptions,
    ) -> AgiResult<Recording> {
        let file = file.into_sound_file()?;
        let escape = escape.text();
        let limit = options.max_duration.map_or(-1, parse::millis);
        let mut args = ArgList::<7>::from([
            Arg::Text(file.as_str()),
            Arg::Text(format),
            Arg::Quoted(escape.as_str()),
            Arg::Int(limit),
        ]);
        if let Some(sample) = options.append_at {
            args.push(Arg::Int(parse::offset(sample)));
        }
        if options.beep {
            args.push(Arg::Text("BEEP"));
        }
        let mut silence = [0u8; 24];
        if let Some(seconds) = options.silence.map(parse::seconds_nonzero) {
            args.push(Arg::Text(silence_option(&mut silence, seconds)));
        }
        let reply = self.execute("RECORD FILE", false, args.as_slice()).await?;
        recording(&reply)
    }

    /// `RECEIVE CHAR timeout`: waits for one character of text on channels that carry
    /// text (SIP MESSAGE-capable, IAX2, …).
    ///
    /// `None` waits forever. Asterisk answers the same [`ReceivedChar::Failed`] for an
    /// error, a hangup, a channel without text support and — in practice — a timeout;
    /// Asterisk then reports `AGISTATUS=FAILURE`. Live channel only.
    ///
    /// ```
    /// use std::time::Duration;
    /// use agi_runtime::ReceivedChar;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// if let ReceivedChar::Char(byte) = call.receive_char(Some(Duration::from_secs(2))).await? {
    ///     call.verbose(&format!("got {:?}", char::from(byte))).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn receive_char(&mut self, timeout: Option<Duration>) -> impl Future<Output = AgiResult<ReceivedChar>> {
        let timeout = timeout.map_or(0, parse::millis_nonzero);
        self.typed("RECEIVE CHAR", false, &[Arg::Int(timeout)], |reply| {
            match (parse::code("RECEIVE CHAR", reply)?, reply.tag()) {
                (0, Some("timeout")) => Ok(ReceivedChar::TimedOut),
                (-1, _) => Ok(ReceivedChar::Failed),
                (code, None) => u8::try_from(code)
                    .ok()
                    .filter(|&byte| byte != 0)
                    .map(ReceivedChar::Char)
                    .ok_or_else(|| AgiError::unexpected("RECEIVE CHAR", reply)),
                _ => Err(AgiError::unexpected("RECEIVE CHAR", reply)),
            }
        })
    }

    /// `RECEIVE TEXT timeout`: waits for a text message on channels that carry text.
    ///
    /// `Some(text)` if one came; `None` on timeout, hangup, error or a channel without
    /// text support (Asterisk does not tell them apart). `None` for `timeout` waits
    /// forever. Live channel only.
    ///
    /// ```
    /// use std::time::Duration;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// if let Some(text) = call.receive_text(Some(Duration::from_secs(10))).await? {
    ///     call.send_text(&format!("you said: {text}")).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn receive_text(&mut self, timeout: Option<Duration>) -> impl Future<Output = AgiResult<Option<String>>> {
        let timeout = timeout.map_or(0, parse::millis_nonzero);
        self.typed("RECEIVE TEXT", false, &[Arg::Int(timeout)], |reply| match (reply.result_code(), reply.payload()) {
            (Some(1), Some(text)) => Ok(Some(text.to_owned())),
            (Some(-1), _) => Ok(None),
            _ => Err(AgiError::unexpected("RECEIVE TEXT", reply)),
        })
    }
}

/// What `RECEIVE CHAR` got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceivedChar {
    /// The first byte of the text received.
    Char(u8),
    /// `0 (timeout)`: no character in time (rare: most channels answer
    /// [`ReceivedChar::Failed`] on a timeout).
    TimedOut,
    /// `-1 (hangup)`: error, hangup, timeout, or a channel without text support.
    Failed,
}

/// Writes RECORD FILE's `s=<seconds>` option into `buf` (no allocation).
fn silence_option(buf: &mut [u8; 24], seconds: i64) -> &str {
    use std::io::Write as _;
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(cursor, "s={seconds}");
    let len = cursor.position() as usize;
    std::str::from_utf8(&buf[..len]).unwrap_or("s=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Response<'_> {
        Response::parse(text).unwrap()
    }

    #[test]
    fn get_data_results() {
        let digits = |s: &str| s.parse::<Digits>().unwrap();
        assert_eq!(data_input(&reply("result=")).unwrap(), DataInput::Complete(Digits::default()));
        assert_eq!(data_input(&reply("result=34")).unwrap(), DataInput::Complete(digits("34")));
        assert_eq!(data_input(&reply("result= (timeout)")).unwrap(), DataInput::TimedOut(Digits::default()));
        assert_eq!(data_input(&reply("result=12 (timeout)")).unwrap(), DataInput::TimedOut(digits("12")));
        assert_eq!(data_input(&reply("result=-1")).unwrap(), DataInput::Failed);
        assert!(data_input(&reply("result=1x")).is_err());
        assert!(data_input(&reply("result=1 (hangup)")).is_err());
        assert!(data_input(&reply("result=1 trailing")).is_err());
    }

    #[test]
    fn record_file_results() {
        use RecordFailure::*;
        use Recording::*;
        let cases = [
            ("result=35 (dtmf) endpos=6218", Interrupted { digit: Digit::Pound, endpos: 6218 }),
            ("result=0 (timeout) endpos=16160", Completed { endpos: 16160 }),
            ("result=742 (timeout) endpos=800", Completed { endpos: 800 }),
            ("result=-1 (hangup) endpos=4000", HungUp { endpos: 4000 }),
            ("result=-1 (writefile)", Failed(CannotWrite)),
            ("result=-1 (randomerror) endpos=0", Failed(Beep)),
            ("result=35 (randomerror) endpos=0", InterruptedDuringBeep { digit: Digit::Pound }),
            ("result=-1 (waitfor) endpos=80", Failed(Wait { endpos: 80 })),
            ("result=-1", Failed(SilenceDetection)),
        ];
        for (text, want) in cases {
            assert_eq!(recording(&reply(text)).unwrap(), want, "{text}");
        }
        for bad in ["result=35 (dtmf)", "result=1 (dtmf) endpos=1", "result=0", "result=0 (other) endpos=1", "result=x"]
        {
            assert!(recording(&reply(bad)).is_err(), "{bad}");
        }
    }
}
