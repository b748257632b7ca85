//! Say: numbers, digits, letters, dates and times in the channel's language.

use crate::call::{Call, Command};
use crate::commands::parse::{self, Ending};
use crate::commands::types::{Digit, EscapeDigits, InvalidArgument};
use crate::error::AgiResult;
use crate::wire::encode::ArgList;
use crate::wire::{Arg, Response};

/// How a `SAY …` command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SayOutcome {
    /// Said to the end.
    Completed,
    /// Stopped by an escape digit.
    Interrupted(Digit),
    /// A sound file the language needs is missing, or the channel hung up
    /// (`result=-1`). Asterisk will report `AGISTATUS=FAILURE` if the channel is up.
    Failed,
}

/// Whether `SAY ALPHA` announces the case of letters (Asterisk 12 and later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SayCase {
    /// Letters only, no case (Asterisk's default).
    #[default]
    Ignore,
    /// Says "lowercase" before each lower-case letter.
    Lower,
    /// Says "uppercase" before each upper-case letter.
    Upper,
    /// Announces the case of every letter.
    All,
}

impl SayCase {
    fn word(self) -> &'static str {
        match self {
            SayCase::Ignore => "n",
            SayCase::Lower => "l",
            SayCase::Upper => "u",
            SayCase::All => "a",
        }
    }
}

/// The grammatical gender `SAY NUMBER` inflects for, in languages that have one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gender {
    /// `m`.
    Masculine,
    /// `f`.
    Feminine,
    /// `n`.
    Neuter,
    /// `c` (Danish and Swedish common gender).
    Common,
}

impl Gender {
    fn word(self) -> &'static str {
        match self {
            Gender::Masculine => "m",
            Gender::Feminine => "f",
            Gender::Neuter => "n",
            Gender::Common => "c",
        }
    }
}

/// `SAY DATE` and `SAY TIME` read the time as a C `int`.
fn epoch_i32(epoch: i64) -> Result<i64, InvalidArgument> {
    i32::try_from(epoch)
        .map(i64::from)
        .map_err(|_| InvalidArgument::new("epoch", &epoch.to_string(), "SAY DATE and SAY TIME take a 32-bit time"))
}

