//! Playback and prompts: sound files, controllable playback, music on hold.

use std::time::Duration;

use crate::call::{Call, Command};
use crate::commands::parse::{self, Ending};
use crate::commands::types::{Digit, DigitTimeout, EscapeDigits, IntoSoundFile, InvalidArgument, Playback, SoundFile};
use crate::error::{AgiError, AgiResult};
use crate::wire::encode::ArgList;
use crate::wire::{Arg, Response};

/// Where `CONTROL STREAM FILE` stopped, in the unit it reports: milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlPosition {
    /// Stopped at this offset from the start of the file.
    At(Duration),
    /// Played to the end of the file (`endpos=-1`).
    End,
}

/// How `CONTROL STREAM FILE` ended. Unlike `STREAM FILE`, positions are in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlPlayback {
    /// `result=0`: played to the end ([`ControlPosition::End`]), or stopped from outside
    /// the call (the AMI `ControlPlayback` action) at the given position.
    Completed {
        /// Where playback stopped.
        endpos: ControlPosition,
    },
    /// Stopped by an escape digit.
    Interrupted {
        /// The digit pressed.
        digit: Digit,
        /// Where playback stopped.
        endpos: ControlPosition,
    },
    /// `result=-1`: the file is missing, or the channel hung up. Asterisk will report
    /// `AGISTATUS=FAILURE` if the channel is still up.
    Failed {
        /// Where playback stopped.
        endpos: ControlPosition,
    },
}

/// The keys and offsets of `CONTROL STREAM FILE`, with Asterisk's defaults: skip 3 s,
/// `#` fast-forwards, `*` rewinds, no pause key, start at the beginning.
///
/// Asterisk has no way to turn fast-forward or rewind off; choose keys the caller will
/// not press if they must not act.
///
/// ```
/// use std::time::Duration;
/// use agi_runtime::{ControlOptions, Digit};
///
/// let options = ControlOptions::new().skip(Duration::from_secs(5)).pause(Digit::D5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlOptions {
    skip: Duration,
    forward: Digit,
    rewind: Digit,
    pause: Option<Digit>,
    offset: Duration,
}

impl Default for ControlOptions {
    fn default() -> Self {
        ControlOptions {
            skip: Duration::from_secs(3),
            forward: Digit::Pound,
            rewind: Digit::Star,
            pause: None,
            offset: Duration::ZERO,
        }
    }
}

impl ControlOptions {
    /// Asterisk's defaults.
    pub fn new() -> ControlOptions {
        ControlOptions::default()
    }

    /// How far fast-forward and rewind jump (milliseconds on the wire).
    pub fn skip(mut self, skip: Duration) -> Self {
        self.skip = skip;
        self
    }

    /// The fast-forward key.
    pub fn forward(mut self, key: Digit) -> Self {
        self.forward = key;
        self
    }

    /// The rewind key.
    pub fn rewind(mut self, key: Digit) -> Self {
        self.rewind = key;
        self
    }

    /// A key that pauses and resumes playback.
    pub fn pause(mut self, key: Digit) -> Self {
        self.pause = Some(key);
        self
    }

    /// Where to start in the file (milliseconds on the wire).
    pub fn offset(mut self, offset: Duration) -> Self {
        self.offset = offset;
        self
    }
}

fn control_position(reply: &Response<'_>) -> AgiResult<ControlPosition> {
    match reply.attribute("endpos").and_then(|p| p.parse::<i64>().ok()) {
        Some(-1) => Ok(ControlPosition::End),
        Some(ms) if ms >= 0 => Ok(ControlPosition::At(Duration::from_millis(ms.unsigned_abs()))),
        _ => Err(AgiError::unexpected("CONTROL STREAM FILE", reply)),
    }
}

fn playback(command: &str, reply: &Response<'_>) -> AgiResult<Playback> {
    let ending = parse::ending(command, reply)?;
    let endpos = parse::endpos_samples(command, reply)?;
    Ok(match ending {
        Ending::Completed => Playback::Completed { endpos },
        Ending::Interrupted(digit) => Playback::Interrupted { digit, endpos },
        Ending::Failed => Playback::Failed { endpos },
    })
}