impl Call {
    /// Sends one `SAY …` command whose arguments end with the escape digits (and
    /// possibly one option after them).
    fn say<'c>(
        &'c mut self,
        keywords: &'static str,
        what: Result<Arg<'_>, InvalidArgument>,
        escape: EscapeDigits,
        extra: &[Arg<'_>],
    ) -> impl Future<Output = AgiResult<SayOutcome>> + use<'c> {
        let parse = move |reply: &Response<'_>| {
            Ok(match parse::ending(keywords, reply)? {
                Ending::Completed => SayOutcome::Completed,
                Ending::Interrupted(digit) => SayOutcome::Interrupted(digit),
                Ending::Failed => SayOutcome::Failed,
            })
        };
        let what = match what {
            Ok(what) => what,
            Err(invalid) => return Command::refused(invalid.into(), parse),
        };
        let escape = escape.text();
        let mut args = ArgList::<4>::from([what, Arg::Quoted(escape.as_str())]);
        args.extend(extra.iter().copied());
        self.typed(keywords, false, args.as_slice(), parse)
    }

    /// `SAY ALPHA text escape_digits`: spells `text` letter by letter ("b, o, b").
    /// Live channel only.
    ///
    /// ```
    /// use agi_runtime::{EscapeDigits, SayOutcome};
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// if call.say_alpha("AB12", EscapeDigits::ANY).await? == SayOutcome::Failed {
    ///     call.verbose("letters missing for this language").await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn say_alpha(&mut self, text: &str, escape: EscapeDigits) -> impl Future<Output = AgiResult<SayOutcome>> {
        self.say("SAY ALPHA", Ok(Arg::Text(text)), escape, &[])
    }

    /// `SAY ALPHA text escape_digits case`: like [`say_alpha`](Call::say_alpha),
    /// announcing letter case as `case` says (Asterisk 12 and later; older versions
    /// answer with a syntax error). Live channel only.
    ///
    /// ```
    /// use agi_runtime::{EscapeDigits, SayCase};
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.say_alpha_with_case("aBc", EscapeDigits::NONE, SayCase::Upper).await?;
    /// # Ok(()) }
    /// ```
    pub fn say_alpha_with_case(
        &mut self,
        text: &str,
        escape: EscapeDigits,
        case: SayCase,
    ) -> impl Future<Output = AgiResult<SayOutcome>> {
        self.say("SAY ALPHA", Ok(Arg::Text(text)), escape, &[Arg::Text(case.word())])
    }

    /// `SAY DIGITS digits escape_digits`: says a string of digits one by one ("one,
    /// two, three"), leading zeros included.
    ///
    /// `digits` must be non-empty and made of `0`-`9` only; anything else is refused
    /// with [`AgiError::InvalidArgument`](crate::AgiError::InvalidArgument) before
    /// sending (Asterisk would answer with a syntax error). Live channel only.
    ///
    /// ```
    /// use agi_runtime::EscapeDigits;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.say_digits("0471", EscapeDigits::NONE).await?;
    /// # Ok(()) }
    /// ```
    pub fn say_digits(&mut self, digits: &str, escape: EscapeDigits) -> impl Future<Output = AgiResult<SayOutcome>> {
        let what = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Arg::Text(digits))
        } else {
            Err(InvalidArgument::new("digit string", digits, "only 0-9 can be said as digits"))
        };
        self.say("SAY DIGITS", what, escape, &[])
    }

    /// `SAY NUMBER number escape_digits`: says a number as a number ("forty-two").
    /// Live channel only.
    ///
    /// ```
    /// use agi_runtime::EscapeDigits;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.say_number(42, EscapeDigits::NONE).await?;
    /// # Ok(()) }
    /// ```
    pub fn say_number(&mut self, number: i32, escape: EscapeDigits) -> impl Future<Output = AgiResult<SayOutcome>> {
        self.say("SAY NUMBER", Ok(Arg::Int(number.into())), escape, &[])
    }

    /// `SAY NUMBER number escape_digits gender`: like [`say_number`](Call::say_number),
    /// inflected for `gender` in languages that have one. Live channel only.
    ///
    /// ```
    /// use agi_runtime::{EscapeDigits, Gender};
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.say_number_with_gender(1, EscapeDigits::NONE, Gender::Feminine).await?;
    /// # Ok(()) }
    /// ```
    pub fn say_number_with_gender(
        &mut self,
        number: i32,
        escape: EscapeDigits,
        gender: Gender,
    ) -> impl Future<Output = AgiResult<SayOutcome>> {
        self.say("SAY NUMBER", Ok(Arg::Int(number.into())), escape, &[Arg::Text(gender.word())])
    }

    /// `SAY PHONETIC text escape_digits`: spells `text` with the phonetic alphabet
    /// ("alpha, bravo"). Live channel only.
    ///
    /// ```
    /// use agi_runtime::EscapeDigits;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.say_phonetic("XJ7", EscapeDigits::NONE).await?;
    /// # Ok(()) }
    /// ```
    pub fn say_phonetic(&mut self, text: &str, escape: EscapeDigits) -> impl Future<Output = AgiResult<SayOutcome>> {
        self.say("SAY PHONETIC", Ok(Arg::Text(text)), escape, &[])
    }

    /// `SAY DATE epoch escape_digits`: says the date of a Unix time (seconds since
    /// 1970, UTC), in the server's time zone.
    ///
    /// Asterisk reads the time as a 32-bit integer: a value outside that range is
    /// refused before sending. Live channel only.
    ///
    /// ```
    /// use agi_runtime::EscapeDigits;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.say_date(1_700_000_000, EscapeDigits::NONE).await?;
    /// # Ok(()) }
    /// ```
    pub fn say_date(&mut self, epoch: i64, escape: EscapeDigits) -> impl Future<Output = AgiResult<SayOutcome>> {
        self.say("SAY DATE", epoch_i32(epoch).map(Arg::Int), escape, &[])
    }

    /// `SAY TIME epoch escape_digits`: says the time of day of a Unix time, in the
    /// server's time zone. A 32-bit time, as for [`say_date`](Call::say_date). Live
    /// channel only.
    ///
    /// ```
    /// use agi_runtime::EscapeDigits;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.say_time(1_700_000_000, EscapeDigits::NONE).await?;
    /// # Ok(()) }
    /// ```
    pub fn say_time(&mut self, epoch: i64, escape: EscapeDigits) -> impl Future<Output = AgiResult<SayOutcome>> {
        self.say("SAY TIME", epoch_i32(epoch).map(Arg::Int), escape, &[])
    }

    /// `SAY DATETIME epoch escape_digits`: says a Unix time as date and time with the
    /// language's default format (`ABdY 'digits/at' IMp`; `A dBY HMS` in German), in the
    /// server's time zone. Live channel only.
    ///
    /// ```
    /// use agi_runtime::EscapeDigits;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.say_datetime(1_700_000_000, EscapeDigits::NONE).await?;
    /// # Ok(()) }
    /// ```
    pub fn say_datetime(&mut self, epoch: i64, escape: EscapeDigits) -> impl Future<Output = AgiResult<SayOutcome>> {
        self.say("SAY DATETIME", Ok(Arg::Int(epoch)), escape, &[])
    }

    /// `SAY DATETIME epoch escape_digits format [timezone]`: says a Unix time with a
    /// `say.conf`-style `format` (`"IMp"`, `"A dBY"`, `"'digits/at' IMp"`, …), in
    /// `timezone` (an Olson name such as `Europe/Paris`) or the server's. Live channel
    /// only.
    ///
    /// ```
    /// use agi_runtime::EscapeDigits;
    /// # async fn demo(call: &mut agi_runtime::Call) -> agi_runtime::AgiResult<()> {
    /// call.say_datetime_with(1_700_000_000, EscapeDigits::NONE, "IMp", Some("America/New_York")).await?;
    /// # Ok(()) }
    /// ```
    pub fn say_datetime_with(
        &mut self,
        epoch: i64,
        escape: EscapeDigits,
        format: &str,
        timezone: Option<&str>,
    ) -> impl Future<Output = AgiResult<SayOutcome>> {
        let mut extra = ArgList::<2>::from([Arg::Quoted(format)]);
        extra.extend(timezone.map(Arg::Text));
        self.say("SAY DATETIME", Ok(Arg::Int(epoch)), escape, extra.as_slice())
    }
}