impl Call {
    /// `STREAM FILE file escape_digits`: plays a sound file, stopping early if the caller
    /// presses one of `escape`.
    ///
    /// The name has no extension (see [`SoundFile`](crate::SoundFile)). The result says
    /// how playback ended, with the position reached in samples: completed, interrupted
    /// by a digit, or failed (missing file or hangup; Asterisk will then report
    /// `AGISTATUS=FAILURE` if the channel is still up). Asterisk sets `PLAYBACKSTATUS` to
    /// `SUCCESS` only when playback completed: a digit press gives `FAILED`. Live channel
    /// only.
    ///
    /// ```
    /// use agi_runtime::{EscapeDigits, Playback};
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// match call.stream_file("welcome", EscapeDigits::ANY).await? {
    ///     Playback::Interrupted { digit, .. } => call.verbose(&format!("pressed {digit}")).await?,
    ///     Playback::Completed { .. } => {}
    ///     Playback::Failed { .. } => call.verbose("prompt missing").await?,
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream_file<'f>(
        &mut self,
        file: impl IntoSoundFile<'f>,
        escape: EscapeDigits,
    ) -> impl Future<Output = AgiResult<Playback>> {
        self.stream(file.into_sound_file(), escape, None)
    }

    /// `STREAM FILE file escape_digits sample_offset`: like
    /// [`stream_file`](Call::stream_file), starting `sample_offset` samples into the
    /// file (for instance the `endpos` of an interrupted playback, to resume it). If the
    /// file is missing, the result is [`Playback::Failed`] with `endpos` equal to the
    /// offset. Live channel only.
    ///
    /// ```
    /// use agi_runtime::{EscapeDigits, Playback};
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// if let Playback::Interrupted { endpos, .. } = call.stream_file("terms", EscapeDigits::ANY).await? {
    ///     call.stream_file_from("terms", EscapeDigits::NONE, endpos).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream_file_from<'f>(
        &mut self,
        file: impl IntoSoundFile<'f>,
        escape: EscapeDigits,
        sample_offset: u64,
    ) -> impl Future<Output = AgiResult<Playback>> {
        self.stream(file.into_sound_file(), escape, Some(sample_offset))
    }

    fn stream(
        &mut self,
        file: Result<SoundFile<'_>, InvalidArgument>,
        escape: EscapeDigits,
        offset: Option<u64>,
    ) -> Command<'_, impl FnOnce(&Response<'_>) -> AgiResult<Playback> + Unpin> {
        let parse = |reply: &Response<'_>| playback("STREAM FILE", reply);
        let file = match file {
            Ok(file) => file,
            Err(invalid) => return Command::refused(invalid.into(), parse),
        };
        let escape = escape.text();
        let mut args = ArgList::<3>::from([Arg::Text(file.as_str()), Arg::Quoted(escape.as_str())]);
        args.extend(offset.map(|sample| Arg::Int(parse::offset(sample))));
        self.typed("STREAM FILE", false, args.as_slice(), parse)
    }

    /// `CONTROL STREAM FILE file escape_digits [skipms ffchar rewchar pausechar offsetms]`:
    /// plays a sound file the caller can fast-forward, rewind and pause.
    ///
    /// Only the options that differ from Asterisk's defaults (and those before them) are
    /// sent. Positions are in **milliseconds** here, and
    /// [`ControlPosition::End`] means the file played to its end. Asterisk also sets
    /// `CPLAYBACKSTATUS`, `CPLAYBACKOFFSET` and `CPLAYBACKSTOPKEY`. Live channel only.
    ///
    /// ```
    /// use std::time::Duration;
    /// use agi_runtime::{ControlOptions, ControlPlayback, Digit, EscapeDigits};
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// let options = ControlOptions::new().skip(Duration::from_secs(10)).pause(Digit::D5);
    /// match call.control_stream_file("vm-message", Digit::D0.into(), options).await? {
    ///     ControlPlayback::Interrupted { endpos, .. } => { /* remember endpos to resume */ }
    ///     ControlPlayback::Completed { .. } | ControlPlayback::Failed { .. } => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn control_stream_file<'f>(
        &mut self,
        file: impl IntoSoundFile<'f>,
        escape: EscapeDigits,
        options: ControlOptions,
    ) -> AgiResult<ControlPlayback> {
        let file = file.into_sound_file()?;
        let escape = escape.text();
        let defaults = ControlOptions::default();
        let optional = [
            (options.skip != defaults.skip, Arg::Int(parse::millis(options.skip))),
            (options.forward != defaults.forward, Arg::Text(options.forward.as_str())),
            (options.rewind != defaults.rewind, Arg::Text(options.rewind.as_str())),
            (options.pause.is_some(), Arg::Quoted(options.pause.map_or("", Digit::as_str))),
            (options.offset != defaults.offset, Arg::Int(parse::millis(options.offset))),
        ];
        let needed = optional.iter().rposition(|(set, _)| *set).map_or(0, |last| last + 1);
        let mut args = ArgList::<7>::from([Arg::Text(file.as_str()), Arg::Quoted(escape.as_str())]);
        args.extend(optional[..needed].iter().map(|(_, arg)| *arg));
        let reply = self.execute("CONTROL STREAM FILE", false, args.as_slice()).await?;
        let endpos = control_position(&reply)?;
        Ok(match parse::ending("CONTROL STREAM FILE", &reply)? {
            Ending::Completed => ControlPlayback::Completed { endpos },
            Ending::Interrupted(digit) => ControlPlayback::Interrupted { digit, endpos },
            Ending::Failed => ControlPlayback::Failed { endpos },
        })
    }

    /// `GET OPTION file escape_digits [timeout]`: plays a sound file like
    /// [`stream_file`](Call::stream_file), then waits for one of `escape`.
    ///
    /// [`Playback::Interrupted`] carries the digit pressed during or after the prompt;
    /// [`Playback::Completed`] means no escape digit came in time; [`Playback::Failed`]
    /// means the file is missing (`endpos` 0) or the channel hung up. The wait after the
    /// prompt is [`DigitTimeout::Default`]: the channel's digit timeout (5 s unless the
    /// dialplan changed it); `After(Duration::ZERO)` does not wait at all. Positions in
    /// samples. Live channel only.
    ///
    /// ```
    /// use std::time::Duration;
    /// use agi_runtime::{DigitTimeout, EscapeDigits, Playback};
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// let menu: EscapeDigits = "123".parse().unwrap();
    /// let choice = call.get_option("main-menu", menu, DigitTimeout::After(Duration::from_secs(3))).await?;
    /// if let Playback::Interrupted { digit, .. } = choice { /* route on digit */ }
    /// # Ok(()) }
    /// ```
    pub async fn get_option<'f>(
        &mut self,
        file: impl IntoSoundFile<'f>,
        escape: EscapeDigits,
        timeout: DigitTimeout,
    ) -> AgiResult<Playback> {
        let file = file.into_sound_file()?;
        let escape = escape.text();
        let mut args = ArgList::<3>::from([Arg::Text(file.as_str()), Arg::Quoted(escape.as_str())]);
        match timeout {
            DigitTimeout::Default => {}
            DigitTimeout::After(wait) => args.push(Arg::Int(parse::millis(wait))),
            DigitTimeout::Forever => args.push(Arg::Int(-1)),
        }
        let reply = self.execute("GET OPTION", false, args.as_slice()).await?;
        playback("GET OPTION", &reply)
    }

    /// `SET MUSIC on [class]`: starts music on hold on the channel, from `class` or the
    /// channel's default class. It plays until [`set_music_off`](Call::set_music_off) or
    /// the next command that plays something. Live channel only.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.set_music_on(Some("jazz")).await?;
    /// // … a slow lookup …
    /// call.set_music_off().await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_music_on(&mut self, class: Option<&str>) -> AgiResult<()> {
        let reply = match class {
            Some(class) => self.execute("SET MUSIC", false, &[Arg::Text("on"), Arg::Text(class)]).await?,
            None => self.execute("SET MUSIC", false, &[Arg::Text("on")]).await?,
        };
        parse::expect("SET MUSIC", &reply, 0, None)
    }

    /// `SET MUSIC off`: stops music on hold. Live channel only.
    ///
    /// ```
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.set_music_off().await?;
    /// # Ok(()) }
    /// ```
    pub fn set_music_off(&mut self) -> impl Future<Output = AgiResult<()>> {
        self.typed("SET MUSIC", false, &[Arg::Text("off")], |reply| parse::expect("SET MUSIC", reply, 0, None))
    }
}
